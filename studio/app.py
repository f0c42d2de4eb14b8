"""The studio: palette | canvas | inspector, run bar, live plots, files — one per browser session.

The design document is the only source of truth. Canvas events (moves, new wires, deletions)
are reconciled into it; every change is one undo step, is validated at once (problems shown
on the node and in the problems list; Run is disabled while there are errors) and is
autosaved to a recovery file. Runs happen on a background thread (numba releases the GIL),
chunks are binned there, and a periodic callback on the session's event loop moves them
into the plots at ~8 Hz. Live parameters apply to a running simulation at its next chunk;
anything else rebuilds it at the next run (compiled code is reused when the structure is
unchanged).
"""
from __future__ import annotations

import copy
import io
import json
import os
import threading
import time
import traceback
from pathlib import Path

import numpy as np
import panel as pn
import panel_material_ui as pmui
from panel_reactflow import ReactFlow

from engine import Design, DesignError, DivergenceError, Simulation, load_design, validate
from engine.params import check_value, meta
from engine.registry import FAMILIES, all_types, get_type

from .bridge import Bridge
from .canvas import CANVAS_CSS, NodeViews, edge_kind, flow_edge, flow_node, flow_node_types, make_validator
from .files import MAX_UPLOAD_BYTES, Recovery, gallery, parse_upload
from .history import History
from .inspector import Inspector
from .panels import RunsPanel, SweepPanel, TrainPanel
from .util import esc as _esc
from .plots import LivePlots

# plots and the status line refresh this often (ms): 5 updates/s by default
REFRESH_MS = int(os.environ.get("GLIAFLOW_REFRESH_MS", "200"))

FAMILY_TITLES = {"stimulus": "Stimuli", "neuron": "Neurons", "projection": "Projections", "plasticity": "Plasticity",
                 "astrocyte": "Astrocytes", "readout": "Readouts", "monitor": "Monitors"}
SPEEDS = {"as fast as possible": None, "10× real time": 0.1, "real time": 1.0, "slow motion (0.1×)": 10.0}
HELP = """
**Keyboard**: Space run/pause · Ctrl+Z undo · Ctrl+Y (or Ctrl+Shift+Z) redo · Delete remove selection ·
Ctrl+C / Ctrl+V copy/paste nodes · Ctrl+S save · ? this help

**Build**: click a type in the palette (or drag it onto the canvas) to add it; drag from an output
port (right) to an input port (left) to wire. Ports only connect to compatible kinds; while you drag,
incompatible ports turn red and say why.

**Run**: Run/Pause, Step (10 ms), Reset. Parameters marked ↻ apply at the next reset; the others apply
to a running simulation at its next chunk, without recompiling.
"""


def _now() -> float:
    return time.perf_counter()


def log_event(event: str, **kw) -> None:
    """Append a timestamped event to $GLIAFLOW_STUDIO_EVENTS (used by benchmarks/studio_live.py)."""
    path = os.environ.get("GLIAFLOW_STUDIO_EVENTS")
    if not path:
        return
    with open(path, "a") as f:
        f.write(json.dumps({"time": time.time(), "event": event, **kw}) + "\n")


def _notebook_loop():
    """The event loop of the Jupyter kernel this runs in (None outside a kernel)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    ip = get_ipython()
    if ip is None or getattr(ip, "kernel", None) is None or threading.current_thread() is not threading.main_thread():
        return None
    import asyncio
    try:
        return asyncio.get_event_loop()
    except RuntimeError:
        return None


CODE_CSS = """textarea { font-family: 'DejaVu Sans Mono', monospace; font-size: 12px; white-space: pre; }"""


class Studio(pn.viewable.Viewer):
    """The whole studio for one session. ``Studio("gallery/coba.json")`` in a notebook or server."""

    def __init__(self, design=None, *, path: str | None = None, recovery: bool = True, record: bool = True,
                 **params):
        super().__init__(**params)
        self.record = record  # every run into the run catalog (engine.catalog), as the issue asks: on by default
        self._record_id: int | None = None
        self._doc = pn.state.curdoc
        if design is None:
            doc = Design({"schema_version": 1, "meta": {"name": "untitled", "dt_ms": 0.1, "duration_ms": 1000.0,
                                                          "seed": 1, "backend": "numba"}, "nodes": [], "edges": []})
        else:
            doc = load_design(design).copy()
        if path is None and isinstance(design, (str, Path)) and doc.path is not None and "gallery" not in str(doc.path):
            path = str(doc.path)
        self.path = path
        self.design: Design = doc
        self.history = History()
        self.problems: list = []
        self.clipboard: dict | None = None
        self.sim: Simulation | None = None
        self.sim_structure: str | None = None
        self.sim_thread: threading.Thread | None = None
        self.running = False
        self.compile_state = "not compiled"
        self.last_error: str | None = None
        self._applying = False
        self._dirty_autosave = False
        self._last_saved = self.design.to_json()
        self._edit_snapshot: tuple[str, float] | None = None
        self._run_target_ms = 0.0
        self._first_spike_wall: float | None = None
        self._run_started_wall: float | None = None
        self._recovery = Recovery(self.path or f"untitled:{self.design.name}") if recovery else None
        self.node_views = NodeViews()
        self._build_widgets()
        self._revalidate()
        self._render_canvas()
        self.fit_view()
        self._update_title()
        self._offer_recovery()
        self._periodic = None
        # in a Jupyter kernel there is no server session: the kernel's event loop plays its part
        self._loop = _notebook_loop() if self._doc is None else None
        if self._doc is not None or self._loop is not None:
            self._periodic = pn.state.add_periodic_callback(self._tick, period=REFRESH_MS)
            self._autosave_cb = pn.state.add_periodic_callback(self._autosave, period=3000)
        if self._doc is not None:
            pn.state.on_session_destroyed(lambda ctx: self._shutdown())

    # ======================================================================================
    # widgets
    # ======================================================================================
    def _build_widgets(self) -> None:
        self.bridge = Bridge(on_key=self._on_key)
        # --- palette
        items, self._palette_keys = [], []
        types = all_types()
        for fam in FAMILIES:
            sub = []
            for key, cls in types.items():
                if cls.family() != fam:
                    continue
                tip = cls.description() + ("  (experimental: equations not confirmed against the paper)"
                                           if cls.experimental else "")
                short = cls.description().split(":")[0].split(" (")[0].split(",")[0]
                sub.append({"label": key.split(".", 1)[1].replace("_", " "),
                            "secondary": short if len(short) <= 48 else short[:46] + "…",
                            "tooltip": tip, "type_key": key})
            if sub:
                items.append({"label": FAMILY_TITLES[fam], "items": sub, "selectable": False, "open": True})
        self.palette = pmui.MenuList(items=items, draggable=True, dense=True, sizing_mode="stretch_width",
                                     highlight=False, css_classes=["gf-palette"])
        self.palette.on_click(self._on_palette_click)
        # --- canvas
        self.flow = ReactFlow(nodes=[], edges=[], node_types=flow_node_types(), sizing_mode="stretch_both",
                              min_height=460, editor_mode="side", max_zoom=1.25, min_zoom=0.2, show_minimap=False, enable_multiselect=True,
                              drop_types=[self.palette.drag_type], stylesheets=[CANVAS_CSS],
                              default_node_editor=lambda *a, **k: None, css_classes=["gf-canvas"])
        self.flow.add_connection_validator(make_validator(lambda: self.design))
        for ev in ("node_moved", "edge_added", "node_deleted", "edge_deleted", "sync"):
            self.flow.on(ev, self._on_flow_change)
        self.flow.on("selection_changed", self._on_selection)
        self.flow.on("drop", self._on_drop)
        # --- inspector and problems
        self.inspector = Inspector(self._on_param_edit)
        self.problems_pane = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["gf-problems"],
                                          styles={"font-size": "12px"})
        # --- run bar
        m = self.design.meta
        self.run_button = pn.widgets.Button(label="▶ Run", color="success", width=90, css_classes=["gf-run"])
        self.step_button = pn.widgets.Button(label="Step", width=70, css_classes=["gf-step"])
        self.reset_button = pn.widgets.Button(label="Reset", width=70, css_classes=["gf-reset"])
        self.duration = pn.widgets.FloatInput(label="duration (ms)", value=float(m.get("duration_ms", 1000.0)),
                                              start=0.1, width=110, css_classes=["gf-duration"])
        self.dt = pn.widgets.FloatInput(label="dt (ms)", value=float(m.get("dt_ms", 0.1)), start=0.001, end=10, width=80)
        self.seed = pn.widgets.IntInput(label="seed", value=int(m.get("seed", 1)), start=0, width=80)
        self.backend = pn.widgets.Select(label="backend", options=self._backends(), value="numba", width=100)
        self.speed = pn.widgets.Select(label="speed", options=list(SPEEDS), value="as fast as possible", width=170,
                                       css_classes=["gf-speed"])
        self.run_button.on_click(lambda e: self.toggle_run())
        self.step_button.on_click(lambda e: self.step())
        self.reset_button.on_click(lambda e: self.reset())
        for w, key in ((self.duration, "duration_ms"), (self.dt, "dt_ms"), (self.seed, "seed"), (self.backend, "backend")):
            w.param.watch(lambda e, k=key: self._on_meta(k, e.new), "value")
        self.status = pn.pane.HTML("", css_classes=["gf-status"], styles={"font-size": "12px", "font-family": "monospace"},
                                   sizing_mode="stretch_width")
        self.progress = pn.indicators.Progress(value=0, max=1000, width=160, bar_color="success", margin=(14, 8))
        self.message = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width",
                                     css_classes=["gf-message"])
        # --- files
        self.new_button = pn.widgets.Button(label="New", width=60)
        self.save_button = pn.widgets.Button(label="Save", width=60, css_classes=["gf-save"])
        self.saveas_name = pn.widgets.TextInput(placeholder="name.json", width=130)
        self.saveas_button = pn.widgets.Button(label="Save as", width=75, css_classes=["gf-saveas"])
        self.open_input = pn.widgets.FileInput(accept=".json,.py", multiple=False, width=210, css_classes=["gf-open"])
        g = gallery()
        self._gallery = g
        self.gallery_select = pn.widgets.Select(label="", options={"Gallery…": ""} | {f"{k}: {v['short']}": k
                                                                                     for k, v in g.items()},
                                                value="", width=260, css_classes=["gf-gallery"])
        self.results_button = pn.widgets.FileDownload(label="Results (.npz)", filename="results.npz", width=130,
                                                      callback=self._results_npz, color="default",
                                                      css_classes=["gf-results"])
        self.nwb_button = pn.widgets.FileDownload(label="Results (NWB)", filename="results.nwb", width=130,
                                                  callback=self._results_nwb, color="default", disabled=True,
                                                  css_classes=["gf-nwb"],
                                                  description="spikes as NWB units, monitor traces as time series")
        self.script_button = pn.widgets.FileDownload(label="Script (.py)", filename="model.py", width=120,
                                                     callback=self._script_file, color="default",
                                                     css_classes=["gf-export"],
                                                     description="the design as a Python script (gliaflow export)")
        # --- the Code panel: the exported script, live; edits apply back through the importer
        self.code = pn.widgets.TextAreaInput(value="", height=520, sizing_mode="stretch_width",
                                             css_classes=["gf-code"], stylesheets=[CODE_CSS])
        self.code_apply = pn.widgets.Button(label="Apply script", width=110, css_classes=["gf-code-apply"],
                                            description="parse the script (never executed) and replace the design")
        self.code_status = pn.pane.HTML("", margin=(4, 8), styles={"font-size": "12px"})
        self.code_card = pn.Card(self.code, pn.Row(self.code_apply, self.code_status), title="Code",
                                 collapsed=True, sizing_mode="stretch_width", css_classes=["gf-code-card"])
        self.code_card.param.watch(lambda e: self._refresh_code(), "collapsed")
        self.code_apply.on_click(lambda e: self.apply_code())
        self.undo_button = pn.widgets.Button(label="↶", width=40, description="undo (Ctrl+Z)")
        self.redo_button = pn.widgets.Button(label="↷", width=40, description="redo (Ctrl+Y)")
        self.help_button = pn.widgets.Button(label="?", width=36, description="help (?)")
        self.help_pane = pn.pane.Markdown(HELP, visible=False, sizing_mode="stretch_width",
                                          styles={"background": "#f5f7fa", "padding": "4px 12px", "font-size": "12px"})
        self.recovery_box = pn.Row(visible=False, sizing_mode="stretch_width")
        self.new_button.on_click(lambda e: self.new())
        self.save_button.on_click(lambda e: self.save())
        self.saveas_button.on_click(lambda e: self.save(self.saveas_name.value or None))
        self.open_input.param.watch(self._on_open, "value")
        self.gallery_select.param.watch(self._on_gallery, "value")
        self.undo_button.on_click(lambda e: self.undo())
        self.redo_button.on_click(lambda e: self.redo())
        self.help_button.on_click(lambda e: self.toggle_help())
        self.plots = LivePlots()
        self.title = pn.pane.HTML("", styles={"font-size": "15px", "font-weight": "600"}, margin=(10, 8))
        self.train_panel = TrainPanel(self)
        self.sweep_panel = SweepPanel(self)
        self.runs_panel = RunsPanel(self)

    def _backends(self) -> list[str]:
        """numba, and torch where it is installed (the meta neuron's surrogate training and
        batched trials live there)."""
        import importlib.util
        return ["numba"] + (["torch"] if importlib.util.find_spec("torch") is not None else [])

    def __panel__(self):
        filebar = pn.Row(self.title, self.new_button, pn.pane.HTML("<span style='font-size:12px'>Open</span>",
                                                                  margin=(14, 2, 0, 8)), self.open_input,
                         self.save_button, self.saveas_name, self.saveas_button, self.gallery_select,
                         self.results_button, self.nwb_button, self.script_button, self.undo_button, self.redo_button, self.help_button, self.bridge,
                         sizing_mode="stretch_width", css_classes=["gf-filebar"])
        runbar = pn.Row(self.run_button, self.step_button, self.reset_button, self.duration, self.dt, self.seed,
                        self.backend, self.speed, self.progress, sizing_mode="stretch_width", css_classes=["gf-runbar"])
        left = pn.Column(pn.pane.Markdown("**Palette**", margin=(0, 8)), self.palette, width=250, scroll=True,
                         height=560, css_classes=["gf-left"])
        right = pn.Column(pn.pane.Markdown("**Inspector**", margin=(0, 8)), self.inspector,
                          pn.pane.Markdown("**Problems**", margin=(8, 8, 0, 8)), self.problems_pane,
                          width=330, height=560, scroll=True, css_classes=["gf-right"])
        middle = pn.Row(left, pn.Column(self.flow, sizing_mode="stretch_width", height=560), right,
                        sizing_mode="stretch_width", height=570)
        return pn.Column(filebar, self.recovery_box, self.help_pane, runbar, self.status, self.message, middle,
                         self.code_card, self.train_panel, self.sweep_panel, self.runs_panel, pn.pane.Markdown("**Live plots**", margin=(4, 8)), self.plots,
                         sizing_mode="stretch_width", css_classes=["gf-studio"])

    def canvas_view(self):
        """The canvas with its inspector and problems list, without palette, run bar or plots
        (the notebook's ``studio.notebook.canvas``)."""
        right = pn.Column(pn.pane.Markdown("**Inspector**", margin=(0, 8)), self.inspector,
                          pn.pane.Markdown("**Problems**", margin=(8, 8, 0, 8)), self.problems_pane,
                          width=330, height=560, scroll=True, css_classes=["gf-right"])
        return pn.Row(pn.Column(self.flow, self.bridge, sizing_mode="stretch_width", height=560), right,
                      sizing_mode="stretch_width", height=570, css_classes=["gf-canvas-only"])

    # ======================================================================================
    # design editing (all user actions go through these; each is one undo step)
    # ======================================================================================
    def _snapshot(self) -> str:
        return json.dumps(self.design.doc, sort_keys=True, allow_nan=False)

    def _commit(self, before: str, *, structural: bool = True) -> None:
        if before == self._snapshot():
            return
        self.history.push(before)
        self._after_change(structural=structural)

    def _after_change(self, *, structural: bool) -> None:
        self._dirty_autosave = True
        self._revalidate()
        self._render_canvas(full=structural)
        self._refresh_inspector()
        self._update_title()
        self._refresh_code()

    # --- the design as a script -------------------------------------------------------------
    def script_text(self) -> str:
        """The design as `gliaflow export` writes it (a comment naming the problem if it cannot)."""
        from engine.script import export_script
        try:
            return export_script(self.design, source=f"{self.design.name}.py")
        except DesignError as e:
            return f"# the design cannot be exported yet:\n# {str(e).replace(chr(10), chr(10) + '# ')}\n"

    def _refresh_code(self) -> None:
        if getattr(self, "code_card", None) is None or self.code_card.collapsed:
            return  # exported only while the panel is open
        text = self.script_text()
        if text != self.code.value:
            self.code.value = text
        self.code_status.object = ""

    def apply_code(self, text: str | None = None) -> bool:
        """Replace the design by the script in the Code panel (parsed, never executed); one undo
        step. A refused script leaves the design as it was and names the line."""
        from engine.script import import_script
        text = self.code.value if text is None else text
        try:
            doc = import_script(text, source="Code panel")
        except DesignError as e:
            self.code_status.object = f"<span style='color:#c62828'>{_esc(e)}</span>"
            return False
        before = self._snapshot()
        for n in doc.get("nodes", []):  # keep the canvas where the script gave no position
            old = next((m for m in self.design.nodes if m["id"] == n["id"]), None)
            if old is not None and "position" in old and not n.get("position"):
                n["position"] = old["position"]
        self.design.doc = doc
        self._commit(before)
        self._sync_meta_widgets()
        self.code_status.object = "<span style='color:#2e7d32'>applied</span>"
        return True

    def _script_file(self):
        import io
        self.script_button.filename = f"{self.design.name}.py"
        return io.BytesIO(self.script_text().encode())

    def new_id(self, type_key: str) -> str:
        base = type_key.split(".", 1)[1].replace("_", "")
        k = 1
        ids = {n["id"] for n in self.design.nodes}
        while f"{base}{k}" in ids:
            k += 1
        return f"{base}{k}"

    def add_node(self, type_key: str, position: dict | None = None, data: dict | None = None,
                 node_id: str | None = None) -> str:
        cls = get_type(type_key)
        if cls is None:
            raise DesignError(f"unknown node type {type_key!r}")
        before = self._snapshot()
        nid = node_id or self.new_id(type_key)
        if position is None:
            position = self._free_position(cls.family())
        self.design.nodes.append({"id": nid, "type": type_key, "label": nid, "position": dict(position),
                                  "data": dict(data or {})})
        self._commit(before)
        self.fit_view()
        self.select(nid)
        return nid

    def fit_view(self, width: float = 900.0, height: float = 540.0) -> None:
        """Show every node (the canvas's own fit-view button does the same on request)."""
        pos = [n.get("position") or {"x": 0, "y": 0} for n in self.design.nodes]
        if not pos:
            return
        x0, x1 = min(p["x"] for p in pos), max(p["x"] for p in pos) + 260
        y0, y1 = min(p["y"] for p in pos), max(p["y"] for p in pos) + 120
        zoom = max(0.2, min(1.0, (width - 40) / (x1 - x0), (height - 40) / (y1 - y0)))
        self.flow.viewport = {"x": 20 - x0 * zoom, "y": 20 - y0 * zoom, "zoom": zoom}

    def _free_position(self, family: str) -> dict:
        """The first free slot in the family's column (stimuli left, monitors right)."""
        col = {"stimulus": 0, "projection": 1, "plasticity": 1, "astrocyte": 1, "neuron": 2, "readout": 3,
               "monitor": 3}.get(family, 4)
        x = 40.0 + 290.0 * col
        taken = [n.get("position", {}) for n in self.design.nodes]
        y = 40.0
        while any(abs(p.get("x", -1e9) - x) < 250 and abs(p.get("y", -1e9) - y) < 110 for p in taken):
            y += 130.0
        return {"x": x, "y": y}

    def remove_nodes(self, ids) -> None:
        ids = set(ids)
        if not ids:
            return
        before = self._snapshot()
        self.design.doc["nodes"] = [n for n in self.design.nodes if n["id"] not in ids]
        self.design.doc["edges"] = [e for e in self.design.edges if e["source"] not in ids and e["target"] not in ids]
        self._commit(before)

    def remove_edges(self, ids) -> None:
        ids = set(ids)
        before = self._snapshot()
        self.design.doc["edges"] = [e for e in self.design.edges if e["id"] not in ids]
        self._commit(before)

    def connect(self, source: str, source_port: str, target: str, target_port: str) -> str:
        """Wire two ports; raises DesignError with the reason when they do not fit."""
        reason = make_validator(lambda: self.design)({"source": source, "sourceHandle": source_port,
                                                       "target": target, "targetHandle": target_port})
        if reason is not None:
            raise DesignError(f"cannot connect {source}.{source_port} to {target}.{target_port}: {reason}",
                              code="edge.refused")
        before = self._snapshot()
        eid = f"{source}.{source_port}-{target}.{target_port}"
        self.design.edges.append({"id": eid, "source": source, "sourceHandle": source_port, "target": target,
                                  "targetHandle": target_port})
        self._commit(before)
        return eid

    def set_param(self, node_id: str, name: str, value) -> str:
        """Edit a parameter; a running simulation gets live values at its next chunk."""
        node = self.design.node(node_id)
        before = self._snapshot()
        if name == "__label__":
            node["label"] = value
            self._commit(before, structural=False)
            return "label"
        node.setdefault("data", {})[name] = value
        cls = get_type(node["type"])
        decl = cls.param_decls().get(name) if cls else None
        status = "design"
        if decl is not None and not check_value(name, decl, value) and self.sim is not None and node_id in self.sim.graph.nodes:
            try:
                status = self.sim.set_param(node_id, name, value)
            except DesignError:
                status = "design"
        # one undo step per burst of edits to the same field
        now = _now()
        same_burst = (self._edit_snapshot and self._edit_snapshot[1] == (node_id, name)
                      and now - self._edit_snapshot[2] < 1.0)
        if not same_burst:
            self.history.push(before)
        self._edit_snapshot = (before, (node_id, name), now)
        self._after_change(structural=False)
        return status

    def move_node(self, node_id: str, position: dict) -> None:
        before = self._snapshot()
        self.design.node(node_id)["position"] = {"x": float(position["x"]), "y": float(position["y"])}
        self._commit(before, structural=False)

    def undo(self) -> bool:
        prev = self.history.undo(self._snapshot())
        if prev is None:
            return False
        self._restore(prev)
        return True

    def redo(self) -> bool:
        nxt = self.history.redo(self._snapshot())
        if nxt is None:
            return False
        self._restore(nxt)
        return True

    def _restore(self, snapshot: str) -> None:
        self.design.doc = json.loads(snapshot)
        self._after_change(structural=True)
        self._sync_meta_widgets()

    def copy_selection(self) -> int:
        sel = set(self.flow.selection.get("nodes", []))
        nodes = [copy.deepcopy(n) for n in self.design.nodes if n["id"] in sel]
        edges = [copy.deepcopy(e) for e in self.design.edges if e["source"] in sel and e["target"] in sel]
        self.clipboard = {"nodes": nodes, "edges": edges} if nodes else None
        return len(nodes)

    def paste(self) -> list[str]:
        if not self.clipboard:
            return []
        before = self._snapshot()
        mapping = {}
        for n in self.clipboard["nodes"]:
            nid = self.new_id(n["type"])
            mapping[n["id"]] = nid
            m = copy.deepcopy(n)
            m["id"] = nid
            m["label"] = nid
            p = m.get("position") or {"x": 0, "y": 0}
            m["position"] = {"x": p["x"] + 40.0, "y": p["y"] + 40.0}
            self.design.nodes.append(m)
        for e in self.clipboard["edges"]:
            s, t = mapping[e["source"]], mapping[e["target"]]
            self.design.edges.append({**copy.deepcopy(e), "id": f"{s}.{e['sourceHandle']}-{t}.{e['targetHandle']}",
                                      "source": s, "target": t})
        self._commit(before)
        return list(mapping.values())

    def load(self, design, *, path: str | None = None) -> None:
        """Replace the design (open / gallery / new); one undo step."""
        self.pause(wait=True)
        before = self._snapshot()
        self.design = load_design(design).copy()
        self.path = path
        self.sim = None
        self.sim_structure = None
        self.compile_state = "not compiled"
        self.history.push(before)
        self._sync_meta_widgets()
        self._after_change(structural=True)
        self.fit_view()
        self.plots.col.objects = [pn.pane.Markdown("Plots appear here when the design runs.", margin=(4, 8))]
        self._last_saved = self.design.to_json()

    def new(self) -> None:
        self.load(Design({"schema_version": 1, "meta": {"name": "untitled", "dt_ms": 0.1, "duration_ms": 1000.0,
                                                          "seed": 1, "backend": "numba"}, "nodes": [], "edges": []}))

    def save(self, filename: str | None = None) -> str:
        """Download the design as JSON (and write it to the server path when there is one)."""
        text = self.design.to_json() + "\n"
        name = filename or (Path(self.path).name if self.path else f"{self.design.name or 'design'}.json")
        if not name.endswith(".json"):
            name += ".json"
        if self.path and filename is None:
            self.design.save(self.path)
        self.bridge.download(name, text)
        self._last_saved = self.design.to_json()
        if self._recovery is not None:
            self._recovery.clear()
        self._flash(f"saved {name}", ok=True)
        self._update_title()
        return text

    # ======================================================================================
    # validation and canvas rendering
    # ======================================================================================
    def _revalidate(self) -> None:
        self.problems = validate(self.design)
        errors = [p for p in self.problems if p.severity == "error"]
        rows = []
        for p in self.problems:
            color = "#c62828" if p.severity == "error" else "#8d6e00"
            where = " · ".join(x for x in (p.node and f"node '{p.node}'", p.port and f"port '{p.port}'",
                                           p.param and f"{p.param}") if x)
            rows.append(f"<div class='gf-problem-row' style='color:{color};margin:2px 0'>"
                        f"{'✖' if p.severity == 'error' else '⚠'} <b>{where}</b> {_esc(p.message)}"
                        + (f" <i>— {_esc(p.fix)}</i>" if p.fix else "") + "</div>")
        self.problems_pane.object = "".join(rows) or "<div style='color:#2e7d32'>No problems.</div>"
        self.run_button.disabled = bool(errors)
        if errors:
            self.run_button.description = f"fix {len(errors)} problem(s) first: {errors[0]}"
            self.message.object = f"Run is disabled: {len(errors)} problem(s). First: {errors[0]}"
            self.message.visible = True
        else:
            self.run_button.description = "run / pause (Space)"
            if self.message.object.startswith("Run is disabled"):
                self.message.visible = False
                self.message.object = ""

    def _problems_for(self, node_id: str) -> list:
        return [p for p in self.problems if p.node == node_id]

    def _render_canvas(self, full: bool = True) -> None:
        ids = {n["id"] for n in self.design.nodes}
        self.node_views.prune(ids)
        if full:
            nodes = []
            for n in self.design.nodes:
                if not isinstance(n, dict) or "id" not in n or get_type(n.get("type", "")) is None:
                    continue
                probs = self._problems_for(n["id"])
                nodes.append(flow_node(n, self.node_views.get(n, probs), probs))
            edges = []
            valid_ids = {n["id"] for n in nodes}
            for e in self.design.edges:
                if e.get("source") in valid_ids and e.get("target") in valid_ids:
                    eprobs = [p for p in self.problems if p.edge == e.get("id")]
                    edges.append(flow_edge(e, edge_kind(self.design, e), eprobs))
            self._applying = True
            try:
                self.flow.param.update(nodes=nodes, edges=edges)
            finally:
                self._applying = False
        else:
            self._applying = True
            try:
                for n in self.design.nodes:
                    if n.get("id") in self.node_views.panes or True:
                        probs = self._problems_for(n["id"])
                        self.node_views.get(n, probs)
                        cls = "gf-invalid" if any(p.severity == "error" for p in probs) else (
                            "gf-warning" if probs else "")
                        for fn in self.flow.nodes:
                            fid = fn.get("id") if isinstance(fn, dict) else getattr(fn, "id", None)
                            if fid == n["id"]:
                                cur = fn.get("className") if isinstance(fn, dict) else None
                                label = n.get("label") or n["id"]
                                if (cur or "") != cls or fn.get("label") != label:
                                    self.flow.patch_node_props(n["id"], {"className": cls or None, "label": label})
            finally:
                self._applying = False

    # ======================================================================================
    # canvas events
    # ======================================================================================
    def _on_flow_change(self, payload: dict) -> None:
        if self._applying:
            return
        before = self._snapshot()
        flow_nodes = {}
        for fn in self.flow.nodes:
            d = fn if isinstance(fn, dict) else fn.to_dict()
            flow_nodes[d["id"]] = d
        # deletions and moves
        self.design.doc["nodes"] = [n for n in self.design.nodes if n["id"] in flow_nodes]
        for n in self.design.nodes:
            pos = flow_nodes[n["id"]].get("position")
            if pos and (abs(pos["x"] - n.get("position", {}).get("x", 0)) > 1e-6 or
                        abs(pos["y"] - n.get("position", {}).get("y", 0)) > 1e-6):
                n["position"] = {"x": float(pos["x"]), "y": float(pos["y"])}
        # wires: keep the design's, add the user's new ones (validated), drop removed ones
        flow_edges = {}
        for fe in self.flow.edges:
            d = fe if isinstance(fe, dict) else fe.to_dict()
            flow_edges[d["id"]] = d
        ids = set(flow_nodes)
        kept = [e for e in self.design.edges if e["id"] in flow_edges and e["source"] in ids and e["target"] in ids]
        known = {e["id"] for e in kept}
        refused = []
        for eid, d in flow_edges.items():
            if eid in known:
                continue
            reason = make_validator(lambda: Design({"nodes": self.design.nodes, "edges": kept}))(d)
            if reason is None:
                new_id = f"{d['source']}.{d.get('sourceHandle')}-{d['target']}.{d.get('targetHandle')}"
                kept.append({"id": new_id, "source": d["source"], "sourceHandle": d.get("sourceHandle"),
                             "target": d["target"], "targetHandle": d.get("targetHandle")})
            else:
                refused.append(reason)
        self.design.doc["edges"] = kept
        structural = payload.get("type") != "node_moved"
        changed = before != self._snapshot()
        if changed:
            # the browser reports one deletion as several events (wires, then nodes): one undo step
            now = _now()
            if now - getattr(self, "_last_flow_push", -1e9) > 0.5 or payload.get("type") == "node_moved":
                self.history.push(before)
            self._last_flow_push = now
            self._dirty_autosave = True
            self._revalidate()
            self._refresh_inspector()
            self._update_title()
        if refused:
            self._flash("connection refused: " + refused[0])
        if refused or (changed and structural):
            self._render_canvas(full=True)
        elif changed:
            self._render_canvas(full=False)

    def _on_selection(self, payload: dict) -> None:
        nodes = payload.get("nodes") or []
        edges = payload.get("edges") or []
        if nodes:
            self._show_node(nodes[0])
            self.plots.focus(nodes[0])
        elif edges:
            e = next((e for e in self.design.edges if e["id"] == edges[0]), None)
            if e is not None:
                self.inspector.show_edge(e, edge_kind(self.design, e), [p for p in self.problems if p.edge == e["id"]])
        else:
            self.inspector.clear()

    def _on_drop(self, payload: dict) -> None:
        data = payload.get("data") or {}
        key = self._type_from_palette(data)
        if key:
            pos = payload.get("position") or None
            self.add_node(key, position=pos)

    def _type_from_palette(self, data) -> str | None:
        path = data.get("path") if isinstance(data, dict) else None
        if path and len(path) == 2:
            try:
                return self.palette.items[path[0]]["items"][path[1]]["type_key"]
            except (IndexError, KeyError, TypeError):
                return None
        label = data.get("label") if isinstance(data, dict) else None
        for group in self.palette.items:
            for it in group.get("items", []):
                if it["label"] == label:
                    return it["type_key"]
        return None

    def _on_palette_click(self, item) -> None:
        key = item.get("type_key") if isinstance(item, dict) else None
        if key:
            self.add_node(key)

    def select(self, node_id: str | None) -> None:
        if node_id is None:
            self.inspector.clear()
            return
        self._show_node(node_id)

    def _show_node(self, node_id: str) -> None:
        try:
            node = self.design.node(node_id)
        except KeyError:
            self.inspector.clear()
            return
        status = ""
        if self.sim is not None and node_id in self.sim.pending_reset:
            status = "↻ edits of this node apply at the next reset"
        self.inspector._muted = True
        try:
            self.inspector.show_node(node, self._problems_for(node_id), status)
        finally:
            self.inspector._muted = False

    def _refresh_inspector(self) -> None:
        nid = self.inspector.node_id
        if nid is None:
            return
        if not any(n["id"] == nid for n in self.design.nodes):
            self.inspector.clear()
            return
        self.inspector.set_problems(self._problems_for(nid))

    def _on_param_edit(self, node_id: str, name: str, value) -> None:
        status = self.set_param(node_id, name, value)
        if status == "reset":
            self._flash(f"{node_id}.{name} applies at the next reset", ok=True)

    def _on_meta(self, key: str, value) -> None:
        if self._applying:
            return
        before = self._snapshot()
        self.design.meta[key] = value
        self._commit(before, structural=False)

    def _sync_meta_widgets(self) -> None:
        m = self.design.meta
        self._applying = True
        try:
            self.duration.value = float(m.get("duration_ms", 1000.0))
            self.dt.value = float(m.get("dt_ms", 0.1))
            self.seed.value = int(m.get("seed", 1))
        finally:
            self._applying = False

    # ======================================================================================
    # files
    # ======================================================================================
    def _on_open(self, event) -> None:
        raw = event.new
        if not raw:
            return
        try:
            if len(raw) > MAX_UPLOAD_BYTES:
                raise DesignError(f"the file is larger than {MAX_UPLOAD_BYTES // 2**20} MiB", code="file.too_large")
            d = parse_upload(raw, self.open_input.filename or "upload")
            self.load(d)
            self._flash(f"opened {self.open_input.filename}", ok=True)
        except DesignError as e:
            self._flash(str(e))

    def _on_gallery(self, event) -> None:
        name = event.new
        if not name:
            return
        self.load(self._gallery[name]["path"])
        self._flash(f"opened gallery/{name}.json — {self._gallery[name]['short']}", ok=True)
        self._applying = True
        self.gallery_select.value = ""
        self._applying = False

    def _results_npz(self):
        buf = io.BytesIO()
        if self.sim is None:
            np.savez(buf, note=np.array("no results: run the design first"))
        else:
            import tempfile
            with tempfile.TemporaryDirectory() as d:
                p = Path(d) / "r.npz"
                self.sim.save_npz(p)
                buf.write(p.read_bytes())
        buf.seek(0)
        return buf

    def _results_nwb(self):
        if self.sim is None:
            return io.BytesIO(b"")
        try:
            from engine.nwb import nwb_bytes
            return io.BytesIO(nwb_bytes(self.sim))
        except Exception as e:  # noqa: BLE001 - shown to the user, never a traceback in the page
            self._flash(f"NWB export failed: {type(e).__name__}: {e}")
            return io.BytesIO(b"")

    def _autosave(self) -> None:
        if not self._dirty_autosave or self._recovery is None:
            return
        self._dirty_autosave = False
        if self.design.to_json() != self._last_saved:
            try:
                self._recovery.write(self.design)
            except OSError:
                pass

    def _offer_recovery(self) -> None:
        if self._recovery is None:
            return
        got = self._recovery.read()
        if got is None:
            return
        saved_at, doc = got
        if json.dumps(doc, sort_keys=True) == json.dumps(self.design.doc, sort_keys=True):
            return
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(saved_at))
        restore = pn.widgets.Button(label="Restore", color="primary", width=90, css_classes=["gf-restore"])
        discard = pn.widgets.Button(label="Discard", width=90)

        def do_restore(e):
            self.load(Design(doc))
            self.recovery_box.visible = False

        def do_discard(e):
            self._recovery.clear()
            self.recovery_box.visible = False

        restore.on_click(do_restore)
        discard.on_click(do_discard)
        self.recovery_box.objects = [pn.pane.Alert(f"Unsaved changes from {when} were recovered (autosave).",
                                                   alert_type="warning", sizing_mode="stretch_width"), restore, discard]
        self.recovery_box.visible = True

    def _update_title(self) -> None:
        dirty = self.design.to_json() != self._last_saved
        name = self.design.name
        self.title.object = f"gliaflow · {_esc(name)}{' •' if dirty else ''}"

    # ======================================================================================
    # running
    # ======================================================================================
    def _structure_key(self) -> str:
        d = copy.deepcopy(self.design.doc)
        for n in d.get("nodes", []):
            n.pop("position", None)
            n.pop("label", None)
            cls = get_type(n.get("type", ""))
            if cls is None:
                continue
            decls = cls.param_decls()
            for k in list(n.get("data", {})):
                if k in decls and meta(decls[k]).get("live"):
                    n["data"].pop(k)
        d.get("meta", {}).pop("duration_ms", None)
        d.get("meta", {}).pop("name", None)
        d.get("meta", {}).pop("description", None)
        return json.dumps(d, sort_keys=True)

    def _ensure_sim(self) -> Simulation:
        key = self._structure_key()
        if self.sim is not None and self.sim_structure == key and not self.sim.pending_reset:
            return self.sim
        self.compile_state = "compiling…"
        t = _now()
        sim = Simulation(self.design, chunk_ms=20.0)
        self.compile_state = (f"ready ({'cached' if sim.runner.cached_in_process or sim.compile_s < 0.5 else 'compiled'}"
                              f" in {sim.compile_s + sim.build_s:.2f} s)")
        self._build_wall = _now() - t
        sim.subscribe(self._on_chunk)
        self.sim = sim
        self.sim_structure = key
        return sim

    @property
    def _interactive(self) -> bool:
        """Served (a session) or shown in a notebook (a kernel loop): runs return at once."""
        return self._doc is not None or self._loop is not None

    def _in_ui(self, fn) -> None:
        """Run ``fn`` on the session's (or the notebook kernel's) event loop, at once when there
        is none (headless use, tests). Nothing a run needs to progress goes through it in a
        notebook (see ``run``), so a cell that blocks in ``wait()`` cannot deadlock a run."""
        if self._doc is not None:
            self._doc.add_next_tick_callback(fn)
        elif self._loop is not None:
            self._loop.call_soon_threadsafe(fn)
        else:
            fn()

    def toggle_run(self) -> None:
        if self.running:
            self.pause()
        else:
            self.run()

    def run(self, duration_ms: float | None = None, *, block: bool = False) -> None:
        """Run until the design's duration (or ``duration_ms`` more); returns at once unless ``block``.

        Two stages, neither of which waits on the other thread: a build thread compiles (or
        loads) the simulation and hands it to the session's event loop, which attaches the
        plots and starts the run thread. A pause at any moment is honoured (see ``pause``).
        """
        if self.running:
            return
        if any(p.severity == "error" for p in self.problems):
            self._flash(f"Run is disabled: {[str(p) for p in self.problems if p.severity == 'error'][0]}")
            return
        self.message.visible = False
        self.running = True
        self._stop_requested = False
        self.run_button.label = "‖ Pause"  # U+2016: present in the default fonts, unlike ⏸
        self.run_button.color = "warning"
        self._run_started_wall = _now()
        self._first_spike_wall = None
        self._run_done = threading.Event()
        log_event("run_clicked")
        if self._loop is not None and threading.current_thread() is threading.main_thread():
            # in a notebook: compile and attach the plots here, on the kernel's thread (widget
            # updates made from other threads may never reach the page), then run on a thread
            try:
                fresh = self.sim is None or self.sim_structure != self._structure_key() or bool(self.sim.pending_reset)
                sim = self._ensure_sim()
            except Exception as e:  # noqa: BLE001
                self._finish_run(e)
                return
            self._start_stage(sim, duration_ms, fresh)
            if block:
                self._run_done.wait()
            return
        t = threading.Thread(target=self._build_stage, args=(duration_ms,), daemon=True, name="gliaflow-build")
        self.sim_thread = t
        t.start()
        if block or not self._interactive:
            self._run_done.wait()

    def _build_stage(self, duration_ms) -> None:
        try:
            fresh = self.sim is None or self.sim_structure != self._structure_key() or bool(self.sim.pending_reset)
            sim = self._ensure_sim()
        except Exception as e:  # noqa: BLE001
            self._finish_run(e)
            return
        self._in_ui(lambda: self._start_stage(sim, duration_ms, fresh))

    def _start_stage(self, sim, duration_ms, fresh: bool) -> None:
        """On the session's event loop: attach plots, then run on a thread (unless paused meanwhile)."""
        if self._stop_requested:
            self._finish_run(None)
            return
        try:
            if fresh or not self.plots.cards:
                self.plots.attach(sim)
        except Exception as e:  # noqa: BLE001 - a message, and the run ends instead of hanging
            self._finish_run(e)
            return
        total = float(self.design.meta.get("duration_ms", 1000.0))
        if duration_ms is None:
            duration_ms = total - sim.t_ms if sim.t_ms < total - 1e-9 else total
        self._run_target_ms = sim.t_ms + duration_ms
        self._record_start(duration_ms)
        sim._stop.clear()
        t = threading.Thread(target=self._run_stage, args=(sim, duration_ms), daemon=True, name="gliaflow-sim")
        self.sim_thread = t
        t.start()

    def _run_stage(self, sim, duration_ms) -> None:
        err = None
        try:
            if not self._stop_requested:
                sim.run(duration_ms, realtime_factor=SPEEDS.get(self.speed.value), clear_stop=False)
        except Exception as e:  # noqa: BLE001
            err = e
        self._finish_run(err)

    def _finish_run(self, err) -> None:
        try:
            self._finish_run_inner(err)
        finally:
            done = getattr(self, "_run_done", None)
            if done is not None:  # after _after_run when there is no session loop (headless use, tests)
                done.set()

    def _finish_run_inner(self, err) -> None:
        if isinstance(err, (DivergenceError, DesignError)):
            self.last_error = str(err)
        elif err is not None:  # shown to the user, never a traceback in the page
            self.last_error = f"internal error: {type(err).__name__}: {err}"
            traceback.print_exception(err)
        self.running = False
        if self.sim is not None:
            log_event("sim_stopped", t_ms=self.sim.t_ms, wall_s=self.sim.wall_s, kernel_s=self.sim.kernel_s,
                      compile_s=self.sim.compile_s)
        self._record_finish(err)
        self._in_ui(self._after_run)

    # --- the run catalog ----------------------------------------------------------------------
    def _record_start(self, duration_ms: float) -> None:
        """A ``running`` row in the run catalog for this Run (the Runs panel lists it)."""
        self._record_id = None
        if not self.record:
            return
        try:
            m = self.design.meta
            self._record_id = self.runs_panel.catalog.start_run(
                self.design, kind="studio", seed=int(m.get("seed", 1)), backend=m.get("backend", "numba"),
                duration_ms=float(duration_ms))
        except Exception as e:  # noqa: BLE001 - recording never stops a run
            log_event("record_failed", error=f"{type(e).__name__}: {e}")

    def _record_finish(self, err) -> None:
        """Close the row: done (the run reached its end), interrupted (paused) or failed."""
        rid, self._record_id = self._record_id, None
        if rid is None:
            return
        sim = self.sim
        try:
            if err is not None or sim is None:
                self.runs_panel.catalog.finish_run(rid, status="failed", error=str(err) if err else "no simulation")
            else:
                status = "done" if sim.t_ms >= self._run_target_ms - 1e-9 else "interrupted"
                self.runs_panel.catalog.finish_run(rid, sim=sim, status=status, save="traces")
        except Exception as e:  # noqa: BLE001
            log_event("record_failed", error=f"{type(e).__name__}: {e}")

    def _after_run(self) -> None:
        self.run_button.label = "▶ Run"
        self.run_button.color = "success"
        self.plots.refresh()
        self._update_status()
        if self.last_error:
            self._flash(self.last_error)
            self.last_error = None

    def _on_chunk(self, chunk, sim) -> None:
        """Simulation thread: chunks of ~40 ms of wall time (kernel calls of ~10 ms), data to the plots."""
        if chunk.wall_s > 0:
            rtf = chunk.wall_s / max((chunk.t_end_ms - chunk.t_start_ms) * 1e-3, 1e-9)
            sim.chunk_ms = float(min(500.0, max(2.0, 0.04 / max(rtf, 1e-6) * 1000.0)))
            sim.call_ms = float(max(sim.dt, 0.01 / max(rtf, 1e-6) * 1000.0))  # ~10 ms per kernel call: a prompt pause
        if self._first_spike_wall is None and any(chunk.counts.values()):
            self._first_spike_wall = _now()
        self.plots.push(chunk, sim)

    def pause(self, wait: bool = False) -> None:
        """Stop a run at its next kernel-call boundary (thread-safe, never blocks the UI).

        ``wait=True`` also waits (≤ 5 s) for the run thread to end; safe from any thread, as
        neither stage of a run waits on the session's event loop.
        """
        if self.running:
            log_event("pause_requested", t_ms=self.sim.t_ms if self.sim is not None else 0.0)
        self._stop_requested = True
        if self.sim is not None:
            self.sim.pause()
        if wait:
            deadline = _now() + 5.0
            while self.running and _now() < deadline:
                t = self.sim_thread
                if t is not None and t.is_alive() and threading.current_thread() is not t:
                    t.join(0.02)
                else:
                    time.sleep(0.005)
                if self.sim is not None:
                    self.sim.pause()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current run ends (a notebook cell after ``run``); True if it ended."""
        done = getattr(self, "_run_done", None)
        return True if done is None else done.wait(timeout)

    def step(self, ms: float = 10.0) -> None:
        if self.running:
            return
        self.run(ms, block=not self._interactive)

    def reset(self) -> None:
        self.pause(wait=True)
        if self.sim is not None:
            try:
                self.sim.reset()
                self.sim_structure = self._structure_key()
            except DesignError as e:
                self._flash(str(e))
                self.sim = None
        if self.sim is not None:
            self.plots.attach(self.sim)
        self._update_status()

    # ======================================================================================
    # periodic UI work
    # ======================================================================================
    def _tick(self) -> None:
        from panel.io import hold
        with hold():  # one websocket message per refresh: images, ranges and status stay in step
            self.plots.refresh()
            self.train_panel.refresh()
            self.sweep_panel.refresh()
            self._update_status()

    def _update_status(self) -> None:
        sim = self.sim
        nwb_off = sim is None or sim.t_ms <= 0 or self.running
        if self.nwb_button.disabled != nwb_off:
            self.nwb_button.disabled = nwb_off
        if sim is None:
            self.status.object = f"t = 0 ms · {self.compile_state}"
            self.progress.value = 0
            return
        rtf = sim.wall_s / (sim.t_ms * 1e-3) if sim.t_ms > 0 else 0.0
        target = max(self._run_target_ms, 1e-9)
        self.progress.value = int(1000 * min(1.0, sim.t_ms / target)) if target else 0
        state = "running" if self.running else ("paused" if sim.t_ms > 0 else "ready")
        self.status.object = (f"<span class='gf-t'>t = {sim.t_ms:.1f} ms</span> · wall {sim.wall_s:.2f} s · "
                              f"realtime factor <span class='gf-rtf'>{rtf:.3f}</span> · {state} · {self.compile_state}")

    def _flash(self, text: str, ok: bool = False) -> None:
        self.message.alert_type = "success" if ok else "danger"
        self.message.object = text
        self.message.visible = True

    def toggle_help(self) -> None:
        self.help_pane.visible = not self.help_pane.visible

    def _on_key(self, key: str) -> None:
        action = {"space": self.toggle_run, "undo": self.undo, "redo": self.redo, "save": self.save,
                  "copy": self.copy_selection, "paste": self.paste, "help": self.toggle_help,
                  "escape": self._hide_help}.get(key)
        if action is not None:
            action()

    def _hide_help(self) -> None:
        self.help_pane.visible = False

    def _shutdown(self) -> None:
        try:
            self.pause(wait=True)
        except Exception:  # noqa: BLE001
            pass
