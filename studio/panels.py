"""Studio panels beside the canvas that run work of their own: gradient training (torch).

Each panel is a collapsible card owning its widgets and a worker thread; the studio's
periodic tick calls ``refresh()`` so results stream into the panel's plots while the work
runs, exactly as the live plots do for a simulation. A panel never blocks the session.
"""
from __future__ import annotations

import threading
import traceback
from typing import Any

import panel as pn
from bokeh.models import ColumnDataSource, Legend
from bokeh.plotting import figure

from engine.errors import DesignError


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


def _esc(s: Any) -> str:
    import html
    return html.escape(str(s))
