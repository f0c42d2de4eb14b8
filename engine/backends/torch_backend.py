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
on the Python side are picked up at the next call). A plan with a step kind that has no
entry is refused at construction, naming the node and its type. Implemented: count,
poisson.emit, spike_array.emit, current.emit, neuron.update (every neuron type),
synapse.decay, synapse.deliver (delay modes none/ring/acc, not with
short-term plasticity), monitor.spikes, monitor.state (trial 0) and stdp.pair. A type
module may add kinds in a companion module ``components/<module>_torch.py`` (imported
when a plan uses the type) with :func:`torch_step`.

Not yet: astrocytes, triplet/three-factor/Oja/scaling rules, short-term plasticity,
dataset/pattern stimuli; no gradients (runs under ``torch.no_grad``); CUDA untested.
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


# --- the math namespace that neuron steps are bound to ------------------------------------
def namespace(dtype: torch.dtype, device) -> dict:
    """``engine.ops`` names for tensors; python scalars are promoted only where torch needs it."""
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

    return {"where": where, "minimum": minimum, "maximum": maximum, "exp": _unary(torch.exp, math.exp),
            "log": _unary(torch.log, math.log), "sqrt": _unary(torch.sqrt, math.sqrt)}


def _torch_dtype(dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    d = {"float64": torch.float64, "double": torch.float64, "float32": torch.float32, "float": torch.float32}
    if dtype is None:
        return torch.float64
    if str(dtype) not in d:
        raise ValueError(f"dtype {dtype!r}: use float64 or float32")
    return d[str(dtype)]


def unsupported(plan: Plan) -> list[tuple[str, str, str]]:
    """(node id, type key, step kind) of the steps the torch backend cannot run."""
    out = []
    for s in plan.steps:
        if s.kind not in TORCH_STEPS:
            node = plan.graph.nodes.get(s.node)
            out.append((s.node, node.key if node is not None else "?", s.kind))
    return out


class TorchRunner:
    """Runs a plan step by step on tensors, ``trials`` independent trials at once."""

    def __init__(self, plan: Plan, device="cpu", dtype=torch.float64, trials: int = 1):
        t0 = time.perf_counter()
        bad = unsupported(plan)
        if bad:
            nid, key, kind = bad[0]
            more = "; ".join(f"{k} ('{n}', step {s})" for n, k, s in bad[1:])
            raise DesignError(Problem(
                "error", "backend.torch", f"type {key} cannot run on torch yet (node '{nid}', step kind '{kind}')"
                + (f"; also: {more}" if more else ""), "run this design with backend 'numba'", node=nid))
        self.plan = plan
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise DesignError(Problem("error", "backend.device", f"device '{device}' is not available "
                                      f"(torch {torch.__version__} sees no CUDA device)", "use device 'cpu'"))
        self.dtype = _torch_dtype(dtype)
        self.B = int(trials)
        if self.B < 1:
            raise ValueError("trials must be >= 1")
        self.dt = float(plan.dt)
        self.ns = namespace(self.dtype, self.device)
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
def _poisson(step: Step, rt: TorchRunner):
    nid = step.node
    n = rt.plan.spike_sources[nid].n
    idx = torch.arange(n, dtype=torch.int64, device=rt.device)

    def run(t):
        P = rt.params(nid)
        if t < int(P["start"]) or t >= int(P["stop"]):
            rt.set_spikes(nid, None)
            return
        sk = step_key(rt.keys(P["key"]), t)
        u = uniform(sk, idx)
        lam = rt.tensor(P["lam"], torch.float64)
        if bool(P["bern"]):
            k = (u < lam).to(torch.int32)
        else:
            k = poisson_counts(u, lam, rt.tensor(P["enl"], torch.float64))
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
    if a.get("release"):
        raise DesignError(Problem("error", "backend.torch", f"short-term plasticity on '{nid}' cannot run on "
                                  "torch yet", "run this design with backend 'numba'", node=nid))
    multi = rt.plan.spike_sources[src].multi
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
        if multi:
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
        am = float(rt.T[f"{a['modulator']}.a"][0].reshape(-1)[0]) if a["modulator"] else float(P["am"])
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
            aa = (c_pre * cf / sy)[rep] if cf is not None else c_pre * 1 / sy
            upd(w, bq, q, lambda: aa * y[bq, postidx[q]], P, inv)
            if bool(P["pre_first"]):
                bump_x()
        bp, ip, _ = rt.events(post_n)
        if len(bp):
            ap_ = c_post / sx
            rep, br, r = _expand_csr(cptr, bp, ip)
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
