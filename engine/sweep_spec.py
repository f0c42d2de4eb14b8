"""The ``sweep`` key of a design: validation (every problem named by node and parameter), the
spec as :class:`SweepSpec`, and the points it expands to (:class:`Point`, stable order and keys).
The format is described in engine/sweep.py; the validator calls :func:`sweep_problems`.
"""
from __future__ import annotations

import hashlib
import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .design import BACKENDS, Design, load_design
from .errors import DesignError, Problem
from .run_data import _dumps, apply_params, design_hash

SWEEP_KEYS = ("params", "mode", "samples", "sample_seed", "seeds", "duration_ms", "backend", "measures", "save")
AXIS_KEYS = ("node", "param", "values", "range", "n", "scale")
AGGREGATES = ("last", "mean", "median", "min", "max", "std")
SAVE = ("traces", "all", "none")
TOP_MEASURES = ("sim_ms", "wall_s")
MAX_POINTS = 100_000
_SPEC_HELP = ('"sweep": {"params": [{"node": "<id>", "param": "<name>", "values": [...]} or '
              '{"node": ..., "param": ..., "range": [lo, hi], "n": 5, "scale": "lin"|"log"}], '
              '"mode": "grid"|"random", "seeds": [1, 2, 3], "measures": ["<node>.<key>", ...]}')


@dataclass(frozen=True)
class Axis:
    """One swept parameter: explicit ``values`` or a ``range`` (lo, hi) with ``n`` and ``scale``."""

    node: str
    param: str
    values: tuple | None = None
    range: tuple[float, float] | None = None
    n: int | None = None
    scale: str = "lin"
    integer: bool = False

    @property
    def path(self) -> str:
        return f"{self.node}.{self.param}"

    def grid(self) -> list:
        if self.values is not None:
            return list(self.values)
        lo, hi = self.range
        n = int(self.n)
        xs = np.geomspace(lo, hi, n) if self.scale == "log" else np.linspace(lo, hi, n)
        if self.integer:
            return list(dict.fromkeys(int(round(x)) for x in xs))
        return [float(x) for x in xs]

    def draw(self, rng: np.random.Generator):
        if self.values is not None:
            return self.values[int(rng.integers(len(self.values)))]
        lo, hi = self.range
        x = float(np.exp(rng.uniform(math.log(lo), math.log(hi)))) if self.scale == "log" else float(rng.uniform(lo, hi))
        return int(round(x)) if self.integer else x


@dataclass(frozen=True)
class SweepSpec:
    axes: tuple[Axis, ...]
    mode: str = "grid"
    samples: int | None = None
    sample_seed: int = 0
    seeds: tuple[int, ...] = (1,)
    duration_ms: float = 1000.0
    backend: str = "numba"
    measures: tuple[str, ...] = ()
    save: str = "traces"

    def to_dict(self) -> dict:
        """The spec as run (defaults filled in), JSON-able."""
        axes = []
        for a in self.axes:
            d: dict[str, Any] = {"node": a.node, "param": a.param}
            if a.values is not None:
                d["values"] = list(a.values)
            else:
                d.update(range=list(a.range), scale=a.scale, **({"n": a.n} if a.n is not None else {}))
            axes.append(d)
        out = {"params": axes, "mode": self.mode, "seeds": list(self.seeds), "duration_ms": self.duration_ms,
               "backend": self.backend, "measures": list(self.measures), "save": self.save}
        if self.mode == "random":
            out.update(samples=self.samples, sample_seed=self.sample_seed)
        return out


@dataclass(frozen=True)
class Point:
    """One simulation of a sweep: parameter values (``{"node.param": value}``) and a seed."""

    idx: int
    params: dict
    seed: int
    key: str


def _P(code, message, fix=_SPEC_HELP, node=None, param=None):
    return Problem("error", code, message, fix, node=node, param=param)


def _is_num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def sweep_problems(sweep, types: dict[str, Any]) -> list[Problem]:
    """Every problem of a design's ``sweep`` object. ``types`` maps each node id of the design
    to its node type class (None for a node whose type is itself invalid: not checked here)."""
    from .params import check_value, meta

    if sweep is None:
        return []
    if not isinstance(sweep, dict):
        return [_P("sweep.type", f"'sweep' must be an object, not {type(sweep).__name__}")]
    out = [_P("sweep.unknown_key", f"unknown key '{k}' in sweep", f"sweep keys: {', '.join(SWEEP_KEYS)}")
           for k in sweep if k not in SWEEP_KEYS]
    mode = sweep.get("mode", "grid")
    if mode not in ("grid", "random"):
        out.append(_P("sweep.mode", f"sweep mode {mode!r} is not 'grid' or 'random'",
                      'use "mode": "grid" (every combination) or "random" (with "samples")'))
    params = sweep.get("params")
    if not isinstance(params, list) or not params:
        out.append(_P("sweep.params", "sweep.params must be a non-empty list of the parameters to vary"))
        params = []
    seen = set()
    n_grid = 1
    for i, ax in enumerate(params):
        where = f"sweep.params[{i}]"
        if not isinstance(ax, dict):
            out.append(_P("sweep.params", f"{where} must be an object, not {type(ax).__name__}"))
            continue
        nid, name = ax.get("node"), ax.get("param")
        out += [_P("sweep.unknown_key", f"unknown key '{k}' in {where}", f"allowed: {', '.join(AXIS_KEYS)}",
                   node=nid if isinstance(nid, str) else None) for k in ax if k not in AXIS_KEYS]
        if not isinstance(nid, str) or nid not in types:
            known = ", ".join(sorted(types)) or "none"
            out.append(_P("sweep.node", f"{where} varies node {nid!r}, which is not a node of this design",
                          f"use one of the node ids: {known}", node=nid if isinstance(nid, str) else None,
                          param=name if isinstance(name, str) else None))
            continue
        cls = types[nid]
        if cls is None:
            continue
        decls = cls.param_decls()
        if not isinstance(name, str) or name not in decls:
            out.append(_P("sweep.param", f"{where}: {cls.type_key} '{nid}' has no parameter {name!r}",
                          f"{cls.type_key} takes: {', '.join(decls)}", node=nid,
                          param=name if isinstance(name, str) else None))
            continue
        if (nid, name) in seen:
            out.append(_P("sweep.duplicate", f"{where} varies {nid}.{name} a second time",
                          "give each parameter once, with all its values", node=nid, param=name))
        seen.add((nid, name))
        decl = decls[name]
        kind = meta(decl).get("kind")
        has_v, has_r = "values" in ax, "range" in ax
        if has_v == has_r:
            out.append(_P("sweep.values", f"{where} ({nid}.{name}) needs exactly one of 'values' or 'range'",
                          '"values": [v1, v2, ...] or "range": [lo, hi] with "n"', node=nid, param=name))
            continue
        if has_v:
            vals = ax["values"]
            if not isinstance(vals, list) or not vals:
                out.append(_P("sweep.values", f"{where} ({nid}.{name}): 'values' must be a non-empty list",
                              "list the values to try", node=nid, param=name))
                continue
            for k, v in enumerate(vals):
                for code, msg, fix in check_value(name, decl, v):
                    out.append(_P("sweep.value", f"{where}: value #{k} of {nid}.{name} {msg}", fix, node=nid,
                                  param=name))
            for k in ("n", "scale"):
                if k in ax:
                    out.append(_P("sweep.values", f"{where} ({nid}.{name}): '{k}' applies to 'range', not 'values'",
                                  f"remove '{k}'", node=nid, param=name))
            n_grid *= len(vals)
            continue
        if kind not in ("number", "integer"):
            out.append(_P("sweep.range", f"{where}: {nid}.{name} is a {kind} parameter; a range needs a number",
                          "list its values with 'values' instead", node=nid, param=name))
            continue
        rg = ax["range"]
        if not (isinstance(rg, list) and len(rg) == 2 and all(_is_num(x) for x in rg) and rg[0] <= rg[1]):
            out.append(_P("sweep.range", f"{where} ({nid}.{name}): 'range' must be [lo, hi] with finite numbers "
                          f"lo <= hi, got {rg!r}", "for example \"range\": [0.005, 0.05]", node=nid, param=name))
            continue
        for x in rg:
            for code, msg, fix in check_value(name, decl, x):
                out.append(_P("sweep.range", f"{where}: range end {x} of {nid}.{name} {msg}", fix, node=nid,
                              param=name))
        scale = ax.get("scale", "lin")
        if scale not in ("lin", "log"):
            out.append(_P("sweep.range", f"{where} ({nid}.{name}): scale {scale!r} is not 'lin' or 'log'",
                          '"scale": "lin" (linspace) or "log" (geomspace)', node=nid, param=name))
        elif scale == "log" and rg[0] <= 0:
            out.append(_P("sweep.range", f"{where} ({nid}.{name}): a log range needs lo > 0, got {rg[0]}",
                          "use a positive lower end or scale 'lin'", node=nid, param=name))
        n = ax.get("n")
        if mode == "grid" or n is not None:
            if not _is_int(n) or n < 1:
                out.append(_P("sweep.range", f"{where} ({nid}.{name}): a grid range needs 'n' (number of values, "
                              f">= 1), got {n!r}", '"n": 5', node=nid, param=name))
            elif n > 1 and rg[0] == rg[1]:
                out.append(_P("sweep.range", f"{where} ({nid}.{name}): range [{rg[0]}, {rg[1]}] is one value, "
                              f"n is {n}", "widen the range or set n to 1", node=nid, param=name))
            else:
                n_grid *= n
    seeds = sweep.get("seeds")
    n_seeds = 1
    if seeds is not None:
        if not (isinstance(seeds, list) and seeds and all(_is_int(s) and 0 <= s < 2**63 for s in seeds)):
            out.append(_P("sweep.seeds", f"sweep.seeds must be a non-empty list of integers in [0, 2**63), got {seeds!r}",
                          '"seeds": [1, 2, 3]'))
        elif len(set(seeds)) != len(seeds):
            out.append(_P("sweep.seeds", f"sweep.seeds repeats a seed: {seeds}", "give each seed once"))
        else:
            n_seeds = len(seeds)
    samples = sweep.get("samples")
    if mode == "random":
        if not _is_int(samples) or samples < 1:
            out.append(_P("sweep.samples", f"random mode needs 'samples' (points to draw, >= 1), got {samples!r}",
                          '"samples": 20'))
        else:
            n_grid = samples
    elif samples is not None or "sample_seed" in sweep:
        out.append(_P("sweep.samples", "'samples' and 'sample_seed' apply to mode 'random'",
                      "remove them or set \"mode\": \"random\""))
    ss = sweep.get("sample_seed", 0)
    if not _is_int(ss) or ss < 0:
        out.append(_P("sweep.samples", f"sample_seed must be a non-negative integer, got {ss!r}", '"sample_seed": 0'))
    if n_grid * n_seeds > MAX_POINTS:
        out.append(_P("sweep.size", f"the sweep has {n_grid * n_seeds} points, more than {MAX_POINTS}",
                      "fewer values or seeds, or mode 'random' with fewer samples"))
    dur = sweep.get("duration_ms")
    if dur is not None and not (_is_num(dur) and 0 < dur <= 1e9):
        out.append(_P("sweep.duration", f"sweep.duration_ms must be a positive number of ms, got {dur!r}",
                      '"duration_ms": 2000', param="duration_ms"))
    be = sweep.get("backend")
    if be is not None and be not in BACKENDS:
        out.append(_P("sweep.backend", f"sweep.backend {be!r} is not one of {', '.join(BACKENDS)}",
                      f"use one of {', '.join(BACKENDS)}", param="backend"))
    save = sweep.get("save", "traces")
    if save not in SAVE:
        out.append(_P("sweep.save", f"sweep.save {save!r} is not one of {', '.join(SAVE)}",
                      "traces (monitor traces and rates), all (also spikes), none"))
    measures = sweep.get("measures", [])
    if not isinstance(measures, list) or not all(isinstance(m, str) and m for m in measures):
        out.append(_P("sweep.measures", f"sweep.measures must be a list of strings, got {measures!r}",
                      '"measures": ["readout.test_accuracy", "E.rate_hz"]'))
        measures = []
    for m in measures:
        out += _measure_problems(m, types)
    return out


def _measure_problems(m: str, types: dict) -> list[Problem]:
    path, _, agg = m.partition(":")
    if path in TOP_MEASURES and not agg:
        return []
    nid, dot, key = path.partition(".")
    fix = ("a measure is '<node>.<key>' of the run summary (e.g. 'readout.test_accuracy', 'E.rate_hz'), "
           f"'<node>.<trace>:<agg>' with agg in {', '.join(AGGREGATES)}, or one of {', '.join(TOP_MEASURES)}")
    if not dot or not key:
        return [_P("sweep.measure", f"measure {m!r} names no node and key", fix)]
    if nid not in types:
        return [_P("sweep.measure", f"measure {m!r} names node '{nid}', which is not a node of this design",
                   f"use one of the node ids: {', '.join(sorted(types))}", node=nid)]
    if agg and agg not in AGGREGATES:
        return [_P("sweep.measure", f"measure {m!r}: unknown aggregate '{agg}'", f"use one of {', '.join(AGGREGATES)}",
                   node=nid)]
    if agg and types[nid] is not None and getattr(types[nid], "arrays", None) is None:
        return [_P("sweep.measure", f"measure {m!r}: {types[nid].type_key} '{nid}' records no traces to aggregate",
                   f"use '{path}' without ':{agg}'", node=nid)]
    return []


def _types_of(design: Design) -> dict:
    from .registry import get_type
    return {n["id"]: get_type(n.get("type")) for n in design.nodes if isinstance(n, dict) and isinstance(n.get("id"), str)}


def parse_sweep(design) -> SweepSpec:
    """The design's sweep as a :class:`SweepSpec`; :class:`DesignError` with every problem
    (each naming the node and parameter) when it is missing or wrong."""
    design = load_design(design)
    sweep = design.doc.get("sweep")
    if sweep is None:
        raise DesignError(_P("sweep.missing", f"design '{design.name}' has no 'sweep' key",
                             "add the parameters to vary: " + _SPEC_HELP))
    types = _types_of(design)
    probs = sweep_problems(sweep, types)
    if probs:
        raise DesignError(probs)
    axes = []
    from .params import meta
    for ax in sweep["params"]:
        cls = types[ax["node"]]
        integer = meta(cls.param_decls()[ax["param"]]).get("kind") == "integer"
        if "values" in ax:
            axes.append(Axis(ax["node"], ax["param"], values=tuple(ax["values"]), integer=integer))
        else:
            axes.append(Axis(ax["node"], ax["param"], range=(ax["range"][0], ax["range"][1]), n=ax.get("n"),
                             scale=ax.get("scale", "lin"), integer=integer))
    m = design.meta
    return SweepSpec(axes=tuple(axes), mode=sweep.get("mode", "grid"), samples=sweep.get("samples"),
                     sample_seed=int(sweep.get("sample_seed", 0)),
                     seeds=tuple(sweep.get("seeds") or [int(m.get("seed", 1))]),
                     duration_ms=float(sweep.get("duration_ms", m.get("duration_ms", 1000.0))),
                     backend=sweep.get("backend") or m.get("backend", "numba"),
                     measures=tuple(sweep.get("measures", [])), save=sweep.get("save", "traces"))


def make_points(design, spec: SweepSpec) -> list[Point]:
    """Every point of the sweep, in a stable order (grid: the axes' product, first axis
    slowest; random: the draws of ``sample_seed``), each with every seed."""
    design = load_design(design)
    if spec.mode == "grid":
        combos = list(itertools.product(*[a.grid() for a in spec.axes]))
    else:
        rng = np.random.default_rng(spec.sample_seed)
        combos = [tuple(a.draw(rng) for a in spec.axes) for _ in range(int(spec.samples))]
    out = []
    for combo in combos:
        params = {a.path: v for a, v in zip(spec.axes, combo)}
        for seed in spec.seeds:
            eff = apply_params(design, params, seed=seed, duration_ms=spec.duration_ms, backend=spec.backend)
            out.append(Point(len(out), params, int(seed), design_hash(eff)))
    return out


def sweep_key(design, spec: SweepSpec) -> str:
    """Identity of a sweep: the base design's hash and the spec (rerunning the same file resumes it)."""
    return hashlib.sha256(f"{design_hash(design)}|{_dumps(spec.to_dict())}".encode()).hexdigest()
