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
def three_factor_step(t, period, train, hq, hw, hn, hc, rperp, pre_spk, ns_pre, pre_cnt, pre_multi, post_spk, ns_post, indptr, post, w, rpre, ypost, e,
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
    else:
        for i in range(err.shape[0]):
            err[i] = 0.0  # the 'error' output: no third factor while the gate is closed
    rr = rpre
    na = min(hn[0], hq.shape[0])  # rows of H handed on by the Oja rule (its 'projected' rows)
    if na > 0:  # HLOP: presynaptic traces projected off the subspace H: r - H^T H r
        for a in range(na):
            c = 0.0
            for j in range(rpre.shape[0]):
                c += hw[hq[a, j]] * rpre[j]
            hc[a] = c
        for j in range(rpre.shape[0]):
            c = rpre[j]
            for a in range(na):
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


@numba.njit(cache=True, nogil=True)
def three_factor_target_step(pre_spk, ns_pre, pre_cnt, pre_multi, indptr, post, w, rpre, y, e, tgt, gate,
                             d_pre, lam, inc_pre, eta_dt, hebbian, w_min, w_max, err):
    """Continuous outputs y_k (a neuron.linear's v) learn per-step targets.

    Presynaptic rate r_j (Hz) <- d_pre r_j + inc_pre s_j. Gate G = 1 while gate[0] != 0.
    Error E_k = target_k - y_k; err_k = G E_k (the third factor, also the 'error' output).
    Eligibility e_q <- lam e_q + r_j f(y_k) (f = 1, or y_k when hebbian);
    w_q += eta dt err_k e_q, clipped to [w_min, w_max]."""
    for j in range(rpre.shape[0]):
        rpre[j] *= d_pre
    for k in range(ns_pre):
        rpre[pre_spk[k]] += inc_pre * (pre_cnt[k] if pre_multi else 1)
    g = 1.0 if gate[0] != 0.0 else 0.0
    for i in range(err.shape[0]):
        err[i] = tgt[i] - y[i] if g != 0.0 else 0.0
    for j in range(rpre.shape[0]):
        rj = rpre[j]
        for q in range(indptr[j], indptr[j + 1]):
            i = post[q]
            f = y[i] if hebbian else 1.0
            e[q] = lam * e[q] + rj * f
            if g != 0.0:
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
    changes leave the subspace of earlier tasks alone (the rows the Oja rule hands on: all,
    or with its projected = 'frozen' those of finished tasks). experimental: the paper's equations were not retrievable;
    this is the canonical form of MODELS.md D.

    Targets instead of labels: with the 'target' output of a stimulus.cued_events wired to
    'modulator', the projection drives continuous outputs (a neuron.linear population, one
    unit per target value) and each output's error is E_k = target_k - y_k with y_k its
    value v (in the target's units; target_hz and tau_post_ms do not apply, 'hebbian' uses
    f = y_k). The attention gate G is then the signal wired to 'gate' (learning while it is
    non-zero; unwired: always open). The 'error' output carries the third factor M_k G of
    each output at every step (0 while the gate is closed).
    """

    type_key = "plasticity.three_factor"
    experimental = True
    ports = PlasticityRule.ports + (
        Port("modulator", "in", "signal", required=True,
             doc="the 'label' output of a dataset stimulus (sets the error/reward and the attention gate), or the "
             "'target' output of a stimulus.cued_events (continuous targets of neuron.linear outputs)"),
        Port("subspace", "in", "modulation",
             doc="optional: a plasticity.oja_subspace's H; eligibility then uses r - H^T H r (HLOP)"),
        Port("gate", "in", "signal",
             doc="attention gate with a target modulator (e.g. a stimulus.cued_events' 'gate'): learning only while "
             "it is non-zero; unwired: always open"),
        Port("error", "out", "signal", doc="the third factor of each output at each step, M_k G (0 while the gate "
             "is closed), for monitor.signal"),
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
        tsrc = cls.target_source(node, graph)
        if tsrc is not None:
            return out + cls._target_problems(node, graph, proj, *tsrc)
        for src in graph.sources(node.id, "modulator"):
            if not getattr(src.type, "provides_schedule", False):
                out.append(Problem("error", "port.modulator", f"'modulator' of '{node.id}' comes from '{src.id}' "
                                   f"({src.key}), which publishes no labels or targets", "wire the 'label' output of "
                                   "a dataset stimulus (stimulus.digits, stimulus.patterns) or the 'target' output of "
                                   "a stimulus.cued_events", node=node.id, port="modulator"))
        if graph.inputs(node.id, "gate"):
            out.append(Problem("error", "port.gate", f"'gate' of '{node.id}' is wired, but with a label modulator the "
                               "gate is the schedule (train samples)", "unwire 'gate', or wire a target modulator "
                               "(the 'target' of a stimulus.cued_events)", node=node.id, port="gate"))
        return out

    @staticmethod
    def target_source(node, graph):
        """(source node, port) of a target modulator, or None (a label modulator, or none wired)."""
        for e in graph.inputs(node.id, "modulator"):
            src = graph.nodes[e.source]
            if e.source_port in getattr(src.type, "target_ports", ()):
                return src, e.source_port
        return None

    @classmethod
    def _target_problems(cls, node, graph, proj, src, port) -> list:
        out = []
        P = lambda code, msg, fix, **kw: out.append(Problem("error", code, msg, fix, node=node.id, **kw))  # noqa: E731
        if node.values["modulator_kind"] != "error":
            P("param.modulator_kind", f"'{node.id}' learns the targets of '{src.id}': its third factor is the error "
              "target - y, a global reward needs a label modulator", "use modulator_kind 'error'",
              param="modulator_kind")
        if graph.inputs(node.id, "subspace"):
            P("port.subspace", f"'{node.id}' learns targets: the HLOP subspace works with label modulators only",
              "unwire 'subspace'", port="subspace")
        post = graph.targets(proj.id, "post") if proj is not None else []
        if post:
            post = post[0]
            if getattr(post.type, "continuous_output", None) is None:
                P("rule.outputs", f"'{node.id}' learns the targets of '{src.id}' on '{post.id}' ({post.key}), whose "
                  "output is spikes", f"make '{post.id}' a neuron.linear population (continuous outputs)", port="rule")
            else:
                k = src.type.signal_width(src, port)
                if graph.size(post.id) != k:
                    P("rule.outputs", f"'{node.id}' trains '{proj.id}' onto {graph.size(post.id)} outputs, but "
                      f"'{src.id}.{port}' has {k} values", f"give '{post.id}' n = {k} (one unit per target value)",
                      port="rule")
        return out

    @classmethod
    def build(cls, node, b) -> None:
        tsrc = cls.target_source(node, b.graph)
        if tsrc is not None:
            cls.build_target(node, b, *tsrc)
            return
        s = cls.setup(node, b)
        rid, pid = node.id, s["pid"]
        b.node_info[rid]["signals"] = {"error": f"{rid}.err"}
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
               + ([f"{oja_proj}.w", f"{oja[0].id}.nproj"] if oja else []),
               updates=[f"{pid}.w", f"{rid}.rpre", f"{rid}.ypost", f"{rid}.e"], projection=pid, pre=s["pre"],
               post=s["post"], stim=stim.id, oja=oja[0].id if oja else "",
               oja_proj=oja_proj)

    @classmethod
    def build_target(cls, node, b, stim, port) -> None:
        """Target mode: continuous outputs (the post population's ``continuous_output`` state)
        learn the values of ``stim``'s ``port``, gated by the signal on 'gate'."""
        from .monitor_signal import signal_buffer

        s = cls.setup(node, b)
        rid, pid = node.id, s["pid"]
        g = b.graph
        ybuf = f"{s['post']}.{g.nodes[s['post']].type.continuous_output}"
        tbuf = signal_buffer(b, stim.id, port)
        gates = g.inputs(rid, "gate")
        if gates:
            gbuf = signal_buffer(b, gates[0].source, gates[0].source_port)
        else:
            gbuf = b.buffer(rid, "open", np.ones(1, np.float64), "const")
        for buf, what in ((tbuf, "modulator"), (gbuf, "gate")):
            if buf not in b.buffers:
                raise DesignError(Problem("error", f"port.{what}", f"the source wired to '{what}' of '{rid}' publishes "
                                          "no values", "wire a signal output that carries values", node=rid, port=what))
        b.buffer(rid, "rpre", np.zeros(max(s["n_pre"], 1), b.dtype))
        b.buffer(rid, "e", np.zeros(max(len(b.buffers[f"{pid}.w"]), 1), b.dtype))
        b.buffer(rid, "err", np.zeros(max(s["n_post"], 1), b.dtype), "signal")
        b.node_info[rid]["signals"] = {"error": f"{rid}.err"}

        def derive(nd):
            v = nd.values
            return {"d_pre": math.exp(-b.dt / float(v["tau_pre_ms"])), "lam": math.exp(-b.dt / float(v["tau_e_ms"])),
                    "inc_pre": 1000.0 / float(v["tau_pre_ms"]), "eta_dt": float(v["eta"]) * b.dt,
                    "hebb": v["eligibility"] == "hebbian", "wmin": float(v["w_min"]), "wmax": float(v["w_max"])}

        b.set_params(node, derive)
        b.step("plasticity", rid, "three_factor.target", reads=[f"{s['pre']}.spk", ybuf, tbuf, gbuf],
               sets=[f"{rid}.err"], updates=[f"{pid}.w", f"{rid}.rpre", f"{rid}.e"], projection=pid, pre=s["pre"],
               y=ybuf, target=tbuf, gate=gbuf)


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
        hq, hw, hn = ctx.b(f"{a['oja']}.qidx"), ctx.b(f"{a['oja_proj']}.w"), ctx.b(f"{a['oja']}.nproj")
    else:
        hq, hw, hn = "_no_h", B("hc"), "_no_hn"
        ctx.prelude.append("_no_h = np.zeros((0, 0), np.int64)")
        ctx.prelude.append("_no_hn = np.zeros(1, np.int64)")
    return [f"{f}(t, {P('period')}, {B('train')}, {hq}, {hw}, {hn}, {B('hc')}, {B('rperp')}, {pspk}, {pns}, {pcnt}, {pmulti}, {qspk}, {qns}, {ctx.b(pid + '.indptr')}, {ctx.b(pid + '.post')}, "
            f"{ctx.b(pid + '.w')}, {B('rpre')}, {B('ypost')}, {B('e')}, {ctx.b(a['stim'] + '.label')}, {B('cls')}, "
            f"{P('d_pre')}, {P('d_post')}, {P('lam')}, {P('inc_pre')}, {P('inc_post')}, {P('target')}, "
            f"{P('eta_dt')}, {P('hebb')}, {P('reward')}, {P('wmin')}, {P('wmax')}, {B('err')})"]


@renderer("three_factor.target")
def _render_target(step, ctx):
    a = step.attrs
    rid, pid = step.node, a["projection"]
    f = ctx.use(f"{__name__}:three_factor_target_step")
    pspk, pns, pcnt, pmulti = spike_args(ctx, a["pre"])
    B = lambda k: ctx.b(f"{rid}.{k}")  # noqa: E731
    P = lambda k: ctx.p(rid, k)  # noqa: E731
    return [f"{f}({pspk}, {pns}, {pcnt}, {pmulti}, {ctx.b(pid + '.indptr')}, {ctx.b(pid + '.post')}, "
            f"{ctx.b(pid + '.w')}, {B('rpre')}, {ctx.b(a['y'])}, {B('e')}, {ctx.b(a['target'])}, {ctx.b(a['gate'])}, "
            f"{P('d_pre')}, {P('lam')}, {P('inc_pre')}, {P('eta_dt')}, {P('hebb')}, {P('wmin')}, {P('wmax')}, "
            f"{B('err')})"]
