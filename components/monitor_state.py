"""``monitor.state``: records chosen state variables of chosen neurons."""
from __future__ import annotations

import numpy as np

from engine.backends.numba_backend import renderer
from engine.errors import Problem
from engine.params import Int, Num, Text
from engine.registry import NodeType, Port, register

NEURONS_PATTERN = r"\s*(all|\d+\s*:\s*\d+|\d+(\s*,\s*\d+)*)\s*"


def parse_neurons(text: str, n: int) -> np.ndarray:
    text = text.strip()
    if text == "all":
        return np.arange(n, dtype=np.int64)
    if ":" in text:
        a, b_ = (int(x) for x in text.split(":"))
        return np.arange(a, b_, dtype=np.int64)
    return np.asarray([int(x) for x in text.split(",")], np.int64)


@register
class StateMonitor(NodeType):
    """Records state variables (e.g. v) and summed inputs (e.g. g_exc) of chosen neurons.

    Samples every every_ms; keeps the newest max_samples rows in memory.
    """

    type_key = "monitor.state"
    ports = (Port("state", "in", "state", required=True, doc="the population whose state is recorded"),)
    variables = Text("v", pattern=r"\s*[a-z_][a-z0-9_]*(\s*,\s*[a-z_][a-z0-9_]*)*\s*",
                     pattern_hint="comma-separated names such as 'v, g_exc'", doc="variables to record")
    neurons = Text("0:10", pattern=NEURONS_PATTERN, pattern_hint="'all', a range 'a:b' or a list '0, 5, 9'",
                   doc="which neurons")
    every_ms = Num(0.1, bounds=(0, None), inclusive=(False, True), live=False, doc="sampling interval")
    max_samples = Int(1_000_000, bounds=(1, None), doc="samples kept in memory (oldest dropped beyond)")

    @classmethod
    def _vars(cls, node):
        return [v.strip() for v in node.values["variables"].split(",") if v.strip()]

    @classmethod
    def check(cls, node, graph):
        srcs = graph.sources(node.id, "state")
        if not srcs:
            return []
        src = srcs[0]
        out = []
        m = getattr(src.type, "model", None)
        avail = []
        if m is not None:
            mod = m()
            avail = list(mod.State._fields) + list(mod.Inputs._fields)
        for v in cls._vars(node):
            if v not in avail:
                out.append(Problem("error", "param.variable", f"'{src.id}' ({src.key}) has no variable '{v}'",
                                   f"choose from {', '.join(avail)}", node=node.id, param="variables"))
        n = graph.size(src.id)
        try:
            idx = parse_neurons(node.values["neurons"], n)
            if len(idx) == 0 or idx.min() < 0 or idx.max() >= n:
                raise ValueError
        except ValueError:
            out.append(Problem("error", "param.bounds", f"neurons '{node.values['neurons']}' is empty or leaves "
                               f"the population '{src.id}' of {n} neurons", f"use indices in [0, {n})",
                               node=node.id, param="neurons"))
        return out

    @classmethod
    def build(cls, node, b) -> None:
        src = b.graph.sources(node.id, "state")[0]
        n = b.graph.size(src.id)
        idx = parse_neurons(node.values["neurons"], n)
        names = cls._vars(node)
        info = b.node_info[src.id]
        every = max(1, int(round(float(node.values["every_ms"]) / b.dt)))
        width = len(idx) * len(names)
        cap = int(max(16, min(8192, (1 << 22) // max(width, 1))))
        nid = node.id
        b.buffer(nid, "idx", idx, "const")
        b.buffer(nid, "data", np.zeros((cap, width), np.float64), "record")
        b.buffer(nid, "tstep", np.zeros(cap, np.int64), "record")
        b.buffer(nid, "rows", np.zeros(1, np.int64), "record")
        exprs, reads = [], []
        for v in names:
            if v in info["state"]:
                exprs.append([f"{src.id}.{v}"])
            else:
                exprs.append(list(info["inputs"][v]))
            reads += exprs[-1]
        b.set_params(node, lambda nd: {"every": np.int64(every)})
        b.recorder(nid, "state", source=src.id, variables=names, neurons=idx, every=every, cap=cap)
        b.step("monitor", nid, "monitor.state", reads=reads, exprs=tuple(map(tuple, exprs)), k=len(idx))


@renderer("monitor.state")
def _render(step, ctx):
    nid = step.node
    B = lambda k: ctx.b(f"{nid}.{k}")  # noqa: E731
    ctx.prechecks.append(f"if {B('rows')}[0] >= {B('data')}.shape[0]:")
    ctx.prechecks.append("    return _s")
    k = step.attrs["k"]
    lines = [f"if t % {ctx.p(nid, 'every')} == 0:", f"    _r = {B('rows')}[0]", f"    {B('tstep')}[_r] = t",
             f"    for _c in range({k}):", f"        _j = {B('idx')}[_c]"]
    for vi, srcs in enumerate(step.attrs["exprs"]):
        e = " + ".join(f"{ctx.b(s)}[_j]" for s in srcs) if srcs else "0.0"
        lines.append(f"        {B('data')}[_r, {vi * k} + _c] = {e}")
    lines.append(f"    {B('rows')}[0] = _r + 1")
    return lines
