"""Weight geometry (spectra, principal components, subspaces, drift) and representational
geometry (RDMs, kernel alignment).

Weight matrices are ``(n_rows, n_pre)``: one row per postsynaptic neuron (or per readout unit),
one column per presynaptic input, so a row is one neuron's incoming weight vector.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.linalg
from scipy.spatial.distance import pdist, squareform

from . import _checks as chk

__all__ = ["singular_values", "effective_rank", "top_components", "subspace_cosine", "weight_drift",
           "weight_histogram", "rdm", "kernel_alignment"]


def singular_values(W) -> np.ndarray:
    """Singular values of a 2-D matrix, in descending order (float64, length min(W.shape)).

    Cost: O(m n min(m, n)) (LAPACK SVD without vectors).
    """
    A = chk.matrix(W, "W")
    return np.linalg.svd(A, compute_uv=False)


def effective_rank(W_or_s) -> float:
    """Effective rank of Roy & Vetterli (2007, EUSIPCO): exp of the entropy of the singular values.

    Definition: with singular values s_k and ``p_k = s_k / sum_k s_k`` (L1-normalised),
    ``erank = exp(-sum_k p_k ln p_k)`` (0 ln 0 = 0). A real number in [1, min(m, n)]: 1 for a
    rank-1 matrix, n for an n x n identity (or any matrix with equal singular values).

    ``W_or_s``: a 2-D matrix, or a 1-D array of its (non-negative) singular values.
    Returns NaN for the zero matrix (no spectrum to normalise).

    Cost: one SVD (see :func:`singular_values`), O(k) given the singular values.

    Unreliable when: small singular values are noise (a noisy low-rank matrix has a large
    effective rank; compare with a shuffled or random matrix of the same size).
    """
    a = np.asarray(W_or_s)
    if a.ndim == 1:
        if a.size == 0:
            raise ValueError("W_or_s is an empty array of singular values; pass a matrix or non-empty values")
        s = a.astype(np.float64)
        if not np.all(np.isfinite(s)) or np.any(s < 0):
            raise ValueError("singular values in W_or_s must be finite and >= 0")
    elif a.ndim == 2:
        s = singular_values(a)
    else:
        raise ValueError(f"W_or_s must be a 2-D matrix or a 1-D array of singular values, got shape {a.shape}")
    total = float(s.sum())
    if total <= 0.0:
        return float("nan")
    p = s[s > 0] / total
    return math.exp(float(-np.sum(p * np.log(p))))


def top_components(W, k=2) -> tuple[np.ndarray, np.ndarray]:
    """PCA of the rows of W: the projections on the top-k principal axes and their variance share.

    Definition: rows are centred (column means removed), ``Wc = U S V^T`` (SVD);
    ``projections = Wc V[:, :k] = U[:, :k] S[:k]`` (rows x k) and
    ``explained_variance_ratio = S[:k]^2 / sum S^2``. Signs are fixed so that the largest-|.|
    loading of each axis is positive (as scikit-learn's ``svd_flip``), so results are
    reproducible. ``k`` must be <= min(rows, n_pre).

    Returns ``(projections, explained_variance_ratio)``; if all rows are equal the projections
    are 0 and the ratios NaN.

    Cost: O(rows * n_pre * min(rows, n_pre)) (thin SVD).

    Unreliable when: rows < n_pre and few (PCA of a handful of points), or when components have
    nearly equal variance (the axes are then not individually identifiable).
    """
    A = chk.matrix(W, "W")
    k = chk.positive_int(k, "k")
    if k > min(A.shape):
        raise ValueError(f"k={k} exceeds min(W.shape)={min(A.shape)}; ask for at most that many components")
    Ac = A - A.mean(axis=0)
    U, S, Vt = np.linalg.svd(Ac, full_matrices=False)
    big = np.argmax(np.abs(Vt[:k]), axis=1)
    signs = np.sign(Vt[np.arange(k), big])
    signs[signs == 0] = 1.0
    proj = U[:, :k] * (S[:k] * signs)
    total = float(np.sum(S ** 2))
    ratio = S[:k] ** 2 / total if total > 0 else np.full(k, np.nan)
    return proj, ratio


def _orthonormal_rows(basis, n_pre: int) -> np.ndarray:
    B = np.asarray(basis)
    if B.ndim == 1:
        B = B[None, :]
    B = chk.matrix(B, "basis")
    if B.shape[1] != n_pre:
        raise ValueError(f"basis must have {n_pre} columns (one per presynaptic input, like dW), got shape "
                         f"{B.shape}; pass the basis vectors as rows (k x n_pre)")
    # rank-revealing QR: keep only the directions the rows really span
    Q, R, _ = scipy.linalg.qr(B.T, mode="economic", pivoting=True)
    d = np.abs(np.diag(R))
    if d.size == 0 or d[0] == 0.0:
        raise ValueError("basis spans only the zero vector (rank 0); pass at least one non-zero basis row")
    rank = int(np.sum(d > d[0] * max(B.shape) * np.finfo(float).eps))
    return Q[:, :rank]


def subspace_cosine(dW, basis, per_row=False):
    """Fraction of a weight change that lies in a subspace: ``||P dW|| / ||dW||``.

    Definition: ``basis`` is ``(k, n_pre)``, its rows spanning a subspace S of the presynaptic
    space (orthonormalised inside by rank-revealing QR, so redundant rows are fine). Each row of
    ``dW`` (``(rows, n_pre)``, or one vector ``(n_pre,)``) is projected onto S, ``P dW = dW Q Q^T``,
    and the result is ``||P dW||_F / ||dW||_F``: the cosine of the angle between dW and its
    projection. 1 if every row of dW lies in S, 0 if every row is orthogonal to S. With
    ``per_row=True`` returns the cosine of each row (NaN for zero rows).

    Returns a float in [0, 1]; NaN if dW = 0.

    Cost: O(k^2 n_pre) for the QR + O(rows * n_pre * k).

    Unreliable when: k is a sizeable fraction of n_pre (a random dW already has cosine about
    sqrt(k / n_pre)), so compare with that chance level.
    """
    D = np.asarray(dW)
    one = D.ndim == 1
    if one:
        D = D[None, :]
    D = chk.matrix(D, "dW")
    Q = _orthonormal_rows(basis, D.shape[1])
    P = (D @ Q) @ Q.T
    if per_row and not one:
        num = np.linalg.norm(P, axis=1)
        den = np.linalg.norm(D, axis=1)
        out = np.full(D.shape[0], np.nan)
        ok = den > 0
        out[ok] = np.minimum(num[ok] / den[ok], 1.0)
        return out
    den = float(np.linalg.norm(D))
    if den == 0.0:
        return float("nan")
    return min(float(np.linalg.norm(P)) / den, 1.0)


def weight_drift(W, W0) -> float:
    """Relative drift ``||W - W0||_F / ||W0||_F`` of a weight matrix from a reference W0.

    Unitless; 0 for no change. NaN if W0 = 0. Any shape, but W and W0 must match.
    Cost: O(size). Unreliable when W0 is near zero (the ratio blows up); use the absolute norm then.
    """
    A = np.asarray(W, dtype=np.float64)
    B = np.asarray(W0, dtype=np.float64)
    if A.shape != B.shape:
        raise ValueError(f"W and W0 must have the same shape, got {A.shape} and {B.shape}")
    if A.size == 0:
        raise ValueError("W and W0 are empty; pass the weight matrices")
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(B))):
        raise ValueError("W or W0 contains NaN or inf")
    ref = float(np.linalg.norm(B))
    if ref == 0.0:
        return float("nan")
    return float(np.linalg.norm(A - B)) / ref


def weight_histogram(w, edges) -> np.ndarray:
    """Histogram of weight values (any shape, flattened) over the bin ``edges``.

    Semantics of ``numpy.histogram``: bins ``[e_k, e_{k+1})``, the last one closed
    ``[e_{-1}, e_{last}]``; values outside the edges and non-finite values are not counted.
    ``edges`` must be 1-D, strictly increasing, at least 2 values. Returns int64 counts of length
    ``len(edges) - 1``. Cost: O(size log(len(edges))).
    """
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or e.size < 2:
        raise ValueError(f"edges must be a 1-D array of at least 2 bin edges, got shape {e.shape}; e.g. "
                         "np.linspace(-3, 3, 61)")
    if not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
        raise ValueError("edges must be finite and strictly increasing")
    v = np.asarray(w, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    return np.histogram(v, bins=e)[0].astype(np.int64)


def _class_means(X, labels):
    A = chk.matrix(X, "X")
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.shape[0] != A.shape[0]:
        raise ValueError(f"labels must be 1-D with one label per row of X ({A.shape[0]}), got shape {lab.shape}")
    classes, inv = np.unique(lab, return_inverse=True)
    sums = np.zeros((classes.size, A.shape[1]))
    np.add.at(sums, inv, A)
    return A, classes, inv, sums / np.bincount(inv)[:, None]


def rdm(X, labels, metric="correlation") -> tuple[np.ndarray, np.ndarray]:
    """Representational dissimilarity matrix between class-mean vectors.

    Definition: for each class c (sorted unique labels) the mean row ``mu_c`` of X
    (``(N, D)``, e.g. spike counts of N trials over D neurons); ``RDM[a, b] = dist(mu_a, mu_b)``
    by ``scipy.spatial.distance.pdist`` with ``metric`` (default "correlation":
    ``1 - Pearson r``, in [0, 2]). Symmetric with a zero diagonal.

    Returns ``(classes, matrix)``. NaN entries where a class mean is constant across D (its
    correlation is undefined).

    Cost: O(N D) for the means + O(C^2 D) for C classes.

    Unreliable when: classes have few trials (noise in the means inflates all dissimilarities;
    use cross-validated distances then) or D is small.
    """
    _, classes, _, means = _class_means(X, labels)
    if classes.size < 2:
        raise ValueError("labels must contain at least 2 classes for a dissimilarity matrix")
    with np.errstate(invalid="ignore", divide="ignore"):
        mat = squareform(pdist(means, metric=metric), checks=False)
    return classes, mat


def kernel_alignment(X, labels) -> float:
    """Centred kernel alignment (linear CKA) between the representation and the labels.

    Definition (Cortes, Mohri & Rostamizadeh 2012; Kornblith et al. 2019, linear kernels): with
    ``K = X X^T``, ``L = Y Y^T`` (Y the one-hot label matrix) and H the centring matrix,
    ``A = <HKH, HLH>_F / (||HKH||_F ||HLH||_F)``. Computed in feature space,
    ``||Xc^T Yc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` with column-centred Xc, Yc (identical
    value, no N x N matrices). In [0, 1]: ~1 when X is (up to rotation and isotropic scaling) the
    class structure, ~0 when unrelated.

    Returns a float; NaN if X is constant or there is a single class.

    Cost: O(N D min(N, D)) (the Gram matrix of the smaller side) + O(N D C).

    Unreliable when: N is small relative to D (a random X then has alignment about
    sqrt(D C) / N rather than 0; compare with shuffled labels), or when a few high-variance
    features dominate (linear CKA weights features by variance).
    """
    A, classes, inv, _ = _class_means(X, labels)
    Y = np.zeros((A.shape[0], classes.size))
    Y[np.arange(A.shape[0]), inv] = 1.0
    Xc = A - A.mean(axis=0)
    Yc = Y - Y.mean(axis=0)
    cross = float(np.sum((Xc.T @ Yc) ** 2))
    gx = Xc.T @ Xc if Xc.shape[1] <= Xc.shape[0] else Xc @ Xc.T
    nx = float(np.linalg.norm(gx))
    ny = float(np.linalg.norm(Yc.T @ Yc))
    if nx == 0.0 or ny == 0.0:
        return float("nan")
    return cross / (nx * ny)
