"""``monitor.task_accuracy``: held-out accuracy per task of a population whose neurons vote
for classes, after each task of a continual-learning schedule (forgetting)."""
from __future__ import annotations

from collections import deque

import numpy as np

from engine.errors import DesignError, Problem
from engine.params import Int, Num
from engine.registry import NodeType, Port, register

from .analysis_base import Traces, trace_views

#: tasks that get a trace of their own in the studio (the summary and arrays hold every task)
MAX_TASK_TRACES = 5


def _schedule_problems(node, graph) -> list[Problem]:
    srcs = graph.sources(node.id, "label")
    if not srcs:
        return []  # "required input not connected" is reported by the validator
    src = srcs[0]
    if not getattr(src.type, "provides_schedule", False):
        return [Problem("error", "monitor.label", f"'label' is wired to {src.key} '{src.id}', which publishes no "
                        "presentation schedule", f"wire the 'label' output of a dataset stimulus (stimulus.digits, "
                        f"stimulus.patterns) to '{node.id}.label'", node=node.id, port="label")]
    if src.type.schedule_counts(src)[1] == 0:
        return [Problem("error", "monitor.no_test", f"the schedule of '{src.id}' has no held-out samples, so the "
                        "accuracy of a task is undefined", f"lower train_fraction (or raise test_epochs) of "
                        f"'{src.id}'", node=node.id, port="label")]
    return []


@register
class TaskAccuracy(NodeType):
    """Accuracy of a population that votes: neuron k stands for the k-th class of the
    schedule (as for plasticity.three_factor's outputs), and the decision for a sample is
    the neuron with the most spikes in the sample's window (a tie gives each tied neuron an
    equal share: credit 1/ties if the label's neuron is among them).

    For a stimulus with tasks (stimulus.digits 'tasks'), each test block (the held-out
    samples shown after task m's training) gives one point per task: the accuracy R[m, j]
    of task j after learning task m, a continual-learning accuracy matrix. The summary
    reports R, the accuracies after the last block and each earlier task's forgetting
    R[j, j] - R[last, j]. A schedule without tasks is one task whose one block is all its
    held-out samples. The 'recent' trace is the accuracy on the latest train samples, from
    the decisions the network made while they were shown (it learns from them meanwhile).
    """

    type_key = "monitor.task_accuracy"
    ports = (Port("spikes", "in", "spikes", required=True,
                  doc="spikes of the output population: neuron k votes for the k-th class of the schedule"),
             Port("label", "in", "signal", required=True,
                  doc="the 'label' output of a dataset stimulus: its presentation schedule (tasks, test blocks)"))
    views = trace_views([(f"task_{k}", f"task {k}: held-out accuracy after each task", "accuracy")
                         for k in range(1, MAX_TASK_TRACES + 1)]
                        + [("recent", "accuracy on the latest train samples (online)", "accuracy")]) + (
        {"kind": "image", "name": "matrix", "title": "accuracy R[block, task] (row: after task m)",
         "y_label": "block"},)

    lag_ms = Num(0.0, bounds=(0, None), live=False,
                 doc="each sample's counting window starts this long after the sample (response latency)")
    recent = Int(20, bounds=(1, None), live=False, doc="train samples per point of the 'recent' trace")
    max_points = Int(100_000, bounds=(1, None), live=False, doc="points kept per trace (oldest dropped beyond)")

    @classmethod
    def check(cls, node, graph) -> list:
        return _schedule_problems(node, graph)

    @classmethod
    def build(cls, node, b) -> None:
        from .monitor_spikes import record_spikes

        nid = node.id
        probs = _schedule_problems(node, b.graph)
        if probs:
            raise DesignError(probs)
        lbl = b.graph.sources(nid, "label")[0]
        sched = b.node_info.get(lbl.id, {}).get("schedule")
        if sched is None:
            raise DesignError(Problem("error", "monitor.label", f"'{lbl.id}' published no schedule",
                                      "wire the 'label' output of a dataset stimulus", node=nid, port="label"))
        src = record_spikes(node, b, keep=False)
        n_src, n_cls = b.graph.size(src.id), len(sched["classes"])
        if n_src != n_cls:
            raise DesignError(Problem("error", "monitor.outputs", f"'{src.id}' has {n_src} neurons, but the schedule "
                                      f"of '{lbl.id}' has {n_cls} classes (one voting neuron per class)",
                                      f"give '{src.id}' n = {n_cls}", node=nid, port="spikes"))
        b.node_info[nid].update(source=src.id, n_src=n_src, label_source=lbl.id, schedule=sched)

    # --- run state ------------------------------------------------------------------------
    @classmethod
    def state(cls, node, sim) -> "_State":
        return sim.node_state(node.id, lambda: _State(node, sim))

    @classmethod
    def stream(cls, node, sim, chunk) -> dict:
        st = cls.state(node, sim)
        d = chunk.spikes.get(node.id)
        if d is not None and len(d["t_ms"]):
            st.add(np.rint(np.asarray(d["t_ms"]) / sim.dt).astype(np.int64), np.asarray(d["i"], np.int64))
        st.close_until(int(round(chunk.t_end_ms / sim.dt)))
        return st.take_new()

    @classmethod
    def flush(cls, node, sim) -> dict:
        return cls.state(node, sim).take_new()

    @classmethod
    def final(cls, node, sim) -> dict:
        st = cls.state(node, sim)
        info = sim.plan.node_info[node.id]

        def num(x):
            return None if x is None or not np.isfinite(x) else float(x)

        R = st.matrix()
        done = st.blocks_done()
        last = done[-1] if done else None
        final_acc = [num(x) for x in R[last]] if last is not None else None
        forgetting = [num(R[j, j] - R[last, j]) for j in range(min(last, st.n_tasks))] if last else []
        fvals = [f for f in forgetting if f is not None]
        return {"source": info["source"], "label_source": info["label_source"], "n_tasks": st.n_tasks,
                "blocks_done": len(done), "accuracy": [[num(x) for x in row] for row in R],
                "final_accuracy": final_acc, "forgetting": forgetting,
                "mean_forgetting": float(np.mean(fvals)) if fvals else None,
                "recent_accuracy": num(st.recent_last), "n_train": st.n_train_seen, "n_test": st.n_test_seen}

    @classmethod
    def arrays(cls, node, sim) -> dict:
        st = cls.state(node, sim)
        out = st.blocks.arrays()
        rec = st.recent_tr.arrays()
        out.update(accuracy_matrix=st.matrix(), recent_t_ms=rec["t_ms"], recent=rec["recent"],
                   sample_credit=st.credit.copy(), sample_task=st.task.astype(np.float64),
                   sample_block=st.block.astype(np.float64), sample_train=st.is_train.astype(np.float64))
        return out


class _State:
    """Spike counts of every presentation's window, decisions, the accuracy matrix."""

    def __init__(self, node, sim):
        v = node.values
        info = sim.plan.node_info[node.id]
        s = info["schedule"]
        self.dt = sim.dt
        self.lag = int(round(float(v["lag_ms"]) / sim.dt))
        self.period = int(s["period_steps"])
        self.sample_steps = int(s["sample_steps"])
        self.start = np.asarray(s["start_step"], np.int64) + self.lag
        self.stop = self.start + self.sample_steps
        self.classes = np.asarray(s["classes"], np.int64)
        self.y = np.searchsorted(self.classes, np.asarray(s["label"], np.int64))
        self.is_train = np.asarray(s["train"], bool)
        self.n_pres = len(self.y)
        self.task = np.asarray(s.get("task", np.zeros(self.n_pres, np.int64)), np.int64)
        self.block = np.asarray(s.get("block", np.zeros(self.n_pres, np.int64)), np.int64)
        self.n_tasks = int(s.get("n_tasks", 1))
        self.n_blocks = int(self.block.max()) + 1 if self.n_pres else 0
        self.block_end = np.full(self.n_blocks, -1, np.int64)  # last test presentation of each block
        for p in np.flatnonzero(~self.is_train):
            self.block_end[self.block[p]] = p
        self.counts = np.zeros((self.n_pres, int(info["n_src"])))
        self.credit = np.full(self.n_pres, np.nan)
        self.sums = np.zeros((self.n_blocks, self.n_tasks))
        self.ns = np.zeros((self.n_blocks, self.n_tasks))
        self.closed_blocks: list[int] = []
        self.next = 0
        self.n_train_seen = self.n_test_seen = 0
        self.every = int(v["recent"])
        self.window: deque = deque(maxlen=self.every)
        self.since = 0
        self.recent_last = np.nan
        mp = int(v["max_points"])
        self.blocks = Traces([f"task_{k + 1}" for k in range(self.n_tasks)], mp)
        self.recent_tr = Traces(("recent",), mp)
        self.matrix_new = False

    def add(self, steps: np.ndarray, idx: np.ndarray) -> None:
        rel = steps - self.lag
        p = rel // self.period
        off = rel - p * self.period
        m = (rel >= 0) & (p < self.n_pres) & (off < self.sample_steps) & (p >= self.next)
        if m.any():
            np.add.at(self.counts, (p[m], idx[m]), 1.0)

    def close_until(self, end_step: int) -> None:
        while self.next < self.n_pres and self.stop[self.next] <= end_step:
            self.close(self.next)
            self.next += 1

    def close(self, p: int) -> None:
        c = self.counts[p]
        win = c == c.max()
        cr = float(win[self.y[p]]) / float(win.sum())
        self.credit[p] = cr
        t_ms = float(self.stop[p]) * self.dt
        if self.is_train[p]:
            self.n_train_seen += 1
            self.window.append(cr)
            self.since += 1
            if self.since >= self.every:
                self.since = 0
                self.recent_last = float(np.mean(self.window))
                self.recent_tr.add(t_ms, {"recent": self.recent_last})
            return
        self.n_test_seen += 1
        b, k = self.block[p], self.task[p]
        self.sums[b, k] += cr
        self.ns[b, k] += 1
        if p == self.block_end[b]:
            self.closed_blocks.append(int(b))
            row = self.matrix()[b]
            self.blocks.add(t_ms, {f"task_{j + 1}": row[j] for j in range(self.n_tasks)})
            self.matrix_new = True

    def blocks_done(self) -> list[int]:
        return list(self.closed_blocks)

    def matrix(self) -> np.ndarray:
        """R[block, task]: held-out accuracy of each task in each test block (NaN: not measured)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            R = np.where(self.ns > 0, self.sums / np.maximum(self.ns, 1), np.nan)
        done = np.zeros(self.n_blocks, bool)
        done[self.closed_blocks] = True
        R[~done] = np.nan
        return R

    def take_new(self) -> dict:
        out = {k: v for k, v in self.blocks.take_new().items() if int(k.split("_")[1]) <= MAX_TASK_TRACES}
        out.update(self.recent_tr.take_new())
        if self.matrix_new:
            self.matrix_new = False
            out["matrix"] = {"z": np.nan_to_num(self.matrix(), nan=0.0)}
        return out
