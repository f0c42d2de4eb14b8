"""The studio's widgets in Jupyter: the whole studio, the canvas alone, and live plots of a
``Simulation`` built in Python.

>>> from studio.notebook import extension, Studio, live_plots, canvas
>>> extension()                            # once per notebook: loads Panel/Bokeh offline
>>> Studio("gallery/coba.json")            # the full studio in a cell
>>> canvas("gallery/coba.json")            # the canvas alone (editable; .design is the result)
>>> live = live_plots(sim)                 # plots of a Simulation; display `live` in one cell,
>>> sim.run(1000.0)                        # run in another: the plots stream while it runs
>>> live.run(1000.0)                       # or on a thread: the cell returns at once

Offline: every script and style comes from the Jupyter server. ``pip install gliaflow``
enables the ``studio.jupyter`` server extension (a config file under
``etc/jupyter/jupyter_server_config.d``), which sets ``BOKEH_RESOURCES=server`` for kernels
and loads panel-reactflow and panel-material-ui so that Panel's own server extension serves
their bundles; ``extension()`` then inlines the rest. No request leaves the machine.
"""
from __future__ import annotations

import threading

import panel as pn

from .app import Studio

__all__ = ["extension", "Studio", "live_plots", "canvas", "LiveView"]


def extension(**kw) -> None:
    """``pn.extension`` with what the studio needs, resources inlined (no CDN)."""
    import os

    # scripts and styles from the Jupyter server (Panel's server extension), never a CDN; the
    # studio.jupyter server extension sets this for the kernels it starts, this covers others
    os.environ.setdefault("BOKEH_RESOURCES", "server")
    import panel_material_ui  # noqa: F401 - registers its bundle
    import panel_reactflow  # noqa: F401,I001

    pn.extension("jsoneditor", inline=True, **kw)
    _local_links_on_send()


def _local_links_on_send() -> None:
    """Panel inlines its stylesheets only while a component is first displayed in a notebook;
    later updates (the plot cards of a run, re-sent properties) carry links to
    cdn.holoviz.org. Every message to the notebook passes through ``panel.io.notebook.send``:
    there the links are rewritten to the same files served by Panel's Jupyter server
    extension (``/panel-preview/static/extensions/panel/`` under ``GLIAFLOW_JUPYTER_BASE_URL``,
    default ``/``), so nothing is fetched from outside the machine."""
    import os

    import panel.io.notebook as nb
    from panel.io.resources import CDN_DIST

    if getattr(nb.send, "_gliaflow_local", False):
        return
    local = os.environ.get("GLIAFLOW_JUPYTER_BASE_URL", "/").rstrip("/") + "/panel-preview/static/extensions/panel/"
    orig = nb.send

    def send(comm, msg):
        content = msg.content_json
        if CDN_DIST in content:
            msg._content_json = content.replace(CDN_DIST, local)
        return orig(comm, msg)

    send._gliaflow_local = True
    nb.send = send


class LiveView(pn.viewable.Viewer):
    """Live plots of a Simulation created in Python (rasters, rates, traces, weights, every
    monitor's declared views). ``run(ms)`` runs it on a thread so the cell returns at once
    and the plots stream; ``wait()`` blocks until that run ends."""

    def __init__(self, sim, refresh_ms: int = 200, **params):
        super().__init__(**params)
        from .plots import LivePlots

        self.sim = sim
        self.plots = LivePlots()
        self.plots.attach(sim)
        self._lock = threading.Lock()
        self._unsub = sim.subscribe(self._on_chunk)
        self._thread: threading.Thread | None = None
        self._refresh_s = refresh_ms / 1000.0
        self._last_refresh = 0.0
        self.error: BaseException | None = None
        self.status = pn.pane.Markdown(self._status(), margin=(2, 8))
        self._cb = pn.state.add_periodic_callback(self._refresh, period=refresh_ms)

    def __panel__(self):
        return pn.Column(self.status, self.plots.follow, self.plots, sizing_mode="stretch_width")

    def _on_chunk(self, chunk, sim) -> None:
        with self._lock:
            self.plots.push(chunk, sim)
        # `sim.run(...)` called in a cell runs on the kernel's thread, which then cannot serve
        # the periodic refresh: refresh from here (at most every refresh interval) so the plots
        # still stream while that cell runs
        if threading.current_thread() is threading.main_thread():
            import time
            now = time.monotonic()
            if now - self._last_refresh >= self._refresh_s:
                self._refresh()

    def _status(self) -> str:
        s = self.sim
        rtf = s.wall_s / (s.t_ms * 1e-3) if s.t_ms > 0 else 0.0
        state = "running" if self.running else "paused"
        return f"t = {s.t_ms:.1f} ms · wall {s.wall_s:.2f} s · realtime factor {rtf:.3f} · {state}"

    def _refresh(self) -> None:
        import time

        from panel.io import hold
        self._last_refresh = time.monotonic()
        with self._lock, hold():
            self.plots.refresh()
            self.status.object = self._status()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self, duration_ms: float | None = None) -> "LiveView":
        """Run ``duration_ms`` more on a background thread (returns at once)."""
        if self.running:
            raise RuntimeError("the simulation is already running: call wait() or pause() first")

        def work():
            try:
                self.sim.run(duration_ms)
            except BaseException as e:  # noqa: BLE001 - kept for the user, shown by wait()
                self.error = e

        self.error = None
        self._thread = threading.Thread(target=work, daemon=True, name="gliaflow-notebook-run")
        self._thread.start()
        return self

    def pause(self) -> None:
        self.sim.pause()

    def wait(self, timeout: float | None = None) -> "LiveView":
        if self._thread is not None:
            self._thread.join(timeout)
        self._refresh()
        if self.error is not None:
            e, self.error = self.error, None
            raise e
        return self

    def close(self) -> None:
        self.pause()
        self.wait(5.0)
        self._unsub()
        if self._cb is not None:
            self._cb.stop()


def live_plots(sim, refresh_ms: int = 200) -> LiveView:
    """Live plots attached to ``sim`` (a :class:`engine.Simulation`)."""
    return LiveView(sim, refresh_ms=refresh_ms)


def canvas(design=None):
    """The canvas alone, with its palette and inspector hidden: a Studio whose layout is the
    canvas. Edits go to ``.design`` as in the full studio."""
    s = Studio(design, recovery=False)
    return s.canvas_view()
