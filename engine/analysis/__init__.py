"""Measures of the running network: pure numpy/scipy (numba where a loop is unavoidable) functions.

Spike data convention: ``t_ms`` (float spike times, ms), ``i`` (int neuron indices in ``[0, n)``)
and ``n`` (population size); binned counts are ``(n_bins, n)``; binary rasters are 0/1
(``uint8``/bool) ``(n_bins, n)``. Bad arguments raise ``ValueError`` naming the argument and the
fix; empty spike data gives the documented NaN/zeros.

Modules: :mod:`.activity` (binning, rates, CV, Fano, synchrony), :mod:`.entropy` (population word
entropy), :mod:`.lz` (Lempel-Ziv 1976 complexity), :mod:`.branching` (branching ratio and NALSM's
branching factor), :mod:`.dse` (diffusion spectral entropy / mutual information) and
:mod:`.geometry` (weight and representational geometry).
"""
from .activity import bin_counts, fano_factor, golomb_chi, isi_cv, population_rate, synchrony
from .branching import branching_factor_nalsm, branching_ratio
from .dse import diffusion_spectral_entropy, diffusion_spectral_mutual_information
from .entropy import entropy_reliability, word_counts, word_entropy, words
from .geometry import (effective_rank, kernel_alignment, rdm, singular_values, subspace_cosine, top_components,
                       weight_drift, weight_histogram)
from .lz import lz76, lz76_normalized, lz76_per_neuron, lz76_population, lz76_window

__all__ = [
    "bin_counts", "population_rate", "isi_cv", "fano_factor", "synchrony", "golomb_chi",
    "words", "word_counts", "word_entropy", "entropy_reliability",
    "lz76", "lz76_normalized", "lz76_population", "lz76_per_neuron", "lz76_window",
    "branching_ratio", "branching_factor_nalsm",
    "diffusion_spectral_entropy", "diffusion_spectral_mutual_information",
    "singular_values", "effective_rank", "top_components", "subspace_cosine", "weight_drift",
    "weight_histogram", "rdm", "kernel_alignment",
]
