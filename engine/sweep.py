"""Parameter sweeps: the design's ``sweep`` key, run point by point on Dask, recorded in the catalog.

The sweep is part of the design document::

    "sweep": {"params": [{"node": "astro", "param": "w_astro", "values": [0.0, 0.0075, 0.015]},
                         {"node": "stim", "param": "rate_hz", "range": [5, 50], "n": 4, "scale": "log"}],
              "mode": "grid",            # grid: every combination; random: "samples" draws
              "samples": 20,             # mode random only
              "sample_seed": 0,          # mode random only: seed of the draws
              "seeds": [1, 2, 3],        # simulation seeds per point (default: the design's seed)
              "duration_ms": 2000,       # default: the design's duration
              "backend": "numba",        # default: the design's backend
              "measures": ["readout.test_accuracy", "E_bf.nalsm", "E.rate_hz", "E_bf.nalsm:mean"],
              "save": "traces"}          # what each point keeps: traces (default), all, none

A measure is ``<node>.<key>`` of the run summary (:func:`engine.run_data.summary_measures`:
a population's ``rate_hz``/``n_spikes``, any number a monitor, readout or astrocyte
reports), ``sim_ms``/``wall_s``, or ``<node>.<trace>:<agg>`` (``last``, ``mean``, ``median``,
``min``, ``max``, ``std`` of a recorded trace, NaNs ignored). Every point also records all
summary measures; ``measures`` says which the tables and plots show. A ``range`` gives
``n`` values from ``lo`` to ``hi`` (``lin`` or ``log`` spaced; whole numbers for integer
parameters) in grid mode, and uniform (log-uniform) draws in random mode; ``values`` are
taken as given (random mode picks among them). Grid points are the product of the axes
in order (first axis slowest), each with every seed; point ``k`` is stable across runs.

A point is a pure function of (design, parameter values, seed, duration, backend):
:func:`run_point` builds the design with the values written into the nodes, runs it and
returns its summary, measures and (per ``save``) trace arrays, so results do not depend on
which worker or cluster ran it. Its key (:func:`engine.run_data.design_hash` of the design
actually computed) is what resume matches: a point whose key has a finished run anywhere
in the catalog is not computed again (``resume=False``/``--fresh`` recomputes all).

Running (:class:`Sweep`): on a ``distributed.LocalCluster`` (processes, one thread each,
``workers`` of them; default one per core, at most one per point) or any scheduler
(``scheduler="tcp://host:8786"``) or a ``distributed.Client`` you pass. Points are submitted
at once with ``retries`` (an exception in a point is retried; a point whose worker dies is
rescheduled by Dask, up to ``distributed.scheduler.allowed-failures`` deaths); results are
written to the catalog as they complete, one transaction each, so a killed sweep keeps
every finished point. Errors of the design itself (divergence, a bad value) are not
retried: the point is recorded ``failed`` with the message.

API for the studio's Sweep panel::

    sw = Sweep(design, catalog=cat, workers=2)           # validates; DesignError names node/param
    sw.points                                             # [Point(idx, params, seed, key)]
    sw.start(on_point=cb, progress=pg)                    # background thread "gliaflow-sweep"
    sw.cancel(); sw.wait(timeout) -> SweepResult | None   # finished points stay in the catalog
    sw.run(on_point=..., progress=...) -> SweepResult     # the same, blocking

``on_point(PointResult)`` is called on the sweep's thread after the point is committed
(reused points first, with ``reused=True``); ``progress(done, total)`` likewise (a UI
schedules its own update from there). Constructing a ``Sweep`` validates the spec and, when
it names measures, builds the first point and runs one step to check them (seconds: do it
off the UI thread). ``sw.result`` is the live :class:`SweepResult`; ``sw.run(client=c)``
reuses a ``distributed.Client``. Results over the swept parameters:
:mod:`engine.sweep_report` (tables, means over seeds, the figure data and HTML). The spec
itself is parsed and expanded in :mod:`engine.sweep_spec`.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .catalog import Catalog
from .design import Design, load_design
from .errors import DesignError, GliaflowError
from .run_data import apply_params, npz_bytes, sim_arrays, summary_measures
from .sweep_spec import (AGGREGATES, TOP_MEASURES, Axis, Point, SweepSpec, _P, make_points, parse_sweep,
                         sweep_key, sweep_problems)

__all__ = ["Sweep", "SweepResult", "PointResult", "run_point", "collect_measures", "Axis", "Point", "SweepSpec",
           "make_points", "parse_sweep", "sweep_key", "sweep_problems", "AGGREGATES"]


# --- one point (runs on a worker) -----------------------------------------------------------------
def _aggregate(x: np.ndarray, agg: str):
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if not len(x):
        return None
    return float({"last": lambda a: a[-1], "mean": np.mean, "median": np.median, "min": np.min,
                  "max": np.max, "std": np.std}[agg](x))


def collect_measures(sim, flat: dict, measures) -> dict:
    """The requested measures of a finished simulation (None where it reported none)."""
    out = {}
    for m in measures:
        path, _, agg = m.partition(":")
        if not agg:
            out[m] = flat.get(path)
            continue
        nid, _, key = path.partition(".")
        node = sim.graph.nodes[nid]
        arrays = node.type.arrays(node, sim)
        out[m] = _aggregate(arrays[key], agg) if key in arrays else None
    return out


def _close(sim) -> None:
    """End the simulation's analysis thread (a worker runs many points: threads must not pile up)."""
    from components.analysis_base import AnalysisQueue
    q = getattr(sim, "_node_state", {}).get(AnalysisQueue.KEY)
    if q is not None:
        q.close()


def run_point(task: dict) -> dict:
    """Run one sweep point (on a Dask worker). ``task``: ``design`` (doc), ``arrays`` (sidecar
    arrays or None), ``params``, ``seed``, ``duration_ms``, ``backend``, ``measures``,
    ``save``. Returns status, measures (all summary measures plus the requested ones),
    summary, the trace arrays as npz bytes, start/end time, host and pid. A design error or
    divergence is returned as ``status: failed`` (it would fail again); anything else raises
    (Dask retries it)."""
    from .simulation import Simulation

    started = time.time()
    res: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid(), "started": started,
                           "summary": None, "measures": None, "data": None, "error": None, "status": "done"}
    design = apply_params(Design(task["design"], task.get("arrays")), task["params"], seed=task["seed"],
                          duration_ms=task["duration_ms"], backend=task["backend"])
    sim = None
    try:
        sim = Simulation(design)
        sim.run(task["duration_ms"])
        summary = sim.summary()
        flat = summary_measures(summary)
        flat.update(collect_measures(sim, flat, task["measures"]))
        res.update(summary=summary, measures=flat)
        if task["save"] != "none":
            res["data"] = npz_bytes(sim_arrays(sim, task["save"]))
    except GliaflowError as e:
        res.update(status="failed", error=f"{type(e).__name__}: {e}")
    finally:
        if sim is not None:
            _close(sim)
    res["finished"] = time.time()
    return res


# --- results --------------------------------------------------------------------------------------
@dataclass
class PointResult:
    """A finished (or failed) point: its parameters, seed, the requested measures, run id."""

    idx: int
    params: dict
    seed: int
    status: str
    measures: dict
    run_id: int | None
    error: str | None = None
    wall_s: float | None = None
    reused: bool = False


@dataclass
class SweepResult:
    sweep_id: int
    total: int
    points: list[PointResult] = field(default_factory=list)
    computed: int = 0
    reused: int = 0
    failed: int = 0
    cancelled: bool = False
    wall_s: float = 0.0
    workers: int | None = None
    scheduler: str = ""

    @property
    def complete(self) -> bool:
        return not self.cancelled and self.failed == 0 and len(self.points) == self.total


# --- the driver -----------------------------------------------------------------------------------
class Sweep:
    """A design's sweep, ready to run on Dask (see the module docstring)."""

    def __init__(self, design, *, catalog: Catalog | str | os.PathLike | None = None, scheduler: str | None = None,
                 workers: int | None = None, threads_per_worker: int = 1, resume: bool = True, retries: int = 2,
                 client=None, check_measures: bool = True):
        from .validate import build_graph

        self.design = load_design(design)
        self.spec = parse_sweep(self.design)
        build_graph(apply_params(self.design, {}, backend=self.spec.backend))  # the whole design is valid
        for p in self._first_params():
            build_graph(apply_params(self.design, p, backend=self.spec.backend))
        self.points = make_points(self.design, self.spec)
        self.key = sweep_key(self.design, self.spec)
        self.catalog = catalog if isinstance(catalog, Catalog) else Catalog(catalog)
        self.scheduler, self.workers, self.threads_per_worker = scheduler, workers, int(threads_per_worker)
        self.resume, self.retries, self._client = resume, int(retries), client
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self.result: SweepResult | None = None
        self.error: BaseException | None = None
        if check_measures and self.spec.measures:
            self.check_measures()

    def _first_params(self) -> list[dict]:
        """The lowest and highest value of every axis together: built once to catch values
        that are valid alone but not in this design (e.g. a size the wiring refuses)."""
        if self.spec.mode != "grid":
            return []
        grids = [a.grid() for a in self.spec.axes]
        return [{a.path: g[0] for a, g in zip(self.spec.axes, grids)},
                {a.path: g[-1] for a, g in zip(self.spec.axes, grids)}]

    def check_measures(self) -> None:
        """Build the first point and run one step: every requested measure must be a key the run
        reports (or a trace of its node), else :class:`DesignError` naming the node."""
        from .simulation import Simulation

        p = self.points[0]
        sim = Simulation(apply_params(self.design, p.params, seed=p.seed, backend=self.spec.backend))
        try:
            sim.run(sim.dt)
            flat = summary_measures(sim.summary())
            probs = []
            for m in self.spec.measures:
                path, _, agg = m.partition(":")
                nid, _, key = path.partition(".")
                if path in TOP_MEASURES:
                    continue
                node = sim.graph.nodes[nid]
                traces = tuple(getattr(node.type, "traces", ()))
                if agg:
                    ok = key in traces or key in node.type.arrays(node, sim)
                    have = sorted(set(traces) | set(node.type.arrays(node, sim)))
                else:
                    ok = path in flat or key in traces
                    have = sorted({k.split(".", 1)[1] for k in flat if k.startswith(nid + ".")} | set(traces))
                if not ok:
                    probs.append(_P("sweep.measure", f"measure {m!r}: {node.key} '{nid}' reports "
                                    f"{', '.join(have) or 'nothing'}, not '{key}'",
                                    f"use one of: {', '.join(f'{nid}.{k}' for k in have) or 'another node'}", node=nid))
            if probs:
                raise DesignError(probs)
        finally:
            _close(sim)

    # --- running ----------------------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop submitting and drop unfinished points (thread-safe); finished ones stay recorded."""
        self._cancel.set()

    def start(self, on_point: Callable[[PointResult], Any] | None = None,
              progress: Callable[[int, int], Any] | None = None) -> "Sweep":
        """Run on a background thread; ``wait()`` for the :class:`SweepResult`."""
        def target():
            try:
                self.run(on_point=on_point, progress=progress)
            except BaseException as e:  # noqa: BLE001 - handed to wait()
                self.error = e
        self._thread = threading.Thread(target=target, name="gliaflow-sweep", daemon=True)
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> SweepResult | None:
        """The result once the background run ends (None if still running after ``timeout``);
        re-raises its error."""
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return None
        if self.error is not None:
            raise self.error
        return self.result

    def _task(self, p: Point) -> dict:
        return {"design": self.design.doc, "arrays": self.design.arrays or None, "params": p.params, "seed": p.seed,
                "duration_ms": self.spec.duration_ms, "backend": self.spec.backend,
                "measures": list(self.spec.measures), "save": self.spec.save}

    def _connect(self, n_todo: int):
        """(client, cluster or None, label)."""
        from distributed import Client, LocalCluster
        if self._client is not None:
            return self._client, None, "client"
        if self.scheduler:
            return Client(self.scheduler, timeout="30s"), None, self.scheduler
        n = self.workers or max(1, os.cpu_count() or 1)
        n = max(1, min(n, n_todo))
        # worker processes start with Ctrl-C ignored: a terminal's SIGINT reaches the whole process
        # group, and the driver alone should handle it (cancel, record, shut the cluster down)
        main = threading.current_thread() is threading.main_thread()
        old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            cluster = LocalCluster(n_workers=n, threads_per_worker=self.threads_per_worker, processes=True,
                                   dashboard_address=None, scheduler_kwargs={"dashboard_address": ":0"},
                                   silence_logs=logging.ERROR)  # no dashboard; its HTTP server on a free port
        finally:
            if main:
                signal.signal(signal.SIGINT, old)
        return Client(cluster), cluster, f"local:{n}"

    def _pick(self, measures: dict | None) -> dict:
        measures = measures or {}
        if not self.spec.measures:
            return dict(measures)
        return {m: measures.get(m) for m in self.spec.measures}

    def run(self, on_point: Callable[[PointResult], Any] | None = None,
            progress: Callable[[int, int], Any] | None = None, client=None) -> SweepResult:
        """Run the points not finished yet; returns when all are done, or on :meth:`cancel`.
        ``client``: a ``distributed.Client`` to use for this run (kept open afterwards)."""
        from distributed import as_completed

        if client is not None:
            self._client = client
        t0 = time.perf_counter()
        self._cancel.clear()
        label = self.scheduler or ("client" if self._client is not None else f"local:{self.workers or 'auto'}")
        sid = self.catalog.open_sweep(self.design, self.spec.to_dict(), self.points, key=self.key, fresh=not self.resume,
                                      scheduler=label, backend=self.spec.backend, duration_ms=self.spec.duration_ms)
        res = SweepResult(sid, len(self.points), scheduler=label)
        self.result = res
        by_idx = {p.idx: p for p in self.points}
        todo = []
        for row in self.catalog.sweep_points(sid):
            p = by_idx[row["idx"]]
            if row["status"] == "done":
                pr = PointResult(p.idx, p.params, p.seed, "done", self._pick(row["measures"]), row["run_id"],
                                 wall_s=row["wall_s"], reused=True)
                res.points.append(pr)
                res.reused += 1
                if on_point is not None:
                    on_point(pr)
            else:
                todo.append(p)
        if progress is not None:
            progress(len(res.points), res.total)
        if not todo:
            self.catalog.set_sweep_status(sid, "done")
            res.wall_s = time.perf_counter() - t0
            return res
        status = "cancelled"
        client = cluster = None
        futures: dict = {}
        try:
            client, cluster, label = self._connect(len(todo))
            res.scheduler = label
            res.workers = len(client.scheduler_info()["workers"])
            futures = {client.submit(run_point, self._task(p), key=f"gliaflow-point-{p.key[:16]}-{os.urandom(4).hex()}",
                                     pure=False, retries=self.retries): p for p in todo}
            ac = as_completed(list(futures))
            while not ac.is_empty():
                if self._cancel.is_set():
                    break
                batch = ac.next_batch(block=False)
                if not batch:
                    self._cancel.wait(0.05)
                    continue
                for f in batch:
                    pr = self._record(sid, futures.pop(f), f)
                    res.points.append(pr)
                    res.computed += 1
                    res.failed += pr.status != "done"
                    if on_point is not None:
                        on_point(pr)
                    if progress is not None:
                        progress(len(res.points), res.total)
            else:
                status = "done" if res.failed == 0 else "incomplete"
        finally:
            res.cancelled = status == "cancelled"
            try:
                if client is not None and futures:
                    client.cancel(list(futures))
            finally:
                self.catalog.set_sweep_status(sid, status)
                if client is not None and client is not self._client:
                    client.close()
                if cluster is not None:
                    cluster.close()
        res.points.sort(key=lambda r: r.idx)
        res.wall_s = time.perf_counter() - t0
        return res

    def _record(self, sid: int, p: Point, fut) -> PointResult:
        if fut.status == "finished":
            r = fut.result()
        else:  # the point raised after its retries, or its workers kept dying
            exc = fut.exception()
            r = {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "summary": None, "measures": None,
                 "data": None, "host": None, "pid": None, "started": None, "finished": None}
        fut.release()
        rid = self.catalog.add_run(self.design, kind="sweep", params=p.params, seed=p.seed, backend=self.spec.backend,
                                   duration_ms=self.spec.duration_ms, status=r["status"], started=r["started"],
                                   finished=r["finished"], summary=r["summary"], measures=r["measures"], data=r["data"],
                                   error=r["error"], host=r["host"], pid=r["pid"], sweep_id=sid, point_idx=p.idx)
        wall = (r["finished"] - r["started"]) if r["started"] and r["finished"] else None
        return PointResult(p.idx, p.params, p.seed, r["status"], self._pick(r["measures"]), rid, r["error"], wall)
