"""The audience: lists (``lists.py``, from subscribers/lists.toml) and their subscribers
(``subscribers.py``: CSV import, sync, export, erasure). Consent wins everywhere."""
