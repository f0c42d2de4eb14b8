"""Sweep results from the catalog: per-point tables, means over seeds, the figure.

- :func:`sweep_rows` — one row per point: ``idx``, ``seed``, ``status``, ``run_id``, each swept
  parameter (``"astro.w_astro"``) and each measure;
- :func:`aggregate` — one row per parameter combination: ``n`` (finished seeds) and, per
  measure, ``<m>.mean``, ``<m>.std`` (population std over seeds), ``<m>.n``;
- :func:`figure_data` — what the plot of a measure over the swept parameters shows, as
  JSON-able lists (``kind`` "line": x, mean, std, and every seed's point; ``kind`` "heatmap"
  for two swept parameters: x, y and the mean as a matrix); the studio draws it live;
- :func:`write_rows` — CSV or JSON by the file suffix; :func:`write_figure_html` — a
  standalone Bokeh HTML page (resources inline, no network) of :func:`figure_data`.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np


def _spec_params(spec: dict) -> list[str]:
    return [f"{a['node']}.{a['param']}" for a in spec.get("params", [])]


def sweep_rows(catalog, sweep_id: int, measures: list[str] | None = None) -> tuple[list[str], list[str], list[dict]]:
    """(swept parameter paths, measure names, rows) of a sweep; measures default to the spec's
    (or every measure of the first finished point when the spec names none)."""
    spec = catalog.sweep(sweep_id)["spec"]
    params = _spec_params(spec)
    points = catalog.sweep_points(sweep_id)
    names = list(measures or spec.get("measures") or [])
    if not names:
        first = next((p for p in points if p["measures"]), None)
        names = [k for k in (first["measures"] if first else {}) if k not in ("wall_s",)]
    rows = []
    for p in points:
        row = {"idx": p["idx"], "seed": p["seed"], "status": p["status"], "run_id": p["run_id"]}
        row.update({k: p["params"].get(k) for k in params})
        row.update({m: p["measures"].get(m) for m in names})
        rows.append(row)
    return params, names, rows


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def aggregate(rows: list[dict], params: list[str], measures: list[str]) -> list[dict]:
    """Mean and std over seeds of each measure, per parameter combination (sweep order)."""
    groups: dict[str, list[dict]] = {}
    order: list[tuple] = []
    for r in rows:
        k = json.dumps([r.get(p) for p in params])
        if k not in groups:
            groups[k] = []
            order.append((k, {p: r.get(p) for p in params}))
        groups[k].append(r)
    out = []
    for k, pv in order:
        done = [r for r in groups[k] if r["status"] == "done"]
        row = dict(pv)
        row["n"] = len(done)
        for m in measures:
            xs = np.array([r[m] for r in done if _finite(r.get(m))], float)
            row[f"{m}.mean"] = float(xs.mean()) if len(xs) else None
            row[f"{m}.std"] = float(xs.std()) if len(xs) else None
            row[f"{m}.n"] = int(len(xs))
        out.append(row)
    return out


def figure_data(catalog, sweep_id: int, measures: list[str] | None = None, x: str | None = None,
                y: str | None = None) -> dict:
    """Plot data of measures over the swept parameters: ``{"sweep_id", "x", "y", "measures":
    {m: {...}}}``. With one axis (or ``x`` given and ``y`` not): ``kind`` "line" with ``x``,
    ``mean``, ``std`` per value (other swept parameters averaged over) and ``points`` (x, y,
    seed of every finished point); with two axes: ``kind`` "heatmap" with ``x``, ``y`` values
    and ``mean[j][i]`` at (x[i], y[j])."""
    params, names, rows = sweep_rows(catalog, sweep_id, measures)
    x = x or params[0]
    if y is None and len(params) == 2:
        y = params[1] if params[0] == x else params[0]
    for p in (x, y):
        if p is not None and p not in params:
            raise ValueError(f"'{p}' is not a swept parameter of sweep {sweep_id} (swept: {', '.join(params)})")
    done = [r for r in rows if r["status"] == "done"]
    out: dict = {"sweep_id": sweep_id, "x": x, "y": y, "measures": {}}
    xs = list(dict.fromkeys(r[x] for r in rows))
    if y is None:
        for m in names:
            mean, std = [], []
            for xv in xs:
                v = np.array([r[m] for r in done if r[x] == xv and _finite(r.get(m))], float)
                mean.append(float(v.mean()) if len(v) else None)
                std.append(float(v.std()) if len(v) else None)
            pts = [r for r in done if _finite(r.get(m))]
            out["measures"][m] = {"kind": "line", "x": xs, "mean": mean, "std": std,
                                  "points": {"x": [r[x] for r in pts], "y": [r[m] for r in pts],
                                             "seed": [r["seed"] for r in pts]}}
        return out
    ys = list(dict.fromkeys(r[y] for r in rows))
    for m in names:
        grid = []
        for yv in ys:
            line = []
            for xv in xs:
                v = np.array([r[m] for r in done if r[x] == xv and r[y] == yv and _finite(r.get(m))], float)
                line.append(float(v.mean()) if len(v) else None)
            grid.append(line)
        out["measures"][m] = {"kind": "heatmap", "x": xs, "y": ys, "mean": grid}
    return out


def write_rows(rows: list[dict], path) -> Path:
    """Rows to CSV (``.csv``) or a JSON list (any other suffix)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        cols: list[str] = []
        for r in rows:
            cols += [k for k in r if k not in cols]
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            for r in rows:
                w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in cols})
    else:
        path.write_text(json.dumps(rows, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return path


def format_rows(rows: list[dict], cols: list[str] | None = None) -> str:
    """A plain-text table."""
    if not rows:
        return "(no rows)"
    cols = cols or list(rows[0])

    def fmt(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    cells = [[fmt(r.get(c)) for c in cols] for r in rows]
    width = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(cols, width))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, width)) for row in cells]
    return "\n".join(lines)


def write_figure_html(data: dict, path, title: str = "") -> Path:
    """A standalone HTML page (Bokeh, resources inline) of :func:`figure_data`: for each
    measure, the mean over seeds with ±1 std whiskers and every seed's point against the
    swept parameter, or a heatmap of the mean over two swept parameters."""
    from bokeh.embed import file_html
    from bokeh.layouts import gridplot
    from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper, Whisker
    from bokeh.palettes import Viridis256
    from bokeh.plotting import figure
    from bokeh.resources import INLINE

    figs = []
    for m, d in data["measures"].items():
        if d["kind"] == "line":
            f = figure(width=420, height=320, title=m, x_axis_label=data["x"], y_axis_label=m,
                       tools="pan,wheel_zoom,box_zoom,reset,save")
            ok = [i for i, v in enumerate(d["mean"]) if v is not None]
            src = ColumnDataSource({"x": [d["x"][i] for i in ok], "mean": [d["mean"][i] for i in ok],
                                    "lo": [d["mean"][i] - d["std"][i] for i in ok],
                                    "hi": [d["mean"][i] + d["std"][i] for i in ok]})
            f.line("x", "mean", source=src, line_width=2)
            f.scatter("x", "mean", source=src, size=7)
            f.add_layout(Whisker(source=src, base="x", upper="hi", lower="lo"))
            pts = ColumnDataSource(d["points"])
            r = f.scatter("x", "y", source=pts, size=5, alpha=0.4, color="gray")
            f.add_tools(HoverTool(renderers=[r], tooltips=[(data["x"], "@x"), (m, "@y"), ("seed", "@seed")]))
        else:
            xs, ys = [str(v) for v in d["x"]], [str(v) for v in d["y"]]
            vals = [v for line in d["mean"] for v in line if v is not None]
            cmap = LinearColorMapper(palette=Viridis256, low=min(vals) if vals else 0, high=max(vals) if vals else 1)
            src = ColumnDataSource({"x": [xv for _ in ys for xv in xs], "y": [yv for yv in ys for _ in xs],
                                    "v": [float("nan") if v is None else v for line in d["mean"] for v in line]})
            f = figure(width=460, height=340, title=m, x_range=xs, y_range=ys, x_axis_label=data["x"],
                       y_axis_label=data["y"], tools="hover,save", tooltips=[("x", "@x"), ("y", "@y"), (m, "@v")])
            f.rect("x", "y", 1, 1, source=src, fill_color={"field": "v", "transform": cmap}, line_color=None)
            f.add_layout(ColorBar(color_mapper=cmap), "right")
        figs.append(f)
    html = file_html(gridplot(figs, ncols=2), INLINE, title or f"sweep {data['sweep_id']}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
