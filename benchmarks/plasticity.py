"""``python -m benchmarks.plasticity``: what plasticity costs on COBA-4000.

Variants of ``gallery/coba.json`` (1 s, dt 0.1 ms, one thread):

- ``static``: the gallery design (one uniform weight per projection, a kernel constant);
- ``static_array``: the same with per-synapse E→E weights (a weight array, as every
  trained projection has), to separate the cost of the array from the cost of learning;
- ``stdp``: pair STDP (all-to-all, hard bounds [0, 1.2] around the gallery's 0.6) on all
  E→E synapses;
- ``triplet``: triplet STDP on all E→E synapses.

Each measurement runs in a fresh process (kernel cache warm, one warm-up second first),
variants alternate within a repetition (A B C D, A B C D, ...) so machine drift cancels,
and the ratios are medians of per-repetition ratios to ``static``. Mean rates are reported
to show what ran (learning changes them). Writes ``benchmarks/results/plasticity.{json,md}``.
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
VARIANTS = ("static", "static_array", "stdp", "triplet")


def design(variant: str) -> dict:
    d = json.loads((ROOT / "gallery" / "coba.json").read_text())
    ee = next(n for n in d["nodes"] if n["id"] == "ee")
    if variant == "static_array":
        ee["data"]["weight_gl"] = {"dist": "uniform", "low": 0.6, "high": 0.6 + 1e-12}
    elif variant in ("stdp", "triplet"):
        if variant == "stdp":
            data = {"a_plus": 0.006, "a_minus": 0.0063, "tau_plus_ms": 20.0, "tau_minus_ms": 20.0,
                    "w_min": 0.0, "w_max": 1.2}
            key = "plasticity.stdp"
        else:
            data = {"w_min": 0.0, "w_max": 1.2}
            key = "plasticity.triplet"
        d["nodes"].append({"id": "rule", "type": key, "position": {"x": 0, "y": 0}, "data": data})
        d["edges"].append({"id": "e-rule", "source": "rule", "sourceHandle": "rule", "target": "ee",
                           "targetHandle": "rule"})
    return d


def child(variant: str) -> dict:
    from engine import Simulation
    sim = Simulation(design(variant))
    sim.run(1000.0)  # warm-up: kernel load/compile
    sim.reset()
    t = time.perf_counter()
    sim.run(1000.0)
    wall = time.perf_counter() - t
    s = sim.summary()
    rates = {k: v.get("rate_hz") for k, v in s.get("populations", {}).items()}
    return {"variant": variant, "wall_s": wall, "kernel_s": sim.kernel_s, "rates_hz": rates}


def run_child(variant: str) -> dict:
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "benchmarks.plasticity", "--child", variant], capture_output=True,
                       text=True, env=env, cwd=ROOT)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.plasticity")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--child")
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(child(a.child)))
        return 0
    runs = {v: [] for v in VARIANTS}
    for _ in range(a.reps):
        for v in VARIANTS:
            runs[v].append(run_child(v))
    wall = {v: [r["wall_s"] for r in rs] for v, rs in runs.items()}
    ratio = {v: st.median([x / y for x, y in zip(wall[v], wall["static"])]) for v in VARIANTS}
    res = {"reps": a.reps, "wall_s": wall, "median_wall_s": {v: st.median(w) for v, w in wall.items()},
           "ratio_to_static": ratio, "rates_hz": {v: rs[-1]["rates_hz"] for v, rs in runs.items()},
           "cpu_count": os.cpu_count()}
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "plasticity.json").write_text(json.dumps(res, indent=1) + "\n")
    m = res["median_wall_s"]
    labels = {"static": "gallery/coba.json (static, uniform weight)",
              "static_array": "static, per-synapse E→E weights",
              "stdp": "pair STDP on all E→E synapses", "triplet": "triplet STDP on all E→E synapses"}
    md = (f"Plasticity on COBA-4000 (1 s, float64, 1 thread, median of {a.reps} alternating repetitions, "
          f"{os.cpu_count()} cores):\n\n| variant | run wall time (s) | vs. static | exc / inh rate (Hz) |\n"
          "|---|---|---|---|\n")
    for v in VARIANTS:
        r = res["rates_hz"][v]
        md += (f"| {labels[v]} | {m[v]:.4f} | {ratio[v]:.2f}x | "
               f"{r.get('exc', float('nan')):.2f} / {r.get('inh', float('nan')):.2f} |\n")
    md += "\nCommand: `python -m benchmarks.plasticity`\n"
    (out / "plasticity.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
