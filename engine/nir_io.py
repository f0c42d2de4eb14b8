"""NIR interchange: the feed-forward subset of a design as a NIR graph, and back.

NIR (the Neuromorphic Intermediate Representation, PyPI ``nir``) describes networks in
continuous time with parameters in seconds. What maps (and how):

==========================================  ===============================================
gliaflow                                    NIR
==========================================  ===============================================
spike stimulus (any ``stimulus.*`` with     ``Input`` (shape n); NIR carries no input data,
spikes)                                     so an imported ``Input`` becomes a Poisson source
                                            (rate 10 Hz, change it) unless the graph came
                                            from gliaflow (see metadata below)
``projection.synapses`` onto a LIF          ``Linear`` (dense weight, post x pre); a uniform
                                            delay adds a ``Delay`` after it
``neuron.lif`` fed by delta synapses        ``LIF``: tau dv/dt = (v_leak - v) + R I, a spike
                                            of weight W jumps v by R W / tau
``neuron.lif`` fed by exponential synapses  ``CubaLIF``: tau_syn dI/dt = -I + w_in S,
(one tau_syn for all of them)               tau_mem dv/dt = (v_leak - v) + R I
``monitor.spikes``                          ``Output``
==========================================  ===============================================

Units: gliaflow's LIF works in mV with input already multiplied by R (R = 1 here), so a
delta weight w (mV) is ``W = w tau / R`` in NIR, an exponential-synapse weight w (mV of
trace per spike) is ``W = w tau_syn / (R w_in)``; v_leak = E_L + I_bias. NIR has no
refractory period: exporting a LIF with refractory_ms > 0 is refused (set it to 0).

Anything else (recurrent projections, conductance or other neuron models, plasticity,
astrocytes, analysis monitors, per-synapse delays) is listed in the error, never
dropped silently. Each exported node carries its gliaflow type and parameters in
``metadata["gliaflow"]``; importing prefers them (lossless round trip), a graph from
another tool is mapped from its NIR parameters alone.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .errors import DesignError, Problem

S = 1e-3  # ms -> s


def _err(msg: str, fix: str, node: str | None = None, code: str = "nir.unsupported") -> DesignError:
    return DesignError(Problem("error", code, msg, fix, node=node))


# --- export ------------------------------------------------------------------------------
def to_nir(design) -> "Any":
    """The NIR graph of a feed-forward design (a path, dict or Design)."""
    import nir

    from .simulation import Simulation

    sim = Simulation(design)
    g = sim.graph
    bad = []
    for n in g.nodes.values():
        fam, key = n.type.family(), n.key
        ok = (fam == "stimulus" and n.type.spiking) or key in ("projection.synapses", "neuron.lif", "monitor.spikes")
        if not ok:
            bad.append(f"'{n.id}' ({key})")
    if bad:
        raise _err(f"NIR can express stimuli, projection.synapses, neuron.lif and monitor.spikes; not "
                   f"{', '.join(bad)}", "remove or replace those nodes before exporting to NIR")
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    for n in g.nodes.values():
        meta = _meta({"type": n.key, "data": n.data, "label": n.label})
        if n.type.family() == "stimulus":
            nodes[n.id] = nir.Input(input_type={"input": np.array([g.size(n.id)])}, metadata=meta)
        elif n.key == "monitor.spikes":
            src = g.sources(n.id, "spikes")[0]
            nodes[n.id] = nir.Output(output_type={"output": np.array([g.size(src.id)])}, metadata=meta)
            edges.append((src.id, n.id))
    for n in g.of_family("neuron"):
        v = n.values
        for k in ("tau_m_ms", "e_leak_mv", "v_threshold_mv", "v_reset_mv", "refractory_ms", "i_bias_mv"):
            if isinstance(v[k], dict) and v[k].get("dist") != "constant":
                raise _err(f"'{n.id}': {k} is a distribution; NIR export takes the sampled values only for "
                           "weights", f"give {k} one value", node=n.id)
        if float(_num(v["refractory_ms"])) > 0:
            raise _err(f"'{n.id}' has refractory_ms = {v['refractory_ms']}; NIR's LIF has no refractory period",
                       f"set refractory_ms = 0 on '{n.id}' to export it", node=n.id)
        projs = [g.nodes[e.source] for e in g.inputs(n.id, "drive")]
        kinds = {p.values["synapse"] for p in projs}
        taus = {float(p.values["tau_syn_ms"]) for p in projs if p.values["synapse"] == "exponential"}
        if len(kinds) > 1 or len(taus) > 1:
            raise _err(f"'{n.id}' mixes synapse kinds or time constants ({sorted(kinds)}, {sorted(taus)}); a NIR "
                       "neuron node has one", "use one synapse kind and tau_syn_ms per target population", node=n.id)
        nn = g.size(n.id)
        tau = float(_num(v["tau_m_ms"])) * S
        full = lambda x: np.full(nn, float(x))  # noqa: E731
        v_leak = full(_num(v["e_leak_mv"]) + _num(v["i_bias_mv"]))
        meta = _meta({"type": n.key, "data": n.data, "label": n.label})
        cuba = kinds == {"exponential"}
        if cuba:
            tau_syn = taus.pop() * S
            nodes[n.id] = nir.CubaLIF(tau_syn=full(tau_syn), tau_mem=full(tau), r=full(1.0), v_leak=v_leak,
                                      v_threshold=full(_num(v["v_threshold_mv"])), v_reset=full(_num(v["v_reset_mv"])),
                                      w_in=full(1.0), metadata=meta)
        else:
            nodes[n.id] = nir.LIF(tau=full(tau), r=full(1.0), v_leak=v_leak, v_threshold=full(_num(v["v_threshold_mv"])),
                                  v_reset=full(_num(v["v_reset_mv"])), metadata=meta)
        for p in projs:
            pre = g.sources(p.id, "pre")[0]
            if pre.type.family() == "neuron" and _reaches(g, n.id, pre.id):
                raise _err(f"projection '{p.id}' closes a loop ({pre.id} -> {n.id}); NIR export covers "
                           "feed-forward designs", "remove the recurrent projection", node=p.id)
            i, j, w = sim.connectivity(p.id)
            scale = (float(p.values["tau_syn_ms"]) * S) if cuba else tau  # W = w tau_syn (R = w_in = 1) or w tau / R
            W = np.zeros((nn, g.size(pre.id)))
            np.add.at(W, (j, i), w * scale)
            pmeta = _meta({"type": p.key, "data": p.data, "label": p.label})
            nodes[p.id] = nir.Linear(weight=W, metadata=pmeta)
            d = p.values["delay_ms"]
            if isinstance(d, dict) and d.get("dist") != "constant":
                raise _err(f"projection '{p.id}' has per-synapse delays; NIR's Delay is per output channel",
                           "use one delay_ms per projection", node=p.id)
            dms = float(_num(d))
            if dms > 0:
                did = f"{p.id}__delay"
                nodes[did] = nir.Delay(delay=np.full(nn, dms * S), metadata=_meta({"delay_of": p.id}))
                edges += [(pre.id, p.id), (p.id, did), (did, n.id)]
            else:
                edges += [(pre.id, p.id), (p.id, n.id)]
    meta = _meta({"meta": sim.design.doc.get("meta", {}),
                  "positions": {nd["id"]: nd.get("position") for nd in sim.design.doc["nodes"]}})
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def _num(x):
    if isinstance(x, dict):
        return float(x.get("value", x.get("mean", 0.0)))
    return x


def _meta(obj) -> dict:
    """NIR metadata: the gliaflow part as one JSON string (nir.write stores nested dicts as
    HDF5 groups and numbers as numpy scalars; a string survives unchanged)."""
    import json
    return {"gliaflow": json.dumps(obj, sort_keys=True)}


def _read_meta(md):
    import json
    v = (md or {}).get("gliaflow")
    if v is None:
        return None
    if isinstance(v, np.ndarray):
        v = v.item() if v.shape == () else v.tolist()
    if isinstance(v, bytes):
        v = v.decode()
    return json.loads(v) if isinstance(v, str) else v


def _reaches(g, a: str, b: str) -> bool:
    """Is there a drive path from population a to population b (so b -> a closes a loop)?"""
    seen, stack = set(), [a]
    while stack:
        x = stack.pop()
        if x == b:
            return True
        if x in seen:
            continue
        seen.add(x)
        for e in g.outputs(x, "spikes"):
            t = g.nodes[e.target]
            if t.key == "projection.synapses":
                stack += [q.id for q in g.targets(t.id, "post")]
    return False


def write_nir(design, path) -> None:
    import nir
    nir.write(str(path), to_nir(design))


# --- import ------------------------------------------------------------------------------
def from_nir(graph, dt_ms: float = 0.1, use_metadata: bool = True):
    """A :class:`~engine.design.Design` from a NIR graph (a ``nir.NIRGraph`` or a .nir path).

    ``use_metadata=False`` ignores the gliaflow metadata of a graph this module wrote (maps
    from the NIR parameters alone, as for a graph from another tool)."""
    import nir

    if not isinstance(graph, nir.NIRGraph):
        graph = nir.read(str(graph))
    gm = _read_meta(graph.metadata) if use_metadata else None
    meta = dict(gm["meta"]) if gm else {"name": "nir", "dt_ms": dt_ms, "duration_ms": 1000.0, "seed": 1}
    positions = gm.get("positions", {}) if gm else {}
    nodes, edges, arrays = [], [], {}
    preds: dict[str, list[str]] = {}
    for a, b in graph.edges:
        preds.setdefault(b, []).append(a)
    bad = [f"'{k}' ({type(v).__name__})" for k, v in graph.nodes.items()
           if not isinstance(v, (nir.Input, nir.Output, nir.Linear, nir.Affine, nir.LIF, nir.CubaLIF, nir.Delay))]
    if bad:
        raise _err(f"these NIR nodes have no gliaflow counterpart: {', '.join(bad)}",
                   "gliaflow imports Input, Output, Linear, Affine, Delay, LIF and CubaLIF")
    k = 0

    def add(nid, key, data, label=""):
        nonlocal k
        pos = positions.get(nid) or {"x": 250 * (k % 5), "y": 150 * (k // 5)}
        nodes.append({"id": nid, "type": key, "label": label, "position": pos, "data": data})
        k += 1

    def gf(node):
        m = _read_meta(node.metadata) if use_metadata else None
        return m if m and "type" in m else None

    def size_of(nid):
        nd = graph.nodes[nid]
        if isinstance(nd, nir.Input):
            return int(np.prod(nd.input_type["input"]))
        if isinstance(nd, (nir.Linear, nir.Affine)):
            return int(nd.weight.shape[0])
        if isinstance(nd, nir.LIF):
            return int(np.size(nd.tau))
        if isinstance(nd, nir.CubaLIF):
            return int(np.size(nd.tau_mem))
        return size_of(preds[nid][0])

    def uniform(x, what, nid):
        a = np.asarray(x, float).reshape(-1)
        if a.size and not np.allclose(a, a[0]):
            raise _err(f"NIR node '{nid}': {what} differs between neurons; gliaflow takes one value per population "
                       "here", "split the population or give one value", node=nid)
        return float(a[0]) if a.size else 0.0

    eid = 0
    for nid, nd in graph.nodes.items():
        m = gf(nd)
        if isinstance(nd, nir.Input):
            if m:
                add(nid, m["type"], m["data"], m.get("label", ""))
            else:
                add(nid, "stimulus.poisson", {"n": size_of(nid), "rate_hz": 10.0}, "NIR input (Poisson stand-in)")
        elif isinstance(nd, nir.Output):
            add(nid, "monitor.spikes", m["data"] if m else {}, m.get("label", "") if m else "")
            src = preds[nid][0]
            edges.append({"id": f"e{eid}", "source": src, "sourceHandle": "spikes", "target": nid,
                          "targetHandle": "spikes"})
            eid += 1
        elif isinstance(nd, (nir.LIF, nir.CubaLIF)):
            if m:
                add(nid, m["type"], m["data"], m.get("label", ""))
                continue
            cuba = isinstance(nd, nir.CubaLIF)
            tau = uniform(nd.tau_mem if cuba else nd.tau, "tau", nid)
            v_reset = nd.v_reset if nd.v_reset is not None else np.zeros(1)
            add(nid, "neuron.lif", {"n": size_of(nid), "tau_m_ms": tau / S, "e_leak_mv": uniform(nd.v_leak, "v_leak", nid),
                                    "v_threshold_mv": uniform(nd.v_threshold, "v_threshold", nid),
                                    "v_reset_mv": uniform(v_reset, "v_reset", nid), "v_init_mv": uniform(nd.v_leak, "v_leak", nid),
                                    "refractory_ms": 0.0, "method": "exponential"})
    # projections: Linear/Affine (optionally followed by Delay) into a neuron
    for nid, nd in graph.nodes.items():
        if not isinstance(nd, (nir.Linear, nir.Affine)):
            continue
        if isinstance(nd, nir.Affine) and np.any(np.asarray(nd.bias) != 0):
            raise _err(f"NIR Affine '{nid}' has a non-zero bias", "fold the bias into the target's v_leak (bias x R)",
                       node=nid)
        (pre,) = preds[nid]
        nxt = [b for a, b in graph.edges if a == nid]
        delay_ms = 0.0
        if len(nxt) == 1 and isinstance(graph.nodes[nxt[0]], nir.Delay):
            dnode = graph.nodes[nxt[0]]
            delay_ms = uniform(dnode.delay, "delay", nxt[0]) / S
            nxt = [b for a, b in graph.edges if a == nxt[0]]
        if len(nxt) != 1 or not isinstance(graph.nodes[nxt[0]], (nir.LIF, nir.CubaLIF)):
            raise _err(f"NIR node '{nid}' does not feed exactly one LIF/CubaLIF", "gliaflow maps Linear -> neuron "
                       "pairs", node=nid)
        post = nxt[0]
        tgt = graph.nodes[post]
        m = gf(nd)
        if m:  # written by gliaflow: the projection as it was (rule, seed-drawn connectivity, delay)
            add(nid, m["type"], m["data"], m.get("label", ""))
            edges.append({"id": f"e{eid}", "source": pre, "sourceHandle": "spikes", "target": nid,
                          "targetHandle": "pre"})
            edges.append({"id": f"e{eid + 1}", "source": nid, "sourceHandle": "post", "target": post,
                          "targetHandle": "drive"})
            eid += 2
            continue
        W = np.asarray(nd.weight, float)
        j, i = np.nonzero(W)
        order = np.lexsort((j, i))
        i, j = i[order], j[order]
        if isinstance(tgt, nir.CubaLIF):
            tau_syn = uniform(tgt.tau_syn, "tau_syn", post)
            scale = uniform(np.asarray(tgt.r) * np.asarray(tgt.w_in), "r w_in", post) / tau_syn
            extra = {"synapse": "exponential", "tau_syn_ms": tau_syn / S}
        else:
            scale = uniform(np.asarray(tgt.r) / np.asarray(tgt.tau), "r / tau", post)
            extra = {"synapse": "delta"}
        w = W[j, i] * scale
        data: dict[str, Any] = {"rule": "explicit", "delay_ms": delay_ms, "receptor": "exc", **extra}
        for name, arr in (("pre_idx", i.astype(np.int64)), ("post_idx", j.astype(np.int64)), ("weight_array", w)):
            an = f"{nid}_{name}"
            arrays[an] = arr
            data[name] = {"array": an, "sha256": None}
        label = m.get("label", "") if m else ""
        add(nid, "projection.synapses", data, label)
        edges.append({"id": f"e{eid}", "source": pre, "sourceHandle": "spikes", "target": nid, "targetHandle": "pre"})
        edges.append({"id": f"e{eid + 1}", "source": nid, "sourceHandle": "post", "target": post,
                      "targetHandle": "drive"})
        eid += 2
    from .design import Design
    d = Design({"schema_version": 1, "meta": meta, "nodes": nodes, "edges": edges})
    for nd in d.doc["nodes"]:
        for key, val in list(nd["data"].items()):
            if isinstance(val, dict) and "array" in val and val.get("sha256") is None:
                nd["data"][key] = d.put_array(val["array"], arrays[val["array"]])
    return d


__all__ = ["to_nir", "from_nir", "write_nir"]
