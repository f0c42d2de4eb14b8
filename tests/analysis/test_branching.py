"""engine.analysis.branching: the branching-ratio regression and NALSM's branching factor."""
import math
import time

import numpy as np
import pytest

from engine.analysis import branching_factor_nalsm, branching_ratio


def galton_watson(m, h, steps, a0, seed):
    """A_{t+1} ~ Poisson(m A_t + h): a branching process with offspring mean m and immigration h."""
    rng = np.random.default_rng(seed)
    out = np.empty(steps)
    a = a0
    for t in range(steps):
        out[t] = a
        a = rng.poisson(m * a + h)
    return out


# ---------------------------------------------------------------- branching_ratio
def test_subcritical_recovers_m():
    # stationary AR(1)-like series: SE of the slope ~ sqrt((1 - m^2) / T) = 0.0019 for T = 1e5 (0.0021 measured
    # over 20 seeds); tolerance 0.01 (~5 SE)
    assert branching_ratio(galton_watson(0.8, 10.0, 100_000, 50, seed=0)) == pytest.approx(0.8, abs=0.01)


def test_critical_is_one():
    # m = 1 with small immigration (h = 1) grows only linearly (~1e4 after 1e4 steps); the unit-root slope is
    # super-consistent (SD 0.0003 over 20 seeds); tolerance 0.005
    m_hat = branching_ratio(galton_watson(1.0, 1.0, 10_000, 10, seed=1))
    assert m_hat == pytest.approx(1.0, abs=0.005)


def test_supercritical_short_horizon():
    # m = 1.2 over 50 steps (grows to ~1e5, no cap needed); SD 0.0022 over 20 seeds; tolerance 0.015
    m_hat = branching_ratio(galton_watson(1.2, 1.0, 50, 10, seed=2))
    assert m_hat == pytest.approx(1.2, abs=0.015)
    assert m_hat > 1.0


def test_ordering_sub_critical_super():
    sub = branching_ratio(galton_watson(0.9, 5.0, 20_000, 50, seed=3))
    crit = branching_ratio(galton_watson(1.0, 1.0, 5_000, 10, seed=3))
    sup = branching_ratio(galton_watson(1.1, 1.0, 80, 10, seed=3))
    assert sub < crit < sup


def test_subsampling_biases_toward_zero():
    # documented limitation (Wilting & Priesemann 2018): observing 5% of events pulls the estimate far below m
    a = galton_watson(0.95, 5.0, 100_000, 100, seed=4)
    sub = np.random.default_rng(5).binomial(a.astype(np.int64), 0.05)
    assert branching_ratio(a) == pytest.approx(0.95, abs=0.01)
    assert branching_ratio(sub) < 0.6


def test_branching_ratio_degenerate_and_bad_input():
    assert math.isnan(branching_ratio(np.zeros(100)))
    assert branching_ratio(np.array([1, 2, 4, 8, 16])) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="^activity must have at least 3"):
        branching_ratio(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="^activity must be a 1-D"):
        branching_ratio(np.zeros((5, 2)))


# ---------------------------------------------------------------- branching_factor_nalsm
def nalsm_reference(t, i, pre, post, n, start, end, dt=4):
    """A direct port of combra-lab/NALSM compute_branching_factor.py (integer-ms spike times; neighbours from a
    0/1 mask; spikes filtered to [start, end); reference times range(start + dt, end - dt))."""
    keep = (t >= start) & (t < end)
    ft, fn = t[keep], i[keep]
    mask = np.zeros((n, n), dtype=bool)
    mask[pre, post] = True
    per_neuron = []
    for nid in range(n):
        posts = np.flatnonzero(mask[nid])
        pres = np.flatnonzero(mask[:, nid])
        pre_counts, post_counts = [], []
        for tt in range(start + dt, end - dt):
            if np.any(fn[ft == tt] == nid):
                w = fn[(ft >= tt - dt) & (ft < tt)]
                pre_counts.append(sum(int(np.sum(w == s)) for s in pres))
                w = fn[(ft >= tt + 1) & (ft < tt + 1 + dt)]
                post_counts.append(sum(int(np.sum(w == s)) for s in posts))
        if pre_counts:
            bf = np.asarray(post_counts) / np.clip(np.asarray(pre_counts), 1.0, n * dt + 100)
            per_neuron.append(np.average(bf))
        else:
            per_neuron.append(np.nan)
    return np.nanmean(per_neuron), np.array(per_neuron)


def hand_network():
    # synapses 0->1, 0->2, 3->0, 1->3 (0->1 listed twice: a mask counts it once); neuron 4 is silent
    pre = np.array([0, 0, 3, 1, 0])
    post = np.array([1, 2, 0, 3, 1])
    spikes = {0: [2.0, 10.0, 20.0], 1: [12.0, 13.5, 22.0, 37.0], 2: [14.0, 30.0], 3: [7.0, 8.0, 18.0, 45.0]}
    t = np.array([s for v in spikes.values() for s in v])
    i = np.array([k for k, v in spikes.items() for _ in v])
    return t, i, pre, post


def test_nalsm_hand_built_network():
    # window [0, 40): reference spikes in [4, 36); by hand (post in [t+1, t+5) / max(1, pre in [t-4, t))):
    #   n0: t=10: (2 + 1) / 2 = 1.5, t=20: 1 / 1 = 1          -> 1.25   (t=2 is in the margin)
    #   n1: t=12: 0/1, t=13.5: 1/1, t=22: 0/1                 -> 1/3    (t=37 in the margin)
    #   n2: no targets                                        -> 0
    #   n3: t=7, 8, 18: one n0 spike each, no n1 spike before -> 1      (t=45 outside the window, never counted)
    #   n4: silent -> NaN, left out of the nanmean
    t, i, pre, post = hand_network()
    bf = branching_factor_nalsm(t, i, pre, post, 5, 0.0, 40.0, per_neuron=True)
    np.testing.assert_allclose(bf[:4], [1.25, 1 / 3, 0.0, 1.0], rtol=0, atol=1e-15)
    assert np.isnan(bf[4])
    assert branching_factor_nalsm(t, i, pre, post, 5, 0.0, 40.0) == pytest.approx((1.25 + 1 / 3 + 0 + 1) / 4)


def test_nalsm_matches_reference_port_on_random_network():
    rng = np.random.default_rng(10)
    n = 60
    mask = (rng.random((n, n)) < 0.1) & ~np.eye(n, dtype=bool)
    pre, post = np.nonzero(mask)
    raster = rng.random((250, n)) < 0.04  # 40 Hz at 1 ms, at most one spike per neuron and ms
    tt, ii = np.nonzero(raster)
    t = tt.astype(float)
    ours = branching_factor_nalsm(t, ii, pre, post, n, 25.0, 225.0, per_neuron=True)
    ref_mean, ref = nalsm_reference(tt, ii, pre, post, n, 25, 225)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
    assert branching_factor_nalsm(t, ii, pre, post, n, 25.0, 225.0) == pytest.approx(ref_mean, abs=1e-12)


def tree_forest(k, generations, n_trees, t0):
    """Disjoint k-ary trees: every spike of a node makes each of its k children spike exactly 2 ms later."""
    pre, post, t, i = [], [], [], []
    nid = 0
    for _ in range(n_trees):
        level = [nid]
        t.append(t0)
        i.append(nid)
        nid += 1
        for g in range(1, generations):
            nxt = []
            for parent in level:
                for _ in range(k):
                    pre.append(parent)
                    post.append(nid)
                    t.append(t0 + 2.0 * g)
                    i.append(nid)
                    nxt.append(nid)
                    nid += 1
            level = nxt
    return np.array(t), np.array(i), np.array(pre), np.array(post), nid


@pytest.mark.parametrize("k", [1, 2, 3])
def test_nalsm_cascade_gives_k(k):
    # generations at t0, t0+2, ..., t0+8. Edge handling: with t_start = t0 - 4 and t_stop = t0 + 9, the reference
    # interval [t0, t0+5) holds generations 0-2; generations 3-4 fall in the final margin and only serve as
    # descendants. Each reference spike has exactly k descendants in [t+1, t+5) and at most one ancestor in
    # [t-4, t) (roots: none, max(1, 0) = 1), so BF = k exactly
    t, i, pre, post, n = tree_forest(k, 5, 10, t0=100.0)
    assert branching_factor_nalsm(t, i, pre, post, n, 96.0, 109.0) == pytest.approx(k, abs=1e-12)


def test_nalsm_cascade_edge_effect_with_leaves_as_references():
    # with a long window the leaves (81 per tree, no targets) are reference spikes too: BF = 40 * 3 / 121
    t, i, pre, post, n = tree_forest(3, 5, 10, t0=100.0)
    assert branching_factor_nalsm(t, i, pre, post, n, 96.0, 140.0) == pytest.approx(40 * 3 / 121, abs=1e-12)


def test_nalsm_empty_and_bad_input():
    pre, post = np.array([0, 1]), np.array([1, 0])
    assert math.isnan(branching_factor_nalsm(np.array([]), np.array([], dtype=int), pre, post, 2, 0.0, 100.0))
    assert math.isnan(branching_factor_nalsm(np.array([1.0]), np.array([0]), pre, post, 2, 0.0, 100.0))  # margin
    assert branching_factor_nalsm(np.array([50.0]), np.array([0]), pre[:0], post[:0], 2, 0.0, 100.0) == 0.0
    args = dict(t_ms=np.array([50.0]), i=np.array([0]), pre_idx=pre, post_idx=post, n=2, t_start_ms=0.0,
                t_stop_ms=100.0)
    for bad, pattern in [(dict(post_idx=np.array([1])), "^post_idx has 1 entries"),
                         (dict(pre_idx=np.array([0, 7])), r"^pre_idx must lie in \[0, n\)"),
                         (dict(t_stop_ms=8.0), "no reference interval"), (dict(n=0), "^n must"),
                         (dict(before_ms=0.0), "^before_ms"), (dict(after_ms=(5.0, 1.0)), "^after_ms"),
                         (dict(after_ms=3.0), "^after_ms"), (dict(t_stop_ms=-1.0), "^t_stop_ms")]:
        with pytest.raises(ValueError, match=pattern):
            branching_factor_nalsm(**{**args, **bad})


def test_nalsm_speed_coba_size():
    # 4000 neurons x 80 synapses, 20 Hz for 1 s: ~0.2 s measured on 2 cores; bound 2 s for a loaded machine
    rng = np.random.default_rng(12)
    n, k = 4000, 80
    pre = np.repeat(np.arange(n), k)
    post = rng.integers(0, n, n * k)
    m = rng.poisson(20 * n)
    t, i = rng.uniform(0.0, 1000.0, m), rng.integers(0, n, m)
    branching_factor_nalsm(t[:50], i[:50], pre[:50], post[:50], n, 0.0, 1000.0)  # compile / load the cache
    start = time.perf_counter()
    bf = branching_factor_nalsm(t, i, pre, post, n, 0.0, 1000.0)
    assert time.perf_counter() - start < 2.0
    # Poisson spikes: ~6.4 target spikes per 4 ms window over ~6.4 source spikes -> about 1
    assert 0.8 < bf < 1.6
