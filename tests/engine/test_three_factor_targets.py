"""Continuous readouts: ``neuron.linear`` against its solution, and ``plasticity.three_factor``
with a target modulator against a step-by-step reference of its rule (MODELS.md D)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine import DesignError, Simulation, validate
from tests.helpers import design, node

DT = 0.5


def test_linear_unit_with_tau_0_is_the_weighted_synaptic_trace():
    """tau_ms = 0: v = i_bias + I_syn, the exponential trace of the weighted spikes (tau_syn
    10 ms): after spikes at 5 ms (w 2) and 12 ms (w -0.5, the second source), v(t) =
    0.3 + sum w exp(-(t - t_s)/10 ms), exactly; the unit never spikes."""
    d = design([node("a", "stimulus.spike_array", n=1, events="0@5.0"),
                node("b", "stimulus.spike_array", n=1, events="0@12.0"),
                node("out", "neuron.linear", n=1, i_bias=0.3),
                node("wa", "projection.synapses", rule="all_to_all", weight=2.0, tau_syn_ms=10.0),
                node("wb", "projection.synapses", rule="all_to_all", weight=-0.5, tau_syn_ms=10.0),
                node("st", "monitor.state", variables="v", neurons="0", every_ms=DT)],
               [("a.spikes", "wa.pre"), ("wa.post", "out.drive"), ("b.spikes", "wb.pre"), ("wb.post", "out.drive"),
                ("out.state", "st.state")], dt_ms=DT, duration_ms=60.0)
    sim = Simulation(d)
    sim.run()
    rec = sim.state("st")
    t, v = rec["t_ms"], rec["v"][:, 0]
    # the neuron update reads the trace before this step's deliveries: a spike at t_s shows from t_s + dt
    want = 0.3 + sum(w * np.where(t > ts, np.exp(-(t - ts - DT) / 10.0), 0.0) for ts, w in ((5.0, 2.0), (12.0, -0.5)))
    assert np.allclose(v, want, rtol=0, atol=1e-12)
    assert sim.summary()["populations"]["out"]["n_spikes"] == 0


def test_linear_unit_with_tau_filters_its_input_exactly():
    """tau dv/dt = -v + I with a 4-unit current step from 0: v(t_n) = 4 (1 - exp(-t_n/tau)),
    t_n = (n + 1) dt (the exact solution at the step boundaries), to 1e-12."""
    d = design([node("I", "stimulus.current", waveform="constant", amplitude=4.0),
                node("out", "neuron.linear", n=3, tau_ms=7.0),
                node("st", "monitor.state", variables="v", neurons="0:3", every_ms=DT)],
               [("I.current", "out.current"), ("out.state", "st.state")], dt_ms=DT, duration_ms=40.0)
    sim = Simulation(d)
    sim.run()
    rec = sim.state("st")
    n = np.arange(len(rec["t_ms"])) + 1
    assert np.allclose(rec["v"], (4.0 * (1.0 - np.exp(-n * DT / 7.0)))[:, None], rtol=0, atol=1e-12)


def _target_design(eta=2e-5, attend_ms=70.0, **tf):
    return design([node("cue", "stimulus.cued_events", n_cue=6, n_per_event=4, trial_ms=100.0, cue_ms=60.0,
                        cue_rate_hz=300.0, cue_tau_ms=30.0, delays_ms="30, 60", probabilities="0.9, 0.5",
                        event_ms=10.0, event_rate_hz=300.0, lead_ms=10.0, attend_ms=attend_ms),
                   node("out", "neuron.linear", n=2),
                   node("ro", "projection.synapses", rule="all_to_all", weight=0.0, tau_syn_ms=20.0),
                   node("tf", "plasticity.three_factor", eta=eta, tau_pre_ms=20.0, tau_e_ms=3.0, w_min=-0.05,
                        w_max=0.05, **tf),
                   node("sp", "monitor.spikes"), node("y", "monitor.state", variables="v", neurons="0:2", every_ms=DT),
                   node("tg", "monitor.signal", every_ms=DT), node("gt", "monitor.signal", every_ms=DT),
                   node("er", "monitor.signal", every_ms=DT)],
                  [("cue.spikes", "ro.pre"), ("ro.post", "out.drive"), ("tf.rule", "ro.rule"),
                   ("cue.target", "tf.modulator"), ("cue.gate", "tf.gate"), ("cue.spikes", "sp.spikes"),
                   ("out.state", "y.state"), ("cue.target", "tg.signal"), ("cue.gate", "gt.signal"),
                   ("tf.error", "er.signal")], dt_ms=DT, duration_ms=1000.0)


def test_target_mode_follows_the_rule_step_by_step():
    """Reference loop over the recorded presynaptic spikes, outputs y, targets and gate:
    r_j <- r_j exp(-dt/tau_pre) + (1000/tau_pre) s_j; err_k = G (target_k - y_k);
    e_jk <- exp(-dt/tau_e) e_jk + r_j; w_jk <- clip(w_jk + eta dt err_k e_jk). The final weights
    and the 'error' output agree with the kernel to 1e-12; learning happened (some weights
    reached the bounds) and the error is 0 whenever the gate is closed."""
    eta = 2e-5
    sim = Simulation(_target_design(eta))
    sim.run()
    n_pre, steps = 14, 2000
    t, i = sim.spikes("sp")
    S = np.zeros((steps, n_pre))
    np.add.at(S, (np.rint(t / DT).astype(int), i), 1.0)
    y, tg, g = sim.state("y")["v"], sim.state("tg")["target"], sim.state("gt")["gate"][:, 0]
    d_pre, lam, inc = math.exp(-DT / 20.0), math.exp(-DT / 3.0), 1000.0 / 20.0
    r, e, w = np.zeros(n_pre), np.zeros((n_pre, 2)), np.zeros((n_pre, 2))
    errs = np.zeros((steps, 2))
    for s in range(steps):
        r = r * d_pre + inc * S[s]
        err = np.where(g[s] != 0, tg[s] - y[s], 0.0)
        errs[s] = err
        e = lam * e + r[:, None]
        if g[s] != 0:
            w = np.clip(w + eta * DT * err[None, :] * e, -0.05, 0.05)
    assert np.allclose(sim.state("er")["error"], errs, rtol=0, atol=1e-12)
    assert np.allclose(sim.plan.buffers["ro.w"].reshape(n_pre, 2), w, rtol=0, atol=1e-12)
    assert np.all(errs[g == 0] == 0.0) and np.abs(w).max() > 0.01


def test_closed_gate_teaches_nothing():
    sim = Simulation(_target_design(attend_ms=0.0))
    sim.run(300.0)
    assert np.all(sim.plan.buffers["ro.w"] == 0.0)
    assert np.all(sim.state("er")["error"] == 0.0)


def _problems(d):
    return [(p.code, p.node, p.port, p.param) for p in validate(d) if p.severity == "error"]


def test_target_mode_wiring_errors_name_the_rule():
    d = _target_design(modulator_kind="reward")
    assert ("param.modulator_kind", "tf", None, "modulator_kind") in _problems(d)
    d = _target_design()
    next(n for n in d["nodes"] if n["id"] == "out")["data"]["n"] = 3
    assert ("rule.outputs", "tf", "rule", None) in _problems(d)
    d = _target_design()
    out = next(n for n in d["nodes"] if n["id"] == "out")
    out["type"], out["data"] = "neuron.lif", {"n": 2}
    next(n for n in d["nodes"] if n["id"] == "y")["type"] = "monitor.spikes"
    d["edges"] = [e for e in d["edges"] if e["target"] != "y"]
    d["nodes"] = [n for n in d["nodes"] if n["id"] != "y"]
    ro = next(n for n in d["nodes"] if n["id"] == "ro")["data"]
    ro["weight_mv"] = ro.pop("weight")
    assert ("rule.outputs", "tf", "rule", None) in _problems(d)


def test_gate_with_a_label_modulator_is_refused():
    d = design([node("dig", "stimulus.digits", classes="0,1", n_samples=4), node("cue", "stimulus.cued_events"),
                node("out", "neuron.lif", n=2), node("w", "projection.synapses", rule="all_to_all", weight_mv=0.0),
                node("tf", "plasticity.three_factor")],
               [("dig.spikes", "w.pre"), ("w.post", "out.drive"), ("tf.rule", "w.rule"), ("dig.label", "tf.modulator"),
                ("cue.gate", "tf.gate")])
    assert ("port.gate", "tf", "gate", None) in _problems(d)
    with pytest.raises(DesignError):
        Simulation(d)
