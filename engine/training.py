"""Gradient training of feed-forward spiking designs: surrogate gradients and BPTT in torch.

``train(design, epochs=..., lr=..., learn=("readout", "intrinsics"))`` trains a design made
of one spike stimulus with class labels, ``projection.synapses`` (no delays, no plasticity)
and ``neuron.lif`` / ``neuron.meta`` populations, with a linear readout of the spike counts
of the output population (the population whose spikes feed no projection), divided by the
number of steps of the trial (spikes per step, so the learning rate does not depend on the
trial length). Loss:
cross-entropy; optimiser: Adam; backprop through time over each trial (one trial = one
sample window). Learnable groups: ``"readout"`` (readout weights and biases),
``"weights"`` (the synaptic weights of every projection, on its existing synapses only)
and ``"intrinsics"`` (per-neuron intrinsic parameters: the type's ``learnable`` tuple;
for ``neuron.lif``, which declares none, tau_m_ms, v_threshold_mv and v_reset_mv).

Task: by default the design's ``stimulus.patterns`` node (its frozen patterns and labels;
held-out presentations are the same patterns, as in that node's own schedule), or a
:class:`PoissonClassTask` passed as ``task=`` (fresh Poisson/Bernoulli trains per sample
with class-specific rates, MODELS.md B): the task replaces the design's stimulus, whose
size must match.

Shared equations (DESIGN.md: one definition of each neuron's step)
-------------------------------------------------------------------
The forward pass calls the neuron type's own elementwise ``step`` (the function numba
and the torch runner call), rebound with :func:`engine.ops.bind` to the torch namespace of
:func:`engine.backends.torch_backend.namespace`, on whole (batch, n) tensors. The
threshold comparison inside ``step`` (``v > v_th`` for LIF, ``u < sigmoid((v - theta) /
beta)`` for the meta neuron) would return a bool tensor and cut the gradient. The
mechanism that keeps it differentiable without touching the equations:

- the membrane potential ``v`` of the state enters ``step`` as a :class:`Potential`, a
  ``torch.Tensor`` subclass. Arithmetic on it (and ``torch.where``/``minimum``/``exp``
  of it) returns Potentials again, so everything computed from ``v`` stays marked, while
  quantities that do not depend on ``v`` (the refractory counter) stay plain tensors;
- a comparison with a Potential on either side (``a > b``, ``a >= b``, ``a < b``,
  ``a <= b``) returns a :class:`Spike`: with ``x = a - b`` (``b - a`` for ``<``) its
  value is the hard Heaviside ``H(x)`` as a float 0/1 (so the forward pass is exactly the
  simulation's), and its gradient is the surrogate ``h'(x)`` (straight-through:
  ``H(x) + h(x) - stop_gradient(h(x))``);
- ``active & spike`` (bool tensor and Spike) is their product, and the namespace's
  ``where(spike, a, b)`` with a Spike condition is ``spike * a + (1 - spike) * b``
  (exact for spike in {0, 1}), so the reset ``v = V_reset`` passes gradients to V_reset,
  to v and, through the spike, to everything upstream.

For the meta neuron the compared quantity is ``x = p_spike - u`` (u the uniform draw),
so d spike/dv = h'(p - u) p (1 - p) / beta: MODELS.md's p (1 - p) / beta weighted by the
surrogate. Surrogates ``h`` (smooth steps, h' peaks at slope / 2 at x = 0):

- ``fast_sigmoid``: h(x) = 1/2 + 1/2 slope x / (1 + slope |x|), h'(x) = slope / (2 (1 + slope |x|)^2)
- ``arctan``: h(x) = 1/2 + atan(pi/2 slope x) / pi, h'(x) = slope / (2 (1 + (pi/2 slope x)^2))

``mode="smooth"`` replaces the hard threshold by ``h`` in the forward pass (the smooth
surrogate model; its autograd gradient uses the same h'): the finite-difference check of
the tests runs on it.

Intrinsic constraints: tau = dt + softplus(raw) (> dt: forward Euler stays stable),
beta = 1e-3 + softplus(raw) (> 0); thresholds and resets are free. Random draws of meta
neurons come from a seeded ``torch.Generator`` (training does not reproduce the
counter-based streams of the simulation backends; with LIF neurons the forward pass is
deterministic and equals the simulation).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from . import ops
from .errors import DesignError, Problem

SURROGATES = ("fast_sigmoid", "arctan")
GROUPS = ("readout", "weights", "intrinsics")
#: learnable intrinsics of types that do not declare ``learnable``
DEFAULT_LEARNABLE = {"neuron.lif": ("tau_m_ms", "v_threshold_mv", "v_reset_mv")}
SUPPORTED_NEURONS = ("neuron.lif", "neuron.meta")


# --- surrogate spike --------------------------------------------------------------------------
class _Ctx:
    kind = "fast_sigmoid"
    slope = 5.0
    mode = "st"


_CTX = _Ctx()


def smooth_step(x: torch.Tensor, kind: str, slope: float) -> torch.Tensor:
    """The smooth surrogate ``h(x)`` of the Heaviside step (see the module docstring)."""
    if kind == "fast_sigmoid":
        return 0.5 + 0.5 * slope * x / (1.0 + slope * x.abs())
    if kind == "arctan":
        return 0.5 + torch.atan(0.5 * math.pi * slope * x) / math.pi
    raise ValueError(f"surrogate {kind!r}: use one of {SURROGATES}")


def surrogate_spike(x: torch.Tensor, kind: str = "fast_sigmoid", slope: float = 5.0, mode: str = "st"):
    """H(x) forward with gradient h'(x) (``mode="st"``), or h(x) itself (``mode="smooth"``)."""
    h = smooth_step(x, kind, slope)
    if mode == "smooth":
        return h
    return (x > 0).to(x.dtype) + (h - h.detach())


def _plain(x):
    return x.as_subclass(torch.Tensor) if isinstance(x, (Potential, Spike)) else x


def _tree(fn, x):
    if isinstance(x, (list, tuple)):
        return type(x)(_tree(fn, y) for y in x)
    if isinstance(x, dict):
        return {k: _tree(fn, v) for k, v in x.items()}
    return fn(x)


# torch hands __torch_function__ the TensorBase methods (``gt`` for ``a > b``): match by name
_GT = {"gt", "ge", "__gt__", "__ge__", "greater", "greater_equal"}
_LT = {"lt", "le", "__lt__", "__le__", "less", "less_equal"}
_AND = {"__and__", "__rand__", "__iand__", "logical_and", "bitwise_and"}


def _name(func) -> str:
    return getattr(func, "__name__", "")


class Potential(torch.Tensor):
    """A membrane potential: comparisons with it return surrogate-differentiable :class:`Spike`."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        with torch._C.DisableTorchFunctionSubclass():
            name = _name(func)
            if name in _GT or name in _LT:
                a, b = (_plain(y) for y in args[:2])
                a = a if isinstance(a, torch.Tensor) else torch.as_tensor(a, dtype=b.dtype, device=b.device)
                x = (a - b) if name in _GT else (b - a)
                return surrogate_spike(x, _CTX.kind, _CTX.slope, _CTX.mode).as_subclass(Spike)
            out = func(*_tree(_plain, args), **_tree(_plain, kwargs))
        return _tree(lambda y: y.as_subclass(Potential) if isinstance(y, torch.Tensor) and y.is_floating_point()
                     else y, out)


class Spike(torch.Tensor):
    """A float 0/1 spike (or h(x) in smooth mode) carrying the surrogate gradient.

    ``bool & Spike`` is the product; any other operation gives plain tensors.
    """

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        with torch._C.DisableTorchFunctionSubclass():
            if _name(func) in _AND:
                a, b = (_plain(y) for y in args[:2])
                s = a if isinstance(a, torch.Tensor) and a.is_floating_point() else b
                o = b if s is a else a
                o = o.to(s.dtype) if isinstance(o, torch.Tensor) else float(bool(o))
                return (s * o).as_subclass(Spike)
            return func(*_tree(_plain, args), **_tree(_plain, kwargs))


def surrogate_namespace(dtype, device) -> dict:
    """The torch namespace of the torch backend, with ``where`` blending on a :class:`Spike`."""
    from .backends.torch_backend import namespace
    ns = dict(namespace(dtype, device))
    base_where = ns["where"]

    def where(c, a, b):
        if isinstance(c, Spike):
            s = _plain(c)
            return s * a + (1.0 - s) * b
        return base_where(c, a, b)

    ns["where"] = where
    return ns


# --- tasks ---------------------------------------------------------------------------------------
@dataclass
class Task:
    """Samples as dense spike tensors (N, T, n_in) and labels (N,), split train / test."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    info: dict = field(default_factory=dict)


def poisson_class_rates(n_in: int, n_classes: int, rate_low_hz: float, rate_high_hz: float, seed: int) -> np.ndarray:
    """Class-specific rate profiles (n_classes, n_in): r[c, i] ~ U(low, high), drawn once."""
    g = np.random.default_rng([int(seed), 7919])
    return g.uniform(rate_low_hz, rate_high_hz, size=(n_classes, n_in))


@dataclass
class PoissonClassTask:
    """Poisson spike-pattern classification with class-specific rates (MODELS.md B).

    Class c has a rate profile r[c, :] (``rates_hz``, or drawn U(rate_low_hz, rate_high_hz)
    per afferent from ``seed``); each sample is a fresh Bernoulli train, afferent i
    spiking with probability r[c, i] dt per step over ``sample_ms``. ``n_train`` and
    ``n_test`` samples per class, balanced.
    """

    n_in: int = 40
    n_classes: int = 4
    sample_ms: float = 50.0
    rate_low_hz: float = 5.0
    rate_high_hz: float = 60.0
    n_train: int = 50
    n_test: int = 50
    seed: int = 0
    rates_hz: np.ndarray | None = None

    def make(self, dt_ms: float, dtype=torch.float64) -> Task:
        rates = self.rates_hz if self.rates_hz is not None else poisson_class_rates(
            self.n_in, self.n_classes, self.rate_low_hz, self.rate_high_hz, self.seed)
        rates = np.asarray(rates, np.float64)
        T = max(1, int(round(self.sample_ms / dt_ms)))
        g = torch.Generator().manual_seed(int(self.seed) * 1000003 + 17)

        def draw(per_class):
            y = torch.arange(self.n_classes).repeat_interleave(per_class)
            p = torch.as_tensor(rates * dt_ms * 1e-3, dtype=dtype)[y]  # (N, n_in)
            x = (torch.rand((len(y), T, self.n_in), generator=g, dtype=dtype) < p[:, None, :]).to(dtype)
            return x, y

        xtr, ytr = draw(self.n_train)
        xte, yte = draw(self.n_test)
        return Task(xtr, ytr, xte, yte, self.n_classes,
                    {"kind": "poisson_classes", "steps": T, "rates_hz": rates.tolist()})


def _patterns_task(node, seed: int, dt: float, dtype) -> Task:
    from components.stimulus_patterns import make_patterns
    ptr, idx, sched = make_patterns(node.values, seed, node.id, dt)
    P, T, n = int(node.values["n_patterns"]), sched["sample_steps"], int(node.values["n"])
    x = torch.zeros((P * T, n), dtype=dtype)
    rows = np.repeat(np.arange(P * T), np.diff(ptr))
    x[torch.as_tensor(rows), torch.as_tensor(idx.astype(np.int64))] = 1.0
    x = x.reshape(P, T, n)
    labels = np.zeros(P, np.int64)
    labels[sched["index"]] = sched["label"]
    y = torch.as_tensor(labels)
    return Task(x, y, x.clone(), y.clone(), int(node.values["n_classes"]),
                {"kind": "stimulus.patterns", "steps": T, "note": "held-out set = the same frozen patterns"})


# --- the trainable network -----------------------------------------------------------------------
def _softplus_inv(y: float) -> float:
    y = max(float(y), 1e-6)
    return y + math.log(-math.expm1(-y))


class _Population:
    def __init__(self, node, plan, dtype, learn_intrinsics: bool, per_neuron: bool = True):
        self.id = node.id
        self.key = node.key
        self.cls = node.type
        self.mod = self.cls.model()
        self.n = plan.node_info[node.id]["n"]
        self.inputs = {f: list(s) for f, s in plan.node_info[node.id]["inputs"].items()}
        P = plan.params[node.id]
        self.base = {k: torch.as_tensor(np.asarray(v, np.float64), dtype=dtype) for k, v in P.items()
                     if k != "key"}
        self.v0 = torch.as_tensor(np.asarray(plan.buffers[f"{node.id}.v"]), dtype=dtype)
        self.refr0 = torch.as_tensor(np.asarray(plan.buffers[f"{node.id}.refr"]), dtype=dtype)
        self.dt = float(plan.dt)
        self.euler = self.key == "neuron.meta" or node.values.get("method") == "euler"
        names = getattr(self.cls, "learnable", None) or DEFAULT_LEARNABLE.get(self.key, ())
        self.learned = tuple(names) if learn_intrinsics else ()
        self.raw = torch.nn.ParameterDict()
        for name in self.learned:
            init = self._user_value(name).expand(self.n).clone()
            if not per_neuron:
                init = init.mean().reshape(1)
            if name == "tau_m_ms":
                raw = init.clone().apply_(lambda t: _softplus_inv(t - self.dt))
            elif name == "beta":
                raw = init.clone().apply_(lambda b: _softplus_inv(b - 1e-3))
            else:
                raw = init
            self.raw[name] = torch.nn.Parameter(raw)

    def _user_value(self, name):
        b = self.base
        if name == "tau_m_ms":
            k = b["k"]
            return self.dt / k if self.euler else -self.dt / torch.log1p(-k)
        field = {"v_threshold_mv": "v_th", "v_reset_mv": "v_reset"}.get(name, name)
        return b[field]

    def value(self, name):
        """The constrained value of a learned intrinsic (per neuron), or the fixed one."""
        if name not in self.raw:
            return self._user_value(name)
        r = self.raw[name]
        if name == "tau_m_ms":
            return self.dt + F.softplus(r)
        if name == "beta":
            return 1e-3 + F.softplus(r)
        return r

    def params(self):
        p = dict(self.base)
        for name in self.learned:
            val = self.value(name)
            if name == "tau_m_ms":
                p["k"] = self.dt / val if self.euler else -torch.expm1(-self.dt / val)
            else:
                p[{"v_threshold_mv": "v_th", "v_reset_mv": "v_reset"}.get(name, name)] = val
        p["key"] = 0
        return self.mod.Params(*(p[k] for k in self.mod.Params._fields))


class _Projection:
    def __init__(self, node, plan, dtype, learn_weights: bool):
        info = plan.node_info[node.id]
        self.id, self.pre, self.post = node.id, info["pre"], info["post"]
        dv = node.values.get("delay_ms")
        if isinstance(dv, dict) or float(dv or 0) > 0 \
                or f"{node.id}.ring_n" in plan.buffers or f"{node.id}.acc" in plan.buffers:
            raise DesignError(Problem("error", "train.delay", f"projection '{node.id}' has delays: training "
                                      "supports delay_ms = 0 only", "set delay_ms to 0", node=node.id))
        n_pre, n_post = info["n_pre"], info["n_post"]
        indptr = plan.buffers[f"{node.id}.indptr"].astype(np.int64)
        post = plan.buffers[f"{node.id}.post"].astype(np.int64)
        pre = np.repeat(np.arange(n_pre), np.diff(indptr))
        w = plan.buffers[f"{node.id}.w"]
        P = plan.params[node.id]
        wc = P.get("wc")
        w = np.full(len(post), float(wc)) if (wc is not None and not isinstance(wc, np.ndarray)) else np.asarray(w)
        W = torch.zeros((n_pre, n_post), dtype=dtype)
        W.index_put_((torch.as_tensor(pre), torch.as_tensor(post)), torch.as_tensor(w, dtype=dtype), accumulate=True)
        M = torch.zeros((n_pre, n_post), dtype=dtype)
        M[torch.as_tensor(pre), torch.as_tensor(post)] = 1.0
        self.mask = M
        self.W = torch.nn.Parameter(W, requires_grad=learn_weights)
        self.decay = float(P["decay"])

    def weight(self):
        return self.W * self.mask


class SpikingNet(torch.nn.Module):
    """The differentiable forward pass of a feed-forward design (see the module docstring)."""

    def __init__(self, design, *, learn=("readout", "intrinsics"), dtype=torch.float64, seed: int = 0,
                 output: str | None = None, stimulus: str | None = None, n_classes: int | None = None,
                 per_neuron: bool = True, device="cpu"):
        super().__init__()
        from .backends.torch_backend import _torch_dtype, check_device
        from .design import load_design

        dtype = _torch_dtype(dtype)
        self.device = check_device(device)
        from .plan import make_plan
        from .validate import build_graph

        self.design = load_design(design)
        self.graph = g = build_graph(self.design)
        self.plan = plan = make_plan(g)
        self.dtype = dtype
        self.dt = float(plan.dt)
        self.learn = tuple(learn)
        bad = [x for x in self.learn if x not in GROUPS]
        if bad:
            raise ValueError(f"learn {bad}: choose from {GROUPS}")
        pops, projs, stims = [], [], []
        for node in g.nodes.values():
            fam = node.type.family()
            if fam == "neuron":
                if node.key not in SUPPORTED_NEURONS:
                    raise DesignError(Problem("error", "train.type", f"'{node.id}' ({node.key}) cannot be trained: "
                                              f"training supports {', '.join(SUPPORTED_NEURONS)}", node=node.id))
                pops.append(node)
            elif fam == "projection":
                if g.inputs(node.id, "rule") or g.inputs(node.id, "modulation"):
                    raise DesignError(Problem("error", "train.plasticity", f"projection '{node.id}' has plasticity "
                                              "rules or modulation: training needs static projections",
                                              node=node.id))
                projs.append(node)
            elif fam == "stimulus":
                stims.append(node)
            elif fam in ("plasticity", "astrocyte"):
                raise DesignError(Problem("error", "train.type", f"'{node.id}' ({node.key}) cannot be trained "
                                          "(feed-forward designs of stimulus, projections and neurons only)",
                                          node=node.id))
        spiking_stims = [s for s in stims if s.type.spiking]
        if stimulus is None:
            if len(spiking_stims) != 1:
                raise DesignError(Problem("error", "train.stimulus", f"training needs exactly one spike stimulus, "
                                          f"found {len(spiking_stims)}", "pass stimulus='id'"))
            stimulus = spiking_stims[0].id
        self.stimulus = g.nodes[stimulus]
        for p in pops:
            if g.inputs(p.id, "current"):
                raise DesignError(Problem("error", "train.current", f"'{p.id}' has current inputs: training "
                                          "supports spike stimuli only", node=p.id))
        # every population updates from the traces of the previous step, then all projections
        # deliver (the simulation's step order), so the update order of populations is free
        self.pops = [_Population(n, plan, dtype, "intrinsics" in self.learn, per_neuron) for n in pops]
        self.projs = [_Projection(n, plan, dtype, "weights" in self.learn) for n in projs]
        for pr in self.projs:
            if pr.pre != stimulus and pr.pre not in {p.id for p in self.pops}:
                raise DesignError(Problem("error", "train.source", f"projection '{pr.id}' comes from '{pr.pre}', "
                                          "which is neither the stimulus nor a trained population", node=pr.id))
        feeding = {pr.pre for pr in self.projs}
        outs = [p.id for p in self.pops if p.id not in feeding]
        if output is None:
            if len(outs) != 1:
                raise DesignError(Problem("error", "train.output", f"the output population is ambiguous: {outs}",
                                          "pass output='id'"))
            output = outs[0]
        self.output = output
        self.n_classes = n_classes or int(self.stimulus.values.get("n_classes", 2))
        n_out = next(p.n for p in self.pops if p.id == output)
        gen = torch.Generator().manual_seed(int(seed))
        self.readout = torch.nn.Linear(n_out, self.n_classes, dtype=dtype)
        with torch.no_grad():
            self.readout.weight.copy_(torch.randn(self.readout.weight.shape, generator=gen, dtype=dtype)
                                      / math.sqrt(n_out))
            self.readout.bias.zero_()
        for q in self.readout.parameters():
            q.requires_grad_("readout" in self.learn)
        self._raw = torch.nn.ModuleDict({p.id: p.raw for p in self.pops})
        self._W = torch.nn.ParameterList([pr.W for pr in self.projs])
        self.ns = surrogate_namespace(dtype, self.device)
        self.steps = {p.id: ops.bind(p.mod.step, self.ns) for p in self.pops}
        self.rng = torch.Generator().manual_seed(int(seed) + 101)  # draws on the CPU: the same on every device
        # built on the CPU; parameters move with the module, the other tensors here
        self.to(self.device)
        for p in self.pops:
            p.base = {k: v.to(self.device) for k, v in p.base.items()}
            p.v0, p.refr0 = p.v0.to(self.device), p.refr0.to(self.device)
        for pr in self.projs:
            pr.mask = pr.mask.to(self.device)

    def trainable(self):
        return [q for q in self.parameters() if q.requires_grad]

    def forward(self, x: torch.Tensor, *, surrogate="fast_sigmoid", slope=5.0, mode="st", record=False):
        """Logits (B, classes) for input spikes ``x`` (B, T, n_in); one trial per row.

        Step order per time step as in the simulation plan: populations update from the
        synaptic traces, then traces decay and receive this step's spikes.
        """
        if surrogate not in SURROGATES:
            raise ValueError(f"surrogate {surrogate!r}: use one of {SURROGATES}")
        x = x.to(self.device)
        B, T, _ = x.shape
        dev = self.device
        old = (_CTX.kind, _CTX.slope, _CTX.mode)
        _CTX.kind, _CTX.slope, _CTX.mode = surrogate, float(slope), mode
        try:
            gs = {pr.id: torch.zeros((B, self.pops_by(pr.post).n), dtype=self.dtype, device=dev) for pr in self.projs}
            W = {pr.id: pr.weight() for pr in self.projs}
            states, params = {}, {}
            for p in self.pops:
                states[p.id] = p.mod.State(p.v0.expand(B, p.n).clone().as_subclass(Potential),
                                           p.refr0.expand(B, p.n).clone())
                params[p.id] = p.params()
            count = torch.zeros((B, self.pops_by(self.output).n), dtype=self.dtype, device=dev)
            rec = {p.id: [] for p in self.pops} if record else None
            draws = {p.id: p.key == "neuron.meta" for p in self.pops}
            for t in range(T):
                spk = {self.stimulus.id: x[:, t]}
                for p in self.pops:
                    inp = p.mod.Inputs(*(sum(gs[b[:-2]] for b in p.inputs[f]) if p.inputs.get(f) else 0.0
                                         for f in p.mod.Inputs._fields))
                    if draws[p.id]:
                        u = torch.rand((B, p.n), generator=self.rng, dtype=self.dtype).to(dev)
                        s, st = self.steps[p.id](inp, states[p.id], params[p.id], self.dt, u)
                    else:
                        s, st = self.steps[p.id](inp, states[p.id], params[p.id], self.dt)
                    v = st.v if isinstance(st.v, Potential) else torch.as_tensor(st.v).as_subclass(Potential)
                    states[p.id] = st._replace(v=v, refr=_plain(st.refr) if isinstance(st.refr, torch.Tensor)
                                               else torch.full((B, p.n), float(st.refr), dtype=self.dtype,
                                                               device=dev))
                    s = _plain(s) if isinstance(s, torch.Tensor) else torch.full((B, p.n), float(s), dtype=self.dtype,
                                                                                 device=dev)
                    if not s.is_floating_point():
                        s = s.to(self.dtype)  # a bool spike (no Potential reached the comparison)
                    spk[p.id] = s
                    if record:
                        rec[p.id].append(s.detach())
                for pr in self.projs:
                    g = gs[pr.id] * pr.decay if pr.decay != 0.0 else torch.zeros_like(gs[pr.id])
                    gs[pr.id] = g + spk[pr.pre] @ W[pr.id]
                count = count + spk[self.output]
            logits = self.readout(count / T)
        finally:
            _CTX.kind, _CTX.slope, _CTX.mode = old
        if record:
            return logits, {k: torch.stack(v, 1) for k, v in rec.items()}
        return logits

    def pops_by(self, nid):
        return next(p for p in self.pops if p.id == nid)

    def intrinsics(self) -> dict:
        """Current values of the learned intrinsics: {population: {param: array (n,)}}."""
        out = {}
        with torch.no_grad():
            for p in self.pops:
                if p.learned:
                    out[p.id] = {k: p.value(k).detach().expand(p.n).cpu().numpy().copy() for k in p.learned}
        return out

    def trained_design(self):
        """A copy of the design with what was learned: the intrinsics (population mean as
        the parameter, every neuron's value in the sidecar) and, when learned, the weights
        (each projection's ``weight_array``). The readout is not part of the design."""
        d = self.design.copy()
        for pid, vals in self.intrinsics().items():
            data = d.node(pid).setdefault("data", {})
            for k, a in vals.items():
                a = np.asarray(a, np.float64)
                # neuron parameters take numbers or distributions, not arrays: the parameter gets
                # the population mean (exact when intrinsics are shared), the sidecar keeps every
                # neuron's value as ``{pop}.learned_{param}``
                d.put_array(f"{pid}.learned_{k}", a)
                data[k] = float(a.mean())
        if "weights" in self.learn:
            from .plan import Builder
            b = Builder(self.graph, self.plan.seed, np.float64)
            for pr in self.projs:
                node = self.graph.nodes[pr.id]
                # the synapses in the order of the projection's connectivity rule (what
                # weight_array is indexed by): the rule's own connect(), with the plan's seed
                i, j = node.type.connect(node, b, self.graph.nodes[pr.pre], self.graph.nodes[pr.post])
                i, j = np.asarray(i, np.int64), np.asarray(j, np.int64)
                if len(np.unique(i * (int(j.max(initial=0)) + 1) + j)) != len(i):
                    raise DesignError(Problem("error", "train.multapse", f"projection '{pr.id}' has several "
                                              "synapses between one pair of neurons: its learned weights cannot be "
                                              "written back", node=pr.id))
                w = pr.weight().detach().cpu()[torch.as_tensor(i), torch.as_tensor(j)].numpy().astype(np.float64)
                d.node(pr.id).setdefault("data", {})["weight_array"] = d.put_array(f"{pr.id}.learned_w", w)
        return d


# --- training loop -------------------------------------------------------------------------------
@dataclass
class TrainResult:
    history: list
    intrinsics: dict
    initial_intrinsics: dict
    net: SpikingNet
    task_info: dict
    seconds: float

    def summary(self) -> dict:
        def stats(d):
            return {pid: {k: {"mean": float(np.mean(a)), "sd": float(np.std(a)), "min": float(np.min(a)),
                              "max": float(np.max(a))} for k, a in v.items()} for pid, v in d.items()}
        last = self.history[-1] if self.history else {}
        return {"epochs": len(self.history), "final": last, "history": self.history,
                "intrinsics": stats(self.intrinsics), "initial_intrinsics": stats(self.initial_intrinsics),
                "task": {k: v for k, v in self.task_info.items() if k != "rates_hz"}, "seconds": self.seconds}

    def trained_design(self):
        return self.net.trained_design()


def _evaluate(net, x, y, batch_size, **kw):
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(y), batch_size):
            lg = net(x[i:i + batch_size], **kw)
            yy = y[i:i + batch_size].to(lg.device)
            loss += float(F.cross_entropy(lg, yy, reduction="sum"))
            correct += int((lg.argmax(1) == yy).sum())
    return loss / max(1, len(y)), correct / max(1, len(y))


def train(design, *, epochs: int = 10, lr: float = 1e-2, surrogate: str = "fast_sigmoid", slope: float = 5.0,
          seed: int = 0, learn=("readout", "intrinsics"), task: PoissonClassTask | Task | None = None,
          batch_size: int = 32, dtype=torch.float64, output: str | None = None, lr_intrinsics: float | None = None,
          per_neuron: bool = True, on_epoch=None, threads: int | None = None, device="cpu") -> TrainResult:
    """Train ``design`` by surrogate-gradient BPTT (see the module docstring).

    Returns a :class:`TrainResult`: ``history`` (per epoch: train/test loss and accuracy;
    epoch 0 is before training), the learned intrinsics, and ``trained_design()``.
    ``lr_intrinsics``: a separate Adam learning rate for the intrinsic parameters
    (default ``lr``); ``per_neuron``: one value of each intrinsic per neuron (default) or
    one shared by the population. ``on_epoch(record)`` is called after each epoch (streaming).
    ``device``: where the network runs ("cpu", "cuda"; the data stay on the CPU and move per
    batch); ``dtype``: torch.float64 / "float64" (default) or float32.
    """
    from .backends.torch_backend import _torch_dtype

    dtype = _torch_dtype(dtype)
    if threads:
        torch.set_num_threads(int(threads))
    t0 = time.perf_counter()
    torch.manual_seed(int(seed))
    n_classes = None
    if isinstance(task, PoissonClassTask):
        n_classes = task.n_classes
    elif isinstance(task, Task):
        n_classes = task.n_classes
    net = SpikingNet(design, learn=learn, dtype=dtype, seed=seed, output=output, n_classes=n_classes,
                     per_neuron=per_neuron, device=device)
    if task is None:
        if net.stimulus.key != "stimulus.patterns":
            raise DesignError(Problem("error", "train.stimulus", f"stimulus '{net.stimulus.id}' ({net.stimulus.key}) "
                                      "has no class labels", "use stimulus.patterns or pass task=PoissonClassTask(...)",
                                      node=net.stimulus.id))
        data = _patterns_task(net.stimulus, net.plan.seed, net.dt, dtype)
    elif isinstance(task, PoissonClassTask):
        data = task.make(net.dt, dtype)
    else:
        data = task
    n_in = net.plan.spike_sources[net.stimulus.id].n
    if data.x_train.shape[-1] != n_in:
        raise DesignError(Problem("error", "train.task", f"the task has {data.x_train.shape[-1]} afferents, the "
                                  f"stimulus '{net.stimulus.id}' {n_in}", "make the sizes equal",
                                  node=net.stimulus.id))
    groups = []
    intr = [q for p in net.pops for q in p.raw.values()]
    other = [q for q in net.trainable() if all(q is not r for r in intr)]
    if other:
        groups.append({"params": other, "lr": lr})
    if intr:
        groups.append({"params": intr, "lr": lr if lr_intrinsics is None else lr_intrinsics})
    if not groups:
        raise ValueError("nothing to learn")
    opt = torch.optim.Adam(groups)
    initial = net.intrinsics()
    kw = dict(surrogate=surrogate, slope=slope)
    gen = torch.Generator().manual_seed(int(seed) + 7)
    history = []

    def record(epoch, train_loss=None):
        tl, ta = _evaluate(net, data.x_train, data.y_train, batch_size, **kw)
        vl, va = _evaluate(net, data.x_test, data.y_test, batch_size, **kw)
        r = {"epoch": epoch, "train_loss": tl, "train_acc": ta, "test_loss": vl, "test_acc": va,
             "batch_loss": train_loss}
        history.append(r)
        if on_epoch is not None:
            on_epoch(r)

    record(0)
    N = len(data.y_train)
    for ep in range(1, int(epochs) + 1):
        perm = torch.randperm(N, generator=gen)
        tot = 0.0
        for i in range(0, N, batch_size):
            b = perm[i:i + batch_size]
            opt.zero_grad()
            lg = net(data.x_train[b], **kw)
            loss = F.cross_entropy(lg, data.y_train[b].to(lg.device))
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * len(b)
        record(ep, tot / N)
    return TrainResult(history, net.intrinsics(), initial, net, data.info, time.perf_counter() - t0)
