"""Configuration: ``newsletter.toml`` validated against one declared schema, plus the environment.

Each section is a dataclass; each field carries its help text in ``metadata["help"]`` and, for a
number, its bounds (``min``, ``above``, ``max``). The loader walks the schema, so an unknown key,
a wrong type, a number out of range or a bad URL is reported with its key path
(``sources[2].url``) and the reason, as a :class:`ConfigError` (exit status 2).

A local source file that is missing is not a configuration error: files come and go (an import
folder on a share), and one of them must not stop the web app or a send. ``newsletter check``
warns of it (:func:`warnings`) and collecting records it on the source, like a failing feed.

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


DATABASES = "sqlite:///PATH (the default) or postgresql://USER@HOST/DATABASE (psycopg 3)"
# backend -> drivers we ship (an empty driver is the backend's default one)
_DATABASE_DRIVERS = {"sqlite": ("", "pysqlite"), "postgresql": ("", "psycopg"), "postgres": ("",)}
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")


def setting(
    text: str,
    default: Any = dataclasses.MISSING,
    *,
    min: float | None = None,  # noqa: A002 - the schema's word for it
    above: float | None = None,
    max: float | None = None,  # noqa: A002
    **kw: Any,
) -> Any:
    """A schema field with its help text (and its default, unless it is required).

    A number may carry bounds: ``min`` (lowest allowed), ``above`` (it must be more than this)
    and ``max`` (highest allowed); the loader checks them and the reference documents them.
    """
    if default is not dataclasses.MISSING:
        kw["default"] = default
    bounds = {"min": min, "above": above, "max": max}
    metadata = {"help": text, **{k: v for k, v in bounds.items() if v is not None}}
    return field(metadata=metadata, **kw)


def _bounds_text(metadata: Any) -> str:
    """The allowed range of a setting in words ("at least 1", "between 1 and 65535"), or ""."""
    low, above, high = metadata.get("min"), metadata.get("above"), metadata.get("max")
    if low is not None and high is not None:
        return f"between {low} and {high}"
    parts = []
    if low is not None:
        parts.append("0 or more" if low == 0 else f"at least {low}")
    if above is not None:
        parts.append(f"more than {above}")
    if high is not None:
        parts.append(f"at most {high}")
    return ", ".join(parts)


def _in_bounds(value: Any, metadata: Any) -> bool:
    low, above, high = metadata.get("min"), metadata.get("above"), metadata.get("max")
    return not (
        (low is not None and value < low)
        or (above is not None and value <= above)
        or (high is not None and value > high)
    )


@dataclass
class SourceConfig:
    name: str = setting("Unique short name of the source (letters, digits, - and _).")
    url: str = setting(
        "Feed or page URL (http/https), or a local path relative to newsletter.toml: a feed .xml "
        "(kind feed), or an article file or a folder of them (kind file)."
    )
    label: str = setting("The source's name as readers see it in digests; empty means the name.", "")
    kind: Literal["feed", "page", "file"] = setting(
        "feed: RSS/Atom; page: one article page; file: local files to import.", "feed"
    )
    tags: list[str] = setting("Tags every article of this source carries.", default_factory=list)
    language: str = setting("Language of the source (fr, en, ar...); empty means detect.", "")
    interval: int = setting(
        "Minutes between two fetches of this source (used by the daemon).", 60, min=1
    )
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
        "lemmatised (\u00e9lection matches \u00e9lections); a keyword in capitals is an acronym "
        "and matches only in capitals (AI, BCE, ONU: add 'Onu' too if papers write it so).",
        default_factory=list,
    )
    categories: list[str] = setting(
        "Feed categories mapped to this tag (compared accent- and case-insensitively).",
        default_factory=list,
    )
    min_hits: int = setting(
        "Keyword occurrences needed in title and lead to give the tag.", 1, min=1
    )


@dataclass
class DatabaseConfig:
    url: str = setting(
        "URL of the store: sqlite:///PATH or postgresql://USER@HOST/DATABASE; "
        "NEWSLETTER_DATABASE_URL overrides it. Default: SQLite file in the data folder.",
        "",
    )


@dataclass
class PathsConfig:
    data: str = setting("Folder for the SQLite store and other state (relative to newsletter.toml).", "var")
    subscribers: str = setting("Folder with lists.toml and one <list-slug>.csv per list.", "subscribers")
    templates: str = setting("Folder with the email/ and web/ templates.", "templates")
    outbox: str = setting(
        "Folder where the outbox backend writes one mbox per edition; empty means outbox/ in "
        "the data folder (so two stores never share one).",
        "",
    )


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
    batch_size: int = setting(
        "Recipients per delivery batch (SendGrid takes at most 1,000).", 1000, min=1, max=1000
    )
    unsubscribe_mailto: str = setting(
        "Address for the mailto: part of List-Unsubscribe; empty means none.", ""
    )
    smtp_host: str = setting("SMTP server (password in NEWSLETTER_SMTP_PASSWORD).", "localhost")
    smtp_port: int = setting("SMTP port.", 587, min=1, max=65535)
    smtp_security: Literal["starttls", "ssl", "none"] = setting("How the SMTP connection is secured.", "starttls")
    smtp_username: str = setting("SMTP login; empty means no authentication.", "")
    smtp_timeout: float = setting("Seconds before an SMTP command gives up.", 30.0, above=0)
    smtp_pool_size: int = setting("SMTP connections used at once.", 1, min=1)
    smtp_rate: float = setting(
        "Messages per second per SMTP connection; 0 means no limit.", 0.0, min=0
    )
    sendgrid_host: str = setting("SendGrid API address (key in SENDGRID_API_KEY).", "https://api.sendgrid.com")
    sendgrid_timeout: float = setting(
        "Seconds before a SendGrid request gives up.", 30.0, above=0
    )
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
        min=1,
    )
    batch_max_attempts: int = setting(
        "Attempts at one batch while the mail service fails for a reason that may pass (429, 5xx, "
        "unreachable, SMTP 4xx), spaced by batch_retry_backoff; then the batch is failed.",
        5,
        min=1,
    )
    batch_retry_backoff: float = setting(
        "Seconds before a batch's second attempt, doubled for each next one (with jitter, at most "
        "an hour); a later reset time given by the service wins.",
        60.0,
        min=0,
    )


@dataclass
class CollectConfig:
    timeout: float = setting("Seconds before an HTTP request gives up.", 20.0, above=0)
    max_bytes: int = setting("Largest response body accepted, in bytes.", 5_000_000, min=1024)
    user_agent: str = setting("User-Agent header sent with every request.", "")
    teaser_words: int = setting(
        "A feed entry with fewer words than this is a teaser: its page is fetched.", 80, min=0
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
    max_words: int = setting("Longest summary, in words.", 60, min=5)
    llm_base_url: str = setting(
        "Base URL of the OpenAI-compatible API (e.g. http://127.0.0.1:11434/v1 for Ollama); "
        "the key, if any, is read from NEWSLETTER_LLM_API_KEY.",
        "",
    )
    llm_model: str = setting("Model name sent to the endpoint.", "")
    llm_timeout: float = setting("Seconds before one LLM request gives up.", 60.0, above=0)
    llm_max_retries: int = setting(
        "Retries of a failed LLM request (timeouts, 429, 5xx).", 2, min=0
    )
    llm_concurrency: int = setting("LLM requests in flight at once.", 4, min=1)
    llm_max_input_chars: int = setting(
        "Article text sent to the model is cut to this length.", 12000, min=1
    )


@dataclass
class StoriesConfig:
    threshold: float = setting(
        "Similarity (0-1) of title and lead above which two articles tell the same story.",
        0.5,
        above=0,
        max=1,
    )
    window_days: int = setting(
        "Only articles published this many days apart can share a story.", 3, min=0
    )


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

    @property
    def outbox_dir(self) -> Path:
        """Where the outbox backend writes: paths.outbox, else outbox/ in the data folder."""
        return self.folder(self.paths.outbox) if self.paths.outbox else self.data_dir / "outbox"

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
        bounds = _bounds_text(fields[key].metadata)
        if bounds and not _in_bounds(kwargs[key], fields[key].metadata):
            raise ConfigError(f"{path}: must be {bounds} (got {value!r})")
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
        bounds = _bounds_text(f.metadata)
        text = f.metadata["help"] + (f" Must be {bounds}." if bounds else "")
        rows.append((path, _type_name(tp), default, text))
    return rows


def is_language_code(value: str) -> bool:
    """True for a language code such as fr, en, ar or pt-br (lower case, a language babel knows)."""
    from babel import Locale  # babel is slow to import: only when a file names a language

    return bool(_LANGUAGE_RE.match(value)) and value.split("-")[0] in Locale("en").languages


def check_address(value: str, where: str) -> None:
    """A ConfigError at key path WHERE unless VALUE is an email address (email-validator)."""
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ConfigError(f"{where}: {value!r} is not a valid email address ({exc})") from None


def check_database_url(url: str, where: str) -> None:
    """A ConfigError at WHERE (a key or an environment variable) unless URL names a database we
    can open: SQLite or PostgreSQL through psycopg 3 (the only drivers installed)."""
    scheme, sep, _ = url.partition("://")
    if not sep or not re.fullmatch(r"[a-z][a-z0-9]*(\+[a-z0-9_]+)?", scheme):
        raise ConfigError(
            f"{where}: {safe_url(url)!r} is not a database URL (supported: {DATABASES})"
        )
    backend, _, driver = scheme.partition("+")
    if backend not in _DATABASE_DRIVERS:
        raise ConfigError(f"{where}: unsupported database {backend!r} (supported: {DATABASES})")
    if driver not in _DATABASE_DRIVERS[backend]:
        raise ConfigError(
            f"{where}: unsupported driver {driver!r} for {backend} (supported: {DATABASES})"
        )


def _validate_source(config: Config, source: SourceConfig, where: str) -> None:
    if not SLUG_RE.match(source.name):
        raise ConfigError(
            f"{where}.name: {source.name!r} must be lower-case letters, digits, - or _"
        )
    if source.language and not is_language_code(source.language):
        raise ConfigError(
            f"{where}.language: {source.language!r} is not a language code (use a code such as "
            "fr, en or ar, or leave it empty to detect each article's language)"
        )
    parts = urlsplit(source.url)
    if parts.scheme in ("http", "https"):
        if not parts.netloc:
            raise ConfigError(f"{where}.url: {source.url!r} has no host")
        if source.kind == "file":
            raise ConfigError(
                f"{where}.url: a 'file' source reads local files, not {source.url!r} "
                "(give a path relative to newsletter.toml, or kind = \"feed\" or \"page\")"
            )
        return
    if parts.scheme and parts.scheme != "file" and len(parts.scheme) > 1:
        raise ConfigError(
            f"{where}.url: unsupported scheme {parts.scheme!r} in {source.url!r} "
            "(use http, https or a local path)"
        )
    if source.kind == "page":
        raise ConfigError(f"{where}.url: a 'page' source needs an http(s) URL")
    # A missing file is not checked here: see the module docstring and warnings().
    path = Path(config.resolve(source.url))
    if source.kind == "feed" and path.is_dir():
        raise ConfigError(
            f"{where}.url: {path} is a folder: a 'feed' source reads one feed file "
            "(for a folder of article files, set kind = \"file\")"
        )


def _validate(config: Config) -> None:
    seen: set[str] = set()
    for i, source in enumerate(config.sources):
        where = f"sources[{i}]"
        _validate_source(config, source, where)
        if source.name in seen:
            raise ConfigError(f"{where}.name: {source.name!r} is used by another source")
        seen.add(source.name)
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
    if config.database.url:
        check_database_url(config.database.url, "database.url")
    for key in ("data", "subscribers", "templates", "outbox"):
        folder = config.folder(getattr(config.paths, key))
        if folder.exists() and not folder.is_dir():
            raise ConfigError(f"paths.{key}: {folder} is a file, not a folder")
    if config.summarize.method == "llm":
        llm = urlsplit(config.summarize.llm_base_url)
        if llm.scheme not in ("http", "https") or not llm.netloc:
            raise ConfigError(
                "summarize.llm_base_url: the llm method needs the endpoint's http(s) base URL"
            )
        if not config.summarize.llm_model:
            raise ConfigError("summarize.llm_model: the llm method needs a model name")
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
    if config.delivery.unsubscribe_mailto:
        check_address(config.delivery.unsubscribe_mailto, "delivery.unsubscribe_mailto")


def warnings(config: Config) -> list[str]:
    """What is valid but will hurt later (``newsletter check`` says it): a local source file that
    is missing (collecting records an error on that source until it is back), mail that would
    offer readers no one-click unsubscribe."""
    found = []
    for i, source in enumerate(config.sources):
        if source.enabled and not is_remote(source.url):
            path = Path(config.resolve(source.url))
            if not path.exists():
                found.append(
                    f"sources[{i}].url: file or folder not found: {path} (collecting {source.name} "
                    "records this error until the file is back or the url is fixed)"
                )
    if config.delivery.backend != "outbox" and not config.web.base_url.startswith("https://"):
        found.append(
            f"web.base_url: {config.web.base_url!r} is not https: mail then offers no one-click "
            "unsubscribe (RFC 8058 allows only https, and Gmail and Yahoo require one-click of "
            "bulk senders); put the web app behind TLS and give its https address"
        )
    return found


def check_templates(config: Config) -> Path:
    """The templates folder (``paths.templates``), or a ConfigError naming the key: rendering
    mail and serving pages need its email/ and web/ folders. Not checked at load time, as
    commands that render nothing (collect, summarize...) need no templates."""
    folder = config.folder(config.paths.templates)
    where = f"{config.path or DEFAULT_CONFIG}: paths.templates"
    if not folder.is_dir():
        raise ConfigError(
            f"{where}: folder not found: {folder} (point it at the templates folder of the "
            "newsletter project, which holds email/ and web/)"
        )
    for part in ("email", "web"):
        if not (folder / part).is_dir():
            raise ConfigError(
                f"{where}: {folder} has no {part}/ folder (point it at the templates folder of "
                "the newsletter project, which holds email/ and web/)"
            )
    return folder


def parse(data: dict[str, Any], *, base_dir: Path | None = None, path: Path | None = None) -> Config:
    """Build a validated :class:`Config` from already-parsed TOML data."""
    config = build_section(Config, data, "")
    config.base_dir = (base_dir or Path.cwd()).resolve()
    config.path = path
    _validate(config)
    return config


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML file PATH parsed (a UTF-8 byte order mark is fine); ConfigError naming it."""
    try:
        # utf-8-sig: Windows editors start UTF-8 files with a byte order mark
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None


def load(path: str | Path | None = None) -> Config:
    """Read and validate the configuration file (``newsletter.toml`` or $NEWSLETTER_CONFIG)."""
    chosen = Path(path or os.environ.get(ENV_CONFIG) or DEFAULT_CONFIG)
    if not chosen.exists():
        raise ConfigError(
            f"{chosen}: configuration file not found (copy the example newsletter.toml of the "
            f"newsletter project here and edit it, or name yours with --config PATH or "
            f"{ENV_CONFIG})"
        )
    data = read_toml(chosen)
    try:
        config = parse(data, base_dir=chosen.resolve().parent, path=chosen)
    except ConfigError as exc:
        raise ConfigError(f"{chosen}: {exc}") from None
    env = os.environ.get(ENV_DATABASE_URL, "").strip()
    if env:  # not the file's mistake: named without it
        check_database_url(env, ENV_DATABASE_URL)
    return config


def safe_url(url: str) -> str:
    """A database URL with any password masked, fit for logs and messages."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)
