"""A process-wide setting held while any of its users is inside (reference-counted).

Some settings belong to the whole process, not to a thread: CPython's GIL switch interval,
BLAS thread pools. When several threads (runs of several studio sessions, an analysis queue
and its workers) each need one for a while, a plain save/set/restore per user would restore
the old value under another user still inside. :class:`SharedSetting` applies it when the
first user enters and restores it when the last one leaves.
"""
from __future__ import annotations

import threading
from typing import Any, Callable


class SharedSetting:
    """``apply()`` on the first ``__enter__``, returning what ``restore(saved)`` gets back on
    the last ``__exit__``."""

    def __init__(self, apply: Callable[[], Any], restore: Callable[[Any], None]):
        self._apply = apply
        self._restore = restore
        self._lock = threading.Lock()
        self._users = 0
        self._saved: Any = None

    def __enter__(self):
        with self._lock:
            if self._users == 0:
                self._saved = self._apply()
            self._users += 1
        return self

    def __exit__(self, *exc) -> bool:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                saved, self._saved = self._saved, None
                self._restore(saved)
        return False
