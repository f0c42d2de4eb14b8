"""``stimulus.patterns``: fixed random spike patterns with class labels (the Tempotron task)."""
from __future__ import annotations

import numba
import numpy as np

from engine import rng
from engine.backends.numba_backend import renderer
from engine.errors import Problem
from engine.params import Int, Num
from engine.registry import NodeType, Port, register


def make_patterns(values: dict, seed: int, node_id: str, dt: float):
    """Frozen patterns: afferent i of pattern k fires Bernoulli(rate dt) per step of the
    window, drawn once (keyed by seed, node id, pattern); returns CSR (ptr, idx) over
    (pattern, step) rows and the schedule (presentations shuffled within each epoch)."""
    n, P = int(values["n"]), int(values["n_patterns"])
    steps = max(1, int(round(float(values["sample_ms"]) / dt)))
    gap = max(0, int(round(float(values["gap_ms"]) / dt)))
    p_spk = float(values["rate_hz"]) * dt * 1e-3
    rows_idx, counts = [], np.zeros(P * steps, np.int64)
    for k in range(P):
        key = rng.node_key(seed, node_id, f"pattern:{k}")
        u = rng.uniform_np(key, 0, np.arange(steps * n)).reshape(steps, n)
        s, i = np.nonzero(u < p_spk)
        counts[k * steps:(k + 1) * steps] = np.bincount(s, minlength=steps)
        rows_idx.append(i.astype(np.int32))
    ptr = np.zeros(P * steps + 1, np.int64)
    np.cumsum(counts, out=ptr[1:])
    idx = np.concatenate(rows_idx) if rows_idx else np.zeros(0, np.int32)
    n_cls = int(values["n_classes"])
    labels_of = np.arange(P) % n_cls
    # balanced labels, assigned to patterns in a seeded random order
    perm = np.argsort(rng.uniform_np(rng.node_key(seed, node_id, "labels"), 0, np.arange(P)), kind="stable")
    labels_of = labels_of[perm]
    E, Et = int(values["epochs"]), int(values["test_epochs"])
    order = []
    for e in range(E + Et):
        u = rng.uniform_np(rng.node_key(seed, node_id, "order"), e, np.arange(P))
        order.append(np.argsort(u, kind="stable"))
    index = np.concatenate(order).astype(np.int64)
    n_pres = len(index)
    period = steps + gap
    start = np.arange(n_pres, dtype=np.int64) * period
    train = np.arange(n_pres) < E * P
    sched = {"start_step": start, "stop_step": start + steps, "label": labels_of[index].astype(np.int64),
             "train": train, "index": index, "classes": list(range(n_cls)), "sample_steps": steps,
             "gap_steps": gap, "period_steps": period, "n_train": int(train.sum()), "n_test": int((~train).sum()),
             "end_step": int(n_pres * period)}
    return ptr, idx, sched


@numba.njit(cache=True, inline="always")
def emit(t, ptr, idx, index, labels, period, steps, spk, label_out):
    p = t // period
    off = t - p * period
    if p >= index.shape[0] or off >= steps:
        label_out[0] = -1.0
        return 0
    label_out[0] = labels[p]
    row = index[p] * steps + off
    ns = 0
    for r in range(ptr[row], ptr[row + 1]):
        spk[ns] = idx[r]
        ns += 1
    return ns


@register
class PatternStimulus(NodeType):
    """Fixed random spike patterns in classes: the Tempotron's task (Gütig & Sompolinsky 2006).

    n_patterns frozen patterns of n afferents, each afferent firing as a Bernoulli process
    at rate_hz within the sample_ms window (drawn once per pattern from the design seed),
    are assigned balanced class labels at random. Each epoch presents every pattern once
    in a shuffled order; 'epochs' training epochs are followed by 'test_epochs' epochs
    whose presentations are held out (readouts do not learn from them: they measure what
    was learned). The schedule is published on the 'label' port, as stimulus.digits does.
    """

    type_key = "stimulus.patterns"
    spiking = True
    provides_schedule = True
    ports = (Port("spikes", "out", "spikes", doc="spikes of the afferents"),
             Port("label", "out", "signal", doc="label of the pattern shown (-1 between); wire it to readouts"))
    n = Int(100, bounds=(1, 100_000), doc="number of afferents")
    n_patterns = Int(40, bounds=(1, 100_000), doc="number of patterns")
    n_classes = Int(2, bounds=(2, 1000), doc="number of classes (patterns get balanced labels)")
    rate_hz = Num(5.0, bounds=(0, None), doc="rate of each afferent within a pattern")
    sample_ms = Num(500.0, bounds=(0, None), inclusive=(False, True), live=False, doc="pattern duration")
    gap_ms = Num(0.0, bounds=(0, None), live=False, doc="silence between presentations")
    epochs = Int(10, bounds=(0, None), live=False, doc="training epochs (each pattern once per epoch)")
    test_epochs = Int(1, bounds=(0, None), live=False, doc="held-out epochs after training")

    @classmethod
    def schedule_counts(cls, node) -> tuple[int, int]:
        P = int(node.values["n_patterns"])
        return P * int(node.values["epochs"]), P * int(node.values["test_epochs"])

    @classmethod
    def check(cls, node, graph) -> list:
        v = node.values
        if float(v["rate_hz"]) * graph.dt_ms * 1e-3 > 1.0:
            return [Problem("error", "param.bounds", f"rate_hz {v['rate_hz']} exceeds one spike per step at "
                            f"dt {graph.dt_ms} ms", f"use rate_hz <= {1000.0 / graph.dt_ms:g}", node=node.id,
                            param="rate_hz")]
        return []

    @classmethod
    def build(cls, node, b) -> None:
        nid = node.id
        ptr, idx, sched = make_patterns(node.values, b.seed, nid, b.dt)
        b.spikes(node, int(node.values["n"]))
        b.buffer(nid, "label", np.full(1, -1.0, np.float64), "signal")
        b.buffer(nid, "ptr", ptr, "const")
        b.buffer(nid, "idx", idx, "const")
        b.buffer(nid, "index", sched["index"], "const")
        b.buffer(nid, "labels", sched["label"].astype(np.float64), "const")
        b.set_params(node, lambda nd: {"period": np.int64(sched["period_steps"]),
                                       "steps": np.int64(sched["sample_steps"])})
        b.node_info[nid].update(n=int(node.values["n"]), multi=False, schedule=sched)
        b.step("stimulus", nid, "patterns.emit", sets=[f"{nid}.spk", f"{nid}.label"])
        b.step("monitor", nid, "count", reads=[f"{nid}.spk"])


@renderer("patterns.emit")
def _render(step, ctx):
    nid = step.node
    f = ctx.use(f"{__name__}:emit")
    B = lambda k: ctx.b(f"{nid}.{k}")  # noqa: E731
    return [f"{ctx.ns(nid)} = {f}(t, {B('ptr')}, {B('idx')}, {B('index')}, {B('labels')}, {ctx.p(nid, 'period')}, "
            f"{ctx.p(nid, 'steps')}, {B('spk')}, {B('label')})"]
