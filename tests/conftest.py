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
