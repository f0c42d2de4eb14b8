"""Numerical tests against analytic results, with the tolerance and why."""
from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from engine import DivergenceError, Simulation
from engine import rng
from tests.helpers import design, node, small_coba


def lif_fi_rate(i_mv, tau=20.0, el=-65.0, vt=-50.0, vr=-65.0, tref=2.0):
    """Analytic rate of a LIF with constant input (R*I in mV), reset at vr, refractory tref."""
    vinf = el + i_mv
    if vinf <= vt:
        return 0.0
    return 1000.0 / (tref + tau * math.log((vinf - vr) / (vinf - vt)))


def test_lif_fi_curve_matches_analytic_rate():
    """Exponential Euler is exact for constant input, so the only error is the spike-time
    rounding to the grid: at most one step (dt = 0.01 ms) per inter-spike interval, i.e.
    < 0.1 % for ISIs above 10 ms; we allow 0.2 %."""
    currents = [10.0, 15.5, 16.0, 20.0, 30.0, 60.0]
    nodes = []
    edges = []
    for k, i in enumerate(currents):
        nodes.append(node(f"p{k}", "neuron.lif", n=1, i_bias_mv=i, v_init_mv=-65.0, method="exponential"))
    d = design(nodes, edges, dt_ms=0.01)
    sim = Simulation(d)
    sim.run(3000.0)
    pops = sim.summary()["populations"]
    for k, i in enumerate(currents):
        want = lif_fi_rate(i)
        got = pops[f"p{k}"]["rate_hz"]
        if want == 0:
            assert got == 0
        else:
            # the count over 3 s is an integer: allow one spike of slack on top
            assert abs(got - want) <= 0.002 * want + 1 / 3.0, (i, got, want)


def test_conductance_decays_exactly_exponentially():
    """After one spike of weight w at t0 the trace is w * exp(-(t - t0)/tau); the kernel
    multiplies by exp(-dt/tau) each step, so the error is k roundings (~1e-15 relative)."""
    w, tau = 0.7, 5.0
    d = design([node("s", "stimulus.spike_array", n=1, events="0@2.0"),
                node("syn", "projection.synapses", rule="all_to_all", weight_gl=w, tau_syn_ms=tau),
                node("pop", "neuron.lif_cond", n=1, v_threshold_mv=1000.0),
                node("m", "monitor.state", variables="g_exc", neurons="0", every_ms=0.1)],
               [("s.spikes", "syn.pre"), ("syn.post", "pop.drive"), ("pop.state", "m.state")])
    sim = Simulation(d)
    sim.run(50.0)
    st = sim.state("m")
    t, g = st["t_ms"], st["g_exc"][:, 0]
    # the spike is emitted and delivered at step 20; the monitor samples at the end of a step
    arrive = 2.0
    assert np.all(g[t < arrive - 1e-9] == 0.0)
    after = t >= arrive - 1e-9
    expect = w * np.exp(-(t[after] - arrive) / tau)
    np.testing.assert_allclose(g[after], expect, rtol=1e-12)


def test_poisson_rate_and_cv():
    """1000 sources at 20 Hz for 10 s: 200 000 expected spikes (sd 447), so 1 % is > 4 sd.
    ISIs of a Poisson process have CV 1; with ~200 000 intervals its sd is ~0.003."""
    d = design([node("p", "stimulus.poisson", n=1000, rate_hz=20.0), node("m", "monitor.spikes")],
               [("p.spikes", "m.spikes")])
    sim = Simulation(d)
    sim.run(10_000.0)
    t, i = sim.spikes("m")
    assert abs(len(t) / (1000 * 10.0) - 20.0) < 0.2
    order = np.lexsort((t, i))
    t, i = t[order], i[order]
    same = i[1:] == i[:-1]
    isi = np.diff(t)[same]
    assert abs(isi.std() / isi.mean() - 1.0) < 0.02


def test_poisson_counts_per_step_are_poisson():
    """At 5 kHz and dt 0.1 ms the count per step is Poisson(0.5): mean 0.5, variance 0.5."""
    d = design([node("p", "stimulus.poisson", n=200, rate_hz=5000.0), node("m", "monitor.spikes")],
               [("p.spikes", "m.spikes")])
    sim = Simulation(d)
    sim.run(500.0)
    t, i = sim.spikes("m")
    steps = np.rint(t / 0.1).astype(int)
    counts = np.bincount(steps * 200 + i, minlength=5000 * 200)
    assert abs(counts.mean() - 0.5) < 0.01 and abs(counts.var() / counts.mean() - 1) < 0.02


@pytest.mark.parametrize("delay_ms", [0.0, 0.1, 0.5, 1.5])
def test_delays_deliver_exactly_d_steps_later(delay_ms):
    d = design([node("s", "stimulus.spike_array", n=1, events="0@1.0"),
                node("syn", "projection.synapses", rule="all_to_all", weight_gl=1.0, delay_ms=delay_ms),
                node("pop", "neuron.lif_cond", n=1, v_threshold_mv=1000.0),
                node("m", "monitor.state", variables="g_exc", neurons="0", every_ms=0.1)],
               [("s.spikes", "syn.pre"), ("syn.post", "pop.drive"), ("pop.state", "m.state")])
    sim = Simulation(d)
    sim.run(5.0)
    st = sim.state("m")
    first = np.rint(st["t_ms"][np.argmax(st["g_exc"][:, 0] > 0)] / 0.1)
    assert first == 10 + round(delay_ms / 0.1)


def test_per_synapse_delays():
    d = design([node("s", "stimulus.spike_array", n=20, events=", ".join(f"{k}@1.0" for k in range(20))),
                node("syn", "projection.synapses", rule="one_to_one", weight_gl=1.0,
                     delay_ms={"dist": "uniform", "low": 0.0, "high": 2.0}),
                node("pop", "neuron.lif_cond", n=20, v_threshold_mv=1000.0),
                node("m", "monitor.state", variables="g_exc", neurons="all", every_ms=0.1)],
               [("s.spikes", "syn.pre"), ("syn.post", "pop.drive"), ("pop.state", "m.state")])
    sim = Simulation(d)
    sim.run(5.0)
    st = sim.state("m")
    delays = sim.plan.buffers["syn.delay"]
    assert len(set(delays.tolist())) > 5
    first = np.rint(st["t_ms"][np.argmax(st["g_exc"] > 0, axis=0)] / 0.1)
    np.testing.assert_array_equal(first, 10 + delays)


def _coba_with_input():
    d = small_coba(400)
    d["nodes"].append(node("drive", "stimulus.poisson", n=400, rate_hz=5.0))
    d["nodes"].append(node("dsyn", "projection.synapses", rule="fixed_indegree", indegree=5, weight_gl=0.3))
    d["edges"] += [{"id": "x1", "source": "drive", "sourceHandle": "spikes", "target": "dsyn", "targetHandle": "pre"},
                   {"id": "x2", "source": "dsyn", "sourceHandle": "post", "target": "exc", "targetHandle": "drive"}]
    return d


def _result(sim):
    return (sim.spikes("exc"), sim.spikes("inh"), sim.state("exc_v"))


def _same(a, b):
    for (t1, i1), (t2, i2) in zip(a[:2], b[:2]):
        np.testing.assert_array_equal(t1, t2)
        np.testing.assert_array_equal(i1, i2)
    for k in a[2]:
        np.testing.assert_array_equal(a[2][k], b[2][k])


def test_results_do_not_depend_on_chunk_size_or_pauses():
    ref = Simulation(_coba_with_input(), chunk_ms=100.0)
    ref.run(300.0)
    assert len(ref.spikes("exc")[0]) > 100
    for chunk in (0.1, 7.3, 1000.0):
        s = Simulation(_coba_with_input(), chunk_ms=chunk)
        s.run(300.0)
        _same(_result(ref), _result(s))
    s = Simulation(_coba_with_input())
    s.run(123.4)
    s.run(300.0 - 123.4)
    _same(_result(ref), _result(s))


def test_pause_from_another_thread_then_resume():
    ref = Simulation(_coba_with_input())
    ref.run(300.0)
    s = Simulation(_coba_with_input(), chunk_ms=10.0)
    seen = []

    def on_chunk(ch, sim):
        seen.append(ch.t_end_ms)
        if len(seen) == 3:
            threading.Thread(target=sim.pause).start()
            threading.Event().wait(0.05)

    s.subscribe(on_chunk)
    s.run(300.0)
    assert 30.0 <= s.t_ms < 300.0
    s.run(300.0 - s.t_ms)
    _same(_result(ref), _result(s))


def test_live_edit_applies_without_recompiling_and_only_depends_on_its_time():
    a = Simulation(_coba_with_input(), chunk_ms=50.0)
    kernel = a.runner.kernel
    a.run(100.0)
    assert a.set_param("drive", "rate_hz", 20.0) == "live"
    assert a.set_param("exc", "i_bias_mv", 19.0) == "live"
    a.run(100.0)
    assert a.runner.kernel is kernel
    b = Simulation(_coba_with_input(), chunk_ms=7.0)
    b.run(100.0)
    b.set_param("drive", "rate_hz", 20.0)
    b.set_param("exc", "i_bias_mv", 19.0)
    b.run(100.0)
    _same(_result(a), _result(b))
    c = Simulation(_coba_with_input())
    c.run(200.0)
    assert len(c.spikes("exc")[0]) != len(a.spikes("exc")[0])


def test_structural_edit_applies_at_reset():
    s = Simulation(_coba_with_input())
    s.run(20.0)
    assert s.set_param("exc", "n", 200) == "reset"
    assert s.plan.spike_sources["exc"].n == 320
    s.run(20.0)  # a pending structural edit resets first
    assert s.plan.spike_sources["exc"].n == 200 and s.t_ms == pytest.approx(20.0)


def test_same_seed_same_spikes_other_seed_differs():
    a = Simulation(small_coba(400), seed=5)
    a.run(200.0)
    b = Simulation(small_coba(400), seed=5)
    b.run(200.0)
    c = Simulation(small_coba(400), seed=6)
    c.run(200.0)
    np.testing.assert_array_equal(a.spikes("exc")[0], b.spikes("exc")[0])
    assert not np.array_equal(a.spikes("exc")[0][:100], c.spikes("exc")[0][:100])


def test_rng_numba_and_numpy_agree_and_are_uniform():
    key = rng.node_key(7, "node", "stream")
    sk = rng.step_key(rng.as_i64(key), 12345)
    idx = np.arange(1000)
    from_numba = np.array([rng.uniform(sk, i) for i in idx])
    np.testing.assert_array_equal(from_numba, rng.uniform_np(key, 12345, idx))
    u = rng.uniform_np(key, 3, np.arange(1_000_000))
    assert abs(u.mean() - 0.5) < 0.002 and abs(u.var() - 1 / 12) < 0.001
    # different nodes, streams and steps give uncorrelated draws
    v = rng.uniform_np(rng.node_key(7, "node2", "stream"), 3, np.arange(1_000_000))
    assert abs(np.corrcoef(u, v)[0, 1]) < 0.005


def test_divergence_names_the_population():
    d = design([node("bad", "neuron.izhikevich", n=5, a=-5.0)], [], dt_ms=1.0)
    sim = Simulation(d)
    with pytest.raises(DivergenceError) as e:
        sim.run(1000.0)
    assert e.value.node == "bad" and "'bad'" in str(e.value)
    d = design([node("runaway", "neuron.lif", n=5, refractory_ms=0.0, i_bias_mv=5000.0)], [])
    with pytest.raises(DivergenceError) as e:
        Simulation(d).run(100.0)
    assert e.value.node == "runaway" and "every step" in str(e.value)


def _with_ee_weight(value):
    d = _coba_with_input()
    for nd in d["nodes"]:
        if nd["id"] in ("ee", "ie"):
            nd["data"]["weight_gl"] = value
    return d


def test_uniform_weight_constant_and_per_synapse_array_give_identical_spikes():
    """One weight for all synapses is a kernel constant (no weight array read); the same
    values as a per-synapse distribution take the array path: bit-identical results."""
    a = Simulation(_with_ee_weight(0.6))
    b = Simulation(_with_ee_weight({"dist": "uniform", "low": 0.6, "high": 0.6}))
    assert not isinstance(a.plan.params["ee"]["wc"], np.ndarray)
    assert isinstance(b.plan.params["ee"]["wc"], np.ndarray)
    a.run(300.0)
    b.run(300.0)
    assert len(a.spikes("exc")[0]) > 100
    _same(_result(a), _result(b))
    np.testing.assert_array_equal(a.connectivity("ee")[2], b.connectivity("ee")[2])


def test_uniform_weight_edit_is_live_and_switching_to_a_distribution_rebuilds():
    s = Simulation(_with_ee_weight(0.6))
    kernel = s.runner.kernel
    s.run(50.0)
    assert s.set_param("ee", "weight_gl", 0.9) == "live"
    assert s.plan.params["ee"]["wc"] == pytest.approx(0.9) and s.runner.kernel is kernel
    assert np.all(s.connectivity("ee")[2] == 0.9)  # weight monitors and connectivity() see the edit too
    assert s.set_param("ee", "weight_gl", {"dist": "uniform", "low": 0.5, "high": 0.7}) == "reset"
    s.run(50.0)
    w = s.connectivity("ee")[2]
    assert isinstance(s.plan.params["ee"]["wc"], np.ndarray) and w.min() < w.max()
