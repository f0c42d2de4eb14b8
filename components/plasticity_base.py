"""What every plasticity rule shares: the projection it trains, its weights' bounds, and the
synapses of each postsynaptic neuron (a CSC index over the projection's CSR weights).

A rule node has one output, ``rule`` (kind "rule"), wired to the ``rule`` input of exactly
one ``projection.synapses``. The projection's weights then live in a per-synapse array
``{projection}.w`` (CSR order, grouped by presynaptic neuron) that the rule's kernel step
updates in the ``plasticity`` phase, after this step's spikes are known.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from engine.errors import DesignError, Problem
from engine.params import Choice, Num
from engine.registry import NodeType, Port


class PlasticityRule(NodeType):
    """Base of the rule nodes (not registered)."""

    ports: ClassVar[tuple[Port, ...]] = (
        Port("rule", "out", "rule", doc="wire to the 'rule' input of the projection this rule trains"),
    )

    w_min = Num(0.0, doc="lower weight bound, in the projection's weight units (weight_gl, weight_mv or weight)")
    w_max = Num(1.0, doc="upper weight bound, in the projection's weight units")
    presynaptic = Choice("auto", ["auto", "excitatory", "inhibitory"],
                         doc="sign convention of the presynaptic side: inhibitory swaps the roles of "
                             "potentiation and depression (NALSM). auto: inhibitory when the projection's "
                             "receptor is 'inh' or all its weights are negative")

    # --- wiring -----------------------------------------------------------------------------
    @staticmethod
    def projection(node, graph):
        ts = graph.targets(node.id, "rule")
        return ts[0] if len(ts) == 1 else None

    @classmethod
    def check(cls, node, graph) -> list:
        out = []
        ts = graph.targets(node.id, "rule")
        if len(ts) != 1:
            out.append(Problem("error", "rule.unwired" if not ts else "rule.multiple",
                               f"rule output drives {len(ts)} projections; a rule trains exactly one "
                               f"({', '.join(t.id for t in ts) or 'none wired'})",
                               "wire 'rule' to the 'rule' input of one projection.synapses (one rule node per "
                               "projection)", node=node.id, port="rule"))
            return out
        proj = ts[0]
        if proj.type.type_key != "projection.synapses":
            out.append(Problem("error", "rule.target", f"rule '{node.id}' is wired to '{proj.id}' ({proj.key}), "
                               "which has no synaptic weights", "wire it to a projection.synapses",
                               node=node.id, port="rule"))
        v = node.values
        if v["w_min"] is not None and v["w_max"] is not None and v["w_min"] > v["w_max"]:
            out.append(Problem("error", "param.bounds", f"w_min {v['w_min']} exceeds w_max {v['w_max']}",
                               "make w_min <= w_max", node=node.id, param="w_min"))
        return out

    # --- build helpers ----------------------------------------------------------------------
    @classmethod
    def setup(cls, node, b) -> dict:
        """Common build: projection info, bound check of the initial weights, CSC index."""
        g = b.graph
        proj = cls.projection(node, g)
        info = b.node_info[proj.id]
        pid = proj.id
        w = b.buffers[f"{pid}.w"]
        indptr = b.buffers[f"{pid}.indptr"]
        post = b.buffers[f"{pid}.post"]
        lo, hi = float(node.values["w_min"]), float(node.values["w_max"])
        if len(w) and (w.min() < lo - 1e-12 or w.max() > hi + 1e-12):
            raise DesignError(Problem(
                "error", "rule.bounds",
                f"initial weights of '{pid}' span [{w.min():.4g}, {w.max():.4g}], outside the bounds "
                f"[{lo:.4g}, {hi:.4g}] of rule '{node.id}'",
                f"widen w_min/w_max of '{node.id}' or change {info.get('weight_param', 'the weight')} of '{pid}'",
                node=node.id, param="w_max" if w.max() > hi else "w_min"))
        n_pre, n_post = int(info["n_pre"]), int(info["n_post"])
        pre_of = np.repeat(np.arange(n_pre, dtype=np.int32), np.diff(indptr)).astype(np.int32)
        order = np.argsort(post, kind="stable")
        cptr = np.zeros(n_post + 1, np.int64)
        np.cumsum(np.bincount(post, minlength=n_post), out=cptr[1:])
        rid = node.id
        b.buffer(rid, "cptr", cptr, "const")
        b.buffer(rid, "csyn", order.astype(np.int32 if len(order) < 2**31 else np.int64), "const")
        b.buffer(rid, "cpre", pre_of[order], "const")
        pres = node.values["presynaptic"]
        if pres == "auto":
            proj_v = proj.values
            inhib = proj_v.get("receptor") == "inh" or (len(w) > 0 and float(w.max()) < 0.0)
        else:
            inhib = pres == "inhibitory"
        b.node_info[rid].update(projection=pid, pre=info["pre"], post=info["post"], n_pre=n_pre, n_post=n_post,
                                n_syn=int(len(w)), inhibitory=bool(inhib))
        return dict(pid=pid, pre=info["pre"], post=info["post"], n_pre=n_pre, n_post=n_post, inhibitory=inhib)

    @classmethod
    def weight_bounds_problem(cls, node, graph) -> list:
        """Warn when the bounds let a rule flip the sign of single-signed weights (Dale's law)."""
        v = node.values
        proj = cls.projection(node, graph)
        pre = graph.sources(proj.id, "pre") if proj is not None else []
        if not pre or pre[0].type.family() != "neuron":
            return []  # Dale's law concerns neurons; inputs (stimuli) may have mixed signs (NALSM)
        if v["w_min"] < 0.0 < v["w_max"]:
            return [Problem("warning", "rule.dale", f"bounds [{v['w_min']}, {v['w_max']}] let '{node.id}' change "
                            "the sign of weights (Dale's law is not kept)",
                            "use w_min >= 0 for excitatory or w_max <= 0 for inhibitory weights", node=node.id,
                            param="w_min")]
        return []


def spike_args(ctx, src: str) -> tuple[str, str, str, str]:
    """(spike list, count variable, per-spike counts, multi flag) expressions of a spike source."""
    multi = ctx.plan.spike_sources[src].multi
    spk = ctx.b(src + ".spk")
    cnt = ctx.b(src + ".cnt") if multi else spk
    return spk, ctx.ns(src), cnt, "True" if multi else "False"
