"""Surrogate-gradient training (engine.training): gradient checks, exactness, learning, CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine import Network, Simulation
from engine.errors import DesignError
from engine.training import (_CTX, Potential, PoissonClassTask, SpikingNet, _patterns_task, smooth_step, surrogate_spike,
                             train)

# finite differences of the smooth model: central, step 1e-6, float64; agreement within
# |g - fd| <= RTOL |fd| + ATOL (truncation ~eps^2, round-off ~1e-16 / eps ~ 1e-10)
EPS, RTOL, ATOL = 1e-6, 1e-5, 1e-9


def small_design(kind: str, n_in=4, n=3, seed=3, synapse="exponential", monitor=False, **pop):
    net = Network("t", dt_ms=1.0, seed=seed, duration_ms=50.0)
    s = net.add("stimulus.patterns", "stim", n=n_in, n_patterns=6, n_classes=2, rate_hz=40.0, sample_ms=30.0,
                epochs=1, test_epochs=0)
    if kind == "lif":
        w = {"weight_mv": {"dist": "normal", "mean": 1.0, "std": 0.5}}
        p = net.add("projection.synapses", "in_h", rule="all_to_all", synapse=synapse, tau_syn_ms=5.0, **w)
        h = net.add("neuron.lif", "hid", n=n, e_leak_mv=0.0, v_reset_mv=0.0, v_threshold_mv=1.0, v_init_mv=0.0,
                    refractory_ms=0.0, tau_m_ms=10.0, **pop)
    else:
        w = {"weight_mv": {"dist": "normal", "mean": 0.3, "std": 0.2}} if synapse == "delta" else \
            {"weight": {"dist": "normal", "mean": 0.3, "std": 0.2}}
        p = net.add("projection.synapses", "in_h", rule="all_to_all", synapse=synapse, tau_syn_ms=5.0, **w)
        h = net.add("neuron.meta", "hid", n=n, **pop)
    net.connect(s.spikes, p.pre)
    net.connect(p.post, h.drive)
    if monitor:
        m = net.add("monitor.spikes", "mon")
        net.connect(h.spikes, m.spikes)
    return net.design


@pytest.mark.parametrize("surrogate", ["fast_sigmoid", "arctan"])
def test_surrogate_derivative_is_that_of_the_smooth_step(surrogate, monkeypatch):
    x = torch.linspace(-2, 2, 41, dtype=torch.float64, requires_grad=True)
    s = surrogate_spike(x, surrogate, 3.0)
    assert torch.equal(s.detach(), (x > 0).double())  # hard forward
    (g,) = torch.autograd.grad(s.sum(), x)
    xs = x.detach()
    fd = (smooth_step(xs + EPS, surrogate, 3.0) - smooth_step(xs - EPS, surrogate, 3.0)) / (2 * EPS)
    np.testing.assert_allclose(g.numpy(), fd.numpy(), rtol=RTOL, atol=ATOL)
    # a comparison with a Potential goes through the same surrogate (the forward pass sets _CTX)
    monkeypatch.setattr(_CTX, "kind", surrogate)
    monkeypatch.setattr(_CTX, "slope", 3.0)
    v = (xs + 1.0).clone().requires_grad_(True)
    (g2,) = torch.autograd.grad((v.as_subclass(Potential) > 1.0).as_subclass(torch.Tensor).sum(), v)
    np.testing.assert_allclose(g2.numpy(), g.numpy(), rtol=1e-12)


@pytest.mark.parametrize("kind", ["lif", "meta"])
@pytest.mark.parametrize("surrogate", ["fast_sigmoid", "arctan"])
def test_surrogate_gradient_matches_finite_differences_of_smooth_model(kind, surrogate):
    """Autograd through the shared step functions (hard threshold replaced by h) equals
    central finite differences of that smooth forward pass, for a weight and for every
    intrinsic parameter (of neuron 0 and neuron 2)."""
    torch.manual_seed(0)
    net = SpikingNet(small_design(kind), learn=("readout", "weights", "intrinsics"))
    x = (torch.rand(3, 15, 4, dtype=torch.float64) < 0.3).double()
    y = torch.tensor([0, 1, 0])

    def loss():
        net.rng.manual_seed(5)  # the meta neurons' uniform draws: the same in every evaluation
        return torch.nn.functional.cross_entropy(net(x, mode="smooth", surrogate=surrogate, slope=2.0), y)

    loss().backward()
    checked = []
    for name, q in net.named_parameters():
        if name.startswith("readout"):
            continue
        for idx in ([(0, 0), (1, 2)] if q.ndim == 2 else [(0,), (2,)]):
            g = float(q.grad[idx])
            with torch.no_grad():
                q[idx] += EPS
                lp = float(loss())
                q[idx] -= 2 * EPS
                lm = float(loss())
                q[idx] += EPS
            fd = (lp - lm) / (2 * EPS)
            assert abs(g - fd) <= RTOL * abs(fd) + ATOL, (name, idx, g, fd)
            checked.append((name, abs(fd)))
    names = {n.split(".")[-1] for n, _ in checked}
    expect = {"tau_m_ms", "v_threshold_mv", "v_reset_mv"} if kind == "lif" else {"tau_m_ms", "theta", "v_reset", "beta"}
    assert names == expect | {"0"}
    assert all(v > 0 for _, v in checked if not _.endswith("tau_m_ms"))  # not vacuous


def test_lif_forward_equals_the_simulation():
    """The straight-through forward pass is the simulation: spikes of the first pattern
    presentation equal the numba run spike for spike (shared step function)."""
    d = small_design("lif", n_in=20, n=10, synapse="exponential", monitor=True)
    sim = Simulation(d)
    net = SpikingNet(d, learn=("readout", "intrinsics"))
    task = _patterns_task(net.stimulus, net.plan.seed, net.dt, torch.float64)
    sched = sim.plan.node_info["stim"]["schedule"]
    T = sched["sample_steps"]
    sim.run(T * sim.dt)
    t, i = sim.spikes("mon")
    first = int(sched["index"][0])
    _, rec = net(task.x_train[first:first + 1], record=True)
    tt, ii = np.nonzero(rec["hid"][0].numpy())
    assert len(t) > 5
    np.testing.assert_array_equal(np.lexsort((i, t)), np.arange(len(t)))
    np.testing.assert_array_equal(tt, t)
    np.testing.assert_array_equal(ii, i)


@pytest.mark.parametrize("kind", ["lif", "meta"])
def test_training_learns_a_poisson_class_task(kind):
    d = small_design(kind, n_in=30, n=16, synapse="delta", seed=1)
    d.node("in_h")["data"]["weight_mv"] = {"dist": "normal", "mean": 0.1, "std": 0.2}
    task = PoissonClassTask(n_in=30, n_classes=3, sample_ms=30.0, rate_low_hz=2.0, rate_high_hz=60.0,
                            n_train=20, n_test=20, seed=1)
    r = train(d, epochs=8, lr=0.02, learn=("readout", "weights", "intrinsics"), task=task, batch_size=20, seed=1)
    h = r.history
    assert len(h) == 9 and h[0]["epoch"] == 0
    assert h[-1]["train_loss"] < 0.8 * h[0]["train_loss"]
    assert h[-1]["test_acc"] >= 0.6  # chance: 1/3
    # intrinsics moved and respect their constraints
    vals = r.intrinsics["hid"]
    assert (vals["tau_m_ms"] > 1.0).all()
    if kind == "meta":
        assert (vals["beta"] > 0).all()
    assert any(np.abs(vals[k] - r.initial_intrinsics["hid"][k]).max() > 1e-4 for k in vals)
    # the trained design is a valid design that runs, with the per-neuron values in its sidecar
    td = r.trained_design()
    assert any(k.startswith("hid.learned_") for k in td.arrays)
    Simulation(td).run(5.0)


def test_trained_design_keeps_the_learned_weights(tmp_path):
    task = PoissonClassTask(n_in=6, n_classes=2, sample_ms=10.0, n_train=8, n_test=4, seed=0)
    for rule in ({"rule": "all_to_all"}, {"rule": "fixed_probability", "p": 0.5}):
        d = small_design("lif", n_in=6, n=5)
        d.node("in_h")["data"].update(rule)
        r = train(d, epochs=2, lr=0.05, learn=("readout", "weights"), task=task, batch_size=4)
        path = tmp_path / "t.json"
        r.trained_design().save(path)
        again = SpikingNet(str(path), learn=())
        w0 = SpikingNet(d, learn=()).projs[0].weight()
        w1, w2 = r.net.projs[0].weight().detach(), again.projs[0].weight()
        assert not torch.equal(w1, w0)  # learned
        torch.testing.assert_close(w2, w1, rtol=0, atol=0)  # written back exactly


def test_fixed_intrinsics_do_not_move():
    task = PoissonClassTask(n_in=4, n_classes=2, sample_ms=10.0, n_train=4, n_test=4, seed=0)
    r = train(small_design("meta", synapse="delta"), epochs=1, learn=("readout", "weights"), task=task)
    assert r.intrinsics == {} and r.initial_intrinsics == {}


def test_unsupported_designs_are_refused():
    net = Network("t", dt_ms=1.0)
    s = net.add("stimulus.patterns", "stim", n=4)
    p = net.add("projection.synapses", "p", rule="all_to_all", weight=1.0)
    h = net.add("neuron.izhikevich", "h", n=3)
    net.connect(s.spikes, p.pre)
    net.connect(p.post, h.drive)
    with pytest.raises(DesignError, match="cannot be trained"):
        SpikingNet(net.design)
    with pytest.raises(DesignError, match="has delays"):
        SpikingNet(_with_delay())


def _with_delay():
    d = small_design("lif")
    d.node("in_h")["data"]["delay_ms"] = 2.0
    return d


def test_cli_train(tmp_path, capsys):
    from engine.cli import main
    path = tmp_path / "d.json"
    small_design("lif", n_in=10, n=5).save(path)
    out = tmp_path / "trained.json"
    rc = main(["train", str(path), "--epochs", "2", "--learn", "readout,intrinsics", "--json", "-o", str(out)])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["epochs"] == 3 and "hid" in summary["intrinsics"]
    assert out.exists() and (tmp_path / "trained.arrays.npz").exists()
    assert main(["train", str(path), "--learn", "bogus"]) == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch sees no CUDA device)")
def test_surrogate_mechanism_on_cuda():
    v = torch.tensor([0.5, 1.5], dtype=torch.float32, device="cuda", requires_grad=True)
    s = (v.as_subclass(Potential) * 1.0 > 1.0).as_subclass(torch.Tensor)
    (g,) = torch.autograd.grad(s.sum(), v)
    assert s.tolist() == [0.0, 1.0] and g.device.type == "cuda" and (g > 0).all()
