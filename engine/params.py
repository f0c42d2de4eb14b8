"""Parameter declarations for node types, built on ``param``.

A node type declares its parameters as class attributes made with the helpers here:
:func:`Num` (a number, optionally a per-element distribution), :func:`Int`,
:func:`Choice`, :func:`Flag`, :func:`Text` and :func:`Array` (a reference to an array in
the design's sidecar ``.npz``). Each helper stores, in the parameter's ``metadata``:

``unit``
    the unit, derived from the name suffix (``tau_m_ms`` -> ms) unless given;
``live``
    True when a change takes effect at the next chunk without recompiling or resetting;
``dist``
    True when the value may be a distribution (one draw per neuron or synapse);
``kind``
    ``number`` / ``integer`` / ``choice`` / ``flag`` / ``text`` / ``array``.

:func:`check_value` validates a raw JSON value against a declaration and returns
problems as ``(code, message, fix)`` tuples, so the validator can collect all of them.
"""
from __future__ import annotations

import math
import re
from typing import Any

import param

UNIT_SUFFIXES = {
    "_ms": "ms", "_mv": "mV", "_hz": "Hz", "_gl": "g_L", "_pa": "pA", "_pf": "pF",
    "_ns": "nS", "_um": "µM", "_s": "s", "_mm": "mm",
}

DIST_KINDS = {
    "constant": ("value",),
    "normal": ("mean", "std"),
    "uniform": ("low", "high"),
    "lognormal": ("mean", "std"),
}


def unit_of(name: str) -> str:
    for suf, unit in UNIT_SUFFIXES.items():
        if name.endswith(suf):
            return unit
    return ""


class Quantity(param.Number):
    """A number parameter that may also hold a distribution dict (``{"dist": ...}``)."""

    def _validate_value(self, value, allow_None):
        if isinstance(value, dict):
            return
        super()._validate_value(value, allow_None)

    def _validate_bounds(self, val, bounds, inclusive_bounds):
        if isinstance(val, dict):
            return
        super()._validate_bounds(val, bounds, inclusive_bounds)


class ArrayRef(param.Parameter):
    """A reference ``{"array": name, "sha256": hex}`` to an array in the sidecar ``.npz``."""


def _meta(name_unit: str | None, live: bool, kind: str, dist: bool = False, **extra) -> dict:
    md = {"unit": name_unit, "live": live, "kind": kind, "dist": dist}
    md.update(extra)
    return md


def Num(default: float, *, doc: str, bounds=(None, None), inclusive=(True, True),
        live: bool = True, dist: bool = False, unit: str | None = None,
        allow_none: bool = False, precedence: float | None = None) -> param.Number:
    """A real-valued parameter (``dist=True``: also a per-element distribution)."""
    cls = Quantity if dist else param.Number
    return cls(default, bounds=bounds, inclusive_bounds=inclusive, doc=doc, allow_None=allow_none,
               precedence=precedence, metadata=_meta(unit, live, "number", dist))


def Int(default: int, *, doc: str, bounds=(None, None), live: bool = False,
        unit: str | None = None, precedence: float | None = None) -> param.Integer:
    """An integer parameter (sizes and counts are not live: they change buffers)."""
    return param.Integer(default, bounds=bounds, doc=doc, precedence=precedence,
                         metadata=_meta(unit, live, "integer"))


def Choice(default: str, objects: list[str], *, doc: str, live: bool = False,
           precedence: float | None = None) -> param.Selector:
    """One of a fixed list of strings."""
    return param.Selector(default=default, objects=list(objects), doc=doc, precedence=precedence,
                          metadata=_meta("", live, "choice"))


def Flag(default: bool, *, doc: str, live: bool = False,
         precedence: float | None = None) -> param.Boolean:
    """A boolean switch."""
    return param.Boolean(default, doc=doc, precedence=precedence, metadata=_meta("", live, "flag"))


def Text(default: str, *, doc: str, live: bool = False, pattern: str | None = None,
         pattern_hint: str = "", precedence: float | None = None) -> param.String:
    """A short string, optionally matching ``pattern`` (a regular expression)."""
    return param.String(default, doc=doc, precedence=precedence,
                        metadata=_meta("", live, "text", pattern=pattern, pattern_hint=pattern_hint))


def Array(*, doc: str, precedence: float | None = None) -> ArrayRef:
    """A reference to an array stored in the design's sidecar ``.npz`` (or None)."""
    return ArrayRef(None, allow_None=True, doc=doc, precedence=precedence,
                    metadata=_meta("", False, "array"))


def meta(p: param.Parameter) -> dict:
    return p.metadata or {}


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _fmt_bounds(p: param.Parameter) -> str:
    lo, hi = p.bounds if p.bounds is not None else (None, None)
    inc = getattr(p, "inclusive_bounds", (True, True))
    left = "(-inf" if lo is None else (f"[{lo}" if inc[0] else f"({lo}")
    right = "inf)" if hi is None else (f"{hi}]" if inc[1] else f"{hi})")
    return f"{left}, {right}"


def in_bounds(p: param.Parameter, v: float) -> bool:
    if getattr(p, "bounds", None) is None:
        return True
    lo, hi = p.bounds
    inc = getattr(p, "inclusive_bounds", (True, True))
    if lo is not None and (v < lo or (v == lo and not inc[0])):
        return False
    if hi is not None and (v > hi or (v == hi and not inc[1])):
        return False
    return True


def check_value(name: str, p: param.Parameter, value: Any) -> list[tuple[str, str, str]]:
    """Problems with ``value`` for the declaration ``p``, as ``(code, message, fix)``."""
    md = meta(p)
    kind = md.get("kind", "number")
    unit = md.get("unit") or ""
    u = f" {unit}" if unit else ""
    out: list[tuple[str, str, str]] = []
    if kind in ("number", "integer"):
        if value is None and p.allow_None:
            return out
        if isinstance(value, dict):
            if not md.get("dist"):
                return [("param.type", "takes a single number, not a distribution",
                         f"give one number in {_fmt_bounds(p)}{u}")]
            return check_distribution(p, value)
        if not _is_number(value):
            what = "a boolean" if isinstance(value, bool) else f"{type(value).__name__} {value!r}"
            return [("param.type", f"must be a number, got {what}",
                     f"give a number in {_fmt_bounds(p)}{u}")]
        if not math.isfinite(value):
            return [("param.nonfinite", f"is {value}", "give a finite number")]
        if kind == "integer" and not float(value).is_integer():
            return [("param.type", f"must be a whole number, got {value}", f"give an integer in {_fmt_bounds(p)}")]
        if not in_bounds(p, value):
            out.append(("param.bounds", f"is {value}{u}, outside {_fmt_bounds(p)}{u}",
                        f"choose a value in {_fmt_bounds(p)}{u} (default {p.default})"))
        return out
    if kind == "choice":
        if value not in p.objects:
            return [("param.choice", f"is {value!r}, not one of {p.objects}",
                     f"use one of {', '.join(map(repr, p.objects))}")]
        return out
    if kind == "flag":
        if not isinstance(value, bool):
            return [("param.type", f"must be true or false, got {value!r}", "use true or false")]
        return out
    if kind == "text":
        if not isinstance(value, str):
            return [("param.type", f"must be a string, got {value!r}", "give a string")]
        pat = md.get("pattern")
        if pat and not re.fullmatch(pat, value):
            return [("param.format", f"{value!r} is not in the expected form",
                     md.get("pattern_hint") or f"match {pat}")]
        return out
    if kind == "array":
        if value is None:
            return out
        if not (isinstance(value, dict) and set(value) == {"array", "sha256"}
                and isinstance(value["array"], str) and isinstance(value["sha256"], str)):
            return [("param.array", "must be an array reference {\"array\": name, \"sha256\": hex}",
                     "store the array in the design's sidecar .npz and reference it by name and hash")]
        return out
    return out


def check_distribution(p: param.Parameter, d: dict) -> list[tuple[str, str, str]]:
    kind = d.get("dist")
    if kind not in DIST_KINDS:
        return [("param.dist", f"has unknown distribution {kind!r}",
                 f"use one of {', '.join(DIST_KINDS)} with keys "
                 + "; ".join(f"{k}: {', '.join(v)}" for k, v in DIST_KINDS.items()))]
    need = set(DIST_KINDS[kind])
    have = set(d) - {"dist"}
    out = []
    if have != need:
        missing, extra = need - have, have - need
        msg = []
        if missing:
            msg.append(f"missing {sorted(missing)}")
        if extra:
            msg.append(f"unknown {sorted(extra)}")
        return [("param.dist", f"{kind} distribution is " + " and ".join(msg),
                 f"give exactly {sorted(need)}")]
    for k in need:
        v = d[k]
        if not _is_number(v) or not math.isfinite(v):
            out.append(("param.dist", f"distribution field '{k}' must be a finite number, got {v!r}",
                        "give a finite number"))
    if out:
        return out
    if kind in ("normal", "lognormal") and d["std"] < 0:
        out.append(("param.dist", f"std is negative ({d['std']})", "give std >= 0"))
    if kind == "uniform" and not d["low"] <= d["high"]:
        out.append(("param.dist", f"uniform low {d['low']} > high {d['high']}", "give low <= high"))
    if kind == "constant" and not in_bounds(p, d["value"]):
        out.append(("param.bounds", f"constant {d['value']} outside {_fmt_bounds(p)}",
                    f"choose a value in {_fmt_bounds(p)}"))
    if kind == "uniform" and not (in_bounds(p, d["low"]) and in_bounds(p, d["high"])):
        out.append(("param.bounds", f"uniform range [{d['low']}, {d['high']}] leaves {_fmt_bounds(p)}",
                    f"keep low and high in {_fmt_bounds(p)}"))
    return out
