"""The math namespace that per-neuron step functions are written against.

Step functions are elementwise: they use arithmetic operators and only the names below,
so the same function runs on scalars inside a numba loop (these definitions), and on
whole numpy arrays or torch tensors when a backend rebinds the names (:func:`bind`).
"""
from __future__ import annotations

import math
import types

import numba


@numba.njit(cache=True, inline="always")
def where(cond, a, b):
    """``a`` where ``cond`` holds, else ``b`` (both are evaluated)."""
    return a if cond else b


@numba.njit(cache=True, inline="always")
def minimum(a, b):
    return a if a < b else b


@numba.njit(cache=True, inline="always")
def maximum(a, b):
    return a if a > b else b


exp = math.exp
log = math.log
sqrt = math.sqrt

NAMES = ("where", "minimum", "maximum", "exp", "log", "sqrt")


def numpy_namespace() -> dict:
    import numpy as np
    return {"where": np.where, "minimum": np.minimum, "maximum": np.maximum, "exp": np.exp,
            "log": np.log, "sqrt": np.sqrt}


def bind(fn, namespace: dict):
    """A copy of ``fn`` whose math names resolve to ``namespace`` (numpy, torch, ...)."""
    g = dict(fn.__globals__)
    g.update(namespace)
    return types.FunctionType(fn.__code__, g, fn.__name__, fn.__defaults__, fn.__closure__)
