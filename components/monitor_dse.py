"""``monitor.dse``: diffusion spectral entropy of the population's state vectors."""
from __future__ import annotations

import numpy as np

from engine.params import Int, Num
from engine.registry import register

from .analysis_base import SpikeAnalysisMonitor, Worker, trace_views


@register
class DSEMonitor(SpikeAnalysisMonitor):
    """Diffusion spectral entropy (DSE, Liao et al. 2023) of population state vectors.

    A sample is the vector of spike counts of the analysed neurons in one window of
    window_ms (default 2 ms: 500 samples per simulated second); the newest n_samples
    samples are kept. Every every_ms the DSE of those samples is
    computed on a worker thread (Gaussian kernel of width sigma on Euclidean distances,
    symmetric diffusion operator, eigenvalues to the power t, entropy of their normalised
    spectrum, in bits) and streamed when ready, stamped with the time of its newest sample;
    the simulation never waits for it (a computation still running when the next is due is
    skipped and counted). Cost per computation O(n_samples² × neurons + n_samples³), memory
    O(n_samples × neurons + n_samples²): neurons beyond max_neurons are left out (a fixed
    random subset) and said in the summary.
    """

    type_key = "monitor.dse"
    traces = ("dse_bits",)
    views = trace_views([("dse_bits", "diffusion spectral entropy", "DSE (bits)")])
    bin_ms = Num(2.0, bounds=(0, None), inclusive=(False, True), live=False, doc="bin width (counts are summed per window)")
    window_ms = Num(2.0, bounds=(0, None), inclusive=(False, True), live=False,
                    doc="one sample (a spike-count vector) per window")
    max_neurons = Int(500, bounds=(2, None), live=False, doc="features per sample: at most this many neurons")
    n_samples = Int(500, bounds=(10, 20_000), live=False, doc="samples per DSE (the newest)")
    every_ms = Num(1000.0, bounds=(0, None), inclusive=(False, True), live=False, doc="cadence of the computation")
    sigma = Num(4.0, bounds=(0, None), inclusive=(False, True), live=False,
                doc="Gaussian kernel width in spike counts (the paper's default is 10 for its embeddings; scale it "
                    "to the typical distance between samples, about sqrt(2 × spikes per sample))")
    t = Int(1, bounds=(1, 1000), live=False, doc="diffusion time (eigenvalue power)")

    @classmethod
    def new_state(cls, node, sim):
        st = super().new_state(node, sim)
        n = len(st.windows.kept)
        st.extra.update(ring=np.zeros((int(node.values["n_samples"]), n), np.float32), filled=0, pos=0,
                        next_ms=float(node.values["every_ms"]), skipped=0, done=0)
        st.worker = Worker()
        return st

    @classmethod
    def fold(cls, node, sim, st, t_ms, i, t_end_ms) -> None:
        """On the analysis thread: samples are binned in bulk per chunk (hundreds per simulated
        second), not one window at a time; the windows are the same as the base class's."""
        e, win = st.extra, st.windows
        end_step = int(round(t_end_ms / sim.dt))
        n_done = end_step // win.win_steps  # windows complete at the end of this chunk
        if "acc" not in e:
            e.update(acc={}, w0=0)
        if len(i):
            steps = np.rint(np.asarray(t_ms) / sim.dt).astype(np.int64)
            cols = win.col[np.asarray(i, np.int64)]
            ok = cols >= 0
            wins, cols = steps[ok] // win.win_steps, cols[ok]
            order = np.argsort(wins, kind="stable")
            wins, cols = wins[order], cols[order]
            bounds = np.flatnonzero(np.diff(wins)) + 1
            for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(wins)]):
                if hi > lo:
                    row = e["acc"].setdefault(int(wins[lo]), np.zeros(len(win.kept), np.float32))
                    row += np.bincount(cols[lo:hi], minlength=len(win.kept)).astype(np.float32)
        for w in range(e["w0"], n_done):
            cls._sample(node, sim, st, e["acc"].pop(w, None), (w + 1) * win.win_steps * sim.dt)
        e["w0"] = max(e["w0"], n_done)
        cls._collect(st, wait=False)

    @classmethod
    def _sample(cls, node, sim, state, row, t_end_ms) -> None:
        e = state.extra
        ring = e["ring"]
        if row is None:
            ring[e["pos"]] = 0.0
        else:
            ring[e["pos"]] = row
        e["pos"] = (e["pos"] + 1) % len(ring)
        e["filled"] = min(e["filled"] + 1, len(ring))
        if t_end_ms + 1e-9 >= e["next_ms"]:
            e["next_ms"] += float(node.values["every_ms"])
            if state.worker.busy():
                e["skipped"] += 1
            elif e["filled"] >= 2:
                X = np.array(ring[:e["filled"]], np.float64)
                state.worker.submit((t_end_ms, e["filled"]), _dse, X, float(node.values["sigma"]), int(node.values["t"]))

    @classmethod
    def finish(cls, node, sim, state) -> None:
        cls._collect(state, wait=True)

    @staticmethod
    def _collect(state, wait: bool) -> None:
        for (t_ms, n), val in state.worker.ready(wait=wait):
            state.traces.add(t_ms, {"dse_bits": val})
            state.extra["done"] += 1
            state.extra["last_n"] = n

    @classmethod
    def final(cls, node, sim) -> dict:
        out = super().final(node, sim)
        st = cls.state(node, sim)
        out.update(computed=st.extra["done"], skipped=st.extra["skipped"], samples=st.extra.get("last_n", 0),
                   subsampled=bool(len(st.windows.kept) < sim.plan.node_info[node.id]["n_src"]))
        return out


def _dse(X, sigma, t):
    from engine.analysis import diffusion_spectral_entropy
    return float(diffusion_spectral_entropy(X, sigma=sigma, t=t))
