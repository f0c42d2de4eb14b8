"""Validation: every problem in a design at once, each naming node, port or parameter.

``validate(design)`` returns a list of :class:`Problem` (errors and warnings);
``build_graph(design)`` returns a :class:`Graph` or raises :class:`DesignError` carrying all
errors. Bad input never reaches a kernel.
"""
from __future__ import annotations

import math
from collections import defaultdict

from .design import BACKENDS, ID_RE, META_KEYS, TOP_KEYS, Design, load_design
from .errors import DesignError, Problem
from .graph import GEdge, GNode, Graph
from .params import check_value
from .registry import all_types, can_connect, get_type

EDGE_KEYS = {"id", "source", "sourceHandle", "target", "targetHandle", "data", "type", "label",
             "animated", "style", "selected"}
NODE_KEYS = {"id", "type", "label", "position", "data", "selected", "width", "height", "measured",
             "dragging"}


def _P(code, message, fix="", node=None, port=None, param=None, severity="error", edge=None):
    return Problem(severity, code, message, fix, node, port, param, edge)


def _PE(edge_id, *a, **kw):
    return _P(*a, edge=edge_id, **kw)


def _check_meta(meta) -> list[Problem]:
    out = []
    if not isinstance(meta, dict):
        return [_P("meta.type", "'meta' must be an object", 'use "meta": {"name": ..., "dt_ms": 0.1, ...}')]
    for k, v in meta.items():
        if k not in META_KEYS:
            out.append(_P("meta.unknown", f"unknown meta key '{k}'", f"allowed keys: {', '.join(META_KEYS)}",
                          param=k))
            continue
        typ = META_KEYS[k]
        if not isinstance(v, typ) or isinstance(v, bool):
            out.append(_P("meta.type", f"meta '{k}' has the wrong type ({type(v).__name__})",
                          f"'{k}' is a {'number' if typ != str and typ != int else typ.__name__}", param=k))
            continue
        if isinstance(v, float) and not math.isfinite(v):
            out.append(_P("meta.nonfinite", f"meta '{k}' is {v}", "give a finite number", param=k))
    dt = meta.get("dt_ms", 0.1)
    if isinstance(dt, (int, float)) and not isinstance(dt, bool) and not (0 < dt <= 10):
        out.append(_P("meta.bounds", f"dt_ms is {dt}, outside (0, 10] ms", "use a time step such as 0.1 ms",
                      param="dt_ms"))
    dur = meta.get("duration_ms", 1000)
    if isinstance(dur, (int, float)) and not isinstance(dur, bool) and not (0 < dur <= 1e9):
        out.append(_P("meta.bounds", f"duration_ms is {dur}, outside (0, 1e9] ms", "give a positive duration",
                      param="duration_ms"))
    seed = meta.get("seed", 1)
    if isinstance(seed, int) and not isinstance(seed, bool) and not (0 <= seed < 2**63):
        out.append(_P("meta.bounds", f"seed is {seed}", "use a seed in [0, 2**63)", param="seed"))
    be = meta.get("backend", "numba")
    if isinstance(be, str) and be not in BACKENDS:
        out.append(_P("meta.backend", f"unknown backend '{be}'", f"use one of {', '.join(BACKENDS)}",
                      param="backend"))
    return out


def _node_problems(raw: dict, idx: int, seen: set) -> tuple[list[Problem], GNode | None]:
    out: list[Problem] = []
    if not isinstance(raw, dict):
        return [_P("node.type", f"nodes[{idx}] is not an object", "each node is {\"id\", \"type\", \"data\"}")], None
    nid = raw.get("id")
    if not isinstance(nid, str) or not ID_RE.match(nid):
        return [_P("node.id", f"nodes[{idx}] has invalid id {nid!r}",
                   "ids start with a letter and use letters, digits, '_' and '-' (at most 64)")], None
    if nid in seen:
        return [_P("node.duplicate_id", f"two nodes have the id '{nid}'", "give every node a unique id",
                   node=nid)], None
    seen.add(nid)
    for k in raw:
        if k not in NODE_KEYS:
            out.append(_P("node.unknown_key", f"unknown key '{k}' on node", f"allowed: {', '.join(sorted(NODE_KEYS))}",
                          node=nid))
    key = raw.get("type")
    cls = get_type(key) if isinstance(key, str) else None
    if cls is None:
        known = sorted(all_types())
        close = [k for k in known if isinstance(key, str) and (key.split(".")[-1] in k or k.split(".")[-1] in key)]
        hint = f"did you mean {', '.join(close[:3])}?" if close else "see `gliaflow types` for the list"
        out.append(_P("node.unknown_type", f"unknown node type {key!r}", f"use a registered type; {hint}",
                      node=nid))
        return out, None
    data = raw.get("data", {})
    if not isinstance(data, dict):
        out.append(_P("node.data", "'data' must be an object of parameter values", node=nid))
        return out, None
    label = raw.get("label", "")
    if not isinstance(label, str):
        out.append(_P("node.label", "'label' must be a string", node=nid))
    pos = raw.get("position")
    if pos is not None and not (isinstance(pos, dict) and all(
            isinstance(pos.get(a), (int, float)) and not isinstance(pos.get(a), bool) and math.isfinite(pos.get(a))
            for a in ("x", "y"))):
        out.append(_P("node.position", "'position' must be {\"x\": number, \"y\": number}", node=nid))
    decls = cls.param_decls()
    for k, v in data.items():
        if k not in decls:
            close = [d for d in decls if d.split("_")[0] == k.split("_")[0]]
            hint = f"did you mean '{close[0]}'?" if close else f"{cls.type_key} takes: {', '.join(decls)}"
            out.append(_P("param.unknown", f"{cls.type_key} has no parameter '{k}'", hint, node=nid, param=k))
            continue
        for code, msg, fix in check_value(k, decls[k], v):
            out.append(_P(code, f"{k} {msg}", fix, node=nid, param=k))
    bad_params = {p.param for p in out if p.severity == "error" and p.param}
    values = {**cls.defaults(), **{k: v for k, v in data.items() if k in decls and k not in bad_params}}
    gn = GNode(nid, cls, values, data, label if isinstance(label, str) else "")
    gn.invalid = any(p.severity == "error" for p in out)
    return out, gn


def _edge_problems(raw, idx, nodes: dict, raw_ids: set, seen: set) -> tuple[list[Problem], GEdge | None]:
    if not isinstance(raw, dict):
        return [_P("edge.type", f"edges[{idx}] is not an object")], None
    eid = raw.get("id", f"edges[{idx}]")
    out = []
    if not isinstance(eid, str):
        return [_PE(eid, "edge.id", f"edges[{idx}] has a non-string id")], None
    if eid in seen:
        return [_PE(eid, "edge.duplicate_id", f"two edges have the id '{eid}'", "give every edge a unique id")], None
    seen.add(eid)
    for k in raw:
        if k not in EDGE_KEYS:
            out.append(_PE(eid, "edge.unknown_key", f"edge '{eid}' has unknown key '{k}'"))
    src, sh, tgt, th = (raw.get(k) for k in ("source", "sourceHandle", "target", "targetHandle"))
    for end, nid in (("source", src), ("target", tgt)):
        if not isinstance(nid, str) or nid not in raw_ids:
            out.append(_PE(eid, "edge.dangling", f"edge '{eid}' {end} {nid!r} is not a node of the design",
                          "connect the edge to an existing node or delete it"))
    if out:
        return out, None
    if src not in nodes or tgt not in nodes:  # endpoint exists but is itself invalid
        return out, None
    scls, tcls = nodes[src].type, nodes[tgt].type
    sp = scls.port(sh) if isinstance(sh, str) else None
    tp = tcls.port(th) if isinstance(th, str) else None
    if sh is None:
        out.append(_PE(eid, "edge.missing_port", f"edge '{eid}' names no source port (sourceHandle)",
                      f"{scls.type_key} outputs: {', '.join(p.name for p in scls.out_ports())}", node=src))
    elif sp is None:
        out.append(_PE(eid, "edge.unknown_port", f"edge '{eid}': {scls.type_key} has no port '{sh}'",
                      f"outputs of {scls.type_key}: {', '.join(p.name for p in scls.out_ports()) or 'none'}",
                      node=src, port=str(sh)))
    elif sp.direction != "out":
        out.append(_PE(eid, "edge.direction", f"edge '{eid}' starts at input port '{sh}' of '{src}'",
                      "edges run from an output port to an input port", node=src, port=sh))
    if th is None:
        out.append(_PE(eid, "edge.missing_port", f"edge '{eid}' names no target port (targetHandle)",
                      f"{tcls.type_key} inputs: {', '.join(p.name for p in tcls.in_ports())}", node=tgt))
    elif tp is None:
        out.append(_PE(eid, "edge.unknown_port", f"edge '{eid}': {tcls.type_key} has no port '{th}'",
                      f"inputs of {tcls.type_key}: {', '.join(p.name for p in tcls.in_ports()) or 'none'}",
                      node=tgt, port=str(th)))
    elif tp.direction != "in":
        out.append(_PE(eid, "edge.direction", f"edge '{eid}' ends at output port '{th}' of '{tgt}'",
                      "edges run from an output port to an input port", node=tgt, port=th))
    if out:
        return out, None
    if not can_connect(sp.kind, tp.kind):
        ok_targets = sorted({p.name for t in all_types().values() for p in t.in_ports() if can_connect(sp.kind, p.kind)})
        out.append(_PE(eid, "edge.port_kind",
                      f"edge '{eid}' connects '{src}.{sh}' ({sp.kind}) to '{tgt}.{th}' ({tp.kind}); "
                      f"a {sp.kind} output cannot feed a {tp.kind} input",
                      f"wire '{src}.{sh}' to a port of kind {' or '.join(sorted({sp.kind} | ({'activity'} if sp.kind == 'spikes' else set())))}"
                      + (f" (for example {', '.join(ok_targets[:4])})" if ok_targets else ""),
                      node=tgt, port=th))
        return out, None
    data = raw.get("data") or {}
    if not isinstance(data, dict):
        return [_PE(eid, "edge.data", f"edge '{eid}' data must be an object")], None
    for k, v in data.items():
        if k == "sign" and tp.kind == "activity":
            if v not in (1, -1):
                out.append(_PE(eid, "edge.data", f"edge '{eid}' sign must be 1 or -1, got {v!r}", node=tgt, port=th))
        else:
            out.append(_PE(eid, "edge.data", f"edge '{eid}' has unknown data key '{k}'",
                          "edge data may only hold 'sign' (±1) on edges into activity ports", node=tgt, port=th))
    if out:
        return out, None
    return [], GEdge(eid, src, sh, tgt, th, dict(data))


def _loops(graph: Graph) -> list[Problem]:
    """Cycles through feedthrough ports: algebraic loops with no delay or state in between."""
    adj = defaultdict(list)
    for e in graph.edges:
        tcls = graph.nodes[e.target].type
        for i_port, o_port in tcls.feedthrough:
            if i_port == e.target_port:
                for e2 in graph.outputs(e.target, o_port):
                    adj[e.id].append(e2.id)
    color, stack_path, problems = {}, [], []

    def dfs(u):
        color[u] = 1
        stack_path.append(u)
        for v in adj[u]:
            if color.get(v, 0) == 0:
                if dfs(v):
                    return True
            elif color[v] == 1:
                cyc = stack_path[stack_path.index(v):]
                byid = {e.id: e for e in graph.edges}
                names = " -> ".join(f"{byid[x].source}.{byid[x].source_port}" for x in cyc) + f" -> {byid[v].source}"
                problems.append(_P("graph.zero_delay_loop",
                                   f"zero-delay loop of drive/current edges: {names} (the value would depend on itself "
                                   "within one time step)",
                                   "break the loop, or route it through a projection with delay_ms >= dt_ms",
                                   node=byid[v].source))
                return True
        stack_path.pop()
        color[u] = 2
        return False

    for e in graph.edges:
        if color.get(e.id, 0) == 0 and not problems:
            dfs(e.id)
    return problems


def _check_views(views, gnodes: dict) -> list[Problem]:
    """The reserved ``views`` key: ``{"plots": [node ids]}``, the plots a design opens with, in order."""
    if views is None:
        return []
    fix = 'views is {"plots": ["<monitor or readout node id>", ...]}: the plots the studio opens with, in order'
    if not isinstance(views, dict):
        return [_P("views.bad", f"'views' must be an object, not {type(views).__name__}", fix)]
    probs = [_P("views.unknown_key", f"unknown key '{k}' in views", fix) for k in views if k != "plots"]
    plots = views.get("plots", [])
    if not isinstance(plots, list) or not all(isinstance(x, str) for x in plots):
        return probs + [_P("views.plots", "views.plots must be a list of node ids", fix)]
    for nid in plots:
        n = gnodes.get(nid)
        if n is None:
            probs.append(_P("views.unknown_node", f"views.plots names '{nid}', which is not a node of this design",
                            "remove it from views.plots or add that node"))
        elif n.type.family() not in ("monitor", "readout"):
            probs.append(_P("views.not_plotted", f"views.plots names '{nid}' ({n.type.type_key}), which has no plots",
                            "list monitor and readout nodes only", node=nid))
    return probs


def _collect(design: Design, backend: str | None = None) -> tuple[list[Problem], Graph | None]:
    doc = design.doc
    probs: list[Problem] = []
    for k in doc:
        if k not in TOP_KEYS:
            probs.append(_P("design.unknown_key", f"unknown top-level key '{k}'", f"allowed: {', '.join(TOP_KEYS)}"))
    probs += _check_meta(doc.get("meta", {}))
    nodes_raw, edges_raw = doc.get("nodes", []), doc.get("edges", [])
    if not isinstance(nodes_raw, list):
        return probs + [_P("design.nodes", "'nodes' must be a list")], None
    if not isinstance(edges_raw, list):
        return probs + [_P("design.edges", "'edges' must be a list")], None
    seen: set = set()
    gnodes: dict[str, GNode] = {}
    raw_ids = {n.get("id") for n in nodes_raw if isinstance(n, dict) and isinstance(n.get("id"), str)}
    for i, raw in enumerate(nodes_raw):
        ps, gn = _node_problems(raw, i, seen)
        probs += ps
        if gn is not None:
            gnodes[gn.id] = gn
    gedges: list[GEdge] = []
    eseen: set = set()
    for i, raw in enumerate(edges_raw):
        ps, ge = _edge_problems(raw, i, gnodes, raw_ids, eseen)
        probs += ps
        if ge is not None:
            gedges.append(ge)
    if doc.get("sweep") is not None:  # the reserved sweep key (engine/sweep.py), checked with the nodes
        from .sweep_spec import sweep_problems
        probs += sweep_problems(doc["sweep"], {nid: (gnodes[nid].type if nid in gnodes else None)
                                               for nid in raw_ids if isinstance(nid, str)})
    meta = doc.get("meta", {}) if isinstance(doc.get("meta"), dict) else {}
    graph = Graph(list(gnodes.values()), gedges, meta, design)
    # port multiplicity and required inputs (edges whose other end is unusable still count)
    raw_in = defaultdict(int)
    for raw in edges_raw:
        if isinstance(raw, dict):
            raw_in[(raw.get("target"), raw.get("targetHandle"))] += 1
    for n in gnodes.values():
        for p in n.type.in_ports():
            k = max(len(graph.inputs(n.id, p.name)), raw_in[(n.id, p.name)])
            if k > 1 and not p.multiple:
                probs.append(_P("port.multiple", f"input '{p.name}' of {n.type.type_key} takes one edge, has {k}",
                                "remove the extra edges (or add a node that merges them)", node=n.id, port=p.name))
            if k == 0 and p.required:
                kinds = p.kind
                probs.append(_P("port.unconnected", f"required input '{p.name}' ({kinds}) of {n.type.type_key} is not connected",
                                f"wire a {kinds} output to '{n.id}.{p.name}'", node=n.id, port=p.name))
    if any(p.severity == "error" for p in probs):
        return probs, None
    for n in gnodes.values():
        probs += n.type.check(n, graph)
    if any(p.severity == "error" for p in probs):
        return probs, None
    probs += _loops(graph)
    probs += _memory(graph)
    probs += _check_views(doc.get("views"), gnodes)
    if (backend or meta.get("backend")) == "torch":  # node types the torch backend cannot run, with the reason
        probs += _torch_problems(graph)
    for n in gnodes.values():
        if n.type.family() == "neuron" and not n.type.has_input(n, graph):
            probs.append(_P("population.no_input",
                            "population has neither drive, current nor bias input, so it will stay silent",
                            "wire a projection to its drive port, a current stimulus to its current port, "
                            "or set a bias current", node=n.id, severity="warning"))
    return probs, graph


def _memory(graph: Graph) -> list[Problem]:
    try:
        import psutil
        total = psutil.virtual_memory().total
    except Exception:  # pragma: no cover
        return []
    per = {n.id: n.type.memory_bytes(n, graph) for n in graph.nodes.values()}
    need = sum(per.values())
    if need > total:
        big = max(per, key=per.get)
        return [_P("memory.exceeds",
                   f"the design needs about {need / 2**30:.1f} GiB, more than this machine's {total / 2**30:.1f} GiB "
                   f"('{big}' alone about {per[big] / 2**30:.1f} GiB)",
                   "reduce population sizes or connection probability/in-degree", node=big)]
    return []


def _torch_problems(graph: Graph) -> list[Problem]:
    try:
        from .backends.torch_backend import problems
    except ImportError as e:
        return [_P("meta.backend", f"backend 'torch' needs PyTorch ({e})", "install torch, or use backend 'numba'",
                   param="backend")]
    return problems(graph)


def validate(design, backend: str | None = None) -> list[Problem]:
    """All problems (errors and warnings) of a design, a path or a dict; ``backend``
    overrides the design's meta.backend (torch: nodes it cannot run are errors)."""
    try:
        design = load_design(design)
    except DesignError as e:
        return e.problems
    return _collect(design, backend)[0]


def build_graph(design) -> Graph:
    """The validated graph, or :class:`DesignError` with every error found."""
    design = load_design(design)
    probs, graph = _collect(design)
    errors = [p for p in probs if p.severity == "error"]
    if errors or graph is None:
        raise DesignError(errors or probs)
    graph.warnings = [p for p in probs if p.severity == "warning"]
    return graph
