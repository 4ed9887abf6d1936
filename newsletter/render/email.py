"""An edition to email: Jinja2 -> MJML -> HTML (mjml-python) -> our CSS inlined -> minified,
and a plain-text part from its own template.

Each template folder, ``templates/email/<name>/``, holds three files::

    body.mjml.j2   the HTML part, as MJML; autoescaped (everything from sources is escaped)
    body.txt.j2    the text part; not escaped, wrapped with the ``wrap`` filter
    style.css      our CSS, inlined into the HTML by css-inline (no remote stylesheet loaded)

An edition is rendered once; per-recipient values stay as the slots of ``view.SLOTS`` for
``personalize`` to fill. Any problem with a template raises ``RenderError`` naming its file.
"""

from __future__ import annotations

import functools
import re
import textwrap
import traceback
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import css_inline
import jinja2
from mjml import mjml2html

from newsletter.errors import RenderError
from newsletter.render.strings import format_day, strings_for, subject_for
from newsletter.render.view import RTL_LANGUAGES, SLOTS, EditionView, ItemView, RenderedEdition

MJML_TEMPLATE = "body.mjml.j2"
TEXT_TEMPLATE = "body.txt.j2"
STYLESHEET = "style.css"

TEXT_WIDTH = 72  # columns of the text part; URLs are never broken and stand on their own line
PREHEADER_CHARS = 140
_TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
RLM, LRM = "\u200f", "\u200e"  # the right-to-left and left-to-right marks
_LEFT_TO_RIGHT, _RIGHT_TO_LEFT = {"L", "EN"}, {"R", "AL", "AN"}  # Unicode bidirectional classes
# Where the text part's prose may break: any white space but the no-break ones.
_BREAKABLE = re.compile(r"[^\S\u00a0\u2007\u202f]+")
_LINK_LINE = re.compile(r"^(?:https?://|mailto:|%%)\S+$")  # a link (or its slot) alone


def render_edition(view: EditionView, templates_dir: Path) -> RenderedEdition:
    """Render VIEW with the template ``templates_dir/email/<view.template>/``: once per edition."""
    folder = template_folder(templates_dir, view.template)
    env = _environment(str(folder))
    context = _context(view)
    mjml_source = _render(env, folder, MJML_TEMPLATE, context)
    text = _render(env, folder, TEXT_TEMPLATE, context)
    css = _read(folder / STYLESHEET)
    html = mjml_to_html(mjml_source, folder / MJML_TEMPLATE, css=css, css_file=folder / STYLESHEET)
    text = _tidy_text(text)
    if context["dir"] == "rtl":
        text = _right_to_left_lines(text)
    return RenderedEdition(subject=context["subject"], mjml=mjml_source, html=html, text=text)


def template_folder(templates_dir: Path, name: str) -> Path:
    """The folder of email template NAME, checked: it must hold all three template files."""
    if not _TEMPLATE_NAME.match(name or ""):
        raise RenderError(f"invalid email template name {name!r}: use letters, digits, - and _")
    folder = Path(templates_dir) / "email" / name
    for filename in (MJML_TEMPLATE, TEXT_TEMPLATE, STYLESHEET):
        if not (folder / filename).is_file():
            raise RenderError(
                f"email template file not found: {folder / filename} "
                f"(a template folder holds {MJML_TEMPLATE}, {TEXT_TEMPLATE} and {STYLESHEET})"
            )
    return folder


def mjml_to_html(
    source: str, mjml_file: Path, *, css: str = "", css_file: Path | None = None
) -> str:
    """MJML SOURCE to the final HTML: converted without remote fonts, CSS inlined, minified."""
    try:
        raw = mjml2html(source, fonts={}, disable_comments=True)
    except Exception as exc:  # mjml-python raises bare ValueError/RuntimeError from Rust
        raise RenderError(f"{mjml_file}: invalid MJML: {exc}") from exc
    try:
        inlined = inline_css(raw, css)
    except Exception as exc:  # css_inline.InlineError and friends
        raise RenderError(f"{css_file or mjml_file}: CSS could not be inlined: {exc}") from exc
    return minify_html(inlined)


def inline_css(html: str, css: str) -> str:
    """HTML with CSS inlined into style attributes; its own <style> blocks kept, nothing fetched."""
    return _inliner(css).inline(html)


# --- Jinja ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _environment(folder: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=lambda name: name is not None and name.endswith(".mjml.j2"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=True,
    )
    env.filters["wrap"] = wrap
    env.filters["href"] = safe_href
    env.filters["marked"] = with_mark
    env.tests["web_url"] = lambda url: safe_href(url) != "#"
    return env


def _render(env: jinja2.Environment, folder: Path, name: str, context: dict[str, Any]) -> str:
    path = folder / name
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"{path}, line {exc.lineno}: {exc.message}") from exc
    except jinja2.TemplateNotFound as exc:  # an {% include %} or {% extends %} of a missing file
        raise RenderError(f"{path}: template not found: {exc.name}") from exc
    except Exception as exc:  # UndefinedError, TypeError in a filter...: find the template line
        line = _template_line(exc, str(path))
        where = f"{path}, line {line}" if line else str(path)
        raise RenderError(f"{where}: {type(exc).__name__}: {exc}") from exc


def _template_line(exc: BaseException, filename: str) -> int | None:
    """The line of FILENAME in EXC's traceback (Jinja rewrites frames to template lines)."""
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    return lines[-1] if lines else None


def _context(view: EditionView) -> dict[str, Any]:
    language = view.language or "en"
    direction = view.direction
    sections = [s for s in view.sections if s.items]
    return {
        "view": view,
        "sections": sections,
        "lang": language,
        "dir": direction,
        "align": "right" if direction == "rtl" else "left",
        "t": strings_for(language),
        "subject": view.subject or subject_for(view.list_name, view.date, language),
        "preheader": view.preheader or _default_preheader(view),
        "day_full": format_day(view.date, language, "full"),
        "day": functools.partial(format_day, language=language),
        "item_dir": _item_direction(language),
        "slots": SLOTS,
    }


def _item_direction(language: str) -> Callable[[ItemView], str]:
    """The dir of an item written in another language than the edition's, else ""."""

    def item_dir(item: ItemView) -> str:
        if not item.language or item.language == language:
            return ""
        return "rtl" if item.language in RTL_LANGUAGES else "ltr"

    return item_dir


def with_mark(name: str, direction: str) -> str:
    """NAME followed by the invisible mark of DIRECTION ("rtl" or "ltr") when it holds letters or
    digits of the other direction: what follows it (a dash and a date, a comma) then keeps its
    place. Without it "Le Matin — 28 نونبر 2026" shows the 28 beside "Le Matin" in an Arabic
    line, and "هسبريس — 28 novembre" the 28 before the name in a French one."""
    other = _LEFT_TO_RIGHT if direction == "rtl" else _RIGHT_TO_LEFT
    if any(unicodedata.bidirectional(ch) in other for ch in name):
        return name + (RLM if direction == "rtl" else LRM)
    return name


def _default_preheader(view: EditionView) -> str:
    """The intro or, lacking one, the first titles: what the inbox shows under the subject."""
    text = " ".join(view.intro.split())
    if not text:
        text = " · ".join(" ".join(i.title.split()) for s in view.sections for i in s.items[:1])
    if len(text) > PREHEADER_CHARS:
        text = text[: PREHEADER_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return text


def wrap(text: str, width: int = TEXT_WIDTH, indent: str = "") -> str:
    """TEXT as lines of at most WIDTH columns; paragraphs (blank lines) are kept, URLs unbroken,
    and a no-break space never becomes a break (French puts one before ":" and inside « »)."""
    paragraphs = [" ".join(_BREAKABLE.split(p.strip())) for p in re.split(r"\n\s*\n", text or "")]
    return "\n\n".join(
        textwrap.fill(
            p,
            width=width,
            initial_indent=indent,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
        for p in paragraphs
        if p
    )


def safe_href(url: str) -> str:
    """URL when it is a web or mail link; "#" otherwise (a source could send javascript:)."""
    url = (url or "").strip()
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return "#"
    return url if scheme in {"http", "https", "mailto"} else "#"


def _right_to_left_lines(text: str) -> str:
    """Each line of prose between right-to-left marks. A mail client that lays plain text out
    left to right then still puts a line's final ":" or "»." on its left, and one that takes
    each line's direction from its first letter aligns an "=====" underline to the right.
    Lines that are only a link are left alone: a mark glued to a URL can end up inside it."""
    return "\n".join(
        line if not line or _LINK_LINE.match(line) else f"{RLM}{line}{RLM}"
        for line in text.split("\n")
    )


def _tidy_text(text: str) -> str:
    """No trailing spaces, at most one blank line in a row, one final newline."""
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"


# --- HTML -------------------------------------------------------------------------------------


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RenderError(f"{path}: cannot be read: {exc}") from exc


@functools.lru_cache(maxsize=16)
def _inliner(css: str) -> css_inline.CSSInliner:
    # MJML's own <style> blocks (resets, media queries for the columns) are kept as they are;
    # only our stylesheet is inlined, so it survives clients that drop <style> (Gmail app...).
    return css_inline.CSSInliner(
        inline_style_tags=False,
        keep_style_tags=True,
        keep_link_tags=False,
        load_remote_stylesheets=False,
        extra_css=css or None,
        minify_css=True,
    )


_BLOCK = r"(?:html|head|body|title|meta|style|table|tbody|thead|tr|td|th|div|p|h[1-6]|ul|ol|li|br|hr|noscript|xml)"
_NEWLINE_RUN = re.compile(r"[ \t\r\f]*\n\s*")
_BEFORE_BLOCK = re.compile(rf"\n(?=</?{_BLOCK}\b|<!--|<!\[endif)")
_AFTER_BLOCK = re.compile(rf"(</?{_BLOCK}\b[^>]*>|-->)\n")
_PREFORMATTED = re.compile(r"<(?:pre|textarea)\b", re.IGNORECASE)


def minify_html(html: str) -> str:
    """HTML without layout whitespace: a run of whitespace holding a newline becomes one newline
    (same rendering), dropped next to a block tag or comment where it renders as nothing.

    Whitespace inside one line is left alone, so "<a>x</a> <a>y</a>" keeps its space.
    Documents with <pre> or <textarea> are returned unchanged.
    """
    if _PREFORMATTED.search(html):
        return html
    html = _NEWLINE_RUN.sub("\n", html)
    html = _BEFORE_BLOCK.sub("", html)
    html = _AFTER_BLOCK.sub(r"\1", html)
    return html.strip()
