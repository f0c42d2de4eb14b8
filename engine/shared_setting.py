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


_BLAS: dict = {}


def _blas_one_thread():
    if "controller" not in _BLAS:
        from threadpoolctl import ThreadpoolController
        _BLAS["controller"] = ThreadpoolController()
    return _BLAS["controller"].limit(limits=1)


# BLAS/LAPACK on one thread while a simulation with analysis monitors runs (entered and left
# by the run's own thread): the kernel has the other core, and a second BLAS thread would only
# fight it for that core (on 2 cores an eigendecomposition with 2 BLAS threads beside a running
# kernel was 5-10x slower); analyses computed during a run therefore also round the same way
# whatever the timing. (Left by the thread that computed under it, the limit was measured not to
# come back with this OpenBLAS, hence the run's thread.)
ONE_BLAS_THREAD = SharedSetting(_blas_one_thread, lambda limiter: limiter.restore_original_limits())
