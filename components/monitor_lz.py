"""``monitor.lz``: Lempel–Ziv (LZ76) complexity of binary spike trains, per window."""
from __future__ import annotations

import numpy as np

from engine.params import Int, Num
from engine.registry import register

from .analysis_base import SlidingAnalysisMonitor, trace_views


@register
class LempelZivMonitor(SlidingAnalysisMonitor):
    """Normalised LZ76 complexity (Kaspar–Schuster) of the binarised trains in each window.

    "population": the window's (bins × neurons) binary matrix flattened neuron by neuron;
    "neuron_mean": the mean of each neuron's own normalised complexity. Normalisation
    c·log2(n)/n makes a random train ≈ 1 and a regular one ≈ 0. Cost per window
    O(bins × neurons) on average (worse for highly repetitive trains).
    """

    type_key = "monitor.lz"
    traces = ("population", "neuron_mean")
    views = trace_views([("population", "LZ complexity (population)", "LZc"),
                         ("neuron_mean", "LZ complexity (mean over neurons)", "LZc")])
    bin_ms = Num(1.0, bounds=(0, None), inclusive=(False, True), live=False, doc="bin width (one symbol per bin)")
    window_ms = Num(200.0, bounds=(0, None), inclusive=(False, True), live=False, doc="symbols per train: window / bin")
    stride_ms = Num(100.0, bounds=(0, None), live=False,
                    doc="a value every stride_ms over the last window_ms (the first windows grow to it); 0: tiling windows")
    max_neurons = Int(500, bounds=(1, None), live=False, doc="analyse at most this many neurons (fixed random subset)")

    @classmethod
    def layout(cls, node, sim):
        return False, False  # per-neuron counts, no events

    @classmethod
    def measure(cls, node, sim, state, counts, events, t_end_ms):
        from engine.analysis.lz import lz76_window

        pop, mean = lz76_window(counts)
        return {"population": pop, "neuron_mean": mean}
