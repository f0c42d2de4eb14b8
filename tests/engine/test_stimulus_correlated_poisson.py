"""``stimulus.correlated_poisson``: the keyed draws, the rates and the pairwise correlation c."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine import Simulation, rng, validate
from tests.helpers import design, node

DT = 0.1


def sim_of(dur_ms=1000.0, seed=1, **data):
    d = design([node("p", "stimulus.correlated_poisson", **data), node("m", "monitor.spikes")],
               [("p.spikes", "m.spikes")], dt_ms=DT, seed=seed)
    sim = Simulation(d)
    sim.run(dur_ms)
    return sim


def counts(sim, n, bin_ms):
    """(sources, bins) spike counts of monitor 'm' (multi-count events expanded by sim.spikes)."""
    t, i = sim.spikes("m")
    b = np.floor(t / bin_ms + 1e-9).astype(np.int64)
    C = np.zeros((n, int(round(sim.t_ms / bin_ms))))
    np.add.at(C, (i, b), 1.0)
    return C


# --- the equations, reimplemented from engine.rng's numpy generator ----------------------------
def _poisson_ref(u, lam):
    k, p = 0, math.exp(-lam)
    f = p
    while u > f and k < 10000:
        k += 1
        p *= lam / k
        f += p
        if p == 0.0 and f < u:
            break
    return k


def _binomial_ref(u, k, c):
    if c >= 1.0:
        return k
    q, p = 1.0 - c, 1.0
    for _ in range(k):
        p *= q
    f, j, r = p, 0, c / q
    while u >= f and j < k:
        p *= (k - j) / (j + 1.0) * r
        j += 1
        f += p
    return j


def reference(seed, nid, n, rate_hz, n_groups, size, c, steps):
    """Spike counts (steps, n) of the MIP as the module docstring writes it, from engine.rng."""
    km, ks = rng.node_key(seed, nid, "mother"), rng.node_key(seed, nid, "spikes")
    lam = rate_hz * DT * 1e-3
    out = np.zeros((steps, n), np.int64)
    grouped = n_groups * size if c > 0 else 0
    for t in range(steps):
        u = rng.uniform_np(ks, t, np.arange(n))
        if grouped:
            um = rng.uniform_np(km, t, np.arange(n_groups))
            for g in range(n_groups):
                k = _poisson_ref(um[g], lam / c)
                if k:
                    for i in range(g * size, (g + 1) * size):
                        out[t, i] = _binomial_ref(u[i], k, c)
        for i in range(grouped, n):
            out[t, i] = _poisson_ref(u[i], lam)
    return out


def test_spikes_equal_the_keyed_reference_draw_for_draw():
    """Every count is the inversion of the uniform keyed (seed, node, stream, step, index):
    the kernel equals a plain-Python reimplementation exactly (what another backend must draw)."""
    n, steps = 60, 3000
    sim = sim_of(steps * DT, seed=7, n=n, rate_hz=80.0, n_groups=2, group_size=20, correlation=0.3)
    t, i = sim.spikes("m")
    got = np.zeros((steps, n), np.int64)
    np.add.at(got, (np.rint(t / DT).astype(np.int64), i), 1)
    want = reference(7, "p", n, 80.0, 2, 20, 0.3, steps)
    assert want.sum() > 1000
    np.testing.assert_array_equal(got, want)


def test_rates_and_pairwise_correlation():
    """1000 sources at 20 Hz for 20 s, two groups of 200 with c = 0.2; counts in 10-ms bins.

    MIP: every source is Poisson at r; two sources of one group have count correlation
    c^2 (r/c) / r = c in any bin size; other pairs 0. Mean rate per group: 200 x 400 spikes,
    sd ~ sqrt(c-shared variance) ~ 1 %, so 5 % is loose. The mean of 19 900 pairwise
    coefficients over 2000 bins has sd ~ 0.005 (they share the mother train), so +-0.03."""
    n, c, r = 1000, 0.2, 20.0
    sim = sim_of(20_000.0, n=n, rate_hz=r, n_groups=2, group_size=200, correlation=c)
    C = counts(sim, n, 10.0)
    rates = C.sum(1) / 20.0
    for sl in (slice(0, 200), slice(200, 400), slice(400, None)):
        assert abs(rates[sl].mean() - r) < 0.05 * r
    R = np.corrcoef(C)
    iu = np.triu_indices(200, 1)
    g0, g1 = R[:200, :200][iu].mean(), R[200:400, 200:400][iu].mean()
    across, indep = R[:200, 200:400].mean(), R[400:, 400:][np.triu_indices(600, 1)].mean()
    assert abs(g0 - c) < 0.03 and abs(g1 - c) < 0.03, (g0, g1)
    assert abs(across) < 0.03 and abs(indep) < 0.01, (across, indep)


def test_extreme_correlations():
    """c = 1: a group's sources are one train; c = 0: every source is independent Poisson."""
    sim = sim_of(2000.0, n=30, rate_hz=40.0, n_groups=1, group_size=10, correlation=1.0)
    C = counts(sim, 30, DT)
    assert C[:10].sum() > 500 and np.all(C[:10] == C[0])
    assert not np.array_equal(C[10], C[11])
    sim0 = sim_of(2000.0, n=30, rate_hz=40.0, n_groups=1, group_size=10, correlation=0.0)
    C0 = counts(sim0, 30, 10.0)
    assert np.abs(np.corrcoef(C0)[np.triu_indices(30, 1)]).max() < 0.3


def test_chunking_does_not_change_the_trains():
    d = dict(n=100, rate_hz=50.0, n_groups=3, group_size=20, correlation=0.4)
    a = sim_of(300.0, **d)
    b = Simulation(a.design)
    for _ in range(30):
        b.run(10.0)
    for x, y in zip(a.spikes("m"), b.spikes("m")):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("data, param", [
    (dict(n=100, n_groups=3, group_size=40), "group_size"),
    (dict(n=100, rate_hz=50.0, correlation=1e-6), "correlation"),
])
def test_bad_groups_are_refused_naming_the_parameter(data, param):
    d = design([node("p", "stimulus.correlated_poisson", **data)], [], dt_ms=DT)
    errs = [p for p in validate(d) if p.severity == "error"]
    assert errs and errs[0].node == "p" and errs[0].param == param, errs
