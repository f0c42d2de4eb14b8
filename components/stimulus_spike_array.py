"""``stimulus.spike_array``: spikes at given times from given sources."""
from __future__ import annotations

import re

import numba
import numpy as np

from engine.backends.numba_backend import renderer
from engine.errors import DesignError, Problem
from engine.params import Array, Int, Text
from engine.registry import NodeType, Port, register

EVENT_RE = r"\s*(\d+\s*@\s*[0-9.eE+-]+\s*(,\s*\d+\s*@\s*[0-9.eE+-]+\s*)*)?"


@numba.njit(cache=True)
def emit(t, ev_step, ev_idx, ev_cnt, ptr, spk, cnt):
    """Emit the events scheduled at step ``t`` (events are sorted by step, then source)."""
    p = ptr[0]
    E = ev_step.shape[0]
    while p < E and ev_step[p] < t:
        p += 1
    ns = 0
    while p < E and ev_step[p] == t:
        spk[ns] = ev_idx[p]
        cnt[ns] = ev_cnt[p]
        ns += 1
        p += 1
    ptr[0] = p
    return ns


def parse_events(text: str) -> tuple[np.ndarray, np.ndarray]:
    """``"0@10.0, 3@12.5"`` -> (indices, times_ms)."""
    idx, times = [], []
    for part in filter(None, (x.strip() for x in text.split(","))):
        i, tt = part.split("@")
        idx.append(int(i))
        times.append(float(tt))
    return np.asarray(idx, np.int64), np.asarray(times, np.float64)


@register
class SpikeArray(NodeType):
    """Spikes of n sources at given times: from sidecar arrays (times_ms, indices) or text.

    Times are rounded to the nearest step; several spikes of one source in one step
    count as a multiple event. The text form lists 'source@time_ms' pairs, e.g. '0@10, 1@12.5'.
    """

    type_key = "stimulus.spike_array"
    spiking = True
    ports = (Port("spikes", "out", "spikes", doc="the given spikes"),)
    n = Int(1, bounds=(1, 100_000_000), doc="number of sources")
    times_ms = Array(doc="spike times (ms), one per event")
    indices = Array(doc="source index of each event")
    events = Text("", pattern=EVENT_RE, doc="spikes as text: 'source@time_ms' pairs separated by commas",
                  pattern_hint="write e.g. '0@10.0, 1@12.5'")

    @classmethod
    def _events(cls, node, b):
        v = node.values
        if v.get("times_ms") is not None or v.get("indices") is not None:
            if v.get("times_ms") is None or v.get("indices") is None:
                raise DesignError(Problem("error", "param.missing", "times_ms and indices go together",
                                          "give both arrays", node=node.id, param="times_ms"))
            t = np.asarray(b.array(node, "times_ms"), np.float64)
            i = np.asarray(b.array(node, "indices"), np.int64)
        else:
            i, t = parse_events(v["events"])
        return i, t

    @classmethod
    def build(cls, node, b) -> None:
        n = b.graph.size(node.id)
        i, t = cls._events(node, b)
        if i.shape != t.shape:
            raise DesignError(Problem("error", "array.shape", f"{len(t)} times but {len(i)} indices",
                                      "give one index per spike time", node=node.id, param="indices"))
        if len(i) and (i.min() < 0 or i.max() >= n or not np.isfinite(t).all() or t.min() < 0):
            raise DesignError(Problem("error", "array.range", "spike indices must lie in [0, n) and times be >= 0",
                                      f"use indices below n = {n} and finite, non-negative times",
                                      node=node.id, param="indices"))
        steps = np.rint(t / b.dt).astype(np.int64)
        pairs = np.unique(np.stack([steps, i]), axis=1) if len(i) else np.zeros((2, 0), np.int64)
        uniq, counts = (np.unique(np.stack([steps, i]), axis=1, return_counts=True) if len(i)
                        else (pairs, np.zeros(0, np.int64)))
        b.spikes(node, n, multi=True)
        b.buffer(node.id, "ev_step", np.ascontiguousarray(uniq[0], np.int64), "const")
        b.buffer(node.id, "ev_idx", np.ascontiguousarray(uniq[1], np.int32), "const")
        b.buffer(node.id, "ev_cnt", np.ascontiguousarray(counts, np.int32), "const")
        b.buffer(node.id, "ptr", np.zeros(1, np.int64))
        b.node_info[node.id].update(n=n, n_events=int(counts.sum()))
        b.step("stimulus", node.id, "spike_array.emit", sets=[f"{node.id}.spk"])
        b.step("monitor", node.id, "count", reads=[f"{node.id}.spk"])


@renderer("spike_array.emit")
def _render(step, ctx):
    nid = step.node
    f = ctx.use(f"{__name__}:emit")
    B = lambda k: ctx.b(f"{nid}.{k}")  # noqa: E731
    return [f"{ctx.ns(nid)} = {f}(t, {B('ev_step')}, {B('ev_idx')}, {B('ev_cnt')}, {B('ptr')}, {B('spk')}, {B('cnt')})"]


_ = re  # pattern checked by the parameter declaration
