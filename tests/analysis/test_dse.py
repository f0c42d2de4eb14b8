"""engine.analysis.dse: diffusion spectral entropy / mutual information against the dse-dsmi package."""
import math

import numpy as np
import pytest

from engine.analysis import diffusion_spectral_entropy, diffusion_spectral_mutual_information


@pytest.fixture
def dse_dsmi():
    """The authors' package (a test-only dependency: the engine never imports it)."""
    return pytest.importorskip("dse_dsmi")


def blobs(seed, n=300, d=20, centers=3, spread=4.0):
    rng = np.random.default_rng(seed)
    c = rng.normal(0.0, spread, size=(centers, d))
    lab = rng.integers(0, centers, n)
    return c[lab] + rng.normal(0.0, 1.0, size=(n, d)), lab


@pytest.mark.peer
@pytest.mark.parametrize("sigma", [1.0, 3.0, 10.0])
@pytest.mark.parametrize("t", [1, 2, 5])
def test_dse_equals_package(dse_dsmi, sigma, t):
    # same math, different rounding (squared distances formed directly, elementwise normalisation, LAPACK driver):
    # relative tolerance 1e-8 (observed ~1e-15)
    X, _ = blobs(0)
    ref = dse_dsmi.diffusion_spectral_entropy(X, gaussian_kernel_sigma=sigma, t=t)
    assert diffusion_spectral_entropy(X, sigma=sigma, t=t) == pytest.approx(ref, rel=1e-8)


@pytest.mark.peer
@pytest.mark.parametrize("sigma", [2.0, 4.0])
def test_dse_of_sparse_spike_counts_equals_package(dse_dsmi, sigma):
    # spike-count samples take the exact sparse Gram product (no centring): same tolerance as above
    X = np.random.default_rng(3).poisson(0.04, size=(400, 300)).astype(float)
    ref = dse_dsmi.diffusion_spectral_entropy(X, gaussian_kernel_sigma=sigma, t=1)
    assert diffusion_spectral_entropy(X, sigma=sigma, t=1) == pytest.approx(ref, rel=1e-8)


@pytest.mark.peer
def test_dse_subsampling_draws_the_package_rows(dse_dsmi):
    X, _ = blobs(1, n=400)
    ref = dse_dsmi.diffusion_spectral_entropy(X, gaussian_kernel_sigma=5.0, max_N=150, random_seed=3)
    info = diffusion_spectral_entropy(X, sigma=5.0, max_n=150, seed=3, return_info=True)
    assert info["dse"] == pytest.approx(ref, rel=1e-8)
    assert info["n_used"] == 150 and info["n_total"] == 400 and info["subsampled"] is True
    assert diffusion_spectral_entropy(X, sigma=5.0, max_n=150, seed=3) == info["dse"]
    full = diffusion_spectral_entropy(X, sigma=5.0, return_info=True)
    assert full["subsampled"] is False and full["n_used"] == 400


@pytest.mark.peer
@pytest.mark.parametrize("sigma, t", [(3.0, 1), (6.0, 2)])
def test_dsmi_equals_package_discrete(dse_dsmi, sigma, t):
    # the same random subsets are drawn (random.Random(seed).sample == random.seed(seed); random.sample), so the
    # values agree to rounding: absolute tolerance 1e-8 bits
    X, lab = blobs(2)
    ref, _ = dse_dsmi.diffusion_spectral_mutual_information(X, lab, gaussian_kernel_sigma=sigma, t=t, random_seed=4)
    ours = diffusion_spectral_mutual_information(X, lab, sigma=sigma, t=t, seed=4)
    assert ours == pytest.approx(ref, abs=1e-8)
    assert ours > 0.1  # labels explain the blobs


@pytest.mark.peer
def test_dsmi_equals_package_continuous_scalar(dse_dsmi):
    # a float label is min-max scaled and binned into 10 clusters, as in the package
    X, lab = blobs(3)
    y = lab + np.random.default_rng(5).normal(0.0, 0.2, lab.size)
    ref, clusters = dse_dsmi.diffusion_spectral_mutual_information(X, y, gaussian_kernel_sigma=3.0, n_clusters=10)
    assert np.unique(clusters).size > 3
    assert diffusion_spectral_mutual_information(X, y, sigma=3.0) == pytest.approx(ref, abs=1e-8)


def test_dse_single_repeated_point_is_zero():
    X = np.tile(np.arange(20.0), (200, 1))
    assert diffusion_spectral_entropy(X) == pytest.approx(0.0, abs=1e-9)
    assert diffusion_spectral_entropy(X[:1]) == pytest.approx(0.0, abs=1e-12)


def test_dse_isolated_points_is_log2_n():
    X = np.eye(50) * 1000.0  # every pair ~1414 apart: G = identity at sigma = 1
    assert diffusion_spectral_entropy(X, sigma=1.0) == pytest.approx(math.log2(50), abs=1e-9)


def test_dse_rises_with_intrinsic_dimension():
    rng = np.random.default_rng(6)
    n, d = 400, 10
    line = np.outer(rng.uniform(-1, 1, n), rng.normal(size=d) / math.sqrt(d)) * 3.0
    ball = rng.normal(size=(n, d))
    ball *= (rng.uniform(0, 1, (n, 1)) ** (1 / d)) / np.linalg.norm(ball, axis=1, keepdims=True) * 3.0
    # same extent (radius 3), sigma = 2 so that neither cloud is saturated (all isolated would give log2 n = 8.6):
    # measured 1.4 bits (line) and 6.2 bits (ball)
    h_line = diffusion_spectral_entropy(line, sigma=2.0)
    h_ball = diffusion_spectral_entropy(ball, sigma=2.0)
    assert h_ball < math.log2(n) - 1.0
    assert h_ball > h_line + 2.0


def test_dsmi_one_class_is_zero_and_label_shuffle_lowers_it():
    X, lab = blobs(7, n=200)
    assert diffusion_spectral_mutual_information(X, np.zeros(200, dtype=int), sigma=3.0) == pytest.approx(0.0,
                                                                                                         abs=1e-12)
    assert diffusion_spectral_mutual_information(X, np.full(200, 1.5), sigma=3.0) == pytest.approx(0.0, abs=1e-12)
    shuffled = np.random.default_rng(8).permutation(lab)
    assert (diffusion_spectral_mutual_information(X, shuffled, sigma=3.0)
            < diffusion_spectral_mutual_information(X, lab, sigma=3.0) - 0.1)


def test_bad_input():
    X, lab = blobs(9, n=30)
    with pytest.raises(ValueError, match="^X must be a 2-D"):
        diffusion_spectral_entropy(np.zeros(5))
    with pytest.raises(ValueError, match="^X must have at least 1 row"):
        diffusion_spectral_entropy(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="^sigma"):
        diffusion_spectral_entropy(X, sigma=0.0)
    with pytest.raises(ValueError, match="^t must"):
        diffusion_spectral_entropy(X, t=-1)
    with pytest.raises(ValueError, match="^max_n"):
        diffusion_spectral_entropy(X, max_n=0)
    with pytest.raises(ValueError, match="^labels has 29 entries"):
        diffusion_spectral_mutual_information(X, lab[:29])
    with pytest.raises(ValueError, match="^labels must be 1-D"):
        diffusion_spectral_mutual_information(X, np.zeros((30, 2)))
    with pytest.raises(ValueError, match="^n_repeats"):
        diffusion_spectral_mutual_information(X, lab, n_repeats=0)
