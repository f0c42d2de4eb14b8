"""The Python API for building designs: ``Network``.

>>> from engine import Network
>>> net = Network("demo", dt_ms=0.1, seed=1)
>>> inp = net.add("stimulus.poisson", "inp", n=200, rate_hz=20.0)
>>> exc = net.add("neuron.lif", "exc", n=100)
>>> syn = net.add("projection.synapses", "syn", p=0.1, weight_mv=1.0)
>>> net.connect(inp.spikes, syn.pre); net.connect(syn.post, exc.drive)
>>> mon = net.add("monitor.spikes", "mon"); net.connect(exc.spikes, mon.spikes)
>>> sim = net.run(500.0)          # a Simulation; sim.spikes("exc") -> (t_ms, i)

Every call checks what it can at once (type, parameter names and values, port names and
kinds) and raises :class:`DesignError` naming the node, port or parameter. The result is
a plain design document (``net.design``), the same one the studio and the CLI use.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .design import ID_RE, Design, load_sidecar
from .errors import DesignError, Problem
from .params import check_value
from .registry import can_connect, get_type

_COLUMNS = {"stimulus": 0, "neuron": 1, "projection": 2, "plasticity": 2, "astrocyte": 3, "readout": 4,
            "monitor": 4}


@dataclass(frozen=True)
class PortRef:
    node: str
    port: str

    def __repr__(self) -> str:
        return f"{self.node}.{self.port}"


class NodeRef:
    """A node of a :class:`Network`; attribute access gives its ports (``pop.spikes``)."""

    def __init__(self, net: "Network", node_id: str, type_key: str):
        self._net, self.id, self.type = net, node_id, type_key

    def __getattr__(self, port: str) -> PortRef:
        if port.startswith("_"):
            raise AttributeError(port)
        cls = get_type(self.type)
        if cls.port(port) is None:
            raise DesignError(Problem("error", "edge.unknown_port", f"{self.type} has no port '{port}'",
                                      f"ports: {', '.join(p.name for p in cls.ports)}", node=self.id, port=port))
        return PortRef(self.id, port)

    def set(self, **params) -> "NodeRef":
        self._net._set_params(self.id, self.type, params)
        return self

    def __repr__(self) -> str:
        return f"<{self.type} '{self.id}'>"


class Network:
    """Builds a design document node by node and wire by wire."""

    def __init__(self, name: str = "network", *, dt_ms: float = 0.1, seed: int = 1,
                 duration_ms: float = 1000.0, backend: str = "numba", description: str = "",
                 reference: str = "", arrays: str | os.PathLike | None = None,
                 views: dict | None = None, sweep: dict | None = None):
        """``arrays``: the sidecar ``.arrays.npz`` holding the arrays that parameters reference
        (``{"array": name, "sha256": hex}``); a relative path is looked up next to the script
        that creates the network first, then in the current directory."""
        meta = {"name": name, "dt_ms": dt_ms, "duration_ms": duration_ms, "seed": seed, "backend": backend}
        if description:
            meta["description"] = description
        if reference:
            meta["reference"] = reference
        doc = {"schema_version": 1, "meta": meta, "nodes": [], "edges": []}
        for k, v in (("views", views), ("sweep", sweep)):
            if v is not None:
                doc[k] = v
        self.design = Design(doc)
        if arrays is not None:
            self.design.arrays = load_sidecar(_arrays_path(arrays, sys._getframe(1).f_globals.get("__file__")))
        self._rows: dict[int, int] = {}

    # --- nodes ---------------------------------------------------------------------------
    def add(self, type_key: str, id: str | None = None, *, label: str = "", position: dict | None = None,
            **params) -> NodeRef:
        cls = get_type(type_key)
        if cls is None:
            raise DesignError(Problem("error", "node.unknown_type", f"unknown node type {type_key!r}",
                                      "see `gliaflow types` for the registered types"))
        if id is None:
            base = type_key.split(".")[1].replace("_", "")
            k = 1
            while any(n["id"] == f"{base}{k}" for n in self.design.nodes):
                k += 1
            id = f"{base}{k}"
        if not ID_RE.match(id):
            raise DesignError(Problem("error", "node.id", f"invalid node id {id!r}",
                                      "ids start with a letter and use letters, digits, '_' and '-'"))
        if any(n["id"] == id for n in self.design.nodes):
            raise DesignError(Problem("error", "node.duplicate_id", f"a node '{id}' exists already",
                                      "choose another id", node=id))
        col = _COLUMNS.get(cls.family(), 5)
        row = self._rows.get(col, 0)
        self._rows[col] = row + 1
        node = {"id": id, "type": type_key, "label": label or id,
                "position": position or {"x": 260.0 * col, "y": 140.0 * row}, "data": {}}
        self.design.nodes.append(node)
        self._set_params(id, type_key, params)
        return NodeRef(self, id, type_key)

    def _set_params(self, node_id: str, type_key: str, params: dict) -> None:
        cls = get_type(type_key)
        decls = cls.param_decls()
        probs = []
        for k, v in params.items():
            if k not in decls:
                probs.append(Problem("error", "param.unknown", f"{type_key} has no parameter '{k}'",
                                     f"{type_key} takes: {', '.join(decls)}", node=node_id, param=k))
                continue
            for code, msg, fix in check_value(k, decls[k], v):
                probs.append(Problem("error", code, f"{k} {msg}", fix, node=node_id, param=k))
        if probs:
            raise DesignError(probs)
        self.design.node(node_id)["data"].update(params)

    def node(self, node_id: str) -> NodeRef:
        return NodeRef(self, node_id, self.design.node(node_id)["type"])

    # --- wires ---------------------------------------------------------------------------
    def connect(self, source: PortRef | str, target: PortRef | str, *, id: str | None = None,
                **data) -> str:
        s, t = _ref(source), _ref(target)
        sk, tk = self.design.node(s.node)["type"], self.design.node(t.node)["type"]
        sp, tp = get_type(sk).port(s.port), get_type(tk).port(t.port)
        if sp is None or sp.direction != "out":
            raise DesignError(Problem("error", "edge.unknown_port", f"{sk} has no output port '{s.port}'",
                                      node=s.node, port=s.port))
        if tp is None or tp.direction != "in":
            raise DesignError(Problem("error", "edge.unknown_port", f"{tk} has no input port '{t.port}'",
                                      node=t.node, port=t.port))
        if not can_connect(sp.kind, tp.kind):
            raise DesignError(Problem("error", "edge.port_kind", f"a {sp.kind} output ({s}) cannot feed a "
                                      f"{tp.kind} input ({t})", node=t.node, port=t.port))
        eid = id or f"{s.node}.{s.port}-{t.node}.{t.port}"
        edge = {"id": eid, "source": s.node, "sourceHandle": s.port, "target": t.node, "targetHandle": t.port}
        if data:
            edge["data"] = data
        self.design.edges.append(edge)
        return eid

    # --- running ---------------------------------------------------------------------------
    def simulation(self, **kw):
        from .simulation import Simulation
        return Simulation(self.design, **kw)

    def run(self, duration_ms: float | None = None, **kw):
        sim = self.simulation(**kw)
        sim.run(duration_ms)
        return sim

    def save(self, path) -> None:
        self.design.save(path)

    def main(self, argv: list[str] | None = None) -> None:
        """Run headless exactly as ``gliaflow run DESIGN --json`` would (the same options:
        ``--duration-ms``, ``--seed``, ``--out``, ...; default: this script's arguments) and
        exit with its exit code. Exported scripts end with ``net.main()``."""
        from .cli import run_design
        raise SystemExit(run_design(self.design, sys.argv[1:] if argv is None else argv))


def _arrays_path(arrays, caller: str | None) -> Path:
    p = Path(arrays)
    if not p.is_absolute() and caller:
        here = Path(caller).resolve().parent / p
        if here.exists():
            return here
    if not p.exists():
        raise DesignError(Problem("error", "file.not_found", f"no sidecar arrays file '{arrays}'",
                                  "put the .arrays.npz saved with the design next to the script"))
    return p


def _ref(x) -> PortRef:
    if isinstance(x, PortRef):
        return x
    if isinstance(x, str) and "." in x:
        a, b = x.rsplit(".", 1)
        return PortRef(a, b)
    raise DesignError(Problem("error", "edge.endpoint", f"bad endpoint {x!r}", "write 'node.port' or use node.port"))
