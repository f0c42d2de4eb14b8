"""Real-browser harness: an in-process studio server and Debian's Chromium driven by Playwright.

The server runs in a thread of the test process, so tests can look at the Studio objects
behind each browser session as well as at the page. Chromium is the system's
``/usr/bin/chromium`` (Playwright's own browser download is not used), started headless
with a fresh profile and background networking off; every request the page makes is
recorded so tests can assert that nothing leaves 127.0.0.1.
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
import uuid

import panel as pn

CHROMIUM = os.environ.get("GLIAFLOW_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def have_chromium() -> bool:
    return shutil.which(CHROMIUM) is not None or os.path.exists(CHROMIUM)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class StudioServer:
    """``pn.serve`` in a thread; ``studios`` lists the Studio of every session, newest last."""

    def __init__(self, design=None):
        from studio import Studio

        self.studios: list = []
        self.port = free_port()
        sid = uuid.uuid4().hex

        def app():
            s = Studio(design)
            self.studios.append(s)
            return s

        self.thread = pn.serve({"/": app}, port=self.port, address="127.0.0.1", threaded=True, show=False, server_id=sid,
                 websocket_origin=[f"127.0.0.1:{self.port}"], title="gliaflow studio",
                 websocket_max_message_size=64 * 1024 * 1024)
        t0 = time.time()
        while sid not in pn.state._servers:
            if time.time() - t0 > 20:
                raise RuntimeError("studio server did not start")
            time.sleep(0.05)
        self.server = pn.state._servers[sid][0]
        self.url = f"http://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        for s in self.studios:
            try:
                s.pause(wait=True)
            except Exception:
                pass
        try:
            self.server.stop()
        except Exception:
            pass
        # stop the server's event loop too, or its (non-daemon) thread keeps pytest from exiting
        try:
            self.thread.stop()
            self.thread.join(10)
        except Exception:
            pass


class Browser:
    """A headless Chromium with a fresh profile that records every request."""

    def __init__(self, viewport=(1500, 1000)):
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self.profile = tempfile.mkdtemp(prefix="gf-chromium-")
        self.downloads = tempfile.mkdtemp(prefix="gf-downloads-")
        self.ctx = self._pw.chromium.launch_persistent_context(
            self.profile, executable_path=CHROMIUM, headless=True, args=ARGS, accept_downloads=True,
            viewport={"width": viewport[0], "height": viewport[1]})
        self.requests: list[str] = []
        self.console: list[str] = []
        self.ctx.on("request", lambda r: self.requests.append(r.url))

    def page(self, url: str):
        page = self.ctx.new_page()
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_selector(".react-flow__renderer", timeout=30000)
        return page

    def foreign_requests(self) -> list[str]:
        ok = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:http://127.0.0.1", "about:")
        return [u for u in self.requests if not u.startswith(ok)]

    def close(self) -> None:
        try:
            self.ctx.close()
        finally:
            self._pw.stop()
            shutil.rmtree(self.profile, ignore_errors=True)


def wait_until(fn, timeout: float = 10.0, interval: float = 0.05, message: str = ""):
    t0 = time.time()
    last = None
    while time.time() - t0 < timeout:
        try:
            v = fn()
            if v:
                return v
        except AssertionError as e:  # keep trying
            last = e
        time.sleep(interval)
    raise AssertionError(message or f"condition not met in {timeout} s" + (f": {last}" if last else ""))
