"""``python -m benchmarks.sweep_scaling``: wall time of the NALSM w_astro sweep on 1 vs 2 local Dask workers.

Protocol (fixed before running): ``gallery/nalsm_sweep.json`` as shipped (6 values of
astro.w_astro x seeds 1-3 = 18 points of 20 s: 1000 digit samples; ``--duration-ms`` shortens
them), run with ``engine.sweep.Sweep`` on a fresh local cluster of
1 and then 2 worker processes (one thread each), each into its own empty catalog (nothing
reused), in the order 1, 2, 2, 1, ... for ``--reps`` pairs. Kernels are compiled once
before timing (the driver's measure check builds the design). Timed: local cluster start,
``Sweep.run`` (every point, results written to the catalog) and cluster shutdown; ``run_s``
is ``Sweep.run`` alone. The ratio is wall(2 workers) / wall(1 worker) per pair; its median
is reported, with the load the rest of the machine put on it during each run:
``background_cores`` = system busy CPU per wall second minus the sweep's own (the driver's,
nannies' and workers' CPU time per wall second), and the 1-minute load average before and
after. The points' results must be identical across the runs (pure functions of design,
parameters and seed): ``identical_results``. Reading: on 2 cores with no other load, 2
workers should take <= 0.6x the time of 1; a machine whose cores are already busy cannot
show it (the sweep's share of the CPU does not grow with its worker count).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics as st
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _busy(c) -> float:
    return sum(getattr(c, k) for k in ("user", "nice", "system", "irq", "softirq", "steal") if hasattr(c, k))


def _cpu(p) -> float:
    c = p.cpu_times()
    return c.user + c.system


def one(design, workers: int) -> dict:
    import logging

    import psutil
    from distributed import Client, LocalCluster

    from engine.catalog import Catalog
    from engine.sweep import Sweep

    me = psutil.Process()
    with tempfile.TemporaryDirectory(prefix="gliaflow-sweep-bench-") as tmp:
        cat = Catalog(Path(tmp) / "cat.sqlite")
        sw = Sweep(design, catalog=cat, resume=False, check_measures=False)
        load0 = os.getloadavg()[0]
        c0, own0 = psutil.cpu_times(), _cpu(me)
        t0 = time.perf_counter()
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               scheduler_kwargs={"dashboard_address": ":0"}, silence_logs=logging.ERROR)
        client = Client(cluster)
        res = sw.run(client=client)
        kids = sum(_cpu(k) for k in me.children(recursive=True))  # nannies and workers, before they exit
        client.close()
        cluster.close()
        wall = time.perf_counter() - t0
        c1, own = psutil.cpu_times(), _cpu(me) - own0 + kids
        load1 = os.getloadavg()[0]
        assert res.complete, res
        busy = (_busy(c1) - _busy(c0)) / wall
        measures = {p["point_key"]: {k: v for k, v in p["measures"].items() if k != "wall_s"}
                    for p in cat.sweep_points(res.sweep_id)}
        cat.close()
    return {"workers": workers, "wall_s": wall, "run_s": res.wall_s, "points": res.total,
            "point_s_sum": sum(p.wall_s or 0.0 for p in res.points), "own_cpu_s": own,
            "system_busy_cores": busy, "background_cores": max(0.0, busy - own / wall),
            "loadavg_1min_before": load0, "loadavg_1min_after": load1, "_measures": measures}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration-ms", type=float, default=None, help="shorten each point (default: the design's 20000)")
    ap.add_argument("--reps", type=int, default=1, help="pairs of (1 worker, 2 workers) runs")
    ap.add_argument("--out", default=str(HERE / "results" / "sweep_scaling"), help="results path without suffix")
    args = ap.parse_args(argv)

    from engine.design import load_design
    from engine.sweep import Sweep

    design = load_design(ROOT / "gallery" / "nalsm_sweep.json")
    if args.duration_ms is not None:
        design.doc["sweep"]["duration_ms"] = args.duration_ms
    duration = float(design.doc["sweep"].get("duration_ms", design.meta["duration_ms"]))
    with tempfile.TemporaryDirectory() as tmp:  # compile the kernels and check the measures once
        Sweep(design, catalog=Path(tmp) / "warm.sqlite")
    runs = []
    for r in range(args.reps):
        for w in ((1, 2) if r % 2 == 0 else (2, 1)):
            x = one(design, w)
            runs.append(x)
            print(f"workers {w}: {x['wall_s']:.1f} s  (background {x['background_cores']:.2f} cores, "
                  f"load {x['loadavg_1min_before']:.1f} -> {x['loadavg_1min_after']:.1f})", flush=True)
    ref = runs[0]["_measures"]
    identical = all(x["_measures"] == ref for x in runs)
    for x in runs:
        del x["_measures"]
    pairs = []
    for r in range(args.reps):
        a, b = runs[2 * r], runs[2 * r + 1]
        one_w, two_w = (a, b) if a["workers"] == 1 else (b, a)
        pairs.append(two_w["wall_s"] / one_w["wall_s"])
    out = {"benchmark": "sweep_scaling", "design": "gallery/nalsm_sweep.json",
           "points": runs[0]["points"], "duration_ms": duration, "reps": args.reps,
           "ratio_2_over_1": st.median(pairs), "ratios": pairs, "identical_results": identical,
           "cpu_count": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
           "date": time.strftime("%Y-%m-%d %H:%M"), "runs": runs}
    base = Path(args.out)
    base.parent.mkdir(parents=True, exist_ok=True)
    base.with_suffix(".json").write_text(json.dumps(out, indent=1) + "\n")
    lines = ["# Sweep scaling: NALSM w_astro sweep on 1 vs 2 local Dask workers", "",
             f"`python -m benchmarks.sweep_scaling --reps {args.reps}"
             f"{f' --duration-ms {args.duration_ms:g}' if args.duration_ms is not None else ''}` "
             f"({out['date']}, {out['cpu_count']} cores, Python {out['python']}). {out['points']} points "
             f"(6 w_astro values x 3 seeds) of {duration / 1000:g} s simulated each; wall time of "
             "local cluster start, `Sweep.run` and cluster stop (run = `Sweep.run` alone).", "",
             "| workers | wall (s) | run (s) | sweep CPU (s) | system busy (cores) | background load (cores) "
             "| load avg before -> after |",
             "|---|---|---|---|---|---|---|"]
    for x in runs:
        lines.append(f"| {x['workers']} | {x['wall_s']:.1f} | {x['run_s']:.1f} | {x['own_cpu_s']:.1f} "
                     f"| {x['system_busy_cores']:.2f} | {x['background_cores']:.2f} "
                     f"| {x['loadavg_1min_before']:.1f} -> {x['loadavg_1min_after']:.1f} |")
    lines += ["", f"**wall(2 workers) / wall(1 worker) = {out['ratio_2_over_1']:.2f}** (median of "
              f"{len(pairs)} pair(s): {', '.join(f'{p:.2f}' for p in pairs)}); results identical across runs: "
              f"{identical}.", "",
              "Background load is the CPU the rest of the machine used during each run; on a shared "
              "machine it inflates both walls and pushes the ratio toward 1. Rerun on a quiet machine "
              "for the figure to quote (expected <= 0.6 on 2 free cores)."]
    base.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"ratio {out['ratio_2_over_1']:.2f}; wrote {base.with_suffix('.json')} and {base.with_suffix('.md')}")
    return out


if __name__ == "__main__":
    main()
