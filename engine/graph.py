"""A validated design as a graph: typed nodes with every parameter filled in, typed edges."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .registry import NodeType


@dataclass
class GNode:
    id: str
    type: type[NodeType]
    values: dict[str, Any]
    data: dict[str, Any]
    label: str = ""
    invalid: bool = False  # has parameter errors (kept for structural checks only)

    @property
    def key(self) -> str:
        return self.type.type_key


@dataclass
class GEdge:
    id: str
    source: str
    source_port: str
    target: str
    target_port: str
    data: dict = field(default_factory=dict)


class Graph:
    """Nodes in design order, edges, and look-ups by port. Sizes are resolved lazily."""

    def __init__(self, nodes: list[GNode], edges: list[GEdge], meta: dict, design=None):
        self.nodes = {n.id: n for n in nodes}
        self.edges = edges
        self.meta = meta
        self.design = design
        self._sizes: dict[str, int] = {}

    @property
    def dt_ms(self) -> float:
        return float(self.meta.get("dt_ms", 0.1))

    @property
    def seed(self) -> int:
        return int(self.meta.get("seed", 1))

    def inputs(self, node_id: str, port: str | None = None) -> list[GEdge]:
        return [e for e in self.edges if e.target == node_id and (port is None or e.target_port == port)]

    def outputs(self, node_id: str, port: str | None = None) -> list[GEdge]:
        return [e for e in self.edges if e.source == node_id and (port is None or e.source_port == port)]

    def sources(self, node_id: str, port: str) -> list[GNode]:
        return [self.nodes[e.source] for e in self.inputs(node_id, port)]

    def targets(self, node_id: str, port: str) -> list[GNode]:
        return [self.nodes[e.target] for e in self.outputs(node_id, port)]

    def size(self, node_id: str) -> int:
        if node_id not in self._sizes:
            self._sizes[node_id] = -1  # guards against size cycles
            n = self.nodes[node_id]
            self._sizes[node_id] = int(n.type.size(n.values, self, n.id))
        return self._sizes[node_id]

    def of_family(self, family: str) -> list[GNode]:
        return [n for n in self.nodes.values() if n.type.family() == family]
