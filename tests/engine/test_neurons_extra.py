"""neuron.meta, neuron.amsu and neuron.lif_homeostatic: statistics, reference loops, homeostasis."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine import Simulation, rng
from tests.helpers import design, node


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


# --- neuron.meta ------------------------------------------------------------------------
# Populations whose V never moves: V_init = V_reset = the fixed point of the leak (and bias),
# so p = sigmoid((V - theta)/beta) is one known constant per population.
META_POPS = {  # id: (v_rest, i_bias, tau_m_ms, theta, beta, V held at)
    "low": (0.0, 0.0, 20.0, 1.0, 0.5, 0.0),    # p = sigmoid(-2)   = 0.1192
    "half": (0.0, 0.0, 20.0, 0.0, 0.5, 0.0),   # p = sigmoid(0)    = 0.5
    "high": (0.0, 0.0, 20.0, -0.7, 0.5, 0.0),  # p = sigmoid(1.4)  = 0.8022
    "bias": (0.0, 0.05, 20.0, 1.5, 0.5, 1.0),  # V* = v_rest + tau i_bias = 1: p = sigmoid(-1) = 0.2689
}


def meta_fixed_design(n=1000, **meta):
    nodes, edges = [], []
    for pid, (vr, ib, tau, th, be, vh) in META_POPS.items():
        nodes += [node(pid, "neuron.meta", n=n, v_rest=vr, i_bias=ib, tau_m_ms=tau, theta=th, beta=be,
                       v_init=vh, v_reset=vh),
                  node(f"m_{pid}", "monitor.spikes")]
        edges.append((f"{pid}.spikes", f"m_{pid}.spikes"))
    return design(nodes, edges, **{"dt_ms": 1.0, "seed": 3, **meta})


def test_meta_spike_probability_matches_sigmoid():
    """1000 neurons x 1000 steps = N = 10^6 Bernoulli(p) trials per population; the
    empirical rate has sd sqrt(p(1-p)/N) <= 5e-4, and we allow 5 sd (a false failure has
    probability ~6e-7 per population). Beyond the statistics, every spike must be exactly
    the counter-based draw: spike(t, i) == (u(seed, node, t, i) < p)."""
    n, steps = 1000, 1000
    sim = Simulation(meta_fixed_design(n))
    sim.run(float(steps))
    for pid, (vr, ib, tau, th, be, vh) in META_POPS.items():
        p = sigmoid((vh - th) / be)
        t, i = sim.spikes(f"m_{pid}")
        frac = len(t) / (n * steps)
        sd = math.sqrt(p * (1 - p) / (n * steps))
        assert abs(frac - p) < 5 * sd, (pid, frac, p, sd)
        got = np.zeros((steps, n), bool)
        got[np.rint(t).astype(int), i.astype(int)] = True
        key = rng.node_key(3, pid, "spikes")
        want = np.stack([rng.uniform_np(key, s, np.arange(n)) < p for s in range(steps)])
        assert np.array_equal(got, want), pid
        assert np.allclose(sim.plan.buffers[f"{pid}.v"], vh, atol=1e-9)  # V really stayed put


def meta_driven_design(seed=1):
    """Poisson input through delta and exponential synapses, so V moves and resets."""
    return design([node("src", "stimulus.poisson", n=50, rate_hz=40.0),
                   node("syn", "projection.synapses", rule="fixed_probability", p=0.2, synapse="delta", weight_mv=0.3),
                   node("syn2", "projection.synapses", rule="fixed_probability", p=0.2, weight=0.02),
                   node("x", "neuron.meta", n=200, theta=1.0, beta=0.2, tau_m_ms=10.0, refractory_ms=1.0),
                   node("m", "monitor.spikes")],
                  [("src.spikes", "syn.pre"), ("syn.post", "x.drive"), ("src.spikes", "syn2.pre"),
                   ("syn2.post", "x.drive"), ("x.spikes", "m.spikes")], dt_ms=0.5, seed=seed)


def _spikes(sim):
    t, i = sim.spikes("m")
    o = np.lexsort((i, t))
    return t[o], i[o]


def test_meta_is_deterministic_chunk_independent_and_seeded():
    a = Simulation(meta_driven_design(), chunk_ms=1000.0)
    a.run(600.0)
    ta, ia = _spikes(a)
    assert 100 < len(ta) < 0.5 * 200 * 1200  # it spikes, but not at every step
    b = Simulation(meta_driven_design(), chunk_ms=7.5)
    b.call_ms = 2.5
    b.run(200.0)
    b.run(400.0)
    tb, ib = _spikes(b)
    np.testing.assert_array_equal(ta, tb)
    np.testing.assert_array_equal(ia, ib)
    c = Simulation(meta_driven_design(), chunk_ms=50.0)
    c.run(600.0)
    tc, ic = _spikes(c)
    np.testing.assert_array_equal(tc, ta)
    np.testing.assert_array_equal(ic, ia)
    d = Simulation(meta_driven_design(seed=2), chunk_ms=1000.0)
    d.run(600.0)
    td, idd = _spikes(d)
    assert len(td) != len(ta) or not (np.array_equal(td, ta) and np.array_equal(idd, ia))


def test_meta_declares_learnable_intrinsics():
    from engine.registry import get_type
    cls = get_type("neuron.meta")
    assert cls.experimental and set(cls.learnable) == {"tau_m_ms", "theta", "v_reset", "beta"}
    assert set(cls.learnable) <= set(cls.param_decls())
    assert "experimental: equations not confirmed against the paper" in cls.__doc__


# --- neuron.amsu --------------------------------------------------------------------------
@pytest.mark.parametrize("modulation", ["additive", "multiplicative"])
@pytest.mark.parametrize("dt", [1.0, 0.5])
def test_amsu_matches_reference_loop(modulation, dt):
    """u (state v), a and s against a direct numpy loop of the same equations, with a noisy
    injected current and per-neuron g_a; same operations in the same order, so 1e-12."""
    n, steps = 6, 800
    d = design([node("c", "stimulus.current", waveform="noise", amplitude=0.6, offset=0.5),
                node("x", "neuron.amsu", n=n, alpha_a=0.97, beta=0.85, theta=1.0, i_bias=0.1,
                     g_a={"dist": "uniform", "low": -1.5, "high": 1.5}, modulation=modulation),
                node("m", "monitor.state", variables="v, a, s, i_ext", neurons="all", every_ms=dt)],
               [("c.current", "x.current"), ("x.state", "m.state")], dt_ms=dt, seed=5)
    sim = Simulation(d)
    sim.run(steps * dt)
    st = sim.state("m")
    assert len(st["t_ms"]) == steps
    P = sim.plan.params["x"]
    g_a = np.asarray(P["g_a"])
    alpha, beta, theta, ib = 0.97, 0.85, 1.0, 0.1
    u = np.zeros(n)
    a = np.zeros(n)
    s = np.zeros(n)
    U, A, S = [], [], []
    for k in range(steps):
        I = dt * (st["i_ext"][k] + ib)
        a = alpha ** dt * a + (1 - alpha) * s
        mod = g_a * a
        u = beta ** dt * u * (1 - s) + ((1 + mod) * I if modulation == "multiplicative" else I + dt * mod)
        s = (u >= theta).astype(float)
        U.append(u)
        A.append(a)
        S.append(s)
    np.testing.assert_allclose(st["v"], np.array(U), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(st["a"], np.array(A), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(st["s"], np.array(S))
    assert 0.02 * n * steps < np.sum(S) < 0.9 * n * steps  # the comparison covers spikes and resets
    assert sim.summary()["populations"]["x"]["n_spikes"] == int(np.sum(S))


# --- neuron.lif_homeostatic -----------------------------------------------------------------
def test_lif_homeostatic_reaches_target_rate():
    """Protocol (fixed before running): dt = 0.1 ms, target 10 Hz, tau_rate 200 ms,
    eta = 0.5 mV/(s Hz), threshold starting at -50 mV, bounds [-64, -20] mV; LIF defaults
    (tau_m 20 ms, E_L = v_reset = -65 mV, 2 ms refractory). 'above': 50 neurons with
    i_bias ~ U(25, 35) mV fire at 48-80 Hz with the initial threshold; 'below': 50 neurons
    with i_bias ~ U(10, 14) mV sit below threshold (0 Hz). Run 20 s; the population mean
    rate over the last 10 s must be within 10 % of 10 Hz. A third population, driven as
    'above' but with theta_max = -45 mV, cannot reach the target: its threshold must sit
    at the bound. Every recorded threshold stays within its bounds."""
    common = dict(n=50, target_hz=10.0, tau_rate_ms=200.0, eta=0.5, v_threshold_mv=-50.0,
                  theta_min_mv=-64.0, theta_max_mv=-20.0)
    pops = {"above": dict(common, i_bias_mv={"dist": "uniform", "low": 25.0, "high": 35.0}),
            "below": dict(common, i_bias_mv={"dist": "uniform", "low": 10.0, "high": 14.0}),
            "capped": dict(common, i_bias_mv={"dist": "uniform", "low": 25.0, "high": 35.0}, theta_max_mv=-45.0)}
    nodes, edges = [], []
    for pid, kw in pops.items():
        nodes += [node(pid, "neuron.lif_homeostatic", **kw), node(f"m_{pid}", "monitor.spikes"),
                  node(f"th_{pid}", "monitor.state", variables="theta", neurons="all", every_ms=10.0)]
        edges += [(f"{pid}.spikes", f"m_{pid}.spikes"), (f"{pid}.state", f"th_{pid}.state")]
    sim = Simulation(design(nodes, edges, dt_ms=0.1, seed=7))
    sim.run(20_000.0)
    rates = {}
    for pid, kw in pops.items():
        t, _ = sim.spikes(f"m_{pid}")
        rates[pid] = np.sum(t >= 10_000.0) / (kw["n"] * 10.0)
        th = sim.state(f"th_{pid}")["theta"]
        assert th.min() >= kw["theta_min_mv"] and th.max() <= kw["theta_max_mv"], pid
    assert abs(rates["above"] - 10.0) < 1.0, rates
    assert abs(rates["below"] - 10.0) < 1.0, rates
    th_above = sim.plan.buffers["above.theta"]
    th_below = sim.plan.buffers["below.theta"]
    assert np.all(th_above > -50.0) and np.all(th_below < -50.0)  # moved the right way
    assert np.all(sim.plan.buffers["capped.theta"] == -45.0) and rates["capped"] > 20.0
