"""``python -m benchmarks.torch_cuda``: COBA on a CUDA GPU at N = 4k, 64k and 256k (in-degree 80).

The torch backend on ``cuda`` (float32 and float64), one trial, the gallery COBA scaled
to N neurons at a fixed in-degree of 80 (``benchmarks.networks.coba``). Per size: the
realtime factor (wall seconds per simulated second, run only: building, the first call
and CUDA's lazy initialisation are excluded by a warm-up), neuron-steps/s, synaptic
events/s and the mean rates (to show the same network ran). Writes
``benchmarks/results/torch_cuda.{json,md}``.

Published GPU figures to set these against (same network family, other hardware):
Brian2CUDA and Brian2GeNN (Alevi et al. 2022, Front. Neuroinform. 16:883700, the COBAHH
and Brunel–Hakim benchmarks) and GeNN (Knight & Nowotny 2018, Front. Neurosci.
12:941). Compare realtime factors at equal N and in-degree only, and name the GPU.

On a machine without CUDA it says so and exits with status 0 having measured nothing
(the project's CI has no GPU; this benchmark is ready for a machine that has one).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results"


def measure(n: int, ms: float, dtype: str, device: str = "cuda") -> dict:
    import torch

    from benchmarks.networks import coba
    from engine.simulation import Simulation

    sim = Simulation(coba(n, 1), backend="torch", device=device, dtype=dtype)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    sim.run(10.0)  # CUDA context, kernels, caches: out of the timing
    sync()
    t0_steps = sim.t_step
    t = time.perf_counter()
    sim.run(ms)
    sync()
    wall = time.perf_counter() - t
    steps = sim.t_step - t0_steps
    pops = sim.population_summary()
    spikes = sum(p["n_spikes"] for p in pops.values())
    return {"n": n, "dtype": dtype, "sim_ms": ms, "wall_s": wall, "realtime_factor": wall / (ms * 1e-3),
            "neuron_steps_per_s": n * steps / wall, "syn_events_per_s": spikes * 80 / wall,
            "rates_hz": {k: v["rate_hz"] for k, v in pops.items()},
            "gpu": torch.cuda.get_device_name(0) if device == "cuda" else "cpu"}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="4000,64000,256000")
    p.add_argument("--ms", type=float, default=1000.0, help="simulated time per size (ms)")
    p.add_argument("--dtypes", default="float32,float64")
    a = p.parse_args(argv)
    try:
        import torch
        ok = torch.cuda.is_available()
    except ImportError:
        ok = False
    if not ok:
        print("no CUDA device here: nothing measured (run this on a machine with an NVIDIA GPU)", file=sys.stderr)
        return 0
    rows = [measure(int(n), a.ms, dt) for n in a.sizes.split(",") for dt in a.dtypes.split(",")]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "torch_cuda.json").write_text(json.dumps(rows, indent=1) + "\n")
    md = [f"COBA on {rows[0]['gpu']}, torch backend, 1 trial, {a.ms:g} ms simulated per size", "",
          "| N | dtype | realtime factor | neuron-steps/s | synaptic events/s | rates E/I (Hz) |",
          "|---:|---|---:|---:|---:|---|"]
    for r in rows:
        md.append(f"| {r['n']} | {r['dtype']} | {r['realtime_factor']:.3f} | {r['neuron_steps_per_s']:.3g} | "
                  f"{r['syn_events_per_s']:.3g} | {r['rates_hz'].get('exc', 0):.1f} / {r['rates_hz'].get('inh', 0):.1f} |")
    md += ["", "Command: `python -m benchmarks.torch_cuda`"]
    (OUT / "torch_cuda.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
