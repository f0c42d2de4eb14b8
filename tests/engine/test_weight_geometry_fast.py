"""monitor.weight_geometry across resets: what depends only on the connectivity, the seed,
the monitor's parameters and the first weights is reused, never stale, and the results are
exactly those of a fresh simulation."""
from __future__ import annotations

import numpy as np
import pytest

import components.monitor_weight_geometry as mwg
from engine import Simulation
from tests.helpers import node, small_coba


def geo_design(n=400, plastic=False, seed=1, **geo):
    d = small_coba(n, seed=seed)
    d["nodes"].append(node("geo", "monitor.weight_geometry", **geo))
    d["edges"].append({"id": "m-geo", "source": "ee", "sourceHandle": "weights", "target": "geo",
                       "targetHandle": "weights"})
    if plastic:
        d["nodes"].append(node("stdp", "plasticity.stdp", a_plus=0.006, a_minus=0.0063, w_min=0.0, w_max=1.2))
        d["edges"].append({"id": "stdp-ee", "source": "stdp", "sourceHandle": "rule", "target": "ee",
                           "targetHandle": "rule"})
    return d


def arrays(sim):
    n = sim.graph.nodes["geo"]
    return n.type.arrays(n, sim)


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def fresh(design, ms=300.0):
    sim = Simulation(design)
    sim.run(ms)
    return arrays(sim)


@pytest.fixture
def count_snapshots(monkeypatch):
    calls = []
    orig = mwg._GeomState._snapshot

    def spy(self, t_ms, w):
        calls.append(t_ms)
        return orig(self, t_ms, w)

    monkeypatch.setattr(mwg._GeomState, "_snapshot", spy)
    return calls


@pytest.mark.parametrize("plastic", [False, True])
def test_a_reset_reuses_the_first_snapshot_and_matches_a_fresh_run(plastic, count_snapshots):
    d = geo_design(plastic=plastic)
    sim = Simulation(d)
    sim.run(300.0)
    first = arrays(sim)
    memo = sim.node_state("geo", lambda: None)._memo
    n_first = len(count_snapshots)
    assert n_first == (4 if plastic else 1)  # static: one snapshot, the others unchanged
    sim.reset()
    sim.run(300.0)
    again = arrays(sim)
    assert sim.node_state("geo", lambda: None)._memo is memo  # rows not drawn again
    # the t = 0 snapshot comes from the memo: static runs compute nothing after a reset
    assert len(count_snapshots) - n_first == (3 if plastic else 0)
    assert_same(again, first)
    assert_same(again, fresh(d))


@pytest.mark.parametrize("edit", ["seed", "p", "weight_gl", "max_rows", "ref_rank"])
def test_an_edit_before_a_reset_is_never_answered_from_stale_data(edit):
    d = geo_design()
    sim = Simulation(d)
    sim.run(300.0)
    before = arrays(sim)
    edited = geo_design()
    if edit == "seed":
        sim.design.meta["seed"] = 7
        edited = geo_design(seed=7)
    else:
        nid, value = {"p": ("ee", 0.15), "weight_gl": ("ee", 0.9), "max_rows": ("geo", 64),
                      "ref_rank": ("geo", 2)}[edit]
        sim.set_param(nid, edit, value)
        next(n for n in edited["nodes"] if n["id"] == nid)["data"][edit] = value
    sim.reset()
    sim.run(300.0)
    after = arrays(sim)
    assert_same(after, fresh(edited))
    if edit != "ref_rank":  # (the reference rank only changes a cosine that is NaN for static weights)
        assert not all(np.array_equal(after[k], before[k], equal_nan=True) for k in before)


def _views(st):
    out = st.take()
    return {k: v for k, v in out.items() if k in ("spectrum", "histogram", "pcs")}


def test_restored_views_equal_computed_ones_and_are_copies():
    sim = Simulation(geo_design())
    n = sim.graph.nodes["geo"]
    w = sim.plan.buffers["ee.w"].copy()  # writable: the memo must keep its own copy
    st = n.type.state(n, sim)
    st.analyse(0.0, w)
    v1 = _views(st)
    kept = st._memo.first[0]
    assert kept is not w and not kept.flags.writeable
    w2 = w.copy()
    w[:] = 0.0  # a later change of the caller's array does not reach the memo
    sim.reset()
    st2 = n.type.state(n, sim)
    assert st2 is not st
    st2.analyse(0.0, w2)
    assert st2._memo is st._memo
    v2 = _views(st2)
    assert v1.keys() == v2.keys() == {"spectrum", "histogram", "pcs"}
    for name in v1:
        for f in v1[name]:
            np.testing.assert_array_equal(v1[name][f], v2[name][f])
            assert v1[name][f] is not v2[name][f]
    np.testing.assert_array_equal(st2.last_s, st.last_s)
    assert st2.last_s is not st.last_s
    # different first weights after a reset: computed afresh
    sim.reset()
    st3 = n.type.state(n, sim)
    st3.analyse(0.0, w2 * 1.5)
    assert st3.traces.last["top_singular_value"] == pytest.approx(1.5 * st.traces.last["top_singular_value"],
                                                                  rel=1e-12)
