"""gallery/stdp_fields.json: STDP's competition makes correlated inputs win and the weights bimodal.

Protocol (fixed before any seed ran):

Model: Song, Miller & Abbott (2000) with the parameters of Brian2's example of that model
(``examples/synapses/STDP.py``): LIF neurons, tau_m 10 ms, E_L -74 mV, threshold -54 mV,
reset -60 mV, no refractory period; excitatory synapses as currents with the conductance
linearised at the driving force E_e - v_r = 60 mV (so gmax = 0.01 g_L is 0.6 mV),
exponential with tau 5 ms; 1000 Poisson inputs at 15 Hz, all-to-all onto 10 neurons
(independent replicates sharing the inputs), initial weights uniform in [0, gmax]. Additive
all-to-all pair STDP: tau+ = tau- = 20 ms, A+ = 0.01 gmax, A- = 1.05 A+ (depression
dominates in integral), hard bounds [0, gmax], simultaneous spikes count pre-first. dt
0.1 ms. Correlations (Kuhn, Aertsen & Rotter 2003, multiple interaction process): inputs
0-199 share the spikes of one mother train (pairwise count correlation c = 0.2, rate
unchanged); inputs 200-999 are independent. Duration 100 s (the design's full length, as
in Brian's example; no shortening needed: ~6 s wall per run). Seeds 1, 2, 3.

Claims, on the final weights (w / gmax):
1. correlated inputs win: in every neuron of every seed, mean(w of inputs 0-199) minus
   mean(w of inputs 200-999) >= 0.5;
2. the distribution turns bimodal (from uniform: 10 % below 0.1, 10 % above 0.9, 50 % in
   [0.25, 0.75]): in every seed, >= 30 % of all weights below 0.1, >= 15 % above 0.9 and
   <= 20 % in [0.25, 0.75];
3. Song et al.'s competition without correlations (c = 0, seed 1): claim 2's bimodality;
4. the weight monitors show it while it happens: the middle fraction of monitor.weights'
   snapshots (every 1 s) falls from the first (t = 0) to the last (100 s), and
   monitor.weight_geometry analysed every snapshot (its mean weight is the final one's, its
   drift from the initial weights exceeds 0.1).

Measured (seeds 1-3): claim 1 holds in every neuron and seed (margins 0.72-0.77; output
rate 67-71 Hz). Claim 2 does not: the final weights are U-shaped (below 0.1: 23-29 %,
above 0.9: 21-23 %, in [0.25, 0.75]: 25-27 %, i.e. both ends 4-6 times denser than the
middle) but miss the thresholds fixed above, and it is not a matter of run length: seed 1
continued to 600 s stays at 26-29 % / 21-22 % / 24-26 % from 100 s on (the 800
uncorrelated synapses keep a broad stationary spread while the correlated group drives the
neurons). Claim 3 does not hold at 100 s either (28 % / 17 % / 28 %); it does later (seed
1: 31 / 20 / 22 % at 200 s, 33 / 21 / 18 % at 300 s, 33 / 21 / 17 % at 600 s), and Brian2's own example of this
model (1 neuron, one run, its PoissonGroup and event-driven STDP) gives the same at 100 s:
28 % / 18 % / 27 %, post rate 31 Hz (here 33 Hz). Claims 2 and 3 are strict xfails: if a
change makes them hold, the tests say so. Claim 4 holds.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from engine import Simulation
from tests.helpers import ROOT

SEEDS = (1, 2, 3)
GMAX = 0.6
N_CORR = 200


def design(seed: int = 1, correlation: float | None = None) -> dict:
    d = json.loads((ROOT / "gallery" / "stdp_fields.json").read_text())
    d["meta"]["seed"] = seed
    if correlation is not None:
        next(n for n in d["nodes"] if n["id"] == "inputs")["data"]["correlation"] = correlation
    return d


def fractions(w: np.ndarray) -> dict:
    x = np.asarray(w) / GMAX
    return {"low": float(np.mean(x < 0.1)), "high": float(np.mean(x > 0.9)),
            "mid": float(np.mean((x >= 0.25) & (x <= 0.75)))}


def run(seed: int, correlation: float | None = None) -> dict:
    sim = Simulation(design(seed, correlation))
    sim.run()
    pre, post, w = sim.connectivity("syn")
    x = w / GMAX
    n_post = sim.graph.size("neuron")
    margins = [float(x[(post == i) & (pre < N_CORR)].mean() - x[(post == i) & (pre >= N_CORR)].mean())
               for i in range(n_post)]
    t_snap, W = sim.weights("weights")
    s = sim.summary()
    return {"seed": seed, "margins": margins, "final": fractions(w), "mean_w": float(w.mean()),
            "snap_t_ms": t_snap, "first_snap": fractions(W[0]), "last_snap": fractions(W[-1]),
            "out_rate_hz": s["populations"]["neuron"]["rate_hz"], "geometry": s["monitors"]["geometry"]}


@pytest.fixture(scope="module")
def correlated():
    return [run(s) for s in SEEDS]


@pytest.fixture(scope="module")
def uncorrelated():
    return run(1, correlation=0.0)


def test_correlated_inputs_win_in_every_neuron_and_seed(correlated):
    for r in correlated:
        assert min(r["margins"]) >= 0.5, (r["seed"], r["margins"])


@pytest.mark.xfail(strict=True, reason="U-shaped but short of the fixed thresholds: below 0.1 23-29 % (>= 30 %), "
                   "middle 25-27 % (<= 20 %); stationary from 100 s to 600 s (see the module docstring)")
def test_weight_distribution_turns_bimodal(correlated):
    for r in correlated:
        f = r["final"]
        assert f["low"] >= 0.30 and f["high"] >= 0.15 and f["mid"] <= 0.20, (r["seed"], f)


@pytest.mark.xfail(strict=True, reason="not yet at 100 s: below 0.1 28 %, middle 28 % (Brian2's example of the "
                   "model: 28 % / 27 %); holds from ~300 s on (see the module docstring)")
def test_competition_alone_makes_it_bimodal_without_correlations(uncorrelated):
    f = uncorrelated["final"]
    assert f["low"] >= 0.30 and f["high"] >= 0.15 and f["mid"] <= 0.20, f


def test_weight_monitors_show_it_while_it_happens(correlated):
    r = correlated[0]
    assert r["snap_t_ms"][0] == 0.0 and r["snap_t_ms"][-1] == pytest.approx(100_000.0)
    assert len(r["snap_t_ms"]) == 101
    assert r["last_snap"]["mid"] < r["first_snap"]["mid"], (r["first_snap"], r["last_snap"])
    assert r["last_snap"] == r["final"]
    g = r["geometry"]
    assert g["points"] == 101 and g["mean_weight"] == pytest.approx(r["mean_w"]) and g["drift"] > 0.1, g
