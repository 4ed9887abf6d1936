"""An in-memory sliding-window rate limit (one process; enough for a sign-up form)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class Throttle:
    """At most LIMIT events per key in any WINDOW seconds."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Count one event for KEY; False when it is over the limit (then it is not counted)."""
        now = self.clock()
        with self._lock:
            if len(self._hits) > 10_000:  # forget idle keys now and then: bounded memory
                self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.window}
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True

    def blocked(self, key: str) -> bool:
        """True when KEY is at its limit now (nothing is counted): check before the work,
        count with :meth:`allow` only the events that should cost (a failed login)."""
        now = self.clock()
        with self._lock:
            hits = self._hits.get(key)
            return bool(hits) and sum(1 for t in hits if t > now - self.window) >= self.limit
