"""engine.analysis.geometry: weight geometry and representational geometry on analytic cases."""
import math

import numpy as np
import pytest

from engine.analysis import (effective_rank, kernel_alignment, rdm, singular_values, subspace_cosine, top_components,
                             weight_drift, weight_histogram)


def test_singular_values_descending():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(30, 12))
    s = singular_values(W)
    assert s.shape == (12,) and np.all(np.diff(s) <= 0)
    np.testing.assert_allclose(s, np.sqrt(np.sort(np.linalg.eigvalsh(W.T @ W))[::-1]), rtol=1e-10)


def test_effective_rank_analytic():
    rng = np.random.default_rng(1)
    assert effective_rank(np.outer(rng.normal(size=20), rng.normal(size=15))) == pytest.approx(1.0, abs=1e-9)
    assert effective_rank(np.eye(7)) == pytest.approx(7.0, abs=1e-12)
    assert effective_rank(np.diag([3.0, 3.0, 0.0])) == pytest.approx(2.0, abs=1e-12)
    # from singular values: p = (1/2, 1/4, 1/4): exp(1.5 ln 2) = 2^1.5
    assert effective_rank(np.array([2.0, 1.0, 1.0])) == pytest.approx(2 ** 1.5, abs=1e-12)
    assert math.isnan(effective_rank(np.zeros((3, 4))))
    with pytest.raises(ValueError, match="W_or_s"):
        effective_rank(np.array([1.0, -1.0]))


@pytest.mark.peer
def test_top_components_against_sklearn():
    sklearn_decomp = pytest.importorskip("sklearn.decomposition")
    rng = np.random.default_rng(2)
    W = rng.normal(size=(50, 8)) @ np.diag([5, 3, 1, 1, 0.5, 0.5, 0.1, 0.1]) + 2.0
    proj, ratio = top_components(W, k=3)
    pca = sklearn_decomp.PCA(n_components=3, svd_solver="full").fit(W)
    np.testing.assert_allclose(ratio, pca.explained_variance_ratio_, rtol=1e-10)
    ref = pca.transform(W)
    # sign conventions may differ: compare up to a sign per component
    for c in range(3):
        sgn = np.sign(ref[:, c] @ proj[:, c])
        np.testing.assert_allclose(proj[:, c], sgn * ref[:, c], atol=1e-9)
    assert proj.shape == (50, 3)


def test_top_components_rank_one_and_errors():
    W = np.outer(np.arange(10.0), [1.0, 2.0, 0.0])
    proj, ratio = top_components(W, k=2)
    assert ratio[0] == pytest.approx(1.0) and ratio[1] == pytest.approx(0.0, abs=1e-12)
    # centred projections on the first axis are +- the centred distances along it
    np.testing.assert_allclose(np.abs(proj[:, 0]), np.abs((np.arange(10.0) - 4.5) * math.sqrt(5)), atol=1e-9)
    with pytest.raises(ValueError, match="^k=4 exceeds"):
        top_components(W, k=4)


def test_subspace_cosine_inside_orthogonal_and_partial():
    rng = np.random.default_rng(3)
    basis = rng.normal(size=(3, 20))
    inside = rng.normal(size=(5, 3)) @ basis
    q, _ = np.linalg.qr(basis.T)
    ortho = rng.normal(size=(5, 20))
    ortho -= ortho @ q @ q.T
    assert subspace_cosine(inside, basis) == pytest.approx(1.0, abs=1e-12)
    assert subspace_cosine(ortho, basis) == pytest.approx(0.0, abs=1e-12)
    assert subspace_cosine(inside[0], basis) == pytest.approx(1.0, abs=1e-12)  # a single vector
    # half in, half out with equal norms: cosine 1/sqrt(2)
    a, b = inside[0] / np.linalg.norm(inside[0]), ortho[0] / np.linalg.norm(ortho[0])
    assert subspace_cosine(a + b, basis) == pytest.approx(1 / math.sqrt(2), abs=1e-12)
    per = subspace_cosine(np.vstack([inside[:2], ortho[:2], np.zeros(20)]), basis, per_row=True)
    np.testing.assert_allclose(per[:4], [1, 1, 0, 0], atol=1e-12)
    assert np.isnan(per[4])


def test_subspace_cosine_redundant_basis_and_errors():
    e = np.eye(6)
    basis = np.vstack([e[0], e[1], e[0] + e[1]])  # rank 2: the third row adds no direction
    assert subspace_cosine(e[2], basis) == pytest.approx(0.0, abs=1e-12)
    assert subspace_cosine(e[0] - 2 * e[1], basis) == pytest.approx(1.0, abs=1e-12)
    assert math.isnan(subspace_cosine(np.zeros((2, 6)), basis))
    with pytest.raises(ValueError, match="^basis must have 6 columns"):
        subspace_cosine(e, np.ones((2, 5)))
    with pytest.raises(ValueError, match="rank 0"):
        subspace_cosine(e, np.zeros((2, 6)))


def test_weight_drift_and_histogram():
    W0 = np.array([[3.0, 0.0], [0.0, 4.0]])
    assert weight_drift(W0, W0) == 0.0
    assert weight_drift(W0 * 1.5, W0) == pytest.approx(0.5)
    assert math.isnan(weight_drift(W0, np.zeros((2, 2))))
    with pytest.raises(ValueError, match="same shape"):
        weight_drift(W0, np.zeros(4))
    counts = weight_histogram(np.array([[-1.0, 0.0, 0.5], [1.0, 3.0, np.nan]]), edges=[-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(counts, [1, 3])  # last bin closed: 1.0 counts, 3.0 and NaN do not
    with pytest.raises(ValueError, match="^edges"):
        weight_histogram(np.zeros(3), edges=[1.0, 0.0])


def test_rdm_known_values():
    X = np.array([[1, 2, 3], [1, 2, 3], [3, 2, 1], [2, 4, 6], [1, 2, 4.0]])
    labels = np.array(["a", "a", "b", "c", "d"])
    classes, m = rdm(X, labels)
    assert list(classes) == ["a", "b", "c", "d"]
    np.testing.assert_allclose(m, m.T)
    np.testing.assert_allclose(np.diag(m), 0.0)
    assert m[0, 1] == pytest.approx(2.0)  # r = -1
    assert m[0, 2] == pytest.approx(0.0, abs=1e-12)  # r = +1 (scaled copy)
    r = np.corrcoef([1, 2, 3], [1, 2, 4])[0, 1]
    assert m[0, 3] == pytest.approx(1 - r)
    _, me = rdm(X, labels, metric="euclidean")
    assert me[0, 2] == pytest.approx(math.sqrt(1 + 4 + 9))
    with pytest.raises(ValueError, match="at least 2 classes"):
        rdm(X, np.zeros(5))


def test_kernel_alignment_separated_random_and_invariances():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 4, 1000)
    centers = rng.normal(size=(4, 20)) * 10.0
    # tight orthogonal class codes: X = one-hot * 5 + noise 0.01 -> alignment = 1 - O(noise^2); tolerance 1e-3
    onehot = np.eye(4)[labels]
    assert kernel_alignment(onehot * 5 + rng.normal(0, 0.01, (1000, 4)), labels) == pytest.approx(1.0, abs=1e-3)
    sep = kernel_alignment(centers[labels] + rng.normal(size=(1000, 20)) * 0.1, labels)
    assert sep > 0.7  # well separated but non-orthogonal class means: high, below 1
    # random X: expected alignment ~ sqrt(D C) / N = sqrt(20 * 4) / 1000 ~ 0.01; tolerance 0.05
    assert kernel_alignment(rng.normal(size=(1000, 20)), labels) < 0.05
    # invariant to rotation and isotropic scaling of X; matches the explicit N x N centred-kernel formula
    X = centers[labels][:200] + rng.normal(size=(200, 20))
    q, _ = np.linalg.qr(rng.normal(size=(20, 20)))
    a = kernel_alignment(X, labels[:200])
    assert kernel_alignment(3.0 * X @ q, labels[:200]) == pytest.approx(a, abs=1e-12)
    H = np.eye(200) - 1 / 200
    K, Y = X @ X.T, np.eye(4)[labels[:200]]
    Kc, Lc = H @ K @ H, H @ (Y @ Y.T) @ H
    assert a == pytest.approx(np.sum(Kc * Lc) / (np.linalg.norm(Kc) * np.linalg.norm(Lc)), abs=1e-12)
    # wide X (D > N) takes the other Gram branch
    Xw = rng.normal(size=(50, 300))
    H = np.eye(50) - 1 / 50
    K, Y = Xw @ Xw.T, np.eye(4)[labels[:50]]
    Kc, Lc = H @ K @ H, H @ (Y @ Y.T) @ H
    assert kernel_alignment(Xw, labels[:50]) == pytest.approx(np.sum(Kc * Lc) / (np.linalg.norm(Kc) *
                                                                                 np.linalg.norm(Lc)), abs=1e-12)
    assert math.isnan(kernel_alignment(np.ones((10, 3)), np.arange(10) % 2))
    assert math.isnan(kernel_alignment(rng.normal(size=(10, 3)), np.zeros(10)))
