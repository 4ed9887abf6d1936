"""The daemon's log: what each job did, without the libraries' chatter."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from newsletter.logs import CHATTY_LIBRARIES, DAEMON_WARNINGS_ONLY, configure_logging


@pytest.fixture
def daemon_logging() -> Iterator[None]:
    """configure_logging for one test; the root logger and the libraries' levels put back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    names = (*CHATTY_LIBRARIES, *DAEMON_WARNINGS_ONLY)
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    root.handlers[:], root.level = handlers, level
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


def test_the_daemon_logs_its_jobs_and_not_the_schema_check_each_job_makes(
    daemon_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("json")
    logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")
    logging.getLogger("apscheduler.executors.default").info('Job "send:revue" executed')
    logging.getLogger("trafilatura.utils").error("parsed tree length: 0")
    logging.getLogger("newsletter.daemon").info("send:revue: sent edition 4")
    logging.getLogger("alembic.runtime.migration").warning("a real problem")

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(r["logger"], r["message"]) for r in lines] == [
        ("newsletter.daemon", "send:revue: sent edition 4"),
        ("alembic.runtime.migration", "a real problem"),
    ]
