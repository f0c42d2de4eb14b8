"""``projection.synapses``: a synapse population from a spike source to a neuron population."""
from __future__ import annotations

import math

import numpy as np

from engine import connectivity as conn
from engine.errors import DesignError, Problem
from engine.params import Array, Choice, Flag, Int, Num
from engine.registry import NodeType, Port, register
from engine.values import is_dist

WEIGHT_PARAMS = ("weight_gl", "weight_mv", "weight")


@register
class Synapses(NodeType):
    """Synapses from a spike source to a population: connectivity, weights, delays, receptor.

    Rules: all-to-all, one-to-one, fixed probability, fixed in-degree, distance-dependent
    on a 3-D lattice (P = p_max exp(-(d/length_scale)^2), as in NALSM) and explicit index
    arrays. The weight parameter follows the target: weight_gl (conductance, units of
    g_leak) for conductance-based neurons, weight_mv (mV) for current-based ones and for
    delta synapses. Each presynaptic spike adds the weight to an exponentially decaying
    trace g (tau_syn_ms) after delay_ms; delta synapses jump v instead.
    """

    type_key = "projection.synapses"
    ports = (
        Port("pre", "in", "spikes", required=True, doc="presynaptic spikes"),
        Port("rule", "in", "rule", multiple=True, doc="plasticity rules training these weights"),
        Port("modulation", "in", "modulation", multiple=True, doc="modulatory input (e.g. astrocytes)"),
        Port("post", "out", "drive", doc="synaptic drive into the target population"),
        Port("weights", "out", "weights", doc="the weight matrix, for monitors and rules"),
        Port("activity", "out", "activity", doc="synaptic activity (released transmitter)"),
    )

    rule = Choice("fixed_probability", ["fixed_probability", "fixed_indegree", "all_to_all", "one_to_one",
                                        "distance", "explicit"], doc="connectivity rule")
    p = Num(0.1, bounds=(0, 1), live=False, doc="connection probability of each pair (fixed_probability)")
    indegree = Int(10, bounds=(0, None), doc="presynaptic partners per target neuron (fixed_indegree)")
    p_max = Num(0.3, bounds=(0, 1), live=False, doc="distance rule: probability at distance 0 (C)")
    length_scale = Num(3.0, bounds=(0, None), inclusive=(False, True), live=False, unit="lattice units",
                       doc="distance rule: lambda in P = p_max exp(-(d/lambda)^2)")
    allow_self = Flag(False, doc="allow i->i synapses when source and target are the same population")
    pre_idx = Array(doc="explicit rule: presynaptic index of each synapse")
    post_idx = Array(doc="explicit rule: postsynaptic index of each synapse")
    weight_array = Array(doc="explicit per-synapse weights (overrides the weight parameter)")
    receptor = Choice("exc", ["exc", "inh"], doc="receptor: excitatory or inhibitory channel of the target")
    synapse = Choice("exponential", ["exponential", "delta"],
                     doc="exponential: trace g decaying with tau_syn_ms; delta: jump of v")
    tau_syn_ms = Num(5.0, bounds=(0, None), inclusive=(False, True), doc="synaptic time constant (exponential)")
    weight_gl = Num(0.1, bounds=(0, None), dist=True, doc="conductance weight in units of g_leak "
                    "(targets with conductance synapses)")
    weight_mv = Num(0.5, dist=True, doc="weight in mV (current-based targets, delta synapses); "
                    "negative for inhibition")
    weight = Num(1.0, dist=True, doc="dimensionless weight (targets in model units, e.g. Izhikevich)")
    delay_ms = Num(0.0, bounds=(0, None), dist=True, live=False,
                   doc="transmission delay, rounded to whole steps (a distribution gives per-synapse delays)")

    # --- wiring helpers -----------------------------------------------------------------
    @staticmethod
    def ends(node, graph):
        pre = graph.sources(node.id, "pre")
        post = graph.targets(node.id, "post")
        return (pre[0] if pre else None), (post[0] if post else None)

    @classmethod
    def weight_name(cls, node, target_cls) -> str:
        if node.values["synapse"] == "delta":
            return "weight_mv"
        return target_cls.weight_param

    @classmethod
    def channel(cls, node, target_cls) -> str:
        if node.values["synapse"] == "delta":
            return target_cls.jump_input
        return target_cls.drive_channels[node.values["receptor"]]

    @classmethod
    def expected_synapses(cls, node, graph) -> float:
        pre, post = cls.ends(node, graph)
        if pre is None or post is None:
            return 0
        a, b = graph.size(pre.id), graph.size(post.id)
        r = node.values["rule"]
        if r == "fixed_probability":
            return a * b * node.values["p"]
        if r == "fixed_indegree":
            return b * node.values["indegree"]
        if r == "all_to_all":
            return a * b
        if r == "one_to_one":
            return min(a, b)
        if r == "distance":
            return a * b * node.values["p_max"]
        ref = node.values.get("pre_idx")
        try:
            return len(graph.design.get_array(ref)) if ref else 0
        except (KeyError, AttributeError):
            return 0

    @classmethod
    def memory_bytes(cls, node, graph) -> int:
        pre, post = cls.ends(node, graph)
        extra = 8 * (graph.size(post.id) if post else 0)
        return int(cls.expected_synapses(node, graph) * (4 + 8 + (8 if is_dist(node.values["delay_ms"]) else 0))) + extra

    @classmethod
    def check(cls, node, graph) -> list:
        out = []
        P = lambda code, msg, fix, **kw: out.append(Problem("error", code, msg, fix, node=node.id, **kw))  # noqa
        pre, _ = cls.ends(node, graph)
        posts = graph.targets(node.id, "post")
        if len(posts) != 1:
            P("port.post", f"output 'post' must drive exactly one population, it drives {len(posts)}",
              "wire 'post' to the drive input of one neuron population (use one projection per target)",
              port="post")
            return out
        post = posts[0]
        if pre is None:
            return out
        if not pre.type.spiking:
            P("port.pre", f"input 'pre' comes from '{pre.id}' ({pre.key}), which emits no spikes",
              "wire the spikes output of a neuron population or a spike stimulus", port="pre")
        tcls = post.type
        wname = cls.weight_name(node, tcls)
        for other in WEIGHT_PARAMS:
            if other != wname and other in node.data:
                why = ("delta synapses jump v in mV" if node.values["synapse"] == "delta" else
                       f"its target '{post.id}' ({post.key}) takes {wname}")
                P("param.inapplicable", f"{other} does not apply here: {why}",
                  f"set {wname} instead of {other}", param=other)
        if node.values["synapse"] != "delta" and node.values["receptor"] not in tcls.drive_channels:
            P("param.receptor", f"target '{post.id}' ({post.key}) has no '{node.values['receptor']}' receptor",
              f"use receptor {' or '.join(tcls.drive_channels)}", param="receptor")
        if tcls.weight_param == "weight_gl" and wname == "weight_gl" and node.values["receptor"] == "inh":
            pass  # conductances are non-negative (bounds); the inhibitory reversal potential sets the sign
        a, b = graph.size(pre.id), graph.size(post.id)
        same = pre.id == post.id
        rule = node.values["rule"]
        if rule == "fixed_indegree":
            pool = a - (1 if same and not node.values["allow_self"] else 0)
            if node.values["indegree"] > pool:
                P("param.bounds", f"indegree {node.values['indegree']} exceeds the {pool} available sources of '{pre.id}'",
                  f"use indegree <= {pool}", param="indegree")
        if rule == "one_to_one" and a != b:
            P("param.rule", f"one_to_one needs equal sizes, but '{pre.id}' has {a} and '{post.id}' has {b}",
              "use populations of the same size or another rule", param="rule")
        if rule == "distance":
            for end in (pre, post):
                if end.type.family() != "neuron" or not end.values.get("grid_shape"):
                    P("grid.missing", f"distance rule needs lattice positions, but '{end.id}' has no grid_shape",
                      f"set grid_shape on '{end.id}' (e.g. '10x10x10')", param="rule")
        if rule == "explicit":
            for k in ("pre_idx", "post_idx"):
                ref = node.values.get(k)
                if ref is None:
                    P("param.missing", f"explicit rule needs {k}", f"store {k} in the sidecar and reference it", param=k)
                elif graph.design is None or ref["array"] not in graph.design.arrays:
                    P("array.missing", f"array '{ref['array']}' of {k} is not in the sidecar .arrays.npz",
                      "save the design with its arrays", param=k)
        return out

    # --- build ---------------------------------------------------------------------------
    @classmethod
    def connect(cls, node, b, pre, post):
        v = node.values
        a, n = b.graph.size(pre.id), b.graph.size(post.id)
        same = pre.id == post.id
        allow = bool(v["allow_self"]) or not same
        key = b.key(node.id, "connectivity")
        rule = v["rule"]
        if rule == "fixed_probability":
            return conn.csr_to_coo(*conn.fixed_probability(a, n, float(v["p"]), allow, key))
        if rule == "fixed_indegree":
            return conn.fixed_indegree(a, n, int(v["indegree"]), allow, key)
        if rule == "all_to_all":
            return conn.all_to_all(a, n, allow)
        if rule == "one_to_one":
            return conn.one_to_one(a, n)
        if rule == "distance":
            pp, qq = pre.type.positions(pre, b), post.type.positions(post, b)
            return conn.csr_to_coo(*conn.distance_rule(pp, qq, float(v["p_max"]), float(v["length_scale"]),
                                                       same and not v["allow_self"], key))
        i = np.asarray(b.array(node, "pre_idx"), np.int64)
        j = np.asarray(b.array(node, "post_idx"), np.int64)
        if i.shape != j.shape or i.ndim != 1:
            raise DesignError(Problem("error", "array.shape", f"pre_idx {i.shape} and post_idx {j.shape} differ",
                                      "give two 1-D arrays of equal length", node=node.id, param="pre_idx"))
        if len(i) and (i.min() < 0 or i.max() >= a or j.min() < 0 or j.max() >= n):
            raise DesignError(Problem("error", "array.range", f"explicit indices leave the populations "
                                      f"('{pre.id}' has {a}, '{post.id}' has {n} neurons)",
                                      "use indices in [0, n)", node=node.id, param="pre_idx"))
        return i.astype(np.int32), j.astype(np.int32)

    @classmethod
    def build(cls, node, b) -> None:
        g = b.graph
        pre, post = cls.ends(node, g)
        n_pre, n_post = g.size(pre.id), g.size(post.id)
        i, j = cls.connect(node, b, pre, post)
        n_syn = len(i)
        wname = cls.weight_name(node, post.type)
        v = node.values
        if v.get("weight_array") is not None:
            w = np.asarray(b.array(node, "weight_array"), np.float64)
            if w.shape != (n_syn,):
                raise DesignError(Problem("error", "array.shape", f"weight_array has shape {w.shape}, "
                                          f"the projection has {n_syn} synapses", "give one weight per synapse",
                                          node=node.id, param="weight_array"))
        else:
            w = np.broadcast_to(np.asarray(b.value(node, wname, n_syn), np.float64), (n_syn,)).copy()
        delay = v["delay_ms"]
        per_syn = is_dist(delay) and delay.get("dist") != "constant"
        d_ms = b.value(node, "delay_ms", n_syn)
        d_steps = np.rint(np.asarray(d_ms) / b.dt).astype(np.int64)
        if per_syn:
            (indptr, post_idx, w, dsyn), order = conn.to_csr(i, j, n_pre, w, np.broadcast_to(d_steps, (n_syn,)))
        else:
            (indptr, post_idx, w), order = conn.to_csr(i, j, n_pre, w)
        nid = node.id
        b.buffer(nid, "indptr", indptr, "const")
        b.buffer(nid, "post", post_idx, "const")
        b.buffer(nid, "w", np.ascontiguousarray(w, np.float64), "weights")
        b.buffer(nid, "g", np.zeros(n_post, b.dtype))
        multi = b.spike_sources.get(pre.id).multi if pre.id in b.spike_sources else False
        if per_syn:
            mode = "acc"
            D = int(dsyn.max(initial=0)) + 1
            b.buffer(nid, "delay", np.ascontiguousarray(dsyn, np.int64), "const")
            b.buffer(nid, "acc", np.zeros((D, n_post), b.dtype))
        elif int(d_steps) == 0:
            mode = "none"
        else:
            mode = "ring"
            D = int(d_steps) + 1
            b.buffer(nid, "ring_idx", np.zeros((D, max(n_pre, 1)), np.int32))
            b.buffer(nid, "ring_n", np.zeros(D, np.int64))
            if multi:
                b.buffer(nid, "ring_cnt", np.zeros((D, max(n_pre, 1)), np.int32))

        trained = bool(g.inputs(nid, "rule"))

        def uniform_weight(nd):
            """The one weight of every synapse, or None (per-synapse weights, or a rule trains them)."""
            wv = nd.values.get(wname)
            if trained or nd.values.get("weight_array") is not None:
                return None
            if is_dist(wv) and wv.get("dist") != "constant":
                return None
            return float(np.asarray(b.value(nd, wname, 1), np.float64).reshape(-1)[0])

        def derive(nd):
            # "wc": one weight for all synapses, a kernel constant (a scalar), so delivery reads no
            # weight array; per-synapse weights give an array here and the kernel reads "w".
            # Switching between the two forms is structural (the simulation resets and rebuilds).
            u = uniform_weight(nd)
            wc = np.zeros(1) if u is None else u
            if nd.values["synapse"] == "delta":
                return {"decay": 0.0, "wc": wc}
            return {"decay": math.exp(-b.dt / float(nd.values["tau_syn_ms"])), "wc": wc}

        b.set_params(node, derive)

        def refill(nd, plan):
            if nd.values.get("weight_array") is not None:
                return
            new = np.broadcast_to(np.asarray(b.value(nd, wname, n_syn), np.float64), (n_syn,))
            plan.buffers[f"{nid}.w"][:] = new[order]

        b.when_changed(node, (wname,), refill)
        b.node_info[nid].update(pre=pre.id, post=post.id, n_pre=n_pre, n_post=n_post, n_syn=n_syn,
                                weight_param=wname, channel=cls.channel(node, post.type), delay_mode=mode)
        if trained:  # CSR position of each synapse in connect order (saving learned weights maps back)
            b.node_info[nid]["order"] = order
        b.step("update", nid, "synapse.decay", updates=[f"{nid}.g"], buffer=f"{nid}.g")
        # short-term plasticity (plasticity.stp on 'modulation'): each spike delivers w x its release
        stp = [s for s in g.sources(nid, "modulation") if s.type.type_key == "plasticity.stp"]
        release = f"{stp[0].id}.rel" if stp else ""
        if release and mode != "none":
            raise DesignError(Problem("error", "stp.delay", f"short-term plasticity '{stp[0].id}' acts on '{nid}', "
                                      f"which has a transmission delay ({v['delay_ms']} ms)",
                                      "set delay_ms = 0 on the projection (delays with STP are not supported yet)",
                                      node=nid, param="delay_ms"))
        b.step("deliver", nid, "synapse.deliver", reads=[f"{pre.id}.spk"] + ([release] if release else []),
               incs=[f"{nid}.g"], source=pre.id, delay_mode=mode, release=release)
