"""``stimulus.cued_events`` against its definition (trial timing, occurrence draws, targets,
gate, the timing change, the cue's trace and microstimuli rates) and ``monitor.signal``."""
from __future__ import annotations

import math

import numpy as np
import pytest

from components.stimulus_cued_events import occurrences, timing
from engine import Simulation, validate
from tests.helpers import design, node

DT = 0.5
CUE = dict(n_cue=4, n_per_event=3, trial_ms=100.0, cue_ms=30.0, cue_rate_hz=200.0, delays_ms="20, 50",
           probabilities="0.7, 0.4", event_ms=10.0, event_rate_hz=300.0, lead_ms=5.0, attend_ms=80.0,
           change_ms=1000.0, delays_after_ms="40, 50", probabilities_after="0.7, 0.9")


def cued(duration_ms=2000.0, chunk_ms=100.0, **over):
    data = dict(CUE, **over)
    d = design([node("cue", "stimulus.cued_events", **data), node("sp", "monitor.spikes"),
                node("tg", "monitor.signal", every_ms=DT), node("gt", "monitor.signal", every_ms=DT)],
               [("cue.spikes", "sp.spikes"), ("cue.target", "tg.signal"), ("cue.gate", "gt.signal")],
               dt_ms=DT, duration_ms=duration_ms)
    sim = Simulation(d, chunk_ms=chunk_ms)
    sim.run()
    return sim


@pytest.fixture(scope="module")
def sim():
    return cued()


def test_targets_gate_and_events_follow_the_trial_schedule(sim):
    """Per trial m (100 ms): gate = 1 for the first 80 ms; event k occurs iff the trial's draw
    u(seed, 'cue', m, k) < p_k of its phase (trials 0-9 before the change at 1000 ms, 10-19
    after, where delays are 40, 50 and p = 0.7, 0.9); target_k = 1 exactly on
    [delay_k - lead, delay_k - lead + event_ms) of occurring trials; event spikes only inside
    [delay_k, delay_k + event_ms) of occurring trials, cue spikes only in the first 30 ms."""
    tm = sim.plan.node_info["cue"]["trials"]
    occ = occurrences(tm, 1, "cue", 20)
    tg, gt = sim.state("tg"), sim.state("gt")
    steps = np.rint(tg["t_ms"] / DT).astype(int)
    assert np.array_equal(steps, np.arange(4000))
    m, off = steps // 200, (steps % 200) * DT
    assert np.array_equal(gt["gate"][:, 0], (off < 80.0).astype(float))
    t, i = sim.spikes("sp")
    tm_, om = (t // 100).astype(int), t % 100
    assert om[i < 4].max() < 30.0
    for k in range(2):
        delay = np.where(m < 10, (20.0, 50.0)[k], (40.0, 50.0)[k])
        want = occ[m, k] & (off >= delay - 5.0) & (off < delay + 5.0)
        assert np.array_equal(tg["target"][:, k], want.astype(float)), k
        sel = (i >= 4 + 3 * k) & (i < 7 + 3 * k)
        d_ev = np.where(tm_[sel] < 10, (20.0, 50.0)[k], (40.0, 50.0)[k])
        assert occ[tm_[sel], k].all()
        assert ((om[sel] >= d_ev) & (om[sel] < d_ev + 10.0)).all()


def test_occurrence_frequencies_are_the_probabilities():
    """10 000 trials before a change, 10 000 after: frequencies within 4 sd of p, and the two
    events independent (P(A and B) = p_A p_B within 4 sd)."""
    tm = timing(dict(CUE, change_ms=1e6), DT)  # the change at trial 10 000
    occ = occurrences(tm, 7, "cue", 20000)
    for part, p in ((occ[:10000], np.array([0.7, 0.4])), (occ[10000:], np.array([0.7, 0.9]))):
        assert np.all(np.abs(part.mean(0) - p) < 4 * np.sqrt(p * (1 - p) / len(part))), part.mean(0)
        both, pp = (part[:, 0] & part[:, 1]).mean(), p[0] * p[1]
        assert abs(both - pp) < 4 * math.sqrt(pp * (1 - pp) / len(part))


def test_spike_counts_match_the_rates(sim):
    """Poisson counts: cue sources at 200 Hz for 30 ms per trial; event sources at 300 Hz for
    10 ms per occurring trial (20 trials), within 5 sd."""
    tm = sim.plan.node_info["cue"]["trials"]
    occ = occurrences(tm, 1, "cue", 20)
    _, i = sim.spikes("sp")
    c = np.bincount(i, minlength=10)
    exp_cue = 200.0 * 0.030 * 20
    assert abs(c[:4].sum() - 4 * exp_cue) < 5 * math.sqrt(4 * exp_cue)
    for k in range(2):
        lam = 300.0 * 0.010 * occ[:, k].sum() * 3
        assert abs(c[4 + 3 * k: 7 + 3 * k].sum() - lam) < 5 * math.sqrt(lam) + 1e-9


def test_draws_do_not_depend_on_chunking(sim):
    other = cued(chunk_ms=7.5)
    for a, b in zip(sim.spikes("sp"), other.spikes("sp")):
        assert np.array_equal(a, b)
    assert np.array_equal(sim.state("tg")["target"], other.state("tg")["target"])


@pytest.mark.parametrize("profile", ["trace", "microstimuli"])
def test_cue_rates_follow_the_trace(profile):
    """Source i's expected count over [a, b) of the trial is sum_t lam_i(t) with lam_i =
    rate dt y (trace) or rate dt exp(-(y - mu_i)^2 / (2 w^2)) (microstimuli), y = exp(-t/tau),
    mu_i = (i + 0.5)/n; the counts over 200 trials in four 25-ms quarters match within 5 sd."""
    n, tau, w, rate, trials = 4, 40.0, 0.15, 400.0, 200
    sim = cued(duration_ms=trials * 100.0, n_cue=n, cue_ms=100.0, cue_tau_ms=tau, cue_profile=profile,
               cue_width=w, cue_rate_hz=rate, probabilities="0, 0", probabilities_after="", change_ms=None,
               delays_after_ms="")
    t, i = sim.spikes("sp")
    steps = np.arange(200)
    y = np.exp(-steps * DT / tau)
    for s in range(n):
        mu = (s + 0.5) / n
        lam = rate * DT * 1e-3 * (y if profile == "trace" else np.exp(-(y - mu) ** 2 / (2 * w * w)))
        off = t[i == s] % 100.0
        for q in range(4):
            expect = trials * lam[q * 50:(q + 1) * 50].sum()
            got = np.sum((off >= 25 * q) & (off < 25 * q + 25))
            assert abs(got - expect) < 5 * math.sqrt(expect) + 2, (profile, s, q, got, expect)


@pytest.mark.parametrize("over, param", [
    (dict(probabilities="0.5"), "probabilities"),
    (dict(probabilities="0.5, 1.5"), "probabilities"),
    (dict(delays_ms="20, 95"), "delays_ms"),
    (dict(lead_ms=30.0), "delays_ms"),
    (dict(delays_after_ms="40"), "delays_after_ms"),
    (dict(attend_ms=150.0), "attend_ms"),
])
def test_bad_schedules_are_named(over, param):
    d = design([node("cue", "stimulus.cued_events", **dict(CUE, **over))], [], dt_ms=DT)
    probs = [p for p in validate(d) if p.severity == "error"]
    assert any(p.node == "cue" and p.param == param for p in probs), [str(p) for p in probs]


def test_signal_monitor_records_a_dataset_label_exactly():
    """monitor.signal on a digits stimulus' label: the label of the sample shown at each step,
    -1 in the gaps, read from the published schedule."""
    d = design([node("dig", "stimulus.digits", classes="0,1", n_samples=6, sample_ms=10.0, gap_ms=5.0),
                node("lab", "monitor.signal", every_ms=DT)], [("dig.label", "lab.signal")], dt_ms=DT,
               duration_ms=90.0)
    sim = Simulation(d)
    sim.run()
    sched = sim.plan.node_info["dig"]["schedule"]
    rec = sim.state("lab")
    steps = np.rint(rec["t_ms"] / DT).astype(int)
    p, off = steps // sched["period_steps"], steps % sched["period_steps"]
    want = np.where(off < sched["sample_steps"], np.asarray(sched["label"])[np.minimum(p, 5)], -1)
    assert np.array_equal(rec["label"][:, 0], want.astype(float))


def test_the_label_mode_error_output_is_zero_while_the_gate_is_closed():
    """plasticity.three_factor's 'error' (label modulator): ([label = k] target - y)/target
    during train samples, exactly 0 in the gaps and during held-out samples."""
    d = design([node("dig", "stimulus.digits", classes="0,1", n_samples=8, train_fraction=0.5, sample_ms=10.0,
                     gap_ms=5.0, order="train_then_test", max_rate_hz=200.0),
                node("out", "neuron.lif", n=2), node("w", "projection.synapses", rule="all_to_all", weight_mv=0.0),
                node("tf", "plasticity.three_factor"), node("m", "monitor.signal", every_ms=DT)],
               [("dig.spikes", "w.pre"), ("w.post", "out.drive"), ("tf.rule", "w.rule"), ("dig.label", "tf.modulator"),
                ("tf.error", "m.signal")], dt_ms=DT, duration_ms=120.0)
    sim = Simulation(d)
    sim.run()
    sched = sim.plan.node_info["dig"]["schedule"]
    err = sim.state("m")["error"]
    steps = np.rint(sim.state("m")["t_ms"] / DT).astype(int)
    p, off = steps // sched["period_steps"], steps % sched["period_steps"]
    train = np.asarray(sched["train"])[np.minimum(p, 7)] & (p < 8)
    gated = train & (off < sched["sample_steps"])
    assert np.all(err[~gated] == 0.0)
    lab = np.asarray(sched["label"])[p[gated]]
    assert np.allclose(err[gated][np.arange(gated.sum()), lab], 1.0, atol=0.5)  # y << target at first
    assert np.all(err[gated][np.arange(gated.sum()), 1 - lab] <= 0.0)
