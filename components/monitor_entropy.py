"""``monitor.entropy``: Shannon entropy of binned population words, per window."""
from __future__ import annotations

import numpy as np

from engine.params import Choice, Int, Num
from engine.registry import register

from .analysis_base import SlidingAnalysisMonitor, trace_views


@register
class EntropyMonitor(SlidingAnalysisMonitor):
    """Spike-pattern entropy: the entropy (bits) of the binary population words in each window.

    A word is which of the analysed neurons fired in one bin. The plug-in estimate is
    biased low when words are undersampled; the Miller–Madow correction adds (m − 1)/(2N ln 2)
    bits (m distinct words seen, N bins). The estimate is unreliable unless N is well above
    the number of possible words (2^neurons) — "samples_per_word" (N / distinct words seen)
    is streamed beside it; below ~10 treat the value as a lower bound. Keep max_neurons
    small (≤ 12 or so): with many neurons every word is new and the entropy is just log2 N.
    Cost per window O(bins × neurons).
    """

    type_key = "monitor.entropy"
    traces = ("entropy_bits", "samples_per_word")
    views = trace_views([("entropy_bits", "word entropy", "H (bits)"),
                         ("samples_per_word", "samples per observed word (reliability)", "N / m")])
    bin_ms = Num(2.0, bounds=(0, None), inclusive=(False, True), live=False, doc="bin width (one word per bin)")
    window_ms = Num(1000.0, bounds=(0, None), inclusive=(False, True), live=False, doc="words per estimate: window / bin")
    stride_ms = Num(100.0, bounds=(0, None), live=False,
                    doc="a value every stride_ms over the last window_ms (the first windows grow to it); 0: tiling windows")
    max_neurons = Int(10, bounds=(1, 64), live=False, doc="neurons in a word (a fixed random subset of the source)")
    correction = Choice("miller_madow", objects=["miller_madow", "none"], live=False, doc="bias correction")

    @classmethod
    def layout(cls, node, sim):
        return False, False  # per-neuron counts, no events

    @classmethod
    def measure(cls, node, sim, state, counts, events, t_end_ms):
        from engine.analysis import word_counts
        from engine.analysis.entropy import _entropy_of_counts

        binary = counts > 0
        if binary.shape[1] == 0:
            return {"entropy_bits": np.nan, "samples_per_word": np.nan}
        wc = word_counts(binary)  # once for both values (word_entropy would count them again)
        return {"entropy_bits": _entropy_of_counts(wc, node.values["correction"]),
                "samples_per_word": binary.shape[0] / max(len(wc), 1)}
