"""The design document: one versioned JSON file that canvas, compiler and scripts share.

Reading is defensive (size and depth limits, NaN/inf rejected, truncated or empty files
reported plainly, newer schemas refused, never executed). Writing is atomic: sidecar
arrays first, then the JSON, each through a temporary file and ``os.replace``.
"""
from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import re
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DesignError, Problem

SCHEMA_VERSION = 1
MAX_DESIGN_BYTES = 32 * 1024 * 1024
MAX_DEPTH = 32
TOP_KEYS = ("schema_version", "meta", "nodes", "edges", "views", "sweep")
META_KEYS = {
    "name": str, "description": str, "reference": str, "dt_ms": (int, float),
    "duration_ms": (int, float), "seed": int, "backend": str,
}
BACKENDS = ("numba", "torch")
ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")

#: Migrations from schema version k to k+1 (none yet: v1 is the first).
MIGRATIONS: dict[int, Any] = {}


def _err(code: str, message: str, fix: str = "") -> DesignError:
    return DesignError(Problem("error", code, message, fix))


def _reject_constant(name: str):
    raise ValueError(f"non-finite number literal {name}")


def _depth(obj, limit: int) -> int:
    """Nesting depth of a JSON value, stopping once past ``limit``."""
    stack = [(obj, 1)]
    deepest = 0
    while stack:
        o, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        if isinstance(o, dict):
            stack.extend((v, d + 1) for v in o.values())
        elif isinstance(o, list):
            stack.extend((v, d + 1) for v in o)
    return deepest


def parse_json_text(text: str, source: str = "design") -> dict:
    """Parse design JSON text with every failure turned into a one-paragraph DesignError."""
    if not text.strip():
        raise _err("file.empty", f"{source} is empty",
                   "open a design JSON file (for example gallery/coba.json) or save the design again")
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise _err("json.too_deep", f"{source} is nested too deeply to be a design",
                   f"designs nest at most {MAX_DEPTH} levels; check that this is a gliaflow design") from None
    except ValueError as e:
        if "non-finite" in str(e):
            raise _err("param.nonfinite", f"{source} contains {str(e).split('literal ')[-1]}, which is not a valid value",
                       "replace NaN/Infinity by a finite number") from None
        pos = getattr(e, "pos", None)
        lineno, colno = getattr(e, "lineno", "?"), getattr(e, "colno", "?")
        msg = getattr(e, "msg", str(e))
        if pos is not None and pos >= len(text.rstrip()):
            raise _err("file.truncated",
                       f"{source} ends before the JSON document is complete (line {lineno}, column {colno}: {msg}); "
                       "the file looks truncated", "restore the file from a backup or the autosave, or re-export it") from None
        raise _err("json.malformed", f"{source} is not valid JSON: {msg} at line {lineno}, column {colno}",
                   "fix the JSON syntax at that position (a missing comma, quote or bracket)") from None
    if not isinstance(doc, dict):
        raise _err("json.not_object", f"{source} holds a JSON {type(doc).__name__}, not a design object",
                   'a design is an object {"schema_version": 1, "meta": {...}, "nodes": [...], "edges": [...]}')
    if _depth(doc, MAX_DEPTH) > MAX_DEPTH:
        raise _err("json.too_deep", f"{source} nests deeper than {MAX_DEPTH} levels",
                   "designs are shallow; check that this is a gliaflow design")
    return migrate(doc, source)


def migrate(doc: dict, source: str = "design") -> dict:
    v = doc.get("schema_version")
    if v is None:
        raise _err("schema.missing", f"{source} has no schema_version",
                   f'add "schema_version": {SCHEMA_VERSION} at the top level')
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise _err("schema.bad", f"{source} has schema_version {v!r}", "schema_version is a positive integer")
    if v > SCHEMA_VERSION:
        raise _err("schema.newer", f"{source} was written with design schema {v}; this gliaflow reads up to "
                   f"schema {SCHEMA_VERSION}", "upgrade gliaflow (pip install -U gliaflow) to open it")
    while doc["schema_version"] < SCHEMA_VERSION:
        doc = MIGRATIONS[doc["schema_version"]](doc)
    return doc


def resolve_path(name: str | os.PathLike) -> Path:
    """A file path, or a gallery design by name (``coba``, ``coba.json``, ``gallery/coba.json``)."""
    p = Path(name)
    if p.exists():
        return p
    stem = p.name if p.suffix else p.name + ".json"
    if len(p.parts) == 1 or (len(p.parts) == 2 and p.parts[0] == "gallery"):
        try:
            g = resources.files("gallery") / stem
            if g.is_file():
                return Path(str(g))
        except ModuleNotFoundError:
            pass
    raise _err("file.not_found", f"no design file '{name}'",
               "give a path to a design JSON, or a gallery name such as gallery/coba.json")


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.stem + ".arrays.npz")


def array_hash(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    h = hashlib.sha256()
    h.update(f"{a.dtype.str}|{a.shape}|".encode())
    h.update(a.tobytes())
    return h.hexdigest()


class Design:
    """A design document plus its sidecar arrays.

    ``doc`` is the plain JSON-able dict (the only source of truth); ``arrays`` maps names
    to numpy arrays referenced from parameter values as ``{"array": name, "sha256": ...}``.
    """

    def __init__(self, doc: dict | None = None, arrays: dict[str, np.ndarray] | None = None,
                 path: Path | None = None):
        doc = copy.deepcopy(doc) if doc is not None else {}
        doc.setdefault("schema_version", SCHEMA_VERSION)
        doc.setdefault("meta", {})
        doc.setdefault("nodes", [])
        doc.setdefault("edges", [])
        self.doc = doc
        self.arrays = dict(arrays or {})
        self.path = path

    # --- reading --------------------------------------------------------------------
    @classmethod
    def load(cls, name: str | os.PathLike) -> "Design":
        path = resolve_path(name)
        try:
            size = path.stat().st_size
            if size > MAX_DESIGN_BYTES:
                raise _err("file.too_large", f"{path} is {size / 2**20:.0f} MiB; designs are at most "
                           f"{MAX_DESIGN_BYTES // 2**20} MiB", "keep large arrays in the sidecar .arrays.npz")
            raw = path.read_bytes()
        except IsADirectoryError:
            raise _err("file.unreadable", f"{path} is a directory", "give a design JSON file") from None
        except OSError as e:
            raise _err("file.unreadable", f"cannot read {path}: {e.strerror}", "check the path and permissions") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise _err("file.encoding", f"{path} is not UTF-8 text (byte {e.start})",
                       "a design is a UTF-8 JSON file; check that this is not a binary or other file") from None
        doc = parse_json_text(text, source=str(path))
        arrays = {}
        sc = sidecar_path(path)
        if sc.exists():
            arrays = load_sidecar(sc)
        return cls(doc, arrays, path)

    @classmethod
    def from_json(cls, text: str) -> "Design":
        return cls(parse_json_text(text))

    # --- convenience ---------------------------------------------------------------
    @property
    def meta(self) -> dict:
        return self.doc["meta"]

    @property
    def nodes(self) -> list[dict]:
        return self.doc["nodes"]

    @property
    def edges(self) -> list[dict]:
        return self.doc["edges"]

    @property
    def name(self) -> str:
        return self.meta.get("name") or (self.path.stem if self.path else "design")

    def node(self, node_id: str) -> dict:
        for n in self.nodes:
            if n.get("id") == node_id:
                return n
        raise KeyError(node_id)

    def get_array(self, ref: dict) -> np.ndarray:
        name = ref["array"]
        if name not in self.arrays:
            raise KeyError(name)
        return self.arrays[name]

    def put_array(self, name: str, a: np.ndarray) -> dict:
        a = np.ascontiguousarray(a)
        self.arrays[name] = a
        return {"array": name, "sha256": array_hash(a)}

    def copy(self) -> "Design":
        return Design(self.doc, {k: v.copy() for k, v in self.arrays.items()}, self.path)

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.doc, indent=indent, allow_nan=False, ensure_ascii=False)

    # --- writing --------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically: sidecar arrays (if any) first, then the JSON."""
        path = Path(path)
        text = self.to_json() + "\n"
        if self.arrays:
            buf = io.BytesIO()
            np.savez(buf, **self.arrays)
            atomic_write_bytes(sidecar_path(path), buf.getvalue())
        atomic_write_bytes(path, text.encode("utf-8"))
        self.path = path
        return path


def load_sidecar(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as e:  # a damaged npz: report, never execute
        raise _err("sidecar.unreadable", f"cannot read the sidecar arrays {path}: {e}",
                   "restore the .arrays.npz saved with the design") from None


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        try:
            dfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load_design(name) -> Design:
    """Load a design from a path or a gallery name."""
    if isinstance(name, Design):
        return name
    if isinstance(name, dict):
        return Design(migrate(copy.deepcopy(name)))
    return Design.load(name)


def with_learned_state(sim) -> Design:
    """The design of a :class:`~engine.simulation.Simulation` with its learned state: the
    per-synapse weights of every projection a plasticity rule trains (the ``{id}.w``
    buffers, now) written into the projection's ``weight_array`` parameter as a sidecar
    array ``{id}.learned_w`` (in the synapse order of the projection's connectivity rule,
    so reopening the design starts from exactly these weights)."""
    design = sim.design.copy()
    for nid, info in sim.plan.node_info.items():
        order = info.get("order")
        if order is None or not sim.graph.inputs(nid, "rule"):
            continue
        w_csr = np.asarray(sim.plan.buffers[f"{nid}.w"], np.float64)
        w = np.empty_like(w_csr)
        w[order] = w_csr
        design.node(nid).setdefault("data", {})["weight_array"] = design.put_array(f"{nid}.learned_w", w)
    return design
