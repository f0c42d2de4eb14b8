"""``plasticity.oja_subspace``: Oja's subspace rule on lateral weights, as in HLOP (Xiao et al.,
ICLR 2024; github pkuxmq/HLOP-SNN), with frozen rows for earlier tasks."""
from __future__ import annotations

import math

import numba
import numpy as np

from engine.backends.numba_backend import renderer
from engine.errors import DesignError, Problem
from engine.params import Choice, Int, Num
from engine.registry import Port, register

from .plasticity_base import PlasticityRule, spike_args


@numba.njit(cache=True, nogil=True)
def oja_step(t, pre_spk, ns_pre, pre_cnt, pre_multi, w, qidx, x, y, dh, decay, every, eta, clip, frozen,
             w_min, w_max, scheduled, label, period, train, task, block, rpt, cur, nproj, proj_frozen):
    """Presynaptic traces x <- x decay + spikes; every ``every`` steps, with H the (k, n)
    weights (H[i, j] = w[qidx[i, j]]): y = H x, dH = y x^T - y y^T H (rows >= frozen only),
    each entry clipped to [-clip, clip], H += eta dH, then clipped to the bounds.

    ``scheduled``: learn only while a train sample of the schedule is shown (label >= 0);
    ``cur[0]`` keeps the task of the latest train sample, ``cur[1]`` the number of finished
    tasks (a task is finished once its test block starts, or the next task's training). With
    rows_per_task ``rpt`` > 0, only rows [0, hi) with hi = (cur + 1) rpt take part (y and
    the reconstruction) and rows below lo = max(frozen, cur rpt) are frozen. ``nproj[0]`` is
    set to the rows the 'subspace' output hands on: the finished tasks' rows, max(frozen,
    cur[1] rpt) (``proj_frozen``), or hi; so a rule that reads it one step later already
    sees the frozen rows when the next task's first train step comes."""
    for j in range(x.shape[0]):
        x[j] *= decay
    for k in range(ns_pre):
        x[pre_spk[k]] += pre_cnt[k] if pre_multi else 1
    K, N = qidx.shape[0], qidx.shape[1]
    on = True
    if scheduled:
        p = t // period
        on = label[0] >= 0 and p < train.shape[0] and train[p] != 0
        if on:
            cur[0] = task[p]
            cur[1] = max(cur[1], cur[0])
        elif p < train.shape[0] and train[p] == 0:  # a test block: the task trained before it is finished
            cur[1] = max(cur[1], block[p] + 1)
    lo, hi, fin = frozen, K, frozen
    if rpt > 0:
        lo = max(lo, cur[0] * rpt)
        hi = min(K, (cur[0] + 1) * rpt)
        fin = max(fin, cur[1] * rpt)
    lo = min(lo, K)
    nproj[0] = min(fin, K) if proj_frozen else hi
    if not on or (t + 1) % every != 0 or hi <= lo:
        return
    K = hi
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
    for i in range(lo, K):
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

    Task boundaries within one run: wire the 'label' output of a dataset stimulus with tasks
    (stimulus.digits 'tasks') to 'schedule'. The rule then learns only while a train sample
    is shown, and with rows_per_task = r the rows of task m (r of them, from row m r) learn
    during task m's train samples while the rows of earlier tasks are frozen and later rows
    take no part; with projected = 'frozen' the 'subspace' output holds only the rows of the
    finished tasks (HLOP: a new task's updates avoid the old tasks' subspace).
    """

    type_key = "plasticity.oja_subspace"
    ports = PlasticityRule.ports + (
        Port("subspace", "out", "modulation", doc="H, for rules that project their presynaptic traces onto its "
             "orthogonal complement (HLOP): wire to a plasticity.three_factor's 'subspace' input"),
        Port("schedule", "in", "signal", doc="optional: the 'label' output of a dataset stimulus; the rule then "
             "learns only while a train sample is shown (and per task with rows_per_task)"),
    )
    tau_trace_ms = Num(20.0, bounds=(0, None), inclusive=(False, True), doc="time constant of the presynaptic traces x")
    every_ms = Num(1.0, bounds=(0, None), inclusive=(False, True), live=False, doc="interval between updates")
    eta = Num(1e-3, bounds=(0, None), doc="learning rate per update")
    clip = Num(None, bounds=(0, None), inclusive=(False, True), allow_none=True,
               doc="clip each entry of dH to +-clip (empty: no clipping). HLOP clips its batch-mean dH at 10; "
                   "here every update is one sample, whose entries are larger, so clipping biases the subspace")
    frozen_rows = Int(0, bounds=(0, None), doc="rows of H (subspace neurons) that no longer learn")
    rows_per_task = Int(0, bounds=(0, None), live=False,
                        doc="with a 'schedule' that has tasks: rows learned per task (task m: rows m r .. (m+1) r - 1; "
                        "earlier rows frozen, later rows unused until their task). 0: every row learns throughout")
    projected = Choice("all", ["all", "frozen"],
                       doc="rows of H the 'subspace' output hands on: 'all' rows taking part, or only the 'frozen' "
                       "ones (the finished tasks' subspace, HLOP)")
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
        srcs = graph.sources(node.id, "schedule")
        for src in srcs:
            if not getattr(src.type, "provides_schedule", False):
                out.append(Problem("error", "port.schedule", f"'schedule' of '{node.id}' comes from '{src.id}' "
                                   f"({src.key}), which publishes no presentation schedule", "wire the 'label' "
                                   "output of a dataset stimulus (stimulus.digits, stimulus.patterns)",
                                   node=node.id, port="schedule"))
        if int(node.values["rows_per_task"]) > 0 and not srcs:
            out.append(Problem("error", "rule.tasks", f"rows_per_task of '{node.id}' needs task boundaries",
                               "wire the 'label' output of a stimulus with tasks to 'schedule', or set "
                               "rows_per_task = 0", node=node.id, param="rows_per_task"))
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
        stim = b.graph.sources(rid, "schedule")
        rpt = int(node.values["rows_per_task"])
        if stim:
            sched = b.node_info[stim[0].id]["schedule"]
            n_tasks = int(sched.get("n_tasks", 1))
            task = np.asarray(sched.get("task", np.zeros(len(sched["label"]), np.int64)), np.int64)
            if rpt * (n_tasks - 1) > k:
                raise DesignError(Problem("error", "rule.tasks", f"'{rid}' has {k} rows (the size of "
                                          f"'{s['post']}'), fewer than rows_per_task {rpt} x {n_tasks - 1} earlier "
                                          f"tasks of '{stim[0].id}'", f"give '{s['post']}' n >= {rpt * n_tasks} or "
                                          "lower rows_per_task", node=rid, param="rows_per_task"))
            block = np.asarray(sched.get("block", np.zeros(len(sched["label"]), np.int64)), np.int64)
            b.buffer(rid, "train", np.asarray(sched["train"], np.uint8), "const")
            b.buffer(rid, "task", task, "const")
            b.buffer(rid, "block", block, "const")
            period = int(sched["period_steps"])
        else:
            b.buffer(rid, "train", np.zeros(1, np.uint8), "const")
            b.buffer(rid, "task", np.zeros(1, np.int64), "const")
            b.buffer(rid, "block", np.zeros(1, np.int64), "const")
            period = 1
        b.buffer(rid, "cur", np.zeros(2, np.int64))  # task being learned, tasks finished
        fz0 = min(int(node.values["frozen_rows"]), k)  # what the first step will hand on
        hi0 = min(k, rpt) if stim and rpt > 0 else k
        b.buffer(rid, "nproj", np.full(1, fz0 if node.values["projected"] == "frozen" else hi0, np.int64))

        def derive(nd):
            v = nd.values
            return {"decay": math.exp(-b.dt / float(v["tau_trace_ms"])), "every": np.int64(every),
                    "eta": float(v["eta"]), "clip": math.inf if v["clip"] is None else float(v["clip"]),
                    "frozen": np.int64(min(int(v["frozen_rows"]), k)),
                    "wmin": float(v["w_min"]), "wmax": float(v["w_max"]), "period": np.int64(period),
                    "rpt": np.int64(rpt if stim else 0), "pfrozen": v["projected"] == "frozen"}

        b.set_params(node, derive)
        # task boundaries and a frozen-rows projection are the kernel's later additions: their
        # own step kind, so a backend that implements only the plain rule refuses them by name
        kind = "plasticity.oja_tasks" if stim or node.values["projected"] == "frozen" else "plasticity.oja"
        b.step("plasticity", rid, kind, reads=[f"{s['pre']}.spk"] + ([f"{stim[0].id}.label"] if stim else []),
               updates=[f"{pid}.w", f"{rid}.x", f"{rid}.cur", f"{rid}.nproj"], projection=pid, pre=s["pre"],
               stim=stim[0].id if stim else "")


@renderer("plasticity.oja")
@renderer("plasticity.oja_tasks")
def _render(step, ctx):
    a = step.attrs
    rid, pid = step.node, a["projection"]
    f = ctx.use(f"{__name__}:oja_step")
    pspk, pns, pcnt, pmulti = spike_args(ctx, a["pre"])
    B = lambda k: ctx.b(f"{rid}.{k}")  # noqa: E731
    P = lambda k: ctx.p(rid, k)  # noqa: E731
    if a["stim"]:
        sched, label = "True", ctx.b(f"{a['stim']}.label")
    else:
        sched, label = "False", "_no_label"
        ctx.prelude.append("_no_label = np.full(1, -1.0)")
    return [f"{f}(t, {pspk}, {pns}, {pcnt}, {pmulti}, {ctx.b(pid + '.w')}, {B('qidx')}, {B('x')}, {B('yv')}, "
            f"{B('dh')}, {P('decay')}, {P('every')}, {P('eta')}, {P('clip')}, {P('frozen')}, {P('wmin')}, "
            f"{P('wmax')}, {sched}, {label}, {P('period')}, {B('train')}, {B('task')}, {B('block')}, {P('rpt')}, {B('cur')}, "
            f"{B('nproj')}, {P('pfrozen')})"]
