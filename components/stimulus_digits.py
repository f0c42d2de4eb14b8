"""``stimulus.digits``: scikit-learn's 8×8 handwritten digits as rate-coded Poisson spikes."""
from __future__ import annotations

import functools
import re

import numba
import numpy as np

from engine import rng
from engine.backends.numba_backend import renderer
from engine.errors import DesignError, Problem
from engine.params import Choice, Int, Num, Text
from engine.registry import NodeType, Port, register

from .stimulus_poisson import draw
from engine.rng import step_key

N_PIXELS = 64
#: images per class in the dataset (checked against it in the tests): validation needs no sklearn import
CLASS_COUNTS = (178, 182, 177, 183, 181, 182, 181, 179, 174, 180)
CLASSES_PATTERN = r"\s*(all|\d(\s*,\s*\d)*)\s*"
TASKS_PATTERN = r"\s*(\d(\s*,\s*\d)*(\s*;\s*\d(\s*,\s*\d)*)*)?\s*"


@functools.lru_cache(maxsize=1)
def dataset() -> tuple[np.ndarray, np.ndarray]:
    """The bundled digits (no download): images (1797, 64) with intensities 0..16, labels (1797,)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.ascontiguousarray(d.data, dtype=np.float64)
    labels = np.asarray(d.target, dtype=np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def parse_classes(text: str) -> list[int]:
    """"all" -> 0..9; "0, 1, 2" -> [0, 1, 2] (sorted, duplicates dropped)."""
    t = text.strip()
    if t == "all" or t == "":
        return list(range(10))
    return sorted({int(x) for x in re.split(r"\s*,\s*", t)})


def parse_tasks(text: str) -> list[list[int]]:
    """"0,1; 2,3" -> [[0, 1], [2, 3]] (each task's classes sorted, duplicates dropped); "" -> []."""
    t = text.strip()
    if not t:
        return []
    return [sorted({int(x) for x in re.split(r"\s*,\s*", g.strip())}) for g in t.split(";")]


def used_classes(values: dict) -> list[int]:
    """The digit classes a stimulus shows: those of its tasks when it has tasks, else ``classes``."""
    tasks = parse_tasks(values.get("tasks", ""))
    if tasks:
        return sorted({c for g in tasks for c in g})
    return parse_classes(values["classes"])


def split_counts(values: dict) -> tuple[int, int]:
    """(train samples, test samples) of a digits stimulus with parameter values ``values``."""
    n = int(values["n_samples"])
    n_test = int(round(n * (1.0 - float(values["train_fraction"]))))
    n_test = min(max(n_test, 0), n)
    return n - n_test, n_test


def make_schedule(values: dict, seed: int, node_id: str, dt: float) -> dict:
    """The presentation schedule: which image is shown when, its label and split.

    Selection: each class's images are shuffled (keyed by seed, node id and class); the
    samples are taken round-robin over the classes (so classes are balanced within one
    sample), and the first ``n_test`` of that round-robin sequence are the test samples,
    so the split is stratified (per-class test counts differ by at most one). The
    presentation order is a seeded shuffle of the chosen samples ("interleaved"), or the
    shuffled train samples followed by the shuffled test samples ("train_then_test").

    With ``tasks`` (continual learning), the classes of the tasks are selected the same way;
    the presentations are, for each task in turn, its train samples (shuffled) and then a test
    block of every test sample of every task (shuffled anew), so the held-out accuracy of each
    task can be measured after each task's training. The schedule then also gives each
    presentation's ``task`` (index of its class's task), ``block`` (index of the task trained
    just before it: the task of a train sample, the task whose training preceded a test
    block) and ``digit``; ``n_train``/``n_test`` count presentations.
    """
    images, labels = dataset()
    tasks = parse_tasks(values.get("tasks", ""))
    classes = used_classes(values)
    n = int(values["n_samples"])
    n_train, n_test = split_counts(values)
    per_class = []
    for c in classes:
        idx = np.flatnonzero(labels == c)
        u = rng.uniform_np(rng.node_key(seed, node_id, f"select:{c}"), 0, np.arange(len(idx)))
        per_class.append(idx[np.argsort(u, kind="stable")])
    rr = [pc[r] for r in range(max(len(pc) for pc in per_class)) for pc in per_class if r < len(pc)]
    if n > len(rr):
        raise ValueError(f"n_samples {n} exceeds the {len(rr)} images of classes {classes}")
    chosen = np.asarray(rr[:n], np.int64)
    is_train = np.ones(n, bool)
    is_train[:n_test] = False
    key = rng.node_key(seed, node_id, "order")
    extra: dict = {}
    if tasks:
        task_of = {c: m for m, g in enumerate(tasks) for c in g}
        tsk = np.array([task_of[int(c)] for c in labels[chosen]], np.int64)
        te = np.flatnonzero(~is_train)
        parts, blocks = [], []
        for m in range(len(tasks)):
            tr = np.flatnonzero(is_train & (tsk == m))
            parts.append(tr[np.argsort(rng.uniform_np(key, 2 * m, np.arange(len(tr))), kind="stable")])
            parts.append(te[np.argsort(rng.uniform_np(key, 2 * m + 1, np.arange(len(te))), kind="stable")])
            blocks.append(np.full(len(tr) + len(te), m, np.int64))
        order = np.concatenate(parts).astype(np.int64)
        digit = labels[chosen[order]].copy()
        extra = {"task": tsk[order], "block": np.concatenate(blocks), "digit": digit, "tasks": tasks,
                 "n_tasks": len(tasks)}
        if values.get("task_labels", "class") == "within_task":
            lab = np.array([tasks[task_of[int(c)]].index(int(c)) for c in digit], np.int64)
            extra["label"] = lab
            extra["classes"] = list(range(max(len(g) for g in tasks)))
        n_train, n_test = int(is_train.sum()), int(len(tasks) * len(te))
    elif values["order"] == "train_then_test":
        tr, te = np.flatnonzero(is_train), np.flatnonzero(~is_train)
        order = np.concatenate([tr[np.argsort(rng.uniform_np(key, 0, np.arange(len(tr))), kind="stable")],
                                te[np.argsort(rng.uniform_np(key, 1, np.arange(len(te))), kind="stable")]])
    else:
        order = np.argsort(rng.uniform_np(key, 0, np.arange(n)), kind="stable")
    sample_steps = max(1, int(round(float(values["sample_ms"]) / dt)))
    gap_steps = max(0, int(round(float(values["gap_ms"]) / dt)))
    period = sample_steps + gap_steps
    n_pres = len(order)
    start = np.arange(n_pres, dtype=np.int64) * period
    index = chosen[order]
    sched = {"start_step": start, "stop_step": start + sample_steps, "label": labels[index].copy(),
             "train": is_train[order].copy(), "index": index, "classes": classes,
             "sample_steps": sample_steps, "gap_steps": gap_steps, "period_steps": period,
             "n_train": n_train, "n_test": n_test, "end_step": int(n_pres * period)}
    sched.update(extra)
    return sched


@numba.njit(cache=True, inline="always")
def emit(t, key, lam, enl, period, sample_steps, labels, bernoulli, spk, cnt, label_out):
    """Spikes of step ``t``: pixel i of the sample shown fires Poisson(lam[p, i]) times
    (or once with probability lam[p, i]); ``label_out[0]`` is its label, -1 between samples."""
    p = t // period
    off = t - p * period
    if p >= lam.shape[0] or off >= sample_steps:
        label_out[0] = -1.0
        return 0
    label_out[0] = labels[p]
    sk = step_key(key, t)
    ns = 0
    for i in range(lam.shape[1]):
        li = lam[p, i]
        if li <= 0.0:
            continue
        k = draw(sk, i, li, enl[p, i], bernoulli)
        if k > 0:
            spk[ns] = i
            cnt[ns] = k
            ns += 1
    return ns


@register
class DigitsStimulus(NodeType):
    """The 8×8 handwritten digits of scikit-learn (1797 images, bundled, no download), as
    64 Poisson inputs.

    Samples are shown one after another for sample_ms each, with gap_ms of silence
    between; pixel k of the sample shown fires at intensity_k / 16 × max_rate_hz (a
    Poisson(rate·dt) count per step, or 'bernoulli' at most one). After the last sample
    the inputs fall silent. The samples (balanced over the chosen classes), their
    train/test split (stratified by class) and their order (a shuffle) are drawn from the
    design seed; spike draws are keyed by (seed, node id, step, pixel), so they do not
    depend on chunking. The schedule (start step, label, train flag, dataset index of each
    presentation) is published for readouts; the `label` port carries the label of the
    sample being shown (-1 between samples).

    Continual learning: with 'tasks' (e.g. '0,1; 2,3; 4,5', the split protocols) the
    tasks are shown one after another: the train samples of task 1, then every held-out
    sample of every task (learning rules and readouts do not learn from them: they measure
    each task's accuracy), then task 2's train samples and the held-out samples again, and
    so on. task_labels 'within_task' labels each sample by its class's position within its
    task (0 for the first class, 1 for the second: one shared output per position, as in
    domain-incremental split MNIST); 'class' keeps the digit.
    """

    type_key = "stimulus.digits"
    spiking = True
    provides_schedule = True
    ports = (Port("spikes", "out", "spikes", doc="spikes of the 64 pixel inputs (row-major 8×8)"),
             Port("label", "out", "signal", doc="label of the sample shown (-1 between samples); wire it to "
                  "readouts, which read the whole presentation schedule from it"))
    n_samples = Int(200, bounds=(1, 1797), doc="number of samples presented (train + test), each once")
    train_fraction = Num(0.8, bounds=(0, 1), live=False,
                         doc="fraction of the samples used for training (the rest are held-out test samples)")
    classes = Text("all", doc="digit classes used: 'all' or a list such as '0,1,2'", pattern=CLASSES_PATTERN,
                   pattern_hint="write 'all' or digits separated by commas, e.g. '0,1,2'")
    sample_ms = Num(100.0, bounds=(0, None), inclusive=(False, True), live=False,
                    doc="presentation time of each sample")
    gap_ms = Num(0.0, bounds=(0, None), live=False, doc="silence between two samples")
    max_rate_hz = Num(100.0, bounds=(0, None), doc="rate of a full-intensity pixel (intensity 16)")
    order = Choice("interleaved", ["interleaved", "train_then_test"],
                   doc="interleaved: one shuffle of all samples; train_then_test: shuffled train samples, "
                   "then shuffled test samples")
    process = Choice("poisson", ["poisson", "bernoulli"],
                     doc="poisson: spike counts per step (exact); bernoulli: at most one spike per step")
    tasks = Text("", doc="continual learning: groups of classes shown one task after another, separated by ';' "
                 "(e.g. '0,1; 2,3; 4,5'), each task's train samples followed by a test block of every held-out "
                 "sample; 'classes' and 'order' are then unused. Empty: one task",
                 pattern=TASKS_PATTERN, pattern_hint="write digit lists separated by ';', e.g. '0,1; 2,3; 4,5'")
    task_labels = Choice("class", ["class", "within_task"],
                         doc="with tasks: label = the digit ('class'), or its position within its task "
                         "('within_task': 0, 1, ...; one shared output per position, domain-incremental)")

    @classmethod
    def size(cls, values: dict, graph, node_id: str) -> int:
        return N_PIXELS

    @classmethod
    def schedule_counts(cls, node) -> tuple[int, int]:
        """(train, test) samples in the schedule, for readouts' validation."""
        return split_counts(node.values)

    @classmethod
    def check(cls, node, graph) -> list:
        v = node.values
        classes = used_classes(v)
        avail = sum(CLASS_COUNTS[c] for c in classes)
        out = []
        tasks = parse_tasks(v["tasks"])
        if tasks:
            seen: set[int] = set()
            dup = sorted({c for g in tasks for c in g if c in seen or seen.add(c)})
            if dup:
                out.append(Problem("error", "digits.tasks", f"class(es) {','.join(map(str, dup))} belong to more "
                                   "than one task", "give each class to one task only", node=node.id, param="tasks"))
            n_train, _ = split_counts(v)
            if n_train < len(classes):
                out.append(Problem("error", "digits.tasks", f"{n_train} train samples cannot cover the "
                                   f"{len(classes)} classes of the tasks", "raise n_samples or train_fraction",
                                   node=node.id, param="n_samples"))
        if int(v["n_samples"]) > avail:
            out.append(Problem("error", "digits.n_samples", f"n_samples {v['n_samples']} exceeds the {avail} images "
                               f"of classes {','.join(map(str, classes))}",
                               f"choose n_samples <= {avail}, or use more classes", node=node.id, param="n_samples"))
        return out

    @classmethod
    def build(cls, node, b) -> None:
        nid = node.id
        try:
            sched = make_schedule(node.values, b.seed, nid, b.dt)
        except ValueError as e:
            raise DesignError(Problem("error", "digits.n_samples", str(e), "lower n_samples or use more classes",
                                      node=nid, param="n_samples")) from None
        images, _ = dataset()
        pix = images[sched["index"]] / 16.0  # (presentations, 64) in [0, 1]
        b.spikes(node, N_PIXELS, multi=True)
        b.buffer(nid, "label", np.full(1, -1.0, np.float64), "signal")

        def derive(nd):
            lam = np.ascontiguousarray(pix * float(nd.values["max_rate_hz"]) * b.dt * 1e-3)
            return {"key": b.key(nd.id, "spikes"), "lam": lam, "enl": np.exp(-lam),
                    "period": np.int64(sched["period_steps"]), "steps": np.int64(sched["sample_steps"]),
                    "labels": sched["label"].astype(np.float64), "bern": nd.values["process"] == "bernoulli"}

        b.set_params(node, derive)
        b.node_info[nid].update(n=N_PIXELS, multi=True, schedule=sched)
        b.step("stimulus", nid, "digits.emit", sets=[f"{nid}.spk", f"{nid}.label"])
        b.step("monitor", nid, "count", reads=[f"{nid}.spk"])


@renderer("digits.emit")
def _render(step, ctx):
    nid = step.node
    f = ctx.use(f"{__name__}:emit")
    P = lambda k: ctx.p(nid, k)  # noqa: E731
    return [f"{ctx.ns(nid)} = {f}(t, {P('key')}, {P('lam')}, {P('enl')}, {P('period')}, {P('steps')}, "
            f"{P('labels')}, {P('bern')}, {ctx.b(nid + '.spk')}, {ctx.b(nid + '.cnt')}, {ctx.b(nid + '.label')})"]
