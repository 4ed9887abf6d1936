"""Log lines of the long-running processes: plain text, or one JSON object per line.

``newsletter daemon --log-format json`` uses :class:`JsonFormatter`, for a log collector; a
job's log records may carry ``job`` (its id), which becomes a field.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, job, error."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if hasattr(record, "job"):
            data["job"] = record.job
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


# Extraction libraries log, as errors, what our own code reports better: "parsed tree length: 0"
# for a page that is not HTML, which collect records on its source and extract explains.
CHATTY_LIBRARIES = ("trafilatura", "htmldate", "courlan", "justext", "readability")


def quiet_libraries(verbose: bool = False) -> None:
    """Keep CHATTY_LIBRARIES' records out of the output unless asked for (-v)."""
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.CRITICAL)


# What the daemon's log needs only when something goes wrong: the schema check each job makes
# ("Context impl SQLiteImpl", twice a job) and the scheduler's per-run lines, whose "executed
# successfully" follows even a job that failed (our jobs log their own outcome).
DAEMON_WARNINGS_ONLY = ("alembic", "apscheduler.executors")


def configure_logging(fmt: str = "plain") -> None:
    """The daemon's and workers' logging: INFO and up, one line (or JSON object) a record."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    quiet_libraries()
    for name in DAEMON_WARNINGS_ONLY:
        logging.getLogger(name).setLevel(logging.WARNING)
