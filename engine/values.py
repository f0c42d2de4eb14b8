"""Parameter values: numbers, distributions and sidecar array references.

A value is a number/string/bool, a distribution ``{"dist": "normal", "mean": m, "std": s}``
(also ``uniform`` low/high, ``lognormal`` mean/std of the underlying normal, ``constant``
value), or ``{"array": name, "sha256": hex}`` naming an array in the design's sidecar.
Distributions are sampled with the counter-based generator, keyed by
(seed, node id, "param:<name>"), so a draw never depends on other nodes.
"""
from __future__ import annotations

import numpy as np

from . import rng
from .errors import DesignError, Problem
from .params import in_bounds


def is_dist(v) -> bool:
    return isinstance(v, dict) and "dist" in v


def is_array_ref(v) -> bool:
    return isinstance(v, dict) and "array" in v


def sample(value, n: int, *, seed: int, node: str, name: str, decl=None) -> np.ndarray | float:
    """A scalar stays a float; a distribution becomes ``n`` draws (float64)."""
    if not is_dist(value):
        return float(value)
    if value["dist"] == "constant":
        return float(value["value"])
    key = rng.node_key(seed, node, f"param:{name}")
    idx = np.arange(n, dtype=np.uint64)
    kind = value["dist"]
    if kind == "uniform":
        out = value["low"] + (value["high"] - value["low"]) * rng.uniform_np(key, 0, idx)
    elif kind == "normal":
        out = value["mean"] + value["std"] * rng.normal_np(key, 0, idx)
    elif kind == "lognormal":
        out = np.exp(value["mean"] + value["std"] * rng.normal_np(key, 0, idx))
    else:  # validated earlier
        raise DesignError(Problem("error", "param.dist", f"unknown distribution {kind!r}", node=node, param=name))
    if decl is not None and getattr(decl, "bounds", None) is not None:
        bad = np.array([not in_bounds(decl, x) for x in out[: min(n, 100000)]])
        if bad.any():
            raise DesignError(Problem(
                "error", "param.bounds",
                f"{int(bad.sum())} of {len(bad)} draws of the {kind} distribution fall outside the bounds {decl.bounds}",
                fix="narrow the distribution (smaller std, or a uniform range inside the bounds)",
                node=node, param=name))
    return out


def is_heterogeneous(value) -> bool:
    return is_dist(value) and value["dist"] != "constant"
