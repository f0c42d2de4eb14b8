"""One measurement per process: ``python -m benchmarks.workers SIM ARGS...`` prints one result line.

SIM is ``gliaflow``, ``brian2`` (modes cython, cpp_standalone), ``brian2_rerun`` (an already
built cpp_standalone binary) or ``nest``; the peers live in ``benchmarks/peers_brian2.py``
and ``benchmarks/peers_nest.py``. Every worker times only the simulation of ``t_ms``
biological milliseconds; building and compiling are timed separately.

Background load: ``Timed`` counts the CPU time the rest of the machine used (system busy
time minus this process's and its children's) over a window made of an idle probe of
0.25 s, the timed section and another probe of 0.25 s, per wall second of that window.
The probes make the figure meaningful for short sections (the kernel counts CPU time in
10 ms ticks: over a bare 40 ms section one tick is already 0.25 cores).

The result is the last stdout line, prefixed with ``RESULT`` (NEST and Brian2 print too).
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

PREFIX = "RESULT "
PROBE_S = 0.25


class Timed:
    """Wall time of the ``with`` body, and the background cores around it (see the module doc)."""

    def __init__(self, probe_s: float = PROBE_S):
        self.probe_s = probe_s

    def _snap(self):
        import psutil
        busy = sum(getattr(psutil.cpu_times(), k, 0.0) for k in ("user", "nice", "system", "irq", "softirq", "steal"))
        o = self.p.cpu_times()
        own = o.user + o.system + o.children_user + o.children_system
        return busy, own, time.perf_counter()

    def __enter__(self):
        import psutil
        self.p = psutil.Process()
        self.s0 = self._snap()
        time.sleep(self.probe_s)
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        time.sleep(self.probe_s)
        b1, o1, w1 = self._snap()
        b0, o0, w0 = self.s0
        self.background = max(0.0, (b1 - b0 - (o1 - o0)) / max(w1 - w0, 1e-9))
        self.cpu = o1 - o0  # this process's CPU (and its children's) in the window: ~ the timed section's
        try:
            self.loadavg = os.getloadavg()[0]
        except OSError:  # pragma: no cover - not on Linux
            self.loadavg = None


def rss_mb(children: bool = False) -> float:
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024.0


def emit(res: dict) -> None:
    sys.stdout.flush()
    print(PREFIX + json.dumps(res), flush=True)


def _live_param_change(d: dict) -> tuple[str, str]:
    """Change one weight of the design (a live parameter: no new kernel) and say which."""
    for nd in d["nodes"]:
        if nd["type"] == "projection.synapses":
            for k in ("weight_gl", "weight_mv", "weight"):
                if isinstance(nd["data"].get(k), (int, float)):
                    nd["data"][k] = nd["data"][k] * 0.99  # toward 0: stays inside any rule bounds
                    return nd["id"], k
    raise ValueError("no scalar projection weight to change")


def export_connectivity(sim, path: str) -> None:
    """Connectivity, weights, synaptic decays and initial potentials, for the peers.

    Per projection between neuron populations: ``{p}_i``, ``{p}_j`` (int32), ``{p}_w``
    (float64; a one-element array when all weights are equal, which the peers use as a
    constant, as gliaflow does) and ``{p}_decay``; per population ``{pop}_v0``."""
    import numpy as np
    neurons = {nid for nid, nd in sim.graph.nodes.items() if nd.type.family() == "neuron"}
    arrays = {}
    for nid, info in sim.plan.node_info.items():
        if (nid in sim.graph.nodes and info.get("pre") in neurons and info.get("post") in neurons
                and f"{nid}.indptr" in sim.plan.buffers):
            i, j, w = sim.connectivity(nid)
            arrays[f"{nid}_i"], arrays[f"{nid}_j"] = i.astype(np.int32), j.astype(np.int32)
            arrays[f"{nid}_w"] = w[:1] if len(w) and np.all(w == w[0]) else w
            arrays[f"{nid}_decay"] = np.array(sim.plan.params[nid]["decay"], np.float64)
    for p in neurons:
        arrays[f"{p}_v0"] = sim.plan.buffers[f"{p}.v"].copy()
    np.savez(path, **arrays)


def gliaflow(family: str, n: int, t_ms: float, conn_out: str = "", same_process: bool = True) -> dict:
    """Build, compile (or load) and run one network; metrics from the engine's own counters."""
    import_t = time.perf_counter()
    import numba
    from engine import Simulation
    from benchmarks.networks import FAMILIES, design
    import_s = time.perf_counter() - import_t
    d = design(family, n)
    t1 = time.perf_counter()
    sim = Simulation(d)
    ready_s = time.perf_counter() - t1
    if conn_out:
        export_connectivity(sim, conn_out)
    with Timed() as tm:
        sim.run(t_ms)
    pops = sim.population_summary()
    neurons = [nid for nid, nd in sim.graph.nodes.items() if nd.type.family() == "neuron"]
    n_neurons = sum(sim.graph.size(p) for p in neurons)
    # synaptic events: each spike of a neuron population reaches its projections' synapses
    # (mean out-degree per projection); external stimuli (Poisson drive) are not counted
    events, synapses = 0.0, 0
    for nid, info in sim.plan.node_info.items():
        nd = sim.graph.nodes.get(nid)  # node_info also holds entries that are no node ("__grids__")
        if nd is not None and nd.key == "projection.synapses" and info.get("pre") in neurons:
            synapses += int(info["n_syn"])
            events += pops[info["pre"]]["n_spikes"] * info["n_syn"] / max(info["n_pre"], 1)
    warm_same = None
    if same_process:  # a second simulation after a parameter change: the kernel is reused
        changed = _live_param_change(d)
        t2 = time.perf_counter()
        sim2 = Simulation(d)
        warm_same = time.perf_counter() - t2
        assert sim2.runner.cached_in_process, f"changing {changed} recompiled the kernel"
    steps = sim.steps_for(t_ms)
    return {"sim": "gliaflow", "family": family, "n": n, "t_ms": t_ms, "dt_ms": sim.dt, "dtype": "float64",
            "threads": int(numba.config.NUMBA_NUM_THREADS), "parallel_kernel": "prange" in sim.runner.source,
            "import_s": import_s, "ready_s": ready_s, "plan_s": sim.build_s, "compile_s": sim.compile_s,
            "warm_same_process_s": warm_same, "run_s": tm.wall, "run_cpu_s": tm.cpu, "kernel_s": sim.kernel_s,
            "background_cores": tm.background, "loadavg": tm.loadavg, "rss_mb": rss_mb(),
            "rates_hz": {p: pops[p]["rate_hz"] for p in FAMILIES[family]["pops"]},
            "spikes": {p: pops[p]["n_spikes"] for p in neurons}, "synapses": synapses, "neurons": n_neurons,
            "syn_events": events, "syn_events_per_s": events / tm.wall,
            "neuron_steps_per_s": n_neurons * steps / tm.wall}


def main(argv: list[str]) -> None:
    import argparse
    ap = argparse.ArgumentParser(prog="python -m benchmarks.workers")
    ap.add_argument("sim", choices=["gliaflow", "brian2", "brian2_rerun", "nest"])
    ap.add_argument("--family", default="coba")
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--t-ms", type=float, default=1000.0)
    ap.add_argument("--mode", default="cython", help="brian2: cython or cpp_standalone")
    ap.add_argument("--conn", default="", help="connectivity file (gliaflow writes it, peers read it)")
    ap.add_argument("--workdir", default="")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    if a.sim == "gliaflow":
        res = gliaflow(a.family, a.n, a.t_ms, a.conn)
    elif a.sim == "brian2":
        from benchmarks.peers_brian2 import run
        res = run(a.family, a.mode, a.n, a.t_ms, a.conn, a.workdir, a.threads)
    elif a.sim == "brian2_rerun":
        from benchmarks.peers_brian2 import rerun
        res = rerun(a.family, a.n, a.t_ms, a.workdir, a.threads)
    else:
        from benchmarks.peers_nest import run
        res = run(a.family, a.n, a.t_ms, a.conn, a.threads)
    emit(res)


if __name__ == "__main__":
    main(sys.argv[1:])
