"""The web app: public pages (subscribe, confirm, unsubscribe) and provider webhooks.

``create_app(config, store)`` builds the Starlette application ``newsletter serve`` runs; the
editor pages will join it. Handlers only parse requests and call the library
(:mod:`newsletter.audience`); database work runs in a thread, off the event loop.
"""

from newsletter.web.app import create_app

__all__ = ["create_app"]
