"""``readout.delta``: an online delta-rule classifier on per-sample spike counts."""
from __future__ import annotations

import numpy as np

from engine.params import Choice, Flag, Num
from engine.registry import register

from .readout_base import CountReadout


@register
class DeltaReadout(CountReadout):
    """Online delta-rule classifier: one update of a linear layer per train sample.

    x = the sample's spike counts (or filtered traces), normalised (default: to unit L2
    norm), centred (default: minus the running mean of the train samples' normalised
    vectors, including the current one; all-positive count vectors otherwise make the
    online rule oscillate), plus a constant 1 (bias). Output y = softmax(W x) ('softmax': the update is the
    gradient of the cross-entropy) or y = W x ('linear': least-mean-squares). After each
    train sample, in schedule order: W += learning_rate (t - y) x^T with t the one-hot
    label; W starts at zero. Prediction: argmax W x. Accuracy is the current W on the
    train samples and on the held-out test samples seen so far.
    """

    type_key = "readout.delta"
    learning_rate = Num(0.5, bounds=(0, None), live=True, doc="step size of the delta rule")
    output = Choice("softmax", ["softmax", "linear"],
                    doc="softmax: cross-entropy gradient on softmax outputs; linear: LMS on linear outputs")
    normalize = Choice("l2", ["l2", "max", "none"],
                       doc="scaling of each sample's feature vector: unit L2 norm, divided by its largest "
                       "entry, or none")
    center = Flag(True, doc="subtract the running mean of the train samples' normalised feature vectors")

    @classmethod
    def normalized(cls, node, st, rows) -> np.ndarray:
        X = st.F[rows]
        how = node.values["normalize"]
        if how == "l2":
            X = X / np.maximum(np.sqrt((X * X).sum(axis=1, keepdims=True)), 1e-12)
        elif how == "max":
            X = X / np.maximum(X.max(axis=1, keepdims=True), 1e-12)
        return X

    @classmethod
    def x(cls, node, st, rows, model) -> np.ndarray:
        X = cls.normalized(node, st, rows)
        if node.values["center"]:
            X = X - model["mu"]
        return np.concatenate([X, np.ones((X.shape[0], 1))], axis=1)

    @classmethod
    def learn(cls, node, st, p) -> bool:
        m = st.model
        if "W" not in m:
            m.update(W=np.zeros((len(st.classes), st.F.shape[1] + 1)), mu=np.zeros(st.F.shape[1]), updates=0)
        W = m["W"]
        m["mu"] += (cls.normalized(node, st, np.array([p]))[0] - m["mu"]) / (m["updates"] + 1)
        x = cls.x(node, st, np.array([p]), m)[0]
        z = W @ x
        if node.values["output"] == "softmax":
            e = np.exp(z - z.max())
            y = e / e.sum()
        else:
            y = z
        t = np.zeros(len(st.classes))
        t[st.y[p]] = 1.0
        W += float(node.values["learning_rate"]) * np.outer(t - y, x)
        m["updates"] += 1
        return False

    @classmethod
    def predict(cls, node, st, rows, model) -> np.ndarray:
        return np.argmax(cls.x(node, st, rows, model) @ model["W"].T, axis=1).astype(np.int64)

    @classmethod
    def final_extra(cls, node, st, model) -> dict:
        return {"updates": int(st.model.get("updates", 0))}
