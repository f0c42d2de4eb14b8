"""Plan: named state buffers, kernel parameters and ordered steps by phase.

The planner asks each node type to ``build`` itself into a :class:`Builder`: it allocates
buffers, registers kernel parameters (derived from user parameters, recomputed on a live
edit without recompiling) and adds :class:`Step` records that declare what they read,
set, increment and update. Within a phase the order is derived (Nengo-style): for each
buffer, setters run before incrementers, which run before readers, which run before
updaters. A cycle means an algebraic loop and is reported naming its nodes.
Backends render each step ``kind`` into code.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import rng
from .errors import DesignError, Problem
from .graph import GNode, Graph
from .registry import PHASES
from .values import sample


@dataclass
class Step:
    phase: str
    node: str
    kind: str
    reads: tuple = ()
    sets: tuple = ()
    incs: tuple = ()
    updates: tuple = ()
    attrs: dict = field(default_factory=dict)
    label: str = ""

    def describe(self) -> str:
        parts = []
        for k in ("sets", "incs", "reads", "updates"):
            v = getattr(self, k)
            if v:
                parts.append(f"{k} {', '.join(v)}")
        return f"{self.kind:<18} {self.node:<14} {'; '.join(parts)}"


@dataclass
class SpikeSource:
    node: str
    n: int
    multi: bool  # spikes carry a count (Poisson sources); False: every event counts once


@dataclass
class Recorder:
    """Describes how the run loop drains a recorder buffer after each kernel call."""

    node: str
    kind: str  # "spikes" | "state" | "weights"
    info: dict = field(default_factory=dict)


class Builder:
    """Collects buffers, parameters, steps and recorders while node types build themselves."""

    def __init__(self, graph: Graph, seed: int, dtype=np.float64):
        self.graph = graph
        self.seed = int(seed)
        self.dt = graph.dt_ms
        self.dtype = dtype
        self.buffers: dict[str, np.ndarray] = {}
        self.buffer_role: dict[str, str] = {}
        self.params: dict[str, dict[str, Any]] = defaultdict(dict)
        self.param_derivers: dict[str, Callable[[GNode], dict]] = {}
        self.steps: list[Step] = []
        self.spike_sources: dict[str, SpikeSource] = {}
        self.recorders: list[Recorder] = []
        self.node_info: dict[str, dict] = defaultdict(dict)
        self.on_change: dict[str, list[tuple[tuple[str, ...], Callable]]] = defaultdict(list)

    # --- values -----------------------------------------------------------------------
    def value(self, node: GNode, name: str, n: int | None = None):
        """A parameter value as a float, or an array of per-element draws for a distribution."""
        decl = node.type.param_decls()[name]
        value = node.values[name]
        if (decl.metadata or {}).get("kind") not in ("number", "integer") or value is None:
            return value
        return sample(node.values[name], n if n is not None else self.graph.size(node.id),
                      seed=self.seed, node=node.id, name=name, decl=decl)

    def key(self, node_id: str, stream: str) -> np.int64:
        return rng.as_i64(rng.node_key(self.seed, node_id, stream))

    def array(self, node: GNode, name: str) -> np.ndarray:
        ref = node.values[name]
        design = self.graph.design
        try:
            a = design.get_array(ref)
        except (KeyError, AttributeError):
            raise DesignError(Problem("error", "array.missing",
                                      f"array '{ref.get('array')}' is not in the design's sidecar .arrays.npz",
                                      "save the design together with its arrays", node=node.id, param=name)) from None
        from .design import array_hash
        if array_hash(a) != ref["sha256"]:
            raise DesignError(Problem("error", "array.hash",
                                      f"array '{ref['array']}' does not match its sha256 (the sidecar was changed)",
                                      "restore the sidecar saved with the design, or re-save the design",
                                      node=node.id, param=name))
        return a

    # --- declarations -----------------------------------------------------------------
    def buffer(self, node_id: str, name: str, array: np.ndarray, role: str = "state") -> str:
        full = f"{node_id}.{name}"
        self.buffers[full] = array
        self.buffer_role[full] = role
        return full

    def set_params(self, node: GNode, derive: Callable[[GNode], dict]) -> None:
        """Register kernel parameters computed by ``derive(node)``; re-run on live edits."""
        self.param_derivers[node.id] = derive
        self.params[node.id] = dict(derive(node))

    def when_changed(self, node: GNode, names: tuple[str, ...], fn: Callable) -> None:
        """Call ``fn(node, plan)`` after a live edit of one of ``names`` (e.g. refill weights)."""
        self.on_change[node.id].append((tuple(names), fn))

    def spikes(self, node: GNode, n: int, multi: bool = False) -> None:
        """Declare that ``node`` emits spikes: allocates its per-step spike list."""
        self.spike_sources[node.id] = SpikeSource(node.id, n, multi)
        self.buffer(node.id, "spk", np.zeros(max(n, 1), np.int32), "scratch")
        if multi:
            self.buffer(node.id, "cnt", np.zeros(max(n, 1), np.int32), "scratch")
        self.buffer(node.id, "count", np.zeros(1, np.int64), "counter")

    def step(self, phase: str, node: str, kind: str, *, reads=(), sets=(), incs=(), updates=(),
             label: str = "", **attrs) -> Step:
        assert phase in PHASES, phase
        s = Step(phase, node, kind, tuple(reads), tuple(sets), tuple(incs), tuple(updates), attrs, label)
        self.steps.append(s)
        return s

    def recorder(self, node: str, kind: str, **info) -> None:
        self.recorders.append(Recorder(node, kind, info))


@dataclass
class Plan:
    graph: Graph
    seed: int
    dt: float
    buffers: dict[str, np.ndarray]
    buffer_role: dict[str, str]
    params: dict[str, dict[str, Any]]
    param_derivers: dict[str, Callable]
    steps: list[Step]
    spike_sources: dict[str, SpikeSource]
    recorders: list[Recorder]
    node_info: dict[str, dict]
    on_change: dict

    def structure_signature(self) -> str:
        """What determines compiled code: steps, buffer dtypes/ranks and parameter forms."""
        h = hashlib.sha256()
        for s in self.steps:
            h.update(repr((s.phase, s.node, s.kind, s.reads, s.sets, s.incs, s.updates,
                           sorted((k, repr(v)) for k, v in s.attrs.items()))).encode())
        for k, a in self.buffers.items():
            h.update(f"{k}:{a.dtype.str}:{a.ndim}".encode())
        for nid, ps in self.params.items():
            for k, v in ps.items():
                h.update(f"{nid}.{k}:{'a' if isinstance(v, np.ndarray) else type(v).__name__}".encode())
        return h.hexdigest()

    def describe(self) -> str:
        g = self.graph
        lines = [f"plan for '{g.meta.get('name', 'design')}': dt = {self.dt} ms, seed = {self.seed}", "", "buffers:"]
        for k, a in self.buffers.items():
            lines.append(f"  {k:<28} {str(a.dtype):<8} {'x'.join(map(str, a.shape)):<12} {self.buffer_role[k]}")
        lines.append("")
        lines.append("parameters (kernel constants, recomputed on live edits):")
        for nid, ps in self.params.items():
            items = ", ".join(f"{k}={'array[' + str(len(v)) + ']' if isinstance(v, np.ndarray) else _fmt(v)}"
                              for k, v in ps.items())
            lines.append(f"  {nid}: {items}")
        lines.append("")
        lines.append("steps per time step, by phase:")
        for ph in PHASES:
            ss = [s for s in self.steps if s.phase == ph]
            if not ss:
                continue
            lines.append(f"  [{ph}]")
            for s in ss:
                lines.append(f"    {s.describe()}")
        return "\n".join(lines)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def order_steps(steps: list[Step]) -> list[Step]:
    """Order steps by phase, then by the sets < incs < reads < updates rule per buffer."""
    out = []
    for ph in PHASES:
        ss = [s for s in steps if s.phase == ph]
        if len(ss) <= 1:
            out += ss
            continue
        n = len(ss)
        after = defaultdict(set)  # i must run before j: j in after[i]
        by_buf = defaultdict(lambda: defaultdict(list))
        for i, s in enumerate(ss):
            for rank, names in enumerate((s.sets, s.incs, s.reads, s.updates)):
                for b in names:
                    by_buf[b][rank].append(i)
        for b, ranks in by_buf.items():
            for r1 in range(4):
                for r2 in range(r1 + 1, 4):
                    for i in ranks.get(r1, []):
                        for j in ranks.get(r2, []):
                            if i != j:
                                after[i].add(j)
        indeg = [0] * n
        for i in range(n):
            for j in after[i]:
                indeg[j] += 1
        ready = [i for i in range(n) if indeg[i] == 0]
        done = []
        while ready:
            ready.sort()
            i = ready.pop(0)
            done.append(i)
            for j in sorted(after[i]):
                indeg[j] -= 1
                if indeg[j] == 0:
                    ready.append(j)
        if len(done) < n:
            stuck = sorted({ss[i].node for i in range(n) if i not in done})
            raise DesignError(Problem("error", "graph.zero_delay_loop",
                                      f"steps of {', '.join(stuck)} in phase '{ph}' depend on each other within one time step",
                                      "break the loop or add a delay on one of its projections", node=stuck[0]))
        out += [ss[i] for i in done]
    return out


def make_plan(graph: Graph, seed: int | None = None, dtype=np.float64) -> Plan:
    """Build every node in design order (sources before consumers is not required)."""
    b = Builder(graph, graph.seed if seed is None else seed, dtype)
    # sources first so that consumers can look up spike sources; a stable two-pass build
    fam_order = {"stimulus": 0, "neuron": 1, "projection": 2, "plasticity": 3, "astrocyte": 4,
                 "readout": 5, "monitor": 6}
    for node in sorted(graph.nodes.values(), key=lambda n: fam_order.get(n.type.family(), 9)):
        node.type.build(node, b)
    steps = order_steps(b.steps)
    return Plan(graph, b.seed, b.dt, b.buffers, b.buffer_role, dict(b.params), b.param_derivers, steps,
                b.spike_sources, b.recorders, dict(b.node_info), dict(b.on_change))
