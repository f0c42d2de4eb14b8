"""Shared fixtures. In CI (CI=true) a skipped peer comparison is a failure, not a pass."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STRICT = os.environ.get("CI", "").lower() in ("1", "true", "yes") or os.environ.get("GLIAFLOW_STRICT_PEERS") == "1"


def pytest_configure(config):
    """Tests never write into the user's data folder (recovery files, the run catalog)."""
    import tempfile
    os.environ["GLIAFLOW_DATA_DIR"] = tempfile.mkdtemp(prefix="gliaflow-test-data-")
    os.environ.pop("GLIAFLOW_CATALOG", None)


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


def _busy_threads():
    import threading
    # idle by design: the per-simulation analysis queue waits on its queue forever (daemon)
    return [t for t in threading.enumerate() if t.name.startswith("gliaflow-") and t.is_alive()
            and t.name != "gliaflow-analysis-queue"]


def pytest_sessionfinish(session, exitstatus):
    """Let work a test started on a thread (a studio build or run, an analysis job) end before
    pytest prints its summary: on CPython 3.11 the AST constructor's recursion counter is
    shared between threads, so a background thread formatting a traceback (which parses
    source) while the main thread imports a module fails that import with ``SystemError: AST
    constructor recursion depth mismatch``."""
    import time

    deadline = time.time() + 30.0
    while _busy_threads() and time.time() < deadline:
        time.sleep(0.05)


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
