"""Helpers shared by tests: small designs built from the gallery and the Python API."""
from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def small_coba(n: int = 400, seed: int = 1) -> dict:
    """COBA with n neurons and the benchmark's in-degree 80 (p = 80 / n)."""
    d = json.loads((ROOT / "gallery" / "coba.json").read_text())
    d["meta"]["seed"] = seed
    ne = int(n * 0.8)
    for nd in d["nodes"]:
        if nd["id"] == "exc":
            nd["data"]["n"] = ne
        elif nd["id"] == "inh":
            nd["data"]["n"] = n - ne
        elif nd["type"] == "projection.synapses":
            nd["data"]["p"] = min(1.0, 80.0 / n)
    return d


def design(nodes: list[dict], edges: list[tuple[str, str]] | list[dict], **meta) -> dict:
    """A design dict from nodes and ``("a.port", "b.port")`` edges."""
    m = {"name": "test", "dt_ms": 0.1, "duration_ms": 100.0, "seed": 1}
    m.update(meta)
    es = []
    for k, e in enumerate(edges):
        if isinstance(e, dict):
            es.append(e)
            continue
        (s, sp), (t, tp) = e[0].rsplit(".", 1), e[1].rsplit(".", 1)
        es.append({"id": f"e{k}", "source": s, "sourceHandle": sp, "target": t, "targetHandle": tp})
    return {"schema_version": 1, "meta": m, "nodes": nodes, "edges": es}


def node(id: str, type: str, **data) -> dict:
    return {"id": id, "type": type, "position": {"x": 0, "y": 0}, "data": data}


# --- a generic harness: a minimal runnable design around any registered type -------------
def harness(type_key: str) -> dict:
    """Wire ``type_key`` to providers for each input port kind and consumers for its outputs."""
    from engine.registry import get_type

    cls = get_type(type_key)
    nodes = [node("x", type_key)]
    edges: list[tuple[str, str]] = []
    fam = cls.family()
    if fam == "neuron":
        nodes[0]["data"]["n"] = 10
    if type_key == "stimulus.spike_array":
        nodes[0]["data"].update(n=3, events="0@1.0, 1@2.5, 2@3.0, 0@4.0")
    k = 0
    for p in cls.in_ports():
        k += 1
        if p.kind == "spikes":
            nodes.append(node(f"src{k}", "stimulus.poisson", n=10, rate_hz=50.0))
            edges.append((f"src{k}.spikes", f"x.{p.name}"))
        elif p.kind == "drive":
            nodes += [node(f"src{k}", "stimulus.poisson", n=10, rate_hz=50.0),
                      node(f"syn{k}", "projection.synapses", rule="all_to_all")]
            wp = cls.weight_param
            nodes[-1]["data"][wp] = {"weight_gl": 0.5, "weight_mv": 2.0, "weight": 2.0}[wp]
            edges += [(f"src{k}.spikes", f"syn{k}.pre"), (f"syn{k}.post", f"x.{p.name}")]
        elif p.kind == "current":
            nodes.append(node(f"src{k}", "stimulus.current", waveform="constant", amplitude=1.0))
            edges.append((f"src{k}.current", f"x.{p.name}"))
        elif p.kind == "state":
            nodes.append(node(f"src{k}", "neuron.lif_cond", n=10, i_bias_mv=20.0))
            edges.append((f"src{k}.state", f"x.{p.name}"))
        elif p.kind == "weights" and p.required:
            nodes += [node(f"src{k}", "stimulus.poisson", n=10, rate_hz=50.0),
                      node(f"syn{k}", "projection.synapses", rule="all_to_all", weight_mv=1.0),
                      node(f"pop{k}", "neuron.lif", n=10)]
            edges += [(f"src{k}.spikes", f"syn{k}.pre"), (f"syn{k}.post", f"pop{k}.drive"),
                      (f"syn{k}.weights", f"x.{p.name}")]
        elif p.kind == "signal" and p.required:  # readouts: labels and schedule of a dataset stimulus
            nodes.append(node(f"src{k}", "stimulus.digits", n_samples=10, sample_ms=2.0))
            edges.append((f"src{k}.label", f"x.{p.name}"))
    for p in cls.out_ports():
        k += 1
        if p.kind == "spikes":
            nodes.append(node(f"mon{k}", "monitor.spikes"))
            edges.append((f"x.{p.name}", f"mon{k}.spikes"))
            if fam != "neuron":
                nodes += [node(f"syn{k}", "projection.synapses", rule="all_to_all", weight_mv=2.0),
                          node(f"pop{k}", "neuron.lif", n=5)]
                edges += [(f"x.{p.name}", f"syn{k}.pre"), (f"syn{k}.post", f"pop{k}.drive")]
        elif p.kind == "drive":
            nodes.append(node(f"pop{k}", "neuron.lif", n=10))
            edges.append((f"x.{p.name}", f"pop{k}.drive"))
        elif p.kind == "current":
            nodes.append(node(f"pop{k}", "neuron.lif", n=10))
            edges.append((f"x.{p.name}", f"pop{k}.current"))
        elif p.kind == "state":
            var, which = "v", "0:3"
            if fam != "neuron" and hasattr(cls, "model"):  # e.g. astrocytes: first state variable, element 0
                var, which = cls.model().State._fields[0], "0"
            nodes.append(node(f"mon{k}", "monitor.state", variables=var, neurons=which, every_ms=0.1))
            edges.append((f"x.{p.name}", f"mon{k}.state"))
        elif p.kind == "weights":
            nodes.append(node(f"mon{k}", "monitor.weights", every_ms=2.0))
            edges.append((f"x.{p.name}", f"mon{k}.weights"))
        elif p.kind == "rule":  # a plasticity rule trains a projection between spiking populations
            nodes += [node(f"src{k}", "stimulus.poisson", n=10, rate_hz=50.0),
                      node(f"syn{k}", "projection.synapses", rule="all_to_all", weight_mv=0.5),
                      node(f"pop{k}", "neuron.lif", n=10, i_bias_mv=14.0)]
            edges += [(f"src{k}.spikes", f"syn{k}.pre"), (f"syn{k}.post", f"pop{k}.drive"),
                      (f"x.{p.name}", f"syn{k}.rule")]
        elif p.kind == "modulation" and fam == "plasticity":  # short-term plasticity acting on a projection
            nodes += [node(f"src{k}", "stimulus.poisson", n=10, rate_hz=50.0),
                      node(f"syn{k}", "projection.synapses", rule="all_to_all", weight_mv=0.5),
                      node(f"pop{k}", "neuron.lif", n=10)]
            edges += [(f"src{k}.spikes", f"syn{k}.pre"), (f"syn{k}.post", f"pop{k}.drive"),
                      (f"x.{p.name}", f"syn{k}.modulation")]
        elif p.kind == "modulation":  # e.g. an astrocyte setting an STDP rule's depression rate
            nodes += [node(f"src{k}", "stimulus.poisson", n=10, rate_hz=50.0),
                      node(f"syn{k}", "projection.synapses", rule="all_to_all", weight_mv=0.5),
                      node(f"pop{k}", "neuron.lif", n=10, i_bias_mv=14.0),
                      node(f"rule{k}", "plasticity.stdp_nalsm")]
            edges += [(f"src{k}.spikes", f"syn{k}.pre"), (f"syn{k}.post", f"pop{k}.drive"),
                      (f"rule{k}.rule", f"syn{k}.rule"), (f"x.{p.name}", f"rule{k}.depression")]
    if type_key == "projection.synapses":
        nodes[0]["data"].update(rule="fixed_probability", p=0.5)
    return design(nodes, edges, duration_ms=10.0)
