"""``monitor.signal``: records a signal output (labels, targets, gates, errors) over time."""
from __future__ import annotations

import numpy as np

from engine.backends.numba_backend import renderer
from engine.errors import DesignError, Problem
from engine.params import Int, Num
from engine.registry import NodeType, Port, register


def signal_buffer(b, node_id: str, port: str) -> str:
    """The buffer holding the value of output ``port`` of node ``node_id``: the one its type
    publishes in ``node_info[node_id]["signals"]``, else ``"{node_id}.{port}"``."""
    return b.node_info.get(node_id, {}).get("signals", {}).get(port, f"{node_id}.{port}")


@register
class SignalMonitor(NodeType):
    """Records the signal wired to it (one row of all its values) every every_ms.

    Signals are per-step values that nodes publish on 'signal' outputs: a dataset
    stimulus' label, a cued stimulus' targets and attention gate, a three-factor rule's
    error (the third factor). Keeps the newest max_samples rows in memory; plotted as
    traces, one line per value (column k: the k-th value, e.g. the k-th output's error).
    """

    type_key = "monitor.signal"
    ports = (Port("signal", "in", "signal", required=True, doc="the signal output to record"),)
    every_ms = Num(1.0, bounds=(0, None), inclusive=(False, True), live=False, doc="sampling interval")
    max_samples = Int(1_000_000, bounds=(1, None), doc="samples kept in memory (oldest dropped beyond)")

    @classmethod
    def build(cls, node, b) -> None:
        nid = node.id
        e = b.graph.inputs(nid, "signal")[0]
        buf = signal_buffer(b, e.source, e.source_port)
        if buf not in b.buffers:
            raise DesignError(Problem("error", "port.signal", f"'{e.source}' publishes no value on its "
                                      f"'{e.source_port}' output", "wire a signal output that carries values "
                                      "(a stimulus' label/target/gate, a rule's error)", node=nid, port="signal"))
        width = int(b.buffers[buf].shape[0])
        every = max(1, int(round(float(node.values["every_ms"]) / b.dt)))
        cap = int(max(16, min(8192, (1 << 22) // max(width, 1))))
        b.buffer(nid, "data", np.zeros((cap, width), np.float64), "record")
        b.buffer(nid, "tstep", np.zeros(cap, np.int64), "record")
        b.buffer(nid, "rows", np.zeros(1, np.int64), "record")
        b.set_params(node, lambda nd: {"every": np.int64(every)})
        b.recorder(nid, "state", source=e.source, variables=[e.source_port], neurons=np.arange(width, dtype=np.int64),
                   every=every, cap=cap)
        b.step("monitor", nid, "monitor.signal", reads=[buf], buffer=buf, k=width)


@renderer("monitor.signal")
def _render(step, ctx):
    nid = step.node
    B = lambda k: ctx.b(f"{nid}.{k}")  # noqa: E731
    src = ctx.b(step.attrs["buffer"])
    ctx.prechecks.append(f"if {B('rows')}[0] >= {B('data')}.shape[0]:")
    ctx.prechecks.append("    return _s")
    return [f"if t % {ctx.p(nid, 'every')} == 0:", f"    _r = {B('rows')}[0]", f"    {B('tstep')}[_r] = t",
            f"    for _c in range({step.attrs['k']}):", f"        {B('data')}[_r, _c] = {src}[_c]",
            f"    {B('rows')}[0] = _r + 1"]
