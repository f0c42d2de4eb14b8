"""Studio panels beside the canvas that run work of their own: gradient training (torch).

Each panel is a collapsible card owning its widgets and a worker thread; the studio's
periodic tick calls ``refresh()`` so results stream into the panel's plots while the work
runs, exactly as the live plots do for a simulation. A panel never blocks the session.
"""
from __future__ import annotations

import threading
import traceback

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, Legend
from bokeh.plotting import figure

from engine.errors import DesignError

from .util import esc as _esc


class _Stopped(Exception):
    """Raised from the epoch callback when the user stops training."""


def _epoch_fig(title: str, y_label: str, y_range=None):
    f = figure(title=title, height=200, sizing_mode="stretch_width", tools="pan,wheel_zoom,box_zoom,reset,save",
               toolbar_location="right", output_backend="canvas", **({"y_range": y_range} if y_range else {}))
    f.xaxis.axis_label = "epoch"
    f.yaxis.axis_label = y_label
    f.title.text_font_size = "11px"
    return f


class TrainPanel(pn.viewable.Viewer):
    """Surrogate-gradient training of the design (``engine.training.train``) from the studio.

    Loss and accuracy (train and held-out) stream in epoch by epoch; Stop ends training after
    the current epoch; "Apply learned parameters" replaces the design by the trained one (the
    learned intrinsics and weights; one undo step)."""

    GROUPS = ("readout", "weights", "intrinsics")

    def __init__(self, studio, **params):
        super().__init__(**params)
        self.studio = studio
        import importlib.util
        self.available = importlib.util.find_spec("torch") is not None
        self.epochs = pn.widgets.IntInput(label="epochs", value=10, start=1, end=10_000, width=90,
                                          css_classes=["gf-train-epochs"])
        self.lr = pn.widgets.FloatInput(label="learning rate", value=0.01, start=1e-6, end=10.0, step=0.001, width=110)
        self.learn = pn.widgets.CheckButtonGroup(label="learn", options=list(self.GROUPS),
                                                 value=["readout", "intrinsics"], color="primary",
                                                 variant="outline", css_classes=["gf-train-learn"])
        self.surrogate = pn.widgets.Select(label="surrogate", options=["fast_sigmoid", "arctan"], value="fast_sigmoid",
                                           width=130)
        self.slope = pn.widgets.FloatInput(label="slope", value=5.0, start=0.01, end=1000.0, width=80)
        self.device = pn.widgets.Select(label="device", options=self._devices(), value="cpu", width=90)
        self.start_button = pn.widgets.Button(label="Train", color="primary", width=90, css_classes=["gf-train-start"],
                                              disabled=not self.available)
        self.stop_button = pn.widgets.Button(label="Stop", width=70, disabled=True, css_classes=["gf-train-stop"])
        self.apply_button = pn.widgets.Button(label="Apply learned parameters", width=190, disabled=True,
                                              css_classes=["gf-train-apply"],
                                              description="replace the design by the trained one (one undo step)")
        self.status = pn.pane.HTML("" if self.available else "training needs torch (pip install torch)",
                                   styles={"font-size": "12px"}, margin=(4, 8), css_classes=["gf-train-status"])
        self.start_button.on_click(lambda e: self.start())
        self.stop_button.on_click(lambda e: self.stop())
        self.apply_button.on_click(lambda e: self.apply())
        self.src = ColumnDataSource({"epoch": [], "train_loss": [], "test_loss": [], "train_acc": [], "test_acc": []},
                                    name="gf-train-history")
        self.loss_fig = _epoch_fig("loss (cross-entropy)", "loss")
        self.acc_fig = _epoch_fig("accuracy", "accuracy")
        for fig, keys in ((self.loss_fig, ("train_loss", "test_loss")), (self.acc_fig, ("train_acc", "test_acc"))):
            items = []
            for k, color in zip(keys, ("#1976d2", "#e65100")):
                r = fig.line("epoch", k, source=self.src, color=color, line_width=2)
                fig.scatter("epoch", k, source=self.src, color=color, size=5)
                items.append((k.replace("_", " ").replace("test", "held-out"), [r]))
            fig.add_layout(Legend(items=items, location="top_right", label_text_font_size="10px"), "right")
        self.card = pn.Card(
            pn.Row(self.epochs, self.lr, self.surrogate, self.slope, self.device, sizing_mode="stretch_width"),
            pn.Row(pn.pane.HTML("<span style='font-size:12px'>learn</span>", margin=(12, 4, 0, 8)), self.learn,
                   self.start_button, self.stop_button, self.apply_button, sizing_mode="stretch_width"),
            self.status,
            pn.Row(pn.pane.Bokeh(self.loss_fig, sizing_mode="stretch_width"),
                   pn.pane.Bokeh(self.acc_fig, sizing_mode="stretch_width"), sizing_mode="stretch_width"),
            title="Train (surrogate gradients, torch)", collapsed=True, sizing_mode="stretch_width",
            css_classes=["gf-train-card"])
        self.thread: threading.Thread | None = None
        self.result = None
        self.error: str | None = None
        self._records: list[dict] = []
        self._shown = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._done = threading.Event()
        self._done.set()

    def __panel__(self):
        return self.card

    @staticmethod
    def _devices() -> list[str]:
        try:
            import torch
            return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        except ImportError:
            return ["cpu"]

    @property
    def running(self) -> bool:
        return not self._done.is_set()

    # --- work ------------------------------------------------------------------------------
    def start(self, *, block: bool = False) -> None:
        """Train a copy of the current design on a thread (``block``: wait for it, for tests)."""
        if self.running or not self.available:
            return
        design = self.studio.design.copy()
        kw = dict(epochs=int(self.epochs.value), lr=float(self.lr.value), surrogate=self.surrogate.value,
                  slope=float(self.slope.value), learn=tuple(self.learn.value) or ("readout",),
                  seed=int(design.meta.get("seed", 1)), device=self.device.value)
        with self._lock:
            self._records, self._shown = [], 0
        self.src.data = {k: [] for k in self.src.data}
        self.result, self.error = None, None
        self._stop.clear()
        self._done.clear()
        self.apply_button.disabled = True
        self.start_button.disabled, self.stop_button.disabled = True, False
        self.status.object = f"training {kw['epochs']} epochs (learning {', '.join(kw['learn'])}) …"
        self.thread = threading.Thread(target=self._work, args=(design, kw), daemon=True, name="gliaflow-train")
        self.thread.start()
        if block:
            self._done.wait()
            self.refresh()

    def _work(self, design, kw) -> None:
        from engine.training import train

        def on_epoch(rec):
            with self._lock:
                self._records.append(dict(rec))
            if self._stop.is_set():
                raise _Stopped()

        try:
            import inspect
            if "device" not in inspect.signature(train).parameters:
                kw.pop("device")
            self.result = train(design, on_epoch=on_epoch, **kw)
        except _Stopped:
            self.error = None
        except DesignError as e:
            self.error = str(e)
        except Exception as e:  # noqa: BLE001 - shown as a message, never a traceback in the page
            self.error = f"{type(e).__name__}: {e}"
            traceback.print_exc()
        finally:
            self._done.set()

    def stop(self) -> None:
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def apply(self) -> bool:
        """Replace the design by the trained one (one undo step)."""
        if self.result is None:
            return False
        self.studio.load(self.result.trained_design(), path=self.studio.path)
        self.studio._flash("learned parameters applied (undo with Ctrl+Z)", ok=True)
        return True

    # --- UI (session thread) ---------------------------------------------------------------
    def refresh(self) -> None:
        with self._lock:
            new = self._records[self._shown:]
            self._shown = len(self._records)
        if new:
            self.src.stream({k: [r.get(k) for r in new] for k in self.src.data})
            last = new[-1]
            self.status.object = (f"epoch {last['epoch']}: train loss {last['train_loss']:.4f}, accuracy "
                                  f"{last['train_acc']:.3f}; held-out loss {last['test_loss']:.4f}, accuracy "
                                  f"{last['test_acc']:.3f}" + (" …" if self.running else ""))
        if not self.running and self.stop_button.disabled is False:
            self.start_button.disabled, self.stop_button.disabled = not self.available, True
            if self.error:
                self.status.object = f"<span style='color:#c62828'>training failed: {_esc(self.error)}</span>"
            elif self.result is None:
                self.status.object = f"stopped after epoch {self._shown - 1}"
            else:
                s = self.result.summary()["final"]
                self.status.object = (f"done in {self.result.seconds:.1f} s: held-out accuracy {s['test_acc']:.3f} "
                                      f"(epoch 0: {self.result.history[0]['test_acc']:.3f})")
            self.apply_button.disabled = self.result is None



# ==========================================================================================
# the run catalog: recording studio runs, the Runs panel, the Sweep panel
# ==========================================================================================
def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _table_html(header: list[str], rows: list[list], css: str = "") -> str:
    th = "".join(f"<th style='text-align:left;padding:2px 8px'>{_esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td style='padding:1px 8px'>{_esc(_fmt(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table class='{css}' style='font-size:12px;border-collapse:collapse'><tr>{th}</tr>{body}</table>"


class RunsPanel(pn.viewable.Viewer):
    """The run catalog (``engine.catalog``): every studio run, ``gliaflow run --record`` and sweep
    point, newest first. Select rows to compare their measures, parameter differences and
    traces (overlaid on one time axis), open the design a run used, or remove runs."""

    def __init__(self, studio, **params):
        super().__init__(**params)
        self.studio = studio
        self._cat = None
        self.rows: list[dict] = []
        # a plain HTML table and a multi-select: Bokeh's DataTable fails to lay out inside a
        # collapsed card (and then takes the whole page's rendering down with it)
        self.table = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["gf-runs-table"],
                                  styles={"max-height": "260px", "overflow": "auto"})
        self.select = pn.widgets.MultiSelect(label="select runs", options={}, size=8, width=420,
                                             css_classes=["gf-runs-select"])
        self.refresh_button = pn.widgets.Button(label="Refresh", width=80, css_classes=["gf-runs-refresh"])
        self.compare_button = pn.widgets.Button(label="Compare selected", width=140, css_classes=["gf-runs-compare"])
        self.open_button = pn.widgets.Button(label="Open its design", width=130, css_classes=["gf-runs-open"])
        self.remove_button = pn.widgets.Button(label="Remove", width=80, css_classes=["gf-runs-remove"])
        self.trace_select = pn.widgets.Select(label="trace", options=[], width=260, css_classes=["gf-runs-trace"])
        self.info = pn.pane.HTML("", styles={"font-size": "12px"}, margin=(4, 8), css_classes=["gf-runs-info"])
        self.compare_pane = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["gf-runs-compare-out"])
        self.fig = figure(title="traces of the selected runs", height=220, sizing_mode="stretch_width",
                          tools="pan,wheel_zoom,box_zoom,reset,save", output_backend="canvas")
        self.fig.xaxis.axis_label = "time (ms)"
        self.fig.title.text_font_size = "11px"
        self._lines: list = []
        self.refresh_button.on_click(lambda e: self.reload())
        self.compare_button.on_click(lambda e: self.compare())
        self.open_button.on_click(lambda e: self.open_design())
        self.remove_button.on_click(lambda e: self.remove())
        self.trace_select.param.watch(lambda e: self._draw_traces(), "value")
        self._compared: list[int] = []
        self.card = pn.Card(
            pn.Row(self.refresh_button, self.compare_button, self.open_button, self.remove_button, self.info,
                   sizing_mode="stretch_width"),
            pn.Row(self.select, self.table, sizing_mode="stretch_width"), self.compare_pane,
            pn.Row(self.trace_select), pn.pane.Bokeh(self.fig, sizing_mode="stretch_width"),
            title="Runs (catalog)", collapsed=True, sizing_mode="stretch_width", css_classes=["gf-runs-card"])
        self.card.param.watch(lambda e: None if e.new else self.reload(), "collapsed")

    def __panel__(self):
        return self.card

    @property
    def catalog(self):
        if self._cat is None:
            from engine.catalog import Catalog
            self._cat = Catalog()
        return self._cat

    def reload(self) -> None:
        import datetime
        rows = self.catalog.runs(limit=500)
        self.rows = rows

        def meas(m):
            keys = [k for k in m if not k.startswith(("wall_s", "sim_ms"))][:6]
            return ", ".join(f"{k} {_fmt(m[k])}" for k in keys)
        when = lambda r: datetime.datetime.fromtimestamp(r["started"]).strftime("%Y-%m-%d %H:%M:%S")  # noqa: E731
        self.table.object = _table_html(
            ["run", "kind", "status", "design", "seed", "backend", "sim (ms)", "wall (s)", "started", "measures"],
            [[r["id"], r["kind"], r["status"], r["design_name"], r["seed"], r["backend"], r["sim_ms"],
              r["wall_s"], when(r), meas(r["measures"] or {})] for r in rows], "gf-runs-rows")
        self.select.options = {f"run {r['id']}: {r['design_name']} ({r['kind']}, {r['status']}, seed {r['seed']})":
                               r["id"] for r in rows}
        self.select.value = []
        self.info.object = f"{len(rows)} runs in {_esc(self.catalog.path)}"

    def selected_ids(self) -> list[int]:
        return list(self.select.value)

    def compare(self, ids: list[int] | None = None) -> dict | None:
        ids = ids or self.selected_ids()
        if len(ids) < 1:
            self.info.object = "select one or more runs to compare"
            return None
        c = self.catalog.compare(ids)
        head = ["", *[f"run {i}" for i in ids]]
        diff = [[k, *v] for k, v in c["params"].items()]
        meas = [[k, *v] for k, v in c["measures"].items()]
        self.compare_pane.object = (
            "<b style='font-size:12px'>parameters that differ</b>"
            + (_table_html(head, diff, "gf-runs-diff") if diff else "<div style='font-size:12px'>none</div>")
            + "<b style='font-size:12px'>measures</b>" + _table_html(head, meas, "gf-runs-measures"))
        self._compared = ids
        names = []
        for i in ids:
            for node, arrs in self.catalog.traces(i).items():
                names += [f"{node}/{k}" for k in arrs if k != "t_ms" and f"{node}/{k}" not in names]
        self.trace_select.options = names
        if names and self.trace_select.value not in names:
            self.trace_select.value = names[0]
        self._draw_traces()
        return c

    def _draw_traces(self) -> None:
        for r in self._lines:
            r.visible = False
        self._lines = []
        name = self.trace_select.value
        if not name or not self._compared:
            return
        node, key = name.split("/", 1)
        palette = ("#1976d2", "#e65100", "#2e7d32", "#6a1b9a", "#c62828", "#00838f", "#5d4037", "#455a64")
        for k, i in enumerate(self._compared):
            arrs = self.catalog.traces(i).get(node, {})
            if key not in arrs:
                continue
            t = arrs.get("t_ms", np.arange(len(arrs[key])))
            self._lines.append(self.fig.line(list(map(float, t)), list(map(float, arrs[key])), line_width=2,
                                             color=palette[k % len(palette)], legend_label=f"run {i}"))
        self.fig.title.text = f"{name} of runs {', '.join(map(str, self._compared))}"

    def open_design(self) -> bool:
        ids = self.selected_ids()
        if len(ids) != 1:
            self.info.object = "select one run to open its design"
            return False
        self.studio.load(self.catalog.design(ids[0]))
        self.studio._flash(f"opened the design of run {ids[0]} (undo with Ctrl+Z)", ok=True)
        return True

    def remove(self) -> int:
        ids = self.selected_ids()
        n = self.catalog.remove(ids) if ids else 0
        self.reload()
        self.info.object = f"removed {n} run(s)"
        return n


class SweepPanel(pn.viewable.Viewer):
    """The design's ``sweep`` on Dask (``engine.sweep``): a local cluster (processes, one
    thread each) or a scheduler address; points fill the table and the plot of each measure
    over the first swept parameter (mean ± sd over seeds, every seed as a dot) as they finish;
    Cancel keeps the finished points, and running again computes only the missing ones."""

    def __init__(self, studio, **params):
        super().__init__(**params)
        self.studio = studio
        self.workers = pn.widgets.IntInput(label="local workers", value=2, start=1, end=64, width=100)
        self.scheduler = pn.widgets.TextInput(label="or scheduler", placeholder="tcp://host:8786", width=200)
        self.start_button = pn.widgets.Button(label="Run sweep", color="primary", width=100,
                                              css_classes=["gf-sweep-start"])
        self.cancel_button = pn.widgets.Button(label="Cancel", width=80, disabled=True, css_classes=["gf-sweep-cancel"])
        self.progress = pn.indicators.Progress(value=0, max=1, width=200, bar_color="primary", margin=(14, 8))
        self.spec_pane = pn.pane.HTML("", styles={"font-size": "12px"}, margin=(4, 8), css_classes=["gf-sweep-spec"])
        self.status = pn.pane.HTML("", styles={"font-size": "12px"}, margin=(4, 8), css_classes=["gf-sweep-status"])
        self.table = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["gf-sweep-table"])
        self.plots = pn.Row(sizing_mode="stretch_width", css_classes=["gf-sweep-plots"])
        self.start_button.on_click(lambda e: self.start())
        self.cancel_button.on_click(lambda e: self.cancel())
        self.card = pn.Card(self.spec_pane,
                            pn.Row(self.workers, self.scheduler, self.start_button, self.cancel_button, self.progress,
                                   sizing_mode="stretch_width"),
                            self.status, self.plots, self.table, title="Sweep (Dask)", collapsed=True,
                            sizing_mode="stretch_width", css_classes=["gf-sweep-card"])
        self.card.param.watch(lambda e: None if e.new else self.describe(), "collapsed")
        self.sweep = None
        self.sweep_id: int | None = None
        self.error: str | None = None
        self._done_n = 0
        self._total = 0
        self._lock = threading.Lock()
        self._dirty = False
        self._finished = threading.Event()
        self._finished.set()
        self._figs: dict = {}
        self._srcs: dict = {}
        self.result = None
        self._shown_finish = True

    def __panel__(self):
        return self.card

    @property
    def running(self) -> bool:
        return not self._finished.is_set()

    def describe(self) -> None:
        sw = self.studio.design.doc.get("sweep")
        if not sw:
            self.spec_pane.object = ("This design has no sweep. A sweep is part of the design document: "
                                     "<code>\"sweep\": {\"params\": [{\"node\": \"astro\", \"param\": \"w_astro\", "
                                     "\"values\": [0, 0.01, 0.02]}], \"seeds\": [1, 2, 3], \"measures\": "
                                     "[\"readout.test_accuracy\"]}</code> (see gallery/nalsm_sweep.json).")
            self.start_button.disabled = True
            return
        self.start_button.disabled = self.running
        try:
            from engine.sweep import make_points, parse_sweep
            spec = parse_sweep(self.studio.design)
            pts = make_points(self.studio.design, spec)
        except DesignError as e:
            self.spec_pane.object = f"<span style='color:#c62828'>{_esc(e)}</span>"
            self.start_button.disabled = True
            return
        axes = "; ".join(f"{a.path}: {', '.join(_fmt(v) for v in a.grid())}" if spec.mode == "grid" else a.path
                         for a in spec.axes)
        self.spec_pane.object = (f"{spec.mode} over {_esc(axes)} × seeds {_esc(list(spec.seeds))} = <b>{len(pts)} "
                                 f"points</b>, {_fmt(spec.duration_ms)} ms each; measures: "
                                 f"{_esc(', '.join(spec.measures) or 'every summary value')}")

    def start(self, *, block: bool = False) -> None:
        if self.running:
            return
        self.error = None
        self._finished.clear()
        self._shown_finish = False
        self.start_button.disabled, self.cancel_button.disabled = True, False
        self.status.object = "starting the Dask cluster and checking the sweep …"
        design = self.studio.design.copy()
        sched = self.scheduler.value.strip() or None
        workers = None if sched else int(self.workers.value)
        th = threading.Thread(target=self._work, args=(design, sched, workers), daemon=True, name="gliaflow-sweep-ui")
        th.start()
        if block:
            self._finished.wait()
            self.refresh()

    def _work(self, design, sched, workers) -> None:
        from engine.sweep import Sweep

        def on_point(pr):
            with self._lock:
                self._dirty = True

        def progress(done, total):
            with self._lock:
                self._done_n, self._total = done, total
                self._dirty = True

        try:
            from engine.catalog import Catalog
            self.sweep = Sweep(design, catalog=Catalog(), scheduler=sched, workers=workers)
            with self._lock:
                self._total = len(self.sweep.points)
            res = self.sweep.run(on_point=on_point, progress=progress)
            self.sweep_id = res.sweep_id
            self.result = res
        except DesignError as e:
            self.error = str(e)
        except Exception as e:  # noqa: BLE001 - a message in the panel, never a traceback
            self.error = f"{type(e).__name__}: {e}"
            traceback.print_exc()
        finally:
            with self._lock:
                self._dirty = True
            self._finished.set()

    def cancel(self) -> None:
        if self.sweep is not None:
            self.sweep.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        return self._finished.wait(timeout)

    def refresh(self) -> None:
        with self._lock:
            dirty, self._dirty = self._dirty, False
            done, total = self._done_n, self._total
        if not dirty:
            return
        self.progress.max, self.progress.value = max(1, total), min(done, max(1, total))
        sid = self.sweep_id if self.sweep_id is not None else getattr(getattr(self.sweep, "result", None), "sweep_id",
                                                                        None)
        if sid is not None:
            self._draw(sid)
        if self.running:
            self.status.object = f"{done} of {total} points done …"
        elif not self._shown_finish:
            self._shown_finish = True
            self.start_button.disabled, self.cancel_button.disabled = False, True
            if self.error:
                self.status.object = f"<span style='color:#c62828'>sweep failed: {_esc(self.error)}</span>"
            else:
                r = self.result
                self.status.object = (f"sweep {r.sweep_id}: {r.computed} computed, {r.reused} reused, {r.failed} "
                                      f"failed{' (cancelled)' if r.cancelled else ''} in {r.wall_s:.1f} s")

    def _draw(self, sid: int) -> None:
        from engine.sweep_report import figure_data, sweep_rows
        params, names, rows = sweep_rows(self.sweep.catalog, sid)
        self.table.object = _table_html(["point", "seed", "status", *params, *names],
                                        [[r["idx"], r["seed"], r["status"], *[r.get(p) for p in params],
                                          *[r.get(m) for m in names]] for r in rows], "gf-sweep-rows")
        if not any(r["status"] == "done" for r in rows):
            return
        data = figure_data(self.sweep.catalog, sid, x=params[0])
        figs = []
        for m, d in data["measures"].items():
            if d["kind"] != "line":
                continue
            f = self._figs.get(m)
            if f is None:
                f = figure(title=f"{m} vs {data['x']}", height=220, width=380, tools="pan,wheel_zoom,box_zoom,reset,save",
                           output_backend="canvas")
                f.xaxis.axis_label, f.yaxis.axis_label = data["x"], m
                f.title.text_font_size = "11px"
                srcm = ColumnDataSource({"x": [], "mean": [], "lo": [], "hi": []})
                srcp = ColumnDataSource({"x": [], "y": []})
                f.segment("x", "lo", "x", "hi", source=srcm, color="#1976d2")
                f.line("x", "mean", source=srcm, color="#1976d2", line_width=2)
                f.scatter("x", "mean", source=srcm, color="#1976d2", size=7)
                f.scatter("x", "y", source=srcp, color="#e65100", size=4, alpha=0.6)
                self._srcs[m] = (srcm, srcp)
                self._figs[m] = f
            srcm, srcp = self._srcs[m]
            xs = [float(x) for x, mu in zip(d["x"], d["mean"]) if mu is not None]
            mus = [mu for mu in d["mean"] if mu is not None]
            sds = [sd or 0.0 for mu, sd in zip(d["mean"], d["std"]) if mu is not None]
            srcm.data = {"x": xs, "mean": mus, "lo": [a - b for a, b in zip(mus, sds)],
                         "hi": [a + b for a, b in zip(mus, sds)]}
            srcp.data = {"x": [float(v) for v in d["points"]["x"]], "y": d["points"]["y"]}
            figs.append(f)
        if [getattr(o, "object", None) for o in self.plots.objects] != figs:
            self.plots.objects = [pn.pane.Bokeh(f) for f in figs]
