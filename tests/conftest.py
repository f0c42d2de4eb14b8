"""Shared fixtures. In CI (CI=true) a skipped peer comparison is a failure, not a pass."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STRICT = os.environ.get("CI", "").lower() in ("1", "true", "yes") or os.environ.get("GLIAFLOW_STRICT_PEERS") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if STRICT and rep.skipped and (item.get_closest_marker("peer") is not None or item.get_closest_marker("ui") is not None):
        rep.outcome = "failed"
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        rep.longrepr = f"peer comparison or browser test skipped in CI, which counts as a failure: {reason}"


@pytest.fixture
def coba_doc():
    return json.loads((ROOT / "gallery" / "coba.json").read_text())


def pytest_unconfigure(config):
    """A thread left running by a test (a studio server, a simulation) would keep the
    interpreter alive after the summary and hang CI: name it and exit non-zero instead."""
    import sys
    import threading
    import time

    deadline = time.time() + 10.0
    while True:
        left = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]
        if not left or time.time() > deadline:
            break
        time.sleep(0.1)
    if left:
        sys.stderr.write("error: tests left non-daemon threads running (a server or run not stopped): "
                         + ", ".join(t.name for t in left) + "\n")
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(1)
