"""``monitor.branching``: branching ratio (criticality) of a population, per window."""
from __future__ import annotations

import numpy as np

from engine.errors import DesignError, Problem
from engine.params import Int, Num
from engine.registry import Port, register

from .analysis_base import SlidingAnalysisMonitor, trace_views


@register
class BranchingMonitor(SlidingAnalysisMonitor):
    """Branching ratio of the population activity, and NALSM's branching factor when the
    recurrent projection is wired in.

    "ratio": the conventional estimator — least-squares slope of A(t+1) on A(t), A the
    population spike count per bin (≈ 1 critical, < 1 subcritical, > 1 supercritical;
    biased low when only a subset of neurons is observed, Wilting & Priesemann 2018).
    "nalsm" (needs the projection on the weights port, whose source and target are this
    population): for each spike of neuron n at t, spikes of n's targets in [t+1, t+5) ms
    over spikes of n's sources in [t−4, t) ms (at least 1), averaged over spikes, then
    neurons (Ivanov & Michmizos 2021). Cost per window O(bins) and O(spikes × synapses per neuron).
    """

    type_key = "monitor.branching"
    ports = SlidingAnalysisMonitor.ports + (
        Port("weights", "in", "weights", doc="the recurrent projection, for NALSM's branching factor"),)
    traces = ("ratio", "nalsm")
    views = trace_views([("ratio", "branching ratio (activity regression)", "m"),
                         ("nalsm", "branching factor (NALSM)", "BF")])
    bin_ms = Num(4.0, bounds=(0, None), inclusive=(False, True), live=False, doc="bin width of the activity A(t)")
    window_ms = Num(1000.0, bounds=(0, None), inclusive=(False, True), live=False, doc="bins per estimate: window / bin")
    stride_ms = Num(100.0, bounds=(0, None), live=False,
                    doc="a value every stride_ms over the last window_ms (the first windows grow to it); 0: tiling windows")
    max_neurons = Int(1_000_000, bounds=(1, None), live=False,
                      doc="analyse at most this many neurons (NALSM's factor needs them all)")

    @classmethod
    def build_extra(cls, node, b) -> None:
        projs = b.graph.sources(node.id, "weights")
        if not projs:
            return
        proj = projs[0]
        info = b.node_info[proj.id]
        src = b.node_info[node.id]["source"]
        if info.get("pre") != src or info.get("post") != src:
            raise DesignError(Problem("error", "port.weights", f"projection '{proj.id}' connects '{info.get('pre')}' "
                                      f"to '{info.get('post')}', not '{src}' to itself",
                                      "wire the recurrent projection of the analysed population", node=node.id,
                                      port="weights"))
        b.node_info[node.id].update(recurrent=proj.id)

    @classmethod
    def layout(cls, node, sim):
        # the ratio needs only A(t): one summed column, not a bins × neurons matrix; the events
        # only for NALSM's factor
        return True, sim.plan.node_info[node.id].get("recurrent") is not None

    @classmethod
    def measure(cls, node, sim, state, counts, events, t_end_ms):
        from engine.analysis import branching_factor_nalsm, branching_ratio

        activity = counts[:, 0]
        ratio = float(branching_ratio(activity)) if activity.any() and activity.std() > 0 else np.nan
        nalsm = np.nan
        proj = sim.plan.node_info[node.id].get("recurrent")
        if proj is not None and len(state.windows.kept) == sim.plan.node_info[node.id]["n_src"]:
            if "syn" not in state.extra:
                pre, post, _ = sim.connectivity(proj)
                state.extra["syn"] = (pre, post)
            pre, post = state.extra["syn"]
            t, i = events
            t0 = t_end_ms - counts.shape[0] * state.windows.bin_steps * sim.dt
            with np.errstate(all="ignore"):
                nalsm = float(branching_factor_nalsm(t, i, pre, post, len(state.windows.kept), t0, t_end_ms))
        return {"ratio": ratio, "nalsm": nalsm}
