"""The inspector: widgets generated from a node type's parameter declarations.

Bounds become widget limits, units go into labels, docs into tooltips; distribution-capable
parameters get a form selector (a single value, or normal / uniform / lognormal / constant
with their fields). Problems of the selected node are listed under its widgets.
"""
from __future__ import annotations

import html
import math
from typing import Any, Callable

import panel as pn

from engine.params import DIST_KINDS, meta, unit_of
from engine.registry import get_type

FORMS = ["value", *DIST_KINDS]


def _label(name: str, decl) -> str:
    unit = meta(decl).get("unit") or unit_of(name)
    base = name
    for suf in ("_ms", "_mv", "_hz", "_gl", "_pa", "_pf", "_ns", "_um"):
        if base.endswith(suf):
            base = base[: -len(suf)]
    return f"{base} ({unit})" if unit else base


def _tooltip(name: str, decl) -> str:
    md = meta(decl)
    bits = [decl.doc or name]
    b = getattr(decl, "bounds", None)
    if b is not None and b != (None, None):
        bits.append(f"bounds {list(b)}")
    bits.append("applies at the next chunk while running" if md.get("live") else "applies at the next reset")
    return " — ".join(bits)


def _bound(v):
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v


class Inspector(pn.viewable.Viewer):
    """Shows and edits the selected node (or edge)."""

    def __init__(self, on_change: Callable[[str, str, Any], None], **params):
        super().__init__(**params)
        self._on_change = on_change
        self._col = pn.Column(pn.pane.Markdown("Select a node to edit its parameters.", margin=(4, 8)),
                              sizing_mode="stretch_width", scroll=True, css_classes=["gf-inspector"])
        self.node_id: str | None = None
        self.widgets: dict[str, Any] = {}
        self._muted = False

    def __panel__(self):
        return self._col

    # ------------------------------------------------------------------------------------
    def clear(self, text: str = "Select a node to edit its parameters.") -> None:
        self.node_id = None
        self.widgets = {}
        self._col.objects = [pn.pane.Markdown(text, margin=(4, 8))]

    def show_edge(self, edge: dict, kind: str | None, problems: list) -> None:
        self.node_id = None
        self.widgets = {}
        txt = (f"**Wire** `{edge.get('source')}.{edge.get('sourceHandle')}` → "
               f"`{edge.get('target')}.{edge.get('targetHandle')}`  \nkind: {kind or '?'}")
        objs = [pn.pane.Markdown(txt, margin=(4, 8))]
        objs += [self._problem_pane(problems)] if problems else []
        self._col.objects = objs

    def show_node(self, node: dict, problems: list, status: str = "") -> None:
        cls = get_type(node.get("type", ""))
        if cls is None:
            self.clear(f"Unknown type {node.get('type')!r}")
            return
        self.node_id = node["id"]
        data = node.get("data", {}) or {}
        header = (f"### {html.escape(node.get('label') or node['id'])}\n"
                  f"`{cls.type_key}` · id `{node['id']}`" + (" · **experimental**" if cls.experimental else "")
                  + f"\n\n{cls.description()}")
        objs: list = [pn.pane.Markdown(header, margin=(0, 8), styles={"font-size": "12px"})]
        label = pn.widgets.TextInput(label="label", value=node.get("label") or "", sizing_mode="stretch_width",
                                     description="name shown on the canvas (not used by the compiler)")
        label.param.watch(lambda e: self._emit(node["id"], "__label__", e.new), "value")
        objs.append(label)
        self.widgets = {}
        for name, decl in cls.param_decls().items():
            w = self._widget(node["id"], name, decl, data.get(name, decl.default))
            self.widgets[name] = w
            objs.append(w)
        if status:
            objs.append(pn.pane.Markdown(status, margin=(4, 8), styles={"font-size": "11px", "color": "#555"}))
        if problems:
            objs.append(self._problem_pane(problems))
        self._col.objects = objs

    def set_problems(self, problems: list) -> None:
        objs = [o for o in self._col.objects if not getattr(o, "_gf_problems", False)]
        if problems:
            objs.append(self._problem_pane(problems))
        self._col.objects = objs

    # ------------------------------------------------------------------------------------
    def _problem_pane(self, problems: list):
        rows = []
        for p in problems:
            color = "#c62828" if p.severity == "error" else "#8d6e00"
            where = f"<b>{html.escape(p.param)}</b>: " if p.param else (f"<b>{html.escape(p.port)}</b>: " if p.port else "")
            fix = f"<br><i>{html.escape(p.fix)}</i>" if p.fix else ""
            rows.append(f"<div style='color:{color};margin:2px 0'>{'✖' if p.severity == 'error' else '⚠'} "
                        f"{where}{html.escape(p.message)}{fix}</div>")
        pane = pn.pane.HTML("".join(rows), margin=(4, 8), sizing_mode="stretch_width", styles={"font-size": "12px"},
                            css_classes=["gf-node-problems"])
        pane._gf_problems = True
        return pane

    def _emit(self, node_id: str, name: str, value) -> None:
        if not self._muted:
            self._on_change(node_id, name, value)

    def _widget(self, node_id: str, name: str, decl, value):
        md = meta(decl)
        kind = md.get("kind", "number")
        label = _label(name, decl) + ("" if md.get("live") else " ↻")
        tip = _tooltip(name, decl)
        common = dict(label=label, description=tip, sizing_mode="stretch_width", margin=(2, 8),
                      css_classes=[f"gf-param-{name}"])
        if kind == "choice":
            w = pn.widgets.Select(options=list(decl.objects), value=value, **common)
        elif kind == "flag":
            w = pn.widgets.Checkbox(value=bool(value), label=label, margin=(6, 8), css_classes=[f"gf-param-{name}"])
        elif kind == "text":
            w = pn.widgets.TextInput(value=value or "", **common)
        elif kind == "array":
            txt = "none" if value is None else f"array '{value.get('array')}' (sidecar)"
            return pn.pane.Markdown(f"**{name}**: {txt}", margin=(2, 8), styles={"font-size": "12px"})
        elif kind == "integer":
            b = decl.bounds or (None, None)
            w = pn.widgets.IntInput(value=int(value), start=_bound(b[0]), end=_bound(b[1]), **common)
        else:
            if md.get("dist"):
                return self._dist_widget(node_id, name, decl, value, common)
            b = decl.bounds or (None, None)
            w = pn.widgets.FloatInput(value=value, start=_bound(b[0]), end=_bound(b[1]), **common)
        w.param.watch(lambda e, n=name: self._emit(node_id, n, e.new), "value")
        w._gf_name = name
        return w

    def _dist_widget(self, node_id: str, name: str, decl, value, common):
        """A number or a distribution: form selector plus the fields of the chosen form."""
        form = value.get("dist") if isinstance(value, dict) else "value"
        sel = pn.widgets.Select(options=FORMS, value=form, label=common["label"], description=common["description"],
                                width=110, margin=(2, 4, 2, 8), css_classes=[f"gf-param-{name}-form"])
        fields_box = pn.Row(sizing_mode="stretch_width", margin=0)
        box = pn.Row(sel, fields_box, sizing_mode="stretch_width", margin=0)
        state = {"value": value}

        def build_fields(form_name: str, v):
            ins = []
            keys = ["value"] if form_name == "value" else list(DIST_KINDS[form_name])
            for k in keys:
                if form_name == "value":
                    cur = v if not isinstance(v, dict) else decl.default
                else:
                    cur = v.get(k) if isinstance(v, dict) and v.get("dist") == form_name else (
                        decl.default if k in ("mean", "value", "low") else (decl.default if k == "high" else 1.0))
                    if k == "std" and not (isinstance(v, dict) and "std" in v):
                        cur = 1.0
                    if k == "high" and not (isinstance(v, dict) and "high" in v):
                        cur = (decl.default or 0.0) + 1.0
                fi = pn.widgets.FloatInput(value=float(cur) if cur is not None else None, label=k,
                                           sizing_mode="stretch_width", margin=(2, 4),
                                           css_classes=[f"gf-param-{name}" if k == "value" else f"gf-param-{name}-{k}"])
                fi.param.watch(lambda e: changed(), "value")
                ins.append((k, fi))
            fields_box.objects = [w for _, w in ins]
            state["fields"] = ins

        def current():
            f = sel.value
            vals = {k: w.value for k, w in state["fields"]}
            if f == "value":
                return vals["value"]
            return {"dist": f, **vals}

        def changed():
            self._emit(node_id, name, current())

        def on_form(e):
            build_fields(e.new, state["value"])
            changed()

        build_fields(form, value)
        sel.param.watch(on_form, "value")
        box._gf_name = name
        return box
