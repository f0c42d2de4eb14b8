"""Connectivity rules, sampled with the counter-based generator into CSR (rows = presynaptic).

All samplers are deterministic in (seed, projection id) and cost O(synapses) except the
distance rule, which visits every pair (it is meant for liquids of up to ~10^4 neurons).
"""
from __future__ import annotations

import math

import numba
import numpy as np

from .rng import step_key, uniform, uniform_pos


@numba.njit(cache=True)
def _row_targets(sk, n_post, p, log1mp, i, allow_self, out):
    """Targets of row i, in increasing order, by geometric skipping; returns their number."""
    j = -1
    d = 0
    m = 0
    while True:
        if p >= 1.0:
            j += 1
        else:
            u = uniform_pos(sk, d)
            d += 1
            j += 1 + int(math.floor(math.log(u) / log1mp))
        if j >= n_post:
            return m
        if not allow_self and j == i:
            continue
        if out.shape[0] > 0:
            out[m] = j
        m += 1


@numba.njit(cache=True)
def fixed_probability(n_pre, n_post, p, allow_self, key):
    """Each pair independently with probability p; O(synapses), CSR (indptr, post) directly.

    Two passes over the same counter-based draws: count per row, then fill.
    """
    indptr = np.zeros(n_pre + 1, np.int64)
    if p <= 0.0:
        return indptr, np.empty(0, np.int32)
    log1mp = math.log(1.0 - p) if p < 1.0 else 0.0
    none = np.empty(0, np.int32)
    for i in range(n_pre):
        indptr[i + 1] = indptr[i] + _row_targets(step_key(key, i), n_post, p, log1mp, i, allow_self, none)
    post = np.empty(indptr[n_pre], np.int32)
    for i in range(n_pre):
        _row_targets(step_key(key, i), n_post, p, log1mp, i, allow_self, post[indptr[i]:indptr[i + 1]])
    return indptr, post


@numba.njit(cache=True)
def fixed_indegree(n_pre, n_post, k, allow_self, key):
    """Every postsynaptic neuron gets exactly k distinct presynaptic partners (Floyd's method)."""
    pool = n_pre - (0 if allow_self else 1)
    pre = np.empty(n_post * k, np.int32)
    post = np.empty(n_post * k, np.int32)
    mark = np.zeros(n_pre, np.bool_)
    chosen = np.empty(k, np.int32)
    m = 0
    for j in range(n_post):
        sk = step_key(key, j)
        q = 0
        for r in range(pool - k, pool):
            x = int(uniform(sk, q) * (r + 1))
            if x > r:
                x = r
            if mark[x]:
                x = r
            mark[x] = True
            chosen[q] = x
            q += 1
        for q in range(k):
            mark[chosen[q]] = False
            if not allow_self and chosen[q] >= j:
                chosen[q] += 1  # skip j itself: pool index -> neuron index
        chosen.sort()
        for q in range(k):
            pre[m] = chosen[q]
            post[m] = j
            m += 1
    return pre, post


@numba.njit(cache=True)
def _distance_row(sk, pos_pre, pos_post, i, c, lam2, skip_self, out):
    m = 0
    for j in range(pos_post.shape[0]):
        if skip_self and i == j:
            continue
        d2 = 0.0
        for a in range(3):
            dd = pos_pre[i, a] - pos_post[j, a]
            d2 += dd * dd
        if uniform(sk, j) < c * math.exp(-d2 / lam2):
            if out.shape[0] > 0:
                out[m] = j
            m += 1
    return m


@numba.njit(cache=True)
def distance_rule(pos_pre, pos_post, c, lam, skip_self, key):
    """P(i->j) = c * exp(-(d_ij / lam)^2) on positions (NALSM, MODELS.md A); CSR directly."""
    n_pre = pos_pre.shape[0]
    indptr = np.zeros(n_pre + 1, np.int64)
    none = np.empty(0, np.int32)
    for i in range(n_pre):
        indptr[i + 1] = indptr[i] + _distance_row(step_key(key, i), pos_pre, pos_post, i, c, lam * lam, skip_self, none)
    post = np.empty(indptr[n_pre], np.int32)
    for i in range(n_pre):
        _distance_row(step_key(key, i), pos_pre, pos_post, i, c, lam * lam, skip_self, post[indptr[i]:indptr[i + 1]])
    return indptr, post


def csr_to_coo(indptr: np.ndarray, post: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pre = np.repeat(np.arange(len(indptr) - 1, dtype=np.int32), np.diff(indptr))
    return pre, post


def all_to_all(n_pre: int, n_post: int, allow_self: bool) -> tuple[np.ndarray, np.ndarray]:
    pre = np.repeat(np.arange(n_pre, dtype=np.int32), n_post)
    post = np.tile(np.arange(n_post, dtype=np.int32), n_pre)
    if not allow_self:
        keep = pre != post
        pre, post = pre[keep], post[keep]
    return pre, post


def one_to_one(n_pre: int, n_post: int) -> tuple[np.ndarray, np.ndarray]:
    n = min(n_pre, n_post)
    a = np.arange(n, dtype=np.int32)
    return a, a.copy()


def to_csr(pre: np.ndarray, post: np.ndarray, n_pre: int, *extra: np.ndarray):
    """Sort synapses by (pre, post) and return ``indptr, post, *extra`` in that order."""
    order = np.lexsort((post, pre))
    counts = np.bincount(pre, minlength=n_pre)
    indptr = np.zeros(n_pre + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    return (indptr, post[order].astype(np.int32), *(x[order] for x in extra)), order


def grid_positions(shape: tuple[int, int, int]) -> np.ndarray:
    """Integer lattice points of a 3-D grid, in C order, as float64 (n, 3)."""
    g = np.indices(shape).reshape(3, -1).T.astype(np.float64)
    return g


def parse_grid(text: str) -> tuple[int, int, int] | None:
    if not text:
        return None
    parts = text.lower().replace("×", "x").split("x")
    dims = tuple(int(p) for p in parts)
    while len(dims) < 3:
        dims = dims + (1,)
    return dims  # type: ignore[return-value]
