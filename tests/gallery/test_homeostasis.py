"""gallery/homeostasis.json: synaptic scaling restores the target rate after the input rate doubles.

Protocol (fixed before any seed ran):

Design: 100 current-based LIF neurons (tau_m 20 ms, E_L -65 mV, threshold -50 mV, reset
-65 mV, refractory 2 ms, exponential Euler, dt 0.1 ms), each with 200 of 1000 Poisson inputs
(fixed in-degree, exponential current synapses, tau 5 ms, 1.2 mV: a mean drive of 12 mV,
below threshold, before the shift and 24 mV, above it, after) whose rate switches from
10 Hz to 20 Hz at t = 10 s (``stimulus.poisson_switch``), 30 s in all. Homeostasis:
``plasticity.scaling`` on the input synapses (target 5 Hz, rate estimate over 1 s, 0.5 per
second, every 10 ms, weights in [0, 10] mV). The control is the same JSON with the scaling
node and its edge removed (:func:`design`). Seeds 1, 2, 3; each variant paired by seed
(same connectivity, same input spikes).

Claims, on the population rate (spikes / neurons / time):
1. without homeostasis the rate after the shift stays far from the target: > 2 x target
   over [25, 30) s, in every seed;
2. with homeostasis the rate returns to the target: within 20 % of 5 Hz over [25, 30) s,
   in every seed;
3. the shift perturbs the homeostatic network too: > 2 x target over [10, 11) s;
4. before the shift scaling holds the target: within 20 % of 5 Hz over [7, 10) s.

Measured (seeds 1-3): all four hold. Control: 0.8-1.1 Hz before the shift (fixed weights
of 1.2 mV), 46.4-47.1 Hz over [25, 30) s. With scaling: 5.01-5.18 Hz over [7, 10) s,
21.2-22.3 Hz over [10, 11) s (~40 Hz in the first 0.5 s, then the weights are cut past
the mark: the rate estimate lags by its 1-s time constant, so the rate dips to 0 for ~2 s
and rings back), 5.03-5.11 Hz over [25, 30) s; mean input weight 1.2 -> 0.66-0.68 mV.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from engine import Simulation
from tests.helpers import ROOT

SEEDS = (1, 2, 3)
TARGET_HZ = 5.0
WINDOWS_MS = {"before": (7000.0, 10000.0), "shift": (10000.0, 11000.0), "late": (25000.0, 30000.0)}
HOMEOSTASIS_NODES = ("scaling",)


def design(variant: str, seed: int = 1) -> dict:
    """The gallery design ('homeostasis') or its control with the homeostasis nodes removed ('control')."""
    d = json.loads((ROOT / "gallery" / "homeostasis.json").read_text())
    d["meta"]["seed"] = seed
    if variant == "control":
        d["nodes"] = [n for n in d["nodes"] if n["id"] not in HOMEOSTASIS_NODES]
        d["edges"] = [e for e in d["edges"] if e["source"] not in HOMEOSTASIS_NODES
                      and e["target"] not in HOMEOSTASIS_NODES]
    elif variant != "homeostasis":
        raise ValueError(variant)
    return d


def run(variant: str, seed: int) -> dict:
    sim = Simulation(design(variant, seed))
    sim.run()
    t, _ = sim.spikes("pop_spikes")
    n = sim.graph.size("pop")
    rates = {k: float(np.sum((t >= a) & (t < b)) / n / ((b - a) * 1e-3)) for k, (a, b) in WINDOWS_MS.items()}
    _, W = sim.weights("weights")
    return {"variant": variant, "seed": seed, **rates, "mean_w_start": float(W[0].mean()),
            "mean_w_end": float(W[-1].mean()), "rate_trace": sim.monitor_summary()["rate"]}


@pytest.fixture(scope="module")
def result():
    return {(v, s): run(v, s) for s in SEEDS for v in ("homeostasis", "control")}


def test_control_is_the_design_without_the_homeostasis_nodes():
    full, ctl = design("homeostasis"), design("control")
    assert {n["id"] for n in full["nodes"]} - {n["id"] for n in ctl["nodes"]} == set(HOMEOSTASIS_NODES)
    assert len(full["edges"]) - len(ctl["edges"]) == 1


def test_without_homeostasis_the_rate_stays_far_from_target(result):
    for s in SEEDS:
        r = result["control", s]
        assert r["late"] > 2 * TARGET_HZ, r


def test_with_homeostasis_the_rate_returns_to_target(result):
    for s in SEEDS:
        r = result["homeostasis", s]
        assert abs(r["late"] - TARGET_HZ) < 0.2 * TARGET_HZ, r


def test_the_shift_perturbs_the_homeostatic_network(result):
    for s in SEEDS:
        r = result["homeostasis", s]
        assert r["shift"] > 2 * TARGET_HZ, r


def test_before_the_shift_scaling_holds_the_target(result):
    for s in SEEDS:
        r = result["homeostasis", s]
        assert abs(r["before"] - TARGET_HZ) < 0.2 * TARGET_HZ, r
