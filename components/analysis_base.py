"""Shared machinery of the analysis monitors: windows of binned spikes, bounded traces,
work off the simulation thread.

An analysis monitor records the spikes of its source in the kernel like ``monitor.spikes``
does, but keeps none of them: after each chunk it folds them into the current window's
counts (bins of ``bin_ms``), and each time a window of ``window_ms`` completes it computes
its measures (``engine.analysis``) and appends one point to each of its traces. Memory is
one window of counts plus at most ``max_points`` points per trace, whatever the run
length; results depend only on the spikes and the window grid, not on chunk sizes or
pauses. The measures are the same functions notebooks call on recorded data.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable, ClassVar

import numpy as np
from numba import njit

from engine import rng
from engine.errors import DesignError, Problem
from engine.params import Int, Num
from engine.registry import NodeType, Port


class Traces:
    """Named traces of (t_ms, value) with at most ``max_points`` points each (newest kept)."""

    def __init__(self, names, max_points: int):
        self.names = tuple(names)
        self.t = deque(maxlen=max_points)
        self.v = {k: deque(maxlen=max_points) for k in self.names}
        self.new: list[tuple[float, dict]] = []
        self.last: dict[str, float] = {}
        self.lock = threading.Lock()

    def add(self, t_ms: float, values: dict) -> None:
        with self.lock:
            self.t.append(float(t_ms))
            for k in self.names:
                x = float(values.get(k, np.nan))
                self.v[k].append(x)
                self.last[k] = x
            self.new.append((float(t_ms), values))

    def take_new(self) -> dict:
        """The points added since the last call, as view payloads ``{name: {"t_ms", "y"}}``."""
        with self.lock:
            new, self.new = self.new, []
        if not new:
            return {}
        t = np.array([p[0] for p in new])
        return {k: {"t_ms": t, "y": np.array([float(p[1].get(k, np.nan)) for p in new])} for k in self.names}

    def arrays(self) -> dict[str, np.ndarray]:
        with self.lock:
            out = {"t_ms": np.array(self.t, float)}
            out.update({k: np.array(self.v[k], float) for k in self.names})
        return out

    def final(self) -> dict:
        with self.lock:
            return {"points": len(self.t), **{k: (None if not np.isfinite(v) else v) for k, v in self.last.items()}}


class SpikeWindows:
    """Bins the spikes of one source into windows; calls ``on_window(counts, events, t_end_ms)``.

    A window of ``window_ms`` closes every ``stride_ms`` (default: the window itself, so
    windows tile the run); with a shorter stride the windows slide, and the first ones grow
    from one stride to the full window (so values come from the first stride on; the measure
    sees how many bins it got). ``counts`` is (bins in this window, neurons kept) int32, rows
    in time order, valid only during the call; ``events`` the window's raw ``(t_ms, column)``
    spikes of the kept neurons. Neurons beyond ``max_neurons`` are left out by a fixed random
    subset (seeded by the node), said in ``kept``. Memory: one window of counts and events.
    ``total=True``: ``counts`` has one column, the kept neurons' summed count per bin (for
    measures of the population activity only: no bins × neurons matrix is kept or copied);
    ``events=False``: ``events`` is None (measures that only read counts).
    """

    def __init__(self, n_src: int, dt: float, bin_ms: float, window_ms: float, max_neurons: int, key: int,
                 on_window: Callable[[np.ndarray, tuple, float], None], stride_ms: float | None = None,
                 total: bool = False, events: bool = True):
        self.dt = dt
        self.bin_steps = max(1, int(round(bin_ms / dt)))
        self.bins = max(1, int(round(window_ms / (self.bin_steps * dt))))
        self.win_steps = self.bins * self.bin_steps
        stride_bins = self.bins if not stride_ms else max(1, int(round(stride_ms / (self.bin_steps * dt))))
        if stride_bins > self.bins or self.bins % stride_bins:
            raise ValueError(f"the window ({self.bins} bins) is not a whole number of strides ({stride_bins} bins)")
        self.stride_bins = stride_bins
        self.stride_steps = stride_bins * self.bin_steps
        self.per_window = self.bins // stride_bins  # strides per window
        if n_src > max_neurons:
            order = np.argsort(rng.uniform_np(key, 0, np.arange(n_src)), kind="stable")
            kept = np.sort(order[:max_neurons])
        else:
            kept = np.arange(n_src)
        self.kept = kept
        self.col = np.full(max(n_src, 1), -1, np.int64)  # neuron -> index among the kept (-1: left out)
        self.col[kept] = np.arange(len(kept))
        self.total = bool(total)
        self.keep_events = bool(events)
        self.ring = np.zeros((self.bins, 1 if total else len(kept)), np.int32)  # row = absolute bin % bins
        self.ev: deque = deque(maxlen=self.per_window)  # (t_ms, cols) of the strides in the window
        self.ev_t: list[np.ndarray] = []
        self.ev_i: list[np.ndarray] = []
        self.w = 0  # index of the current stride
        self.on_window = on_window

    def _close(self) -> None:
        s = self.w
        t_end_ms = (s + 1) * self.stride_steps * self.dt
        if self.keep_events:
            self.ev.append((np.concatenate(self.ev_t) if self.ev_t else np.zeros(0),
                            np.concatenate(self.ev_i) if self.ev_i else np.zeros(0, np.int64)))
        nb = min(s + 1, self.per_window) * self.stride_bins
        b1 = (s + 1) * self.stride_bins  # absolute bins [b1 - nb, b1) are in this window
        if self.per_window == 1:
            counts = self.ring
        else:
            counts = self.ring[np.arange(b1 - nb, b1) % self.bins]
        if not self.keep_events:
            ev = None
        elif len(self.ev) > 1:
            ev = (np.concatenate([e[0] for e in self.ev]), np.concatenate([e[1] for e in self.ev]))
        else:
            ev = self.ev[0]
        self.on_window(counts, ev, t_end_ms)  # measures use counts at once or copy them
        nxt = np.arange(b1, b1 + self.stride_bins) % self.bins  # the next stride's rows start empty
        if self.per_window == 1:
            self.ring.fill(0)
        else:
            self.ring[nxt] = 0
        self.ev_t, self.ev_i = [], []
        self.w += 1

    def add(self, t_ms: np.ndarray, i: np.ndarray, t_end_ms: float) -> None:
        steps, cols = _kept_steps(np.asarray(t_ms, np.float64), np.asarray(i, np.int64), self.col, self.dt)
        pos = 0
        while pos < len(steps):
            w = steps[pos] // self.stride_steps
            while self.w < w:
                self._close()
            end = _scatter_stride(self.ring, steps, cols, pos, (w + 1) * self.stride_steps, self.bin_steps,
                                  self.total)
            if self.keep_events:
                self.ev_t.append(steps[pos:end] * self.dt)
                self.ev_i.append(cols[pos:end])
            pos = end
        end_step = int(round(t_end_ms / self.dt))
        while (self.w + 1) * self.stride_steps <= end_step:
            self._close()


@njit(cache=True, nogil=True)
def _kept_steps(t_ms, i, col, dt):  # pragma: no cover - compiled
    """(time step, column) of the spikes of kept neurons, in the given (time) order."""
    n = 0
    for k in range(i.shape[0]):
        n += col[i[k]] >= 0
    steps = np.empty(n, np.int64)
    cols = np.empty(n, np.int64)
    m = 0
    for k in range(i.shape[0]):
        c = col[i[k]]
        if c >= 0:
            steps[m] = np.int64(np.rint(t_ms[k] / dt))
            cols[m] = c
            m += 1
    return steps, cols


@njit(cache=True, nogil=True)
def _scatter_stride(ring, steps, cols, pos, stop_step, bin_steps, total):  # pragma: no cover - compiled
    """Adds spikes from ``pos`` on, up to the first at or after ``stop_step``, to the ring of
    bins (one summed column if ``total``); returns the index where it stopped."""
    nb = ring.shape[0]
    k = pos
    while k < steps.shape[0] and steps[k] < stop_step:
        ring[(steps[k] // bin_steps) % nb, 0 if total else cols[k]] += 1
        k += 1
    return k


class Worker:
    """Expensive measures off the simulation thread (numpy's LAPACK releases the GIL), one
    job at a time on daemon threads (a job waits for the one before it): ``submit`` never
    blocks the simulation; ``ready()`` hands back finished results in submission order."""

    def __init__(self):
        self.jobs: list[list] = []  # [tag, thread, result box]

    def in_flight(self) -> int:
        """Jobs running or waiting to run."""
        return sum(th.is_alive() for _, th, _ in self.jobs)

    def submit(self, tag, fn, *args) -> None:
        box: dict = {}
        prev = self.jobs[-1][1] if self.jobs else None

        def work():
            if prev is not None:
                prev.join()
            try:
                box["value"] = fn(*args)
            except Exception as e:  # noqa: BLE001 - reported as NaN with the reason kept
                box["value"], box["error"] = float("nan"), f"{type(e).__name__}: {e}"

        th = threading.Thread(target=work, daemon=True, name="gliaflow-analysis")
        self.jobs.append([tag, th, box])
        th.start()

    def ready(self, wait: bool = False) -> list[tuple[Any, Any]]:
        out = []
        while self.jobs:
            tag, th, box = self.jobs[0]
            if wait:
                th.join()
            elif th.is_alive():
                break
            self.jobs.pop(0)
            out.append((tag, box.get("value", float("nan"))))
        return out

    def close(self) -> None:
        self.jobs = []


class AnalysisQueue:
    """One analysis thread per simulation: window measures run beside the kernel (which
    releases the GIL) instead of after it, in submission order. At most ``maxsize`` windows
    wait; beyond that the simulation thread waits (bounded memory: analysis that cannot
    keep up slows the run rather than piling up). An exception in a measure is raised at
    the next ``wait()`` (end of run, summary), never lost."""

    KEY = "__gliaflow_analysis_queue__"

    def __init__(self, maxsize: int = 32):
        import queue
        # (while a simulation runs, its GIL switch interval is short: engine.simulation._GilHandoff)
        self.q = queue.Queue(maxsize=maxsize)
        self.error: BaseException | None = None
        self.th = threading.Thread(target=self._loop, daemon=True, name="gliaflow-analysis-queue")
        self.th.start()

    @classmethod
    def of(cls, sim) -> "AnalysisQueue":
        return sim.node_state(cls.KEY, cls)

    def _loop(self) -> None:
        while True:
            item = self.q.get()
            try:
                if item is None:
                    return
                fn, args = item
                if self.error is None:
                    fn(*args)
            except BaseException as e:  # noqa: BLE001 - re-raised by wait()
                self.error = e
            finally:
                self.q.task_done()

    def submit(self, fn, *args) -> None:
        self.q.put((fn, args))

    def wait(self) -> None:
        self.q.join()
        if self.error is not None:
            e, self.error = self.error, None
            raise e

    def close(self) -> None:
        self.q.put(None)


class SpikeAnalysisMonitor(NodeType):
    """Base of the monitors that analyse a spike source window by window (not registered)."""

    #: its analyses run beside the kernel: the run keeps BLAS on one thread (engine.shared_setting)
    blas_one_thread: ClassVar[bool] = True

    ports = (Port("spikes", "in", "spikes", required=True, doc="spikes of the population to analyse"),)
    #: names of the traces this monitor produces (each also a "trace" view unless listed in views)
    traces: ClassVar[tuple[str, ...]] = ()

    bin_ms = Num(1.0, bounds=(0, None), inclusive=(False, True), live=False, doc="bin width")
    window_ms = Num(100.0, bounds=(0, None), inclusive=(False, True), live=False,
                    doc="analysis window: one value per trace per window")
    max_neurons = Int(4000, bounds=(1, None), live=False,
                      doc="analyse at most this many neurons (a fixed random subset beyond)")
    max_points = Int(100_000, bounds=(1, None), live=False, doc="points kept per trace (oldest dropped beyond)")

    @classmethod
    def build(cls, node, b) -> None:
        from .monitor_spikes import record_spikes

        src = record_spikes(node, b, keep=False)
        n_src = b.graph.size(src.id)
        nid = node.id
        if float(node.values["window_ms"]) < float(node.values["bin_ms"]):
            raise DesignError(Problem("error", "param.window", "window_ms is shorter than bin_ms",
                                      "make window_ms a multiple of bin_ms", node=nid, param="window_ms"))
        stride = float(node.values.get("stride_ms", 0.0))
        if stride:
            bin_ms, win_ms = float(node.values["bin_ms"]), float(node.values["window_ms"])
            k, r = divmod(win_ms, stride)
            q, r2 = divmod(stride, bin_ms)
            if stride > win_ms or min(r, stride - r) > 1e-9 * win_ms or min(r2, bin_ms - r2) > 1e-9 * stride:
                raise DesignError(Problem("error", "param.stride", f"stride_ms {stride:g} must be a whole number of "
                                          f"bins ({bin_ms:g} ms) and divide window_ms {win_ms:g}",
                                          "set stride_ms to a divisor of window_ms that is a multiple of bin_ms "
                                          "(or 0 for tiling windows)", node=nid, param="stride_ms"))
        b.node_info[nid].update(source=src.id, n_src=n_src)
        cls.build_extra(node, b)

    @classmethod
    def build_extra(cls, node, b) -> None:
        """Further declarations of a subclass (e.g. connectivity it reads)."""

    # --- run state ----------------------------------------------------------------------
    @classmethod
    def new_state(cls, node, sim) -> Any:
        info = sim.plan.node_info[node.id]
        v = node.values
        state = _State(Traces(cls.traces, int(v["max_points"])))
        key = rng.node_key(sim.seed, node.id, "neuron-subset")

        aq = AnalysisQueue.of(sim)

        def on_window(counts, events, t_end_ms):  # on the analysis thread, before the buffer is reused
            vals = cls.measure(node, sim, state, counts, events, t_end_ms)
            if vals is not None:
                state.traces.add(t_end_ms, vals)

        total, events = cls.layout(node, sim)
        state.windows = SpikeWindows(info["n_src"], sim.dt, float(v["bin_ms"]), float(v["window_ms"]),
                                     int(v["max_neurons"]), key, on_window, float(v.get("stride_ms", 0.0)) or None,
                                     total=total, events=events)
        state.queue = aq
        return state

    @classmethod
    def layout(cls, node, sim) -> tuple[bool, bool]:
        """``(total, events)`` for :class:`SpikeWindows`: whether ``measure`` needs only the
        population's summed counts, and whether it reads the window's events."""
        return False, True

    @classmethod
    def measure(cls, node, sim, state, counts: np.ndarray, events: tuple, t_end_ms: float) -> dict | None:
        """One window's values ``{trace: value}`` (on the analysis thread); every subclass defines it."""
        raise NotImplementedError(f"{cls.type_key} defines no measure()")

    @classmethod
    def state(cls, node, sim):
        return sim.node_state(node.id, lambda: cls.new_state(node, sim))

    @classmethod
    def stream(cls, node, sim, chunk) -> dict:
        """Hands the chunk's spikes (fresh arrays, never reused) to the analysis thread,
        which bins them and measures every window they complete; the simulation thread only
        takes the points finished so far."""
        st = cls.state(node, sim)
        d = chunk.spikes.get(node.id)
        t_ms, i = (d["t_ms"], d["i"]) if d is not None else (np.zeros(0), np.zeros(0, np.int64))
        st.queue.submit(cls.fold, node, sim, st, t_ms, i, chunk.t_end_ms)
        return st.traces.take_new()

    @classmethod
    def fold(cls, node, sim, state, t_ms, i, t_end_ms) -> None:
        """On the analysis thread: bin one chunk's spikes (measuring completed windows)."""
        state.windows.add(t_ms, i, t_end_ms)
        cls.after_chunk(node, sim, state, t_end_ms)

    @classmethod
    def after_chunk(cls, node, sim, state, t_end_ms) -> None:
        """Hook (on the analysis thread) after a chunk's spikes are folded in."""

    @classmethod
    def final(cls, node, sim) -> dict:
        st = cls.settled(node, sim)
        return {"source": sim.plan.node_info[node.id]["source"], "neurons": int(len(st.windows.kept)),
                **st.traces.final()}

    @classmethod
    def settled(cls, node, sim):
        """The run state once every window handed out so far has been measured."""
        st = cls.state(node, sim)
        AnalysisQueue.of(sim).wait()
        cls.finish(node, sim, st)
        return st

    @classmethod
    def finish(cls, node, sim, state) -> None:
        """Wait for work in flight (headless runs report every window)."""

    @classmethod
    def flush(cls, node, sim) -> dict:
        """At the end of a run: wait for work in flight and return what it streams."""
        return cls.settled(node, sim).traces.take_new()

    @classmethod
    def arrays(cls, node, sim) -> dict:
        return cls.settled(node, sim).traces.arrays()


class SlidingAnalysisMonitor(SpikeAnalysisMonitor):
    """A window monitor that can also slide its window (not registered)."""

    stride_ms = Num(0.0, bounds=(0, None), live=False,
                    doc="one value per trace every stride_ms over the last window_ms (sliding windows; the first "
                        "ones grow to the full window); 0: one value per window, windows tiling the run")


class _State:
    def __init__(self, traces: Traces):
        self.traces = traces
        self.windows: SpikeWindows | None = None
        self.queue: AnalysisQueue | None = None
        self.extra: dict[str, Any] = {}
        self.worker: Worker | None = None

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()


def trace_views(names_titles: list[tuple[str, str, str]]) -> tuple[dict, ...]:
    """``[(name, title, y_label)] -> views`` of kind trace."""
    return tuple({"kind": "trace", "name": n, "title": t, "y_label": y} for n, t, y in names_titles)
