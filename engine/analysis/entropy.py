"""Entropy of population "words": the binary pattern of which neurons fired in a time bin.

A word is one row of a ``(n_bins, n_neurons)`` 0/1 matrix; the entropy is that of the empirical
distribution of distinct rows, in bits.
"""
from __future__ import annotations

import math

import numpy as np

from . import _checks as chk

__all__ = ["words", "word_counts", "word_entropy", "entropy_reliability"]

_CORRECTIONS = ("none", "miller_madow")


def words(counts_or_binary) -> np.ndarray:
    """Binarise a ``(n_bins, n_neurons)`` count matrix into population words.

    Definition: ``word[k, j] = 1 if counts[k, j] > 0 else 0`` (one word per bin, one bit per
    neuron). Returns a ``uint8`` array of the same shape. Cost O(n_bins * n_neurons).
    """
    a = np.asarray(counts_or_binary)
    if a.ndim != 2:
        raise ValueError(f"counts_or_binary must be a 2-D (bins x neurons) array, got shape {a.shape}")
    if a.dtype.kind not in "biuf":
        raise ValueError(f"counts_or_binary must be numeric or bool, got dtype {a.dtype}")
    return (a > 0).astype(np.uint8)


def word_counts(binary) -> np.ndarray:
    """How many times each distinct word (row) occurs, in no particular order.

    Words are hashed exactly: each row is packed to bits (``np.packbits``, n_neurons/8 bytes) and
    the packed rows are compared as opaque byte strings (``np.unique`` on a void view), so
    1000-neuron words cost 125 bytes each and no hash collisions are possible.

    Cost: O(N * n_neurons) to pack + O(N log N * n_neurons/8) to sort, for N rows.
    """
    b = chk.binary_matrix(binary, "binary")
    packed = np.ascontiguousarray(np.packbits(b, axis=1))
    void = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, counts = np.unique(void, return_counts=True)
    return counts


def word_entropy(binary, correction="miller_madow") -> float:
    """Shannon entropy, in bits, of the distribution of population words (rows of ``binary``).

    Definition: with ``p_w`` the fraction of the N rows equal to word w,
    ``H_plugin = -sum_w p_w log2 p_w``. With ``correction="miller_madow"`` (default) the
    Miller-Madow bias correction is added: ``H_MM = H_plugin + (m - 1) / (2 N ln 2)`` bits, where
    m is the number of distinct words observed. ``correction="none"`` returns the plug-in value.

    ``binary``: ``(N, n_neurons)`` array of 0/1 (bool or integers); use :func:`words` to binarise
    counts. Rows are samples (time bins), treated as independent draws.

    Returns a float in [0, n_neurons] (+ the correction). All-zero data (no spikes) is one
    constant word: 0 bits.

    Cost: O(N * n_neurons) plus a sort of the N packed rows (see :func:`word_counts`);
    memory O(N * n_neurons / 8).

    Unreliable when: N is not much larger than the number of distinct words (undersampling).
    The plug-in estimate is then biased downward (by about (m - 1) / (2 N ln 2) bits to first
    order, more when many words are unseen), Miller-Madow only corrects the first-order term,
    and when every row is distinct the estimate saturates at log2(N) whatever the true entropy.
    Consecutive bins of a network are also correlated in time, which makes N overstate the
    number of independent samples. See :func:`entropy_reliability`.
    """
    if correction not in _CORRECTIONS:
        raise ValueError(f"correction must be one of {_CORRECTIONS}, got {correction!r}")
    return _entropy_of_counts(word_counts(binary), correction)


def _entropy_of_counts(counts: np.ndarray, correction: str) -> float:
    """The estimate of :func:`word_entropy` from the distinct words' counts."""
    n_samples = float(counts.sum())
    p = counts / n_samples
    h = float(-np.sum(p * np.log2(p)))
    if correction == "miller_madow":
        h += (counts.size - 1) / (2.0 * n_samples * math.log(2.0))
    return h


def entropy_reliability(n_samples, n_observed_words, min_ratio=10.0) -> str:
    """A warning when a word-entropy estimate is undersampled; ``""`` when it looks reliable.

    Rule: the estimate is flagged when ``n_samples < min_ratio * n_observed_words`` (default:
    fewer than 10 samples per observed distinct word), and always when every sample is a
    different word (``n_observed_words == n_samples > 1``: the estimate is then log2(N), a
    ceiling set by the sample size, not by the network). The rule is a heuristic for the
    plug-in/Miller-Madow estimators (Panzeri et al. 2007, J Neurophysiol 98:1064): their bias
    falls like m/N, so N must be much larger than the number of words that occur.

    Returns the warning text (a sentence naming both numbers and what to do), or ``""``.
    Cost O(1).
    """
    n = chk.positive_int(n_samples, "n_samples")
    m = chk.positive_int(n_observed_words, "n_observed_words")
    min_ratio = chk.positive_float(min_ratio, "min_ratio")
    if m > n:
        raise ValueError(f"n_observed_words ({m}) cannot exceed n_samples ({n}); pass the number of distinct words "
                         "found in the samples")
    if n > 1 and m == n:
        return (f"word entropy unreliable: all {n} samples are distinct words, so the estimate is the ceiling "
                f"log2(N) = {math.log2(n):.2f} bits; use fewer neurons per word, longer recordings or coarser bins")
    if n < min_ratio * m:
        return (f"word entropy unreliable: {n} samples for {m} distinct words (< {min_ratio:g} samples per word); "
                "the estimate is biased downward, use fewer neurons per word or more bins")
    return ""
