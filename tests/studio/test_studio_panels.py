"""The studio's catalog panels: every studio run is recorded, the Runs panel compares and
reopens runs, the Sweep panel runs the design's sweep on Dask with results filling in."""
from __future__ import annotations

import pytest

from engine.catalog import Catalog
from studio import Studio
from tests.engine.test_sweep import sweep_design
from tests.helpers import small_coba


def test_studio_runs_are_recorded_and_compared_in_the_runs_panel():
    st = Studio(small_coba(200), recovery=False)
    st.run(100.0, block=True)
    st.seed.value = 2  # the run bar's seed: the next run is another trial
    st.reset()
    st.run(100.0, block=True)
    cat = Catalog()
    runs = cat.runs(kind="studio", limit=2)
    assert [r["status"] for r in runs] == ["done", "done"]
    assert {r["seed"] for r in runs} == {1, 2}
    rp = st.runs_panel
    rp.reload()
    assert [r["id"] for r in rp.rows[:2]] == [r["id"] for r in runs]
    assert rp.table.object.count("<tr>") == len(rp.rows) + 1
    c = rp.compare([r["id"] for r in runs])
    assert c["params"] == {"meta.seed": [runs[0]["seed"], runs[1]["seed"]]}  # the only difference
    assert any(k.startswith("exc.") for k in c["measures"])
    assert "parameters that differ" in rp.compare_pane.object and "measures" in rp.compare_pane.object
    rp.select.value = [runs[1]["id"]]
    assert rp.open_design()
    assert st.design.name == runs[1]["design_name"]


def test_a_paused_studio_run_is_recorded_as_interrupted():
    st = Studio(small_coba(200), recovery=False)
    st._record_start(50.0)
    st._run_target_ms = 50.0
    st.plots.attach(st._ensure_sim())
    st.sim.run(20.0)  # as if paused at 20 ms of a 50-ms run
    st._record_finish(None)
    r = Catalog().runs(kind="studio", limit=1)[0]
    assert r["status"] == "interrupted" and r["sim_ms"] == pytest.approx(20.0)


def test_sweep_panel_runs_the_design_sweep_and_fills_table_and_plots():
    pytest.importorskip("distributed")
    d = sweep_design(duration_ms=300.0, weights=(3.0, 5.0), seeds=(1,))
    st = Studio(d, recovery=False)
    sp = st.sweep_panel
    sp.describe()
    assert "2 points" in sp.spec_pane.object and not sp.start_button.disabled
    sp.workers.value = 1
    sp.start(block=True)
    assert sp.error is None, sp.error
    assert "2 computed" in sp.status.object
    assert sp.table.object.count("<tr>") == 3  # header + 2 points
    assert len(sp.plots.objects) >= 1  # a measure vs syn.weight_mv
    # a rerun reuses both points
    sp.start(block=True)
    assert "0 computed, 2 reused" in sp.status.object


def test_sweep_panel_explains_a_design_without_a_sweep():
    st = Studio(small_coba(200), recovery=False)
    st.sweep_panel.describe()
    assert "no sweep" in st.sweep_panel.spec_pane.object and st.sweep_panel.start_button.disabled
