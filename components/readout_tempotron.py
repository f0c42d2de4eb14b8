"""``readout.tempotron``: the Tempotron (Gütig & Sompolinsky 2006), one unit per class."""
from __future__ import annotations

import math

import numpy as np

from engine.params import Num
from engine.registry import register

from .readout_base import ReadoutBase


@register
class Tempotron(ReadoutBase):
    """The Tempotron: a neuron that learns to fire (or not) for whole spike patterns.

    V(t) = sum_i w_i sum_{t_i < t} K(t - t_i), K(u) = V0 (exp(-u/tau) - exp(-u/tau_s)),
    V0 normalising max K to 1 (MODELS.md B). A unit 'fires' for a pattern when max_t V
    reaches the threshold. After a training pattern with an error (no spike where one was
    wanted: e = +1; a spike where none was: e = -1), w_i += learning_rate e
    sum_{t_i < t_max} K(t_max - t_i), t_max the time of the maximum of V. With two classes
    one unit fires for class 1; with more, one unit per class (one-vs-rest) and the
    decision is the unit with the largest max V. Discrete time: the kernel is sampled at
    the steps of the sample window (two exponential traces per input).
    """

    type_key = "readout.tempotron"
    tau_ms = Num(15.0, bounds=(0, None), inclusive=(False, True), live=False, doc="membrane time constant tau")
    tau_s_ms = Num(3.75, bounds=(0, None), inclusive=(False, True), live=False, doc="synaptic time constant tau_s")
    threshold = Num(1.0, doc="firing threshold of V (the kernel peaks at 1)")
    learning_rate = Num(3e-3, bounds=(0, None), doc="lambda: weight change per unit of kernel on an error")
    w_init_std = Num(1e-3, bounds=(0, None), live=False, doc="std of the initial weights (seeded)")

    @classmethod
    def n_bins(cls, node, st) -> int:
        return st.sample_steps

    @classmethod
    def accumulate(cls, node, st, p, off, col) -> None:
        for q in np.unique(p):
            r = st.bins.get(int(q))
            if r is None:
                r = st.bins[int(q)] = np.zeros((st.nb, len(st.kept)), np.float32)
            m = p == q
            np.add.at(r, (off[m], col[m]), 1.0)

    @classmethod
    def _consts(cls, node, st):
        tau, tau_s = float(node.values["tau_ms"]), float(node.values["tau_s_ms"])
        t_peak = tau * tau_s * math.log(tau / tau_s) / (tau - tau_s)
        v0 = 1.0 / (math.exp(-t_peak / tau) - math.exp(-t_peak / tau_s))
        return tau, tau_s, v0

    @classmethod
    def potential(cls, node, st, raster: np.ndarray, w: np.ndarray) -> np.ndarray:
        """V(t) of every unit over the window (steps, units). Linear in the input, so the
        kernel filters the weighted input sum raster @ w instead of every input."""
        from scipy.signal import lfilter

        tau, tau_s, v0 = cls._consts(node, st)
        s = raster @ w
        ea, eb = math.exp(-st.dt / tau), math.exp(-st.dt / tau_s)
        a = lfilter([1.0], [1.0, -ea], s, axis=0)  # a[t] = sum_{t_i <= t} exp(-(t - t_i)/tau)
        b = lfilter([1.0], [1.0, -eb], s, axis=0)
        v = np.zeros_like(a)
        v[1:] = v0 * (ea * a[:-1] - eb * b[:-1])  # only spikes before t count (t_i < t)
        return v

    @classmethod
    def kernel_at(cls, node, st, raster: np.ndarray, t: int) -> np.ndarray:
        """sum_{t_i < t} K(t - t_i) of every input at step t."""
        tau, tau_s, v0 = cls._consts(node, st)
        u = (t - np.arange(t)) * st.dt
        k = v0 * (np.exp(-u / tau) - np.exp(-u / tau_s))
        return k @ raster[:t]

    @classmethod
    def sample_done(cls, node, st, p) -> None:
        r = st.bins.get(p)
        if r is None:
            r = np.zeros((st.nb, len(st.kept)), np.float32)
        spikes = st.aux.setdefault("rasters", {})
        spikes[p] = (np.nonzero(r)[0].astype(np.int32), np.nonzero(r)[1].astype(np.int32),
                     r[np.nonzero(r)].astype(np.float32))

    @classmethod
    def raster(cls, st, p) -> np.ndarray:
        s, c, v = st.aux["rasters"][p]
        r = np.zeros((st.nb, len(st.kept)))
        r[s, c] = v
        return r

    @classmethod
    def units(cls, st) -> int:
        return 1 if len(st.classes) == 2 else len(st.classes)

    @classmethod
    def weights(cls, node, st) -> np.ndarray:
        if "w" not in st.model:
            from engine import rng
            key = rng.node_key(st.seed, node.id, "w0")
            u = rng.uniform_np(key, 0, np.arange(len(st.kept) * cls.units(st))).reshape(len(st.kept), -1)
            st.model["w"] = (u - 0.5) * math.sqrt(12.0) * float(node.values["w_init_std"])
        return st.model["w"]

    @classmethod
    def learn(cls, node, st, p) -> bool:
        w = cls.weights(node, st)
        r = cls.raster(st, p)
        V = cls.potential(node, st, r, w)  # (steps, units)
        theta = float(node.values["threshold"])
        lr = float(node.values["learning_rate"])
        y = st.y[p]
        for u in range(w.shape[1]):
            want = (y == 1) if w.shape[1] == 1 else (y == u)
            tmax = int(np.argmax(V[:, u]))
            fired = V[tmax, u] >= theta
            if fired != want:
                w[:, u] += lr * (1.0 if want else -1.0) * cls.kernel_at(node, st, r, tmax)
        st.aux["updates"] = st.aux.get("updates", 0) + 1
        return False

    @classmethod
    def predict(cls, node, st, rows, model) -> np.ndarray:
        w = model["w"]
        theta = float(node.values["threshold"])
        out = np.zeros(len(rows), np.int64)
        for k, p in enumerate(rows):
            vmax = cls.potential(node, st, cls.raster(st, int(p)), w).max(axis=0)
            out[k] = int(vmax[0] >= theta) if w.shape[1] == 1 else int(np.argmax(vmax))
        return out

    @classmethod
    def final_extra(cls, node, st, model) -> dict:
        return {"units": cls.units(st), "updates": int(st.aux.get("updates", 0))}
