"""``monitor.weights``: snapshots of a projection's weights every k ms."""
from __future__ import annotations

import numpy as np

from engine import rng
from engine.params import Int, Num
from engine.registry import NodeType, Port, register


@register
class WeightMonitor(NodeType):
    """Snapshots of a projection's weights, every every_ms (the run loop aligns chunk ends).

    Large projections are subsampled to max_synapses synapses (a fixed random subset) so
    each snapshot stays small; the newest max_snapshots are kept in memory.
    """

    type_key = "monitor.weights"
    ports = (Port("weights", "in", "weights", required=True, doc="projection whose weights are recorded"),)
    every_ms = Num(100.0, bounds=(0, None), inclusive=(False, True), live=False, doc="snapshot interval")
    max_synapses = Int(100_000, bounds=(1, None), doc="record at most this many synapses (random subset)")
    max_snapshots = Int(1000, bounds=(1, None), doc="snapshots kept in memory (oldest dropped beyond)")

    @classmethod
    def build(cls, node, b) -> None:
        proj = b.graph.sources(node.id, "weights")[0]
        info = b.node_info[proj.id]
        n_syn = info["n_syn"]
        k = min(n_syn, int(node.values["max_synapses"]))
        if k < n_syn:
            key = rng.node_key(b.seed, node.id, "subset")
            subset = np.sort(np.argsort(rng.uniform_np(key, 0, np.arange(n_syn)), kind="stable")[:k])
        else:
            subset = np.arange(n_syn)
        every = max(1, int(round(float(node.values["every_ms"]) / b.dt)))
        b.recorder(node.id, "weights", source=proj.id, subset=subset, every=every,
                   max_snapshots=int(node.values["max_snapshots"]))
        b.node_info[node.id].update(every_steps=every)
