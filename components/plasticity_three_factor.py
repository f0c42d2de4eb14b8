"""``plasticity.three_factor``: eligibility trace x modulator (error or reward) x attention gate."""
from __future__ import annotations

import math

import numba
import numpy as np

from engine.backends.numba_backend import renderer
from engine.errors import DesignError, Problem
from engine.params import Choice, Num
from engine.registry import Port, register

from .plasticity_base import PlasticityRule, spike_args


@numba.njit(cache=True, nogil=True)
def three_factor_step(t, period, train, hq, hw, hc, rperp, pre_spk, ns_pre, pre_cnt, pre_multi, post_spk, ns_post, indptr, post, w, rpre, ypost, e,
                      label, cls_of, d_pre, d_post, lam, inc_pre, inc_post, target, eta_dt, hebbian, reward,
                      w_min, w_max, err):
    """Traces (Hz): presynaptic r, postsynaptic y. Eligibility e_q <- lam e_q + r_j f(y_k)
    (f = 1, or y_k / target when hebbian). Modulator per output k: error E_k = ([label = k]
    target - y_k) / target, or reward R = +1 if the most active output is the label's, -1
    otherwise (same for all k). Gate G = 1 while a train sample is shown (held-out samples
    and gaps teach nothing).
    w_q += eta dt M_k G e_q, clipped."""
    for j in range(rpre.shape[0]):
        rpre[j] *= d_pre
    for k in range(ns_pre):
        rpre[pre_spk[k]] += inc_pre * (pre_cnt[k] if pre_multi else 1)
    for i in range(ypost.shape[0]):
        ypost[i] *= d_post
    for k in range(ns_post):
        ypost[post_spk[k]] += inc_post
    lab = int(label[0])
    p = t // period
    gate = lab >= 0 and p < train.shape[0] and train[p] != 0  # attention: train samples only
    if gate:
        if reward:
            best = 0
            for i in range(ypost.shape[0]):
                if ypost[i] > ypost[best]:
                    best = i
            r = 1.0 if cls_of[best] == lab else -1.0
            for i in range(err.shape[0]):
                err[i] = r
        else:
            for i in range(err.shape[0]):
                err[i] = ((target if cls_of[i] == lab else 0.0) - ypost[i]) / target
    rr = rpre
    if hq.shape[0] > 0:  # HLOP: presynaptic traces projected off the subspace H: r - H^T H r
        for a in range(hq.shape[0]):
            c = 0.0
            for j in range(rpre.shape[0]):
                c += hw[hq[a, j]] * rpre[j]
            hc[a] = c
        for j in range(rpre.shape[0]):
            c = rpre[j]
            for a in range(hq.shape[0]):
                c -= hw[hq[a, j]] * hc[a]
            rperp[j] = c
        rr = rperp
    for j in range(rpre.shape[0]):
        rj = rr[j]
        for q in range(indptr[j], indptr[j + 1]):
            i = post[q]
            f = ypost[i] / target if hebbian else 1.0
            e[q] = lam * e[q] + rj * f
            if gate:
                v = w[q] + eta_dt * err[i] * e[q]
                w[q] = min(max(v, w_min), w_max)


@register
class ThreeFactor(PlasticityRule):
    """Three-factor learning: Hebbian eligibility x modulator x attention gate (MODELS.md D).

    For readouts (e.g. of an Izhikevich reservoir): the trained projection goes from the
    reservoir to one output neuron per class of the stimulus wired to 'modulator' (its
    'label' output: output k stands for the k-th class of its schedule). Each synapse keeps
    an eligibility trace e <- lam e + r_pre f(y_post) (filtered rates in Hz; f = 1 or the
    output rate relative to target). While a train sample is shown (attention gate G = 1) the
    weights move by eta dt M e, with M the output's error ([label = k] target_hz - y)/target_hz,
    or a global reward +-1 (is the most active output the label's?). Between samples
    (label -1) nothing is learned. With an Oja subspace rule wired to 'subspace' (on the same
    presynaptic population), the presynaptic traces enter the eligibility projected onto
    the orthogonal complement of its rows H, r - H^T H r (HLOP, Xiao et al. 2024), so weight
    changes leave the subspace of earlier tasks alone. experimental: the paper's equations were not retrievable;
    this is the canonical form of MODELS.md D.
    """

    type_key = "plasticity.three_factor"
    experimental = True
    ports = PlasticityRule.ports + (
        Port("modulator", "in", "signal", required=True,
             doc="the 'label' output of a dataset stimulus: sets the error/reward and the attention gate"),
        Port("subspace", "in", "modulation",
             doc="optional: a plasticity.oja_subspace's H; eligibility then uses r - H^T H r (HLOP)"),
    )
    tau_pre_ms = Num(20.0, bounds=(0, None), inclusive=(False, True), doc="presynaptic rate trace")
    tau_post_ms = Num(50.0, bounds=(0, None), inclusive=(False, True), doc="output rate trace y")
    tau_e_ms = Num(100.0, bounds=(0, None), inclusive=(False, True), doc="eligibility trace decay (lambda)")
    eta = Num(1e-6, bounds=(0, None), doc="learning rate (weight units per Hz per ms)")
    target_hz = Num(50.0, bounds=(0, None), inclusive=(False, True), doc="target rate of the correct output")
    modulator_kind = Choice("error", ["error", "reward"], doc="third factor: per-output error or global reward")
    eligibility = Choice("presynaptic", ["presynaptic", "hebbian"],
                         doc="presynaptic: e follows the input rate (error-driven delta rule); hebbian: input rate x "
                         "output rate / target")
    w_min = Num(-10.0, doc="lower weight bound")
    w_max = Num(10.0, doc="upper weight bound")

    @classmethod
    def check(cls, node, graph) -> list:
        out = super().check(node, graph)
        proj = cls.projection(node, graph)
        for src in graph.sources(node.id, "subspace"):
            if src.type.type_key != "plasticity.oja_subspace":
                out.append(Problem("error", "port.subspace", f"'subspace' of '{node.id}' comes from '{src.id}' "
                                   f"({src.key})", "wire the 'subspace' output of a plasticity.oja_subspace",
                                   node=node.id, port="subspace"))
                continue
            oproj = src.type.projection(src, graph)
            a = graph.sources(oproj.id, "pre") if oproj is not None else []
            b_ = graph.sources(proj.id, "pre") if proj is not None else []
            if a and b_ and a[0].id != b_[0].id:
                out.append(Problem("error", "port.subspace", f"the subspace of '{src.id}' is over '{a[0].id}', but "
                                   f"'{node.id}' trains synapses from '{b_[0].id}'", "use an Oja rule on the same "
                                   "presynaptic population", node=node.id, port="subspace"))
        for src in graph.sources(node.id, "modulator"):
            if not getattr(src.type, "provides_schedule", False):
                out.append(Problem("error", "port.modulator", f"'modulator' of '{node.id}' comes from '{src.id}' "
                                   f"({src.key}), which publishes no labels", "wire the 'label' output of a dataset "
                                   "stimulus (stimulus.digits, stimulus.patterns)", node=node.id, port="modulator"))
        return out

    @classmethod
    def build(cls, node, b) -> None:
        s = cls.setup(node, b)
        rid, pid = node.id, s["pid"]
        stim = b.graph.sources(rid, "modulator")[0]
        sched = b.node_info[stim.id].get("schedule")
        classes = np.asarray(sched["classes"], np.int64)
        if s["n_post"] != len(classes):
            raise DesignError(Problem("error", "rule.outputs", f"'{rid}' trains '{pid}' onto {s['n_post']} outputs, "
                                      f"but '{stim.id}' has {len(classes)} classes", f"give '{s['post']}' n = "
                                      f"{len(classes)} (one output neuron per class)", node=rid, port="rule"))
        b.buffer(rid, "rpre", np.zeros(max(s["n_pre"], 1), b.dtype))
        b.buffer(rid, "ypost", np.zeros(max(s["n_post"], 1), b.dtype))
        b.buffer(rid, "e", np.zeros(max(len(b.buffers[f"{pid}.w"]), 1), b.dtype))
        b.buffer(rid, "err", np.zeros(max(s["n_post"], 1), b.dtype), "scratch")
        b.buffer(rid, "cls", classes, "const")
        b.buffer(rid, "train", np.asarray(sched["train"], np.uint8), "const")
        oja = b.graph.sources(rid, "subspace")
        oja_proj = oja[0].type.projection(oja[0], b.graph).id if oja else ""
        if oja:
            k_sub = b.graph.size(b.graph.targets(oja_proj, "post")[0].id)
            b.buffer(rid, "hc", np.zeros(max(k_sub, 1), b.dtype), "scratch")
            b.buffer(rid, "rperp", np.zeros(max(s["n_pre"], 1), b.dtype), "scratch")
        else:
            b.buffer(rid, "hc", np.zeros(1, b.dtype), "scratch")
            b.buffer(rid, "rperp", np.zeros(1, b.dtype), "scratch")

        def derive(nd):
            v = nd.values
            return {"d_pre": math.exp(-b.dt / float(v["tau_pre_ms"])), "d_post": math.exp(-b.dt / float(v["tau_post_ms"])),
                    "lam": math.exp(-b.dt / float(v["tau_e_ms"])), "inc_pre": 1000.0 / float(v["tau_pre_ms"]),
                    "inc_post": 1000.0 / float(v["tau_post_ms"]), "target": float(v["target_hz"]),
                    "eta_dt": float(v["eta"]) * b.dt, "hebb": v["eligibility"] == "hebbian",
                    "reward": v["modulator_kind"] == "reward", "wmin": float(v["w_min"]), "wmax": float(v["w_max"]),
                    "period": np.int64(sched["period_steps"])}

        b.set_params(node, derive)
        b.step("plasticity", rid, "plasticity.three_factor",
               reads=[f"{s['pre']}.spk", f"{s['post']}.spk", f"{stim.id}.label"]
               + ([f"{oja_proj}.w"] if oja else []),
               updates=[f"{pid}.w", f"{rid}.rpre", f"{rid}.ypost", f"{rid}.e"], projection=pid, pre=s["pre"],
               post=s["post"], stim=stim.id, oja=oja[0].id if oja else "",
               oja_proj=oja_proj)


@renderer("plasticity.three_factor")
def _render(step, ctx):
    a = step.attrs
    rid, pid = step.node, a["projection"]
    f = ctx.use(f"{__name__}:three_factor_step")
    pspk, pns, pcnt, pmulti = spike_args(ctx, a["pre"])
    qspk, qns, _, _ = spike_args(ctx, a["post"])
    B = lambda k: ctx.b(f"{rid}.{k}")  # noqa: E731
    P = lambda k: ctx.p(rid, k)  # noqa: E731
    if a["oja"]:
        hq, hw = ctx.b(f"{a['oja']}.qidx"), ctx.b(f"{a['oja_proj']}.w")
    else:
        hq, hw = "_no_h", B("hc")
        ctx.prelude.append("_no_h = np.zeros((0, 0), np.int64)")
    return [f"{f}(t, {P('period')}, {B('train')}, {hq}, {hw}, {B('hc')}, {B('rperp')}, {pspk}, {pns}, {pcnt}, {pmulti}, {qspk}, {qns}, {ctx.b(pid + '.indptr')}, {ctx.b(pid + '.post')}, "
            f"{ctx.b(pid + '.w')}, {B('rpre')}, {B('ypost')}, {B('e')}, {ctx.b(a['stim'] + '.label')}, {B('cls')}, "
            f"{P('d_pre')}, {P('d_post')}, {P('lam')}, {P('inc_pre')}, {P('inc_post')}, {P('target')}, "
            f"{P('eta_dt')}, {P('hebb')}, {P('reward')}, {P('wmin')}, {P('wmax')}, {B('err')})"]
