"""The torch backend against the numba reference: same random numbers, same spikes (float64).

Cross-backend comparisons are plain tests (no marker): both backends run on CPU here.
Full-size COBA runs 200 ms in the test (1 s takes several seconds on CPU torch; it was
checked spike for spike when the backend landed: 65593 E + 17445 I spikes, identical).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the torch backend needs PyTorch")

from engine import rng  # noqa: E402
from engine.backends import torch_backend as tb  # noqa: E402
from engine.errors import DesignError  # noqa: E402
from engine.simulation import Simulation  # noqa: E402
from tests.helpers import ROOT, design, harness, node  # noqa: E402


def _coba():
    return json.loads((ROOT / "gallery" / "coba.json").read_text())


def _assert_same(sn: Simulation, st: Simulation) -> int:
    """Spikes of every monitor, sampled state, counts and all float state buffers bit-equal."""
    n = 0
    for r in sn.plan.recorders:
        if r.kind == "spikes" and r.node in sn._stores:
            tn, i_n = sn.spikes(r.node)
            tt, it = st.spikes(r.node)
            np.testing.assert_array_equal(tt, tn, err_msg=r.node)
            np.testing.assert_array_equal(it, i_n, err_msg=r.node)
            n += len(tn)
        elif r.kind == "state":
            a, b = sn.state(r.node), st.state(r.node)
            for v in ["t_ms", *r.info["variables"]]:
                np.testing.assert_array_equal(b[v], a[v], err_msg=f"{r.node}.{v}")
        elif r.kind == "weights":
            np.testing.assert_array_equal(st.weights(r.node)[1], sn.weights(r.node)[1], err_msg=r.node)
    for k, a in sn.plan.buffers.items():
        if sn.plan.buffer_role[k] in ("state", "weights") and a.dtype.kind == "f":
            np.testing.assert_array_equal(st.plan.buffers[k], a, err_msg=k)
    assert st.population_summary() == sn.population_summary()
    return n


def _both(d, ms, **kw):
    sn = Simulation(d, backend="numba")
    st = Simulation(d, backend="torch", **kw)
    sn.run(ms)
    st.run(ms)
    return sn, st


# --- random numbers ----------------------------------------------------------------------------
def test_rng_bit_equal_to_numpy_reference():
    gen = np.random.default_rng(0)
    z = gen.integers(0, 2**63, 1000, dtype=np.uint64) * np.uint64(2) + np.uint64(1)  # many with bit 63 set
    got = tb.mix(torch.as_tensor(z.view(np.int64))).numpy().view(np.uint64)
    np.testing.assert_array_equal(got, rng._mix_np(z))
    idx = np.arange(5000)
    for seed, nid, stream in [(1, "exc", "spikes"), (12345, "poisson_in", "noise"), (0, "x", "spikes")]:
        key = rng.node_key(seed, nid, stream)
        keys = torch.tensor([tb.trial_key(rng.as_i64(key), 0)])
        for step in (0, 1, 7, 10_000, 2**40 + 3):
            sk = tb.step_key(keys, step)
            assert int(sk[0]) & rng.MASK == rng.step_key_py(key, step)
            u = tb.uniform(sk, torch.as_tensor(idx))[0].numpy()
            np.testing.assert_array_equal(u, rng.uniform_np(key, step, idx))  # bit for bit
            up = tb.uniform_pos(sk, torch.as_tensor(idx))[0].numpy()
            np.testing.assert_array_equal(up, rng.uniform_pos_np(key, step, idx))
            nn = tb.normal(sk, torch.as_tensor(idx[:500]))[0].numpy()
            np.testing.assert_allclose(nn, rng.normal_np(key, step, idx[:500]), rtol=1e-14, atol=1e-14)


def test_trial_keys_distinct_and_trial0_is_plan_key():
    k = rng.as_i64(rng.node_key(1, "p", "spikes"))
    keys = [tb.trial_key(k, b) for b in range(64)]
    assert keys[0] == int(k)
    assert len(set(keys)) == 64


def test_poisson_inversion_matches_numba():
    import numba

    @numba.njit
    def ref(sk, lam, enl, n):
        out = np.zeros(n, np.int64)
        for i in range(n):
            out[i] = rng.poisson(sk, i, lam[i], enl[i])
        return out

    n = 20000
    lam = np.linspace(0.0, 12.0, n)
    key = rng.node_key(3, "src", "spikes")
    sk = rng.step_key_py(key, 5)
    want = ref(np.uint64(sk), lam, np.exp(-lam), n)
    u = tb.uniform(tb.step_key(torch.tensor([int(rng.as_i64(key))]), 5), torch.arange(n))
    got = tb.poisson_counts(u, torch.as_tensor(lam), torch.as_tensor(np.exp(-lam)))[0].numpy()
    np.testing.assert_array_equal(got, want)


# --- spike-for-spike equality (float64) ----------------------------------------------------------
def test_coba_spike_for_spike_200ms():
    sn, st = _both(_coba(), 200.0)
    n = _assert_same(sn, st)
    assert n > 10_000  # 12570 E + 3481 I spikes in 200 ms


def test_meta_backend_torch_selects_the_torch_runner():
    d = _coba()
    d["meta"]["backend"] = "torch"
    for nd in d["nodes"]:
        if nd["id"] in ("exc", "inh"):
            nd["data"]["n"] = 40
    sim = Simulation(d)
    assert type(sim.runner).__name__ == "TorchRunner"
    sim.run(5.0)
    assert sim.summary()["backend"] == "torch"


def _supported_types():
    from engine.plan import make_plan
    from engine.registry import all_types
    from engine.validate import build_graph
    from engine.design import load_design

    out = []
    for key in sorted(all_types()):
        try:
            plan = make_plan(build_graph(load_design(harness(key))))
        except Exception:  # pragma: no cover - a harness the registry contract tests report
            continue
        if not tb.unsupported(plan):
            out.append(key)
    return out


SUPPORTED = _supported_types()


def test_core_types_are_supported():
    for key in ("neuron.lif", "neuron.lif_cond", "neuron.adex", "neuron.izhikevich", "stimulus.poisson",
                "stimulus.spike_array", "stimulus.current", "projection.synapses", "monitor.spikes",
                "monitor.state", "plasticity.stdp", "neuron.meta"):
        assert key in SUPPORTED, key


@pytest.mark.parametrize("type_key", SUPPORTED)
def test_harness_equal_to_numba(type_key):
    sn, st = _both(harness(type_key), 60.0)
    _assert_same(sn, st)


def _zoo():
    N = node
    return design([
        N("p", "stimulus.poisson", n=50, rate_hz=40.0),
        N("pb", "stimulus.poisson", n=20, rate_hz=100.0, process="bernoulli", start_ms=5.0, stop_ms=80.0),
        N("sa", "stimulus.spike_array", n=4, events="0@1.0, 1@2.5, 1@2.5, 3@30.0, 2@60.1"),
        N("noise", "stimulus.current", waveform="noise", amplitude=3.0, offset=14.0),
        N("sine", "stimulus.current", waveform="sine", amplitude=5.0, offset=10.0, frequency_hz=20.0),
        N("a", "neuron.lif", n=40, i_bias_mv=5.0),
        N("c", "neuron.lif_cond", n=30, i_bias_mv=8.0, v_init_mv={"dist": "uniform", "low": -60, "high": -50}),
        N("z", "neuron.izhikevich", n=20, preset="excitatory_2003", i_bias=5.0),
        N("ring", "projection.synapses", rule="fixed_probability", p=0.3, weight_mv=1.5, delay_ms=1.5),
        N("accd", "projection.synapses", rule="fixed_probability", p=0.2, weight_gl=0.3,
          delay_ms={"dist": "uniform", "low": 0.0, "high": 3.0}),
        N("delta", "projection.synapses", rule="fixed_probability", p=0.2, synapse="delta", weight_mv=2.0,
          delay_ms=0.5),
        N("ac", "projection.synapses", rule="fixed_probability", p=0.2, receptor="inh",
          weight_gl={"dist": "normal", "mean": 0.5, "std": 0.1}, tau_syn_ms=8.0),
        N("pz", "projection.synapses", rule="all_to_all", weight=3.0),
        N("cz", "projection.synapses", rule="fixed_probability", p=0.3, weight=2.0, delay_ms=2.0),
        N("sz", "projection.synapses", rule="all_to_all", weight=20.0),
        N("stdp", "plasticity.stdp", bounds="soft", pairing="nearest", w_min=0.0, w_max=3.0, a_plus=0.1,
          a_minus=0.12),
        N("m1", "monitor.spikes"), N("m2", "monitor.spikes"), N("m3", "monitor.spikes"), N("m4", "monitor.spikes"),
        N("sv", "monitor.state", variables="v, i_syn, jump", neurons="0:5", every_ms=0.2),
    ], [("p.spikes", "ring.pre"), ("ring.post", "a.drive"), ("noise.current", "a.current"),
        ("a.spikes", "accd.pre"), ("accd.post", "c.drive"), ("sine.current", "c.current"),
        ("pb.spikes", "delta.pre"), ("delta.post", "a.drive"), ("a.spikes", "ac.pre"), ("ac.post", "c.drive"),
        ("p.spikes", "pz.pre"), ("pz.post", "z.drive"), ("c.spikes", "cz.pre"), ("cz.post", "z.drive"),
        ("sa.spikes", "sz.pre"), ("sz.post", "z.drive"), ("stdp.rule", "ring.rule"),
        ("a.spikes", "m1.spikes"), ("c.spikes", "m2.spikes"), ("z.spikes", "m3.spikes"), ("p.spikes", "m4.spikes"),
        ("a.state", "sv.state")], duration_ms=100.0)


def test_delays_delta_currents_and_stdp_equal_to_numba():
    """Ring and per-synapse delays, delta synapses, multi-count Poisson and spike arrays,
    Bernoulli sources with a window, noise and sine currents, Izhikevich presets, soft
    nearest-spike STDP (weights compared bit for bit)."""
    sn, st = _both(_zoo(), 150.0)
    assert _assert_same(sn, st) > 500
    assert not np.array_equal(st.plan.buffers["ring.w"], np.full_like(st.plan.buffers["ring.w"], 1.5))


def test_live_edits_apply_like_numba():
    d = _zoo()
    sims = [Simulation(d, backend=b) for b in ("numba", "torch")]
    for s in sims:
        s.run(30.0)
        s.set_param("p", "rate_hz", 80.0)
        s.set_param("pz", "weight", 1.0)
        s.set_param("a", "i_bias_mv", 9.0)
        s.run(30.0)
    _assert_same(*sims)


def test_small_chunks_and_record_overflow_do_not_change_spikes():
    """A full record buffer ends a call early (as in numba); the run loop drains and goes on."""
    d = design([node("p", "stimulus.poisson", n=10_000, rate_hz=5000.0), node("m", "monitor.spikes")],
               [("p.spikes", "m.spikes")])
    sn, st = _both(d, 4.0, chunk_ms=3.3)
    assert _assert_same(sn, st) > 80_000  # more than one record buffer (cap 80000 events)
    sn, st = _both(_coba(), 10.0, chunk_ms=0.7)
    _assert_same(sn, st)


# --- errors ---------------------------------------------------------------------------------------
def test_every_registered_type_runs_on_torch_or_is_refused_at_validation():
    """No type can silently lack torch steps: each registered type's harness either builds a
    plan whose every step kind has a torch step, or validation with backend 'torch' refuses
    its node, naming the node, the type and the reason, and so does Simulation."""
    from engine.design import load_design
    from engine.plan import make_plan
    from engine.registry import all_types
    from engine.validate import build_graph, validate

    refused = []
    for key in sorted(all_types()):
        d = harness(key)
        d["meta"]["backend"] = "torch"
        probs = [p for p in validate(d) if p.code == "backend.torch"]
        if probs:
            assert [p.node for p in probs] == ["x"], (key, probs)
            assert f"'x' ({key}) cannot run on the torch backend: " in probs[0].message and "numba" in probs[0].fix
            why = tb.type_refusal(all_types()[key])
            assert why and why in probs[0].message
            with pytest.raises(DesignError, match=f"'x' \\({key}\\) cannot run on the torch backend"):
                Simulation(harness(key), backend="torch")
            refused.append(key)
            continue
        plan = make_plan(build_graph(load_design(harness(key))))
        assert tb.unsupported(plan) == [], key
    assert not {"astrocyte.lr", "astrocyte.gchi", "plasticity.oja_subspace", "plasticity.three_factor",
                "plasticity.stp"} & set(refused)


def test_refusal_names_node_reason_and_fix(monkeypatch, capsys, tmp_path):
    """A type listed in REFUSED (or rendering a kind without torch step) is an error of
    validation for backend 'torch' on its node, in `gliaflow validate --backend torch` and
    at construction; with backend numba the same design is valid."""
    from engine.cli import main
    from engine.registry import get_type
    from engine.validate import validate

    monkeypatch.setitem(tb.REFUSED, "plasticity.oja_subspace", "it is host-only in this test")
    d = harness("plasticity.oja_subspace")
    assert not [p for p in validate(d) if p.severity == "error"]
    errs = [p for p in validate(d, backend="torch") if p.severity == "error"]
    assert len(errs) == 1 and errs[0].node == "x" and errs[0].code == "backend.torch"
    assert errs[0].message == ("'x' (plasticity.oja_subspace) cannot run on the torch backend: it is host-only in "
                               "this test")
    with pytest.raises(DesignError, match="it is host-only in this test"):
        Simulation(d, backend="torch")
    path = tmp_path / "d.json"
    path.write_text(json.dumps(d))
    assert main(["validate", str(path), "--backend", "torch"]) == 2
    assert "cannot run on the torch backend: it is host-only" in capsys.readouterr().out
    assert main(["validate", str(path)]) == 0
    # a kind rendered by a type's module without a torch step: refused, naming kind and module
    from engine.backends.numba_backend import RENDERERS

    cls = get_type("plasticity.oja_subspace")
    monkeypatch.delitem(tb.REFUSED, "plasticity.oja_subspace")
    fake = lambda step, ctx: []  # noqa: E731
    fake.__module__ = cls.__module__
    monkeypatch.setitem(RENDERERS, "oja.not_on_torch", fake)
    why = tb.type_refusal(cls)
    assert why.startswith("its kernel step 'oja.not_on_torch' (components/plasticity_oja.py) has no torch")


def test_unknown_backend_and_numba_options():
    with pytest.raises(DesignError, match="not available"):
        Simulation(_coba(), backend="jax")
    with pytest.raises(DesignError, match="apply to backend 'torch'"):
        Simulation(_coba(), backend="numba", trials=4)
    if not torch.cuda.is_available():
        with pytest.raises(DesignError, match="device 'cuda' is not available"):
            Simulation(_coba(), backend="torch", device="cuda")


# --- float32 --------------------------------------------------------------------------------------
def test_float32_rates_within_tolerance():
    """float32 rounds v and g differently, so a neuron near threshold fires a step earlier or
    later and the chaotic balanced network decorrelates within tens of ms; the statistics
    stay: population rates agree within 10 % over 300 ms (measured: 3.5 % E, 2.6 % I;
    over 1 s: 2.8 % and 1.8 %)."""
    d = _coba()
    r = {}
    for dt in ("float64", "float32"):
        s = Simulation(d, backend="torch", dtype=dt)
        s.run(300.0)
        r[dt] = {k: v["rate_hz"] for k, v in s.population_summary().items()}
        assert s.runner.T["exc.v"].dtype == getattr(torch, dt)
    for pop in ("exc", "inh"):
        assert r["float32"][pop] == pytest.approx(r["float64"][pop], rel=0.10)


# --- batched trials -------------------------------------------------------------------------------
def _noisy():
    return design([node("p", "stimulus.poisson", n=100, rate_hz=40.0), node("a", "neuron.lif", n=50),
                   node("s", "projection.synapses", rule="fixed_probability", p=0.2, weight_mv=4.0),
                   node("m", "monitor.spikes"), node("pm", "monitor.spikes")],
                  [("p.spikes", "s.pre"), ("s.post", "a.drive"), ("a.spikes", "m.spikes"), ("p.spikes", "pm.spikes")])


def test_trials_trial0_equals_single_run_others_differ():
    s1 = Simulation(_noisy(), backend="torch")
    s4 = Simulation(_noisy(), backend="torch", trials=4)
    s1.run(200.0)
    s4.run(200.0)
    t1, i1 = s1.spikes("m")
    assert len(t1) > 100
    t0, i0 = s4.spikes("m")
    np.testing.assert_array_equal(t0, t1)
    np.testing.assert_array_equal(i0, i1)
    assert s4.runner.T["a.v"].shape == (4, 50)
    seen = [(t1, i1)]
    for b in (1, 2, 3):
        t, i = s4.spikes("m", trial=b)
        assert 0.5 * len(t1) < len(t) < 1.5 * len(t1)
        for tt, ii in seen:
            assert not (np.array_equal(t, tt) and np.array_equal(i, ii))
        seen.append((t, i))
        # a trial's input spikes are the Poisson draws with that trial's key
        tp, ip = s4.spikes("pm", trial=b)
        key = s4.plan.params["p"]["key"]
        lam = s4.plan.params["p"]["lam"]
        step = 17
        u = tb.uniform(tb.step_key(torch.tensor([tb.trial_key(key, b)]), step), torch.arange(100))[0].numpy()
        want = np.flatnonzero(u > np.exp(-lam))
        np.testing.assert_array_equal(np.unique(ip[np.rint(tp / s4.dt).astype(int) == step]), want)
    assert int(s4.runner.counts["a"][0]) == int(s1.plan.buffers["a.count"][0])


def test_trials_with_plasticity_keep_weights_per_trial():
    d = _zoo()
    st = Simulation(d, backend="torch", trials=2)
    st.run(100.0)
    w = st.runner.T["ring.w"]
    assert w.shape[0] == 2 and not torch.equal(w[0], w[1])
    sn = Simulation(d, backend="numba")
    sn.run(100.0)
    np.testing.assert_array_equal(st.plan.buffers["ring.w"], sn.plan.buffers["ring.w"])


# --- command line ----------------------------------------------------------------------------------
def test_cli_run_backend_torch(capsys):
    from engine.cli import main

    code = main(["run", str(ROOT / "gallery" / "coba.json"), "--backend", "torch", "--device", "cpu",
                 "--duration-ms", "20", "--json", "--quiet"])
    assert code == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert s["backend"] == "torch" and s["sim_ms"] == pytest.approx(20.0)
    sim = Simulation(_coba(), backend="numba")
    sim.run(20.0)
    assert {k: v["n_spikes"] for k, v in s["populations"].items()} == \
        {k: v["n_spikes"] for k, v in sim.population_summary().items()}


def test_nalsm_gallery_design_is_spike_exact_on_torch():
    """gallery/nalsm.json on both backends, float64, 300 ms: digits input, NALSM LIF liquid,
    eight astrocyte-gated STDP rules and the global astrocyte give the same spikes, the same
    learned weights and the same astrocyte state."""
    from engine import Simulation

    a = Simulation("nalsm")
    a.run(300.0)
    b = Simulation("nalsm", backend="torch")
    b.run(300.0)
    for m in ("E_spikes", "I_spikes", "in_spikes"):
        x, y = a.spikes(m), b.spikes(m)
        assert len(x[0]) > 100 and np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1]), m
    for k in ("EE.w", "IE.w", "in_E_pos.w", "astro.a"):
        assert np.array_equal(a.plan.buffers[k], b.plan.buffers[k]), k


def test_triplet_stdp_is_exact_on_torch_with_multi_count_inputs():
    """Triplet STDP on a Poisson-driven projection (several spikes of one source in a step
    repeat the update in order) and on a recurrent one: same spikes and weights as numba,
    and trial 0 of a batch equals the single run."""
    from engine import Simulation

    nodes = [node("src", "stimulus.poisson", n=50, rate_hz=100.0), node("pop", "neuron.lif", n=40),
             node("syn", "projection.synapses", p=0.3, weight_mv=3.0),
             node("rec", "projection.synapses", p=0.1, weight_mv=0.3),
             node("t1", "plasticity.triplet", w_max=5.0), node("t", "plasticity.triplet", w_max=2.0),
             node("sp", "monitor.spikes")]
    d = design(nodes, [("src.spikes", "syn.pre"), ("syn.post", "pop.drive"), ("t1.rule", "syn.rule"),
                       ("pop.spikes", "rec.pre"), ("rec.post", "pop.drive"), ("t.rule", "rec.rule"),
                       ("pop.spikes", "sp.spikes")], duration_ms=400.0)
    a = Simulation(d)
    a.run()
    b = Simulation(d, backend="torch")
    b.run()
    c = Simulation(d, backend="torch", trials=3)
    c.run()
    assert len(a.spikes("sp")[0]) > 100
    for s in (b, c):
        assert np.array_equal(a.spikes("sp")[0], s.spikes("sp")[0]) and np.array_equal(a.spikes("sp")[1], s.spikes("sp")[1])
    for k in ("syn.w", "rec.w"):
        assert np.array_equal(a.plan.buffers[k], b.plan.buffers[k]), k
    assert not np.allclose(a.plan.buffers["syn.w"], 3.0)


# --- astrocytes, short-term plasticity, Oja's subspace rule, three-factor learning -----------------
# float64 on CPU: the torch steps mirror the numba kernels expression by expression, sum in
# numba's loop order and call the C library's exp/log/tanh, so spikes AND every float state
# buffer are bit-equal (tolerance 0, checked by _assert_same). float32: rounding differs
# from the first step; the tolerances below are ~10x the deviations measured over these runs
# (astrocyte and STP state <= 1.2e-5 of the variable's range, learned weights <= 8.7e-4 of
# the largest weight, spike counts identical in these input-driven networks).
F32_STATE_RTOL, F32_WEIGHT_RTOL, F32_RATE_RTOL = 1e-4, 5e-3, 0.05


def _lr(er_form="nest_3_10"):
    N = node
    return design([
        N("p", "stimulus.poisson", n=20, rate_hz=60.0),
        N("noise", "stimulus.current", waveform="noise", amplitude=2e-4, offset=1e-4),
        N("drv", "projection.synapses", rule="fixed_probability", p=0.5, synapse="delta", weight_mv=1.0),
        N("pop", "neuron.lif", n=24, i_bias_mv=12.0, v_init_mv={"dist": "uniform", "low": -65, "high": -50}),
        N("pp", "projection.synapses", rule="fixed_probability", p=0.3, weight_mv=1.5),
        N("stp", "plasticity.stp", u0_star=0.3, omega_f=30.0, omega_d=20.0),
        N("ast", "astrocyte.lr", n=4, delta_ip3_um=0.05, update_every_ms=0.5, rk4_substeps=3, er_form=er_form,
          ca_init_um={"dist": "uniform", "low": 0.05, "high": 0.5}, sic_weight=2.0, activity_gain=0.5,
          rate_ip3r={"dist": "uniform", "low": 0.004, "high": 0.008}),
        N("mp", "monitor.spikes"),
        N("ms", "monitor.state", variables="ip3, ca, h, sic", neurons="all", every_ms=0.5),
        N("mu", "monitor.state", variables="u, x", neurons="0:5", every_ms=0.5),
    ], [("p.spikes", "drv.pre"), ("drv.post", "ast.drive"), ("noise.current", "ast.current"),
        ("p.spikes", "pp.pre"), ("pp.post", "pop.drive"), ("stp.release", "pp.modulation"),
        {"id": "ea", "source": "pp", "sourceHandle": "activity", "target": "ast", "targetHandle": "activity",
         "data": {"sign": -1}},
        ("pop.spikes", "ast.activity"), ("ast.sic", "pop.current"), ("pop.spikes", "mp.spikes"),
        ("ast.state", "ms.state"), ("stp.state", "mu.state")], duration_ms=150.0)


def _gchi(coupling="ring"):
    """G-ChI astrocytes (rates scaled up 100x so Ca crosses C_Theta within the run) driven by a
    projection and by synaptic activity, releasing onto neurons and, through the tripartite
    STP (alpha = 1: release-increasing), onto the projection that drives them."""
    N = node
    return design([
        N("p", "stimulus.poisson", n=20, rate_hz=40.0),
        N("drv", "projection.synapses", rule="fixed_probability", p=0.5, synapse="delta", weight_mv=0.01),
        N("pop", "neuron.lif", n=16, i_bias_mv=14.5),
        N("pp", "projection.synapses", rule="fixed_probability", p=0.3, weight_mv=2.0),
        N("stp", "plasticity.stp", alpha=1.0, u0_star=0.2, omega_f=20.0, omega_d=10.0),
        N("ast", "astrocyte.gchi", n=5, coupling=coupling, update_every_ms=1.0, rk4_substeps=2,
          ca_init_um={"dist": "uniform", "low": 0.05, "high": 0.9},
          ip3_init_um={"dist": "uniform", "low": 0.0, "high": 1.5}, o_beta_um_s=50.0, o_n=30.0,
          omega_c_astro=600.0, omega_l=10.0, o_p_um_s=90.0, o_2=20.0, o_delta_um_s=120.0, o_3k_um_s=450.0,
          omega_5p=5.0, f_um_s=9.0, omega_a=60.0),
        N("rp", "projection.synapses", rule="all_to_all", weight_mv=3.0),
        N("mr", "monitor.spikes"), N("mp", "monitor.spikes"),
        N("ms", "monitor.state", variables="y_s, gamma_a, ip3, ca, h, g_a", neurons="all", every_ms=1.0),
    ], [("p.spikes", "drv.pre"), ("drv.post", "ast.drive"), ("p.spikes", "pp.pre"), ("pp.post", "pop.drive"),
        ("pp.activity", "ast.activity"), ("stp.release", "pp.modulation"),
        ("ast.gliotransmitter", "stp.gliotransmitter"), ("ast.release", "rp.pre"), ("rp.post", "pop.drive"),
        ("ast.release", "mr.spikes"), ("pop.spikes", "mp.spikes"), ("ast.state", "ms.state")], duration_ms=150.0)


def _hlop():
    """Digits -> Oja subspace neurons (frozen row 0, clipped updates) and two three-factor
    readouts: error-driven with the HLOP projection onto the Oja rows' complement, and
    reward-modulated Hebbian."""
    N = node
    return design([
        N("d", "stimulus.digits", n_samples=12, sample_ms=20.0, gap_ms=5.0, classes="0,1,2", max_rate_hz=200.0),
        N("sub", "neuron.lif", n=3, i_bias_mv=10.0),
        N("ps", "projection.synapses", rule="all_to_all", synapse="delta", allow_self=True,
          weight_mv={"dist": "normal", "mean": 0.0, "std": 0.1}),
        N("oja", "plasticity.oja_subspace", eta=2e-3, frozen_rows=1, clip=0.5, w_min=-2.0, w_max=2.0,
          tau_trace_ms=10.0),
        N("out", "neuron.lif", n=3, i_bias_mv=13.0),
        N("po", "projection.synapses", rule="all_to_all", weight_mv=0.3),
        N("tf", "plasticity.three_factor", eta=2e-7, w_min=-5.0, w_max=5.0, target_hz=40.0),
        N("out2", "neuron.lif", n=3, i_bias_mv=13.0),
        N("po2", "projection.synapses", rule="all_to_all", weight_mv=0.3),
        N("tf2", "plasticity.three_factor", eta=2e-7, w_min=-5.0, w_max=5.0, modulator_kind="reward",
          eligibility="hebbian"),
        N("mo", "monitor.spikes"), N("mo2", "monitor.spikes"), N("mw", "monitor.weights", every_ms=5.0),
    ], [("d.spikes", "ps.pre"), ("ps.post", "sub.drive"), ("oja.rule", "ps.rule"),
        ("d.spikes", "po.pre"), ("po.post", "out.drive"), ("tf.rule", "po.rule"), ("d.label", "tf.modulator"),
        ("oja.subspace", "tf.subspace"), ("d.spikes", "po2.pre"), ("po2.post", "out2.drive"),
        ("tf2.rule", "po2.rule"), ("d.label", "tf2.modulator"), ("out.spikes", "mo.spikes"),
        ("out2.spikes", "mo2.spikes"), ("po.weights", "mw.weights")], duration_ms=200.0)


def _hlop_tasks():
    """Continual learning: two digit tasks; the Oja rule learns 2 rows per task on train
    samples only and hands on the finished tasks' rows ('frozen') to the three-factor rule."""
    N = node
    return design([
        N("d", "stimulus.digits", n_samples=12, sample_ms=15.0, gap_ms=5.0, tasks="0,1; 2", max_rate_hz=200.0,
          train_fraction=0.75),
        N("sub", "neuron.lif", n=4, i_bias_mv=10.0),
        N("ps", "projection.synapses", rule="all_to_all", synapse="delta", allow_self=True,
          weight_mv={"dist": "normal", "mean": 0.0, "std": 0.1}),
        N("oja", "plasticity.oja_subspace", eta=2e-3, rows_per_task=2, projected="frozen", w_min=-2.0, w_max=2.0,
          tau_trace_ms=10.0),
        N("out", "neuron.lif", n=3, i_bias_mv=13.0),
        N("po", "projection.synapses", rule="all_to_all", weight_mv=0.3),
        N("tf", "plasticity.three_factor", eta=2e-7, w_min=-5.0, w_max=5.0, target_hz=40.0),
        N("mo", "monitor.spikes"),
    ], [("d.spikes", "ps.pre"), ("ps.post", "sub.drive"), ("oja.rule", "ps.rule"), ("d.label", "oja.schedule"),
        ("d.spikes", "po.pre"), ("po.post", "out.drive"), ("tf.rule", "po.rule"), ("d.label", "tf.modulator"),
        ("oja.subspace", "tf.subspace"), ("out.spikes", "mo.spikes")], duration_ms=250.0)


def _cues():
    """Cued events (microstimulus cue bank with per-source time constants, two events, a
    phase change, lead and attention gate) teaching neuron.linear outputs through the
    three-factor rule's target mode; correlated (MIP) and rate-switching Poisson sources;
    signals recorded by monitor.signal."""
    N = node
    return design([
        N("cue", "stimulus.cued_events", n_cue=12, n_per_event=6, trial_ms=60.0, cue_ms=30.0, cue_rate_hz=300.0,
          cue_tau_ms={"dist": "uniform", "low": 5.0, "high": 20.0}, cue_profile="microstimuli", cue_width=0.2,
          delays_ms="20, 35", probabilities="0.7, 0.4", event_ms=10.0, event_rate_hz=400.0, lead_ms=5.0,
          attend_ms=50.0, change_ms=130.0, delays_after_ms="25, 30", probabilities_after="0.3, 0.9"),
        N("lin", "neuron.linear", n=2, tau_ms=5.0),
        N("pl", "projection.synapses", rule="all_to_all", weight=0.05),
        N("tf", "plasticity.three_factor", eta=1e-4, w_min=-1.0, w_max=1.0, eligibility="hebbian"),
        N("cp", "stimulus.correlated_poisson", n=30, rate_hz=80.0, n_groups=2, group_size=10, correlation=0.3),
        N("sw", "stimulus.poisson_switch", n=10, rate_hz=50.0, rate_after_hz=200.0, switch_ms=100.0,
          process="bernoulli"),
        N("pop", "neuron.lif", n=10, i_bias_mv=10.0),
        N("pc", "projection.synapses", rule="fixed_probability", p=0.3, weight_mv=1.0),
        N("ps", "projection.synapses", rule="fixed_probability", p=0.3, weight_mv=1.0),
        N("merr", "monitor.signal", every_ms=1.0), N("mt", "monitor.signal", every_ms=0.5),
        N("mg", "monitor.signal", every_ms=0.5),
        N("mc", "monitor.spikes"), N("mcp", "monitor.spikes"), N("msw", "monitor.spikes"), N("mp", "monitor.spikes"),
        N("mv", "monitor.state", variables="v", neurons="all", every_ms=0.5),
    ], [("cue.spikes", "pl.pre"), ("pl.post", "lin.drive"), ("tf.rule", "pl.rule"), ("cue.target", "tf.modulator"),
        ("cue.gate", "tf.gate"), ("tf.error", "merr.signal"), ("cue.target", "mt.signal"), ("cue.gate", "mg.signal"),
        ("cp.spikes", "pc.pre"), ("pc.post", "pop.drive"), ("sw.spikes", "ps.pre"), ("ps.post", "pop.drive"),
        ("cue.spikes", "mc.spikes"), ("cp.spikes", "mcp.spikes"), ("sw.spikes", "msw.spikes"),
        ("pop.spikes", "mp.spikes"), ("lin.state", "mv.state")], duration_ms=200.0)


_DESIGNS = {"lr": _lr, "lr_conserved": lambda: _lr("conserved"), "gchi": _gchi, "gchi_all": lambda: _gchi("all"),
            "hlop": _hlop, "hlop_tasks": _hlop_tasks, "cues": _cues}
_REF: dict = {}


def _numba_ref(name: str) -> Simulation:
    """The numba run of a design above over its duration (once per test session)."""
    if name not in _REF:
        s = Simulation(_DESIGNS[name](), backend="numba")
        s.run()
        _REF[name] = s
    return _REF[name]


def _torch_run(name: str, **kw) -> Simulation:
    s = Simulation(_DESIGNS[name](), backend="torch", **kw)
    s.run()
    return s


def test_li_rinzel_astrocytes_and_short_term_plasticity_are_exact():
    """astrocyte.lr (multi-rate RK4 in 3 substeps every 0.5 ms, per-astrocyte parameters,
    both ER forms) with drive, signed activity (weights x STP release), spikes and a noise
    current as inputs and its SIC driving the neurons; plasticity.stp on the projection."""
    for name in ("lr", "lr_conserved"):
        sn, st = _numba_ref(name), _torch_run(name)
        assert _assert_same(sn, st) > 50, name
        sic = st.state("ms")["sic"]
        assert sic.max() > 1.0 and (sic == 0).any(), name  # some astrocytes above SIC_th, some below
        assert 0.0 < st.plan.buffers["stp.u"].max() < 1.0


def test_gchi_astrocytes_and_tripartite_synapse_are_exact():
    """astrocyte.gchi (ring and all-to-all gap junctions, RK4 substeps, clamps, releases as
    spikes one step later) and plasticity.stp reading its gliotransmitter (alpha = 1)."""
    for name in ("gchi", "gchi_all"):
        sn, st = _numba_ref(name), _torch_run(name)
        assert _assert_same(sn, st) > 10, name
        assert len(st.spikes("mr")[0]) > 0, name  # releases happened
        assert st.state("ms")["g_a"].max() > 1.0 and st.plan.buffers["stp.gamma"].max() > 0.5, name


def test_oja_subspace_and_three_factor_are_exact():
    """Oja's rule with a frozen row and clipping, the HLOP projection of the presynaptic
    traces, error and reward modulators, presynaptic and Hebbian eligibility: the learned
    weights are bit-equal; frozen row 0 never moves, the others and the readouts do."""
    sn, st = _numba_ref("hlop"), _torch_run("hlop")
    assert _assert_same(sn, st) > 10
    d0 = Simulation(_hlop(), backend="numba").plan.buffers
    q = st.plan.buffers["oja.qidx"]
    w0, w = d0["ps.w"], st.plan.buffers["ps.w"]
    assert np.array_equal(w[q[0]], w0[q[0]]) and not np.array_equal(w[q[1]], w0[q[1]])
    for k in ("po.w", "po2.w", "tf.e", "tf2.e"):
        assert not np.array_equal(st.plan.buffers[k], d0[k]), k


def test_oja_task_schedule_is_exact_across_chunks():
    """The Oja rule with task boundaries (rows per task, frozen-rows subspace handed to the
    three-factor rule): torch run in 50-ms chunks equals one numba run, task counters and
    the number of rows handed on included."""
    sn = _numba_ref("hlop_tasks")
    st = Simulation(_hlop_tasks(), backend="torch")
    for _ in range(5):
        st.run(50.0)
    assert _assert_same(sn, st) > 5
    for k in ("oja.cur", "oja.nproj"):
        np.testing.assert_array_equal(st.plan.buffers[k], sn.plan.buffers[k], err_msg=k)
    assert list(st.plan.buffers["oja.cur"]) == [1, 2] and int(st.plan.buffers["oja.nproj"][0]) == 4


def test_cued_events_target_learning_correlated_and_switching_sources_are_exact():
    """Spikes of the three new stimuli, the target and gate signals, the three-factor error
    (monitor.signal) and the weights learned in target mode are bit-equal to numba."""
    sn, st = _numba_ref("cues"), _torch_run("cues")
    assert _assert_same(sn, st) > 500
    assert st.state("mt")["target"].max() == 1.0 and 0 < st.state("mg")["gate"].mean() < 1
    assert np.abs(st.state("merr")["error"]).max() > 0
    assert not np.allclose(st.plan.buffers["pl.w"], 0.05)


_CLOSE_STATE = {"lr": ("ast.ip3", "ast.ca", "ast.h", "ast.sic", "stp.u", "stp.x"),
                "gchi": ("ast.S", "ast.x_a", "ast.g_a", "stp.u", "stp.gamma"),
                "hlop": ("oja.x", "tf.rpre", "tf.e")}
_CLOSE_WEIGHTS = {"hlop": ("ps.w", "po.w", "po2.w")}


def _assert_close(name: str, st: Simulation) -> None:
    sn = _numba_ref(name)
    for keys, rtol in ((_CLOSE_STATE[name], F32_STATE_RTOL), (_CLOSE_WEIGHTS.get(name, ()), F32_WEIGHT_RTOL)):
        for k in keys:
            a, b = sn.plan.buffers[k], st.plan.buffers[k]
            assert np.abs(b - a).max() <= rtol * np.abs(a).max(), (name, k, float(np.abs(b - a).max()))
    for pop, v in sn.population_summary().items():
        assert st.population_summary()[pop]["n_spikes"] == pytest.approx(v["n_spikes"], rel=F32_RATE_RTOL), pop


def test_new_types_float32_within_tolerance():
    """float32 against the float64 numba reference, tolerances as stated above."""
    for name in _CLOSE_STATE:
        st = _torch_run(name, dtype="float32")
        assert st.runner.T[_CLOSE_STATE[name][0]].dtype == torch.float32
        _assert_close(name, st)


def test_new_types_with_batched_trials_keep_trial0_exact():
    """trials = 2: trial 0 equals numba (releases pending per trial, per-trial STP state and
    learned weights, the task schedule shared by the trials); trial 1 runs too."""
    for name in ("gchi", "hlop_tasks"):
        sn, st = _numba_ref(name), _torch_run(name, trials=2)
        _assert_same(sn, st)
        assert st.runner.T["tf.e" if name == "hlop_tasks" else "stp.u"].shape[0] == 2
        mon = "mo" if name == "hlop_tasks" else "mp"
        assert len(st.spikes(mon, trial=1)[0]) > 0


# --- devices and the command line ------------------------------------------------------------------
def test_cli_run_trials_dtype_and_device_errors(capsys):
    from engine.cli import main

    coba = str(ROOT / "gallery" / "coba.json")
    assert main(["run", coba, "--backend", "torch", "--device", "cpu", "--dtype", "float32", "--trials", "2",
                 "--duration-ms", "5", "--json", "--quiet"]) == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert s["torch"]["trials"] == 2 and s["torch"]["dtype"] == "float32" and s["torch"]["device"] == "cpu"
    assert len(s["torch"]["spikes_per_trial"]["exc"]) == 2
    assert main(["run", coba, "--backend", "torch", "--device", "gpu0", "--duration-ms", "1", "--quiet"]) == 2
    assert "is not a torch device" in capsys.readouterr().err
    assert main(["run", coba, "--trials", "2", "--duration-ms", "1", "--quiet"]) == 2  # numba: no trials
    if not torch.cuda.is_available():
        assert main(["run", coba, "--backend", "torch", "--device", "cuda", "--duration-ms", "1", "--quiet"]) == 2
        assert "device 'cuda' is not available" in capsys.readouterr().err


def _train_design():
    from engine import Network

    net = Network("t", dt_ms=1.0, seed=3, duration_ms=50.0)
    s = net.add("stimulus.patterns", "stim", n=4, n_patterns=6, n_classes=2, rate_hz=40.0, sample_ms=30.0,
                epochs=1, test_epochs=0)
    p = net.add("projection.synapses", "in_h", rule="all_to_all", weight_mv={"dist": "normal", "mean": 1.0,
                                                                             "std": 0.5})
    h = net.add("neuron.lif", "hid", n=3, e_leak_mv=0.0, v_reset_mv=0.0, v_threshold_mv=1.0, v_init_mv=0.0,
                refractory_ms=0.0, tau_m_ms=10.0)
    net.connect(s.spikes, p.pre)
    net.connect(p.post, h.drive)
    return net.design


def test_train_device_and_dtype(tmp_path, capsys):
    from engine.cli import main
    from engine.training import train

    r = train(_train_design(), epochs=1, device="cpu", dtype="float32")
    assert r.net.readout.weight.dtype == torch.float32 and len(r.history) == 2
    path = tmp_path / "d.json"
    _train_design().save(path)
    assert main(["train", str(path), "--epochs", "1", "--device", "cpu", "--json"]) == 0
    capsys.readouterr()
    if not torch.cuda.is_available():
        assert main(["train", str(path), "--epochs", "1", "--device", "cuda"]) == 2
        assert "device 'cuda' is not available" in capsys.readouterr().err


_NO_CUDA = "needs a CUDA GPU (torch sees no CUDA device)"


@pytest.mark.skipif(not torch.cuda.is_available(), reason=_NO_CUDA)
def test_cuda_runs_new_types_and_cli(capsys):
    """On CUDA, scattered sums use atomics and the math functions are CUDA's: not bit-equal
    to numba, so float64 on CUDA is held to the float32 tolerances above; the command line
    runs and trains on the GPU."""
    from engine.cli import main
    from engine.training import train

    for name in _CLOSE_STATE:
        st = _torch_run(name, device="cuda")
        assert st.runner.T[_CLOSE_STATE[name][0]].device.type == "cuda"
        _assert_close(name, st)
    coba = str(ROOT / "gallery" / "coba.json")
    assert main(["run", coba, "--backend", "torch", "--device", "cuda", "--trials", "4", "--duration-ms", "20",
                 "--json", "--quiet"]) == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert s["torch"]["device"].startswith("cuda") and s["populations"]["exc"]["n_spikes"] > 0
    r = train(_train_design(), epochs=1, device="cuda")
    assert next(r.net.parameters()).device.type == "cuda"
