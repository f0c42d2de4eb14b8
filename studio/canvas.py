"""The canvas: registry types as panel-reactflow node types, design <-> flow, node badges.

Everything here is derived from the registry and the design document, so a node type
added in ``components/`` appears on the canvas, in the palette and in the inspector with
no studio change.
"""
from __future__ import annotations

import html

import panel as pn
from panel_reactflow import NodeType as FlowNodeType

from engine.registry import all_types, can_connect, get_type

FAMILY_COLORS = {
    "stimulus": "#0277bd", "neuron": "#2e7d32", "projection": "#6a1b9a", "plasticity": "#ad1457",
    "astrocyte": "#ef6c00", "readout": "#00838f", "monitor": "#455a64",
}

CANVAS_CSS = """
.react-flow__node { border: 1px solid #b0b7c3; border-radius: 8px; background: #ffffff;
  box-shadow: 0 1px 3px rgba(0,0,0,.12); min-width: 150px; font-size: 12px; }
.react-flow__node.selected { box-shadow: 0 0 0 2px #1976d2; }
.gf-invalid { outline: 2px solid #d32f2f; outline-offset: 2px; }
.gf-warning { outline: 2px dashed #f9a825; outline-offset: 2px; }
.react-flow__handle { width: 9px; height: 9px; }
.rf-handle-invalid { background: #d32f2f !important; }
.rf-handle-valid { background: #2e7d32 !important; }
"""


def handle(port) -> dict:
    return {"id": port.name, "label": port.name, "type": port.kind}


def flow_node_types() -> dict[str, FlowNodeType]:
    """One panel-reactflow node type per registered gliaflow type, with typed handles."""
    out = {}
    for key, cls in all_types().items():
        out[key] = FlowNodeType(type=key, label=key.split(".", 1)[1].replace("_", " "),
                                inputs=[handle(p) for p in cls.in_ports()],
                                outputs=[handle(p) for p in cls.out_ports()],
                                input_connectable_start=False, output_connectable_end=False)
    return out


def make_validator(get_design):
    """A panel-reactflow connection validator backed by the registry's port-kind table."""

    def validate(payload: dict) -> str | None:
        design = get_design()
        try:
            s = design.node(payload["source"])
            t = design.node(payload["target"])
        except KeyError:
            return "node not found"
        scls, tcls = get_type(s["type"]), get_type(t["type"])
        if scls is None or tcls is None:
            return "unknown node type"
        sp = scls.port(payload.get("sourceHandle") or "")
        tp = tcls.port(payload.get("targetHandle") or "")
        if sp is None or sp.direction != "out":
            return "start at an output port"
        if tp is None or tp.direction != "in":
            return "end at an input port"
        if s["id"] == t["id"] and scls.family() != "neuron":
            return "a node cannot feed itself"
        if not can_connect(sp.kind, tp.kind):
            return f"a {sp.kind} output cannot feed a {tp.kind} input"
        if not tp.multiple and any(e.get("target") == t["id"] and e.get("targetHandle") == tp.name
                                   for e in design.edges):
            return f"'{tp.name}' takes one connection and already has one"
        if any(e.get("source") == s["id"] and e.get("target") == t["id"] and e.get("sourceHandle") == sp.name
               and e.get("targetHandle") == tp.name for e in design.edges):
            return "these ports are connected already"
        return None

    return validate


def summary_html(node: dict, problems: list) -> str:
    """The body of a node on the canvas: type, a few key values, its problems."""
    cls = get_type(node.get("type", ""))
    fam = cls.family() if cls else "?"
    color = FAMILY_COLORS.get(fam, "#555")
    data = node.get("data", {}) or {}
    bits = []
    if cls is not None:
        decls = cls.param_decls()
        rule = data.get("rule", decls["rule"].default) if "rule" in decls else None
        skip = {"fixed_probability": {"indegree"}, "fixed_indegree": {"p"}}.get(rule, {"p", "indegree"})
        for k in ("n", "rate_hz", "rule", "p", "indegree", "weight_gl", "weight_mv", "weight", "delay_ms",
                  "variables", "every_ms", "waveform", "amplitude"):
            if k in decls and k not in skip:
                v = data.get(k, decls[k].default)
                if (k.startswith("weight") or k == "delay_ms") and cls.type_key == "projection.synapses" and k not in data:
                    continue
                if isinstance(v, dict):
                    v = v.get("dist", v.get("array", "…"))
                if v is None:
                    continue
                bits.append(f"{k}={v}")
    parts = [f"<div style='color:{color};font-size:11px;font-weight:600'>{html.escape(node.get('type', '?'))}"
             + (" <span title='experimental' style='color:#ef6c00'>(exp.)</span>" if cls is not None and cls.experimental else "")
             + "</div>"]
    if bits:
        parts.append(f"<div style='color:#444;font-size:11px'>{html.escape(' · '.join(bits[:4]))}</div>")
    for p in problems[:3]:
        c = "#c62828" if p.severity == "error" else "#8d6e00"
        where = f"{p.param}: " if p.param else (f"{p.port}: " if p.port else "")
        parts.append(f"<div class='gf-problem' style='color:{c};font-size:11px;max-width:240px;white-space:normal'>"
                     f"{'✖' if p.severity == 'error' else '⚠'} {html.escape(where + p.message)}</div>")
    if len(problems) > 3:
        parts.append(f"<div style='color:#c62828;font-size:11px'>… {len(problems) - 3} more</div>")
    return "".join(parts)


class NodeViews:
    """One small HTML pane per node, updated in place when its data or problems change."""

    def __init__(self):
        self.panes: dict[str, pn.pane.HTML] = {}

    def get(self, node: dict, problems: list) -> pn.pane.HTML:
        pane = self.panes.get(node["id"])
        text = summary_html(node, problems)
        if pane is None:
            pane = pn.pane.HTML(text, margin=(0, 6, 4, 6), width=230)
            self.panes[node["id"]] = pane
        elif pane.object != text:
            pane.object = text
        return pane

    def prune(self, ids: set[str]) -> None:
        for k in list(self.panes):
            if k not in ids:
                del self.panes[k]


def flow_node(node: dict, view, problems: list) -> dict:
    errors = [p for p in problems if p.severity == "error"]
    cls = "gf-invalid" if errors else ("gf-warning" if problems else None)
    out = {"id": node["id"], "type": node["type"], "label": node.get("label") or node["id"],
           "position": dict(node.get("position") or {"x": 0.0, "y": 0.0}), "data": {}, "view": view}
    if cls:
        out["className"] = cls
    return out


KIND_COLORS = {"spikes": "#1565c0", "drive": "#6a1b9a", "current": "#ef6c00", "state": "#546e7a",
               "weights": "#ad1457", "activity": "#00838f", "rule": "#ad1457", "modulation": "#ef6c00",
               "signal": "#2e7d32"}


def edge_kind(design, edge: dict) -> str | None:
    try:
        cls = get_type(design.node(edge["source"])["type"])
    except KeyError:
        return None
    p = cls.port(edge.get("sourceHandle") or "") if cls else None
    return p.kind if p else None


def flow_edge(edge: dict, kind: str | None, problems: list) -> dict:
    out = {"id": edge["id"], "source": edge["source"], "target": edge["target"],
           "sourceHandle": edge.get("sourceHandle"), "targetHandle": edge.get("targetHandle"), "data": {},
           "style": {"stroke": KIND_COLORS.get(kind or "", "#888"), "strokeWidth": 1.6}}
    if problems:
        out["style"] = {"stroke": "#d32f2f", "strokeWidth": 2.5}
        out["label"] = problems[0].message[:60]
    return out
