"""``readout.ridge``: a ridge-regression classifier on per-sample spike counts."""
from __future__ import annotations

import numpy as np

from engine.params import Flag, Int, Num
from engine.registry import register

from .readout_base import CountReadout


@register
class RidgeReadout(CountReadout):
    """Ridge-regression classifier (scikit-learn RidgeClassifier) on each sample's spike counts.

    Features: the spikes of each neuron in the sample's window (or an exponentially
    filtered trace read at the window's end), optionally z-scored with the train
    samples' mean and std. The classifier is fitted on every train sample seen so far,
    each time refit_every new train samples have arrived and when the schedule's last
    sample completes; accuracy is that model on the train samples and on the held-out
    test samples seen so far (the summary refits on every train sample seen when a run
    stops between refits). Labels and the train/test split come from the dataset stimulus wired to `label`.
    Cost per refit: O(samples × neurons × min(samples, neurons)).
    """

    type_key = "readout.ridge"
    alpha = Num(1.0, bounds=(0, None), live=True, doc="L2 penalty of the ridge regression (applies at the next refit)")
    refit_every = Int(50, bounds=(1, None), live=False,
                      doc="refit after this many new train samples (and after the schedule's last sample)")
    standardize = Flag(True, doc="z-score each feature with the train samples' mean and std before fitting")

    @classmethod
    def learn(cls, node, st, p) -> bool:
        a = st.aux
        a["pending"] = a.get("pending", 0) + 1
        if a["pending"] >= int(node.values["refit_every"]):
            st.model = cls.fit(node, st)
            a["pending"] = 0
            a["refits"] = a.get("refits", 0) + 1
            return True
        return False

    @classmethod
    def settle_model(cls, node, st, model, commit) -> dict:
        a = st.aux
        if a.get("pending", 0) == 0:
            return model
        if commit:
            a["pending"] = 0
            a["refits"] = a.get("refits", 0) + 1
        return cls.fit(node, st)

    @classmethod
    def fit(cls, node, st) -> dict:
        """A RidgeClassifier fitted on every train sample seen so far."""
        from sklearn.linear_model import RidgeClassifier

        rows = np.asarray(st.train_idx, np.int64)
        X = st.F[rows]
        y = st.y[rows]
        if node.values["standardize"]:
            mu = X.mean(axis=0)
            sd = X.std(axis=0)
            sd[sd < 1e-12] = 1.0
        else:
            mu, sd = np.zeros(X.shape[1]), np.ones(X.shape[1])
        if len(np.unique(y)) < 2:  # one class seen so far: predict it
            return {"mu": mu, "sd": sd, "clf": None, "const": int(y[0])}
        clf = RidgeClassifier(alpha=float(node.values["alpha"])).fit((X - mu) / sd, y)
        return {"mu": mu, "sd": sd, "clf": clf, "const": None}

    @classmethod
    def predict(cls, node, st, rows, model) -> np.ndarray:
        if model["clf"] is None:
            return np.full(len(rows), model["const"], np.int64)
        return np.asarray(model["clf"].predict((st.F[rows] - model["mu"]) / model["sd"]), np.int64)

    @classmethod
    def final_extra(cls, node, st, model) -> dict:
        return {"refits": int(st.aux.get("refits", 0))}
