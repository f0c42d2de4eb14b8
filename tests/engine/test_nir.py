"""NIR interchange: a feed-forward LIF design survives export and import spike for spike
(with and without gliaflow's metadata), and a graph built with the nir package's own
constructors imports and runs; what NIR cannot express is refused by name."""
from __future__ import annotations

import numpy as np
import pytest

from engine import DesignError, Simulation
from tests.helpers import design, node

nir = pytest.importorskip("nir", reason="nir (the test extra) is needed for the interchange tests")


def feed_forward(synapse="exponential"):
    w = {"exponential": 6.0, "delta": 9.0}[synapse]
    return design([node("inp", "stimulus.poisson", n=50, rate_hz=40.0),
                   node("h", "neuron.lif", n=30, refractory_ms=0.0),
                   node("o", "neuron.lif", n=10, refractory_ms=0.0, tau_m_ms=10.0),
                   node("p1", "projection.synapses", p=0.3, weight_mv=w, synapse=synapse, tau_syn_ms=5.0),
                   node("p2", "projection.synapses", p=0.5, weight_mv=w, synapse=synapse, tau_syn_ms=5.0, delay_ms=1.0),
                   node("mh", "monitor.spikes"), node("mo", "monitor.spikes")],
                  [("inp.spikes", "p1.pre"), ("p1.post", "h.drive"), ("h.spikes", "p2.pre"), ("p2.post", "o.drive"),
                   ("h.spikes", "mh.spikes"), ("o.spikes", "mo.spikes")], duration_ms=500.0)


@pytest.mark.parametrize("synapse", ["exponential", "delta"])
@pytest.mark.parametrize("use_metadata", [True, False])
def test_round_trip_through_a_nir_file_gives_the_same_spikes(tmp_path, synapse, use_metadata):
    from engine.nir_io import from_nir, to_nir

    d = feed_forward(synapse)
    s0 = Simulation(d)
    s0.run()
    assert len(s0.spikes("mo")[0]) > 20  # the output layer is active
    g = to_nir(d)
    kinds = {type(v).__name__ for v in g.nodes.values()}
    assert kinds == {"Input", "Output", "Linear", "Delay", "CubaLIF" if synapse == "exponential" else "LIF"}
    f = tmp_path / "net.nir"
    nir.write(str(f), g)
    d2 = from_nir(nir.read(str(f)), use_metadata=use_metadata)
    if not use_metadata:  # NIR carries no input data: the stand-in Poisson source gets the original's rate
        inp = next(n for n in d2.doc["nodes"] if n["id"] == "inp")
        assert inp["type"] == "stimulus.poisson" and inp["data"]["n"] == 50
        inp["data"]["rate_hz"] = 40.0
        d2.doc["meta"].update(d["meta"])
        assert next(n for n in d2.doc["nodes"] if n["id"] == "p1")["data"]["rule"] == "explicit"
    s2 = Simulation(d2)
    s2.run(500.0)
    for m in ("mh", "mo"):
        a, b = s0.spikes(m), s2.spikes(m)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]), m


def test_a_graph_built_with_nir_constructors_imports_and_runs():
    from engine.nir_io import from_nir

    rng = np.random.default_rng(0)
    n_in, n_out = 20, 5
    g = nir.NIRGraph(
        nodes={"in": nir.Input(input_type={"input": np.array([n_in])}),
               "fc": nir.Affine(weight=rng.uniform(0, 0.02, (n_out, n_in)), bias=np.zeros(n_out)),
               "lif": nir.CubaLIF(tau_syn=np.full(n_out, 5e-3), tau_mem=np.full(n_out, 20e-3), r=np.ones(n_out),
                                  v_leak=np.zeros(n_out), v_threshold=np.full(n_out, 1.0), v_reset=np.zeros(n_out),
                                  w_in=np.ones(n_out)),
               "out": nir.Output(output_type={"output": np.array([n_out])})},
        edges=[("in", "fc"), ("fc", "lif"), ("lif", "out")])
    d = from_nir(g)
    types = {n["id"]: n["type"] for n in d.doc["nodes"]}
    assert types == {"in": "stimulus.poisson", "fc": "projection.synapses", "lif": "neuron.lif", "out": "monitor.spikes"}
    inp = next(n for n in d.doc["nodes"] if n["id"] == "in")
    inp["data"]["rate_hz"] = 200.0
    sim = Simulation(d)
    sim.run(500.0)
    lif = next(n for n in d.doc["nodes"] if n["id"] == "lif")["data"]
    assert lif["tau_m_ms"] == pytest.approx(20.0) and lif["v_threshold_mv"] == 1.0
    w = sim.connectivity("fc")[2]
    assert np.allclose(np.sort(w), np.sort(g.nodes["fc"].weight[g.nodes["fc"].weight != 0] / 5e-3))
    assert len(sim.spikes("out")[0]) > 0


def test_what_nir_cannot_express_is_refused_by_name():
    from engine.nir_io import to_nir

    d = feed_forward()
    d["nodes"].append(node("r", "plasticity.stdp", w_max=10.0))
    d["edges"].append({"id": "er", "source": "r", "sourceHandle": "rule", "target": "p1", "targetHandle": "rule"})
    with pytest.raises(DesignError) as e:
        to_nir(d)
    assert "'r' (plasticity.stdp)" in str(e.value)
    d = feed_forward()
    next(n for n in d["nodes"] if n["id"] == "h")["data"]["refractory_ms"] = 2.0
    with pytest.raises(DesignError) as e:
        to_nir(d)
    assert "'h'" in str(e.value) and "refractory" in str(e.value)
    d = feed_forward()
    d["nodes"].append(node("rec", "projection.synapses", p=0.1, weight_mv=1.0))
    d["edges"] += [{"id": "x1", "source": "o", "sourceHandle": "spikes", "target": "rec", "targetHandle": "pre"},
                   {"id": "x2", "source": "rec", "sourceHandle": "post", "target": "h", "targetHandle": "drive"}]
    with pytest.raises(DesignError) as e:
        to_nir(d)
    assert "'rec'" in str(e.value) and "loop" in str(e.value)
