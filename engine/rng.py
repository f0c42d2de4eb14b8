"""Counter-based random numbers keyed by (seed, node id, stream, step, element).

Every random number is a pure function of its key, so spikes do not depend on chunk
size, pauses, parameter-edit timing, thread count or unrelated nodes, and every backend
can draw the same numbers. The generator is SplitMix64's output function applied to a
Weyl sequence whose start is itself hashed from (key, step):

    k_node = mix(mix(seed * G + H(node_id)) ^ H(stream))     # once, in Python
    k_step = mix(k_node + step * G)                            # once per step
    x      = mix(k_step + (element + 1) * G)                   # per draw
    u      = (x >> 11) * 2**-53                                # uniform in [0, 1)

``mix`` is SplitMix64's finaliser (Steele, Lea & Flood 2014), G the golden-ratio gamma.
Within a step, successive elements walk a Weyl sequence, which is exactly SplitMix64's
own stream (passes BigCrush); distinct steps start at hashed, effectively random points.
"""
from __future__ import annotations

import hashlib
import math

import numba
import numpy as np

MASK = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
M1 = 0xBF58476D1CE4E5B9
M2 = 0x94D049BB133111EB
TWO53 = 1.0 / 9007199254740992.0


def _mix_py(z: int) -> int:
    z &= MASK
    z = ((z ^ (z >> 30)) * M1) & MASK
    z = ((z ^ (z >> 27)) * M2) & MASK
    return z ^ (z >> 31)


def _h(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little")


def node_key(seed: int, node_id: str, stream: str) -> int:
    """64-bit key of one random stream of one node (a Python int in [0, 2**64))."""
    return _mix_py(_mix_py((int(seed) * GAMMA + _h(node_id)) & MASK) ^ _h(stream))


def step_key_py(key: int, step: int) -> int:
    return _mix_py((key + (int(step) & MASK) * GAMMA) & MASK)


def as_i64(key: int) -> np.int64:
    """A uint64 key reinterpreted as int64 (how keys travel as kernel arguments)."""
    return np.array([key], dtype=np.uint64).view(np.int64)[0]


# --- numba ---------------------------------------------------------------------------
_G = np.uint64(GAMMA)
_M1 = np.uint64(M1)
_M2 = np.uint64(M2)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_ONE = np.uint64(1)


@numba.njit(cache=True, inline="always")
def mix(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@numba.njit(cache=True, inline="always")
def step_key(key_i64, step):
    """Key of one step: ``key_i64`` is the node key as int64 (bit pattern), step an int."""
    return mix(np.uint64(key_i64) + np.uint64(step) * _G)


@numba.njit(cache=True, inline="always")
def uniform(sk, i):
    """Uniform in [0, 1) for element ``i`` of the step whose key is ``sk``."""
    x = mix(sk + (np.uint64(i) + _ONE) * _G)
    return np.float64(x >> _S11) * TWO53


@numba.njit(cache=True, inline="always")
def uniform_pos(sk, i):
    """Uniform in (0, 1] (safe for log)."""
    x = mix(sk + (np.uint64(i) + _ONE) * _G)
    return (np.float64(x >> _S11) + 1.0) * TWO53


@numba.njit(cache=True, inline="always")
def normal(sk, i):
    """Standard normal from draws 2i and 2i+1 (Box-Muller, cosine branch)."""
    u1 = uniform_pos(sk, 2 * i)
    u2 = uniform(sk, 2 * i + 1)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@numba.njit(cache=True, inline="always")
def poisson(sk, i, lam, exp_neg_lam):
    """Poisson(lam) count by inversion from one uniform (lam up to a few tens)."""
    u = uniform(sk, i)
    k = 0
    p = exp_neg_lam
    f = p
    while u > f and k < 10000:
        k += 1
        p *= lam / k
        f += p
        if p == 0.0 and f < u:
            break
    return k


# --- numpy (vectorised, for build-time sampling and reference implementations) --------
def _mix_np(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(M1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(M2)
        return z ^ (z >> np.uint64(31))


def uniform_np(key: int, step: int, idx: np.ndarray) -> np.ndarray:
    """The same numbers as :func:`uniform`, for an array of element indices."""
    sk = np.uint64(step_key_py(key, step))
    with np.errstate(over="ignore"):
        x = _mix_np(sk + (np.asarray(idx, dtype=np.uint64) + np.uint64(1)) * np.uint64(GAMMA))
    return (x >> np.uint64(11)).astype(np.float64) * TWO53


def uniform_pos_np(key: int, step: int, idx: np.ndarray) -> np.ndarray:
    sk = np.uint64(step_key_py(key, step))
    with np.errstate(over="ignore"):
        x = _mix_np(sk + (np.asarray(idx, dtype=np.uint64) + np.uint64(1)) * np.uint64(GAMMA))
    return ((x >> np.uint64(11)).astype(np.float64) + 1.0) * TWO53


def normal_np(key: int, step: int, idx: np.ndarray) -> np.ndarray:
    idx = np.asarray(idx, dtype=np.uint64)
    u1 = uniform_pos_np(key, step, 2 * idx)
    u2 = uniform_np(key, step, 2 * idx + 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
