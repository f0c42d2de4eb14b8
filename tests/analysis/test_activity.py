"""engine.analysis.activity: binning, rates, ISI CV, Fano factor, synchrony."""
import math

import numpy as np
import pytest

from engine.analysis import bin_counts, fano_factor, golomb_chi, isi_cv, population_rate, synchrony


def poisson_spikes(rng, n, rate_hz, t_stop_ms):
    k = rng.poisson(n * rate_hz * t_stop_ms * 1e-3)
    return rng.uniform(0.0, t_stop_ms, k), rng.integers(0, n, k)


# ---------------------------------------------------------------- bin_counts
def test_bin_counts_hand_example():
    t = np.array([0.0, 0.5, 1.0, 2.99, 3.0, 9.0, -1.0, 10.0])
    i = np.array([0, 0, 1, 2, 0, 1, 0, 1])
    c = bin_counts(t, i, n=3, bin_ms=1.0, t_start_ms=0.0, t_stop_ms=3.5)  # 3 full bins, [3, 3.5) dropped
    assert c.dtype == np.int32 and c.shape == (3, 3)
    np.testing.assert_array_equal(c, [[2, 0, 0], [0, 1, 0], [0, 0, 1]])


def test_bin_counts_offset_window_and_total():
    rng = np.random.default_rng(0)
    t, i = poisson_spikes(rng, 50, 20.0, 1000.0)
    c = bin_counts(t, i, 50, 5.0, 100.0, 600.0)
    assert c.shape == (100, 50)
    inside = (t >= 100.0) & (t < 600.0)
    assert c.sum() == inside.sum()
    np.testing.assert_array_equal(c.sum(axis=0), np.bincount(i[inside], minlength=50))


def test_bin_counts_float_rounding_of_bin_number():
    # 1000 / 0.1 is 9999.999999999998 in floating point: still 10000 bins
    c = bin_counts(np.array([999.95]), np.array([0]), 1, 0.1, 0.0, 1000.0)
    assert c.shape == (10000, 1) and c[-1, 0] == 1


def test_bin_counts_empty_spikes_gives_zeros():
    c = bin_counts(np.array([]), np.array([], dtype=int), 4, 2.0, 0.0, 10.0)
    assert c.shape == (5, 4) and not c.any()


@pytest.mark.parametrize("kwargs, word", [
    (dict(n=0), "^n must"), (dict(n=-3), "^n must"), (dict(bin_ms=0.0), "^bin_ms"), (dict(bin_ms=-1.0), "^bin_ms"),
    (dict(t_stop_ms=0.0), "^t_stop_ms"), (dict(t_stop_ms=0.5), "shorter than one bin"),
    (dict(i=np.array([0, 5])), r"^i must lie in \[0, n\)"), (dict(i=np.array([0])), "^i has 1 entries"),
    (dict(t_ms=np.zeros((2, 1))), "^t_ms must be a 1-D"), (dict(n=2.5), "^n must"),
])
def test_bin_counts_bad_input(kwargs, word):
    args = dict(t_ms=np.array([1.0, 2.0]), i=np.array([0, 1]), n=2, bin_ms=1.0, t_start_ms=0.0, t_stop_ms=10.0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=word):
        bin_counts(**args)


# ---------------------------------------------------------------- population_rate
def test_population_rate_hand_example():
    centers, rate = population_rate(np.array([0.5, 1.5, 1.6]), n=2, bin_ms=1.0, t_start_ms=0.0, t_stop_ms=2.0)
    np.testing.assert_allclose(centers, [0.5, 1.5])
    np.testing.assert_allclose(rate, [1 / (2 * 1e-3), 2 / (2 * 1e-3)])  # 500 Hz and 1000 Hz per neuron


def test_population_rate_poisson_mean():
    # 1000 neurons at 10 Hz, 100 bins of 100 ms: 1000 expected spikes per bin, so the mean rate over bins
    # has SE sqrt(1000 / 100) / (1000 * 0.1 s) = 0.032 Hz; tolerance 0.16 Hz = 5 SE
    rng = np.random.default_rng(1)
    t, _ = poisson_spikes(rng, 1000, 10.0, 10_000.0)
    _, rate = population_rate(t, 1000, 100.0, 0.0, 10_000.0)
    assert rate.shape == (100,)
    assert abs(rate.mean() - 10.0) < 0.16


def test_population_rate_empty():
    centers, rate = population_rate(np.array([]), 10, 1.0, 0.0, 5.0)
    assert centers.shape == (5,) and np.all(rate == 0)


# ---------------------------------------------------------------- isi_cv
def test_isi_cv_hand_and_regular_and_nan():
    # neuron 0: ISIs 1 and 3 -> mean 2, std (ddof=0) 1 -> CV 0.5 (given unsorted);
    # neuron 1: regular -> 0; neuron 2: two spikes -> NaN; neuron 3: none -> NaN
    t = np.array([4.0, 0.0, 1.0, 0.0, 10.0, 20.0, 30.0, 5.0, 6.0])
    i = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2])
    cv = isi_cv(t, i, 4)
    np.testing.assert_allclose(cv[:2], [0.5, 0.0], atol=1e-12)
    assert np.isnan(cv[2]) and np.isnan(cv[3])


def test_isi_cv_poisson_is_one():
    # 20 neurons x ~1000 intervals of an exponential distribution: CV SE ~ 1/sqrt(1000) = 0.03 per neuron,
    # ~0.007 for the mean over 20; tolerance 0.05 on the mean (7 SE), 0.15 per neuron (5 SE)
    rng = np.random.default_rng(2)
    t, i = poisson_spikes(rng, 20, 50.0, 20_000.0)
    cv = isi_cv(t, i, 20)
    assert abs(np.mean(cv) - 1.0) < 0.05
    assert np.all(np.abs(cv - 1.0) < 0.15)


def test_isi_cv_empty():
    assert np.all(np.isnan(isi_cv(np.array([]), np.array([], dtype=int), 3)))


# ---------------------------------------------------------------- fano_factor
def test_fano_factor_cases():
    rng = np.random.default_rng(3)
    # Poisson counts: FF = 1 with SE ~ sqrt(2 / n_bins) = 0.014 for 10000 bins; tolerance 0.07 (5 SE)
    c = rng.poisson(5.0, size=(10_000, 3))
    c[:, 1] = 4  # constant -> 0
    c[:, 2] = 0  # silent -> NaN
    ff = fano_factor(c)
    assert abs(ff[0] - 1.0) < 0.07
    assert ff[1] == 0.0 and np.isnan(ff[2])
    np.testing.assert_allclose(fano_factor(np.array([[0, 2], [2, 2]]))[0], 1.0)  # var 1, mean 1


def test_fano_factor_bad_input():
    with pytest.raises(ValueError, match="counts"):
        fano_factor(np.zeros(5))
    with pytest.raises(ValueError, match="counts"):
        fano_factor(np.zeros((0, 5)))


# ---------------------------------------------------------------- synchrony
def brute_mean_corr(x):
    r = np.corrcoef(x.T)
    m = r.shape[0]
    return (r.sum() - np.trace(r)) / (m * (m - 1))


def test_synchrony_matches_brute_force():
    rng = np.random.default_rng(4)
    shared = rng.poisson(2.0, size=(500, 1))
    c = rng.poisson(1.0, size=(500, 40)) + shared
    c[:, 5] = 0  # silent: excluded
    c[:, 7] = 3  # constant: excluded
    keep = [j for j in range(40) if j not in (5, 7)]
    assert synchrony(c) == pytest.approx(brute_mean_corr(c[:, keep].astype(float)), abs=1e-12)


def test_synchrony_identical_and_independent():
    rng = np.random.default_rng(5)
    x = rng.poisson(3.0, size=(2000, 1))
    assert synchrony(np.repeat(x, 10, axis=1)) == pytest.approx(1.0, abs=1e-12)
    # 50 independent neurons, 2000 bins: SE of the mean of 1225 pairwise r ~ sqrt(2 / (50*49*2000)) = 6.4e-4;
    # tolerance 0.005 (~8 SE)
    assert abs(synchrony(rng.poisson(3.0, size=(2000, 50)))) < 0.005


def test_synchrony_subsampling_is_seeded():
    rng = np.random.default_rng(6)
    c = rng.poisson(1.0, size=(300, 60)) + rng.poisson(1.0, size=(300, 1))
    a = synchrony(c, max_neurons=20, seed=11)
    assert a == synchrony(c, max_neurons=20, seed=11)
    cols = np.sort(np.random.default_rng(11).choice(np.arange(60), size=20, replace=False))
    assert a == pytest.approx(brute_mean_corr(c[:, cols].astype(float)), abs=1e-12)
    assert synchrony(c, max_neurons=None) == pytest.approx(brute_mean_corr(c.astype(float)), abs=1e-12)


def test_synchrony_degenerate_is_nan():
    assert math.isnan(synchrony(np.zeros((10, 5))))
    one = np.zeros((10, 5))
    one[3, 2] = 1
    assert math.isnan(synchrony(one))


# ---------------------------------------------------------------- golomb_chi
def test_golomb_chi_cases():
    rng = np.random.default_rng(7)
    x = rng.poisson(3.0, size=(1000, 1))
    assert golomb_chi(np.repeat(x, 20, axis=1)) == pytest.approx(1.0, abs=1e-12)
    # independent, equal variance: chi^2 = 1/n in expectation; the variance estimates over 5000 bins have a
    # relative SE ~ sqrt(2/5000) = 0.02, so chi (0.1 for n=100) is within ~0.001; tolerance 0.01
    chi = golomb_chi(rng.poisson(3.0, size=(5000, 100)))
    assert abs(chi - 0.1) < 0.01
    assert math.isnan(golomb_chi(np.zeros((10, 4))))
