"""``monitor.spikes``: records the spikes of a population or stimulus."""
from __future__ import annotations

import numpy as np

from engine.backends.numba_backend import renderer
from engine.params import Int, Text
from engine.registry import NodeType, Port, register


@register
class SpikeMonitor(NodeType):
    """Records spike times and indices of the source wired to it.

    The kernel fills a per-chunk buffer; after each chunk the run loop hands the events to
    subscribers and keeps the newest max_events of them in memory (older ones are
    dropped, or appended to files in spill_dir when it is set), so memory stays bounded.
    """

    type_key = "monitor.spikes"
    ports = (Port("spikes", "in", "spikes", required=True, doc="spikes to record"),)
    max_events = Int(20_000_000, bounds=(1, None), doc="events kept in memory (oldest dropped beyond)")
    spill_dir = Text("", doc="if set, every recorded event is also appended to files in this folder")

    @classmethod
    def build(cls, node, b) -> None:
        record_spikes(node, b)


def record_spikes(node, b, keep: bool = True):
    """Record, in the kernel, the spikes of the source wired to ``node``'s "spikes" port into
    a per-chunk buffer the run loop drains. ``keep=False``: handed to the node's own
    analysis each chunk and not stored (the analysis monitors). Returns the source node."""
    src = b.graph.sources(node.id, "spikes")[0]
    n_src = b.graph.size(src.id)
    multi = b.spike_sources[src.id].multi
    if not keep:
        # analysis monitors of one source share one kernel recorder: each chunk's spike arrays
        # are handed to all of them (read-only), instead of the kernel writing every spike
        # once per monitor (measured: ~1 ms per extra recorder per second of COBA-4000)
        owner = next((r.node for r in b.recorders if r.kind == "spikes" and r.info["source"] == src.id
                      and not r.info.get("keep", True)), None)
        if owner is not None:
            b.recorder(node.id, "spikes_alias", source=src.id, owner=owner)
            return src
    cap = max(1 << 16, 8 * n_src)
    nid = node.id
    b.buffer(nid, "t", np.zeros(cap, np.int64), "record")
    b.buffer(nid, "i", np.zeros(cap, np.int32), "record")
    if multi:
        b.buffer(nid, "c", np.zeros(cap, np.int32), "record")
    b.buffer(nid, "n", np.zeros(1, np.int64), "record")
    b.recorder(nid, "spikes", source=src.id, n_src=n_src, multi=multi, cap=cap, keep=keep)
    b.step("monitor", nid, "monitor.spikes", reads=[f"{src.id}.spk"], source=src.id, n_src=n_src, multi=multi)
    return src


@renderer("monitor.spikes")
def _render(step, ctx):
    nid, src = step.node, step.attrs["source"]
    B = lambda k: ctx.b(f"{nid}.{k}")  # noqa: E731
    ctx.prechecks.append(f"if {B('n')}[0] + {step.attrs['n_src']} > {B('t')}.shape[0]:")
    ctx.prechecks.append("    return _s")
    lines = [f"_m = {B('n')}[0]", f"for _k in range({ctx.ns(src)}):",
             f"    {B('t')}[_m] = t", f"    {B('i')}[_m] = {ctx.b(src + '.spk')}[_k]"]
    if step.attrs["multi"]:
        lines.append(f"    {B('c')}[_m] = {ctx.b(src + '.cnt')}[_k]")
    lines += ["    _m += 1", f"{B('n')}[0] = _m"]
    return lines
