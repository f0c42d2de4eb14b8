"""``python -m benchmarks.torch_batch``: batched trials on CPU torch against numba run trial by trial.

COBA-4000 (the gallery network, no voltage recorder): the torch backend with B = 32
trials in one run, the torch backend with B = 1, and numba running 32 trials one after
the other (32 Simulations with seeds 1..32, kernel compiled once; run time only).
Throughput is neuron-steps per second (trials x neurons x steps / wall time of the runs),
reported with ratios to numba x 32. Torch and numba use one thread each by default.

COBA has no random input, so its trials differ only where randomness enters (none
here): the batch measures throughput, not trial-to-trial variability. Timings depend on
the machine and its background load (printed with the table).
"""
from __future__ import annotations

import argparse
import json
import os
import time


def _coba(seed: int = 1) -> dict:
    from benchmarks.networks import coba
    return coba(4000, seed)


def measure(ms: float, trials: int, threads: int) -> dict:
    import torch

    from engine.simulation import Simulation

    torch.set_num_threads(threads)
    n = 4000
    out = {"ms": ms, "trials": trials, "threads": threads, "load_before": os.getloadavg()[0]}
    steps = None

    # numba, trial by trial (warm kernel: the first Simulation compiles or loads it)
    Simulation(_coba(1), backend="numba").run(1.0)
    wall = 0.0
    for s in range(1, trials + 1):
        sim = Simulation(_coba(s), backend="numba")
        t = time.perf_counter()
        sim.run(ms)
        wall += time.perf_counter() - t
        steps = sim.t_step
    out["numba_x%d" % trials] = {"wall_s": wall, "neuron_steps_per_s": trials * n * steps / wall}

    for b in (1, trials):
        sim = Simulation(_coba(1), backend="torch", trials=b)
        sim.run(1.0)  # first-call costs out of the timing
        t = time.perf_counter()
        sim.run(ms)
        wall = time.perf_counter() - t
        out[f"torch_B{b}"] = {"wall_s": wall, "neuron_steps_per_s": b * n * steps / wall,
                              "rate_exc_hz_trial0": sim.population_summary()["exc"]["rate_hz"]}
    out["load_after"] = os.getloadavg()[0]
    return out


def table(r: dict) -> str:
    base = r[f"numba_x{r['trials']}"]["neuron_steps_per_s"]
    rows = [f"COBA-4000, {r['ms']:g} ms simulated per trial, {r['threads']} thread(s), "
            f"load avg {r['load_before']:.1f} -> {r['load_after']:.1f}", "",
            "| run | wall (s) | neuron-steps/s | ratio to numba x%d |" % r["trials"], "|---|---:|---:|---:|"]
    for k in (f"numba_x{r['trials']}", "torch_B1", f"torch_B{r['trials']}"):
        v = r[k]
        rows.append(f"| {k} | {v['wall_s']:.2f} | {v['neuron_steps_per_s']:.3g} | {v['neuron_steps_per_s'] / base:.3g} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ms", type=float, default=100.0, help="simulated time per trial (ms)")
    p.add_argument("--trials", type=int, default=32)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--json", default=None, help="also write the measurements to this JSON file")
    a = p.parse_args(argv)
    r = measure(a.ms, a.trials, a.threads)
    print(table(r))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
