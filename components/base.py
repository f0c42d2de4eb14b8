"""Family base classes: what all neurons (and other families) share.

A neuron type declares its parameters, ``drive_channels`` (receptor -> input field),
and in its module the namedtuples ``Inputs``, ``State``, ``Params`` and the elementwise
``step(inp, st, p, dt) -> (spike, State)``. :class:`NeuronType` builds every neuron
type the same way: one builder serves all neurons.
"""
from __future__ import annotations

import sys
from typing import ClassVar

import numpy as np

from engine.connectivity import grid_positions, parse_grid
from engine.errors import Problem
from engine.params import Int, Text
from engine.registry import NodeType, Port

GRID_PATTERN = r"(\d+([x×]\d+){0,2})?"


class NeuronType(NodeType):
    """Base of neuron populations. Subclasses set the model; the build is shared."""

    spiking = True
    ports = (
        Port("drive", "in", "drive", multiple=True, doc="synaptic input from projections"),
        Port("current", "in", "current", multiple=True, doc="injected current from current stimuli"),
        Port("spikes", "out", "spikes", doc="spikes of the population"),
        Port("state", "out", "state", doc="state variables, for monitors"),
    )
    n = Int(100, bounds=(1, 100_000_000), doc="number of neurons in the population")
    grid_shape = Text("", doc="3-D lattice 'AxBxC' on which the neurons sit (for distance-dependent "
                      "projections); empty: no positions", pattern=GRID_PATTERN,
                      pattern_hint="write e.g. '10x10x10' (or leave empty)", precedence=10)
    grid_group = Text("", doc="populations with the same group share one lattice: its points are "
                      "randomly split between them (as E/I in the NALSM liquid)", precedence=11)

    #: receptor ("exc"/"inh") -> Inputs field receiving conductance/current drive
    drive_channels: ClassVar[dict[str, str]] = {}
    jump_input: ClassVar[str] = "jump"
    current_input: ClassVar[str] = "i_ext"
    #: which projection weight parameter applies to this target ("weight_gl", "weight_mv", ...)
    weight_param: ClassVar[str] = "weight_mv"
    #: units of the state variables (documentation and plot labels)
    state_units: ClassVar[dict[str, str]] = {}
    #: storage type of state variables that differ from the float dtype
    state_dtypes: ClassVar[dict[str, type]] = {}
    #: user parameters that are not model constants
    _structural = ("n", "grid_shape", "grid_group")

    # --- model hooks ------------------------------------------------------------------
    @classmethod
    def model(cls):
        return sys.modules[cls.__module__]

    @classmethod
    def model_params(cls) -> list[str]:
        return [k for k in cls.param_decls() if k not in cls._structural]

    @classmethod
    def derive(cls, v: dict, dt: float, node=None, b=None) -> dict:
        """Kernel constants (fields of ``Params``) from sampled user parameters ``v``."""
        raise NotImplementedError(cls.type_key)

    @classmethod
    def init_state(cls, v: dict, n: int, b, node) -> dict:
        """Initial state arrays (fields of ``State``)."""
        raise NotImplementedError(cls.type_key)

    @classmethod
    def bias(cls, values: dict) -> float:
        return 0.0

    # --- compiler hooks ---------------------------------------------------------------
    @classmethod
    def has_input(cls, node, graph) -> bool:
        if graph.inputs(node.id, "drive") or graph.inputs(node.id, "current"):
            return True
        b = cls.bias(node.values)
        return isinstance(b, dict) or b != 0

    @classmethod
    def memory_bytes(cls, node, graph) -> int:
        m = cls.model()
        return int(node.values["n"]) * 8 * (len(m.State._fields) + len(m.Params._fields) + 2)

    @classmethod
    def check(cls, node, graph) -> list:
        out = []
        shape = parse_grid(node.values.get("grid_shape", ""))
        if shape is not None and not node.values.get("grid_group"):
            if int(np.prod(shape)) != node.values["n"]:
                out.append(Problem("error", "grid.size", f"grid_shape {node.values['grid_shape']} has "
                                   f"{int(np.prod(shape))} points but n = {node.values['n']}",
                                   "make n equal the product of the grid sides, or use grid_group to share "
                                   "one lattice between populations", node=node.id, param="grid_shape"))
        return out

    @classmethod
    def build(cls, node, b) -> None:
        m = cls.model()
        n = b.graph.size(node.id)
        names = cls.model_params()

        def derive(nd):
            v = {k: b.value(nd, k, n) for k in names}
            return cls.derive(v, b.dt, nd, b)

        b.set_params(node, derive)
        assert list(b.params[node.id]) == list(m.Params._fields), (cls.type_key, list(b.params[node.id]))
        v0 = {k: b.value(node, k, n) for k in names}
        st = cls.init_state(v0, n, b, node)
        state_bufs = []
        for f in m.State._fields:
            dt_ = cls.state_dtypes.get(f, b.dtype)
            a = np.ascontiguousarray(np.broadcast_to(np.asarray(st[f], dtype=dt_), (n,))).copy()
            state_bufs.append(b.buffer(node.id, f, a))
        b.spikes(node, n)
        flag = np.zeros(-(-n // 8) * 8, np.uint8)  # spike flags, padded to whole 64-bit words
        b.buffer(node.id, "flag", flag, "scratch")
        b.buffer(node.id, "flag64", flag.view(np.uint64), "scratch")
        fields = {f: [] for f in m.Inputs._fields}
        g = b.graph
        for e in g.inputs(node.id, "drive"):
            proj = g.nodes[e.source]
            fields[proj.type.channel(proj, cls)].append(f"{proj.id}.g")
        for e in g.inputs(node.id, "current"):
            fields[cls.current_input].append(f"{e.source}.I")
        reads = [s for srcs in fields.values() for s in srcs]
        b.node_info[node.id].update(n=n, state=list(m.State._fields), inputs=fields)
        b.step("update", node.id, "neuron.update", reads=reads, sets=[f"{node.id}.spk", f"{node.id}.flag"], updates=state_bufs,
               n=n, module=cls.__module__, params=list(m.Params._fields),
               inputs=[(f, tuple(s)) for f, s in fields.items()], state=list(m.State._fields))
        b.step("monitor", node.id, "count", reads=[f"{node.id}.spk"])

    # --- positions ----------------------------------------------------------------------
    @classmethod
    def positions(cls, node, b) -> np.ndarray | None:
        """Lattice positions of the neurons (n, 3), or None when the population has none."""
        shape = parse_grid(node.values.get("grid_shape", ""))
        group = node.values.get("grid_group", "")
        if shape is None:
            return None
        if not group:
            return grid_positions(shape)
        cache = b.node_info.setdefault("__grids__", {})
        if group not in cache:
            members = [nd for nd in b.graph.nodes.values() if nd.type.family() == "neuron"
                       and nd.values.get("grid_group") == group]
            shapes = {nd.values.get("grid_shape") for nd in members}
            pts = grid_positions(shape)
            total = sum(int(nd.values["n"]) for nd in members)
            if len(shapes) != 1 or total != len(pts):
                from engine.errors import DesignError
                raise DesignError(Problem("error", "grid.group",
                                          f"grid group '{group}': members {[nd.id for nd in members]} have "
                                          f"{total} neurons for {len(pts)} lattice points (shapes {sorted(shapes)})",
                                          "give all members the same grid_shape and sizes summing to its points",
                                          node=node.id, param="grid_group"))
            from engine import rng
            key = rng.node_key(b.seed, "grid:" + group, "perm")
            perm = np.argsort(rng.uniform_np(key, 0, np.arange(len(pts))), kind="stable")
            out, k = {}, 0
            for nd in members:
                out[nd.id] = pts[perm[k:k + int(nd.values["n"])]]
                k += int(nd.values["n"])
            cache[group] = out
        return cache[group][node.id]


def refractory_steps(refractory_ms, dt: float):
    """Brian2's ``timestep``: floor((t + 1e-3 dt) / dt) steps, so multiples of dt are exact."""
    return np.floor((np.asarray(refractory_ms) + 1e-3 * dt) / dt) if isinstance(refractory_ms, np.ndarray) \
        else float(int((refractory_ms + 1e-3 * dt) / dt))
