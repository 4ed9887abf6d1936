"""Shared by the benchmarks: where the evaluation data is, and writing figures to docs/benchmarks.md.

Each benchmark owns one section of docs/benchmarks.md, between ``<!-- bench:NAME -->`` and
``<!-- /bench:NAME -->``; running it replaces only that section, so the benchmarks can run alone.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "benchmarks.md"
DATA = Path(os.environ.get("NEWSLETTER_EVAL_DATA", ROOT.parent / "shared" / "data"))

HEADER = """# Benchmarks

Written by `make bench` (each script in `bench/` replaces its own section). Figures come from
one run on the machine named in each section; baselines are measured in the same run.
"""


def data_path(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.exists():
        raise SystemExit(f"evaluation data not found: {path} (set NEWSLETTER_EVAL_DATA)")
    return path


def machine() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}"


def write_section(name: str, markdown: str) -> None:
    """Replace the section NAME of docs/benchmarks.md with MARKDOWN (adding it if new)."""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    text = REPORT.read_text(encoding="utf-8") if REPORT.exists() else HEADER
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    block = (
        f"<!-- bench:{name} -->\n{markdown.rstrip()}\n\n"
        f"_Run {stamp} on {machine()}._\n<!-- /bench:{name} -->"
    )
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    REPORT.write_text(text, encoding="utf-8")


def command_line(module: str, *, hide: str = "") -> str:
    """How this run was started, in backquotes, for the report: ``python -m MODULE args``,
    with HIDE (a database URL that may hold a password) shown as ``URL``."""
    shown = " ".join(sys.argv[1:])
    if hide:
        shown = shown.replace(hide, "URL")
    return f"`python -m {module} {shown}`".replace(" `", "`")


def table(header: str, align: str, rows: list[tuple[str, ...]]) -> str:
    """A markdown table: HEADER and ALIGN are its first two lines, ROWS the cells."""
    return "\n".join([header, align, *("| " + " | ".join(row) + " |" for row in rows)])
