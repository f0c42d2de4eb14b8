"""``python -m benchmarks.monitors``: what the analysis monitors cost on COBA-4000.

1. Overhead: a 1 s COBA-4000 run (``gallery/coba.json``) alone and with every analysis
   monitor at its defaults watching the excitatory population (activity, entropy, LZ,
   branching, DSE) and the E→E projection (weight geometry); the same with the branching
   monitor also wired to the recurrent projection (NALSM's branching factor). Each
   measurement in a fresh process (kernel cache warm, one warm-up second first; the median of
   five 1-s runs, each of a new network with another seed, so that no analysis reuses what it
   computed for an earlier run's weights), the wall
   time of ``Simulation.run`` including the hand-in of DSE work still in flight, and of the
   simulation loop alone (every chunk simulated and handed to the monitors); the same without
   the DSE monitor, to show what its last eigendecomposition (due at t = 1000 ms, so after the
   kernel's last step) adds to ``run``; variants alternate; medians of the per-repetition ratios.
2. Memory: 60 s of COBA-4000 with all monitors; peak RSS at 10 s and at 60 s simulated.
   Once as in the gallery (its two ``monitor.spikes`` keep every spike by design, up to
   ``max_events``) and once with those raw recorders capped at 100 000 events, so only the
   analysis monitors' memory shows.

Writes ``benchmarks/results/monitors.{json,md}``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics as st
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

ANALYSIS = {"act": "monitor.activity", "ent": "monitor.entropy", "lz": "monitor.lz", "br": "monitor.branching",
            "dse": "monitor.dse"}


def design(variant: str, cap_raw: bool = False) -> dict:
    d = json.loads((ROOT / "gallery" / "coba.json").read_text())
    if variant == "none":
        return d
    for mid, key in ANALYSIS.items():
        if variant == "all-dse" and mid == "dse":
            continue
        d["nodes"].append({"id": mid, "type": key, "position": {"x": 0, "y": 0}, "data": {}})
        d["edges"].append({"id": f"m-{mid}", "source": "exc", "sourceHandle": "spikes", "target": mid,
                           "targetHandle": "spikes"})
    d["nodes"].append({"id": "geo", "type": "monitor.weight_geometry", "position": {"x": 0, "y": 0}, "data": {}})
    d["edges"].append({"id": "m-geo", "source": "ee", "sourceHandle": "weights", "target": "geo",
                       "targetHandle": "weights"})
    if variant == "all+nalsm":
        d["edges"].append({"id": "m-br-w", "source": "ee", "sourceHandle": "weights", "target": "br",
                           "targetHandle": "weights"})
        # NALSM's factor once per simulated second (its O(spikes x synapses) cost per window
        # would repeat 10x with the default 100-ms stride)
        next(n for n in d["nodes"] if n["id"] == "br")["data"]["stride_ms"] = 0.0
    if cap_raw:
        for n in d["nodes"]:
            if n["type"] == "monitor.spikes":
                n["data"]["max_events"] = 100_000
    return d


def child_overhead(variant: str, runs: int = 5) -> dict:
    from engine import Simulation
    d = design(variant)
    Simulation(d).run(1000.0)  # warm-up (the kernel and the analyses' numba functions load or compile here)
    import psutil
    walls, loops, kernels, bg = [], [], [], []
    busy = lambda c: c.user + c.nice + c.system + getattr(c, "irq", 0) + getattr(c, "softirq", 0)  # noqa: E731
    seed0 = int(d.get("meta", {}).get("seed", 0))
    for k in range(runs):
        # a fresh network each time (another seed): nothing an analysis computed for the warm-up
        # run's weights or connectivity can be reused, as in a user's first run of a design
        d["meta"]["seed"] = seed0 + 1 + k
        sim = Simulation(d)
        cpu0, own0 = psutil.cpu_times(), psutil.Process().cpu_times()
        t = time.perf_counter()
        sim.run(1000.0)
        wall = time.perf_counter() - t
        cpu1, own1 = psutil.cpu_times(), psutil.Process().cpu_times()
        own = (own1.user - own0.user) + (own1.system - own0.system)
        # loop_s: the simulation loop (every chunk simulated and handed to the monitors, i.e.
        # Simulation.last_loop_s; Simulation.wall_s would count the kernel calls only);
        # wall_s: until run() returns, i.e. also the last windows' measures and the DSE
        # computed at t = 1000 ms handed in
        walls.append(wall)
        loops.append(sim.last_loop_s)
        kernels.append(sim.kernel_s)
        bg.append(max(0.0, (busy(cpu1) - busy(cpu0) - own) / wall))
    return {"variant": variant, "wall_s": st.median(walls), "loop_s": st.median(loops), "kernel_s": st.median(kernels),
            "background_cores": max(bg)}


def child_memory(cap_raw: bool) -> dict:
    import psutil

    from engine import Simulation
    proc = psutil.Process()
    sim = Simulation(design("all", cap_raw=cap_raw))
    out = {}
    peak = 0
    for k in range(60):
        sim.run(1000.0)
        peak = max(peak, proc.memory_info().rss)
        if k + 1 in (10, 30, 60):
            out[f"rss_mb_{k + 1}s"] = peak / 2**20
    out["dse_computed"] = sim.summary()["monitors"]["dse"]["computed"]
    return out


def run_child(*args) -> dict:
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "benchmarks.monitors", "--child", *args], capture_output=True,
                       text=True, env=env, cwd=ROOT)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.monitors")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--child", nargs="*")
    a = ap.parse_args(argv)
    if a.child:
        kind, arg = a.child
        res = child_overhead(arg) if kind == "overhead" else child_memory(arg == "capped")
        print(json.dumps(res))
        return 0
    raw = {"none": [], "all": [], "all-dse": [], "all+nalsm": []}
    for _ in range(a.reps):
        for v in raw:
            raw[v].append(run_child("overhead", v))
    rows = {k: [r["wall_s"] for r in v] for k, v in raw.items()}
    loops = {k: [r["loop_s"] for r in v] for k, v in raw.items()}
    ratio_all = st.median([x / y for x, y in zip(rows["all"], rows["none"])])
    ratio_nalsm = st.median([x / y for x, y in zip(rows["all+nalsm"], rows["none"])])
    loop_all = st.median([x / y for x, y in zip(loops["all"], rows["none"])])
    loop_nalsm = st.median([x / y for x, y in zip(loops["all+nalsm"], rows["none"])])
    ratio_nodse = st.median([x / y for x, y in zip(rows["all-dse"], rows["none"])])
    loop_nodse = st.median([x / y for x, y in zip(loops["all-dse"], rows["none"])])
    mem = {"gallery": run_child("memory", "gallery"), "capped": run_child("memory", "capped")}
    res = {"reps": a.reps, "wall_s": rows, "loop_s": loops, "median_wall_s": {k: st.median(v) for k, v in rows.items()},
           "median_loop_s": {k: st.median(v) for k, v in loops.items()},
           "background_cores": {k: [round(r["background_cores"], 3) for r in v] for k, v in raw.items()},
           "slowdown_all": ratio_all, "slowdown_all_nalsm": ratio_nalsm,
           "loop_slowdown_all": loop_all, "loop_slowdown_all_nalsm": loop_nalsm,
           "slowdown_all_but_dse": ratio_nodse, "loop_slowdown_all_but_dse": loop_nodse, "memory": mem}
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "monitors.json").write_text(json.dumps(res, indent=1) + "\n")
    m = res["median_wall_s"]
    md = (f"Analysis monitors on COBA-4000 (1 s, 1 thread, median of {a.reps} alternating repetitions, "
          f"{os.cpu_count()} cores):\n\n"
          "| variant | run() wall time (s) | vs. no analysis monitors | simulation loop (s) | loop vs. no monitors |\n"
          "|---|---|---|---|---|\n"
          f"| gallery/coba.json | {m['none']:.4f} | 1 | {res['median_loop_s']['none']:.4f} | |\n"
          f"| + activity, entropy, LZ, branching ratio, DSE, weight geometry (defaults) | {m['all']:.4f} | "
          f"{ratio_all:.2f}x | {res['median_loop_s']['all']:.4f} | {loop_all:.2f}x |\n"
          f"| the same without DSE | {m['all-dse']:.4f} | {ratio_nodse:.2f}x | {res['median_loop_s']['all-dse']:.4f} | "
          f"{loop_nodse:.2f}x |\n"
          f"| + NALSM branching factor (recurrent projection wired, one estimate per second) | {m['all+nalsm']:.4f} | "
          f"{ratio_nalsm:.2f}x | {res['median_loop_s']['all+nalsm']:.4f} | {loop_nalsm:.2f}x |\n\n"
          "run() returns once the last windows' measures and the DSE of t = 1000 ms (500 samples) are handed "
          "in; the simulation loop ends when every chunk is simulated and handed to the monitors. Background "
          f"load (cores used by other processes) per repetition: {res['background_cores']}.\n\n"
          "Peak RSS with all monitors, 60 s simulated:\n\n"
          "| raw spike recorders | at 10 s (MB) | at 30 s (MB) | at 60 s (MB) | 60 s / 10 s |\n|---|---|---|---|---|\n")
    for k, lab in (("gallery", "as in the gallery (keep every spike)"), ("capped", "capped at 100 000 events")):
        r = mem[k]
        md += (f"| {lab} | {r['rss_mb_10s']:.0f} | {r['rss_mb_30s']:.0f} | {r['rss_mb_60s']:.0f} | "
               f"{r['rss_mb_60s'] / r['rss_mb_10s']:.2f} |\n")
    md += "\nCommand: `python -m benchmarks.monitors`\n"
    (out / "monitors.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
