"""Cross-simulator tests against Brian2 on the same connectivity and initial state.

Tolerance: none. Both simulators integrate with forward Euler in float64 in the same
update order (state update, threshold, synaptic delivery, reset), and gliaflow's
``neuron.lif_cond`` writes the update in the arithmetic form Brian2 generates, so the
spike trains must be *identical*. Brian2 runs its numpy target, which evaluates the
generated expressions without fast-math reassociation. Time constants are handed to
Brian2 in its base unit with the same numbers as ours (1 "second" = 1 ms) so that every
intermediate product is the same float. Synaptic traces decay by the same factor
exp(-dt/tau) (``run_regularly`` after the state update in Brian2).
"""
from __future__ import annotations

import builtins

import numpy as np
import pytest

from engine import Simulation
from tests.helpers import design, node

pytestmark = pytest.mark.peer

b2 = pytest.importorskip("brian2", reason="brian2 (the test extra) is needed for the cross-simulator test")


def _events(t_ms, i, dt=0.1):
    return sorted(zip(np.rint(np.asarray(t_ms) / dt).astype(int).tolist(), np.asarray(i).tolist()))


def _first_difference(a, b):
    for k in range(builtins.min(len(a), len(b))):
        if a[k] != b[k]:
            return k, a[k], b[k]
    return (None if len(a) == len(b) else (builtins.min(len(a), len(b)), None, None))


@pytest.fixture(autouse=True)
def _b2_numpy():
    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    yield


def test_coba_4000_is_spike_exact_for_1_s():
    sim = Simulation("gallery/coba.json")
    v0 = {p: sim.plan.buffers[f"{p}.v"].copy() for p in ("exc", "inh")}
    conn = {p: sim.connectivity(p) for p in ("ee", "ei", "ie", "ii")}
    decay = {p: sim.plan.params[p]["decay"] for p in ("ee", "ei", "ie", "ii")}
    sim.run(1000.0)

    b2.defaultclock.dt = 0.1 * b2.second
    eqs = """dv/dt = (ge*(Ee-v)+gi*(Ei-v)-(v-El)+I)/taum : 1 (unless refractory)
             ge : 1
             gi : 1"""
    ns = dict(taum=20 * b2.second, El=-60.0, Ee=0.0, Ei=-80.0, I=20.0, Vt=-50.0, Vr=-60.0)
    groups = {}
    for p in ("exc", "inh"):
        g = b2.NeuronGroup(len(v0[p]), eqs, threshold="v>Vt", reset="v=Vr", refractory=5 * b2.second,
                           method="euler", namespace=ns, name=p)
        g.v = v0[p]
        groups[p] = g
    objs = list(groups.values())
    for p, (src, tgt, var) in {"ee": ("exc", "exc", "ge"), "ei": ("exc", "inh", "ge"),
                               "ie": ("inh", "exc", "gi"), "ii": ("inh", "inh", "gi")}.items():
        i, j, w = conn[p]
        s = b2.Synapses(groups[src], groups[tgt], "w : 1", on_pre=f"{var}_post += w", name=p)
        s.connect(i=i, j=j)
        s.w = w
        objs.append(s)
    for p, (de, di) in {"exc": ("ee", "ie"), "inh": ("ei", "ii")}.items():
        objs.append(groups[p].run_regularly(f"ge = ge*{decay[de]!r}\ngi = gi*{decay[di]!r}", when="groups", order=1))
    mons = {p: b2.SpikeMonitor(groups[p]) for p in groups}
    b2.Network(*objs, *mons.values()).run(1000 * b2.second)
    for p in ("exc", "inh"):
        ours = _events(*sim.spikes(p))
        theirs = _events(np.asarray(mons[p].t / b2.second), np.asarray(mons[p].i))
        assert len(ours) > 10000
        assert _first_difference(ours, theirs) is None, (p, len(ours), len(theirs), _first_difference(ours, theirs))


def test_current_based_lif_with_delays_and_input_is_spike_exact():
    """A recurrent current-based LIF population with 1.5 ms delays, driven by Poisson spikes."""
    n_in, n = 100, 200
    d = design([node("inp", "stimulus.poisson", n=n_in, rate_hz=30.0, process="bernoulli"),
                node("pop", "neuron.lif", n=n, method="euler", tau_m_ms=10.0, e_leak_mv=-65.0, i_bias_mv=13.0,
                     v_threshold_mv=-50.0, v_reset_mv=-70.0, refractory_ms=2.0,
                     v_init_mv={"dist": "uniform", "low": -70.0, "high": -50.0}),
                node("xin", "projection.synapses", rule="fixed_probability", p=0.2,
                     weight_mv={"dist": "uniform", "low": 0.5, "high": 2.0}, tau_syn_ms=5.0),
                node("rec", "projection.synapses", rule="fixed_probability", p=0.1, weight_mv=-1.5,
                     receptor="inh", tau_syn_ms=5.0, delay_ms=1.5),
                node("m_in", "monitor.spikes"), node("m", "monitor.spikes")],
               [("inp.spikes", "xin.pre"), ("xin.post", "pop.drive"), ("pop.spikes", "rec.pre"),
                ("rec.post", "pop.drive"), ("inp.spikes", "m_in.spikes"), ("pop.spikes", "m.spikes")])
    sim = Simulation(d)
    v0 = sim.plan.buffers["pop.v"].copy()
    (ix, jx, wx), (ir, jr, wr) = sim.connectivity("xin"), sim.connectivity("rec")
    dx, dr = sim.plan.params["xin"]["decay"], sim.plan.params["rec"]["decay"]
    sim.run(1000.0)
    t_in, i_in = sim.spikes("inp")

    b2.defaultclock.dt = 0.1 * b2.second
    src = b2.SpikeGeneratorGroup(n_in, i_in, t_in * b2.second)
    eqs = """dv/dt = (El + I + isyn - v)/taum : 1 (unless refractory)
             isyn : 1"""
    ns = dict(taum=10 * b2.second, El=-65.0, I=13.0, Vt=-50.0, Vr=-70.0)
    g = b2.NeuronGroup(n, eqs, threshold="v>Vt", reset="v=Vr", refractory=2 * b2.second, method="euler",
                       namespace=ns)
    g.v = v0
    sx = b2.Synapses(src, g, "w : 1", on_pre="isyn_post += w")
    sx.connect(i=ix, j=jx)
    sx.w = wx
    sr = b2.Synapses(g, g, "w : 1", on_pre="isyn_post += w", delay=1.5 * b2.second)
    sr.connect(i=ir, j=jr)
    sr.w = wr
    assert dx == dr
    dec = g.run_regularly(f"isyn = isyn*{dx!r}", when="groups", order=1)
    mon = b2.SpikeMonitor(g)
    b2.Network(src, g, sx, sr, dec, mon).run(1000 * b2.second)
    ours = _events(*sim.spikes("pop"))
    theirs = _events(np.asarray(mon.t / b2.second), np.asarray(mon.i))
    assert len(ours) > 1000
    assert _first_difference(ours, theirs) is None, (len(ours), len(theirs), _first_difference(ours, theirs))
