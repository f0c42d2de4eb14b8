"""The numba backend: one generated, compiled function runs a whole chunk of steps.

The plan's steps are rendered into the body of a single ``@njit(nogil=True)`` kernel;
buffers and kernel parameters are its arguments, so editing a parameter value never
recompiles. The generated module is content-addressed (its file name is the hash of its
source, which encodes only the graph *structure*) and compiled with ``cache=True``: a new
process with a warm cache loads machine code from disk instead of compiling.

Renderers: ``@renderer(kind)`` registers a function ``(step, ctx) -> list[str]`` that
returns the lines of one step inside the time loop. Generic kinds (neuron update,
synaptic decay and delivery, counters) live here; types with their own primitives
register renderers in their own modules.
"""
from __future__ import annotations

import hashlib
import importlib.util
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from ..paths import user_dir
from ..plan import Plan, Step

RENDERERS: dict[str, Callable[[Step, "Ctx"], list[str]]] = {}
_JITTED: dict[str, object] = {}
_KERNELS: dict[str, object] = {}
_LOCK = threading.Lock()


def renderer(kind: str):
    def deco(fn):
        RENDERERS[kind] = fn
        return fn
    return deco


def jitted(path: str):
    """The numba-compiled version of the function at ``module:qualname`` (memoised)."""
    f = _JITTED.get(path)
    if f is None:
        mod, name = path.split(":")
        fn = getattr(importlib.import_module(mod), name)
        f = fn if isinstance(fn, numba.core.dispatcher.Dispatcher) else numba.njit(cache=True, inline="always")(fn)
        _JITTED[path] = f
    return f


def _source_stamp() -> str:
    """Hash of the sources whose code runs inside kernels: a change there invalidates cached kernels."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parents[2]
    files = [root / "engine" / "rng.py", root / "engine" / "ops.py", root / "engine" / "backends" / "numba_backend.py",
             *sorted((root / "components").glob("*.py"))]  # not the torch backend: its code never runs in a kernel
    for p in files:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


_STAMP = None


def cache_dir() -> Path:
    p = user_dir("cache", "GLIAFLOW_CACHE_DIR") / "kernels"
    p.mkdir(exist_ok=True)
    return p


class Ctx:
    """Name resolution for renderers: buffers, parameters, spike counts, imports."""

    def __init__(self, plan: Plan):
        self.plan = plan
        ids = list(plan.graph.nodes)
        self.idx = {nid: k for k, nid in enumerate(ids)}
        self.imports: dict[str, str] = {}
        self.prelude: list[str] = []  # lines before the time loop
        self.prechecks: list[str] = []  # lines at the top of every step (may return early)
        self.fused = fused_decays(plan)  # trace buffer -> decay step folded into its one reader
        self.arg_names: list[str] = []
        self.arg_sources: list[tuple[str, str, str]] = []  # (kind, node, name)
        for full in plan.buffers:
            self.arg_names.append(self.b(full))
            self.arg_sources.append(("buffer", full, ""))
        for nid, ps in plan.params.items():
            for k in ps:
                self.arg_names.append(self.p(nid, k))
                self.arg_sources.append(("param", nid, k))

    def _n(self, nid: str) -> str:
        return f"n{self.idx[nid]}"

    def b(self, full: str) -> str:
        nid, var = full.split(".", 1)
        return f"b{self.idx[nid]}_{var}"

    def p(self, nid: str, name: str) -> str:
        return f"p{self.idx[nid]}_{name}"

    def is_array(self, nid: str, name: str) -> bool:
        return isinstance(self.plan.params[nid][name], np.ndarray)

    def pv(self, nid: str, name: str, i: str = "i") -> str:
        """Expression for parameter ``name`` of element ``i`` (scalar or per-element)."""
        return f"{self.p(nid, name)}[{i}]" if self.is_array(nid, name) else self.p(nid, name)

    def ns(self, nid: str) -> str:
        return f"ns{self.idx[nid]}"

    def use(self, path: str, *, jit: bool = True) -> str:
        """A global name in the kernel module bound to the function at ``module:qualname``."""
        if path not in self.imports:
            self.imports[path] = (f"g{len(self.imports)}", jit)
        return self.imports[path][0]

    def spike_count_expr(self, nid: str, k: str) -> str:
        src = self.plan.spike_sources[nid]
        return f"{self.b(nid + '.cnt')}[{k}]" if src.multi else "1"


def fused_decays(plan: Plan) -> dict:
    """Decays whose trace has exactly one reader in the update phase, a neuron update.

    That reader reads the old value and the decay must follow all readers, so the neuron
    loop can write ``g * decay`` back in the same pass: one sweep over the trace instead
    of two, with identical arithmetic and order.
    """
    out = {}
    for s in plan.steps:
        if s.kind != "synapse.decay":
            continue
        buf = s.attrs["buffer"]
        readers = [r for r in plan.steps if r.phase == "update" and buf in r.reads]
        writers = [w for w in plan.steps if w.phase == "update" and w is not s and
                   (buf in w.sets or buf in w.incs or buf in w.updates)]
        if len(readers) == 1 and readers[0].kind == "neuron.update" and not writers:
            out[buf] = s
    return out


def render(plan: Plan) -> tuple[str, Ctx]:
    ctx = Ctx(plan)
    body: list[str] = []
    for s in plan.steps:
        fn = RENDERERS.get(s.kind)
        if fn is None:
            raise KeyError(f"numba backend has no renderer for step kind '{s.kind}' (node '{s.node}')")
        lines = fn(s, ctx)
        if lines:
            body.append(f"# {s.phase}: {s.kind} {s.node}")
            body += lines
    spiking = list(plan.spike_sources)
    lines = ["# generated by gliaflow: do not edit (structure hash in the file name)",
             "import math", "import numpy as np", "from numba import njit",
             "from engine.backends.numba_backend import jitted"]
    for path, (name, jit) in ctx.imports.items():
        if jit:
            lines.append(f"{name} = jitted({path!r})")
        else:
            mod, attr = path.split(":")
            lines.append(f"from {mod} import {attr} as {name}")
    lines += ["", "", "@njit(cache=True, nogil=True, error_model='numpy')",
              f"def kernel(t0, n_steps, dt, {', '.join(ctx.arg_names)}):"]
    ind = "    "
    lines += [ind + x for x in ctx.prelude]
    lines.append(ind + "for _s in range(n_steps):")
    lines.append(ind * 2 + "t = t0 + _s")
    lines += [ind * 2 + x for x in ctx.prechecks]
    for nid in spiking:
        lines.append(ind * 2 + f"{ctx.ns(nid)} = 0")
    lines += [ind * 2 + x for x in body]
    lines.append(ind + "return n_steps")
    return "\n".join(lines) + "\n", ctx


class NumbaRunner:
    """Compiles (or loads) the kernel for a plan and calls it chunk by chunk."""

    def __init__(self, plan: Plan):
        global _STAMP
        t = time.perf_counter()
        if _STAMP is None:
            _STAMP = _source_stamp()
        self.plan = plan
        self.source, self.ctx = render(plan)
        key = hashlib.sha256((_STAMP + self.source).encode()).hexdigest()[:24]
        self.key = key
        with _LOCK:
            k = _KERNELS.get(key)
            self.cached_in_process = k is not None
            if k is None:
                k = self._load_module(key).kernel
                self._warm(k)
                _KERNELS[key] = k
        self.kernel = k
        self.compile_s = time.perf_counter() - t

    def _load_module(self, key: str):
        path = cache_dir() / f"k_{key}.py"
        if not path.exists():
            from ..design import atomic_write_bytes
            atomic_write_bytes(path, self.source.encode())
        name = f"gliaflow_kernel_{key}"
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        return mod

    def args(self) -> list:
        out = []
        for kind, nid, name in self.ctx.arg_sources:
            if kind == "buffer":
                out.append(self.plan.buffers[nid])
            else:
                v = self.plan.params[nid][name]
                out.append(v)
        return out

    def _warm(self, kernel) -> None:
        kernel(np.int64(0), np.int64(0), float(self.plan.dt), *self.args())

    def run(self, t0: int, n_steps: int) -> int:
        return int(self.kernel(np.int64(t0), np.int64(n_steps), float(self.plan.dt), *self.args()))


@intrinsic
def prefetch(typingctx, arr, idx):
    """Hint the CPU to fetch ``arr[idx]`` into cache (LLVM ``llvm.prefetch``: read, high locality).

    A hint only: it never faults, even past the end of the array, and changes no value."""
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.bitcast(builder.gep(ary.data, [args[1]]), ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32]),
                                            "llvm.prefetch.p0")
        builder.call(fn, [ptr, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


#: projections with at least this many synapses (4 MB of int32 indices, past L2) prefetch rows
PREFETCH_MIN_SYNAPSES = 1 << 20
PREFETCH_AHEAD = 4  # spikes ahead: rows of spike k + 4, row pointers of spike k + 8


def _prefetch_rows(ctx: Ctx, nid: str, count: str, spike_at) -> list[str]:
    """Lines at the top of a delivery loop over ``_k`` that prefetch the synapse rows of later spikes.

    With synapses in DRAM each spike's row starts with a cache miss; delivering one row while
    the rows of the next spikes are on their way keeps several misses in flight (COBA-256k
    delivery: ~3x more events/s in a standalone replay). Small projections render nothing."""
    post = ctx.b(f"{nid}.post")
    if ctx.plan.buffers[f"{nid}.post"].shape[0] < PREFETCH_MIN_SYNAPSES:
        return []
    indptr, pf, d = ctx.b(f"{nid}.indptr"), ctx.use("engine.backends.numba_backend:prefetch", jit=False), PREFETCH_AHEAD
    # the first 4 cache lines (64 indices) of the row: past them the hardware's stream prefetcher follows
    return [f"    if _k + {2 * d} < {count}:", f"        {pf}({indptr}, {spike_at(f'_k + {2 * d}')})",
            f"    if _k + {d} < {count}:", f"        _pj = {spike_at(f'_k + {d}')}",
            f"        for _pq in range({indptr}[_pj], min({indptr}[_pj + 1], {indptr}[_pj] + 64), 16):",
            f"            {pf}({post}, _pq)"]


# --- generic renderers -------------------------------------------------------------------

@renderer("count")
def _count(step: Step, ctx: Ctx) -> list[str]:
    nid = step.node
    src = ctx.plan.spike_sources[nid]
    c = ctx.b(nid + ".count")
    if src.multi:
        return [f"for _k in range({ctx.ns(nid)}):", f"    {c}[0] += {ctx.b(nid + '.cnt')}[_k]"]
    return [f"{c}[0] += {ctx.ns(nid)}"]


@renderer("neuron.update")
def _neuron_update(step: Step, ctx: Ctx) -> list[str]:
    """Loop over neurons calling the type's elementwise step (one definition of the model).

    ``uniform`` (attr): the step takes one more argument, a uniform draw per neuron and step
    from the counter-based generator keyed by the kernel parameter ``key`` (neuron.meta)."""
    a = step.attrs
    nid = step.node
    mod = a["module"]
    f = ctx.use(f"{mod}:step")
    I = ctx.use(f"{mod}:Inputs", jit=False)
    S = ctx.use(f"{mod}:State", jit=False)
    P = ctx.use(f"{mod}:Params", jit=False)
    n = a["n"]
    pfields = a["params"]
    het = [k for k in pfields if ctx.is_array(nid, k)]
    lines = []
    p_expr = f"{P}({', '.join(ctx.pv(nid, k) for k in pfields)})"
    pname = f"_p{ctx.idx[nid]}"
    if not het:
        ctx.prelude.append(f"{pname} = {p_expr}")
    in_exprs, fused_lines = [], []
    for field, srcs in a["inputs"]:
        terms = []
        for s in srcs:
            if s in ctx.fused:
                tmp = f"_g{len(fused_lines)}"
                fused_lines.append((tmp, s, ctx.p(ctx.fused[s].node, "decay")))
                terms.append(tmp)
            else:
                terms.append(f"{ctx.b(s)}[i]")
        in_exprs.append(" + ".join(terms) if terms else "0.0")
    st_fields = a["state"]
    spk, flag, flag64 = ctx.b(nid + ".spk"), ctx.b(nid + ".flag"), ctx.b(nid + ".flag64")
    ns = ctx.ns(nid)
    # pass 1: branch-free update of every neuron (vectorisable), spike flags as bytes
    lines.append(f"for i in range({n}):")
    for tmp, buf, decay in fused_lines:
        lines.append(f"    {tmp} = {ctx.b(buf)}[i]")
    lines.append(f"    _st = {S}({', '.join(ctx.b(nid + '.' + v) + '[i]' for v in st_fields)})")
    lines.append(f"    _in = {I}({', '.join(in_exprs)})")
    draw = ""
    if a.get("uniform"):  # stochastic neurons: one uniform per neuron and step, keyed by (key, t, i)
        sk = f"_sk{ctx.idx[nid]}"
        lines.insert(0, f"{sk} = {ctx.use('engine.rng:step_key')}({ctx.p(nid, 'key')}, t)")
        draw = f", {ctx.use('engine.rng:uniform')}({sk}, i)"
    lines.append(f"    _spk, _st = {f}(_in, _st, {pname if not het else p_expr}, dt{draw})")
    for k, v in enumerate(st_fields):
        lines.append(f"    {ctx.b(nid + '.' + v)}[i] = _st[{k}]")
    lines.append(f"    {flag}[i] = _spk")
    for tmp, buf, decay in fused_lines:  # the decay of a trace read only here (see fused_decays)
        lines.append(f"    {ctx.b(buf)}[i] = {tmp} * {decay}")
    # pass 2: collect spiking neurons, skipping 8 silent neurons per 64-bit word
    lines += [f"for _w in range({flag64}.shape[0]):",
              f"    if {flag64}[_w] != 0:",
              "        for i in range(_w * 8, _w * 8 + 8):",
              f"            if {flag}[i]:",
              f"                {spk}[{ns}] = i",
              f"                {ns} += 1"]
    return lines


@renderer("synapse.decay")
def _decay(step: Step, ctx: Ctx) -> list[str]:
    if step.attrs["buffer"] in ctx.fused:
        return []  # folded into the neuron loop that reads the trace
    g = ctx.b(step.attrs["buffer"])
    d = ctx.p(step.node, "decay")
    return [f"for j in range({g}.shape[0]):", f"    {g}[j] *= {d}"]


@renderer("synapse.deliver")
def _deliver(step: Step, ctx: Ctx) -> list[str]:
    """Spikes of the presynaptic source reach ``g`` through a CSR matrix, maybe delayed."""
    a = step.attrs
    nid, src = step.node, a["source"]
    B = lambda v: ctx.b(f"{nid}.{v}")  # noqa: E731
    g, indptr, post, w = B("g"), B("indptr"), B("post"), B("w")
    # one weight for all synapses (a kernel constant): delivery reads no weight array
    wq = f"{w}[_q]" if ctx.is_array(nid, "wc") else ctx.p(nid, "wc")
    spk = ctx.b(src + ".spk")
    ns = ctx.ns(src)
    multi = ctx.plan.spike_sources[src].multi
    mul = " * _c" if multi else ""
    getc = [f"    _c = {ctx.b(src + '.cnt')}[_k]"] if multi else []
    mode = a["delay_mode"]
    if a.get("release"):  # short-term plasticity: w times the release of the spike(s) (delay 0 only)
        rel = ctx.b(a["release"])
        return [f"for _k in range({ns}):", f"    _i = {spk}[_k]", f"    _r = {rel}[_i]",
                f"    for _q in range({indptr}[_i], {indptr}[_i + 1]):",
                f"        {g}[{post}[_q]] += {wq} * _r"]
    if mode == "none":
        return [f"for _k in range({ns}):", *_prefetch_rows(ctx, nid, ns, lambda k: f"{spk}[{k}]"),
                f"    _i = {spk}[_k]", *getc,
                f"    for _q in range({indptr}[_i], {indptr}[_i + 1]):",
                f"        {g}[{post}[_q]] += {wq}{mul}"]
    if mode == "ring":  # homogeneous delay: ring of past spike lists, D = delay_steps + 1 rows
        ri, rn = B("ring_idx"), B("ring_n")
        rc = B("ring_cnt") if multi else None
        lines = [f"_D = {rn}.shape[0]", "_w = t % _D", f"{rn}[_w] = {ns}",
                 f"for _k in range({ns}):", f"    {ri}[_w, _k] = {spk}[_k]"]
        if multi:
            lines.append(f"    {rc}[_w, _k] = {ctx.b(src + '.cnt')}[_k]")
        pf = _prefetch_rows(ctx, nid, f"{rn}[_r]", lambda k: f"{ri}[_r, {k}]")
        lines += ["_r = (t + 1) % _D", f"for _k in range({rn}[_r]):", *pf, f"    _i = {ri}[_r, _k]"]
        if multi:
            lines.append(f"    _c = {rc}[_r, _k]")
        lines += [f"    for _q in range({indptr}[_i], {indptr}[_i + 1]):",
                  f"        {g}[{post}[_q]] += {wq}{mul}"]
        return lines
    # per-synapse delays: accumulate into a ring of future inputs
    acc, dl = B("acc"), B("delay")
    return ["_D = " + acc + ".shape[0]",
            f"for _k in range({ns}):", f"    _i = {spk}[_k]", *getc,
            f"    for _q in range({indptr}[_i], {indptr}[_i + 1]):",
            f"        {acc}[(t + {dl}[_q]) % _D, {post}[_q]] += {wq}{mul}",
            "_r = t % _D", f"for j in range({g}.shape[0]):", f"    {g}[j] += {acc}[_r, j]", f"    {acc}[_r, j] = 0.0"]
