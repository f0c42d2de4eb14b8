"""The registry of node types, their ports and the port-kind table.

Every node type is one ``param.Parameterized`` subclass decorated with :func:`register`.
Palette, inspector, validation, compiler, docs and contract tests all read the registry,
so adding a type touches only its own module (and its test).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, ClassVar

import param

from .params import meta, unit_of

#: Closed list of port kinds (DESIGN.md). label/prediction/error/target/third_factor are "signal".
PORT_KINDS = ("spikes", "drive", "current", "state", "weights", "activity", "rule", "modulation", "signal")

#: Output kind -> input kinds it may feed.
COMPATIBLE = {k: {k} for k in PORT_KINDS}
COMPATIBLE["spikes"] = {"spikes", "activity"}

FAMILIES = ("stimulus", "neuron", "projection", "plasticity", "astrocyte", "readout", "monitor")

#: Phases of one time step, in order (DESIGN.md "Compiler and run loop").
PHASES = ("stimulus", "update", "deliver", "plasticity", "astrocyte", "readout", "monitor")


@dataclass(frozen=True)
class Port:
    """A typed connection point of a node type."""

    name: str
    direction: str  # "in" | "out"
    kind: str
    multiple: bool = False
    required: bool = False
    doc: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "direction": self.direction, "kind": self.kind,
                "multiple": self.multiple, "required": self.required, "doc": self.doc}


def can_connect(out_kind: str, in_kind: str) -> bool:
    return in_kind in COMPATIBLE.get(out_kind, ())


_REGISTRY: dict[str, type["NodeType"]] = {}


class NodeType(param.Parameterized):
    """Base class of every node type. Subclasses set ``type_key`` and ``ports``."""

    type_key: ClassVar[str] = ""
    ports: ClassVar[tuple[Port, ...]] = ()
    experimental: ClassVar[bool] = False
    #: True when the node emits spikes that downstream nodes consume via its "spikes" port.
    spiking: ClassVar[bool] = False
    #: What the node streams to live plots, for monitors the studio draws generically:
    #: dicts {"kind": "trace" | "scalar" | "histogram" | "image", "name", "title", "y_label"}.
    #: A type with views implements ``stream(node, sim, chunk) -> {name: payload}``.
    views: ClassVar[tuple[dict, ...]] = ()
    #: (input port, output port) pairs through which a value passes within one phase, with no
    #: state or delay in between. A cycle through such pairs is an algebraic (zero-delay) loop.
    feedthrough: ClassVar[tuple[tuple[str, str], ...]] = ()

    @classmethod
    def family(cls) -> str:
        return cls.type_key.split(".", 1)[0]

    @classmethod
    def description(cls) -> str:
        doc = inspect.getdoc(cls) or ""
        first = doc.strip().split("\n\n", 1)[0].replace("\n", " ")
        return ("[experimental] " if cls.experimental else "") + first

    @classmethod
    def port(cls, name: str) -> Port | None:
        for p in cls.ports:
            if p.name == name:
                return p
        return None

    @classmethod
    def in_ports(cls) -> list[Port]:
        return [p for p in cls.ports if p.direction == "in"]

    @classmethod
    def out_ports(cls) -> list[Port]:
        return [p for p in cls.ports if p.direction == "out"]

    @classmethod
    def param_decls(cls) -> dict[str, param.Parameter]:
        """Declared user parameters (excluding param's own ``name``)."""
        return {k: p for k, p in cls.param.objects("existing").items() if k != "name"}

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {k: p.default for k, p in cls.param_decls().items()}

    @classmethod
    def describe(cls) -> dict:
        """JSON-friendly description used by ``gliaflow types --json`` and the palette."""
        params = {}
        for k, p in cls.param_decls().items():
            md = meta(p)
            d = {"default": p.default, "doc": p.doc or "", "unit": md.get("unit") or unit_of(k),
                 "live": bool(md.get("live")), "kind": md.get("kind", "number"),
                 "distribution": bool(md.get("dist"))}
            b = getattr(p, "bounds", None)
            d["bounds"] = list(b) if b is not None else None
            if md.get("kind") == "choice":
                d["choices"] = list(p.objects)
            params[k] = d
        return {"type": cls.type_key, "family": cls.family(), "description": cls.description(),
                "experimental": cls.experimental, "ports": [p.to_dict() for p in cls.ports],
                "params": params}

    # --- compiler hooks (overridden by families / types) ---------------------------------
    @classmethod
    def size(cls, values: dict, graph, node_id: str) -> int:
        """Number of elements (neurons, sources) of the node, 0 when it has no size."""
        return int(values.get("n", 0))

    @classmethod
    def check(cls, node, graph) -> list:
        """Type-specific validation beyond parameter declarations; returns Problems."""
        return []

    @classmethod
    def memory_bytes(cls, node, graph) -> int:
        """Estimate of the memory the node's buffers will take (for the RAM check)."""
        return 0

    @classmethod
    def has_input(cls, node, graph) -> bool:
        """For populations: whether anything drives the node (used for a warning)."""
        return True

    @classmethod
    def build(cls, node, b) -> None:  # pragma: no cover - every concrete type overrides
        raise TypeError(f"{cls.type_key} has no builder")


def register(cls: type[NodeType]) -> type[NodeType]:
    """Class decorator: add a node type to the registry under ``cls.type_key``."""
    key = cls.type_key
    fam = key.split(".", 1)[0]
    if fam not in FAMILIES or not key.replace(".", "_").replace("_", "").isalnum() or key.count(".") != 1:
        raise ValueError(f"bad type key {key!r}: use family.name with family in {FAMILIES}")
    if key in _REGISTRY and _REGISTRY[key] is not cls:
        raise ValueError(f"type {key!r} registered twice ({_REGISTRY[key].__module__}, {cls.__module__})")
    names = [p.name for p in cls.ports]
    if len(set(names)) != len(names):
        raise ValueError(f"{key}: duplicate port names {names}")
    for p in cls.ports:
        if p.kind not in PORT_KINDS or p.direction not in ("in", "out"):
            raise ValueError(f"{key}: port {p.name} has bad kind/direction")
    _REGISTRY[key] = cls
    return cls


def _load_components() -> None:
    import components  # noqa: F401  (importing registers every built-in type)


def get_type(key: str) -> type[NodeType] | None:
    _load_components()
    return _REGISTRY.get(key)


def all_types() -> dict[str, type[NodeType]]:
    _load_components()
    return dict(sorted(_REGISTRY.items()))


def port_table() -> dict:
    """The port-kind compatibility table the canvas and validator both use."""
    return {"kinds": list(PORT_KINDS), "compatible": {k: sorted(v) for k, v in COMPATIBLE.items()}}
