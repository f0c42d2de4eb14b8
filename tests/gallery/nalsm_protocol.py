"""The NALSM mechanism experiment (issue 5, acceptance 3): protocol fixed before any seed ran.

Design: ``gallery/nalsm.json`` — 1000 NALSM LIF neurons (800 E / 200 I, randomly placed on
one 10x10x10 lattice), distance-dependent liquid connectivity (C: EE 0.2, EI 0.1, IE 0.3,
II 0.05, lambda 3), every weight starting at its bound (E +3, I -3, input +-3), 64 digit
inputs (scikit-learn's 8x8 digits, Bernoulli rate code, 500 Hz at full intensity: about 10
input spikes per ms, as NALSM's normalised MNIST code gives), 15 % of input x liquid pairs
connected with random sign, NALSM STDP on every liquid-afferent synapse (A+ = 0.15,
trace tau 10 ms, bounds E [0, 3], I [-3, 0], input [-3, 3]), dt 1 ms.

Variants (paired by seed: same connectivity, same input spikes):
- ``nalsm``: the global astrocyte (tau 100 ms, w_astro 0.015, b = A(0) = 0.15) sets A- of
  every rule from liquid minus input spike counts;
- ``stdp``: the same STDP with A- = A+ = 0.15 fixed and no astrocyte (NALSM's LSM+STDP).

Protocol: a shortened initialisation phase (NALSM: 50 000 samples of 20 ms, STDP and
astrocyte on, no resets): 250 samples x 20 ms = 5 s continuously. The branching factor is
NALSM's definition (``engine.analysis.branching_factor_nalsm``: targets' spikes in
[t+1, t+5) over sources' spikes in [t-4, t), per liquid spike, mean per neuron, nanmean)
over the liquid's spikes in the last second [4000, 5000) ms, on the liquid's structural
connectivity (all four liquid projections). Seeds 1..5. Expected (paper, 1000 neurons,
MNIST): NALSM ~1.25, LSM+STDP ~1.42, i.e. the astrocyte's |BF - 1| is smaller.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SEEDS = (1, 2, 3, 4, 5)
WINDOW_MS = (4000.0, 5000.0)


def design(variant: str, seed: int) -> dict:
    d = json.loads((ROOT / "gallery" / "nalsm.json").read_text())
    d["meta"]["seed"] = seed
    if variant == "stdp":
        d["nodes"] = [n for n in d["nodes"] if n["id"] != "astro"]
        d["edges"] = [e for e in d["edges"] if "astro" not in (e["source"], e["target"])]
    elif variant != "nalsm":
        raise ValueError(variant)
    return d


def liquid_connectivity(sim) -> tuple[np.ndarray, np.ndarray]:
    """Pre/post indices of all liquid->liquid synapses, E as 0..799 and I as 800..999."""
    off = {"E": 0, "I": sim.graph.size("E")}
    pre_all, post_all = [], []
    for pid in ("EE", "EI", "IE", "II"):
        info = sim.plan.node_info[pid]
        indptr = sim.plan.buffers[f"{pid}.indptr"]
        post = sim.plan.buffers[f"{pid}.post"]
        pre = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        pre_all.append(pre + off[info["pre"]])
        post_all.append(post.astype(np.int64) + off[info["post"]])
    return np.concatenate(pre_all), np.concatenate(post_all)


def run(variant: str, seed: int) -> dict:
    from engine import Simulation
    from engine.analysis import branching_factor_nalsm

    sim = Simulation(design(variant, seed))
    sim.run()
    tE, iE = sim.spikes("E_spikes")
    tI, iI = sim.spikes("I_spikes")
    t = np.concatenate([tE, tI])
    i = np.concatenate([iE, iI + sim.graph.size("E")])
    order = np.argsort(t, kind="stable")
    pre, post = liquid_connectivity(sim)
    n = sim.graph.size("E") + sim.graph.size("I")
    bf = branching_factor_nalsm(t[order], i[order], pre, post, n, *WINDOW_MS)
    m = (t >= WINDOW_MS[0]) & (t < WINDOW_MS[1])
    ee = sim.plan.buffers["EE.w"]
    out = {"variant": variant, "seed": seed, "bf": float(bf),
           "liquid_rate_hz": float(m.sum() / n / ((WINDOW_MS[1] - WINDOW_MS[0]) / 1000.0)),
           "mean_EE_w": float(ee.mean())}
    if variant == "nalsm":
        out["astrocyte_a"] = float(sim.plan.buffers["astro.a"][0])
    return out


def experiment(seeds=SEEDS) -> dict:
    rows = [run(v, s) for s in seeds for v in ("nalsm", "stdp")]
    by = {v: [r for r in rows if r["variant"] == v] for v in ("nalsm", "stdp")}
    d_nalsm = np.array([abs(r["bf"] - 1.0) for r in by["nalsm"]])
    d_stdp = np.array([abs(r["bf"] - 1.0) for r in by["stdp"]])
    return {"rows": rows, "bf_nalsm": [r["bf"] for r in by["nalsm"]], "bf_stdp": [r["bf"] for r in by["stdp"]],
            "closer_to_1_in": int(np.sum(d_nalsm < d_stdp)), "n_seeds": len(seeds),
            "mean_paired_diff_abs_bf_minus_1": float(np.mean(d_nalsm - d_stdp))}


if __name__ == "__main__":
    print(json.dumps(experiment(), indent=1))
