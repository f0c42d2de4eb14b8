"""Shared machinery of the readouts: per-sample features from a spike source, a learner
trained on the train samples of a dataset stimulus' schedule, accuracy traces.

A readout records the spikes of its ``spikes`` source in the kernel like the analysis
monitors (``record_spikes(keep=False)``) and reads, at build time, the presentation
schedule that the stimulus wired to its ``label`` port publishes in ``node_info``
(``stimulus.digits``). After each chunk it folds the chunk's spikes into per-sample
features (the window of sample p is ``[start_p + lag, start_p + lag + sample_steps)``);
each time a sample's window is complete it hands the sample to the learner in schedule
order, so results depend only on the spikes and the schedule, never on chunk sizes or
pauses. Samples whose window is not complete when a run stops are not used (yet).

Accuracies: ``train_accuracy`` is the current model on every train sample seen so far,
``test_accuracy`` the current model on every (held-out) test sample seen so far. Trace
points come only from schedule events, so traces do not depend on pauses either: one
per ``eval_every`` completed samples, one after each refit of a batch learner, and one
when the last sample of the schedule completes (after a final refit). The summary
(``final``) and ``arrays`` report the model brought up to date with every sample seen
(a batch learner refitted on all train samples so far, without changing the run), with
``n_train`` and ``n_test``, the numbers of samples seen.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from engine import rng
from engine.errors import DesignError, Problem
from engine.params import Choice, Int, Num
from engine.registry import NodeType, Port

from .analysis_base import Traces, trace_views


def _label_problems(node, graph) -> list[Problem]:
    srcs = graph.sources(node.id, "label")
    if not srcs:
        return []  # "required input not connected" is reported by the validator
    src = srcs[0]
    if not getattr(src.type, "provides_schedule", False):
        return [Problem("error", "readout.label",
                        f"'label' is wired to {src.key} '{src.id}', which publishes no presentation schedule "
                        "(sample windows, labels, train/test split)",
                        f"wire the 'label' output of a dataset stimulus (stimulus.digits) to '{node.id}.label'",
                        node=node.id, port="label")]
    n_train, n_test = src.type.schedule_counts(src)
    out = []
    if n_test == 0:
        out.append(Problem("error", "readout.no_test",
                           f"the schedule of '{src.id}' has no test samples (n_samples {src.values.get('n_samples')}, "
                           f"train_fraction {src.values.get('train_fraction')}), so held-out accuracy is undefined",
                           f"lower train_fraction of '{src.id}' or raise its n_samples", node=node.id, port="label"))
    if n_train == 0:
        out.append(Problem("error", "readout.no_train",
                           f"the schedule of '{src.id}' has no train samples, so the readout cannot learn",
                           f"raise train_fraction of '{src.id}' or its n_samples", node=node.id, port="label"))
    return out


class ReadoutBase(NodeType):
    """Base of the readouts (not registered): subclasses define the features and the learner."""

    spiking = False
    ports = (Port("spikes", "in", "spikes", required=True, doc="spikes of the population to read out"),
             Port("label", "in", "signal", required=True,
                  doc="labels: the 'label' output of a dataset stimulus (its presentation schedule)"))
    traces: ClassVar[tuple[str, ...]] = ("train_accuracy", "test_accuracy")
    views = trace_views([("train_accuracy", "readout accuracy on the train samples seen", "accuracy"),
                         ("test_accuracy", "readout accuracy on the held-out test samples seen", "accuracy")])

    lag_ms = Num(0.0, bounds=(0, None), live=False,
                 doc="each sample's feature window starts this long after the sample (response latency)")
    eval_every = Int(10, bounds=(1, None), live=False,
                     doc="one accuracy point per this many completed samples (and one when the schedule's last "
                     "sample completes)")
    max_neurons = Int(4000, bounds=(1, None), live=False,
                      doc="read out at most this many neurons (a fixed random subset beyond)")
    max_points = Int(100_000, bounds=(1, None), live=False, doc="points kept per trace (oldest dropped beyond)")

    # --- compile time ---------------------------------------------------------------------
    @classmethod
    def check(cls, node, graph) -> list:
        return _label_problems(node, graph)

    @classmethod
    def build(cls, node, b) -> None:
        from .monitor_spikes import record_spikes

        nid = node.id
        probs = _label_problems(node, b.graph)
        lbl = b.graph.sources(nid, "label")
        sched = b.node_info.get(lbl[0].id, {}).get("schedule") if lbl else None
        if sched is None and not probs:
            probs = [Problem("error", "readout.label", "the stimulus wired to 'label' published no schedule",
                             f"wire the 'label' output of a dataset stimulus (stimulus.digits) to '{nid}.label'",
                             node=nid, port="label")]
        if probs:
            raise DesignError(probs)
        src = record_spikes(node, b, keep=False)
        b.node_info[nid].update(source=src.id, n_src=b.graph.size(src.id), label_source=lbl[0].id, schedule=sched)

    # --- run state ------------------------------------------------------------------------
    @classmethod
    def state(cls, node, sim) -> "ReadoutState":
        return sim.node_state(node.id, lambda: ReadoutState(cls, node, sim))

    @classmethod
    def stream(cls, node, sim, chunk) -> dict:
        st = cls.state(node, sim)
        d = chunk.spikes.get(node.id)
        if d is not None and len(d["t_ms"]):
            st.add_spikes(np.rint(np.asarray(d["t_ms"]) / sim.dt).astype(np.int64), np.asarray(d["i"], np.int64))
        end_step = int(round(chunk.t_end_ms / sim.dt))
        while st.next < st.n_pres and st.stop[st.next] <= end_step:
            st.close_sample(st.next)
            st.next += 1
        return st.traces.take_new()

    @classmethod
    def flush(cls, node, sim) -> dict:
        return cls.state(node, sim).traces.take_new()

    @classmethod
    def final(cls, node, sim) -> dict:
        st = cls.state(node, sim)
        info = sim.plan.node_info[node.id]
        model = st.settled()

        def num(x):
            return None if x is None or not np.isfinite(x) else float(x)

        return {"source": info["source"], "label_source": info["label_source"], "neurons": int(len(st.kept)),
                "n_train": len(st.train_idx), "n_test": len(st.test_idx),
                "train_accuracy": num(st.accuracy(st.train_idx, model)),
                "test_accuracy": num(st.accuracy(st.test_idx, model)),
                "points": len(st.traces.t), **cls.final_extra(node, st, model)}

    @classmethod
    def arrays(cls, node, sim) -> dict:
        st = cls.state(node, sim)
        model = st.settled()
        out = st.traces.arrays()
        pred = np.full(st.n_pres, np.nan)
        seen = np.asarray(st.train_idx + st.test_idx, np.int64)
        if len(seen) and model is not None:
            pred[seen] = st.classes[cls.predict(node, st, seen, model)]
        out.update(sample_label=st.labels.astype(np.float64), sample_train=st.is_train.astype(np.float64),
                   sample_prediction=pred)
        out.update(cls.arrays_extra(node, st))
        return out

    # --- subclass hooks -------------------------------------------------------------------
    @classmethod
    def n_bins(cls, node, st) -> int:
        """Bins of a per-sample binary raster (0: the readout keeps only the feature matrix)."""
        return 0

    @classmethod
    def accumulate(cls, node, st, p: np.ndarray, off: np.ndarray, col: np.ndarray) -> None:
        """Fold spikes (sample, step within the window, column) into the features."""
        np.add.at(st.F, (p, col), 1.0)

    @classmethod
    def sample_done(cls, node, st, p: int) -> None:
        """The window of sample ``p`` is complete: finish its feature row ``st.F[p]``."""

    @classmethod
    def learn(cls, node, st, p: int) -> bool:
        """Update the model with sample ``p`` (train samples only). True: evaluate now."""
        raise NotImplementedError(cls.type_key)

    @classmethod
    def settle_model(cls, node, st, model: dict, commit: bool) -> dict:
        """``model`` brought up to date with every train sample seen (a batch learner refits
        and returns a new dict; else ``model`` itself). ``commit``: this becomes the run's
        model (end of the schedule); False: a look at it that must leave the run unchanged."""
        return model

    @classmethod
    def predict(cls, node, st, rows: np.ndarray, model: dict) -> np.ndarray:
        """Class indices (into ``st.classes``) that ``model`` predicts for the samples ``rows``."""
        raise NotImplementedError(cls.type_key)

    @classmethod
    def final_extra(cls, node, st, model) -> dict:
        return {}

    @classmethod
    def arrays_extra(cls, node, st) -> dict:
        return {}


class ReadoutState:
    """Per-run state of one readout: features of every sample, seen samples, the model."""

    def __init__(self, cls, node, sim):
        self.cls, self.node = cls, node
        self.seed = int(sim.seed)
        info = sim.plan.node_info[node.id]
        s = info["schedule"]
        v = node.values
        self.dt = sim.dt
        lag = int(round(float(v["lag_ms"]) / sim.dt))
        self.lag = lag
        self.period = int(s["period_steps"])
        self.sample_steps = int(s["sample_steps"])
        self.start = np.asarray(s["start_step"], np.int64) + lag
        self.stop = self.start + self.sample_steps
        self.labels = np.asarray(s["label"], np.int64)
        self.is_train = np.asarray(s["train"], bool)
        self.classes = np.asarray(s["classes"], np.int64)
        self.y = np.searchsorted(self.classes, self.labels)  # class index of each sample
        self.n_pres = len(self.labels)
        n_src = int(info["n_src"])
        max_n = int(v["max_neurons"])
        if n_src > max_n:
            key = rng.node_key(sim.seed, node.id, "neuron-subset")
            kept = np.sort(np.argsort(rng.uniform_np(key, 0, np.arange(n_src)), kind="stable")[:max_n])
        else:
            kept = np.arange(n_src)
        self.kept = kept
        self.col = np.full(max(n_src, 1), -1, np.int64)
        self.col[kept] = np.arange(len(kept))
        self.F = np.zeros((self.n_pres, len(kept)))  # zero pages: untouched rows cost no memory
        self.bins: dict[int, np.ndarray] = {}  # open samples' binary rasters (LZ)
        self.nb = cls.n_bins(node, self)
        self.next = 0
        self.train_idx: list[int] = []
        self.test_idx: list[int] = []
        self.model: dict[str, Any] = {}  # empty until the learner can predict
        self.aux: dict[str, Any] = {}  # learner's bookkeeping outside the model
        self.since_eval = 0
        self._settled: tuple | None = None  # (samples seen, model) cache of settled()
        self.traces = Traces(cls.traces, int(v["max_points"]))

    def add_spikes(self, steps: np.ndarray, idx: np.ndarray) -> None:
        col = self.col[idx]
        rel = steps - self.lag
        p = rel // self.period
        off = rel - p * self.period
        m = (col >= 0) & (rel >= 0) & (p < self.n_pres) & (off < self.sample_steps) & (p >= self.next)
        if m.any():
            self.cls.accumulate(self.node, self, p[m], off[m], col[m])

    def close_sample(self, p: int) -> None:
        cls, node = self.cls, self.node
        cls.sample_done(node, self, p)
        self.bins.pop(p, None)
        if self.is_train[p]:
            self.train_idx.append(p)
            now = cls.learn(node, self, p)
        else:
            self.test_idx.append(p)
            now = False
        self.since_eval += 1
        if p == self.n_pres - 1 and self.train_idx:  # end of the schedule: final refit
            self.model = cls.settle_model(node, self, self.model, True)
            now = True
        if now or self.since_eval >= int(node.values["eval_every"]):
            self.evaluate(float(self.stop[p]) * self.dt)

    def accuracy(self, rows: list[int], model: dict | None) -> float:
        if not rows or not model:
            return np.nan
        r = np.asarray(rows, np.int64)
        return float(np.mean(self.cls.predict(self.node, self, r, model) == self.y[r]))

    def evaluate(self, t_ms: float) -> None:
        self.traces.add(t_ms, {"train_accuracy": self.accuracy(self.train_idx, self.model),
                               "test_accuracy": self.accuracy(self.test_idx, self.model)})
        self.since_eval = 0

    def settled(self) -> dict | None:
        """The model brought up to date with every sample seen, without changing the run."""
        if not self.train_idx:
            return None
        n = self.next
        if self._settled is None or self._settled[0] != n:
            self._settled = (n, self.cls.settle_model(self.node, self, self.model, False))
        return self._settled[1] or None


class CountReadout(ReadoutBase):
    """Base of readouts on spike-count (or filtered-trace) vectors (not registered)."""

    features = Choice("counts", ["counts", "trace"], live=False,
                      doc="counts: spikes of each neuron in the sample window; trace: an exponentially filtered "
                      "trace (tau_ms) of each neuron read at the window's end (spikes before the window ignored)")
    tau_ms = Num(20.0, bounds=(0, None), inclusive=(False, True), live=False,
                 doc="time constant of the filtered trace (features = 'trace')")

    @classmethod
    def accumulate(cls, node, st, p, off, col) -> None:
        if node.values["features"] == "trace":
            w = np.exp(-(st.sample_steps - off) * st.dt / float(node.values["tau_ms"]))
            np.add.at(st.F, (p, col), w)
        else:
            np.add.at(st.F, (p, col), 1.0)
