"""Argument checks shared by the analysis functions.

Every check raises :class:`ValueError` with a message that names the argument and says how
to fix it, so a bad call fails at the boundary instead of deep inside numpy.
"""
from __future__ import annotations

import math
import numbers

import numpy as np


def positive_int(value, name: str) -> int:
    """``value`` as a Python int > 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be a positive integer, got {value!r}; pass e.g. {name}=100")
    value = int(value)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}; pass the population size / count as a positive integer")
    return value


def positive_float(value, name: str) -> float:
    """``value`` as a finite float > 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not math.isfinite(v) or v <= 0.0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}; pass e.g. {name}=1.0")
    return v


def finite_float(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def window(t_start_ms, t_stop_ms) -> tuple[float, float]:
    a = finite_float(t_start_ms, "t_start_ms")
    b = finite_float(t_stop_ms, "t_stop_ms")
    if b <= a:
        raise ValueError(f"t_stop_ms ({b}) must be greater than t_start_ms ({a}); the window [t_start_ms, t_stop_ms) "
                         "is empty, pass a later t_stop_ms")
    return a, b


def spike_times(t_ms, name: str = "t_ms") -> np.ndarray:
    t = np.asarray(t_ms)
    if t.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of spike times in ms, got shape {t.shape}; flatten it "
                         "or pass one entry per spike")
    if t.size and not np.issubdtype(t.dtype, np.number):
        raise ValueError(f"{name} must hold numbers (spike times in ms), got dtype {t.dtype}")
    t = t.astype(np.float64, copy=False)
    if t.size and not np.all(np.isfinite(t)):
        raise ValueError(f"{name} contains NaN or inf; drop those spikes before calling")
    return t


def neuron_index(i, n: int, name: str = "i", length: int | None = None, length_name: str = "t_ms") -> np.ndarray:
    a = np.asarray(i)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of neuron indices, got shape {a.shape}")
    if length is not None and a.shape[0] != length:
        raise ValueError(f"{name} has {a.shape[0]} entries but {length_name} has {length}; pass one neuron index "
                         f"per spike (equal lengths)")
    if a.size == 0:
        return a.astype(np.int64)
    if a.dtype.kind not in "iu":
        if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
            a = a.astype(np.int64)
        else:
            raise ValueError(f"{name} must hold integer neuron indices, got dtype {a.dtype}")
    a = a.astype(np.int64, copy=False)
    lo, hi = int(a.min()), int(a.max())
    if lo < 0 or hi >= n:
        raise ValueError(f"{name} must lie in [0, n) = [0, {n}), found values in [{lo}, {hi}]; pass the right n "
                         f"or drop out-of-range indices")
    return a


def matrix(x, name: str, *, min_rows: int = 1, min_cols: int = 1, dtype=np.float64, finite: bool = True) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {a.shape}; reshape it (rows = samples/bins, "
                         f"columns = neurons/features)")
    if a.shape[0] < min_rows:
        raise ValueError(f"{name} must have at least {min_rows} row(s), got shape {a.shape} (an empty window?); "
                         "pass more bins/samples")
    if a.shape[1] < min_cols:
        raise ValueError(f"{name} must have at least {min_cols} column(s), got shape {a.shape}; pass at least "
                         f"{min_cols} neuron(s)/feature(s)")
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {a.dtype}")
    if dtype is not None:
        a = a.astype(dtype, copy=False)
    if finite and a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf; clean the data first")
    return a


def binary_matrix(x, name: str, *, min_rows: int = 1, min_cols: int = 1) -> np.ndarray:
    """A 2-D array of 0/1 (bool or integer) as uint8; other values raise."""
    a = np.asarray(x)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (bins x neurons) array of 0/1, got shape {a.shape}")
    if a.shape[0] < min_rows or a.shape[1] < min_cols:
        raise ValueError(f"{name} must have at least {min_rows} row(s) and {min_cols} column(s), got shape "
                         f"{a.shape} (an empty window?)")
    return _as_binary(a, name)


def binary_vector(x, name: str, *, min_len: int = 1) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D binary sequence, got shape {a.shape}; use .ravel() or the "
                         "per-neuron/population functions for matrices")
    if a.shape[0] < min_len:
        raise ValueError(f"{name} must have at least {min_len} element(s), got {a.shape[0]}")
    return _as_binary(a, name)


def _as_binary(a: np.ndarray, name: str) -> np.ndarray:
    if a.dtype == np.bool_:
        return a.view(np.uint8)
    if a.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be bool or 0/1 numbers, got dtype {a.dtype}")
    if a.size and not np.all((a == 0) | (a == 1)):
        raise ValueError(f"{name} must contain only 0 and 1; binarise first (e.g. words(counts) or counts > 0)")
    return a.astype(np.uint8, copy=False)
