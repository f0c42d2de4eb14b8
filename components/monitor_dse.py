"""``monitor.dse``: diffusion spectral entropy of the population's state vectors."""
from __future__ import annotations

import numpy as np

from numba import njit

from engine.params import Choice, Int, Num
from engine.registry import register

from .analysis_base import SpikeAnalysisMonitor, Worker, _kept_steps, trace_views


@register
class DSEMonitor(SpikeAnalysisMonitor):
    """Diffusion spectral entropy (DSE, Liao et al. 2023) of population state vectors.

    A sample is the vector of spike counts of the analysed neurons in one window of
    window_ms (default 2 ms: 500 samples per simulated second); the newest n_samples
    samples are kept. Every every_ms the DSE of those samples is
    computed on a worker thread (Gaussian kernel of width sigma on Euclidean distances,
    symmetric diffusion operator, eigenvalues to the power t, entropy of their normalised
    spectrum, in bits) and streamed when ready, stamped with the time of its newest sample;
    the simulation never waits for it (one more may wait while one runs; beyond that a due
    computation is skipped and counted, so on an overloaded machine values can go missing).
    Cost per computation O(n_samples² × neurons + n_samples³) (8 ms for 500 samples in
    float32 on one core, of which 6.6 ms the eigenvalues), memory O(n_samples × neurons +
    n_samples²): neurons beyond max_neurons are left out (a fixed random subset) and said
    in the summary.
    """

    type_key = "monitor.dse"
    stream_order = -1  # its chunk is binned first, so a due DSE starts before the other monitors' windows
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
    precision = Choice("float32", objects=["float32", "float64"], live=False,
                       doc="precision of the affinity's eigenvalues: float32 takes 2/3 of float64's time for 500 samples "
                           "and moved the DSE of COBA's samples by ~1e-6 bits (see diffusion_spectral_entropy)")

    @classmethod
    def new_state(cls, node, sim):
        st = super().new_state(node, sim)
        n = len(st.windows.kept)
        st.extra.update(ring=np.zeros((int(node.values["n_samples"]), n), np.float32), filled=0, pos=0,
                        partial=np.zeros(n, np.float32), w0=0, next_ms=float(node.values["every_ms"]), skipped=0,
                        done=0)
        st.worker = Worker()
        return st

    @classmethod
    def fold(cls, node, sim, st, t_ms, i, t_end_ms) -> None:
        """On the analysis thread: one chunk's spikes binned into samples (hundreds per
        simulated second) by one compiled pass; the windows are the base class's grid."""
        e, win = st.extra, st.windows
        n_done = int(round(t_end_ms / sim.dt)) // win.win_steps  # windows complete at the end of this chunk
        steps, cols = _kept_steps(np.asarray(t_ms, np.float64), np.asarray(i, np.int64), win.col, sim.dt)
        wins = steps // win.win_steps
        every = float(node.values["every_ms"])
        w, k = e["w0"], 0
        while w < n_done:
            # the next window whose end reaches the cadence (a DSE is due there), or the last
            due = max(w, int(np.ceil((e["next_ms"] - 1e-9) / (win.win_steps * sim.dt))) - 1)
            upto = min(n_done, due + 1)
            e["pos"], k = _fill(e["ring"], e["pos"], e["partial"], wins, cols, k, w, upto)
            e["filled"] = min(e["filled"] + (upto - w), len(e["ring"]))
            w = upto
            t_w = w * win.win_steps * sim.dt
            if t_w + 1e-9 >= e["next_ms"]:
                e["next_ms"] += every
                if st.worker.in_flight() >= 2:  # one running and one waiting already: skip this one
                    e["skipped"] += 1
                elif e["filled"] >= 2:
                    X = np.array(e["ring"][:e["filled"]], np.float64)  # row order does not change the spectrum
                    st.worker.submit((t_w, e["filled"]), _dse, X, float(node.values["sigma"]), int(node.values["t"]),
                                     str(node.values["precision"]))
        _add_partial(e["partial"], wins, cols, k, n_done)  # spikes of the window still open
        e["w0"] = n_done
        cls._collect(st, wait=False)

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


def _dse(X, sigma, t, precision):
    from engine.analysis import diffusion_spectral_entropy
    return float(diffusion_spectral_entropy(X, sigma=sigma, t=t, precision=precision))


@njit(cache=True, nogil=True)
def _fill(ring, pos, partial, wins, cols, k, w_from, w_to):  # pragma: no cover - compiled
    """Windows w_from..w_to-1 into the ring's next rows (``partial``: spikes of window w_from
    seen in earlier chunks); ``wins`` ascending from index k, ``cols`` the kept neurons'
    columns. Returns (next row, next k)."""
    r = ring.shape[0]
    n = wins.shape[0]
    while k < n and wins[k] < w_from:
        k += 1
    for w in range(w_from, w_to):
        row = ring[pos]
        if w == w_from:
            row[:] = partial
            partial[:] = 0.0
        else:
            row[:] = 0.0
        while k < n and wins[k] == w:
            row[cols[k]] += 1.0
            k += 1
        pos = (pos + 1) % r
    return pos, k


@njit(cache=True, nogil=True)
def _add_partial(partial, wins, cols, k, w):  # pragma: no cover - compiled
    n = wins.shape[0]
    while k < n:
        if wins[k] >= w:
            partial[cols[k]] += 1.0
        k += 1
