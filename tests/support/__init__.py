"""Helpers shared by the tests: the evaluation data folder and a local HTTP server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("NEWSLETTER_EVAL_DATA", ROOT.parent / "shared" / "data"))


def eval_data(*parts: str) -> Path:
    """A path in the shared evaluation data, or skip the test saying where it was looked for."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"evaluation data not found: {path} (set NEWSLETTER_EVAL_DATA)")
    return path
