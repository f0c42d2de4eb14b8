"""The Tempotron (Gütig & Sompolinsky 2006) on its classic task, and its potential against
the defining kernel sum; the pattern stimulus it learns from."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine import Simulation
from tests.helpers import design, node


def tempotron_design(P=40, epochs=20, lr=3e-3, seed=1, **pat):
    return design([node("pat", "stimulus.patterns", n=100, n_patterns=P, rate_hz=5.0, sample_ms=500.0,
                        epochs=epochs, test_epochs=1, **pat),
                   node("tp", "readout.tempotron", learning_rate=lr, eval_every=P)],
                  [("pat.spikes", "tp.spikes"), ("pat.label", "tp.label")], dt_ms=1.0,
                  duration_ms=500.0 * P * (epochs + 1), seed=seed)


def test_tempotron_learns_a_separable_two_class_task():
    """Protocol (fixed first): 40 frozen Poisson patterns (100 afferents, 5 Hz, 500 ms),
    random balanced labels (load P/N = 0.4, far below the capacity ~3), lambda 3e-3, 20
    epochs, then one held-out epoch without learning. Required: >= 95 % on it."""
    sim = Simulation(tempotron_design())
    sim.run()
    f = sim.summary()["monitors"]["tp"]
    assert f["n_train"] == 800 and f["n_test"] == 40
    assert f["test_accuracy"] >= 0.95, f
    a = sim.graph.nodes["tp"].type.arrays(sim.graph.nodes["tp"], sim)
    tr = a["train_accuracy"][~np.isnan(a["train_accuracy"])]
    assert tr[0] < 0.9 and tr[-1] >= 0.95  # it learned (chance is 0.5 at the start)


def test_potential_equals_the_kernel_sum():
    """V(t) = sum_i w_i sum_{t_i < t} V0 (exp(-(t - t_i)/tau) - exp(-(t - t_i)/tau_s)), exactly."""
    from components.readout_tempotron import Tempotron

    class St:
        dt = 0.5

    class Nd:
        values = {"tau_ms": 15.0, "tau_s_ms": 3.75}

    rng = np.random.default_rng(0)
    raster = (rng.random((200, 7)) < 0.05).astype(float)
    w = rng.normal(size=(7, 2))
    V = Tempotron.potential(Nd, St, raster, w)
    t_peak = 15 * 3.75 * math.log(4) / (15 - 3.75)
    v0 = 1 / (math.exp(-t_peak / 15) - math.exp(-t_peak / 3.75))
    s, i = np.nonzero(raster)
    for t in (0, 1, 13, 57, 199):
        u = (t - s[s < t]) * St.dt
        k = v0 * (np.exp(-u / 15) - np.exp(-u / 3.75))
        direct = np.array([np.sum(k * w[i[s < t], c]) for c in range(2)])
        assert np.allclose(V[t], direct, rtol=1e-10, atol=1e-12)
        assert np.allclose(Tempotron.kernel_at(Nd, St, raster, t) @ w, direct, rtol=1e-10, atol=1e-12)
    assert max(v0 * (math.exp(-x / 15) - math.exp(-x / 3.75)) for x in np.linspace(0, 40, 4001)) == \
        pytest.approx(1.0, abs=1e-6)


def test_patterns_are_frozen_and_labels_balanced():
    sim = Simulation(tempotron_design(P=6, epochs=2))
    sched = sim.plan.node_info["pat"]["schedule"]
    assert sorted(np.bincount(sched["label"][:6]).tolist()) == [3, 3]
    sim.add_monitor = None
    d = tempotron_design(P=6, epochs=2)
    d["nodes"].append(node("sp", "monitor.spikes"))
    d["edges"].append({"id": "m", "source": "pat", "sourceHandle": "spikes", "target": "sp", "targetHandle": "spikes"})
    sim = Simulation(d)
    sim.run()
    t, i = sim.spikes("sp")
    idx = sched["index"]
    trains = {}
    for p, k in enumerate(idx):  # every presentation of pattern k has the same spikes (relative to onset)
        m = (t >= p * 500.0) & (t < (p + 1) * 500.0)
        key = tuple(zip(np.round(t[m] - p * 500.0, 6), i[m]))
        trains.setdefault(int(k), set()).add(key)
    assert all(len(v) == 1 for v in trains.values()) and len(trains) == 6
    rate = len(t) / 100 / (len(idx) * 0.5)
    assert 3.5 < rate < 6.5  # 5 Hz within Poisson noise of 100 afferents x 9 s
