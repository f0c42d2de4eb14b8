"""``readout.lz_classifier``: nearest class mean of Lempel–Ziv complexity (MODELS.md B)."""
from __future__ import annotations

import numpy as np

from engine.params import Choice, Num
from engine.registry import register

from .readout_base import ReadoutBase


@register
class LZClassifier(ReadoutBase):
    """Lempel–Ziv classifier: each sample's output trains are scored by their normalised LZ76
    complexity and assigned to the class whose training mean is nearest (MODELS.md B).

    Per sample, each neuron's window is binarised in bins of bin_ms (a bin is 1 when the
    neuron fired in it; a last partial bin is dropped) and its normalised LZ76 complexity
    c·log2(n)/n computed with engine.analysis.lz (Kaspar–Schuster count). Decision rule
    (MODELS.md B, placeholder [INF] — the paper's exact rule was not retrievable):
    'population_mean' (default, the paper's single-output rule): the mean complexity over
    neurons, class = argmin_c |C − mean C of class c on the train samples seen so far|;
    'per_neuron': the vector of complexities, class = the nearest (Euclidean) class-mean
    vector. Classes without train samples yet are never predicted. Complexity reflects
    rate as much as temporal structure, so it separates classes that differ in rate.
    """

    type_key = "readout.lz_classifier"
    bin_ms = Num(1.0, bounds=(0, None), inclusive=(False, True), live=False, doc="bin width (one symbol per bin)")
    feature = Choice("population_mean", ["population_mean", "per_neuron"],
                     doc="population_mean: nearest class mean of the neurons' mean complexity; "
                     "per_neuron: nearest class-mean vector of per-neuron complexities")

    @classmethod
    def bin_steps(cls, node, st) -> int:
        return max(1, int(round(float(node.values["bin_ms"]) / st.dt)))

    @classmethod
    def n_bins(cls, node, st) -> int:
        return max(1, st.sample_steps // cls.bin_steps(node, st))

    @classmethod
    def accumulate(cls, node, st, p, off, col) -> None:
        b = off // cls.bin_steps(node, st)
        keep = b < st.nb
        p, b, col = p[keep], b[keep], col[keep]
        for q in np.unique(p):
            r = st.bins.get(int(q))
            if r is None:
                r = st.bins[int(q)] = np.zeros((st.nb, len(st.kept)), np.uint8)
            m = p == q
            r[b[m], col[m]] = 1

    @classmethod
    def sample_done(cls, node, st, p) -> None:
        from engine.analysis.lz import lz76_per_neuron

        r = st.bins.get(p)
        if r is None:
            r = np.zeros((st.nb, len(st.kept)), np.uint8)
        st.F[p] = lz76_per_neuron(r)

    @classmethod
    def learn(cls, node, st, p) -> bool:
        m = st.model
        if "sum" not in m:
            m.update(sum=np.zeros((len(st.classes), st.F.shape[1])), count=np.zeros(len(st.classes)))
        m["sum"][st.y[p]] += st.F[p]
        m["count"][st.y[p]] += 1
        return False

    @staticmethod
    def class_means(model) -> np.ndarray:
        return model["sum"] / np.maximum(model["count"], 1)[:, None]

    @classmethod
    def predict(cls, node, st, rows, model) -> np.ndarray:
        mu = cls.class_means(model)
        X = st.F[rows]
        if node.values["feature"] == "population_mean":
            d = np.abs(X.mean(axis=1)[:, None] - mu.mean(axis=1)[None, :])
        else:  # squared distances without a (rows, classes, neurons) temporary
            d = (X * X).sum(axis=1)[:, None] - 2.0 * X @ mu.T + (mu * mu).sum(axis=1)[None, :]
        d[:, model["count"] == 0] = np.inf
        return np.argmin(d, axis=1).astype(np.int64)

    @classmethod
    def final_extra(cls, node, st, model) -> dict:
        if not model:
            return {"class_mean_complexity": None}
        mu = cls.class_means(model).mean(axis=1)
        return {"class_mean_complexity": {str(int(c)): (float(mu[k]) if model["count"][k] else None)
                                          for k, c in enumerate(st.classes)}}

    @classmethod
    def arrays_extra(cls, node, st) -> dict:
        seen = np.zeros(st.n_pres, bool)
        seen[st.train_idx + st.test_idx] = True
        cx = np.where(seen[:, None], st.F, np.nan)
        mean = np.full(st.n_pres, np.nan)
        mean[seen] = st.F[seen].mean(axis=1)
        return {"complexity": cx, "sample_complexity": mean}
