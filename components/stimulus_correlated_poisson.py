"""``stimulus.correlated_poisson``: Poisson sources in groups with a set pairwise correlation.

The correlated groups follow the multiple interaction process (MIP) of Kuhn, Aertsen &
Rotter (2003, Neural Comput. 15:67): every group has a hidden "mother" Poisson train of
rate r/c, and each source of the group copies each mother spike independently with
probability c. Every source is then a Poisson train of rate r, and the spike counts of
two sources of one group, in any window, have correlation coefficient c (their shared
spikes are exactly synchronous). Sources outside the groups are independent Poisson
trains of rate r.

Per time step t (all draws from ``engine.rng``, keyed by seed, node id, stream and step,
so trains do not depend on chunking and any backend can draw the same numbers):

    K_g  = Poisson(r dt / c)              from uniform(step_key(key_mother, t), g)
    n_i  = Binomial(K_g, c)               from uniform(step_key(key_spikes, t), i),  i in group g
    n_i  = Poisson(r dt)                  from uniform(step_key(key_spikes, t), i),  i in no group

both by inversion of one uniform (the source's uniform is drawn only in steps where its
group's mother fired). With c = 0 every source is independent.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from engine.backends.numba_backend import renderer
from engine.errors import Problem
from engine.params import Int, Num
from engine.registry import NodeType, Port, register
from engine.rng import poisson, step_key, uniform

#: largest mother-train mean per step: the inversion in engine.rng.poisson is exact for a few tens
MAX_MOTHER_LAM = 20.0


@numba.njit(cache=True, inline="always")
def binomial(u, k, c):
    """Binomial(k, c) count by inversion of one uniform ``u`` in [0, 1).

    P(0) = (1 - c)^k by k multiplications (the same rounding in every backend), then
    P(j + 1) = P(j) (k - j)/(j + 1) c/(1 - c); the count is the first j with u < P(0..j).
    """
    if c >= 1.0:
        return k
    q = 1.0 - c
    p = 1.0
    for _ in range(k):
        p *= q
    f = p
    j = 0
    r = c / q
    while u >= f and j < k:
        p *= (k - j) / (j + 1.0) * r
        j += 1
        f += p
    return j


@numba.njit(cache=True)
def emit(t, key_m, key, lam, enl, lam_m, enl_m, c, n_groups, size, start, stop, spk, cnt):
    """Spikes of step ``t`` into ``spk``/``cnt`` (source index ascending); returns their number."""
    if t < start or t >= stop:
        return 0
    sk = step_key(key, t)
    n = spk.shape[0]
    ns = 0
    grouped = n_groups * size if c > 0.0 else 0
    if grouped > 0:
        skm = step_key(key_m, t)
        for g in range(n_groups):
            k = poisson(skm, g, lam_m, enl_m)
            if k == 0:
                continue
            for i in range(g * size, (g + 1) * size):
                m = binomial(uniform(sk, i), k, c)
                if m > 0:
                    spk[ns] = i
                    cnt[ns] = m
                    ns += 1
    for i in range(grouped, n):
        k = poisson(sk, i, lam, enl)
        if k > 0:
            spk[ns] = i
            cnt[ns] = k
            ns += 1
    return ns


def mother_lam(rate_hz: float, correlation: float, dt_ms: float) -> float:
    """Mean mother-train spike count per step, r dt / c (0 when c = 0)."""
    return rate_hz * dt_ms * 1e-3 / correlation if correlation > 0 else 0.0


@register
class CorrelatedPoissonStimulus(NodeType):
    """Poisson sources at rate_hz, n_groups groups of group_size of them correlated with coefficient c.

    Group g is sources [g·group_size, (g+1)·group_size); the remaining sources are
    independent. Within a group the sources share spikes (multiple interaction process,
    Kuhn, Aertsen & Rotter 2003): a hidden mother Poisson train of rate rate_hz/c, each
    of whose spikes every source of the group copies with probability c. Every source
    fires at rate_hz; two sources of one group have spike-count correlation c (their
    shared spikes are synchronous); sources of different groups, or outside the groups,
    are independent. Randomness is keyed by (seed, node id, step, source), so trains
    do not depend on chunking.
    """

    type_key = "stimulus.correlated_poisson"
    spiking = True
    ports = (Port("spikes", "out", "spikes", doc="spikes of the sources (groups first)"),)
    n = Int(1000, bounds=(1, 100_000_000), doc="number of sources")
    rate_hz = Num(10.0, bounds=(0, None), doc="firing rate of every source")
    n_groups = Int(1, bounds=(0, None), doc="number of correlated groups (sources 0 .. n_groups·group_size - 1)")
    group_size = Int(100, bounds=(1, None), doc="sources per correlated group")
    correlation = Num(0.1, bounds=(0, 1), doc="spike-count correlation c of two sources of one group "
                      "(the fraction of spikes each shares with the group's mother train: 0 independent, "
                      "1 identical)")
    start_ms = Num(0.0, bounds=(0, None), doc="time of the first possible spike")
    stop_ms = Num(None, bounds=(0, None), allow_none=True, doc="no spikes from this time on (empty: never stop)")

    @classmethod
    def check(cls, node, graph) -> list:
        v = node.values
        out = []
        n, g, s = v.get("n"), v.get("n_groups"), v.get("group_size")
        if all(isinstance(x, int) for x in (n, g, s)) and g * s > n:
            out.append(Problem("error", "param.bounds", f"{g} groups of {s} sources need {g * s} sources, "
                               f"but n = {n}", f"use n >= {g * s}, or fewer or smaller groups",
                               node=node.id, param="group_size"))
        r, c = v.get("rate_hz"), v.get("correlation")
        if isinstance(r, (int, float)) and isinstance(c, (int, float)) and c > 0 and g:
            lam_m = mother_lam(float(r), float(c), float(graph.dt_ms))
            if lam_m > MAX_MOTHER_LAM:
                c_min = float(r) * float(graph.dt_ms) * 1e-3 / MAX_MOTHER_LAM
                out.append(Problem("error", "param.bounds", f"correlation {c} at {r} Hz needs a mother train "
                                   f"of {lam_m:.3g} spikes per step (more than {MAX_MOTHER_LAM:g})",
                                   f"use correlation >= {c_min:.3g}, or 0 for independent sources",
                                   node=node.id, param="correlation"))
        return out

    @classmethod
    def build(cls, node, b) -> None:
        n = b.graph.size(node.id)
        b.spikes(node, n, multi=True)

        def derive(nd):
            v = nd.values
            lam = float(v["rate_hz"]) * b.dt * 1e-3
            c = float(v["correlation"])
            lam_m = mother_lam(float(v["rate_hz"]), c, b.dt)
            stop = v["stop_ms"]
            return {"key_m": b.key(nd.id, "mother"), "key": b.key(nd.id, "spikes"),
                    "lam": lam, "enl": math.exp(-lam), "lam_m": lam_m, "enl_m": math.exp(-lam_m), "c": c,
                    "groups": np.int64(v["n_groups"]), "size": np.int64(v["group_size"]),
                    "start": np.int64(math.ceil(float(v["start_ms"]) / b.dt - 1e-9)),
                    "stop": np.int64(2**62 if stop is None else math.ceil(float(stop) / b.dt - 1e-9))}

        b.set_params(node, derive)
        b.node_info[node.id].update(n=n, multi=True)
        b.step("stimulus", node.id, "correlated_poisson.emit", sets=[f"{node.id}.spk"])
        b.step("monitor", node.id, "count", reads=[f"{node.id}.spk"])


@renderer("correlated_poisson.emit")
def _render(step, ctx):
    nid = step.node
    f = ctx.use(f"{__name__}:emit")
    args = ", ".join(ctx.p(nid, k) for k in ("key_m", "key", "lam", "enl", "lam_m", "enl_m", "c", "groups", "size",
                                             "start", "stop"))
    return [f"{ctx.ns(nid)} = {f}(t, {args}, {ctx.b(nid + '.spk')}, {ctx.b(nid + '.cnt')})"]
