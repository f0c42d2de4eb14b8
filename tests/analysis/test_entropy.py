"""engine.analysis.entropy: population word entropy against closed forms."""
import itertools
import math

import numpy as np
import pytest

from engine.analysis import entropy_reliability, word_counts, word_entropy, words


def h2(p):
    return -p * math.log2(p) - (1 - p) * math.log2(1 - p)


def plugin_se(k, p, n):
    """First-order standard error of the plug-in entropy of k independent Bernoulli(p) bits from n samples:
    sqrt(Var[-log2 P(W)] / n), and Var[-log2 P(W)] = k p (1-p) log2((1-p)/p)^2 for independent bits."""
    return math.sqrt(k * p * (1 - p) * math.log2((1 - p) / p) ** 2 / n)


def test_words_binarises():
    c = np.array([[0, 3, 1], [2, 0, 0]])
    w = words(c)
    assert w.dtype == np.uint8
    np.testing.assert_array_equal(w, [[0, 1, 1], [1, 0, 0]])


@pytest.mark.parametrize("k, p", [(4, 0.2), (6, 0.3), (8, 0.1), (8, 0.3)])
def test_independent_bernoulli_matches_closed_form(k, p):
    # H = k h(p). Tolerance: 5 first-order standard errors (0.007-0.02 bits at N = 200k) plus, for the plug-in,
    # its first-order bias (m - 1) / (2 N ln 2) <= 0.001 bits
    n = 200_000
    rng = np.random.default_rng(1000 + k)
    b = (rng.random((n, k)) < p).astype(np.uint8)
    exact = k * h2(p)
    se = plugin_se(k, p, n)
    bias = (2 ** k - 1) / (2 * n * math.log(2))
    assert abs(word_entropy(b, correction="none") - exact) < 5 * se + bias
    assert abs(word_entropy(b) - exact) < 5 * se


def test_miller_madow_beats_plugin_when_undersampled():
    # k = 6, p = 0.3, N = 200 samples (64 possible words, ~40 seen): over 200 seeds the mean plug-in error is
    # about -0.25 bits and the Miller-Madow one about -0.08 (SE of each mean ~0.007 bits), so MM must be
    # closer, here by at least a factor 2 (a margin of > 10 SE)
    k, p, n = 6, 0.3, 200
    exact = k * h2(p)
    err_plugin, err_mm = [], []
    for seed in range(200):
        b = (np.random.default_rng(seed).random((n, k)) < p).astype(np.uint8)
        err_plugin.append(word_entropy(b, correction="none") - exact)
        err_mm.append(word_entropy(b, correction="miller_madow") - exact)
    assert np.mean(err_plugin) < -0.15  # biased downward
    assert abs(np.mean(err_mm)) < abs(np.mean(err_plugin)) / 2


def test_constant_word_is_zero_bits():
    b = np.zeros((500, 30), dtype=np.uint8)
    b[:, 3] = 1
    assert word_entropy(b) == 0.0 and word_entropy(b, correction="none") == 0.0
    assert word_entropy(np.zeros((10, 5), dtype=bool)) == 0.0  # no spikes: one word


@pytest.mark.parametrize("k, reps", [(1, 1), (3, 4), (8, 2)])
def test_uniform_words_is_k_bits(k, reps):
    allw = np.array(list(itertools.product([0, 1], repeat=k)), dtype=np.uint8)
    b = np.tile(allw, (reps, 1))
    n = b.shape[0]
    assert word_entropy(b, correction="none") == pytest.approx(k, abs=1e-12)
    assert word_entropy(b) == pytest.approx(k + (2 ** k - 1) / (2 * n * math.log(2)), abs=1e-12)


def test_thousand_neuron_words():
    rng = np.random.default_rng(7)
    b = (rng.random((400, 1000)) < 0.1).astype(np.uint8)
    b[200:] = b[:200]  # 200 distinct words, each twice
    assert word_entropy(b, correction="none") == pytest.approx(math.log2(200), abs=1e-12)
    assert sorted(word_counts(b)) == [2] * 200


def test_packed_hash_equals_naive_counting():
    rng = np.random.default_rng(8)
    for k in (1, 7, 8, 9, 17):
        b = (rng.random((300, k)) < 0.4).astype(np.uint8)
        naive = {}
        for row in map(tuple, b):
            naive[row] = naive.get(row, 0) + 1
        assert sorted(word_counts(b)) == sorted(naive.values())
        p = np.array(list(naive.values())) / 300
        assert word_entropy(b, correction="none") == pytest.approx(-np.sum(p * np.log2(p)), abs=1e-12)


def test_word_entropy_bad_input():
    with pytest.raises(ValueError, match="^correction"):
        word_entropy(np.zeros((4, 2)), correction="jackknife")
    with pytest.raises(ValueError, match="only 0 and 1"):
        word_entropy(np.array([[0, 2], [1, 1]]))
    with pytest.raises(ValueError, match="^binary"):
        word_entropy(np.zeros((0, 3)))  # empty window
    with pytest.raises(ValueError, match="^binary"):
        word_entropy(np.zeros(5))


def test_entropy_reliability():
    assert entropy_reliability(10_000, 50) == ""
    msg = entropy_reliability(100, 40)
    assert "unreliable" in msg and "100" in msg and "40" in msg
    assert "log2(N)" in entropy_reliability(64, 64)
    with pytest.raises(ValueError, match="n_observed_words"):
        entropy_reliability(10, 11)
    with pytest.raises(ValueError, match="n_samples"):
        entropy_reliability(0, 1)
