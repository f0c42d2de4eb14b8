"""The torch backend: the plan's steps executed one time step at a time on tensors.

``TorchRunner(plan, device="cpu", dtype=torch.float64, trials=1)`` has the interface of
:class:`~engine.backends.numba_backend.NumbaRunner`: ``run(t0, n_steps)`` advances the
simulation and returns the number of steps done (fewer when a record buffer is full, as
in numba), and the run loop drains the same record buffers of ``plan.buffers`` afterwards.

How it reproduces numba (float64, ``trials=1``: spike for spike):

- neuron equations are not repeated here: ``neuron.update`` binds each type's elementwise
  ``step`` to a torch namespace with :func:`engine.ops.bind` and calls it once per step
  on whole ``(trials, n)`` tensors;
- random numbers use the same counter-based SplitMix64 (``engine.rng``) on int64 tensors
  with wrapping arithmetic and logical right shifts (see :func:`mix`);
- spike delivery adds each synapse's weight with ``index_add_`` in the numba loop order
  (presynaptic neuron ascending, then CSR order), which on CPU is a serial loop, so every
  conductance receives the same additions in the same order (CUDA uses atomics: sums may
  differ in the last bit there).

Batched trials (``trials = B``): every per-neuron / per-synapse state buffer gets a
leading trial axis. Trials share the network (connectivity, parameters, initial state)
and differ in the random numbers drawn while running: trial 0 uses the node keys of the
plan (so it equals the single-trial run and the numba run), trial ``b > 0`` the key
``mix(key ^ mix(b * GAMMA))`` (:func:`trial_key`) for every random stream (Poisson
sources, noise currents). Trial 0 is mirrored into ``plan.buffers`` after each call, so
``Simulation.spikes``, monitors and summaries see trial 0; :meth:`TorchRunner.trial_spikes`
returns the spikes of any trial (``Simulation.spikes(monitor, trial=b)``).

Step kinds: ``TORCH_STEPS[kind]`` is a factory ``(step, runner) -> fn(t)`` that prepares
once and returns the function run every time step; kernel parameters are re-read from
``plan.params`` at every step, so live edits apply without rebuilding (weights refilled
on the Python side are picked up at the next call). Every registered node type runs:
all stimuli (Poisson, switching and correlated Poisson, spike arrays, currents, digits,
patterns, cued events), every neuron type (``neuron.update``), projections with every
delay mode and with short-term plasticity (``stp.release``, the tripartite synapse
included), pair/triplet STDP, scaling, Oja's subspace rule (with task schedules),
three-factor learning (label and target modes, HLOP projection), the NALSM, Li-Rinzel
and G-ChI astrocytes, and the monitors (spikes, state and signals of trial 0; the others
read what the run loop drains). Readouts run on the host from recorded spikes, as with
numba. A type module may add kinds in a companion module ``components/<module>_torch.py``
(imported when needed) with :func:`torch_step`.

Refusal: :func:`type_refusal` decides, without building a plan, whether a node type can
run (a type in :data:`REFUSED`, or whose module renders a numba step kind with no torch
step, cannot); :func:`problems` turns that into one validation error per node, which
``engine.validate`` reports for designs with backend 'torch' (so the studio refuses
before Run) and the runner raises at construction for a backend chosen at run time.

Exactness (float64, CPU): besides the shared neuron steps and random numbers, the other
kinds mirror their numba kernels expression by expression, accumulate in numba's loop
order where rounding depends on it (``index_add_``; :func:`_seqsum`, a cumulative sum,
for loop sums), use the C library's exp/log/tanh through :func:`lexp` & co, and avoid
``number / tensor`` (torch computes it as a reciprocal times the number): every float
state buffer is bit-equal to numba's (tests/engine/test_torch_backend.py). float32 and
CUDA (atomics, CUDA's libm) agree within the tolerances stated in those tests.

Not here: gradients (runs under ``torch.no_grad``; engine.training trains feed-forward
designs); CUDA is exercised only by the CUDA-marked tests.
"""
from __future__ import annotations

import importlib
import math
import time
from typing import Callable

import numpy as np
import torch

from .. import ops
from ..errors import DesignError, Problem
from ..plan import Plan, Step
from ..rng import GAMMA, M1, M2, MASK, TWO53, _mix_py

TORCH_STEPS: dict[str, Callable[[Step, "TorchRunner"], Callable[[int], None]]] = {}


def torch_step(kind: str):
    """Register a factory ``(step, runner) -> fn(t)`` for a step kind."""
    def deco(fn):
        TORCH_STEPS[kind] = fn
        return fn
    return deco


# --- counter-based random numbers on int64 tensors ----------------------------------------
def _i64(x: int) -> int:
    """A uint64 value as the int64 with the same bits."""
    x &= MASK
    return x - (1 << 64) if x >= (1 << 63) else x


_G = _i64(GAMMA)
_M1 = _i64(M1)
_M2 = _i64(M2)


def _srl(z: torch.Tensor, s: int) -> torch.Tensor:
    """Logical right shift of int64 bit patterns (torch's ``>>`` is arithmetic)."""
    return (z >> s) & ((1 << (64 - s)) - 1)


def mix(z: torch.Tensor) -> torch.Tensor:
    """SplitMix64's finaliser on int64 tensors (multiplication wraps modulo 2**64)."""
    z = (z ^ _srl(z, 30)) * _M1
    z = (z ^ _srl(z, 27)) * _M2
    return z ^ _srl(z, 31)


def step_key(keys: torch.Tensor, step: int) -> torch.Tensor:
    """Keys of one step for int64 node keys ``keys`` (any shape), as :func:`engine.rng.step_key`."""
    return mix(keys + _i64(int(step) * GAMMA))


def _bits(sk: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """The 53 high bits of draw ``idx`` of the steps keyed ``sk`` (``sk[..., None]`` x ``idx``)."""
    return _srl(mix(sk[..., None] + (idx + 1) * _G), 11)


def uniform(sk: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Uniform [0, 1) float64, the same numbers as :func:`engine.rng.uniform`."""
    return _bits(sk, idx).to(torch.float64) * TWO53


def uniform_pos(sk: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    return (_bits(sk, idx).to(torch.float64) + 1.0) * TWO53


def normal(sk: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Box-Muller as :func:`engine.rng.normal` (log/cos may differ from libm in the last bit)."""
    u1 = uniform_pos(sk, 2 * idx)
    u2 = uniform(sk, 2 * idx + 1)
    return torch.sqrt(-2.0 * torch.log(u1)) * torch.cos(2.0 * math.pi * u2)


def trial_key(key, trial: int) -> int:
    """The int64 key of a random stream in trial ``trial`` (trial 0: the plan's key)."""
    k = int(key) & MASK
    if trial == 0:
        return _i64(k)
    return _i64(_mix_py(k ^ _mix_py((trial * GAMMA) & MASK)))


def poisson_counts(u: torch.Tensor, lam: torch.Tensor, enl: torch.Tensor) -> torch.Tensor:
    """Poisson counts by inversion, the arithmetic of :func:`engine.rng.poisson`, vectorised."""
    lam = lam.expand_as(u)
    f0 = enl.expand_as(u)
    k = torch.zeros(u.shape, dtype=torch.int32, device=u.device)
    sel = (u > f0).reshape(-1).nonzero().reshape(-1)
    if sel.numel() == 0:
        return k
    uu, ll = u.reshape(-1)[sel], lam.reshape(-1)[sel]
    pp = f0.reshape(-1)[sel].clone()
    ff = pp.clone()
    kk = torch.zeros_like(sel)
    kflat = k.view(-1)
    while sel.numel():
        kk = kk + 1
        pp = pp * (ll / kk.to(torch.float64))
        ff = ff + pp
        go = (uu > ff) & (kk < 10000) & ~((pp == 0.0) & (ff < uu))
        done = ~go
        kflat[sel[done]] = kk[done].to(torch.int32)
        sel, uu, ll, pp, ff, kk = sel[go], uu[go], ll[go], pp[go], ff[go], kk[go]
    return k


# --- libm-exact transcendental functions ---------------------------------------------------
# numba's math.exp/log/tanh call the C library (the same numbers as Python's math module);
# torch's vectorised CPU kernels differ from it in the last bit for a fraction of inputs
# (measured on 2e5 uniform inputs: exp 0.5 %, tanh 3 %, log 0.002 %). On CPU in float64 the
# functions below evaluate the C library through a numba ufunc, so what numba computes is
# reproduced bit for bit; elsewhere (CUDA, float32) they are torch's own.
def _exp(x):
    return math.exp(x)


def _log(x):
    return math.log(x)


def _tanh(x):
    return math.tanh(x)


_UFUNCS: dict = {}


def _libm(name: str, tf):
    py = getattr(math, name)

    def f(x):
        if not isinstance(x, torch.Tensor):
            return py(x)
        if x.dtype == torch.float64 and x.device.type == "cpu" and not x.requires_grad:
            u = _UFUNCS.get(name)
            if u is None:
                import numba
                u = _UFUNCS[name] = numba.vectorize(["float64(float64)"], cache=True)(globals()[f"_{name}"])
            return torch.from_numpy(np.asarray(u(x.numpy())))
        return tf(x)
    f.__name__ = f"libm_{name}"
    return f


lexp, llog, ltanh = _libm("exp", torch.exp), _libm("log", torch.log), _libm("tanh", torch.tanh)


# --- the math namespace that neuron steps are bound to ------------------------------------
def namespace(dtype: torch.dtype, device, exact: bool = False) -> dict:
    """``engine.ops`` names for tensors; python scalars are promoted only where torch needs it.

    ``exact``: exp and log through the C library on CPU in float64 (:func:`lexp`), as numba
    (the runner; training keeps torch's differentiable functions)."""
    T = torch.Tensor

    def _t(x, like=None):
        if isinstance(x, T):
            return x
        if like is not None and isinstance(like, T) and like.is_floating_point():
            return torch.as_tensor(x, dtype=like.dtype, device=like.device)
        return torch.as_tensor(x, dtype=dtype, device=device)

    def where(c, a, b):
        if not isinstance(c, T):
            return a if c else b
        if not isinstance(a, T) and not isinstance(b, T):
            a = _t(a)
        return torch.where(c, a, b)

    def minimum(a, b):
        if not isinstance(a, T) and not isinstance(b, T):
            return a if a < b else b
        return torch.minimum(_t(a, b), _t(b, a))

    def maximum(a, b):
        if not isinstance(a, T) and not isinstance(b, T):
            return a if a > b else b
        return torch.maximum(_t(a, b), _t(b, a))

    def _unary(tf, mf):
        return lambda x: tf(x) if isinstance(x, T) else mf(x)

    return {"where": where, "minimum": minimum, "maximum": maximum,
            "exp": lexp if exact else _unary(torch.exp, math.exp),
            "log": llog if exact else _unary(torch.log, math.log), "sqrt": _unary(torch.sqrt, math.sqrt)}


def _torch_dtype(dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    d = {"float64": torch.float64, "double": torch.float64, "float32": torch.float32, "float": torch.float32}
    if dtype is None:
        return torch.float64
    if str(dtype) not in d:
        raise ValueError(f"dtype {dtype!r}: use float64 or float32")
    return d[str(dtype)]


#: node types that cannot run on the torch backend although their steps could be looked up,
#: with the reason (shown at validation). Empty: every registered type runs on torch.
REFUSED: dict[str, str] = {}


_COMPANIONS: set = set()


def _load_companion(module: str) -> None:
    """Import ``<module>_torch`` (a type module's torch steps, :func:`torch_step`) if it exists
    (looked up once per module and process: validation calls this for every node)."""
    import importlib.util

    if module in _COMPANIONS:
        return
    _COMPANIONS.add(module)
    name = f"{module}_torch"
    try:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    except ImportError:  # pragma: no cover - a parent package that is not importable
        pass


def type_refusal(cls) -> str | None:
    """Why nodes of type ``cls`` cannot run on the torch backend, or None when they can.

    Decided without building a plan (validation time): a type is refused when it is listed
    in :data:`REFUSED`, or when its module renders a numba step kind that has no torch step
    here (nor in its companion module ``<module>_torch``). Types whose steps are the generic
    ones (neuron update, delivery, monitors, ...) render nothing of their own."""
    key = cls.type_key
    if key in REFUSED:
        return REFUSED[key]
    _load_companion(cls.__module__)
    from .numba_backend import RENDERERS

    kinds = sorted(k for k, fn in RENDERERS.items()
                   if getattr(fn, "__module__", None) == cls.__module__ and k not in TORCH_STEPS)
    if not kinds:
        return None
    path = cls.__module__.replace(".", "/") + ".py"
    return (f"its kernel step{'s' if len(kinds) > 1 else ''} {', '.join(repr(k) for k in kinds)} ({path}) "
            f"{'have' if len(kinds) > 1 else 'has'} no torch implementation (a @torch_step in "
            f"engine/backends/torch_backend.py or {cls.__module__.replace('.', '/')}_torch.py)")


def problems(graph) -> list[Problem]:
    """One error per node of the graph that the torch backend cannot run, naming the node,
    its type and the reason: what validation reports for a design with backend 'torch'."""
    out = []
    for node in graph.nodes.values():
        why = type_refusal(node.type)
        if why:
            out.append(Problem("error", "backend.torch", f"'{node.id}' ({node.key}) cannot run on the torch backend: "
                               f"{why}", "set the design's backend to 'numba' (meta.backend, or --backend numba)",
                               node=node.id))
    return out


def unsupported(plan: Plan) -> list[tuple[str, str, str]]:
    """(node id, type key, step kind) of the steps the torch backend cannot run."""
    out = []
    for s in plan.steps:
        if s.kind not in TORCH_STEPS:
            node = plan.graph.nodes.get(s.node)
            if node is not None:
                _load_companion(node.type.__module__)
                if s.kind in TORCH_STEPS:
                    continue
            out.append((s.node, node.key if node is not None else "?", s.kind))
    return out


def check_device(device) -> torch.device:
    """``device`` as a torch.device, or :class:`DesignError` saying why it cannot be used."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise DesignError(Problem("error", "backend.device", f"device {device!r} is not a torch device",
                                  "use 'cpu', 'cuda' or 'cuda:N'", param="device")) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DesignError(Problem("error", "backend.device", f"device '{device}' is not available "
                                      f"(torch {torch.__version__} sees no CUDA device)", "use device 'cpu'",
                                      param="device"))
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DesignError(Problem("error", "backend.device", f"device '{device}' is not available (this "
                                      f"machine has {torch.cuda.device_count()} CUDA device(s))",
                                      "use 'cuda:0' or 'cpu'", param="device"))
    elif dev.type != "cpu":
        try:
            torch.zeros(1, device=dev)
        except Exception as e:  # noqa: BLE001 - whatever the device backend raises
            raise DesignError(Problem("error", "backend.device", f"device '{device}' is not usable ({e})",
                                      "use 'cpu' or 'cuda'", param="device")) from None
    return dev


class TorchRunner:
    """Runs a plan step by step on tensors, ``trials`` independent trials at once."""

    def __init__(self, plan: Plan, device="cpu", dtype=torch.float64, trials: int = 1):
        t0 = time.perf_counter()
        refused = problems(plan.graph)  # what validation reports for backend 'torch'
        if refused:
            raise DesignError(refused)
        bad = unsupported(plan)  # a step kind outside the type's own module (should not happen)
        if bad:
            raise DesignError([Problem(
                "error", "backend.torch", f"'{nid}' ({key}) cannot run on the torch backend: its step kind '{kind}' "
                "has no torch implementation", "set the design's backend to 'numba' (meta.backend, or --backend "
                "numba)", node=nid) for nid, key, kind in bad])
        self.plan = plan
        self.device = check_device(device)
        self.dtype = _torch_dtype(dtype)
        self.B = int(trials)
        if self.B < 1:
            raise ValueError("trials must be >= 1")
        self.dt = float(plan.dt)
        self.ns = namespace(self.dtype, self.device, exact=True)
        self._cache: dict[int, tuple] = {}
        trained = {s.attrs.get("projection") for s in plan.steps if s.phase == "plasticity"}
        self.trained = {f"{p}.w" for p in trained if p}
        self.T: dict[str, torch.Tensor] = {}
        for name, a in plan.buffers.items():
            role = plan.buffer_role[name]
            if role in ("record", "counter") or name.endswith((".spk", ".cnt", ".flag", ".flag64")):
                continue  # spikes are dense (trials, n) tensors here; records are written directly
            if name.endswith((".ring_idx", ".ring_n", ".ring_cnt", ".ptr")):
                continue  # numba's spike rings and event pointers: the steps below keep their own
            if role == "const":
                x = torch.as_tensor(np.ascontiguousarray(a), device=self.device)
                if not x.is_floating_point():
                    x = x.to(torch.int64)
                self.T[name] = x
            elif role == "weights":
                self.T[name] = self._weights_tensor(a, name in self.trained)
            else:
                x = torch.as_tensor(np.array(a), device=self.device)
                if x.is_floating_point():
                    x = x.to(self.dtype)
                self.T[name] = x.unsqueeze(0).repeat((self.B,) + (1,) * a.ndim).contiguous()
        self._w_seen = {k: plan.buffers[k].copy() for k in plan.buffers if plan.buffer_role[k] == "weights"}
        self.counts = {nid: torch.zeros(self.B, dtype=torch.int64, device=self.device)
                       for nid in plan.spike_sources}
        self._count_base = {nid: int(plan.buffers[f"{nid}.count"][0]) for nid in plan.spike_sources}
        self.spk: dict[str, torch.Tensor] = {}
        self._ev: dict[str, tuple] = {}
        self.prechecks: list[Callable[[], bool]] = []
        self.after_run: list[Callable[[], None]] = []
        #: spikes of trials 1..B-1 per spike recorder: lists of (t_step, trial, i, count) arrays
        self.trial_records: dict[str, list] = {}
        self.fns = [TORCH_STEPS[s.kind](s, self) for s in plan.steps]
        self.compile_s = time.perf_counter() - t0
        self.cached_in_process = False

    # --- tensors and parameters ----------------------------------------------------------
    def _weights_tensor(self, a: np.ndarray, batched: bool) -> torch.Tensor:
        x = torch.as_tensor(np.array(a), device=self.device).to(self.dtype)
        return x.unsqueeze(0).repeat(self.B, 1).contiguous() if batched and self.B > 1 else x

    def params(self, nid: str) -> dict:
        return self.plan.params[nid]

    def tensor(self, v, dtype=None):
        """A kernel parameter as a scalar (python number) or a tensor (cached per array)."""
        if isinstance(v, np.ndarray):
            hit = self._cache.get(id(v))
            dt = dtype or (self.dtype if v.dtype.kind == "f" else None)
            if hit is not None and hit[0] is v and hit[1] == dt:
                return hit[2]
            x = torch.as_tensor(np.ascontiguousarray(v), device=self.device)
            if dt is not None:
                x = x.to(dt)
            if len(self._cache) > 512:
                self._cache.clear()
            self._cache[id(v)] = (v, dt, x)
            return x
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if isinstance(v, (int, np.integer)):
            return int(v)
        return float(v)

    def keys(self, key) -> torch.Tensor:
        """Per-trial int64 keys (B,) of one random stream (see :func:`trial_key`)."""
        k = int(key)
        hit = self._cache.get(("key", k))
        if hit is None:
            hit = torch.tensor([trial_key(k, b) for b in range(self.B)], dtype=torch.int64, device=self.device)
            self._cache[("key", k)] = hit
        return hit

    # --- spikes --------------------------------------------------------------------------
    def set_spikes(self, nid: str, dense: torch.Tensor | None) -> None:
        """This step's spikes of ``nid``: a (B, n) bool or count tensor (None: none)."""
        if dense is None:
            self.spk.pop(nid, None)
        else:
            self.spk[nid] = dense
        self._ev.pop(nid, None)

    def events(self, nid: str):
        """This step's spikes as (trial, index, count or None), sorted by trial then index."""
        ev = self._ev.get(nid)
        if ev is None:
            d = self.spk.get(nid)
            if d is None:
                z = torch.zeros(0, dtype=torch.int64, device=self.device)
                ev = (z, z, None if not self.plan.spike_sources[nid].multi else z.to(torch.int32))
            else:
                b, i = d.nonzero(as_tuple=True)
                c = d[b, i].to(torch.int32) if self.plan.spike_sources[nid].multi else None
                ev = (b, i, c)
            self._ev[nid] = ev
        return ev

    # --- running -------------------------------------------------------------------------
    def _sync_in(self) -> None:
        """Pick up weights changed on the Python side (live weight edits refill ``plan.buffers``)."""
        for k, seen in self._w_seen.items():
            a = self.plan.buffers[k]
            if not np.array_equal(a, seen):
                self.T[k] = self._weights_tensor(a, k in self.trained)
                self._w_seen[k] = a.copy()

    def _sync_out(self) -> None:
        """Mirror trial 0 into ``plan.buffers`` (state for summaries, divergence checks, monitors)."""
        B = self.plan.buffers
        for k, x in self.T.items():
            role = self.plan.buffer_role[k]
            if role == "const" or (role == "weights" and k not in self.trained) or not x.is_floating_point():
                continue
            x0 = x[0] if (role != "weights" or x.ndim == 2) else x
            a = B[k]
            if x0.shape != a.shape:
                continue
            a[...] = x0.detach().cpu().numpy()
            if role == "weights":
                self._w_seen[k] = a.copy()
        for nid, c in self.counts.items():
            B[f"{nid}.count"][0] = self._count_base[nid] + int(c[0])

    def run(self, t0: int, n_steps: int) -> int:
        self._sync_in()
        done = 0
        with torch.no_grad():
            for s in range(int(n_steps)):
                if any(pc() for pc in self.prechecks):
                    break
                t = int(t0) + s
                self.spk.clear()
                self._ev.clear()
                for fn in self.fns:
                    fn(t)
                done += 1
        for fn in self.after_run:
            fn()
        self._sync_out()
        return done

    def describe(self) -> dict:
        """Device, float type, trials and the spike count of every spike source per trial."""
        return {"device": str(self.device), "dtype": str(self.dtype).replace("torch.", ""), "trials": self.B,
                "spikes_per_trial": {nid: [int(self._count_base[nid] + v) for v in c.tolist()]
                                     for nid, c in self.counts.items()}}

    # --- results of batched trials -------------------------------------------------------
    def trial_spikes(self, monitor_id: str, trial: int) -> tuple[np.ndarray, np.ndarray]:
        """(t_step, i) of every spike a spike monitor saw in ``trial`` (counts expanded).

        Trial 0 is what the run loop drains (``Simulation.spikes``); trials >= 1 are kept here.
        """
        if not 0 < trial < self.B:
            raise ValueError(f"trial {trial}: trials 1..{self.B - 1} are kept by the runner "
                             "(trial 0 is recorded by the simulation: use Simulation.spikes)")
        ts, is_ = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for t, b, i, c in self.trial_records.get(monitor_id, []):
            m = b == trial
            if not m.any():
                continue
            ii = i[m].astype(np.int64)
            tt = np.full(len(ii), t, np.int64)
            if c is not None:
                tt, ii = np.repeat(tt, c[m]), np.repeat(ii, c[m])
            ts.append(tt)
            is_.append(ii)
        return np.concatenate(ts), np.concatenate(is_)


# --- step kinds -----------------------------------------------------------------------------
@torch_step("count")
def _count(step: Step, rt: TorchRunner):
    nid = step.node
    cnt = rt.counts[nid]

    def run(t):
        d = rt.spk.get(nid)
        if d is not None:
            cnt.add_(d.reshape(d.shape[0], -1).sum(1, dtype=torch.int64))
    return run


@torch_step("poisson.emit")
@torch_step("poisson_switch.emit")
def _poisson(step: Step, rt: TorchRunner):
    """``stimulus.poisson`` (and ``stimulus.poisson_switch``: the rate lam2 from step ``switch`` on)."""
    nid = step.node
    n = rt.plan.spike_sources[nid].n
    idx = torch.arange(n, dtype=torch.int64, device=rt.device)
    switch = step.kind == "poisson_switch.emit"

    def run(t):
        P = rt.params(nid)
        if t < int(P["start"]) or t >= int(P["stop"]):
            rt.set_spikes(nid, None)
            return
        sk = step_key(rt.keys(P["key"]), t)
        u = uniform(sk, idx)
        after = switch and t >= int(P["switch"])
        lam = rt.tensor(P["lam2" if after else "lam"], torch.float64)
        if bool(P["bern"]):
            k = (u < lam).to(torch.int32)
        else:
            k = poisson_counts(u, lam, rt.tensor(P["enl2" if after else "enl"], torch.float64))
        rt.set_spikes(nid, k)
    return run


@torch_step("spike_array.emit")
def _spike_array(step: Step, rt: TorchRunner):
    nid = step.node
    B = rt.plan.buffers
    ev_step, ev_idx, ev_cnt = B[f"{nid}.ev_step"], B[f"{nid}.ev_idx"], B[f"{nid}.ev_cnt"]
    n = rt.plan.spike_sources[nid].n

    def run(t):
        lo, hi = np.searchsorted(ev_step, t, "left"), np.searchsorted(ev_step, t, "right")
        if hi <= lo:
            rt.set_spikes(nid, None)
            return
        d = torch.zeros((rt.B, n), dtype=torch.int32, device=rt.device)
        d[:, torch.as_tensor(ev_idx[lo:hi].astype(np.int64), device=rt.device)] = \
            torch.as_tensor(ev_cnt[lo:hi], device=rt.device)
        rt.set_spikes(nid, d)
    return run


@torch_step("current.emit")
def _current(step: Step, rt: TorchRunner):
    nid = step.node
    name = f"{nid}.I"
    n = rt.T[name].shape[-1]
    idx = torch.arange(n, dtype=torch.int64, device=rt.device)

    def run(t):
        P = rt.params(nid)
        out = rt.T[name]
        if t < int(P["start"]) or t >= int(P["stop"]):
            out.zero_()
            return
        kind, amp, off = int(P["kind"]), float(P["amp"]), float(P["off"])
        if kind == 3:
            sk = step_key(rt.keys(P["key"]), t)
            out.copy_(off + amp * normal(sk, idx))
            return
        if kind == 2:
            x = off + amp * math.sin(2.0 * math.pi * float(P["freq"]) * 1e-3 * t * rt.dt + float(P["phase"]))
        else:
            x = off + amp
        out.fill_(x)
    return run


@torch_step("neuron.update")
def _neuron_update(step: Step, rt: TorchRunner):
    """The type's elementwise step bound to torch and applied to whole (trials, n) tensors.

    a step with the ``uniform`` attr (stochastic neurons) passes one uniform draw per neuron and step,
    keyed by the node's ``key`` parameter, as the step's fifth argument.
    """
    a = step.attrs
    nid = step.node
    mod = importlib.import_module(a["module"])
    f = ops.bind(mod.step, rt.ns)
    S, I, Pt = mod.State, mod.Inputs, mod.Params
    names = [f"{nid}.{v}" for v in a["state"]]
    pfields = list(a["params"])
    inputs = [srcs for _, srcs in a["inputs"]]
    shape = (rt.B, int(a["n"]))
    draws = bool(step.attrs.get("uniform"))
    idx = torch.arange(shape[1], dtype=torch.int64, device=rt.device)

    def total(srcs):
        if not srcs:
            return 0.0
        x = rt.T[srcs[0]]
        for s in srcs[1:]:
            x = x + rt.T[s]
        return x

    def run(t):
        P = rt.params(nid)
        p = Pt(*(rt.tensor(P[k]) for k in pfields))
        st = S(*(rt.T[k] for k in names))
        inp = I(*(total(s) for s in inputs))
        if draws:
            spk, new = f(inp, st, p, rt.dt, uniform(step_key(rt.keys(P["key"]), t), idx))
        else:
            spk, new = f(inp, st, p, rt.dt)
        for k, x in zip(names, new):
            old = rt.T[k]
            if not isinstance(x, torch.Tensor) or x.shape != old.shape or x.dtype != old.dtype:
                x = torch.broadcast_to(torch.as_tensor(x, device=rt.device), old.shape).to(old.dtype).contiguous()
            rt.T[k] = x
        if not isinstance(spk, torch.Tensor):
            spk = torch.as_tensor(spk, device=rt.device)
        rt.set_spikes(nid, torch.broadcast_to(spk.to(torch.bool), shape))
    return run


@torch_step("synapse.decay")
def _decay(step: Step, rt: TorchRunner):
    name, nid = step.attrs["buffer"], step.node

    def run(t):
        rt.T[name].mul_(float(rt.params(nid)["decay"]))
    return run


def _expand_csr(indptr: torch.Tensor, b: torch.Tensor, i: torch.Tensor):
    """Synapses of the spiking (trial, neuron) pairs in numba's loop order: (rep, trial, q).

    ``rep[k]`` is the event of synapse entry ``k``; on CPU the index arithmetic runs in
    numpy (torch.repeat_interleave costs ~0.1 ms per call there), on other devices in torch.
    """
    if i.device.type == "cpu":
        ip = indptr.numpy()
        ii = i.numpy()
        starts = ip[ii]
        lens = ip[ii + 1] - starts
        rep = np.repeat(np.arange(len(ii)), lens)
        first = np.cumsum(lens) - lens
        q = starts[rep] + (np.arange(len(rep)) - first[rep])
        rep_t = torch.from_numpy(rep)
        return rep_t, b[rep_t], torch.from_numpy(q)
    starts = indptr[i]
    lens = indptr[i + 1] - starts
    rep = torch.repeat_interleave(torch.arange(len(i), device=i.device), lens)
    first = torch.cumsum(lens, 0) - lens
    q = starts[rep] + (torch.arange(len(rep), device=i.device) - first[rep])
    return rep, b[rep], q


@torch_step("synapse.deliver")
def _deliver(step: Step, rt: TorchRunner):
    a = step.attrs
    nid, src, mode = step.node, a["source"], a["delay_mode"]
    release = a.get("release") or ""
    if release and mode != "none":  # the projection's build refuses this for every backend
        raise DesignError(Problem("error", "stp.delay", f"short-term plasticity on '{nid}' needs delay 0",
                                  "set delay_ms to 0", node=nid))
    multi = rt.plan.spike_sources[src].multi and not release  # a release sums the spikes of a step
    indptr, post = rt.T[f"{nid}.indptr"], rt.T[f"{nid}.post"]
    wname, gname = f"{nid}.w", f"{nid}.g"
    n_post = rt.T[gname].shape[-1]
    scalar_w = not isinstance(rt.params(nid)["wc"], np.ndarray)

    def values(ev):
        """(trial, synapse, post index, value) of the synapses of the events ``ev``."""
        b, i, c = ev
        rep, bq, q = _expand_csr(indptr, b, i)
        if scalar_w:
            wq = torch.full((len(q),), float(rt.params(nid)["wc"]), dtype=rt.dtype, device=rt.device)
        else:
            w = rt.T[wname]
            wq = w[bq, q] if w.ndim == 2 else w[q]
        if release:  # short-term plasticity: w times the release of the presynaptic neuron's spike(s)
            wq = wq * rt.T[release][b, i][rep]
        elif multi:
            wq = wq * c[rep].to(wq.dtype)
        return bq, q, post[q], wq

    if mode == "none":
        def run(t):
            ev = rt.events(src)
            if len(ev[0]) == 0:
                return
            bq, _, j, v = values(ev)
            rt.T[gname].view(-1).index_add_(0, bq * n_post + j, v)
        return run

    if mode == "ring":
        D = rt.plan.buffers[f"{nid}.ring_n"].shape[0]
        ring: list = [None] * D

        def run(t):
            ring[t % D] = rt.events(src)
            ev = ring[(t + 1) % D]
            if ev is None or len(ev[0]) == 0:
                return
            bq, _, j, v = values(ev)
            rt.T[gname].view(-1).index_add_(0, bq * n_post + j, v)
        return run

    acc_name, delay = f"{nid}.acc", rt.T[f"{nid}.delay"]
    D = rt.T[acc_name].shape[1]

    def run(t):
        acc = rt.T[acc_name]
        ev = rt.events(src)
        if len(ev[0]):
            bq, q, j, v = values(ev)
            slot = (t + delay[q]) % D
            acc.view(-1).index_add_(0, (bq * D + slot) * n_post + j, v)
        r = t % D
        rt.T[gname].add_(acc[:, r])
        acc[:, r] = 0.0
    return run


@torch_step("monitor.spikes")
def _monitor_spikes(step: Step, rt: TorchRunner):
    nid, src = step.node, step.attrs["source"]
    B = rt.plan.buffers
    tb, ib, nb = B[f"{nid}.t"], B[f"{nid}.i"], B[f"{nid}.n"]
    cb = B.get(f"{nid}.c") if step.attrs["multi"] else None
    n_src = int(step.attrs["n_src"])
    rt.prechecks.append(lambda: int(nb[0]) + n_src > tb.shape[0])
    others = rt.trial_records.setdefault(nid, []) if rt.B > 1 else None

    def run(t):
        b, i, c = rt.events(src)
        if len(b) == 0:
            return
        if rt.B > 1:
            k0 = int(torch.searchsorted(b, 1))
            bn, inp = b.cpu().numpy(), i.cpu().numpy()
            cn = c.cpu().numpy() if c is not None else None
            if k0 < len(bn):
                others.append((t, bn[k0:], inp[k0:], cn[k0:] if cn is not None else None))
            i0, c0 = inp[:k0], (cn[:k0] if cn is not None else None)
        else:
            i0 = i.cpu().numpy()
            c0 = c.cpu().numpy() if c is not None else None
        m, k = int(nb[0]), len(i0)
        if k == 0:
            return
        tb[m:m + k] = t
        ib[m:m + k] = i0
        if cb is not None:
            cb[m:m + k] = c0
        nb[0] = m + k
    return run


@torch_step("monitor.state")
def _monitor_state(step: Step, rt: TorchRunner):
    """Samples trial 0 into the record buffers the run loop drains."""
    nid = step.node
    B = rt.plan.buffers
    data, tstep, rows = B[f"{nid}.data"], B[f"{nid}.tstep"], B[f"{nid}.rows"]
    idx = rt.T[f"{nid}.idx"]
    exprs = step.attrs["exprs"]
    k = int(step.attrs["k"])
    rt.prechecks.append(lambda: int(rows[0]) >= data.shape[0])

    def run(t):
        if t % int(rt.params(nid)["every"]) != 0:
            return
        r = int(rows[0])
        tstep[r] = t
        for vi, srcs in enumerate(exprs):
            if not srcs:
                data[r, vi * k:(vi + 1) * k] = 0.0
                continue
            x = rt.T[srcs[0]][0, idx]
            for s in srcs[1:]:
                x = x + rt.T[s][0, idx]
            data[r, vi * k:(vi + 1) * k] = x.cpu().numpy()
        rows[0] = r + 1
    return run


@torch_step("stdp.pair")
def _stdp_pair(step: Step, rt: TorchRunner):
    """Pair STDP (``components.plasticity_stdp.pair_step``) on all trials at once.

    Within one step each synapse changes at most once from the presynaptic side and once
    from the postsynaptic side, so the sequential loops of numba vectorise exactly.
    """
    a = step.attrs
    rid, pid, pre, post_n = step.node, a["projection"], a["pre"], a["post"]
    indptr, postidx = rt.T[f"{pid}.indptr"], rt.T[f"{pid}.post"]
    cptr, csyn, cpre = rt.T[f"{rid}.cptr"], rt.T[f"{rid}.csyn"], rt.T[f"{rid}.cpre"]
    wname, xn, yn = f"{pid}.w", f"{rid}.x", f"{rid}.y"
    multi = rt.plan.spike_sources[pre].multi
    sname = f"{rid}.scale"
    scale = [float(v) for v in rt.plan.buffers[sname]]  # lazy decay factors: python floats, numba's arithmetic
    rt.T.pop(sname, None)
    rt.after_run.append(lambda: rt.plan.buffers[sname].__setitem__(slice(None), scale))
    batched = rt.B > 1

    def advance(k, inv_decay, name):
        s = scale[k] * inv_decay
        if s > 1e100:
            rt.T[name].mul_(1.0 / s)
            s = 1.0
        scale[k] = s
        return s

    def upd(w, bq, q, dw_fn, P, inv):
        wq = w[bq, q] if batched else w[q]
        dw = dw_fn()
        if bool(P["soft"]):
            dw = dw * (torch.where(dw > 0, float(P["wmax"]) - wq, wq - float(P["wmin"])) * inv)
        nw = torch.clamp(torch.clamp(wq + dw, min=float(P["wmin"])), max=float(P["wmax"]))
        if batched:
            w[bq, q] = nw
        else:
            w[q] = nw

    def run(t):
        P = rt.params(rid)
        sx = advance(0, float(P["idx"]), xn)
        sy = advance(1, float(P["idy"]), yn)
        rg = float(P["wmax"]) - float(P["wmin"])
        inv = 1.0 / rg if rg > 0 else 0.0
        if a["modulator"]:  # an astrocyte's modulation: one value per trial
            A = rt.T[f"{a['modulator']}.a"]
            amt = A.reshape(A.shape[0], -1)[:, 0]
            am = float(amt[0]) if amt.shape[0] == 1 else amt
        else:
            am = float(P["am"])
        ap = float(P["ap"])
        c_pre, c_post = (ap, -am) if a["inhibitory"] else (-am, ap)
        inc, nearest = float(P["inc"]), bool(P["nearest"])
        w, x, y = rt.T[wname], rt.T[xn], rt.T[yn]
        b, j, c = rt.events(pre)
        cf = c.to(torch.float64) if (multi and c is not None) else None

        def bump_x():
            if len(b) == 0:
                return
            if nearest:
                x[b, j] = inc * sx
            else:
                x[b, j] = x[b, j] + (inc * cf if cf is not None else inc) * sx

        if len(b):
            rep, bq, q = _expand_csr(indptr, b, j)
            cp = c_pre[b] if isinstance(c_pre, torch.Tensor) else c_pre
            aa = (cp * cf / sy)[rep] if cf is not None else \
                (c_pre[bq] if isinstance(c_pre, torch.Tensor) else c_pre) * 1 / sy
            upd(w, bq, q, lambda: aa * y[bq, postidx[q]], P, inv)
            if bool(P["pre_first"]):
                bump_x()
        bp, ip, _ = rt.events(post_n)
        if len(bp):
            rep, br, r = _expand_csr(cptr, bp, ip)
            ap_ = (c_post[br] if isinstance(c_post, torch.Tensor) else c_post) / sx
            q = csyn[r]
            upd(w, br, q, lambda: ap_ * x[br, cpre[r]], P, inv)
            y[bp, ip] = inc * sy if nearest else y[bp, ip] + inc * sy
        if not bool(P["pre_first"]):
            bump_x()
    return run


@torch_step("patterns.emit")
def _patterns(step: Step, rt: TorchRunner):
    """``stimulus.patterns``: the frozen pattern of the presentation shown (the same in every trial)."""
    nid = step.node
    B = rt.plan.buffers
    ptr, idx, index, labels = B[f"{nid}.ptr"], B[f"{nid}.idx"], B[f"{nid}.index"], B[f"{nid}.labels"]
    n = rt.plan.spike_sources[nid].n
    lab = rt.T[f"{nid}.label"]

    def run(t):
        P = rt.params(nid)
        period, steps = int(P["period"]), int(P["steps"])
        p, off = t // period, t - (t // period) * period
        if p >= index.shape[0] or off >= steps:
            lab.fill_(-1.0)
            rt.set_spikes(nid, None)
            return
        lab.fill_(float(labels[p]))
        row = int(index[p]) * steps + off
        lo, hi = int(ptr[row]), int(ptr[row + 1])
        if hi <= lo:
            rt.set_spikes(nid, None)
            return
        d = torch.zeros((rt.B, n), dtype=torch.bool, device=rt.device)
        d[:, torch.as_tensor(idx[lo:hi].astype(np.int64), device=rt.device)] = True
        rt.set_spikes(nid, d)
    return run


@torch_step("astrocyte.nalsm")
def _astrocyte_nalsm(step: Step, rt: TorchRunner):
    """NALSM's global astrocyte (``components.astrocyte_nalsm``): A <- A + k (w S + b - A), per
    trial; trial 0's samples go to the streaming ring as in numba."""
    aid = step.node
    srcs = step.attrs["sources"]
    masks = [rt.T[f"{aid}.mask{k}"].to(torch.int64) for k in range(len(srcs))]
    A = rt.T[f"{aid}.a"]
    B = rt.plan.buffers
    hist, hstep, hn = B[f"{aid}.hist"], B[f"{aid}.hstep"], B[f"{aid}.hn"]

    def run(t):
        P = rt.params(aid)
        S = torch.zeros(rt.B, dtype=torch.int64, device=rt.device)
        for k, (src, sign) in enumerate(srcs):
            b, j, c = rt.events(src)
            if len(b):
                v = masks[k][j] * (c.to(torch.int64) if c is not None else 1)
                S.index_add_(0, b, v if sign > 0 else -v)
        a = A[:, 0]
        A[:, 0] = a + float(P["k"]) * (float(P["w"]) * S.to(A.dtype) + float(P["bias"]) - a)
        if (t + 1) % int(P["every"]) == 0:
            h = int(hn[0]) % hist.shape[0]
            hist[h] = float(A[0, 0])
            hstep[h] = t + 1
            hn[0] += 1
    return run


@torch_step("plasticity.scaling")
def _scaling(step: Step, rt: TorchRunner):
    """Synaptic scaling (``components.plasticity_homeostasis.scaling_step``), per trial."""
    rid, pid, post = step.node, step.attrs["projection"], step.attrs["post"]
    r = rt.T[f"{rid}.r"]
    postidx = rt.T[f"{pid}.post"]
    wname = f"{pid}.w"

    def run(t):
        P = rt.params(rid)
        r.mul_(float(P["decay"]))
        b, i, _ = rt.events(post)
        if len(b):
            r[b, i] += float(P["jump"])
        if (t + 1) % int(P["every"]) != 0:
            return
        w = rt.T[wname]
        f = 1.0 + float(P["gain"]) * (float(P["target"]) - r[:, postidx.to(torch.int64)]) / float(P["target"])
        nw = w * (f if w.ndim == 2 else f[0])
        rt.T[wname] = torch.clamp(torch.clamp(nw, min=float(P["wmin"])), max=float(P["wmax"]))
    return run


@torch_step("digits.emit")
def _digits(step: Step, rt: TorchRunner):
    """``stimulus.digits``: Poisson (or Bernoulli) pixels of the sample shown, the same draws
    as numba's ``emit`` (keyed by seed, node, step, pixel; trials by their own keys)."""
    nid = step.node
    n = rt.plan.spike_sources[nid].n
    idx = torch.arange(n, dtype=torch.int64, device=rt.device)
    lab = rt.T[f"{nid}.label"]

    def run(t):
        P = rt.params(nid)
        period, steps = int(P["period"]), int(P["steps"])
        lam_all = P["lam"]
        p, off = t // period, t - (t // period) * period
        if p >= lam_all.shape[0] or off >= steps:
            lab.fill_(-1.0)
            rt.set_spikes(nid, None)
            return
        lab.fill_(float(P["labels"][p]))
        sk = step_key(rt.keys(P["key"]), t)
        u = uniform(sk, idx)
        lam = torch.as_tensor(lam_all[p], device=rt.device, dtype=torch.float64)
        if bool(P["bern"]):
            k = (u < lam).to(torch.int32)
        else:
            k = poisson_counts(u, lam, torch.as_tensor(P["enl"][p], device=rt.device, dtype=torch.float64))
        k = torch.where(lam > 0.0, k, torch.zeros_like(k))
        rt.set_spikes(nid, k)
    return run


@torch_step("stdp.triplet")
def _stdp_triplet(step: Step, rt: TorchRunner):
    """Triplet STDP (``components.plasticity_stdp.triplet_step``) on all trials at once: the
    CSR rows of distinct presynaptic (and CSC rows of distinct postsynaptic) neurons are
    disjoint, so numba's loops vectorise; a multi-count spike repeats its update in order."""
    a = step.attrs
    rid, pid, pre, post_n = step.node, a["projection"], a["pre"], a["post"]
    indptr, postidx = rt.T[f"{pid}.indptr"], rt.T[f"{pid}.post"]
    cptr, csyn, cpre = rt.T[f"{rid}.cptr"], rt.T[f"{rid}.csyn"], rt.T[f"{rid}.cpre"]
    wname = f"{pid}.w"
    r1, r2, o1, o2 = (rt.T[f"{rid}.{k}"] for k in ("r1", "r2", "o1", "o2"))
    multi = rt.plan.spike_sources[pre].multi
    batched = rt.B > 1

    def clip(v, P):
        return torch.clamp(torch.clamp(v, min=float(P["wmin"])), max=float(P["wmax"]))

    def run(t):
        P = rt.params(rid)
        r1.mul_(float(P["d1"]))
        r2.mul_(float(P["d3"]))
        o1.mul_(float(P["d2"]))
        o2.mul_(float(P["d4"]))
        a2m, a3m, a2p, a3p = (float(P[k]) for k in ("a2m", "a3m", "a2p", "a3p"))
        w = rt.T[wname]
        b, j, c = rt.events(pre)
        if len(b):
            rep, bq, q = _expand_csr(indptr, b, j)
            counts = c.to(torch.int64) if (multi and c is not None) else torch.ones_like(b)
            for k in range(int(counts.max())):
                live = counts > k  # events with at least k + 1 spikes this step
                sel = live[rep]
                qq, bb, jj = q[sel], bq[sel], j[rep][sel]
                wq = w[bb, qq] if batched else w[qq]
                nw = clip(wq - o1[bb, postidx[qq]] * (a2m + a3m * r2[bb, jj]), P)
                if batched:
                    w[bb, qq] = nw
                else:
                    w[qq] = nw
                r1[b[live], j[live]] += 1.0
                r2[b[live], j[live]] += 1.0
        bp, ip, _ = rt.events(post_n)
        if len(bp):
            rep, br, r = _expand_csr(cptr, bp, ip)
            q = csyn[r]
            ii = ip[rep]
            wq = w[br, q] if batched else w[q]
            nw = clip(wq + r1[br, cpre[r]] * (a2p + a3p * o2[br, ii]), P)
            if batched:
                w[br, q] = nw
            else:
                w[q] = nw
            o1[bp, ip] += 1.0
            o2[bp, ip] += 1.0
    return run


# --- astrocytes, short-term plasticity, Oja's subspace rule, three-factor learning -------------
# These mirror the numba renderers' arithmetic expression by expression (same operands, same
# left-to-right order, python floats where numba has scalar kernel constants), and sum in the
# order of numba's loops where the order changes the rounding: :func:`_seqsum` for loop
# accumulations, ``index_add_`` (a serial loop on CPU) for scattered ones, :func:`lexp` /
# :func:`ltanh` / :func:`llog` for the C library's functions. On CPU in float64 the state is
# then bit-equal to numba's.
def _seqsum(x: torch.Tensor, dim: int) -> torch.Tensor:
    """``s = 0; for k: s += x[..., k, ...]`` along ``dim`` in numba's order (CPU: the last
    element of a cumulative sum, a serial loop; elsewhere a plain sum)."""
    if x.shape[dim] == 0:
        return x.sum(dim)
    if x.device.type == "cpu":
        return torch.cumsum(x, dim).select(dim, -1)
    return x.sum(dim)


def _rows(w: torch.Tensor) -> torch.Tensor:
    """Per-synapse weights as (trials or 1, synapses), a view (writes reach ``w``)."""
    return w if w.ndim == 2 else w.unsqueeze(0)


def _clamp(x, lo, hi):
    """numba's ``min(max(x, lo), hi)`` (python-float or tensor bounds)."""
    return _tmin(_tmax(x, lo), hi)


def _pairwise(a, b, py, bound: str, op):
    """Python's ``py(a, b)`` of two numbers, elementwise when either is a tensor."""
    if not isinstance(a, torch.Tensor) and not isinstance(b, torch.Tensor):
        return py(a, b)
    if not isinstance(b, torch.Tensor):
        return torch.clamp(a, **{bound: b})
    if not isinstance(a, torch.Tensor):
        return torch.clamp(b, **{bound: a})
    return op(a, b)


def _tmax(a, b):
    return _pairwise(a, b, max, "min", torch.maximum)


def _tmin(a, b):
    return _pairwise(a, b, min, "max", torch.minimum)


def _astro_inputs(step: Step, rt: TorchRunner, acc_name: str, drive_scale, act_gain):
    """``components.astrocyte_base.input_lines`` on tensors: a function ``add(P)`` adding this
    step's input to ``acc``: ``drive_scale(P)`` (None: 1) x the increment g (1 - decay) of
    each driving projection's trace, and ``act_gain(P)`` x sign x count (x release) x weight
    of every synapse (or spike) of each activity source, in its astrocyte's domain."""
    a = step.attrs
    n = int(a["n"])
    acts = []
    for kind, src, spk_src, sign, dom, rel in a["acts"]:
        multi = rt.plan.spike_sources[spk_src].multi
        d = rt.T[dom]
        if kind == "proj":
            acts.append((kind, src, spk_src, float(sign), d, rel, multi, rt.T[f"{src}.indptr"], rt.T[f"{src}.post"]))
        else:
            acts.append((kind, src, spk_src, float(sign), d, rel, multi, None, None))

    def add(P):
        acc = rt.T[acc_name]
        for proj in a["drives"]:
            g, dec = rt.T[f"{proj}.g"], float(rt.params(proj)["decay"])
            sc = drive_scale(P)
            acc.add_((g if sc is None else sc * g) * (1.0 - dec))
        gain = act_gain(P)
        for kind, src, spk_src, sign, d, rel, multi, indptr, post in acts:
            b, i, c = rt.events(spk_src)
            if len(b) == 0:
                continue
            gs = gain * sign
            cv = gs * c.to(rt.dtype) if multi else torch.full((len(b),), gs * 1, dtype=rt.dtype, device=rt.device)
            if rel:
                cv = cv * rt.T[rel][b, i]
            if kind == "spk":
                acc.view(-1).index_add_(0, b * n + d[i], cv)
                continue
            rep, bq, q = _expand_csr(indptr, b, i)
            wc = rt.params(src)["wc"]
            if isinstance(wc, np.ndarray):
                w = rt.T[f"{src}.w"]
                wq = w[bq, q] if w.ndim == 2 else w[q]
            else:
                wq = torch.full((len(q),), float(wc), dtype=rt.dtype, device=rt.device)
            acc.view(-1).index_add_(0, bq * n + d[post[q]], wq * cv[rep])
    return add


@torch_step("astrocyte.lr")
def _astrocyte_lr(step: Step, rt: TorchRunner):
    """Li-Rinzel astrocytes (``components.astrocyte_lr``), every trial at once.

    The right-hand side and the RK4 integrator are the module's own ``rhs`` and ``advance``
    (python source of the numba functions) bound to tensors: their ``min``/``max`` resolve
    to elementwise versions, so one definition serves both backends."""
    from components import astrocyte_lr as m

    mm = {"min": _tmin, "max": _tmax}
    rhs = ops.bind(m.rhs.py_func, mm)
    advance = ops.bind(m.advance.py_func, {**mm, "rhs": rhs})
    a = step.attrs
    nid = step.node
    currents = list(a["currents"])
    n_t = int(a["n_target"])
    add = _astro_inputs(step, rt, f"{nid}.acc", lambda P: None, lambda P: float(P["act_gain"]))
    dom = rt.T[f"{nid}.sic_dom"] if n_t else None

    def run(t):
        P = rt.params(nid)
        add(P)
        T = rt.T
        if currents:
            x = T[currents[0]]
            for c in currents[1:]:
                x = x + T[c]
            T[f"{nid}.jacc"].add_(x)
        every = int(P["every"])
        if (t + 1) % every != 0:
            return
        H = every * rt.dt
        ode = [rt.tensor(P[k]) for k in m.ODE_PARAMS]
        jn = T[f"{nid}.jnow"] if currents else 0.0
        ip3, ca, h, sic, acc = (T[f"{nid}.{k}"] for k in ("ip3", "ca", "h", "sic", "acc"))
        _a, _c, _h = advance(ip3, ca, h, H, int(P["nsub"]), *ode, jn)
        _a = _a + rt.tensor(P["delta_ip3"]) * acc
        acc.zero_()
        ip3.copy_(torch.where(_a > 0.0, _a, torch.zeros_like(_a)))
        ca.copy_(_c)
        h.copy_(_h)
        y = (_c - rt.tensor(P["sic_th"])) * 1000.0
        up = y > 1.0
        lg = llog(torch.where(up, y, torch.ones_like(y)))
        sic.copy_(torch.where(up, rt.tensor(P["sic_scale"]) * lg, torch.zeros_like(lg)))
        if currents:
            T[f"{nid}.jnow"].copy_(T[f"{nid}.jacc"] / every)
            T[f"{nid}.jacc"].zero_()
        if n_t:
            T[f"{nid}.I"].copy_(float(P["sic_w"]) * sic[:, dom])
    return run


def _gchi_rhs(S: torch.Tensor, p: list, nbr, nbv, F_, th, om):
    """``components.astrocyte_gchi.rhs`` on (trials, 5, n): the same expressions in the
    same order; gap-junction terms subtracted neighbour by neighbour in CSR order."""
    (omega_c, o_n, omega_n, zeta, k_kc, o_beta, o_delta, kappa_delta, k_delta, o_3k, k_d, k_3k, omega_5p,
     omega_cc, omega_l, c_t, rho_a, o_p, k_p, d_1, d_2, d_3, d_5, o_2) = p[:24]
    y, s1, ip3, c, h = S[:, 0], S[:, 1], S[:, 2], S[:, 3], S[:, 4]
    g = torch.clamp(torch.clamp(s1, min=0.0), max=1.0)
    c2 = c * c
    d0 = -omega_c * y
    d1 = o_n * y * (1.0 - g) - omega_n * (1.0 + zeta * c / (c + k_kc)) * g
    j_beta = o_beta * s1
    # torch computes ``number / tensor`` as ``tensor.reciprocal() * number`` (not IEEE division,
    # 29 % of results differ in the last bit): torch.div divides
    j_delta = torch.div(o_delta, 1.0 + ip3 / kappa_delta) * c2 / (c2 + k_delta * k_delta)
    kd2 = k_d * k_d
    j_3k = o_3k * c2 * c2 / (c2 * c2 + kd2 * kd2) * ip3 / (ip3 + k_3k)
    j_5p = omega_5p * ip3
    j_gap = 0.0
    for k in range(nbr.shape[1]):
        d = ip3 - ip3[:, nbr[:, k]]
        sg = torch.sign(d)
        term = (1.0 + ltanh((torch.abs(d) - th) / om)) * sg * F_ * 0.5
        j_gap = j_gap - torch.where(nbv[:, k], term, torch.zeros_like(term))
    d2 = j_beta + j_delta - j_3k - j_5p + j_gap
    m_inf = ip3 / (ip3 + d_1) * c / (c + d_5)
    q2 = d_2 * (ip3 + d_1) / (ip3 + d_3)
    er = c_t - (1.0 + rho_a) * c
    mh = m_inf * h
    d3 = (omega_cc * mh * mh * mh + omega_l) * er - o_p * c2 / (c2 + k_p * k_p)
    d4 = (q2 / (q2 + c) - h) * o_2 * (q2 + c)
    return torch.stack((d0, d1, d2, d3, d4), 1)


@torch_step("astrocyte.gchi")
def _astrocyte_gchi(step: Step, rt: TorchRunner):
    """G-ChI astrocytes (``components.astrocyte_gchi.astro_step``) on all trials at once.

    The rows y_s, gamma_a, ip3, ca, h are views of ``S`` here as in numba (monitors read
    them); releases wait in ``pending`` for the next step's ``astrocyte.gchi.emit``."""
    nid = step.node
    n = int(step.attrs["n"])
    S = rt.T[f"{nid}.S"]
    for k, name in enumerate(("y_s", "gamma_a", "ip3", "ca", "h")):
        rt.T[f"{nid}.{name}"] = S[:, k]
    ptr = rt.plan.buffers[f"{nid}.nb_ptr"]
    idx = rt.plan.buffers[f"{nid}.nb_idx"]
    deg = np.diff(ptr)
    K = int(deg.max()) if n else 0
    nbr = np.zeros((n, K), np.int64)
    nbv = np.zeros((n, K), bool)
    for i in range(n):
        nbr[i, :deg[i]] = idx[ptr[i]:ptr[i + 1]]
        nbv[i, :deg[i]] = True
    nbr_t = torch.as_tensor(nbr, device=rt.device)
    nbv_t = torch.as_tensor(nbv, device=rt.device)
    inv_nin = rt.T[f"{nid}.inv_nin"].to(rt.dtype)
    xa, ga, above, acc, A = (rt.T[f"{nid}.{k}"] for k in ("x_a", "g_a", "above", "acc", "a"))
    pending = rt.pending_gchi = getattr(rt, "pending_gchi", {})
    pending[nid] = None
    add = _astro_inputs(step, rt, f"{nid}.acc", lambda P: float(P["y_spk"]),
                        lambda P: float(P["y_spk"]) * float(P["act_gain"]))

    def run(t):
        P = rt.params(nid)
        add(P)
        every = int(P["every"])
        if (t + 1) % every != 0:
            return
        H = every * rt.dt
        nsub = int(P["nsub"])
        p = [float(v) for v in P["prm"]]
        F_, th, om = p[24], p[25], p[26]
        s = H / nsub
        X = S.clone()
        for _ in range(nsub):
            k1 = _gchi_rhs(X, p, nbr_t, nbv_t, F_, th, om)
            k2 = _gchi_rhs(X + 0.5 * s * k1, p, nbr_t, nbv_t, F_, th, om)
            k3 = _gchi_rhs(X + 0.5 * s * k2, p, nbr_t, nbv_t, F_, th, om)
            k4 = _gchi_rhs(X + s * k3, p, nbr_t, nbv_t, F_, th, om)
            X = X + s / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        c_max = p[15] / (1.0 + p[16])
        ea = math.exp(-float(P["omega_a"]) * H)
        ee = math.exp(-float(P["omega_e"]) * H)
        X[:, 0] = torch.clamp(X[:, 0], min=0.0)
        X[:, 1] = _clamp(X[:, 1], 0.0, 1.0)
        X[:, 2] = torch.clamp(X[:, 2], min=0.0)
        X[:, 3] = _clamp(X[:, 3], 0.0, c_max)
        X[:, 4] = _clamp(X[:, 4], 0.0, 1.0)
        xa.copy_(1.0 - (1.0 - xa) * ea)
        ga.mul_(ee)
        up = X[:, 3] > float(P["c_theta"])
        rel = up & ~above
        ga.copy_(torch.where(rel, ga + float(P["rel"]) * float(P["u_a"]) * xa, ga))
        xa.copy_(torch.where(rel, xa - float(P["u_a"]) * xa, xa))
        above.copy_(up)
        X[:, 0] = X[:, 0] + acc * inv_nin
        acc.zero_()
        S.copy_(X)
        A[:, 0] = _seqsum(ga, 1) / n
        pending[nid] = rel if bool(rel.any()) else None
    return run


@torch_step("astrocyte.gchi.emit")
def _astrocyte_gchi_emit(step: Step, rt: TorchRunner):
    """The releases found at the last astrocyte step, as this step's spikes."""
    nid = step.node
    pending = rt.pending_gchi = getattr(rt, "pending_gchi", {})
    pending.setdefault(nid, None)

    def run(t):
        rt.set_spikes(nid, pending[nid])
        pending[nid] = None
    return run


@torch_step("stp.release")
def _stp_release(step: Step, rt: TorchRunner):
    """Tsodyks-Markram release (``components.plasticity_stp.stp_step``), with the tripartite
    synapse's gliotransmitter receptors when an astrocyte.gchi is wired."""
    a = step.attrs
    nid, pre, astro = step.node, a["pre"], a["astrocyte"]
    u, x, last, rel, gamma = (rt.T[f"{nid}.{k}"] for k in ("u", "x", "last", "rel", "gamma"))
    dom = rt.T[f"{nid}.dom"]
    multi = rt.plan.spike_sources[pre].multi

    def run(t):
        P = rt.params(nid)
        dt = rt.dt
        if astro:
            g_a = rt.T[f"{astro}.g_a"]
            o_g, om_g = float(P["o_g"]), float(P["om_g"])
            k = o_g * g_a + om_g
            pos = k > 0.0
            ginf = o_g * g_a / torch.where(pos, k, torch.ones_like(k))
            gamma.copy_(torch.where(pos, ginf + (gamma - ginf) * lexp(-k * dt), gamma))
        b, j, c = rt.events(pre)
        if len(b) == 0:
            return
        el = (t - last[b, j]).to(rt.dtype) * dt
        uj = u[b, j] * lexp(-float(P["om_f"]) * el)
        xj = 1.0 - (1.0 - x[b, j]) * lexp(-float(P["om_d"]) * el)
        g = gamma[b, dom[j]] if astro else 0.0
        u0 = (1.0 - g) * float(P["u0"]) + float(P["alpha"]) * g
        r_tot = torch.zeros_like(uj)
        counts = c.to(torch.int64) if (multi and c is not None) else None
        for k in range(int(counts.max()) if counts is not None else 1):
            nu = uj + u0 * (1.0 - uj)
            r = nu * xj
            if counts is None:
                uj, xj, r_tot = nu, xj - r, r_tot + r
            else:
                live = counts > k
                uj = torch.where(live, nu, uj)
                xj = torch.where(live, xj - r, xj)
                r_tot = torch.where(live, r_tot + r, r_tot)
        u[b, j] = uj
        x[b, j] = xj
        last[b, j] = t
        rel[b, j] = r_tot
    return run


@torch_step("plasticity.oja")
@torch_step("plasticity.oja_tasks")
def _oja(step: Step, rt: TorchRunner):
    """Oja's subspace rule (``components.plasticity_oja.oja_step``) on all trials at once:
    y = H x and H^T y summed in numba's loop order; rows below ``frozen`` stay. With a
    schedule (``plasticity.oja_tasks``) it learns on train samples only and, with rows per
    task, only the current task's rows; ``nproj`` (rows the 'subspace' output hands on) and
    the task counters ``cur`` follow the schedule, which is the same in every trial."""
    a = step.attrs
    rid, pid, pre, stim = step.node, a["projection"], a["pre"], a.get("stim") or ""
    x = rt.T[f"{rid}.x"]
    qidx = rt.T[f"{rid}.qidx"]
    K = int(qidx.shape[0])
    multi = rt.plan.spike_sources[pre].multi
    B = rt.plan.buffers
    train, task, block = (B.get(f"{rid}.{k}") for k in ("train", "task", "block"))
    cur = [int(v) for v in B[f"{rid}.cur"]] if f"{rid}.cur" in B else [0, 0]
    rt.T.pop(f"{rid}.cur", None)
    nproj_t = rt.T.get(f"{rid}.nproj")
    lab_t = rt.T[f"{stim}.label"] if stim else None

    def sync():
        if f"{rid}.cur" in B:
            B[f"{rid}.cur"][:] = cur
        if nproj_t is not None:
            B[f"{rid}.nproj"][:] = int(nproj_t.reshape(-1)[0])
    rt.after_run.append(sync)

    def run(t):
        P = rt.params(rid)
        x.mul_(float(P["decay"]))
        b, j, c = rt.events(pre)
        if len(b):
            x[b, j] = x[b, j] + (c.to(x.dtype) if (multi and c is not None) else 1)
        on = True
        if stim:
            p = t // int(P["period"])
            on = float(lab_t[0, 0]) >= 0 and p < train.shape[0] and train[p] != 0
            if on:
                cur[0] = int(task[p])
                cur[1] = max(cur[1], cur[0])
            elif p < train.shape[0] and train[p] == 0:  # a test block: the task trained before it is finished
                cur[1] = max(cur[1], int(block[p]) + 1)
        fz = int(P["frozen"])
        lo, hi, fin = fz, K, fz
        rpt = int(P.get("rpt", 0))
        if rpt > 0:
            lo = max(lo, cur[0] * rpt)
            hi = min(K, (cur[0] + 1) * rpt)
            fin = max(fin, cur[1] * rpt)
        lo = min(lo, K)
        if nproj_t is not None:
            nproj_t.fill_(min(fin, K) if bool(P.get("pfrozen", False)) else hi)
        if not on or (t + 1) % int(P["every"]) != 0 or hi <= lo:
            return
        w = _rows(rt.T[f"{pid}.w"])
        H = w[:, qidx[:hi]]  # (trials, rows taking part, N)
        y = _seqsum(H * x[:, None, :], 2)
        dh = _seqsum(y[:, :, None] * H, 1)
        clip = float(P["clip"])
        d = _clamp(y[:, lo:, None] * (x[:, None, :] - dh[:, None, :]), -clip, clip)
        w[:, qidx[lo:hi]] = _clamp(H[:, lo:] + float(P["eta"]) * d, float(P["wmin"]), float(P["wmax"]))
    return run


@torch_step("plasticity.three_factor")
def _three_factor(step: Step, rt: TorchRunner):
    """Three-factor learning (``components.plasticity_three_factor.three_factor_step``) on all
    trials at once, with the HLOP projection r - H^T H r over the rows an Oja rule hands on;
    ``err`` (the 'error' output) is the third factor, 0 while the gate is closed."""
    a = step.attrs
    rid, pid, pre, post_n, stim = step.node, a["projection"], a["pre"], a["post"], a["stim"]
    rpre, ypost, e, err_t = (rt.T[f"{rid}.{k}"] for k in ("rpre", "ypost", "e", "err"))
    cls, train = rt.T[f"{rid}.cls"], rt.plan.buffers[f"{rid}.train"]
    indptr = rt.plan.buffers[f"{pid}.indptr"]
    post = rt.T[f"{pid}.post"]
    pre_of = torch.as_tensor(np.repeat(np.arange(len(indptr) - 1), np.diff(indptr)), device=rt.device)
    nsyn = len(post)
    n_out = int(cls.shape[0])
    lab_t = rt.T[f"{stim}.label"]
    multi = rt.plan.spike_sources[pre].multi
    hq = rt.T[f"{a['oja']}.qidx"] if a["oja"] else None

    def run(t):
        P = rt.params(rid)
        rpre.mul_(float(P["d_pre"]))
        b, j, c = rt.events(pre)
        if len(b):
            inc = float(P["inc_pre"])
            rpre[b, j] = rpre[b, j] + (inc * c.to(rpre.dtype) if (multi and c is not None) else inc * 1)
        ypost.mul_(float(P["d_post"]))
        bp, ip, _ = rt.events(post_n)
        if len(bp):
            ypost[bp, ip] = ypost[bp, ip] + float(P["inc_post"])
        lab = lab_t[:, 0].to(torch.int64)
        p = t // int(P["period"])
        gate = (lab >= 0) & bool(p < train.shape[0] and train[p] != 0)  # attention: train samples only
        any_gate = bool(gate.any())
        target = float(P["target"])
        y = ypost[:, :n_out]
        if any_gate:
            if bool(P["reward"]):
                best = torch.argmax(y, 1)  # the first of equal maxima, as numba's strict '>'
                r = torch.where(cls[best] == lab, 1.0, -1.0).to(rt.dtype)
                err = r[:, None].expand_as(y)
            else:
                tgt = torch.where(cls[None, :] == lab[:, None], torch.tensor(target, dtype=rt.dtype, device=rt.device),
                                  torch.zeros((), dtype=rt.dtype, device=rt.device))
                err = (tgt - y) / target
            err = torch.where(gate[:, None], err, torch.zeros_like(err))
        else:
            err = torch.zeros_like(y)
        err_t[:, :n_out] = err
        rr = rpre
        na = min(int(rt.T[f"{a['oja']}.nproj"].reshape(-1)[0]), int(hq.shape[0])) \
            if hq is not None and f"{a['oja']}.nproj" in rt.T else (int(hq.shape[0]) if hq is not None else 0)
        if na > 0:
            Hm = _rows(rt.T[f"{a['oja_proj']}.w"])[:, hq[:na]]  # (trials, na, N)
            hc = _seqsum(Hm * rpre[:, None, :], 2)
            terms = torch.cat((rpre[:, None, :], -(Hm * hc[:, :, None])), 1)
            rr = _seqsum(terms, 1)  # c = r_j; c -= H[a, j] hc[a] for each a in order
        if nsyn == 0:
            return
        rj = rr[:, pre_of]
        f = ypost[:, post] / target if bool(P["hebb"]) else 1.0
        ee = e[:, :nsyn]
        ee.copy_(float(P["lam"]) * ee + rj * f)
        if any_gate:
            w = _rows(rt.T[f"{pid}.w"])  # (trials, synapses): batched when trials > 1, as gate
            v = w + float(P["eta_dt"]) * err[:, post] * ee
            w.copy_(torch.where(gate[:, None], _clamp(v, float(P["wmin"]), float(P["wmax"])), w))
    return run


@torch_step("three_factor.target")
def _three_factor_target(step: Step, rt: TorchRunner):
    """Three-factor learning of continuous targets
    (``components.plasticity_three_factor.three_factor_target_step``) on all trials at once."""
    a = step.attrs
    rid, pid, pre = step.node, a["projection"], a["pre"]
    rpre, e, err_t = (rt.T[f"{rid}.{k}"] for k in ("rpre", "e", "err"))
    indptr = rt.plan.buffers[f"{pid}.indptr"]
    post = rt.T[f"{pid}.post"]
    pre_of = torch.as_tensor(np.repeat(np.arange(len(indptr) - 1), np.diff(indptr)), device=rt.device)
    nsyn = len(post)
    multi = rt.plan.spike_sources[pre].multi

    def per_trial(name):
        x = rt.T[name]
        return x if (x.ndim == 2 and rt.plan.buffer_role[name] != "const") else x.reshape(1, -1)

    def run(t):
        P = rt.params(rid)
        rpre.mul_(float(P["d_pre"]))
        b, j, c = rt.events(pre)
        if len(b):
            inc = float(P["inc_pre"])
            rpre[b, j] = rpre[b, j] + (inc * c.to(rpre.dtype) if (multi and c is not None) else inc * 1)
        g = per_trial(a["gate"])[:, 0] != 0.0  # (trials or 1,)
        y = per_trial(a["y"])
        k = err_t.shape[1]
        err = torch.where(g[:, None], per_trial(a["target"])[:, :k].to(rt.dtype) - y[:, :k],
                          torch.zeros((), dtype=rt.dtype, device=rt.device))
        err_t.copy_(err.expand_as(err_t))
        if nsyn == 0:
            return
        f = y[:, post] if bool(P["hebb"]) else 1.0
        ee = e[:, :nsyn]
        ee.copy_(float(P["lam"]) * ee + rpre[:, pre_of] * f)
        if bool(g.any()):
            w = _rows(rt.T[f"{pid}.w"])
            v = w + float(P["eta_dt"]) * err_t[:, post] * ee
            w.copy_(torch.where(g[:, None], _clamp(v, float(P["wmin"]), float(P["wmax"])), w))
    return run


# --- stimuli and monitors added with the continual-learning and cue tasks ------------------------
@torch_step("monitor.signal")
def _monitor_signal(step: Step, rt: TorchRunner):
    """``monitor.signal``: trial 0's values of a signal buffer every ``every`` steps."""
    nid, buf, k = step.node, step.attrs["buffer"], int(step.attrs["k"])
    B = rt.plan.buffers
    data, tstep, rows = B[f"{nid}.data"], B[f"{nid}.tstep"], B[f"{nid}.rows"]
    rt.prechecks.append(lambda: int(rows[0]) >= data.shape[0])
    per_trial = rt.plan.buffer_role.get(buf) not in ("const",)

    def run(t):
        if t % int(rt.params(nid)["every"]) != 0:
            return
        r = int(rows[0])
        tstep[r] = t
        x = rt.T[buf] if buf in rt.T else None
        if x is None:
            data[r, :k] = B[buf][:k]
        else:
            data[r, :k] = (x[0] if (per_trial and x.ndim == 2) else x).reshape(-1)[:k].cpu().numpy()
        rows[0] = r + 1
    return run


def _draw(sk: torch.Tensor, idx: torch.Tensor, lam, enl, bern: bool) -> torch.Tensor:
    """``components.stimulus_poisson.draw`` for sources ``idx`` of the steps keyed ``sk`` (B,)."""
    u = uniform(sk, idx)
    if bern:
        return (u < lam).to(torch.int32)
    lam = lam if isinstance(lam, torch.Tensor) else torch.tensor(lam, dtype=torch.float64, device=u.device)
    enl = enl if isinstance(enl, torch.Tensor) else torch.tensor(enl, dtype=torch.float64, device=u.device)
    return poisson_counts(u, lam, enl)


@torch_step("cued_events.emit")
def _cued_events(step: Step, rt: TorchRunner):
    """``stimulus.cued_events`` (``components.stimulus_cued_events.emit``): cue and event spikes,
    targets and gate; trial b > 0 draws its own spikes and event occurrences (its keys)."""
    nid = step.node
    n = rt.plan.spike_sources[nid].n
    tgt, gate = rt.T[f"{nid}.target"], rt.T[f"{nid}.gate"]
    dev = rt.device

    def run(t):
        P = rt.params(nid)
        period = int(P["period"])
        trial = t // period
        off = t - trial * period
        ph = 1 if trial >= int(P["change"]) else 0
        gate.fill_(1.0 if off < int(P["attend"]) else 0.0)
        sk = step_key(rt.keys(P["key"]), t)
        ok = step_key(rt.keys(P["okey"]), trial)
        bern = bool(P["bern"])
        counts = torch.zeros((rt.B, n), dtype=torch.int32, device=dev)
        n_cue, n_per = int(P["n_cue"]), int(P["n_per"])
        if off < int(P["cue_steps"]):
            ck = P["cue_k"]
            kk = torch.as_tensor(np.broadcast_to(ck if len(ck) > 1 else ck[:1], (n_cue,)).copy(), device=dev)
            y = lexp(-kk * float(off))
            if bool(P["micro"]):
                mu = torch.as_tensor(P["mu"], device=dev)
                lam = float(P["cue_lam"]) * lexp(-(y - mu) * (y - mu) * float(P["inv2s2"]))
            else:
                lam = float(P["cue_lam"]) * y
            counts[:, :n_cue] = _draw(sk, torch.arange(n_cue, device=dev), lam, lexp(-lam), bern)
        ev_lam = float(P["ev_lam"])
        enl_ev = math.exp(-ev_lam)
        delay, prob, lead, ev = P["delay"], P["prob"], int(P["lead"]), int(P["ev_steps"])
        K = delay.shape[1]
        if K:
            occ = uniform(ok, torch.arange(K, device=dev)) < torch.as_tensor(prob[ph], device=dev)  # (B, K)
        for k in range(K):
            d = int(delay[ph, k])
            tgt[:, k] = (occ[:, k] & (d <= off + lead) & (off + lead < d + ev)).to(tgt.dtype)
            if d <= off < d + ev:
                base = n_cue + k * n_per
                c = _draw(sk, torch.arange(base, base + n_per, device=dev), ev_lam, enl_ev, bern)
                counts[:, base:base + n_per] = torch.where(occ[:, k:k + 1], c, torch.zeros_like(c))
        rt.set_spikes(nid, counts if bool((counts > 0).any()) else None)
    return run


@torch_step("correlated_poisson.emit")
def _correlated_poisson(step: Step, rt: TorchRunner):
    """``stimulus.correlated_poisson`` (``components.stimulus_correlated_poisson.emit``): mother
    counts per group, binomial copies by the same inversion, independent sources after."""
    nid = step.node
    n = rt.plan.spike_sources[nid].n
    dev = rt.device

    def binomial(u, k, c):
        if c >= 1.0:
            return k.to(torch.int32)
        q = 1.0 - c
        p = torch.ones_like(u)
        kmax = int(k.max()) if k.numel() else 0
        for m in range(kmax):
            p = torch.where(m < k, p * q, p)
        f = p.clone()
        j = torch.zeros_like(k)
        r = c / q
        for _ in range(kmax):
            go = (u >= f) & (j < k)
            if not bool(go.any()):
                break
            pn = p * ((k - j).to(u.dtype) / (j.to(u.dtype) + 1.0) * r)
            p = torch.where(go, pn, p)
            f = torch.where(go, f + p, f)
            j = torch.where(go, j + 1, j)
        return j.to(torch.int32)

    def run(t):
        P = rt.params(nid)
        if t < int(P["start"]) or t >= int(P["stop"]):
            rt.set_spikes(nid, None)
            return
        c = float(P["c"])
        G, size = int(P["groups"]), int(P["size"])
        grouped = G * size if c > 0.0 else 0
        sk = step_key(rt.keys(P["key"]), t)
        counts = torch.zeros((rt.B, n), dtype=torch.int32, device=dev)
        if grouped > 0:
            skm = step_key(rt.keys(P["key_m"]), t)
            km = _draw(skm, torch.arange(G, device=dev), float(P["lam_m"]), float(P["enl_m"]), False).to(torch.int64)
            if bool((km > 0).any()):
                u = uniform(sk, torch.arange(grouped, device=dev))
                kk = km.repeat_interleave(size, dim=1)
                counts[:, :grouped] = binomial(u, kk, c)
        if grouped < n:
            counts[:, grouped:] = _draw(sk, torch.arange(grouped, n, device=dev), float(P["lam"]), float(P["enl"]),
                                        False)
        rt.set_spikes(nid, counts if bool((counts > 0).any()) else None)
    return run
