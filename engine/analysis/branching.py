"""Branching measures: how many spikes one spike gives rise to.

``branching_ratio`` is the conventional time-series estimator of the branching parameter m;
``branching_factor_nalsm`` is the synapse-resolved definition of Ivanov & Michmizos (NeurIPS 2021,
combra-lab/NALSM ``compute_branching_factor.py``).
"""
from __future__ import annotations

import numba
import numpy as np

from . import _checks as chk

__all__ = ["branching_ratio", "branching_factor_nalsm"]


def branching_ratio(activity) -> float:
    """Conventional estimate of the branching parameter m from a population activity series.

    Definition: ``activity`` is A_t, the number of spikes (or events) in consecutive bins. The
    estimate is the least-squares slope of A_{t+1} on A_t with an intercept,
    ``m = cov(A_t, A_{t+1}) / var(A_t)`` over the pairs t = 0..T-2. For a branching process with
    immigration, E[A_{t+1} | A_t] = m A_t + h, so the slope estimates m: < 1 subcritical,
    ~ 1 critical, > 1 supercritical. Unitless.

    Returns a float; NaN if A_t is constant over the pairs (e.g. no spikes at all).

    Cost: O(T).

    Unreliable when: the network is subsampled (only part of the neurons recorded): this
    estimator is then biased toward 0 (Wilting & Priesemann 2018, Nat Commun 9:2325; use their
    multistep-regression estimator instead); when the bin does not match the propagation time
    (too short: descendants fall in the same or a later bin; too long: generations overlap);
    for short series (standard error about sqrt((1 - m^2) / T) for a stationary process); and
    when the input drive h varies over time (shared input drift inflates the slope).
    """
    a = np.asarray(activity)
    if a.ndim != 1:
        raise ValueError(f"activity must be a 1-D series of counts per bin, got shape {a.shape}; pass e.g. "
                         "bin_counts(...).sum(axis=1)")
    if a.shape[0] < 3:
        raise ValueError(f"activity must have at least 3 bins, got {a.shape[0]}; use a longer window or "
                         "smaller bins")
    if a.dtype.kind not in "biuf":
        raise ValueError(f"activity must be numeric, got dtype {a.dtype}")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError("activity contains NaN or inf")
    x = a[:-1] - a[:-1].mean()
    y = a[1:] - a[1:].mean()
    sxx = float(x @ x)
    if sxx <= 0.0:
        return float("nan")
    return float(x @ y) / sxx


@numba.njit(cache=True, inline="always")
def _count_in_windows(times, r0, r1, s0, s1, lo_off, hi_off, out):
    """out[r] += #{s in [s0, s1) : times[r] + lo_off <= times[s] < times[r] + hi_off} for r in [r0, r1).

    times[r0:r1] and times[s0:s1] are each sorted ascending, so both window edges only move
    forward (a two-pointer sweep, O(r1 - r0 + s1 - s0))."""
    lo = s0
    hi = s0
    for r in range(r0, r1):
        a = times[r] + lo_off
        b = times[r] + hi_off
        while lo < s1 and times[lo] < a:
            lo += 1
        if hi < lo:
            hi = lo
        while hi < s1 and times[hi] < b:
            hi += 1
        out[r] += hi - lo


@numba.njit(cache=True)
def _bf_kernel(indptr, times, is_ref, pre, post, before, a0, a1, n):
    n_sp = times.shape[0]
    post_cnt = np.zeros(n_sp, dtype=np.int64)
    pre_cnt = np.zeros(n_sp, dtype=np.int64)
    for s in range(pre.shape[0]):
        a = pre[s]
        b = post[s]
        a_lo, a_hi = indptr[a], indptr[a + 1]
        b_lo, b_hi = indptr[b], indptr[b + 1]
        if a_lo == a_hi or b_lo == b_hi:
            continue
        # a's spikes: count its target b's spikes in [t + a0, t + a1)
        _count_in_windows(times, a_lo, a_hi, b_lo, b_hi, a0, a1, post_cnt)
        # b's spikes: count its source a's spikes in [t - before, t)
        _count_in_windows(times, b_lo, b_hi, a_lo, a_hi, -before, 0.0, pre_cnt)
    bf = np.full(n, np.nan)
    for j in range(n):
        tot = 0.0
        m = 0
        for r in range(indptr[j], indptr[j + 1]):
            if is_ref[r]:
                d = pre_cnt[r]
                if d < 1:
                    d = 1
                tot += post_cnt[r] / d
                m += 1
        if m > 0:
            bf[j] = tot / m
    return bf


def branching_factor_nalsm(t_ms, i, pre_idx, post_idx, n, t_start_ms, t_stop_ms, before_ms=4.0,
                           after_ms=(1.0, 5.0), per_neuron=False):
    """NALSM's branching factor (Ivanov & Michmizos 2021, ``compute_branching_factor.py``).

    Definition: only spikes in ``[t_start_ms, t_stop_ms)`` are used. For each neuron j and each
    of its spikes at time t with ``t_start_ms + before_ms <= t < t_stop_ms - before_ms``
    (a "reference" spike)::

        BF_j(t) = #(spikes of j's post-synaptic targets in [t + after_ms[0], t + after_ms[1]))
                  / max(1, #(spikes of j's pre-synaptic sources in [t - before_ms, t)))

    ``BF_j`` is the mean of ``BF_j(t)`` over j's reference spikes (NaN if it has none) and the
    result is the nanmean of ``BF_j`` over the n neurons. With the defaults this is NALSM's
    [t+1, t+5) / [t-4, t) windows, and NALSM used t_start = 25, t_stop = 225 ms of each 250 ms
    sample. Spikes of several targets (or several spikes of one target) are all counted.
    Unitless: ~1 means one spike is followed by about one spike downstream.

    ``pre_idx, post_idx``: equal-length integer arrays, one entry per synapse of the recurrent
    projection(s) (source -> target), indices in ``[0, n)``. Duplicate (pre, post) pairs are
    counted once (NALSM reads the neighbours from a 0/1 connection mask).

    Edge handling (as NALSM): the reference interval keeps ``before_ms`` away from both ends
    (NALSM uses its window length dt = 4 for both margins), so the pre window never reaches
    before ``t_start_ms``; with the default after_ms and integer-ms spike times the post window
    ends by ``t_stop_ms``. Spikes outside ``[t_start_ms, t_stop_ms)`` are never counted, so
    windows that stick out (other after_ms, sub-ms times) are truncated there. NALSM loops over
    integer ms, so two spikes of one neuron in the same ms count once there and twice here
    (impossible with a refractory period of >= 1 step).

    Returns the float (NaN when no neuron has a reference spike), or with ``per_neuron=True``
    the float64 array ``BF_j`` of length n.

    Cost: O(n_spikes log n_spikes) to sort plus O(sum over synapses of (spikes of pre + spikes of
    post)), i.e. about 2 * n_synapses * rate * duration: a 4000-neuron network with 320,000
    synapses at 20 Hz for 1 s is ~13 million window steps: ~0.25 s measured on 2 cores (memory-bound).

    Unreliable when: rates are low (few reference spikes per neuron: the per-neuron means are
    noisy and the nanmean is dominated by the few active neurons), when external input drives
    the targets (their input-driven spikes count as descendants), or in strongly synchronous
    activity (targets fire in the window whether or not the reference spike caused it; the
    measure is correlational, not causal).
    """
    n = chk.positive_int(n, "n")
    t_start_ms, t_stop_ms = chk.window(t_start_ms, t_stop_ms)
    before = chk.positive_float(before_ms, "before_ms")
    try:
        a0, a1 = (float(v) for v in after_ms)
    except (TypeError, ValueError):
        raise ValueError(f"after_ms must be a pair (start, stop) in ms after the spike, got {after_ms!r}; "
                         "e.g. after_ms=(1.0, 5.0)") from None
    if not (np.isfinite(a0) and np.isfinite(a1)) or a0 < 0 or a1 <= a0:
        raise ValueError(f"after_ms must satisfy 0 <= start < stop, got {after_ms!r}; e.g. after_ms=(1.0, 5.0)")
    if t_stop_ms - t_start_ms <= 2 * before:
        raise ValueError(f"the window [t_start_ms, t_stop_ms) = [{t_start_ms}, {t_stop_ms}) leaves no reference "
                         f"interval after removing before_ms={before} at both ends; use a window longer than "
                         f"{2 * before} ms")
    t = chk.spike_times(t_ms)
    idx = chk.neuron_index(i, n, length=t.shape[0])
    pre = chk.neuron_index(pre_idx, n, name="pre_idx")
    post = chk.neuron_index(post_idx, n, name="post_idx", length=pre.shape[0], length_name="pre_idx")

    keep = (t >= t_start_ms) & (t < t_stop_ms)
    t, idx = t[keep], idx[keep]
    order = np.lexsort((t, idx))
    times = np.ascontiguousarray(t[order])
    owner = idx[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=n), out=indptr[1:])
    is_ref = (times >= t_start_ms + before) & (times < t_stop_ms - before)

    if pre.size:
        pairs = np.unique(pre * np.int64(n) + post)
        pre_u, post_u = pairs // n, pairs % n
    else:
        pre_u = post_u = np.zeros(0, dtype=np.int64)
    bf = _bf_kernel(indptr, times, is_ref, pre_u, post_u, before, a0, a1, n)
    if per_neuron:
        return bf
    if not np.any(np.isfinite(bf)):
        return float("nan")
    return float(np.nanmean(bf))
