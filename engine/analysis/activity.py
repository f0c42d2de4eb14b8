"""Activity measures of a spiking population: binning, rates, irregularity and synchrony.

Spike data convention: ``t_ms`` (float spike times in ms), ``i`` (int neuron indices, one per
spike, in ``[0, n)``) and ``n`` (population size). Spikes need not be sorted. Binned counts are
``(n_bins, n)`` arrays: one row per time bin, one column per neuron.
"""
from __future__ import annotations

import math

import numpy as np

from . import _checks as chk

__all__ = ["bin_counts", "population_rate", "isi_cv", "fano_factor", "synchrony", "golomb_chi"]

# tolerance (in bins) when the window length is an integer multiple of the bin up to float rounding,
# e.g. (1000 - 0) / 0.1 = 9999.999999999998 must give 10000 bins, not 9999
_BIN_EPS = 1e-9


def _n_bins(bin_ms: float, t_start_ms: float, t_stop_ms: float) -> int:
    nb = int(math.floor((t_stop_ms - t_start_ms) / bin_ms + _BIN_EPS))
    if nb < 1:
        raise ValueError(f"the window [t_start_ms, t_stop_ms) = [{t_start_ms}, {t_stop_ms}) is shorter than one bin "
                         f"(bin_ms={bin_ms}); use a smaller bin_ms or a longer window")
    return nb


def _bin_index(t: np.ndarray, bin_ms: float, t_start_ms: float, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin index of each spike and the mask of spikes inside the ``n_bins`` bins."""
    k = np.floor((t - t_start_ms) / bin_ms).astype(np.int64)
    keep = (k >= 0) & (k < n_bins)
    return k, keep


def bin_counts(t_ms, i, n, bin_ms, t_start_ms, t_stop_ms) -> np.ndarray:
    """Spike counts per time bin and neuron.

    Definition: bin ``k`` is ``[t_start_ms + k*bin_ms, t_start_ms + (k+1)*bin_ms)`` for
    ``k = 0 .. n_bins-1`` with ``n_bins = floor((t_stop_ms - t_start_ms) / bin_ms)`` (a window that
    is an exact multiple of the bin up to float rounding, within 1e-9 bins, counts as exact).
    Spikes before ``t_start_ms`` or at/after the end of the last full bin are ignored, so a window
    that is not a multiple of ``bin_ms`` drops its incomplete last piece.

    Returns: ``int32`` array of shape ``(n_bins, n)`` (spikes per bin; unitless counts).
    Empty spike data gives an all-zero array.

    Cost: O(n_spikes + n_bins * n) time and memory (one ``bincount``).

    Unreliable when: spike times are exactly on bin edges and were produced by a different float
    computation (``floor`` decides the side); use a ``t_start_ms`` offset by half a time step for
    integer-ms spike trains if this matters.

    Raises ValueError for mismatched/non-1-D ``t_ms``/``i``, ``n <= 0``, ``bin_ms <= 0``,
    ``t_stop_ms <= t_start_ms``, a window shorter than one bin, or indices outside ``[0, n)``.
    """
    n = chk.positive_int(n, "n")
    bin_ms = chk.positive_float(bin_ms, "bin_ms")
    t_start_ms, t_stop_ms = chk.window(t_start_ms, t_stop_ms)
    t = chk.spike_times(t_ms)
    idx = chk.neuron_index(i, n, length=t.shape[0])
    nb = _n_bins(bin_ms, t_start_ms, t_stop_ms)
    k, keep = _bin_index(t, bin_ms, t_start_ms, nb)
    flat = k[keep] * n + idx[keep]
    return np.bincount(flat, minlength=nb * n).astype(np.int32).reshape(nb, n)


def population_rate(t_ms, n, bin_ms, t_start_ms, t_stop_ms) -> tuple[np.ndarray, np.ndarray]:
    """Population firing rate per neuron, in Hz, in consecutive bins.

    Definition: ``rate_hz[k] = (spikes in bin k, all neurons) / (n * bin_ms / 1000)``, with the
    bins of :func:`bin_counts`; ``t_centers_ms[k] = t_start_ms + (k + 0.5) * bin_ms``.

    Returns ``(t_centers_ms, rate_hz)``, two float64 arrays of length ``n_bins``. Empty spike
    data gives zeros.

    Cost: O(n_spikes + n_bins) (no per-neuron array is built, so neuron indices are not needed).

    Unreliable when: bins are short compared with 1/(n * rate) (mostly 0 or 1 spikes per bin:
    the estimate is then a spike raster, not a rate).
    """
    n = chk.positive_int(n, "n")
    bin_ms = chk.positive_float(bin_ms, "bin_ms")
    t_start_ms, t_stop_ms = chk.window(t_start_ms, t_stop_ms)
    t = chk.spike_times(t_ms)
    nb = _n_bins(bin_ms, t_start_ms, t_stop_ms)
    k, keep = _bin_index(t, bin_ms, t_start_ms, nb)
    counts = np.bincount(k[keep], minlength=nb).astype(np.float64)
    rate = counts / (n * bin_ms * 1e-3)
    centers = t_start_ms + (np.arange(nb) + 0.5) * bin_ms
    return centers, rate


def isi_cv(t_ms, i, n) -> np.ndarray:
    """Coefficient of variation of the inter-spike intervals (ISI) of each neuron.

    Definition: for neuron j with sorted spike times, ISI = consecutive differences;
    ``CV_j = std(ISI) / mean(ISI)`` with the population standard deviation (ddof=0). CV is
    unitless: 0 for a regular (clock-like) train, about 1 for a Poisson train, > 1 for bursty
    firing. All spikes given are used (filter by time before calling to restrict the window).

    Returns a float64 array of length ``n``; NaN for neurons with fewer than 3 spikes (fewer than
    2 intervals) and for neurons whose mean ISI is 0 (all spikes at the same time).

    Cost: O(n_spikes log n_spikes) (one lexsort) + O(n).

    Unreliable when: a neuron has few spikes (the CV of k intervals has a relative standard error
    of roughly 1/sqrt(2k) for Poisson trains, and ddof=0 biases it low for small k), or when the
    rate changes over the window (rate modulation inflates the CV; use a local measure then).
    """
    n = chk.positive_int(n, "n")
    t = chk.spike_times(t_ms)
    idx = chk.neuron_index(i, n, length=t.shape[0])
    out = np.full(n, np.nan)
    if t.size < 3:
        return out
    order = np.lexsort((t, idx))
    ts, js = t[order], idx[order]
    same = js[1:] == js[:-1]
    isi = np.diff(ts)[same]
    owner = js[1:][same]
    cnt = np.bincount(owner, minlength=n).astype(np.float64)
    s = np.bincount(owner, weights=isi, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s / cnt
        dev2 = np.bincount(owner, weights=(isi - mean[owner]) ** 2, minlength=n)
        cv = np.sqrt(dev2 / cnt) / mean
    ok = (cnt >= 2) & (mean > 0)
    out[ok] = cv[ok]
    return out


def fano_factor(counts) -> np.ndarray:
    """Fano factor of each neuron's spike count across bins.

    Definition: ``FF_j = var_k(counts[k, j]) / mean_k(counts[k, j])`` over the bins k (ddof=0).
    Unitless: 1 for a Poisson process, < 1 regular, > 1 bursty/over-dispersed.

    ``counts``: ``(n_bins, n)`` array of non-negative counts (e.g. from :func:`bin_counts`).
    Returns a float64 array of length ``n``; NaN where the neuron never fired (mean 0).

    Cost: O(n_bins * n).

    Unreliable when: there are few bins (the variance estimate has relative error about
    sqrt(2/n_bins)), or the bin is so short that counts are 0/1 (then FF ~ 1 - p whatever the
    process); the Fano factor also depends on the bin width for non-Poisson processes.
    """
    c = chk.matrix(counts, "counts")
    mean = c.mean(axis=0)
    var = c.var(axis=0)
    out = np.full(c.shape[1], np.nan)
    ok = mean > 0
    out[ok] = var[ok] / mean[ok]
    return out


def synchrony(counts, max_neurons=500, seed=0) -> float:
    """Mean pairwise Pearson correlation of the binned spike counts.

    Definition: over the neurons that fired at least once and whose count is not constant
    across bins, ``mean_{j != l} corr(counts[:, j], counts[:, l])`` (the average off-diagonal
    entry of the correlation matrix; unitless, in [-1, 1]; 0 for independent neurons).

    Subsampling: if more than ``max_neurons`` neurons qualify, a random subset of
    ``max_neurons`` of them (``numpy.random.default_rng(seed)``, without replacement) is used, so
    the value is a (seeded, reproducible) estimate of the population mean. ``max_neurons=None``
    uses all qualifying neurons.

    Returns a float; NaN when fewer than 2 neurons qualify (no spikes, one active neuron, or
    only constant counts).

    Cost: O(n_bins * m) for m used neurons. The mean is computed without forming the m x m
    matrix: with z the z-scored columns, ``sum_{j,l} r_jl = sum_k (sum_j z_kj)^2 / n_bins``.

    Unreliable when: rates are low relative to the bin (sparse counts give small correlations
    that depend strongly on the bin width), with few bins (each r has a standard error of about
    1/sqrt(n_bins)), or with strong shared rate drifts (slow covariation inflates r).
    """
    c = chk.matrix(counts, "counts")
    if max_neurons is not None:
        max_neurons = chk.positive_int(max_neurons, "max_neurons")
        if max_neurons < 2:
            raise ValueError("max_neurons must be at least 2 (a correlation needs a pair), got "
                             f"{max_neurons}")
    sd = c.std(axis=0)
    active = np.flatnonzero((c.sum(axis=0) > 0) & (sd > 0))
    if max_neurons is not None and active.size > max_neurons:
        rng = np.random.default_rng(seed)
        active = np.sort(rng.choice(active, size=max_neurons, replace=False))
    m = active.size
    if m < 2:
        return float("nan")
    x = c[:, active]
    z = (x - x.mean(axis=0)) / sd[active]
    total = float(np.sum(z.sum(axis=1) ** 2)) / c.shape[0]  # sum of all entries of the correlation matrix
    return (total - m) / (m * (m - 1))


def golomb_chi(counts) -> float:
    """Golomb's chi synchrony measure (Golomb 2007, Scholarpedia "Neuronal synchrony measures").

    Definition: with ``A_k = mean_j counts[k, j]`` the population-mean signal,
    ``chi = sqrt( var_k(A_k) / mean_j(var_k(counts[k, j])) )`` (variances over bins, ddof=0).
    Unitless in [0, 1]: 1 for identical activity in all neurons, ~ 1/sqrt(n) for independent
    neurons. All columns are used, silent neurons included (they lower chi); pass
    ``counts[:, counts.sum(0) > 0]`` to restrict to active neurons.

    Returns a float; NaN when every neuron's count is constant (no variance, e.g. no spikes).

    Cost: O(n_bins * n).

    Unreliable when: the population is small (chi^2 has a finite-size floor of about 1/n for
    asynchronous activity, so compare chi with 1/sqrt(n)) or the bins are much shorter/longer
    than the time scale of the synchrony of interest.
    """
    c = chk.matrix(counts, "counts")
    denom = float(c.var(axis=0).mean())
    if denom <= 0.0:
        return float("nan")
    num = float(c.mean(axis=1).var())
    return math.sqrt(num / denom)
