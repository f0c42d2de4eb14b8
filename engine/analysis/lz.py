"""Lempel-Ziv (1976) complexity of binary spike trains.

The count is the number of phrases of the LZ76 "exhaustive history" of the sequence, computed as
in Kaspar & Schuster (1987, Phys Rev A 36:842): scanning left to right, each new phrase is the
longest prefix of the rest that already occurs starting earlier in the sequence (the occurrence
may overlap the phrase itself), plus one new symbol; a final phrase that reaches the end of the
sequence counts as one. This is the count ``antropy.lziv_complexity`` returns.

Two exact implementations of that same count are used:

* the Kaspar-Schuster scan (the literal published pseudocode), O(n^2 / log n) on random data,
  for sequences up to ``_KS_MAX_LEN`` = 256 symbols, where it is as fast or faster;
* a suffix-automaton version for longer sequences, O(n) time and memory: with the automaton of
  the whole sequence and each state's first end position, "x[l:l+k+1] occurs starting before l"
  is "first_end(state) <= l + k - 1", so each phrase costs O(its length). The Kaspar-Schuster
  scan would take ~20 s on an 800,000-symbol population train; this takes a fraction of a second.

Both give the same integer on every input (tested against each other and against antropy).
"""
from __future__ import annotations

import math

import numba
import numpy as np

from . import _checks as chk

__all__ = ["lz76", "lz76_normalized", "lz76_population", "lz76_per_neuron"]

_KS_MAX_LEN = 256  # measured crossover: at 1000 symbols the scan is already 4-6x slower


@numba.njit(cache=True, nogil=True)
def _lz76_ks(x):
    """Kaspar-Schuster scan, literally the published pseudocode (Kaspar & Schuster 1987)."""
    n = x.shape[0]
    if n < 2:
        return n
    c = 1
    l = 1
    i = 0
    k = 1
    kmax = 1
    while True:
        if x[i + k - 1] == x[l + k - 1]:
            k += 1
            if l + k > n:
                c += 1
                break
        else:
            if k > kmax:
                kmax = k
            i += 1
            if i == l:
                c += 1
                l += kmax
                if l + 1 > n:
                    break
                i = 0
                k = 1
                kmax = 1
            else:
                k = 1
    return c


@numba.njit(cache=True, nogil=True)
def _lz76_sam(x):
    """The same count in O(n) with a suffix automaton over the alphabet {0, 1}."""
    n = x.shape[0]
    if n < 2:
        return n
    m = 2 * n + 1
    nxt = np.full((m, 2), -1, dtype=np.int32)
    link = np.full(m, -1, dtype=np.int32)
    length = np.zeros(m, dtype=np.int32)
    first_end = np.zeros(m, dtype=np.int32)  # smallest end index of the strings of a state
    size = 1
    last = 0
    for pos in range(n):
        ch = x[pos]
        cur = size
        size += 1
        length[cur] = length[last] + 1
        first_end[cur] = pos
        p = last
        while p != -1 and nxt[p, ch] == -1:
            nxt[p, ch] = cur
            p = link[p]
        if p == -1:
            link[cur] = 0
        else:
            q = nxt[p, ch]
            if length[p] + 1 == length[q]:
                link[cur] = q
            else:
                clone = size
                size += 1
                length[clone] = length[p] + 1
                nxt[clone, 0] = nxt[q, 0]
                nxt[clone, 1] = nxt[q, 1]
                link[clone] = link[q]
                first_end[clone] = first_end[q]
                while p != -1 and nxt[p, ch] == q:
                    nxt[p, ch] = clone
                    p = link[p]
                link[q] = clone
                link[cur] = clone
        last = cur
    c = 0
    l = 0
    while l < n:
        s = 0
        k = 0
        # extend the phrase while x[l : l+k+1] also occurs starting before l
        while l + k < n:
            t = nxt[s, x[l + k]]
            if first_end[t] <= l + k - 1:
                s = t
                k += 1
            else:
                break
        c += 1
        l += k + 1
    return c


@numba.njit(cache=True, nogil=True)
def _lz76_count(x):
    if x.shape[0] <= _KS_MAX_LEN:
        return _lz76_ks(x)
    return _lz76_sam(x)


@numba.njit(cache=True, nogil=True)
def _lz76_rows(b):
    out = np.empty(b.shape[0], dtype=np.int64)
    for r in range(b.shape[0]):
        out[r] = _lz76_count(b[r])
    return out


def _normalize(c: int, n: int) -> float:
    # written exactly as antropy 0.2.3 does for binary input: c / (n / log(n, 2)), so values agree to the last bit
    if n == 1:
        return 0.0
    return c / (n / math.log(n, 2))


def lz76(x) -> int:
    """Lempel-Ziv 1976 complexity (number of distinct phrases) of a binary sequence.

    Definition: the number of phrases in the Kaspar-Schuster parsing (module docstring).
    Unitless integer in [1, n]; about n / log2(n) for a random fair-coin sequence, O(log n)-ish
    for periodic sequences (e.g. 2 for all-zeros of length >= 2, 3 for 0101...).

    ``x``: 1-D array of 0/1 (bool or integers), length >= 1. Length 1 gives 1.

    Cost: O(n^2 / log n) for n <= 256 (Kaspar-Schuster scan), O(n) time and ~40 bytes/symbol
    memory above (suffix automaton); both exact. About 0.1 s for 800,000 symbols.

    Unreliable when: used to compare sequences of different lengths or densities (use
    :func:`lz76_normalized`, and keep length and rate fixed across the compared conditions:
    sparse trains have low complexity whatever their temporal structure).
    """
    b = chk.binary_vector(x, "x")
    return int(_lz76_count(np.ascontiguousarray(b)))


def lz76_normalized(x) -> float:
    """Normalised LZ76 complexity ``c * log2(n) / n`` of a binary sequence.

    Definition: as antropy's ``lziv_complexity(x, normalize=True)`` for a binary alphabet (which
    always uses base 2, even for a constant sequence): ``c / (n / log2(n))`` with c =
    :func:`lz76`. About 1 for a long random fair-coin sequence, lower for structured or sparse
    sequences (it tends to the binary entropy h(p) of an i.i.d. sequence as n grows). Length 1
    gives 0 (log2(1) = 0; antropy raises ZeroDivisionError there).

    Cost: as :func:`lz76`. Unreliable for short sequences (n < ~100: the c ~ n/log2 n asymptotics
    do not hold yet, values can exceed 1).
    """
    b = chk.binary_vector(x, "x")
    return _normalize(int(_lz76_count(np.ascontiguousarray(b))), b.shape[0])


def lz76_population(binary_matrix) -> float:
    """Normalised LZ76 complexity of a whole population raster.

    Definition: ``binary_matrix`` is ``(n_bins, n_neurons)`` 0/1 (time x neurons). It is flattened
    neuron-major, i.e. each neuron's train of n_bins symbols one after another
    (``binary_matrix.T.ravel()``), and :func:`lz76_normalized` of that sequence of length
    n_bins * n_neurons is returned. Neuron-major keeps each train's temporal structure intact
    (repeated patterns across neurons are found as repeats of whole sub-trains); the value depends
    on the neuron order.

    Cost: O(n_bins * n_neurons) time and ~40 bytes per symbol (suffix automaton) once
    n_bins * n_neurons > 256; about 0.1 s for 200 bins x 4000 neurons.

    Unreliable when: the raster is very sparse (complexity then mostly reflects the rate) or
    short; compare conditions at equal size and rate.
    """
    b = chk.binary_matrix(binary_matrix, "binary_matrix")
    seq = np.ascontiguousarray(b.T).ravel()
    return _normalize(int(_lz76_count(seq)), seq.shape[0])


def lz76_per_neuron(binary_matrix, normalize=True) -> np.ndarray:
    """LZ76 complexity of each neuron's train (each column of a ``(n_bins, n_neurons)`` 0/1 matrix).

    Returns a float64 array of length n_neurons: the normalised complexity
    (:func:`lz76_normalized`) by default, or the raw phrase counts with ``normalize=False``.
    Silent neurons give the all-zeros value (2 phrases for n_bins >= 2).

    Cost: O(n_neurons * n_bins) (one compiled loop; the quadratic scan only for n_bins <= 256).
    Unreliable for short trains (see :func:`lz76_normalized`).
    """
    b = chk.binary_matrix(binary_matrix, "binary_matrix")
    rows = np.ascontiguousarray(b.T)
    c = _lz76_rows(rows).astype(np.float64)
    if not normalize:
        return c
    nb = b.shape[0]
    if nb == 1:
        return np.zeros_like(c)
    return c / (nb / math.log(nb, 2))
