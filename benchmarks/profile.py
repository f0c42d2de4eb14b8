"""``python -m benchmarks.profile``: where the time of a COBA run goes, and the machine's floors.

The numba kernel is one compiled function per network (no line-level profile of machine
code: py-spy sees one frame), so its sections are timed by running the *same* kernel on
altered data (no recompilation, the kernel takes buffers and parameters as arguments):

- ``full``: COBA-N as in the suite (no monitors);
- ``no_delivery``: every projection's CSR row pointer zeroed, so spikes reach no synapse
  (the neurons still fire, driven by their bias): neuron update + spike collection;
- ``no_spikes``: thresholds at 1e9 mV, so no neuron fires: the neuron update alone;
- ``recording``: spike monitors on both populations (a different kernel).

delivery = full - no_delivery, collection = no_delivery - no_spikes (at the bias-driven
rate, an estimate), recording = recording - full, Python = the share of the run spent
outside kernel calls. Times are the CPU time of the running thread (``time.thread_time``,
the least of 5 runs, 3 at 256k), which a loaded machine inflates far less than wall time (it still
shares caches and memory bandwidth with the other processes).

Floors, measured on this machine in the same process: a standalone replay of the run's
own spike trains through its CSR arrays (the delivery loop alone: synaptic events/s),
random scatter-adds into an N-sized array (cache level of g), and the streaming read
bandwidth of a 256 MB array (DRAM). Writes ``benchmarks/results/profile.{json,md}``;
``python -m benchmarks`` (full mode) runs it and puts the markdown in suite.md.
"""
from __future__ import annotations

import json
import os
import statistics as st
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PROJ = ("ee", "ei", "ie", "ii")


def _timed_run(d: dict, t_ms: float, alter=None, reps: int | None = None) -> dict:
    from engine import Simulation
    walls, kernels, cpus, counts = [], [], [], None
    n = sum(nd["data"].get("n", 0) for nd in d["nodes"] if nd["type"].startswith("neuron."))
    for _ in range(reps or (5 if n < 100_000 else 3)):
        sim = Simulation(d)
        if alter:
            alter(sim)
        c0 = time.thread_time()
        sim.run(t_ms)
        cpus.append(time.thread_time() - c0)
        walls.append(sim.wall_s)
        kernels.append(sim.kernel_s)
        counts = {k: v["n_spikes"] for k, v in sim.population_summary().items()}
    return {"wall_s": st.median(walls), "kernel_s": st.median(kernels), "cpu_s": min(cpus), "spikes": counts,
            "sim": sim}


def _replay(sim, spikes: dict, t_steps: int) -> float:
    """Seconds to push the recorded spikes through the CSR arrays of all four projections."""
    import numba
    import numpy as np

    @numba.njit(cache=False, nogil=True)
    def deliver(steps_ptr, ids, indptr, post, g, wc, t_steps):
        for s in range(t_steps):
            for k in range(steps_ptr[s], steps_ptr[s + 1]):
                i = ids[k]
                for q in range(indptr[i], indptr[i + 1]):
                    g[post[q]] += wc

    total = 0.0
    for pid in PROJ:
        pre = sim.plan.node_info[pid]["pre"]
        t, i = spikes[pre]
        step = np.rint(np.asarray(t) / sim.dt).astype(np.int64)
        order = np.lexsort((i, step))
        ids = np.asarray(i, np.int64)[order]
        ptr = np.searchsorted(step[order], np.arange(t_steps + 1)).astype(np.int64)
        indptr, post = sim.plan.buffers[f"{pid}.indptr"], sim.plan.buffers[f"{pid}.post"]
        g = np.zeros(sim.plan.node_info[pid]["n_post"])
        deliver(ptr[:2], ids, indptr, post, g, 0.6, 1)  # compile
        t0 = time.thread_time()
        deliver(ptr, ids, indptr, post, g, 0.6, t_steps)
        total += time.thread_time() - t0
    return total


def _scatter_floor(n: int, events: int = 20_000_000) -> float:
    """Random scatter-adds into an n-element float64 array, per second."""
    import numba
    import numpy as np

    @numba.njit(cache=False)
    def scatter(idx, g):
        for k in range(idx.shape[0]):
            g[idx[k]] += 0.6

    idx = np.random.default_rng(1).integers(0, n, events).astype(np.int32)
    g = np.zeros(n)
    scatter(idx[:10], g)
    t0 = time.thread_time()
    scatter(idx, g)
    return events / (time.thread_time() - t0)


def _stream_bw() -> float:
    import numpy as np
    a = np.ones(32 * 2**20)  # 256 MB
    a.sum()
    t0 = time.thread_time()
    for _ in range(3):
        a.sum()
    return 3 * a.nbytes / (time.thread_time() - t0)


def measure(n: int, t_ms: float) -> dict:
    import resource
    from benchmarks.networks import coba
    d = coba(n)
    full = _timed_run(d, t_ms)
    sim = full["sim"]
    t_steps = sim.steps_for(t_ms)

    def no_delivery(s):
        for pid in PROJ:
            s.plan.buffers[f"{pid}.indptr"][:] = 0

    nodel = _timed_run(d, t_ms, no_delivery)
    quiet = json.loads(json.dumps(d))
    for nd in quiet["nodes"]:
        if nd["type"].startswith("neuron."):
            nd["data"]["v_threshold_mv"] = 1e9
    nospk = _timed_run(quiet, t_ms)
    rec = json.loads(json.dumps(d))
    for p in ("exc", "inh"):
        rec["nodes"].append({"id": f"m_{p}", "type": "monitor.spikes", "position": {"x": 0, "y": 0}, "data": {}})
        rec["edges"].append({"id": f"e_m_{p}", "source": p, "sourceHandle": "spikes", "target": f"m_{p}",
                             "targetHandle": "spikes"})
    recd = _timed_run(rec, t_ms)
    spikes = {p: recd["sim"].spikes(f"m_{p}") for p in ("exc", "inh")}
    events = 0.0
    for pid in PROJ:
        info = sim.plan.node_info[pid]
        events += full["spikes"][info["pre"]] * info["n_syn"] / info["n_pre"]
    replay_s = _replay(recd["sim"], spikes, t_steps)
    n_syn = sum(sim.plan.node_info[p]["n_syn"] for p in PROJ)
    k = full["cpu_s"]
    parts = {"delivery": k - nodel["cpu_s"], "collection": nodel["cpu_s"] - nospk["cpu_s"],
             "neuron_update": nospk["cpu_s"], "recording": recd["cpu_s"] - k,
             "python": k * (1.0 - full["kernel_s"] / full["wall_s"])}
    return {"n": n, "t_ms": t_ms, "synapses": n_syn, "syn_bytes_mb": n_syn * 4 / 2**20,
            "g_bytes_kb": (n * 8) / 1024, "wall_s": full["wall_s"], "kernel_s": full["kernel_s"], "cpu_s": k,
            "parts_s": parts, "no_delivery_spikes": nodel["spikes"], "spikes": full["spikes"], "events": events,
            "events_per_s_run": events / k,
            "events_per_s_delivery": events / parts["delivery"] if parts["delivery"] > 0 else None,
            "events_per_s_replay": events / replay_s, "replay_s": replay_s,
            "neuron_steps_per_s_update": n * t_steps / nospk["cpu_s"],
            "scatter_floor_per_s": _scatter_floor(n), "state_bytes_kb": n * 8 * 5 / 1024,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _md(res: dict) -> str:
    loaded = " — a loaded machine: read the shares, not the absolute times" if res["background_cores"] > 0.3 else ""
    L = ["## Where the time goes", "",
         f"`python -m benchmarks.profile` ({res['started']}, {res['cores']} cores, one thread, float64; "
         f"max background load while it ran: {res['background_cores']:.2f} cores{loaded}). "
         "The same compiled kernel run on altered data (see the module docstring), CPU time of the running "
         "thread (least of 5, of 3 at 256k): delivery = full - no "
         "delivery; collection = spike collection, reset and refractoriness at the bias-driven rate; "
         f"streaming read bandwidth {res['stream_gb_s']:.1f} GB/s.", "",
         "| COBA-N | bio s | CPU (s) | neuron update | spike collection | spike delivery | recording spikes (extra) | "
         "Python (extra) | "
         "events/s: run | events/s: delivery part | events/s: standalone replay | random scatter-add floor | "
         "synapse indices (MB) | neuron-steps/s (update alone) |", "|" + "---|" * 14]
    for r in res["runs"]:
        p, k = r["parts_s"], r["cpu_s"]
        pc = lambda x: f"{x:.3f} s ({100 * x / k:.0f} %)"  # noqa: E731
        L.append(f"| {r['n']} | {r['t_ms'] / 1000:g} | {k:.3f} | {pc(p['neuron_update'])} | {pc(p['collection'])} | "
                 f"{pc(p['delivery'])} | {pc(p['recording'])} | {pc(p['python'])} | {r['events_per_s_run'] / 1e6:.0f} M | "
                 f"{(r['events_per_s_delivery'] or 0) / 1e6:.0f} M | {r['events_per_s_replay'] / 1e6:.0f} M | "
                 f"{r['scatter_floor_per_s'] / 1e6:.0f} M | {r['syn_bytes_mb']:.0f} | "
                 f"{r['neuron_steps_per_s_update'] / 1e6:.0f} M |")
    L += ["", res.get("notes", "").strip()]
    return "\n".join(L) + "\n"


NOTES = HERE / "profile_notes.md"


def render(res: dict) -> str:
    """The profile's markdown: the measured table, then the reading of it (benchmarks/profile_notes.md)."""
    return _md(dict(res, notes=NOTES.read_text() if NOTES.exists() else ""))


def child(sizes: list[int], durations: list[float]) -> dict:
    from benchmarks.workers import Timed
    import datetime
    runs = []
    with Timed() as tm:
        bw = _stream_bw()
        for n, t in zip(sizes, durations):
            runs.append(measure(n, t))
    return {"started": datetime.datetime.now().isoformat(timespec="seconds"), "cores": os.cpu_count(),
            "background_cores": tm.background, "stream_gb_s": bw / 1e9, "runs": runs}


def profile(out: Path, sizes=(4000, 256000), durations=(1000.0, 300.0)) -> tuple[str, dict]:
    """Run the profile in a fresh one-thread process; write profile.{json,md}; return both."""
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    print("profile: where the time goes ...", file=sys.stderr, flush=True)
    r = subprocess.run([sys.executable, "-m", "benchmarks.profile", "--child", "--sizes", ",".join(map(str, sizes)),
                        "--durations", ",".join(map(str, durations))], capture_output=True, text=True, env=env, cwd=ROOT)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-3000:])
    res = json.loads(r.stdout.strip().splitlines()[-1])
    md = render(res)
    out.mkdir(parents=True, exist_ok=True)
    (out / "profile.json").write_text(json.dumps(res, indent=1) + "\n")
    (out / "profile.md").write_text(md)
    return md, res


def main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--sizes", default="4000,256000")
    ap.add_argument("--durations", default="1000,300")
    ap.add_argument("--out", default=str(HERE / "results"))
    a = ap.parse_args(argv)
    sizes = [int(x) for x in a.sizes.split(",")]
    durs = [float(x) for x in a.durations.split(",")]
    if a.child:
        print(json.dumps(child(sizes, durs)))
        return 0
    print(profile(Path(a.out), sizes, durs)[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
