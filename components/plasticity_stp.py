"""``plasticity.stp``: Tsodyks–Markram short-term plasticity, and with a gliotransmitter input
the tripartite synapse of Stimberg et al. (2019) (MODELS.md S2)."""
from __future__ import annotations

import math
import sys
from collections import namedtuple

import numba
import numpy as np

from engine.backends.numba_backend import renderer
from engine.errors import Problem
from engine.params import Num
from engine.registry import NodeType, Port, register

from .plasticity_base import spike_args

#: what monitor.state may record (per presynaptic neuron, as of its last spike)
State = namedtuple("State", "u x")
Inputs = namedtuple("Inputs", "")


@numba.njit(cache=True, nogil=True)
def stp_step(t, dt, spk, ns, cnt, multi, u, x, last, rel, om_f, om_d, u0_star, gamma, dom, g_a, o_g, om_g,
             alpha, glio):
    """Release of this step's presynaptic spikes (per presynaptic neuron, lazily decayed).

    Between spikes du/dt = -Omega_f u, dx/dt = Omega_d (1 - x) (exact). At a spike:
    U_0 = (1 - Gamma) U_0* + alpha Gamma; u += U_0 (1 - u); r = u x; x -= r. ``rel[j]`` is
    the summed release of neuron j's spikes of this step (Poisson counts repeat the
    update). With a gliotransmitter input, Gamma (presynaptic receptors bound, one value
    per astrocyte) first relaxes: dGamma/dt = O_G G_A (1 - Gamma) - Omega_G Gamma, G_A held
    over the step."""
    if glio:
        for a in range(gamma.shape[0]):
            k = o_g * g_a[a] + om_g
            if k > 0.0:
                ginf = o_g * g_a[a] / k
                gamma[a] = ginf + (gamma[a] - ginf) * math.exp(-k * dt)
    for k in range(ns):
        j = spk[k]
        c = cnt[k] if multi else 1
        el = (t - last[j]) * dt
        uj = u[j] * math.exp(-om_f * el)
        xj = 1.0 - (1.0 - x[j]) * math.exp(-om_d * el)
        g = gamma[dom[j]] if glio else 0.0
        u0 = (1.0 - g) * u0_star + alpha * g
        r_tot = 0.0
        for _ in range(c):
            uj += u0 * (1.0 - uj)
            r = uj * xj
            xj -= r
            r_tot += r
        u[j], x[j], last[j] = uj, xj, t
        rel[j] = r_tot


@register
class ShortTermPlasticity(NodeType):
    """Tsodyks–Markram short-term plasticity of a projection; with a gliotransmitter input,
    the tripartite synapse of De Pittà / Stimberg et al. (2019).

    Each presynaptic neuron has resources x (recovering at Omega_d) and utilisation u
    (decaying at Omega_f); a spike uses u += U_0 (1 - u), releases r = u x, x -= r, and the
    projection delivers w r instead of w. Wire 'release' to the projection's 'modulation'
    input. Wired from an astrocyte.gchi's 'gliotransmitter' output, presynaptic receptors
    Gamma bind the gliotransmitter G_A of the astrocyte whose domain holds the presynaptic
    neuron (neuron j of N belongs to astrocyte floor(j n / N)), and the release probability
    becomes U_0 = (1 - Gamma) U_0* + alpha Gamma: alpha = 0 lowers release
    (release-decreasing gliotransmission), alpha = 1 raises it (release-increasing).
    Defaults from Stimberg et al. 2019 (Brian2 example 6): U_0* 0.6, Omega_f 3.33/s,
    Omega_d 2/s, O_G 1.5/(uM s), Omega_G 1/120 s.
    """

    type_key = "plasticity.stp"
    ports = (
        Port("release", "out", "modulation", doc="wire to the 'modulation' input of the projection it acts on"),
        Port("gliotransmitter", "in", "modulation", doc="optional: an astrocyte.gchi's gliotransmitter output"),
        Port("state", "out", "state", doc="u, x per presynaptic neuron, for monitor.state"),
    )
    u0_star = Num(0.6, bounds=(0, 1), doc="U_0*: utilisation increment without gliotransmitter")
    omega_f = Num(3.33, bounds=(0, None), unit="1/s", doc="facilitation decay rate Omega_f")
    omega_d = Num(2.0, bounds=(0, None), unit="1/s", doc="resource recovery rate Omega_d")
    alpha = Num(0.0, bounds=(0, 1), doc="gliotransmission effect: 0 release-decreasing, 1 release-increasing")
    o_g = Num(1.5, bounds=(0, None), unit="1/(uM s)", doc="gliotransmitter binding rate O_G")
    omega_g = Num(1.0 / 120.0, bounds=(0, None), unit="1/s", doc="gliotransmitter unbinding rate Omega_G")

    @classmethod
    def model(cls):
        return sys.modules[__name__]

    @staticmethod
    def projection(node, graph):
        ts = graph.targets(node.id, "release")
        return ts[0] if len(ts) == 1 else None

    @classmethod
    def size(cls, values, graph, node_id) -> int:
        proj = cls.projection(graph.nodes[node_id], graph)
        if proj is None:
            return 1
        pre = graph.sources(proj.id, "pre")
        return graph.size(pre[0].id) if pre else 1

    @classmethod
    def check(cls, node, graph) -> list:
        out = []
        ts = graph.targets(node.id, "release")
        if len(ts) != 1 or ts[0].type.type_key != "projection.synapses":
            out.append(Problem("error", "stp.unwired", f"'release' of '{node.id}' drives "
                               f"{', '.join(f'{t.id} ({t.key})' for t in ts) or 'nothing'}; it must drive one "
                               "projection.synapses", "wire 'release' to the 'modulation' input of one projection",
                               node=node.id, port="release"))
            return out
        proj = ts[0]
        if len([s for s in graph.sources(proj.id, "modulation") if s.type.type_key == cls.type_key]) > 1:
            out.append(Problem("error", "stp.multiple", f"projection '{proj.id}' has more than one plasticity.stp",
                               "keep one short-term plasticity node per projection", node=node.id, port="release"))
        for src in graph.sources(node.id, "gliotransmitter"):
            if src.type.type_key != "astrocyte.gchi":
                out.append(Problem("error", "port.gliotransmitter", f"'gliotransmitter' of '{node.id}' comes from "
                                   f"'{src.id}' ({src.key}), which releases no gliotransmitter",
                                   "wire the 'gliotransmitter' output of an astrocyte.gchi", node=node.id,
                                   port="gliotransmitter"))
        return out

    @classmethod
    def build(cls, node, b) -> None:
        from .astrocyte_lr import domain

        g = b.graph
        nid = node.id
        proj = cls.projection(node, g)
        pre = g.sources(proj.id, "pre")[0]
        n = g.size(pre.id)
        b.buffer(nid, "u", np.zeros(n, b.dtype))
        b.buffer(nid, "x", np.ones(n, b.dtype))
        b.buffer(nid, "last", np.zeros(n, np.int64))
        b.buffer(nid, "rel", np.zeros(n, b.dtype), "scratch")
        astro = g.sources(nid, "gliotransmitter")
        if astro:
            n_a = g.size(astro[0].id)
            b.buffer(nid, "gamma", np.zeros(n_a, b.dtype))
            b.buffer(nid, "dom", domain(np.arange(n), n_a, n).astype(np.int64), "const")
        else:
            b.buffer(nid, "gamma", np.zeros(1, b.dtype))
            b.buffer(nid, "dom", np.zeros(1, np.int64), "const")

        def derive(nd):
            v = nd.values
            return {"om_f": float(v["omega_f"]) * 1e-3, "om_d": float(v["omega_d"]) * 1e-3,
                    "u0": float(v["u0_star"]), "o_g": float(v["o_g"]) * 1e-3, "om_g": float(v["omega_g"]) * 1e-3,
                    "alpha": float(v["alpha"])}

        b.set_params(node, derive)
        b.node_info[nid].update(n=n, state=["u", "x"], inputs={}, projection=proj.id, pre=pre.id,
                                astrocyte=astro[0].id if astro else "")
        reads = [f"{pre.id}.spk"] + ([f"{astro[0].id}.g_a"] if astro else [])
        b.step("deliver", nid, "stp.release", reads=reads, sets=[f"{nid}.rel"],
               updates=[f"{nid}.u", f"{nid}.x", f"{nid}.last", f"{nid}.gamma"], pre=pre.id,
               astrocyte=astro[0].id if astro else "")

    views = ({"kind": "trace", "name": "u0", "title": "release probability U_0 (mean over presynaptic neurons)",
              "y_label": "U_0"},)

    @classmethod
    def stream(cls, node, sim, chunk) -> dict:
        if chunk.t_end_ms <= chunk.t_start_ms:
            return {}
        v = node.values
        gam = sim.plan.buffers[f"{node.id}.gamma"]
        dom = sim.plan.buffers[f"{node.id}.dom"]
        gm = float(gam[dom].mean()) if sim.plan.node_info[node.id]["astrocyte"] else 0.0
        u0 = (1.0 - gm) * float(v["u0_star"]) + float(v["alpha"]) * gm
        return {"u0": {"t_ms": np.array([chunk.t_end_ms]), "y": np.array([u0])}}


@renderer("stp.release")
def _render(step, ctx):
    nid = step.node
    a = step.attrs
    spk, ns, cnt, multi = spike_args(ctx, a["pre"])
    B = lambda k: ctx.b(f"{nid}.{k}")  # noqa: E731
    P = lambda k: ctx.p(nid, k)  # noqa: E731
    f = ctx.use(f"{__name__}:stp_step")
    g_a = ctx.b(f"{a['astrocyte']}.g_a") if a["astrocyte"] else B("gamma")
    return [f"{f}(t, dt, {spk}, {ns}, {cnt}, {multi}, {B('u')}, {B('x')}, {B('last')}, {B('rel')}, "
            f"{P('om_f')}, {P('om_d')}, {P('u0')}, {B('gamma')}, {B('dom')}, {g_a}, {P('o_g')}, {P('om_g')}, "
            f"{P('alpha')}, {bool(a['astrocyte'])})"]
