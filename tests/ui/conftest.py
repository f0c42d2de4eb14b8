import os

import pytest

from .harness import Browser, StudioServer, have_chromium


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    d = tmp_path / "gfdata"
    monkeypatch.setenv("GLIAFLOW_DATA_DIR", str(d))
    return d


@pytest.fixture
def browser():
    if not have_chromium():
        pytest.skip("Debian's chromium (/usr/bin/chromium) is not installed")
    pytest.importorskip("playwright", reason="playwright (test extra) is needed for browser tests")
    b = Browser()
    yield b
    b.close()
    foreign = b.foreign_requests()
    assert foreign == [], f"requests left 127.0.0.1: {foreign}"


@pytest.fixture
def server_factory(data_dir):
    servers = []

    def make(design=None):
        s = StudioServer(design)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


_ = os
