"""``plasticity.oja_subspace``: Oja's subspace rule on lateral weights, as in HLOP (Xiao et al.,
ICLR 2024; github pkuxmq/HLOP-SNN), with frozen rows for earlier tasks."""
from __future__ import annotations

import math

import numba
import numpy as np

from engine.backends.numba_backend import renderer
from engine.errors import DesignError, Problem
from engine.params import Int, Num
from engine.registry import Port, register

from .plasticity_base import PlasticityRule, spike_args


@numba.njit(cache=True, nogil=True)
def oja_step(t, pre_spk, ns_pre, pre_cnt, pre_multi, w, qidx, x, y, dh, decay, every, eta, clip, frozen,
             w_min, w_max):
    """Presynaptic traces x <- x decay + spikes; every ``every`` steps, with H the (k, n)
    weights (H[i, j] = w[qidx[i, j]]): y = H x, dH = y x^T - y y^T H (rows >= frozen only),
    each entry clipped to [-clip, clip], H += eta dH, then clipped to the bounds."""
    for j in range(x.shape[0]):
        x[j] *= decay
    for k in range(ns_pre):
        x[pre_spk[k]] += pre_cnt[k] if pre_multi else 1
    if (t + 1) % every != 0:
        return
    K, N = qidx.shape[0], qidx.shape[1]
    for i in range(K):
        s = 0.0
        for j in range(N):
            s += w[qidx[i, j]] * x[j]
        y[i] = s
    for j in range(N):  # dh[j] = sum_l y_l H[l, j]  (= (H^T y)_j, the reconstruction of x)
        s = 0.0
        for i in range(K):
            s += y[i] * w[qidx[i, j]]
        dh[j] = s
    for i in range(frozen, K):
        yi = y[i]
        for j in range(N):
            d = yi * (x[j] - dh[j])
            d = min(max(d, -clip), clip)
            q = qidx[i, j]
            w[q] = min(max(w[q] + eta * d, w_min), w_max)


@register
class OjaSubspace(PlasticityRule):
    """Oja's subspace rule (Hebbian + anti-Hebbian) learning the principal subspace of the
    presynaptic activity, the lateral rule of HLOP.

    The trained projection (all_to_all, from a population of n neurons to k 'subspace'
    neurons) holds H (k x n). The rule keeps presynaptic traces x (spike counts filtered
    with tau_trace_ms) and every every_ms applies dH = y x^T - y y^T H with y = H x, H += eta dH
    (optionally clipped entrywise, as HLOP does per batch). Its rows converge to an orthonormal basis of
    the top-k principal subspace of E[x x^T]. frozen_rows (live) freezes the first rows:
    raise it at a task boundary to keep the subspace of earlier tasks (HLOP merges learned
    subspaces and adds new rows per task). Its 'subspace' output gives H to a learning rule
    (plasticity.three_factor) that then changes weights only orthogonally to it: x_perp =
    x - H^T H x (HLOP's projection), so what earlier tasks use is not overwritten.
    """

    type_key = "plasticity.oja_subspace"
    ports = PlasticityRule.ports + (
        Port("subspace", "out", "modulation", doc="H, for rules that project their presynaptic traces onto its "
             "orthogonal complement (HLOP): wire to a plasticity.three_factor's 'subspace' input"),
    )
    tau_trace_ms = Num(20.0, bounds=(0, None), inclusive=(False, True), doc="time constant of the presynaptic traces x")
    every_ms = Num(1.0, bounds=(0, None), inclusive=(False, True), live=False, doc="interval between updates")
    eta = Num(1e-3, bounds=(0, None), doc="learning rate per update")
    clip = Num(None, bounds=(0, None), inclusive=(False, True), allow_none=True,
               doc="clip each entry of dH to +-clip (empty: no clipping). HLOP clips its batch-mean dH at 10; "
                   "here every update is one sample, whose entries are larger, so clipping biases the subspace")
    frozen_rows = Int(0, bounds=(0, None), doc="rows of H (subspace neurons) that no longer learn")
    w_min = Num(-10.0, doc="lower bound of each entry of H")
    w_max = Num(10.0, doc="upper bound of each entry of H")

    @classmethod
    def check(cls, node, graph) -> list:
        out = super().check(node, graph)
        proj = cls.projection(node, graph)
        if proj is not None and proj.values.get("rule") != "all_to_all":
            out.append(Problem("error", "rule.connectivity", f"'{node.id}' trains '{proj.id}', whose rule is "
                               f"'{proj.values.get('rule')}'; the subspace rule needs every pre->post weight",
                               f"set rule = all_to_all on '{proj.id}'", node=node.id, port="rule"))
        return out

    @classmethod
    def build(cls, node, b) -> None:
        s = cls.setup(node, b)
        rid, pid = node.id, s["pid"]
        n, k = s["n_pre"], s["n_post"]
        indptr = b.buffers[f"{pid}.indptr"]
        post = b.buffers[f"{pid}.post"]
        if len(post) != n * k:
            raise DesignError(Problem("error", "rule.connectivity", f"'{pid}' has {len(post)} synapses, not "
                                      f"{n} x {k}", "use all_to_all with allow_self on", node=rid, port="rule"))
        qidx = np.empty((k, n), np.int64)
        pre_of = np.repeat(np.arange(n), np.diff(indptr))
        qidx[post, pre_of] = np.arange(len(post))
        b.buffer(rid, "qidx", qidx, "const")
        b.buffer(rid, "x", np.zeros(max(n, 1), b.dtype))
        b.buffer(rid, "yv", np.zeros(max(k, 1), b.dtype), "scratch")
        b.buffer(rid, "dh", np.zeros(max(n, 1), b.dtype), "scratch")
        every = max(1, int(round(float(node.values["every_ms"]) / b.dt)))

        def derive(nd):
            v = nd.values
            return {"decay": math.exp(-b.dt / float(v["tau_trace_ms"])), "every": np.int64(every),
                    "eta": float(v["eta"]), "clip": math.inf if v["clip"] is None else float(v["clip"]),
                    "frozen": np.int64(min(int(v["frozen_rows"]), k)),
                    "wmin": float(v["w_min"]), "wmax": float(v["w_max"])}

        b.set_params(node, derive)
        b.step("plasticity", rid, "plasticity.oja", reads=[f"{s['pre']}.spk"],
               updates=[f"{pid}.w", f"{rid}.x"], projection=pid, pre=s["pre"])


@renderer("plasticity.oja")
def _render(step, ctx):
    a = step.attrs
    rid, pid = step.node, a["projection"]
    f = ctx.use(f"{__name__}:oja_step")
    pspk, pns, pcnt, pmulti = spike_args(ctx, a["pre"])
    B = lambda k: ctx.b(f"{rid}.{k}")  # noqa: E731
    P = lambda k: ctx.p(rid, k)  # noqa: E731
    return [f"{f}(t, {pspk}, {pns}, {pcnt}, {pmulti}, {ctx.b(pid + '.w')}, {B('qidx')}, {B('x')}, {B('yv')}, "
            f"{B('dh')}, {P('decay')}, {P('every')}, {P('eta')}, {P('clip')}, {P('frozen')}, {P('wmin')}, "
            f"{P('wmax')})"]
