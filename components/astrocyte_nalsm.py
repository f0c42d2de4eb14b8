"""``astrocyte.nalsm``: the global astrocyte of the NALSM (Ivanov & Michmizos 2021)."""
from __future__ import annotations

import sys
from collections import namedtuple

import numba
import numpy as np

from engine import rng
from engine.backends.numba_backend import renderer
from engine.errors import Problem
from engine.params import Num
from engine.registry import NodeType, Port, register

from .plasticity_base import spike_args

#: what monitor.state may record of an astrocyte
State = namedtuple("State", "a")
Inputs = namedtuple("Inputs", "")


@numba.njit(cache=True, nogil=True, inline="always")
def masked_count(spk, ns, cnt, multi, mask):
    s = 0
    for k in range(ns):
        if mask[spk[k]]:
            s += cnt[k] if multi else 1
    return s


@register
class GlobalAstrocyte(NodeType):
    """Global astrocyte of the NALSM: a leaky integrator of signed population activity.

    A <- A + dt/tau (w_astro (S_liquid - S_input) + b_astro - A), where S are the spike
    counts of this step (the liquid's seen through an optional sparse mask). Its output A
    is the depression rate of a plasticity.stdp_nalsm rule: when the liquid is more active
    than its input, depression grows and the branching factor falls toward 1. Defaults
    from the NALSM code (1000-neuron liquid): tau 100 ms, w_astro 0.015, b_astro = A(0) =
    A+ = 0.15 (w_astro 0.0075 for 8000 neurons).
    """

    type_key = "astrocyte.nalsm"
    ports = (
        Port("liquid", "in", "spikes", multiple=True, required=True, doc="spikes that raise A (the liquid)"),
        Port("input", "in", "spikes", multiple=True, doc="spikes that lower A (the input layer)"),
        Port("depression", "out", "modulation", doc="A: wire to the 'depression' input of STDP rules"),
        Port("state", "out", "state", doc="A, for monitor.state"),
    )
    tau_ms = Num(100.0, bounds=(0, None), inclusive=(False, True), doc="time constant tau_astro")
    w_astro = Num(0.015, doc="gain on the signed spike count (0.015 for 1000 neurons, 0.0075 for 8000)")
    b_astro = Num(0.15, doc="bias b_astro (the resting A)")
    a_init = Num(0.15, live=False, doc="A at t = 0 (applies at reset)")
    observed_fraction = Num(1.0, bounds=(0, 1), inclusive=(False, True), live=False,
                            doc="fraction of liquid neurons the astrocyte sees (a fixed random mask; NALSM Fig. 4)")
    stream_every_ms = Num(1.0, bounds=(0, None), inclusive=(False, True), live=False,
                          doc="A is streamed to plots every this many ms (the last 65536 samples of a chunk)")

    HIST = 1 << 16

    @classmethod
    def model(cls):
        return sys.modules[__name__]

    @classmethod
    def size(cls, values, graph, node_id) -> int:
        return 1

    @classmethod
    def check(cls, node, graph) -> list:
        from .astrocyte_base import wiring_problems

        out = wiring_problems(node, graph)
        for port in ("liquid", "input"):
            for src in graph.sources(node.id, port):
                if not src.type.spiking:
                    out.append(Problem("error", "port." + port, f"'{port}' of '{node.id}' comes from '{src.id}' "
                                       f"({src.key}), which emits no spikes", "wire a population's spikes",
                                       node=node.id, port=port))
        return out

    @classmethod
    def build(cls, node, b) -> None:
        aid = node.id
        g = b.graph
        b.buffer(aid, "a", np.full(1, float(node.values["a_init"]), b.dtype))
        b.buffer(aid, "hist", np.zeros(cls.HIST, np.float64), "record")  # ring of A samples for streaming
        b.buffer(aid, "hstep", np.zeros(cls.HIST, np.int64), "record")
        b.buffer(aid, "hn", np.zeros(1, np.int64), "record")
        every = max(1, int(round(float(node.values["stream_every_ms"]) / b.dt)))
        frac = float(node.values["observed_fraction"])
        srcs = []
        for port, sign in (("liquid", 1.0), ("input", -1.0)):
            for e in g.inputs(aid, port):
                n = g.size(e.source)
                mask = np.ones(n, np.uint8)
                if port == "liquid" and frac < 1.0:
                    u = rng.uniform_np(rng.node_key(b.seed, aid, "mask:" + e.source), 0, np.arange(n))
                    mask = (u < frac).astype(np.uint8)
                b.buffer(aid, f"mask{len(srcs)}", mask, "const")
                srcs.append((e.source, sign))

        def derive(nd):
            v = nd.values
            return {"k": b.dt / float(v["tau_ms"]), "w": float(v["w_astro"]), "bias": float(v["b_astro"]),
                    "every": np.int64(every)}

        b.set_params(node, derive)
        b.node_info[aid].update(n=1, state=["a"], inputs={}, sources=[s for s, _ in srcs])
        b.step("astrocyte", aid, "astrocyte.nalsm", reads=[f"{s}.spk" for s, _ in srcs],
               updates=[f"{aid}.a", f"{aid}.hist", f"{aid}.hstep", f"{aid}.hn"],
               sources=tuple(srcs))

    # --- streaming: A at the end of every chunk ------------------------------------------
    views = ({"kind": "trace", "name": "a", "title": "astrocyte A (depression rate)", "y_label": "A"},)

    @classmethod
    def stream(cls, node, sim, chunk) -> dict:
        """The A samples recorded since the last chunk (oldest lost beyond the ring's size)."""
        B = sim.plan.buffers
        n = int(B[f"{node.id}.hn"][0])
        seen = sim.node_state(node.id + ":streamed", lambda: [0])
        if n <= seen[0]:
            if n < seen[0]:  # the simulation was reset
                seen[0] = n
            return {}
        first = max(seen[0], n - cls.HIST)
        pos = np.arange(first, n) % cls.HIST
        seen[0] = n
        return {"a": {"t_ms": B[f"{node.id}.hstep"][pos] * sim.dt, "y": B[f"{node.id}.hist"][pos].copy()}}

    @classmethod
    def final(cls, node, sim) -> dict:
        return {"a": float(sim.plan.buffers[f"{node.id}.a"][0])}


@renderer("astrocyte.nalsm")
def _render(step, ctx):
    aid = step.node
    f = ctx.use(f"{__name__}:masked_count")
    terms = []
    for k, (src, sign) in enumerate(step.attrs["sources"]):
        spk, ns, cnt, multi = spike_args(ctx, src)
        terms.append(f"{'+' if sign > 0 else '-'} {f}({spk}, {ns}, {cnt}, {multi}, {ctx.b(f'{aid}.mask{k}')})")
    A = ctx.b(f"{aid}.a")
    P = lambda k: ctx.p(aid, k)  # noqa: E731
    hn = ctx.b(f"{aid}.hn")
    return [f"_S = 0 {' '.join(terms)}",
            f"{A}[0] += {P('k')} * ({P('w')} * _S + {P('bias')} - {A}[0])",
            f"if (t + 1) % {P('every')} == 0:",
            f"    _h = {hn}[0] % {ctx.b(f'{aid}.hist')}.shape[0]",
            f"    {ctx.b(f'{aid}.hist')}[_h] = {A}[0]",
            f"    {ctx.b(f'{aid}.hstep')}[_h] = t + 1",
            f"    {hn}[0] += 1"]
