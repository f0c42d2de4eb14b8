"""``stimulus.poisson``: independent Poisson spike sources."""
from __future__ import annotations

import math

import numba
import numpy as np

from engine.backends.numba_backend import renderer
from engine.params import Choice, Int, Num
from engine.registry import NodeType, Port, register
from engine.rng import poisson, step_key, uniform


@numba.njit(cache=True, inline="always")
def draw(sk, i, lam, exp_neg_lam, bernoulli):
    """Spikes of source ``i`` in the step keyed ``sk``: Poisson(lam), or 1 with probability lam."""
    if bernoulli:
        return 1 if uniform(sk, i) < lam else 0
    return poisson(sk, i, lam, exp_neg_lam)


@numba.njit(cache=True, inline="always")
def emit(t, key, lam, exp_neg_lam, start, stop, bernoulli, spk, cnt):
    """Spikes of step ``t``: source i fires Poisson(lam_i) times (or once with prob. lam_i)."""
    if t < start or t >= stop:
        return 0
    sk = step_key(key, t)
    ns = 0
    n = spk.shape[0]
    for i in range(n):
        li = lam[i] if lam.shape[0] > 1 else lam[0]
        k = draw(sk, i, li, exp_neg_lam[i] if exp_neg_lam.shape[0] > 1 else exp_neg_lam[0], bernoulli)
        if k > 0:
            spk[ns] = i
            cnt[ns] = k
            ns += 1
    return ns


@register
class PoissonStimulus(NodeType):
    """Independent Poisson spike trains at rate_hz (a distribution gives one rate per source).

    Each source emits a Poisson(rate * dt) number of spikes per step (the exact
    discretisation of a Poisson process; 'bernoulli' caps it at one spike per step).
    Randomness is keyed by (seed, node id, step, source), so trains do not depend on chunking.
    """

    type_key = "stimulus.poisson"
    spiking = True
    ports = (Port("spikes", "out", "spikes", doc="spikes of the sources"),)
    n = Int(100, bounds=(1, 100_000_000), doc="number of independent sources")
    rate_hz = Num(10.0, bounds=(0, None), dist=True, doc="firing rate of each source")
    start_ms = Num(0.0, bounds=(0, None), doc="time of the first possible spike")
    stop_ms = Num(None, bounds=(0, None), allow_none=True, doc="no spikes from this time on (empty: never stop)")
    process = Choice("poisson", ["poisson", "bernoulli"],
                     doc="poisson: spike counts per step (exact); bernoulli: at most one spike per step")

    emit_kind = "poisson.emit"  # step kind (subclasses with other kernel parameters render their own)

    @classmethod
    def kernel_params(cls, nd, b, n) -> dict:
        """Kernel parameters of the emit step (re-derived on live edits)."""
        r = b.value(nd, "rate_hz", n)
        lam = np.atleast_1d(np.asarray(r, np.float64) * b.dt * 1e-3).copy()
        stop = nd.values["stop_ms"]
        return {"key": b.key(nd.id, "spikes"), "lam": lam, "enl": np.exp(-lam),
                "start": np.int64(math.ceil(float(nd.values["start_ms"]) / b.dt - 1e-9)),
                "stop": np.int64(2**62 if stop is None else math.ceil(float(stop) / b.dt - 1e-9)),
                "bern": nd.values["process"] == "bernoulli"}

    @classmethod
    def build(cls, node, b) -> None:
        n = b.graph.size(node.id)
        multi = node.values["process"] == "poisson"
        b.spikes(node, n, multi=True)
        b.set_params(node, lambda nd: cls.kernel_params(nd, b, n))
        b.node_info[node.id].update(n=n, multi=multi)
        b.step("stimulus", node.id, cls.emit_kind, sets=[f"{node.id}.spk"])
        b.step("monitor", node.id, "count", reads=[f"{node.id}.spk"])


@renderer("poisson.emit")
def _render(step, ctx):
    nid = step.node
    f = ctx.use(f"{__name__}:emit")
    P = lambda k: ctx.p(nid, k)  # noqa: E731
    return [f"{ctx.ns(nid)} = {f}(t, {P('key')}, {P('lam')}, {P('enl')}, {P('start')}, {P('stop')}, "
            f"{P('bern')}, {ctx.b(nid + '.spk')}, {ctx.b(nid + '.cnt')})"]
