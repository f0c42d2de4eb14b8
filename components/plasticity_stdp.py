"""Spike-timing-dependent plasticity: pair STDP with traces (``plasticity.stdp``), its NALSM
form gated by an astrocyte (``plasticity.stdp_nalsm``) and triplet STDP
(``plasticity.triplet``, Pfister & Gerstner 2006).

Traces decay exactly (``x <- x exp(-dt/tau)``) every step; presynaptic spikes are taken at
emission (axonal delays do not shift the pairing). Weights are clipped to [w_min, w_max]
after every update.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from engine.backends.numba_backend import renderer
from engine.errors import Problem
from engine.params import Choice, Num
from engine.registry import Port, register

from .plasticity_base import PlasticityRule, spike_args


@numba.njit(cache=True, nogil=True, inline="always")
def _clip(v, lo, hi):
    return min(max(v, lo), hi)  # branch-free (selects), ~15 % faster than comparisons here


@numba.njit(cache=True, nogil=True, inline="always")
def _advance(scale, k, inv_decay, x):
    """Lazy exponential decay of a whole trace array: the true trace is ``x / scale[k]``.

    Decaying every element every step is replaced by growing one scale factor; when it
    gets large the array is renormalised once (every ~230 time constants).
    """
    s = scale[k] * inv_decay
    if s > 1e100:
        r = 1.0 / s
        for j in range(x.shape[0]):
            x[j] *= r
        s = 1.0
    scale[k] = s
    return s


@numba.njit(cache=True, nogil=True)
def pair_step(pre_spk, ns_pre, pre_cnt, pre_multi, post_spk, ns_post, indptr, post, w, cptr, csyn, cpre,
              x, y, scale, idx, idy, inc, c_pre, c_post, w_min, w_max, soft, nearest, pre_first):
    """One step of pair STDP.

    ``x`` (per presynaptic neuron) and ``y`` (per postsynaptic neuron) are the traces,
    stored scaled (true value ``x / scale[0]``, ``y / scale[1]``, see ``_advance``). A
    presynaptic spike changes each of its synapses by ``c_pre * y[post]``, a postsynaptic
    spike each of its synapses by ``c_post * x[pre]`` (c_pre < 0 < c_post for excitatory
    STDP; swapped for the inhibitory convention). Soft bounds scale a positive change by
    (w_max - w)/(w_max - w_min) and a negative one by (w - w_min)/(w_max - w_min).
    ``pre_first``: this step's presynaptic spikes enter x before postsynaptic spikes read
    it (Brian2/NEST order: simultaneous spikes potentiate); otherwise both sides read the
    traces from before this step's spikes (NALSM).
    """
    sx = _advance(scale, 0, idx, x)
    sy = _advance(scale, 1, idy, y)
    rng = w_max - w_min
    inv = 1.0 / rng if rng > 0 else 0.0
    for k in range(ns_pre):
        j = pre_spk[k]
        c = pre_cnt[k] if pre_multi else 1
        a = c_pre * c / sy
        lo, hi = indptr[j], indptr[j + 1]
        if soft:
            for q in range(lo, hi):
                dw = a * y[post[q]]
                dw *= ((w_max - w[q]) if dw > 0 else (w[q] - w_min)) * inv
                w[q] = _clip(w[q] + dw, w_min, w_max)
        else:
            for q in range(lo, hi):
                w[q] = _clip(w[q] + a * y[post[q]], w_min, w_max)
        if pre_first:
            x[j] = inc * sx if nearest else x[j] + inc * c * sx
    a = c_post / sx
    for k in range(ns_post):
        i = post_spk[k]
        lo, hi = cptr[i], cptr[i + 1]
        if soft:
            for r in range(lo, hi):
                q = csyn[r]
                dw = a * x[cpre[r]]
                dw *= ((w_max - w[q]) if dw > 0 else (w[q] - w_min)) * inv
                w[q] = _clip(w[q] + dw, w_min, w_max)
        else:
            for r in range(lo, hi):
                q = csyn[r]
                w[q] = _clip(w[q] + a * x[cpre[r]], w_min, w_max)
        y[i] = inc * sy if nearest else y[i] + inc * sy
    if not pre_first:
        for k in range(ns_pre):
            j = pre_spk[k]
            c = pre_cnt[k] if pre_multi else 1
            x[j] = inc * sx if nearest else x[j] + inc * c * sx


@numba.njit(cache=True, nogil=True)
def triplet_step(pre_spk, ns_pre, pre_cnt, pre_multi, post_spk, ns_post, indptr, post, w, cptr, csyn, cpre,
                 r1, r2, o1, o2, d1, d2, d3, d4, a2p, a3p, a2m, a3m, w_min, w_max):
    """One step of all-to-all triplet STDP (Pfister & Gerstner 2006, eqs. 3-4).

    Pre spike: w -= o1 (A2- + A3- r2), then r1, r2 += 1. Post spike: w += r1 (A2+ + A3+ o2),
    then o1, o2 += 1; r2 and o2 are read before their own spike's increment.
    """
    for j in range(r1.shape[0]):
        r1[j] *= d1
        r2[j] *= d3
    for i in range(o1.shape[0]):
        o1[i] *= d2
        o2[i] *= d4
    for k in range(ns_pre):
        j = pre_spk[k]
        c = pre_cnt[k] if pre_multi else 1
        for _ in range(c):
            for q in range(indptr[j], indptr[j + 1]):
                v = w[q] - o1[post[q]] * (a2m + a3m * r2[j])
                w[q] = _clip(v, w_min, w_max)
            r1[j] += 1.0
            r2[j] += 1.0
    for k in range(ns_post):
        i = post_spk[k]
        for r in range(cptr[i], cptr[i + 1]):
            q = csyn[r]
            v = w[q] + r1[cpre[r]] * (a2p + a3p * o2[i])
            w[q] = _clip(v, w_min, w_max)
        o1[i] += 1.0
        o2[i] += 1.0


@register
class STDP(PlasticityRule):
    """Pair STDP with exponential traces, additive or soft-bounded, all-to-all or nearest-spike.

    Each presynaptic spike leaves a trace x (+= trace_increment, decaying with tau_plus_ms)
    and each postsynaptic spike a trace y (tau_minus_ms). A postsynaptic spike potentiates
    its synapses by a_plus * x, a presynaptic spike depresses its synapses by a_minus * y,
    so an isolated pair at delay dt = t_post - t_pre changes w by a_plus exp(-dt/tau_plus)
    (dt >= 0) or -a_minus exp(dt/tau_minus) (dt < 0). Amplitudes are in the projection's
    weight units. The optional 'depression' input (an astrocyte) replaces a_minus.
    """

    type_key = "plasticity.stdp"
    ports = PlasticityRule.ports + (
        Port("depression", "in", "modulation", doc="optional: an astrocyte output that sets the depression "
             "amplitude each step (replaces a_minus)"),
    )
    tau_plus_ms = Num(20.0, bounds=(0, None), inclusive=(False, True), doc="decay of the presynaptic trace x")
    tau_minus_ms = Num(20.0, bounds=(0, None), inclusive=(False, True), doc="decay of the postsynaptic trace y")
    a_plus = Num(0.01, bounds=(0, None), doc="potentiation amplitude (weight units) per unit of x")
    a_minus = Num(0.0105, bounds=(0, None), doc="depression amplitude (weight units) per unit of y")
    trace_increment = Num(1.0, bounds=(0, None), inclusive=(False, True), doc="what a spike adds to its trace")
    bounds = Choice("hard", ["hard", "soft"], doc="hard: additive, clipped; soft: multiplicative, changes "
                    "scaled by the distance to the bound they approach")
    pairing = Choice("all_to_all", ["all_to_all", "nearest"], doc="all_to_all: traces add up; nearest: a "
                     "spike resets its trace to the increment (only the nearest spike pairs)")
    simultaneous = Choice("pre_first", ["pre_first", "ignore"], doc="spikes in the same step: pre_first "
                          "counts the pre spike as earlier (Brian2, NEST); ignore: they do not pair (NALSM)")

    @classmethod
    def check(cls, node, graph) -> list:
        out = super().check(node, graph)
        if not any(p.severity == "error" for p in out):
            out += cls.weight_bounds_problem(node, graph)
            for e in graph.inputs(node.id, "depression"):
                src = graph.nodes[e.source]
                if src.type.family() != "astrocyte":
                    out.append(Problem("error", "port.depression", f"'depression' of '{node.id}' comes from "
                                       f"'{src.id}' ({src.key}), not an astrocyte", "wire an astrocyte's output",
                                       node=node.id, port="depression"))
        return out

    @classmethod
    def build(cls, node, b) -> None:
        s = cls.setup(node, b)
        rid = node.id
        b.buffer(rid, "x", np.zeros(max(s["n_pre"], 1), b.dtype))
        b.buffer(rid, "y", np.zeros(max(s["n_post"], 1), b.dtype))
        b.buffer(rid, "scale", np.ones(2, np.float64))  # lazy decay: true traces are x / scale[0], y / scale[1]
        inhib = s["inhibitory"]

        def derive(nd):
            v = nd.values
            return {"idx": math.exp(b.dt / float(v["tau_plus_ms"])), "idy": math.exp(b.dt / float(v["tau_minus_ms"])),
                    "inc": float(v["trace_increment"]), "ap": float(v["a_plus"]), "am": float(v["a_minus"]),
                    "wmin": float(v["w_min"]), "wmax": float(v["w_max"]), "soft": v["bounds"] == "soft",
                    "nearest": v["pairing"] == "nearest", "pre_first": v["simultaneous"] == "pre_first"}

        b.set_params(node, derive)
        mod = b.graph.sources(rid, "depression")
        reads = [f"{s['pre']}.spk", f"{s['post']}.spk"] + ([f"{mod[0].id}.a"] if mod else [])
        b.step("plasticity", rid, "stdp.pair", reads=reads,
               updates=[f"{s['pid']}.w", f"{rid}.x", f"{rid}.y", f"{rid}.scale"], projection=s["pid"], pre=s["pre"],
               post=s["post"], inhibitory=bool(inhib), modulator=mod[0].id if mod else "")


@register
class STDPNalsm(STDP):
    """Astrocyte-gated STDP exactly as in the NALSM code (Ivanov & Michmizos 2021).

    One trace per neuron, x <- exp(-dt/10 ms) (x + 0.1 s), read before this step's spikes
    are added. Excitatory or input presynapses: a postsynaptic spike adds A+ x_pre, a
    presynaptic spike subtracts A_astro x_post. Inhibitory presynapses swap the signs:
    pre-before-post strengthens inhibition at rate A_astro. A_astro is the output of the
    global astrocyte wired to 'depression' (a_minus when none is wired: plain STDP).
    """

    type_key = "plasticity.stdp_nalsm"
    tau_plus_ms = Num(10.0, bounds=(0, None), inclusive=(False, True), doc="trace decay (m = exp(-dt/tau))")
    tau_minus_ms = Num(10.0, bounds=(0, None), inclusive=(False, True), doc="trace decay (m = exp(-dt/tau))")
    a_plus = Num(0.15, bounds=(0, None), doc="A+ (NALSM: 0.15)")
    a_minus = Num(0.15, bounds=(0, None), doc="A- when no astrocyte is wired (plain STDP, A- = A+)")
    trace_increment = Num(0.1, bounds=(0, None), inclusive=(False, True), doc="what a spike adds to its trace")
    simultaneous = Choice("ignore", ["pre_first", "ignore"], doc="NALSM: same-step spikes do not pair")
    w_min = Num(0.0, doc="lower bound (NALSM: E [0, 3], I [-3, 0], input [-3, 3])")
    w_max = Num(3.0, doc="upper bound (NALSM: E [0, 3], I [-3, 0], input [-3, 3])")


@renderer("stdp.pair")
def _render_pair(step, ctx):
    a = step.attrs
    rid, pid = step.node, a["projection"]
    B = lambda nid, v: ctx.b(f"{nid}.{v}")  # noqa: E731
    P = lambda k: ctx.p(rid, k)  # noqa: E731
    f = ctx.use(f"{__name__}:pair_step")
    pspk, pns, pcnt, pmulti = spike_args(ctx, a["pre"])
    qspk, qns, _, _ = spike_args(ctx, a["post"])
    am = f"{B(a['modulator'], 'a')}[0]" if a["modulator"] else P("am")
    c_pre, c_post = (f"{P('ap')}", f"-{am}") if a["inhibitory"] else (f"-{am}", f"{P('ap')}")
    return [f"{f}({pspk}, {pns}, {pcnt}, {pmulti}, {qspk}, {qns}, {B(pid, 'indptr')}, {B(pid, 'post')}, "
            f"{B(pid, 'w')}, {B(rid, 'cptr')}, {B(rid, 'csyn')}, {B(rid, 'cpre')}, {B(rid, 'x')}, {B(rid, 'y')}, "
            f"{B(rid, 'scale')}, {P('idx')}, {P('idy')}, {P('inc')}, {c_pre}, {c_post}, {P('wmin')}, {P('wmax')}, {P('soft')}, "
            f"{P('nearest')}, {P('pre_first')})"]


@register
class TripletSTDP(PlasticityRule):
    """Triplet STDP, all-to-all (Pfister & Gerstner 2006), visual-cortex parameters by default.

    Presynaptic traces r1 (tau_plus), r2 (tau_x); postsynaptic traces o1 (tau_minus), o2
    (tau_y). A presynaptic spike depresses by o1 (A2- + A3- r2); a postsynaptic spike
    potentiates by r1 (A2+ + A3+ o2). The triplet term makes potentiation grow with the
    pairing frequency, which pair STDP cannot do.
    """

    type_key = "plasticity.triplet"
    tau_plus_ms = Num(16.8, bounds=(0, None), inclusive=(False, True), doc="pair potentiation trace r1")
    tau_minus_ms = Num(33.7, bounds=(0, None), inclusive=(False, True), doc="pair depression trace o1")
    tau_x_ms = Num(101.0, bounds=(0, None), inclusive=(False, True), doc="triplet presynaptic trace r2")
    tau_y_ms = Num(125.0, bounds=(0, None), inclusive=(False, True), doc="triplet postsynaptic trace o2")
    a2_plus = Num(5e-10, bounds=(0, None), doc="pair potentiation amplitude A2+")
    a3_plus = Num(6.2e-3, bounds=(0, None), doc="triplet potentiation amplitude A3+")
    a2_minus = Num(7e-3, bounds=(0, None), doc="pair depression amplitude A2-")
    a3_minus = Num(2.3e-4, bounds=(0, None), doc="triplet depression amplitude A3-")

    @classmethod
    def check(cls, node, graph) -> list:
        out = super().check(node, graph)
        return out + ([] if any(p.severity == "error" for p in out) else cls.weight_bounds_problem(node, graph))

    @classmethod
    def build(cls, node, b) -> None:
        s = cls.setup(node, b)
        rid = node.id
        for name, n in (("r1", s["n_pre"]), ("r2", s["n_pre"]), ("o1", s["n_post"]), ("o2", s["n_post"])):
            b.buffer(rid, name, np.zeros(max(n, 1), b.dtype))

        def derive(nd):
            v = nd.values
            e = lambda k: math.exp(-b.dt / float(v[k]))  # noqa: E731
            return {"d1": e("tau_plus_ms"), "d2": e("tau_minus_ms"), "d3": e("tau_x_ms"), "d4": e("tau_y_ms"),
                    "a2p": float(v["a2_plus"]), "a3p": float(v["a3_plus"]), "a2m": float(v["a2_minus"]),
                    "a3m": float(v["a3_minus"]), "wmin": float(v["w_min"]), "wmax": float(v["w_max"])}

        b.set_params(node, derive)
        b.step("plasticity", rid, "stdp.triplet", reads=[f"{s['pre']}.spk", f"{s['post']}.spk"],
               updates=[f"{s['pid']}.w"] + [f"{rid}.{k}" for k in ("r1", "r2", "o1", "o2")],
               projection=s["pid"], pre=s["pre"], post=s["post"])


@renderer("stdp.triplet")
def _render_triplet(step, ctx):
    a = step.attrs
    rid, pid = step.node, a["projection"]
    B = lambda nid, v: ctx.b(f"{nid}.{v}")  # noqa: E731
    P = lambda k: ctx.p(rid, k)  # noqa: E731
    f = ctx.use(f"{__name__}:triplet_step")
    pspk, pns, pcnt, pmulti = spike_args(ctx, a["pre"])
    qspk, qns, _, _ = spike_args(ctx, a["post"])
    args = [pspk, pns, pcnt, pmulti, qspk, qns, B(pid, "indptr"), B(pid, "post"), B(pid, "w"), B(rid, "cptr"),
            B(rid, "csyn"), B(rid, "cpre"), *(B(rid, k) for k in ("r1", "r2", "o1", "o2")),
            *(P(k) for k in ("d1", "d2", "d3", "d4", "a2p", "a3p", "a2m", "a3m", "wmin", "wmax"))]
    return [f"{f}({', '.join(args)})"]
