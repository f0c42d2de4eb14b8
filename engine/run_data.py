"""What a recorded run is made of: design hashes, the design actually run, flat parameters and
their differences, summary measures, recorded arrays, provenance (version, git commit) and
process liveness. Pure helpers shared by the catalog (engine/catalog.py) and sweeps
(engine/sweep.py).

- :func:`design_hash` — SHA-256 of what determines a design's results (:func:`compute_form`:
  no sweep, views, names, labels, positions or edge ids; parameters at their defaults left
  out), so moving a node or renaming a design does not change it;
- :func:`apply_params` — a design with ``{"node.param": value}``, seed, duration and backend
  written in (what a sweep point or a recorded run computed);
- :func:`flat_params` / :func:`param_diff` — a design as ``{"E.tau_m_ms": 20.0, "meta.seed": 1,
  "E.type": "neuron.lif", "edge a.spikes -> b.pre": true}`` (defaults filled in), and the
  paths whose values differ between designs;
- :func:`summary_measures` — a run summary as flat numbers (``"E.rate_hz"``,
  ``"readout.test_accuracy"``, ``"br.nalsm"``);
- :func:`sim_arrays` — what a recorded run keeps (traces, binned rates, optionally spikes).
"""
from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .design import Design, load_design

_UI_META = ("name", "description", "reference")


def _dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False, default=_json_default)


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"{type(o).__name__} is not JSON")


def compute_form(design) -> dict:
    """What determines a design's results: its canonical form without ``sweep``, ``views``,
    names, descriptions, labels, positions and edge ids (parameters at their defaults left out)."""
    from .script import canonical
    doc = design.doc if isinstance(design, Design) else design
    try:
        c = canonical(doc)
    except Exception:  # noqa: BLE001 - an invalid design still hashes (on its raw form)
        c = json.loads(_dumps(doc))
    c.pop("views", None)
    c.pop("sweep", None)
    for k in _UI_META:
        c.get("meta", {}).pop(k, None)
    for n in c.get("nodes", []):
        n.pop("position", None)
        n.pop("label", None)
    for e in c.get("edges", []):
        e.pop("id", None)
    return c


def design_hash(design) -> str:
    """SHA-256 of :func:`compute_form` (sidecar arrays enter through their sha256 references)."""
    return hashlib.sha256(_dumps(compute_form(design)).encode()).hexdigest()


def apply_params(design, params: dict | None = None, *, seed: int | None = None, duration_ms: float | None = None,
                 backend: str | None = None) -> Design:
    """A copy of ``design`` with ``params`` (``{"node.param": value}``) written into the nodes'
    data and seed/duration/backend into meta; the ``sweep`` key is dropped."""
    d = load_design(design).copy()
    d.doc.pop("sweep", None)
    for path, value in (params or {}).items():
        nid, name = path.split(".", 1)
        d.node(nid).setdefault("data", {})[name] = value
    if seed is not None:
        d.meta["seed"] = int(seed)
    if duration_ms is not None:
        d.meta["duration_ms"] = float(duration_ms)
    if backend is not None:
        d.meta["backend"] = backend
    return d


def flat_params(design) -> dict[str, Any]:
    """Every value that defines a design, as ``{"meta.seed": 1, "E.tau_m_ms": 20.0, "E.type":
    "neuron.lif", "edge stim.spikes -> syn.pre": true, ...}`` (defaults filled in)."""
    from .registry import get_type
    from .script import META_DEFAULTS
    doc = design.doc if isinstance(design, Design) else design
    m = doc.get("meta") or {}
    out: dict[str, Any] = {f"meta.{k}": m.get(k, d) for k, d in META_DEFAULTS.items() if k != "name"}
    for n in doc.get("nodes") or []:
        nid, key = n.get("id"), n.get("type")
        cls = get_type(key) if isinstance(key, str) else None
        out[f"{nid}.type"] = key
        vals = {**(cls.defaults() if cls is not None else {}), **(n.get("data") or {})}
        for k, v in vals.items():
            out[f"{nid}.{k}"] = v
    for e in doc.get("edges") or []:
        name = f"edge {e.get('source')}.{e.get('sourceHandle')} -> {e.get('target')}.{e.get('targetHandle')}"
        out[name] = e.get("data") or True
    return out


def _same(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return a == b
    return _dumps(a) == _dumps(b)


def param_diff(designs: list) -> dict[str, list]:
    """The paths of :func:`flat_params` whose values differ between the designs: ``{path:
    [value in design 0, value in design 1, ...]}`` (``None`` where a design lacks it)."""
    flats = [flat_params(d) for d in designs]
    keys: list[str] = []
    for f in flats:
        keys += [k for k in f if k not in keys]
    out = {}
    for k in keys:
        vals = [f.get(k) for f in flats]
        if any(not _same(vals[0], v) for v in vals[1:]):
            out[k] = vals
    return out


def _num(x):
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        return None
    x = float(x) if isinstance(x, (float, np.floating)) else int(x)
    return x if not (isinstance(x, float) and not math.isfinite(x)) else None


def summary_measures(summary: dict) -> dict[str, float | int | None]:
    """The numbers of a run summary as flat measures: ``sim_ms``, ``wall_s``, ``<population>.rate_hz``,
    ``<population>.n_spikes``, and every number a monitor/readout/astrocyte reports as
    ``<node>.<key>`` (nested dicts as ``<node>.<key>.<sub>``); non-finite values are None."""
    out: dict[str, Any] = {k: _num(summary.get(k)) for k in ("sim_ms", "wall_s") if k in summary}
    for pid, p in (summary.get("populations") or {}).items():
        for k in ("rate_hz", "n_spikes"):
            if k in p:
                out[f"{pid}.{k}"] = _num(p[k])

    def walk(prefix, d):
        for k, v in d.items():
            if isinstance(v, dict):
                walk(f"{prefix}.{k}", v)
            elif v is None or (isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)):
                out[f"{prefix}.{k}"] = _num(v)

    for mid, m in (summary.get("monitors") or {}).items():
        walk(mid, m)
    return out


def sim_arrays(sim, what: str = "traces") -> dict[str, np.ndarray]:
    """What a recorded run keeps. ``"traces"``: every monitor's and readout's trace arrays
    (``monitors/<id>/<name>``) and a binned rate of every recorded population
    (``rates/<population>/t_ms``, ``/hz``); ``"all"``: also the spikes and state recorded
    (what ``gliaflow run --out`` writes); ``"none"``: nothing."""
    if what == "none":
        return {}
    out: dict[str, np.ndarray] = {}
    if what == "all":
        with tempfile.TemporaryDirectory(prefix="gliaflow-rec-") as tmp:
            p = Path(tmp) / "run.npz"
            sim.save_npz(p)
            with np.load(p, allow_pickle=False) as z:
                out = {k: z[k] for k in z.files if k != "design_json"}
    elif what == "traces":
        for node in sim._python_monitors():
            arrays = getattr(node.type, "arrays", None)
            if arrays is not None:
                for k, v in arrays(node, sim).items():
                    out[f"monitors/{node.id}/{k}"] = np.asarray(v)
    else:
        raise ValueError(f"what={what!r}: use 'traces', 'all' or 'none'")
    t_end = sim.t_ms
    if t_end > 0:
        bin_ms = max(sim.dt, t_end / 500.0)
        edges = np.arange(0.0, t_end + bin_ms * 0.5, bin_ms)
        for r in sim.plan.recorders:
            if r.kind == "spikes" and r.node in sim._stores:
                t, _ = sim.spikes(r.node)
                h = np.histogram(t, edges)[0] / (r.info["n_src"] * bin_ms * 1e-3)
                out[f"rates/{r.info['source']}/t_ms"] = edges[:-1] + bin_ms / 2
                out[f"rates/{r.info['source']}/hz"] = h
    return out


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


# --- provenance ---------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """HEAD of the git checkout gliaflow runs from (``-dirty`` when tracked files changed), else None."""
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def package_version() -> str:
    from . import __version__
    return __version__


@functools.lru_cache(maxsize=1)
def _proc_start(pid: int | None = None) -> float:
    import psutil
    return psutil.Process(pid or os.getpid()).create_time()


def process_alive(pid: int | None, start: float | None) -> bool:
    """Is the process ``pid`` that started at ``start`` still running (a reused pid is not)?"""
    if not pid:
        return False
    import psutil
    try:
        p = psutil.Process(int(pid))
        if p.status() == psutil.STATUS_ZOMBIE:
            return False
        return start is None or abs(p.create_time() - float(start)) < 1.0
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:  # access denied: it exists
        return True
