"""The confirmation email of a sign-up: ``templates/email/confirm/`` rendered in the list's
language and handed to the configured mail backend as a batch of one."""

from __future__ import annotations

from pathlib import Path

from newsletter.audience.lists import ListConfig
from newsletter.deliver.message import MailBackend, Recipient, single_mail
from newsletter.errors import RenderError
from newsletter.render.email import inline_css, mjml_to_html
from newsletter.render.view import RTL_LANGUAGES
from newsletter.store.models import Subscriber
from newsletter.web.pages import environment, strings, text

TEMPLATE = "confirm"


def render_confirmation(
    templates: Path, list_config: ListConfig, language: str, name: str, confirm_url: str,
) -> tuple[str, str, str]:
    """(subject, html, text) of the confirmation mail."""
    folder = templates / "email" / TEMPLATE
    env = environment(str(folder))
    context = {
        "lang": language,
        "dir": "rtl" if language in RTL_LANGUAGES else "ltr",
        "t": strings(language),
        "list_name": list_config.name,
        "name": name,
        "confirm_url": confirm_url,
    }
    try:
        mjml = env.get_template("body.mjml.j2").render(context)
        body_text = env.get_template("body.txt.j2").render(context)
    except Exception as exc:  # a missing or broken template: name it
        raise RenderError(f"{folder}: {type(exc).__name__}: {exc}") from exc
    html = mjml_to_html(mjml, folder / "body.mjml.j2")
    return text("confirm_subject", language, list=list_config.name), inline_css(html, ""), body_text


def send_confirmation(
    backend: MailBackend, base_url: str, templates: Path, list_config: ListConfig,
    language: str, subscriber: Subscriber, confirm_url: str, unsubscribe_url: str,
) -> None:
    subject, html, body_text = render_confirmation(
        templates, list_config, language, subscriber.name, confirm_url
    )
    backend.send_batch(single_mail(
        list_config, base_url, subject=subject, html=html, text=body_text,
        recipients=[Recipient(subscriber.email, subscriber.name, unsubscribe_url, subscriber.id)],
        reply_to=list_config.reply_to, headers={"Auto-Submitted": "auto-generated"},
    ))
