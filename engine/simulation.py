"""The run loop: a compiled plan advanced chunk by chunk, with subscribers and live edits.

``Simulation(design).run(1000)`` runs 1 s of biological time. The kernel runs many steps
per call; after each call the recorders are drained, and after each chunk (``chunk_ms``)
subscribers receive a :class:`Chunk` with that chunk's recorded data. ``pause()`` (from
any thread) stops at the next call boundary; ``set_param`` applies live edits at the next
chunk without recompiling. Results never depend on chunk size, pauses or edit timing
(counter-based randomness), only on the design, seed and backend.
"""
from __future__ import annotations

import math
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .design import Design, load_design
from .errors import DesignError, DivergenceError, Problem
from .params import check_value, meta
from .shared_setting import ONE_BLAS_THREAD, SharedSetting
from .plan import make_plan
from .recorders import RowStore, SpikeStore
from .validate import build_graph


@dataclass
class Chunk:
    """What one chunk recorded. Times in ms; spike arrays are expanded (one entry per spike)."""

    t_start_ms: float
    t_end_ms: float
    wall_s: float
    spikes: dict[str, dict] = field(default_factory=dict)  # monitor id -> {source, t_ms, i}
    states: dict[str, dict] = field(default_factory=dict)  # monitor id -> {t_ms, values: {var: (rows, k)}}
    weights: dict[str, list] = field(default_factory=dict)  # monitor id -> [(t_ms, w)]
    counts: dict[str, int] = field(default_factory=dict)  # spiking node -> spikes in this chunk
    streams: dict[str, dict] = field(default_factory=dict)  # monitor id -> {view name: payload}


def _expand(t, i, c):
    if c is None:
        return t, i
    return np.repeat(t, c), np.repeat(i, c)


def _short_switch_interval(interval: float = 5e-4) -> float:
    saved = sys.getswitchinterval()
    if saved > interval:
        sys.setswitchinterval(interval)
    return saved


# A short GIL switch interval (0.5 ms instead of CPython's 5 ms) while any simulation runs,
# restored when the last run ends (several sessions of the studio run at once). The kernel
# releases the GIL; coming back from each kernel call needs it again, and another thread
# running Python (the studio's server refreshing plots, an analysis thread, a notebook) would
# otherwise keep it for up to 5 ms per call: measured, that alone made the kernel calls 25 %
# slower beside an analysis thread.
_GIL_HANDOFF = SharedSetting(_short_switch_interval, sys.setswitchinterval)


class Simulation:
    """A design compiled for one backend, ready to run, pause, edit and reset."""

    def __init__(self, design, *, backend: str | None = None, seed: int | None = None,
                 dt_ms: float | None = None, chunk_ms: float = 100.0, device: str | None = None,
                 dtype=None, trials: int = 1):
        self.design: Design = load_design(design).copy()
        m = self.design.meta
        if seed is not None:
            m["seed"] = int(seed)
        if dt_ms is not None:
            m["dt_ms"] = float(dt_ms)
        self.backend = backend or m.get("backend", "numba")
        if self.backend not in ("numba", "torch"):
            raise DesignError(Problem("error", "meta.backend", f"backend '{self.backend}' is not available",
                                      "use backend 'numba' or 'torch'", param="backend"))
        # torch only: device ("cpu", "cuda"), float dtype ("float64" reference, "float32") and
        # batched trials (trial 0 is what spikes()/monitors see; see engine/backends/torch_backend.py)
        self.device, self.dtype, self.trials = device, dtype, int(trials)
        if self.backend == "numba" and (device not in (None, "cpu") or dtype not in (None, "float64")
                                        or self.trials != 1):
            raise DesignError(Problem("error", "meta.backend", "device, dtype and trials apply to backend 'torch'",
                                      "use backend 'torch' (or leave them at their defaults)", param="backend"))
        self.chunk_ms = float(chunk_ms)
        # longest single kernel call (ms of simulated time) inside a chunk; None: the whole
        # chunk. A pause is honoured at a call boundary, so the studio keeps calls short.
        self.call_ms: float | None = None
        self._subscribers: list[Callable[[Chunk, "Simulation"], Any]] = []
        self._stop = threading.Event()
        self._lock = threading.RLock()
        self._edits: list[tuple[str, str, Any]] = []
        self.running = False
        self.interrupted = False
        self._build()

    # --- construction ------------------------------------------------------------------
    def _build(self) -> None:
        from .backends.numba_backend import NumbaRunner

        self.graph = build_graph(self.design)
        self.warnings: list[Problem] = getattr(self.graph, "warnings", [])
        self.dt = self.graph.dt_ms
        self.seed = self.graph.seed
        t0 = time.perf_counter()
        self.plan = make_plan(self.graph)
        self.build_s = time.perf_counter() - t0
        if self.backend == "torch":
            self.runner = _torch_runner(self.plan, self.device, self.dtype, self.trials)
        else:
            self.runner = NumbaRunner(self.plan)
        self.compile_s = self.runner.compile_s
        self.t_step = 0
        self.wall_s = 0.0
        self.kernel_s = 0.0  # of wall_s, the time spent inside compiled chunk calls
        self.last_loop_s = 0.0  # the last run() call's loop, chunk hand-ins included (see run)
        self.pending_reset: set[str] = set()
        self._stores: dict[str, Any] = {}
        self._weight_snaps: dict[str, Any] = {}
        # newest full snapshot per weights recorder, kept across resets: unchanged weights are
        # handed out again instead of copied (compared by value, so always the current weights)
        self._last_full: dict[str, np.ndarray] = getattr(self, "_last_full", {})
        # per-node state of Python-side monitors (analysis windows, running statistics);
        # a type creates its own with ``sim.node_state(node_id, factory)``
        old_states = getattr(self, "_node_state", {})
        for st in old_states.values():
            close = getattr(st, "close", None)
            if close is not None:
                close()
        self._node_state: dict[str, Any] = {}
        for r in self.plan.recorders:
            if r.kind == "spikes" and not r.info.get("keep", True):
                continue  # streamed to the node's own analysis each chunk, not kept
            if r.kind == "spikes":
                v = self.graph.nodes[r.node].values
                self._stores[r.node] = SpikeStore(v["max_events"], r.info["multi"], v.get("spill_dir", ""), r.node)
            elif r.kind == "state":
                v = self.graph.nodes[r.node].values
                self._stores[r.node] = RowStore(v["max_samples"], len(r.info["neurons"]) * len(r.info["variables"]))
            elif r.kind == "weights":
                from collections import deque
                self._weight_snaps[r.node] = deque(maxlen=r.info["max_snapshots"])
        self._counts_at = {k: 0 for k in self.plan.spike_sources}
        self._snapshot_weights(force=True)

    # --- subscribers ---------------------------------------------------------------------
    def subscribe(self, fn: Callable[[Chunk, "Simulation"], Any]) -> Callable[[], None]:
        """Call ``fn(chunk, sim)`` after every chunk; returns a function that unsubscribes."""
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn) if fn in self._subscribers else None

    # --- time ------------------------------------------------------------------------------
    @property
    def t_ms(self) -> float:
        return self.t_step * self.dt

    def steps_for(self, ms: float) -> int:
        return int(round(ms / self.dt))

    # --- running ---------------------------------------------------------------------------
    def run(self, duration_ms: float | None = None, *, progress: Callable[[float, float], Any] | None = None,
            realtime_factor: float | None = None, clear_stop: bool = True) -> "Simulation":
        """Advance by ``duration_ms`` (default: the design's duration) unless paused first.

        ``realtime_factor`` throttles the run to at most that many wall seconds per
        simulated second (the studio's speed control); ``None`` runs as fast as possible.
        ``clear_stop=False`` keeps a pause requested before the call (the studio's handoff).
        """
        if duration_ms is None:
            duration_ms = float(self.design.meta.get("duration_ms", 1000.0))
        if self.pending_reset:
            self.reset()
        target = self.t_step + self.steps_for(duration_ms)
        if clear_stop:
            self._stop.clear()
        self.running = True
        self.interrupted = False
        start_step = self.t_step
        t_run0 = time.perf_counter()
        _GIL_HANDOFF.__enter__()  # both left in the finally below, by this thread
        blas = ONE_BLAS_THREAD if any(getattr(n.type, "blas_one_thread", False) for n in self.graph.nodes.values()) \
            else None
        if blas is not None:
            blas.__enter__()
        try:
            while self.t_step < target and not self._stop.is_set():
                self._apply_edits()
                chunk = max(1, self.steps_for(self.chunk_ms))
                c_end = min(target, self.t_step + chunk)
                w0 = time.perf_counter()
                t_c0 = self.t_step
                data = {"spikes": {}, "states": {}}
                while self.t_step < c_end and not (self._stop.is_set() and self.t_step > t_c0):
                    stop_at = min(c_end, self._next_event(self.t_step))
                    if self.call_ms is not None:
                        stop_at = min(stop_at, self.t_step + max(1, self.steps_for(self.call_ms)))
                    k0 = time.perf_counter()
                    done = self.runner.run(self.t_step, stop_at - self.t_step)
                    self.kernel_s += time.perf_counter() - k0
                    self.t_step += done
                    self._drain(data)
                    self._snapshot_weights()
                    if done == 0 and self.t_step < stop_at:  # pragma: no cover - safety net
                        raise RuntimeError("kernel made no progress")
                wall = time.perf_counter() - w0
                self.wall_s += wall
                ch = self._chunk(t_c0, wall, data)
                self._check_divergence(ch, self.t_step - t_c0)
                for fn in list(self._subscribers):
                    fn(ch, self)
                if progress is not None:
                    progress((self.t_step - start_step) * self.dt, (target - start_step) * self.dt)
                if realtime_factor:
                    ahead = (self.t_step - start_step) * self.dt * 1e-3 * realtime_factor - (time.perf_counter() - t_run0)
                    if ahead > 0:
                        self._stop.wait(ahead)
            # this call's wall time until every chunk was simulated and handed to subscribers and
            # monitors (wall_s counts the kernel calls only); the flush below waits for analyses
            self.last_loop_s = time.perf_counter() - t_run0
            if self.t_step >= target:  # finished (a pause must not wait for work in flight)
                self._flush_monitors()
        except KeyboardInterrupt:
            self.interrupted = True
        finally:
            self.running = False
            _GIL_HANDOFF.__exit__(None, None, None)
            if blas is not None:
                blas.__exit__(None, None, None)
        return self

    def _flush_monitors(self) -> None:
        """End of a run: monitors with work in flight (DSE on a worker) hand in their last
        values, delivered to subscribers as one more (empty) chunk carrying only streams."""
        streams = {}
        for node in self.graph.nodes.values():
            flush = getattr(node.type, "flush", None)
            if flush is not None:
                payload = flush(node, self)
                if payload:
                    streams[node.id] = payload
        if streams:
            ch = Chunk(self.t_ms, self.t_ms, 0.0)
            ch.streams = streams
            for fn in list(self._subscribers):
                fn(ch, self)

    def pause(self) -> None:
        """Stop the current ``run`` at the next kernel-call boundary (thread-safe)."""
        self._stop.set()

    def step(self, n: int = 1) -> "Simulation":
        return self.run(n * self.dt)

    def reset(self) -> None:
        """Back to t = 0 with fresh state; applies parameter edits that needed a reset."""
        with self._lock:
            self._apply_edits()
            self._build()

    # --- live edits -------------------------------------------------------------------------
    def set_param(self, node_id: str, name: str, value) -> str:
        """Change a parameter. Returns "live" (applies at the next chunk) or "reset".

        Live parameters apply without recompiling; others (sizes, connectivity, initial
        values) apply at the next :meth:`reset` (``run`` resets first when one is pending).
        """
        node = self.graph.nodes.get(node_id)
        if node is None:
            raise DesignError(Problem("error", "node.unknown", f"no node '{node_id}'", "use an id of the design",
                                      node=node_id))
        decl = node.type.param_decls().get(name)
        if decl is None:
            raise DesignError(Problem("error", "param.unknown", f"{node.key} has no parameter '{name}'",
                                      f"{node.key} takes: {', '.join(node.type.param_decls())}",
                                      node=node_id, param=name))
        probs = check_value(name, decl, value)
        if probs:
            code, msg, fix = probs[0]
            raise DesignError(Problem("error", code, f"{name} {msg}", fix, node=node_id, param=name))
        live = bool(meta(decl).get("live"))
        with self._lock:
            self._edits.append((node_id, name, value))
            if not self.running:
                self._apply_edits()
        return "live" if live and not self._needs_reset(node_id, name) else "reset"

    def _needs_reset(self, node_id, name) -> bool:
        return node_id in self.pending_reset

    def _apply_edits(self) -> None:
        with self._lock:
            edits, self._edits = self._edits, []
        for node_id, name, value in edits:
            raw = self.design.node(node_id)
            raw.setdefault("data", {})[name] = value
            node = self.graph.nodes[node_id]
            node.data[name] = value
            node.values[name] = value
            decl = node.type.param_decls()[name]
            if not meta(decl).get("live"):
                self.pending_reset.add(node_id)
                continue
            derive = self.plan.param_derivers.get(node_id)
            if derive is not None:
                new = derive(node)
                old = self.plan.params[node_id]
                same_form = all(isinstance(new[k], np.ndarray) == isinstance(old[k], np.ndarray) for k in old)
                if not same_form:
                    self.pending_reset.add(node_id)
                    continue
                self.plan.params[node_id] = new
            for names, fn in self.plan.on_change.get(node_id, []):
                if name in names:
                    fn(node, self.plan)

    # --- recording -----------------------------------------------------------------------------
    def _next_event(self, t: int) -> int:
        nxt = 1 << 62
        for r in self.plan.recorders:
            if r.kind == "weights":
                e = r.info["every"]
                nxt = min(nxt, (t // e + 1) * e)
        return nxt

    def _snapshot_weights(self, force: bool = False) -> list:
        out = []
        for r in self.plan.recorders:
            if r.kind != "weights":
                continue
            if self.t_step % r.info["every"] == 0 or force:
                q = self._weight_snaps[r.node]
                if q and q[-1][0] == self.t_step:
                    continue
                buf, sub = self.plan.buffers[f"{r.info['source']}.w"], r.info["subset"]
                if "full" not in r.info:  # every synapse in order: one memcpy instead of a gather
                    r.info["full"] = bool(len(sub) == len(buf) and np.array_equal(sub, np.arange(len(buf))))
                last = self._last_full.get(r.node)
                if r.info["full"] and last is not None and np.array_equal(buf, last):
                    w = last  # unchanged weights (a static projection): the same read-only array, no copy
                else:
                    w = buf.copy() if r.info["full"] else buf[sub]  # fancy indexing copies already
                    w.flags.writeable = False
                if r.info["full"]:
                    self._last_full[r.node] = w
                q.append((self.t_step, w))
                out.append((r.node, self.t_step, w))
        self._new_snaps = getattr(self, "_new_snaps", []) + out
        return out

    def _drain(self, data: dict) -> None:
        B = self.plan.buffers
        for r in self.plan.recorders:
            if r.kind == "spikes":
                nbuf = B[f"{r.node}.n"]
                n = int(nbuf[0])
                t = B[f"{r.node}.t"][:n].copy()
                i = B[f"{r.node}.i"][:n].copy()
                c = B[f"{r.node}.c"][:n].copy() if r.info["multi"] else None
                nbuf[0] = 0
                if r.node in self._stores:
                    self._stores[r.node].add(t, i, c)
                data["spikes"].setdefault(r.node, []).append((t, i, c))
            elif r.kind == "state":
                rb = B[f"{r.node}.rows"]
                n = int(rb[0])
                steps = B[f"{r.node}.tstep"][:n].copy()
                rows = B[f"{r.node}.data"][:n].copy()
                rb[0] = 0
                self._stores[r.node].add(steps, rows)
                data["states"].setdefault(r.node, []).append((steps, rows))

    def _chunk(self, t0: int, wall: float, data: dict) -> Chunk:
        ch = Chunk(t0 * self.dt, self.t_step * self.dt, wall)
        for r in self.plan.recorders:
            if r.kind == "spikes":
                parts = data["spikes"].get(r.node, [])
                t = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
                i = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int32)
                c = (np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, np.int32)) if r.info["multi"] else None
                t, i = _expand(t, i, c)
                ch.spikes[r.node] = {"source": r.info["source"], "t_ms": t * self.dt, "i": i}
            elif r.kind == "spikes_alias":  # the same arrays as the recorder it shares
                ch.spikes[r.node] = ch.spikes[r.info["owner"]]
            elif r.kind == "state":
                parts = data["states"].get(r.node, [])
                steps = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
                rows = np.concatenate([p[1] for p in parts]) if parts else np.zeros((0, 0))
                ch.states[r.node] = {"source": r.info["source"], "t_ms": steps * self.dt,
                                     "values": self._split_rows(r, rows), "neurons": r.info["neurons"]}
        for node, st, w in getattr(self, "_new_snaps", []):
            ch.weights.setdefault(node, []).append((st * self.dt, w))
        self._new_snaps = []
        for nid in self.plan.spike_sources:
            total = int(self.plan.buffers[f"{nid}.count"][0])
            ch.counts[nid] = total - self._counts_at[nid]
            self._counts_at[nid] = total
        # monitors that start long work (DSE's eigendecomposition) hand in their chunk first,
        # so that work overlaps the others' (stream_order, default 0)
        for node in sorted(self.graph.nodes.values(), key=lambda n: getattr(n.type, "stream_order", 0)):
            stream = getattr(node.type, "stream", None)
            if stream is not None:
                payload = stream(node, self, ch)
                if payload:
                    ch.streams[node.id] = payload
        return ch

    @staticmethod
    def _split_rows(r, rows):
        k = len(r.info["neurons"])
        return {v: rows[:, j * k:(j + 1) * k] if rows.size else np.zeros((0, k)) for j, v in enumerate(r.info["variables"])}

    def _check_divergence(self, ch: Chunk, steps: int) -> None:
        for node in self.graph.of_family("neuron"):
            for var in self.plan.node_info[node.id]["state"]:
                a = self.plan.buffers[f"{node.id}.{var}"]
                if not np.isfinite(a).all():
                    bad = int(np.argmax(~np.isfinite(a)))
                    raise DivergenceError(node.id, f"state '{var}' of neuron {bad} became {a[bad]} "
                                          "(reduce dt_ms, input or weights)", self.t_ms)
            n = self.graph.size(node.id)
            if steps >= 10 and ch.counts.get(node.id, 0) >= 0.9 * n * steps:
                raise DivergenceError(node.id, "nearly every neuron fires at every step (runaway excitation; "
                                      "add a refractory period or reduce the drive)", self.t_ms)

    # --- results ---------------------------------------------------------------------------------
    def spikes(self, monitor_id: str, trial: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Recorded spikes of a spike monitor (or of the population it watches): (t_ms, i).

        ``trial``: with the torch backend's batched trials, the spikes of that trial (all
        of them since the start; trial 0 is the recorded, drained one)."""
        mid = self._monitor_for(monitor_id)
        if trial:
            t, i = self.runner.trial_spikes(mid, int(trial))
            return t * self.dt, i
        t, i, c = self._stores[mid].arrays()
        t, i = _expand(t, i, c)
        return t * self.dt, i

    def _monitor_for(self, key: str) -> str:
        if key in self._stores and isinstance(self._stores[key], SpikeStore):
            return key
        for r in self.plan.recorders:
            if r.kind == "spikes" and r.info["source"] == key and r.node in self._stores:
                return r.node
        raise KeyError(f"no spike monitor named or watching '{key}'")

    def state(self, monitor_id: str) -> dict:
        """Recorded state: ``{"t_ms": (rows,), var: (rows, neurons), "neurons": idx}``."""
        r = next(r for r in self.plan.recorders if r.node == monitor_id and r.kind == "state")
        steps, rows = self._stores[monitor_id].arrays()
        out = {"t_ms": steps * self.dt, "neurons": r.info["neurons"]}
        out.update(self._split_rows(r, rows))
        return out

    def weights(self, monitor_id: str) -> tuple[np.ndarray, np.ndarray]:
        """Weight snapshots: (t_ms of each snapshot, array (snapshots, synapses))."""
        q = self._weight_snaps[monitor_id]
        if not q:
            return np.zeros(0), np.zeros((0, 0))
        return np.array([s for s, _ in q]) * self.dt, np.stack([w for _, w in q])

    def connectivity(self, projection_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Synapses of a projection as (pre index, post index, weight), sorted by (pre, post)."""
        B = self.plan.buffers
        indptr = B[f"{projection_id}.indptr"]
        pre = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        return pre, B[f"{projection_id}.post"].astype(np.int64), B[f"{projection_id}.w"].copy()

    def population_summary(self) -> dict:
        t_s = self.t_ms * 1e-3
        out = {}
        for nid, src in self.plan.spike_sources.items():
            node = self.graph.nodes[nid]
            ns = int(self.plan.buffers[f"{nid}.count"][0])
            out[nid] = {"type": node.key, "n": src.n, "n_spikes": ns,
                        "rate_hz": (ns / (src.n * t_s)) if t_s > 0 else 0.0}
        return out

    def node_state(self, node_id: str, factory: Callable[[], Any]) -> Any:
        """The run state of a Python-side monitor, created by ``factory()`` on first use
        and dropped (its ``close()`` called) when the simulation is reset or rebuilt."""
        st = self._node_state.get(node_id)
        if st is None:
            st = self._node_state[node_id] = factory()
        return st

    def _python_monitors(self):
        return [n for n in self.graph.nodes.values() if getattr(n.type, "final", None) is not None]

    def monitor_summary(self) -> dict:
        out = {}
        t_s = self.t_ms * 1e-3
        for node in self._python_monitors():
            out[node.id] = {"type": node.key, **node.type.final(node, self)}
        for r in self.plan.recorders:
            if r.node in out:  # a Python-side monitor summarised itself
                continue
            if r.kind == "spikes":
                st = self._stores[r.node]
                t, i, c = st.arrays()
                total = int(c.sum()) if c is not None else len(t)
                out[r.node] = {"type": "monitor.spikes", "source": r.info["source"], "n_events": int(
                    st.total if c is None else total), "kept": int(len(t)), "dropped": int(st.dropped),
                    "rate_hz": (total / (r.info["n_src"] * t_s)) if t_s > 0 and st.dropped == 0 else None}
            elif r.kind == "state":
                d = self.state(r.node)
                out[r.node] = {"type": "monitor.state", "source": r.info["source"], "samples": int(len(d["t_ms"])),
                               "last_mean": {v: (float(d[v][-1].mean()) if len(d[v]) else None)
                                             for v in r.info["variables"]}}
            elif r.kind == "weights":
                tt, W = self.weights(r.node)
                out[r.node] = {"type": "monitor.weights", "source": r.info["source"], "snapshots": int(len(tt)),
                               "mean": float(W[-1].mean()) if W.size else None,
                               "std": float(W[-1].std()) if W.size else None}
        return out

    def summary(self) -> dict:
        """The ``gliaflow run --json`` summary."""
        sim_s = self.t_ms * 1e-3
        return {"design": self.design.name, "backend": self.backend, "seed": self.seed, "dt_ms": self.dt,
                "sim_ms": self.t_ms, "wall_s": self.wall_s, "compile_s": self.compile_s,
                "realtime_factor": (self.wall_s / sim_s) if sim_s > 0 else None,
                "populations": self.population_summary(), "monitors": self.monitor_summary(),
                **({"interrupted": True} if self.interrupted else {})}

    def save_npz(self, path) -> None:
        """Spikes (``spikes/<population>/t_ms`` and ``/i``), monitor traces and the design JSON."""
        import io
        from .design import atomic_write_bytes
        arrays: dict[str, np.ndarray] = {}
        python_monitors = self._python_monitors()
        for node in python_monitors:
            if getattr(node.type, "arrays", None) is None:
                continue  # reports a summary (final) but keeps no arrays (e.g. astrocyte.nalsm)
            for k, v in node.type.arrays(node, self).items():
                arrays[f"monitors/{node.id}/{k}"] = np.asarray(v)
        done = {n.id for n in python_monitors}
        for r in self.plan.recorders:
            if r.node in done:
                continue
            if r.kind == "spikes":
                t, i = self.spikes(r.node)
                arrays[f"spikes/{r.info['source']}/t_ms"] = t
                arrays[f"spikes/{r.info['source']}/i"] = i
                arrays[f"monitors/{r.node}/t_ms"] = t
                arrays[f"monitors/{r.node}/i"] = i
            elif r.kind == "state":
                d = self.state(r.node)
                for k, v in d.items():
                    arrays[f"monitors/{r.node}/{k}"] = np.asarray(v)
            elif r.kind == "weights":
                tt, W = self.weights(r.node)
                arrays[f"monitors/{r.node}/t_ms"] = tt
                arrays[f"monitors/{r.node}/w"] = W
                arrays[f"monitors/{r.node}/synapse"] = np.asarray(r.info["subset"])
        arrays["design_json"] = np.array(self.design.to_json(indent=None))
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        atomic_write_bytes(path, buf.getvalue())


def _torch_runner(plan, device, dtype, trials):
    try:
        from .backends.torch_backend import TorchRunner
    except ImportError as e:
        raise DesignError(Problem("error", "meta.backend", f"backend 'torch' needs PyTorch ({e})",
                                  "install torch, or use backend 'numba'", param="backend")) from None
    return TorchRunner(plan, device=device or "cpu", dtype=dtype or "float64", trials=trials)


def run(design, duration_ms: float | None = None, **kw) -> Simulation:
    """Build and run a design; returns the finished :class:`Simulation`."""
    sim = Simulation(design, **kw)
    sim.run(duration_ms)
    return sim


_ = math  # noqa
