"""``monitor.activity``: population rate, ISI variability, Fano factor and synchrony, per window."""
from __future__ import annotations

import numpy as np

from numba import njit

from engine.params import Num
from engine.registry import register

from .analysis_base import SpikeAnalysisMonitor, trace_views


@register
class ActivityMonitor(SpikeAnalysisMonitor):
    """Population rate, CV of inter-spike intervals, Fano factor and synchrony, one value per window.

    Per window: rate = spikes / (neurons × window); Fano = var/mean of each neuron's counts
    over the window's bins, averaged; synchrony = Golomb's χ of the binned counts (0
    asynchronous, 1 fully synchronous). CV of ISIs: over all intervals since the start (or
    reset), per neuron (running count, mean and squared deviations: Welford's update),
    averaged over neurons with at least 2 intervals — a window holds too few intervals of a
    20 Hz neuron for a CV of its own; at the end it equals ``engine.analysis.isi_cv`` on the
    whole recording. Cost per window O(spikes + bins × neurons) in two compiled passes (about
    0.1 ms for 100 ms of COBA's 3200 excitatory neurons).
    """

    type_key = "monitor.activity"
    bin_ms = Num(5.0, bounds=(0, None), inclusive=(False, True), live=False,
                 doc="bin width of the counts (Fano factor, synchrony)")
    traces = ("rate_hz", "cv_isi", "fano", "synchrony")
    views = trace_views([("rate_hz", "population rate", "rate (Hz)"), ("cv_isi", "CV of ISIs", "CV"),
                         ("fano", "Fano factor", "Fano"), ("synchrony", "synchrony (Golomb χ)", "χ")])

    @classmethod
    def measure(cls, node, sim, state, counts, events, t_end_ms):
        n = counts.shape[1]
        win_s = counts.shape[0] * state.windows.bin_steps * sim.dt * 1e-3
        e = state.extra
        if "last" not in e:  # per neuron: last spike time, intervals, their running mean and M2
            e.update(last=np.full(n, np.nan), c=np.zeros(n), mean=np.zeros(n), m2=np.zeros(n))
        t, col = events
        cv = _isi_fold(np.asarray(t, np.float64), np.asarray(col, np.int64), e["last"], e["c"], e["mean"], e["m2"])
        total, fano, chi = _fano_chi(counts)
        return {"rate_hz": float(total) / max(n * win_s, 1e-12), "cv_isi": cv, "fano": fano,
                "synchrony": chi if counts.shape[0] > 1 else np.nan}


@njit(cache=True, nogil=True)
def _isi_fold(t, col, last, c, mean, m2):  # pragma: no cover - compiled
    """Folds a window's spikes into each neuron's interval statistics (Welford: count, mean,
    sum of squared deviations) and returns the mean over neurons of their CV (ddof 0), over
    neurons with at least 2 intervals and a positive mean; NaN if none. The spikes come in
    time order (SpikeWindows hands them so); were they not, they are taken in stable time
    order (each neuron's spikes by time, as isi_cv sorts them)."""
    ordered = True
    for k in range(1, t.shape[0]):
        if t[k] < t[k - 1]:
            ordered = False
            break
    order = np.arange(t.shape[0]) if ordered else np.argsort(t, kind="mergesort")
    for q in range(order.shape[0]):
        k = order[q]
        j = col[k]
        if not np.isnan(last[j]):
            x = t[k] - last[j]
            c[j] += 1.0
            d = x - mean[j]
            mean[j] += d / c[j]
            m2[j] += d * (x - mean[j])
        last[j] = t[k]
    tot = 0.0
    m = 0
    for j in range(c.shape[0]):
        if c[j] >= 2.0 and mean[j] > 0.0:
            tot += np.sqrt(m2[j] / c[j]) / mean[j]
            m += 1
    return tot / m if m else np.nan


@njit(cache=True, nogil=True)
def _fano_chi(counts):  # pragma: no cover - compiled
    """(total count, mean Fano factor over neurons that fired, Golomb's χ) of a (bins ×
    neurons) count matrix in one pass, from exact integer sums (the definitions of
    engine.analysis.fano_factor and golomb_chi, ddof 0): per neuron j, B² var_j = B Σc² − (Σc)²;
    with r_k the row sums, B² n² var_k(A_k) = B Σr² − (Σr)², so χ² = (B Σr² − (Σr)²) /
    (n Σ_j B² var_j), rounded once."""
    nb, n = counts.shape
    s1 = np.zeros(n, np.int64)
    s2 = np.zeros(n, np.int64)
    r1 = 0
    r2 = 0
    for k in range(nb):
        row = 0
        for j in range(n):
            v = np.int64(counts[k, j])
            s1[j] += v
            s2[j] += v * v
            row += v
        r1 += row
        r2 += row * row
    ff = 0.0
    m = 0
    vnum = 0  # Σ_j B² var_j
    for j in range(n):
        q = nb * s2[j] - s1[j] * s1[j]
        vnum += q
        if s1[j] > 0:
            ff += (q / (nb * nb)) / (s1[j] / nb)
            m += 1
    fano = ff / m if m else np.nan
    if nb == 0 or vnum <= 0:
        return r1, fano, np.nan
    return r1, fano, np.sqrt((nb * r2 - r1 * r1) / (n * float(vnum)))
