"""Configuration: ``newsletter.toml`` validated against one declared schema, plus the environment.

Each section is a dataclass; each field carries its help text in ``metadata["help"]``. The loader
walks the schema, so an unknown key, a wrong type, a bad URL or a missing file is reported with
its key path (``sources[2].url``) and the reason, as a :class:`ConfigError` (exit status 2).

Secrets never live in the file: the database URL may be given by ``NEWSLETTER_DATABASE_URL``
and any password in it is masked wherever the URL is shown.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from newsletter.errors import ConfigError

DEFAULT_CONFIG = "newsletter.toml"
ENV_CONFIG = "NEWSLETTER_CONFIG"
ENV_DATABASE_URL = "NEWSLETTER_DATABASE_URL"
SOURCE_KINDS = ("feed", "page", "file")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def setting(text: str, default: Any = dataclasses.MISSING, **kw: Any) -> Any:
    """A schema field with its help text (and its default, unless it is required)."""
    if default is not dataclasses.MISSING:
        kw["default"] = default
    return field(metadata={"help": text}, **kw)


@dataclass
class SourceConfig:
    name: str = setting("Unique short name of the source (letters, digits, - and _).")
    url: str = setting(
        "Feed or page URL (http/https), or a local path relative to newsletter.toml "
        "(a feed .xml, an article file, or a folder of them)."
    )
    label: str = setting("The source's name as readers see it in digests; empty means the name.", "")
    kind: Literal["feed", "page", "file"] = setting(
        "feed: RSS/Atom; page: one article page; file: local files to import.", "feed"
    )
    tags: list[str] = setting("Tags every article of this source carries.", default_factory=list)
    language: str = setting("Language of the source (fr, en, ar...); empty means detect.", "")
    interval: int = setting("Minutes between two fetches of this source (used by the daemon).", 60)
    priority: int = setting("Ranking weight of the source in digests: higher comes first.", 0)
    enabled: bool = setting("Set to false to stop collecting this source without deleting it.", True)
    fetch_pages: bool = setting(
        "Fetch the article page when a feed entry only carries a teaser.", True
    )


@dataclass
class TagRule:
    name: str = setting("The tag (lower case, e.g. 'economie').")
    keywords: list[str] = setting(
        "Words or phrases that give the tag: whole words, accent- and case-insensitive, "
        "lemmatised (\u00e9lection matches \u00e9lections).",
        default_factory=list,
    )
    categories: list[str] = setting(
        "Feed categories mapped to this tag (compared accent- and case-insensitively).",
        default_factory=list,
    )
    min_hits: int = setting("Keyword occurrences needed in title and lead to give the tag.", 1)


@dataclass
class DatabaseConfig:
    url: str = setting(
        "SQLAlchemy URL of the store; NEWSLETTER_DATABASE_URL overrides it. "
        "Default: SQLite file in the data folder.",
        "",
    )


@dataclass
class PathsConfig:
    data: str = setting("Folder for the SQLite store and other state (relative to newsletter.toml).", "var")
    subscribers: str = setting("Folder with lists.toml and one <list-slug>.csv per list.", "subscribers")
    templates: str = setting("Folder with the email/ and web/ templates.", "templates")
    outbox: str = setting("Folder where the outbox backend writes one mbox per edition.", "var/outbox")


@dataclass
class WebConfig:
    base_url: str = setting(
        "Public address of the web app: unsubscribe, view-in-browser and archive links start here.",
        "http://localhost:8000",
    )
    fetch_private: bool = setting(
        "Let editors add articles and sources at private, loopback or link-local addresses "
        "(an intranet); off, the web app refuses them so its pages cannot reach internal services.",
        False,
    )
    signup_origins: list[str] = setting(
        "Other sites (e.g. https://www.example.ma) whose pages may post the sign-up form to "
        "/subscribe from JavaScript (JSON, CORS); a plain HTML form needs no entry here.",
        default_factory=list,
    )


@dataclass
class DeliveryConfig:
    backend: Literal["outbox", "smtp", "sendgrid"] = setting(
        "outbox: write mbox files, nothing leaves the machine; smtp; sendgrid.", "outbox"
    )
    batch_size: int = setting("Recipients per delivery batch (SendGrid takes at most 1,000).", 1000)
    unsubscribe_mailto: str = setting(
        "Address for the mailto: part of List-Unsubscribe; empty means none.", ""
    )
    smtp_host: str = setting("SMTP server (password in NEWSLETTER_SMTP_PASSWORD).", "localhost")
    smtp_port: int = setting("SMTP port.", 587)
    smtp_security: Literal["starttls", "ssl", "none"] = setting("How the SMTP connection is secured.", "starttls")
    smtp_username: str = setting("SMTP login; empty means no authentication.", "")
    smtp_timeout: float = setting("Seconds before an SMTP command gives up.", 30.0)
    smtp_pool_size: int = setting("SMTP connections used at once.", 1)
    smtp_rate: float = setting("Messages per second per SMTP connection; 0 means no limit.", 0.0)
    sendgrid_host: str = setting("SendGrid API address (key in SENDGRID_API_KEY).", "https://api.sendgrid.com")
    sendgrid_timeout: float = setting("Seconds before a SendGrid request gives up.", 30.0)
    sendgrid_sandbox: bool = setting("Ask SendGrid to validate without sending (sandbox mode).", False)
    sendgrid_track_clicks: bool = setting(
        "Let SendGrid rewrite links to count clicks; off: readers' links go straight to the "
        "articles, whatever the SendGrid account's own setting.",
        False,
    )
    sendgrid_track_opens: bool = setting(
        "Let SendGrid add an open-tracking pixel; off whatever the account's own setting.", False
    )
    sendgrid_max_attempts: int = setting(
        "Requests for one batch while SendGrid answers 429 or 5xx (waiting as it asks, or backing off).",
        5,
    )
    batch_max_attempts: int = setting(
        "Attempts at one batch while the mail service fails for a reason that may pass (429, 5xx, "
        "unreachable, SMTP 4xx), spaced by batch_retry_backoff; then the batch is failed.",
        5,
    )
    batch_retry_backoff: float = setting(
        "Seconds before a batch's second attempt, doubled for each next one (with jitter, at most "
        "an hour); a later reset time given by the service wins.",
        60.0,
    )


@dataclass
class CollectConfig:
    timeout: float = setting("Seconds before an HTTP request gives up.", 20.0)
    max_bytes: int = setting("Largest response body accepted, in bytes.", 5_000_000)
    user_agent: str = setting("User-Agent header sent with every request.", "")
    teaser_words: int = setting(
        "A feed entry with fewer words than this is a teaser: its page is fetched.", 80
    )
    respect_robots: bool = setting(
        "Fetch an article page (a teaser's, or a page source) only when the site's robots.txt "
        "allows it; feeds are always fetched. Turn off only with the publisher's permission.",
        True,
    )


@dataclass
class SummarizeConfig:
    method: Literal["extractive", "lead", "llm"] = setting(
        "extractive: position-aware centrality (default); lead: the first sentences; "
        "llm: an OpenAI-compatible model, falling back to extractive on any failure.",
        "extractive",
    )
    max_words: int = setting("Longest summary, in words.", 60)
    llm_base_url: str = setting(
        "Base URL of the OpenAI-compatible API (e.g. http://127.0.0.1:11434/v1 for Ollama); "
        "the key, if any, is read from NEWSLETTER_LLM_API_KEY.",
        "",
    )
    llm_model: str = setting("Model name sent to the endpoint.", "")
    llm_timeout: float = setting("Seconds before one LLM request gives up.", 60.0)
    llm_max_retries: int = setting("Retries of a failed LLM request (timeouts, 429, 5xx).", 2)
    llm_concurrency: int = setting("LLM requests in flight at once.", 4)
    llm_max_input_chars: int = setting("Article text sent to the model is cut to this length.", 12000)


@dataclass
class StoriesConfig:
    threshold: float = setting(
        "Similarity (0-1) of title and lead above which two articles tell the same story.", 0.5
    )
    window_days: int = setting("Only articles published this many days apart can share a story.", 3)


@dataclass
class Config:
    sources: list[SourceConfig] = setting("News sources to collect.", default_factory=list)
    tags: list[TagRule] = setting("Tag rules: keywords and feed categories.", default_factory=list)
    database: DatabaseConfig = setting("The store.", default_factory=DatabaseConfig)
    paths: PathsConfig = setting("Folders.", default_factory=PathsConfig)
    collect: CollectConfig = setting("Fetching feeds and pages.", default_factory=CollectConfig)
    summarize: SummarizeConfig = setting("Summaries.", default_factory=SummarizeConfig)
    stories: StoriesConfig = setting("Story clustering.", default_factory=StoriesConfig)
    web: WebConfig = setting("The web app.", default_factory=WebConfig)
    delivery: DeliveryConfig = setting("Sending mail.", default_factory=DeliveryConfig)
    # Not part of the file: where it was read from, so relative paths resolve against it.
    base_dir: Path = field(default_factory=Path.cwd, metadata={"internal": True})
    path: Path | None = field(default=None, metadata={"internal": True})

    @property
    def data_dir(self) -> Path:
        return (self.base_dir / self.paths.data).resolve()

    def folder(self, relative: str) -> Path:
        """A configured folder, made absolute against the config file's folder."""
        return (self.base_dir / relative).resolve()

    @property
    def database_url(self) -> str:
        env = os.environ.get(ENV_DATABASE_URL, "").strip()
        if env:
            return env
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.data_dir / 'newsletter.db'}"

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(f"no source named {name!r} in {self.path or DEFAULT_CONFIG} (known: {known})")

    def resolve(self, location: str) -> str:
        """A source URL as given, or a local path made absolute against the config folder."""
        if is_remote(location):
            return location
        if location.startswith("file://"):
            return urlsplit(location).path
        return str((self.base_dir / location).resolve())


def is_remote(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")


# ---------------------------------------------------------------------------------------------
# The loader: walks the dataclasses, so the schema is declared once.


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(tp))
    if origin is list:
        item = typing.get_args(tp)[0]
        plural = {str: "strings", int: "integers", float: "numbers", bool: "booleans"}
        return "a list of " + plural.get(item, "tables")
    if origin is dict:
        return "a table of " + {str: "strings"}.get(typing.get_args(tp)[1], "values")
    if dataclasses.is_dataclass(tp):
        return "a table"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(
        tp, str(tp)
    )


def _convert(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{where}: {value!r} is not one of {_type_name(tp)}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected {_type_name(tp)}, got {type(value).__name__}")
        (item_tp,) = typing.get_args(tp)
        return [_convert(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected {_type_name(tp)}, got {type(value).__name__}")
        _, item_tp = typing.get_args(tp)
        return {key: _convert(v, item_tp, f"{where}.{key}") for key, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {type(value).__name__}")
        return build_section(tp, value, where)
    if origin in (types.UnionType, typing.Union):
        raise TypeError(f"unsupported schema type at {where}")
    ok = (
        isinstance(value, tp) and not (tp is int and isinstance(value, bool))
        or (tp is float and isinstance(value, int) and not isinstance(value, bool))
    )
    if not ok:
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    return float(value) if tp is float else value


def build_section(cls: Any, data: dict[str, Any], where: str) -> Any:
    """The dataclass CLS built from the TOML table DATA found at key path WHERE (checked)."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    kwargs = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else key
        if key not in fields:
            raise ConfigError(
                f"{path}: unknown key (expected one of: {', '.join(sorted(fields))})"
            )
        kwargs[key] = _convert(value, hints[key], path)
    for name, f in fields.items():
        if (
            name not in kwargs
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ):
            raise ConfigError(f"{where + '.' if where else ''}{name}: missing ({f.metadata['help']})")
    return cls(**kwargs)


def schema_keys(cls: Any = Config, prefix: str = "") -> list[tuple[str, str, Any, str]]:
    """Every key of the schema as (path, type, default, help): for docs and their test."""
    rows = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        tp = hints[f.name]
        path = f"{prefix}{f.name}"
        inner = typing.get_args(tp)[0] if typing.get_origin(tp) is list else tp
        if dataclasses.is_dataclass(inner):
            sub = f"{path}[]." if typing.get_origin(tp) is list else f"{path}."
            rows.extend(schema_keys(inner, sub))
            continue
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None
        )
        rows.append((path, _type_name(tp), default, f.metadata["help"]))
    return rows


def _validate(config: Config) -> None:
    seen: set[str] = set()
    for i, source in enumerate(config.sources):
        where = f"sources[{i}]"
        if not SLUG_RE.match(source.name):
            raise ConfigError(
                f"{where}.name: {source.name!r} must be lower-case letters, digits, - or _"
            )
        if source.name in seen:
            raise ConfigError(f"{where}.name: {source.name!r} is used by another source")
        seen.add(source.name)
        parts = urlsplit(source.url)
        if parts.scheme in ("http", "https"):
            if not parts.netloc:
                raise ConfigError(f"{where}.url: {source.url!r} has no host")
        elif parts.scheme and parts.scheme != "file" and len(parts.scheme) > 1:
            raise ConfigError(
                f"{where}.url: unsupported scheme {parts.scheme!r} in {source.url!r} "
                "(use http, https or a local path)"
            )
        else:
            if source.kind == "page":
                raise ConfigError(f"{where}.url: a 'page' source needs an http(s) URL")
            path = Path(config.resolve(source.url))
            if not path.exists():
                raise ConfigError(f"{where}.url: file not found: {path}")
        if source.interval < 1:
            raise ConfigError(f"{where}.interval: must be at least 1 minute")
        for j, tag in enumerate(source.tags):
            if not tag.strip():
                raise ConfigError(f"{where}.tags[{j}]: empty tag")
    names: set[str] = set()
    for i, rule in enumerate(config.tags):
        if not rule.name.strip():
            raise ConfigError(f"tags[{i}].name: empty tag name")
        if rule.name in names:
            raise ConfigError(f"tags[{i}].name: {rule.name!r} is declared twice")
        names.add(rule.name)
    if config.summarize.max_words < 5:
        raise ConfigError("summarize.max_words: must be at least 5")
    if config.summarize.method == "llm":
        llm = urlsplit(config.summarize.llm_base_url)
        if llm.scheme not in ("http", "https") or not llm.netloc:
            raise ConfigError(
                "summarize.llm_base_url: the llm method needs the endpoint's http(s) base URL"
            )
        if not config.summarize.llm_model:
            raise ConfigError("summarize.llm_model: the llm method needs a model name")
    if config.summarize.llm_concurrency < 1:
        raise ConfigError("summarize.llm_concurrency: must be at least 1")
    if config.collect.timeout <= 0:
        raise ConfigError("collect.timeout: must be positive")
    if config.collect.max_bytes < 1024:
        raise ConfigError("collect.max_bytes: must be at least 1024")
    for i, origin in enumerate(config.web.signup_origins):
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or origin.rstrip("/") != (
            f"{parts.scheme}://{parts.netloc}"
        ):
            raise ConfigError(
                f"web.signup_origins[{i}]: {origin!r} must be a site's origin: scheme and host, "
                "no path (e.g. https://www.example.ma)"
            )
    base = urlsplit(config.web.base_url)
    if base.scheme not in ("http", "https") or not base.netloc:
        raise ConfigError(f"web.base_url: {config.web.base_url!r} must be an http(s) URL")
    if config.delivery.smtp_pool_size < 1:
        raise ConfigError("delivery.smtp_pool_size: must be at least 1")
    if config.delivery.smtp_rate < 0:
        raise ConfigError("delivery.smtp_rate: must be 0 (no limit) or more")
    if not 1 <= config.delivery.batch_size <= 1000:
        raise ConfigError("delivery.batch_size: must be between 1 and 1000")
    if config.delivery.batch_max_attempts < 1:
        raise ConfigError("delivery.batch_max_attempts: must be at least 1")
    if config.delivery.batch_retry_backoff < 0:
        raise ConfigError("delivery.batch_retry_backoff: must be 0 or more seconds")
    if not 0 < config.stories.threshold <= 1:
        raise ConfigError("stories.threshold: must be between 0 and 1")


def warnings(config: Config) -> list[str]:
    """What is valid but will hurt once mail goes out to readers (``newsletter check`` says it)."""
    found = []
    if config.delivery.backend != "outbox" and not config.web.base_url.startswith("https://"):
        found.append(
            f"web.base_url: {config.web.base_url!r} is not https: mail then offers no one-click "
            "unsubscribe (RFC 8058 allows only https, and Gmail and Yahoo require one-click of "
            "bulk senders); put the web app behind TLS and give its https address"
        )
    return found


def parse(data: dict[str, Any], *, base_dir: Path | None = None, path: Path | None = None) -> Config:
    """Build a validated :class:`Config` from already-parsed TOML data."""
    config = build_section(Config, data, "")
    config.base_dir = (base_dir or Path.cwd()).resolve()
    config.path = path
    _validate(config)
    return config


def load(path: str | Path | None = None) -> Config:
    """Read and validate the configuration file (``newsletter.toml`` or $NEWSLETTER_CONFIG)."""
    chosen = Path(path or os.environ.get(ENV_CONFIG) or DEFAULT_CONFIG)
    if not chosen.exists():
        raise ConfigError(
            f"{chosen}: configuration file not found (run 'newsletter init' in your project folder, "
            f"or pass --config)"
        )
    try:
        data = tomllib.loads(chosen.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{chosen}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{chosen}: not UTF-8 text ({exc.reason})") from None
    try:
        return parse(data, base_dir=chosen.resolve().parent, path=chosen)
    except ConfigError as exc:
        raise ConfigError(f"{chosen}: {exc}") from None


def safe_url(url: str) -> str:
    """A database URL with any password masked, fit for logs and messages."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)
