"""The performance suite (``python -m benchmarks``): its networks, its bookkeeping and one
end-to-end run of its smallest configuration (``--smoke``: COBA-400, one repetition,
gliaflow and NEST). Structure only: speed is never asserted in tests."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from benchmarks.networks import BUILDERS, FAMILIES, design
from benchmarks.report import TARGETS, markdown, targets
from benchmarks.suite import G, summarise
from engine import validate
from tests.helpers import ROOT


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_every_network_is_a_valid_design_without_monitors(family):
    d = design(family, None if family == "nalsm" else 400)
    errors = [p for p in validate(d) if p.severity == "error"]
    assert not errors, errors
    types = {nd["type"] for nd in d["nodes"]}
    assert not any(t.startswith(("monitor.", "readout.")) for t in types)
    ids = {nd["id"] for nd in d["nodes"]}
    assert set(FAMILIES[family]["pops"]) <= ids


def test_network_sizes_and_in_degree():
    d = {nd["id"]: nd["data"] for nd in design("coba", 16000)["nodes"]}
    assert d["exc"]["n"] == 12800 and d["inh"]["n"] == 3200 and d["ee"]["p"] == pytest.approx(80 / 16000)
    b = {nd["id"]: nd["data"] for nd in design("brunel")["nodes"]}
    assert (b["exc"]["n"], b["inh"]["n"], b["ee"]["indegree"], b["ie"]["indegree"]) == (10000, 2500, 1000, 250)
    c = {nd["id"]: nd for nd in design("cuba", 4000)["nodes"]}
    assert c["ee"]["data"]["weight_mv"] == pytest.approx(1.62) and c["ie"]["data"]["weight_mv"] == pytest.approx(-9.0)
    assert c["exc"]["data"]["e_leak_mv"] == -49.0
    with pytest.raises(KeyError, match="unknown benchmark network 'cobra'"):
        design("cobra", 100)


def _run(run_s, bg=0.0, t_ms=1000.0, **kw):
    return {"run_s": run_s, "t_ms": t_ms, "background_cores": bg, "rates_hz": {"exc": 1.0}, **kw}


def test_ratios_are_formed_pair_by_pair_over_clean_repetitions():
    g = dict(ready_s=1.0, compile_s=0.5, warm_same_process_s=0.01, syn_events_per_s=1.0, neuron_steps_per_s=1.0,
             kernel_s=0.1, synapses=10, neurons=5, parallel_kernel=False, spikes={"exc": 3})
    case = {"family": "coba", "sims": {G: {"kind": "gliaflow", "t_ms": 1000.0, "threads": 1},
                                       "peer": {"kind": "nest", "t_ms": 200.0, "threads": 1}}}
    runs = {G: [_run(0.1, **g), _run(0.2, **g), _run(0.1, bg=1.0, **g)],
            # the peer ran 0.2 s of biology: realtime factors 1.0, 3.0 (ratio 10, 15); rep 3 was loaded
            "peer": [_run(0.2, t_ms=200.0), _run(0.6, t_ms=200.0), _run(100.0, t_ms=200.0)]}
    s = summarise(case, runs, max_bg=0.2)
    assert s["peer"]["ratio_to_gliaflow"] == pytest.approx(12.5)  # median of 10 and 15; rep 3 discarded
    # a sim's own median uses its clean runs (the peer's rep 3 was clean: 1.0, 3.0, 500.0)
    assert s["peer"]["clean_pairs"] == 2 and s["peer"]["realtime_factor"] == pytest.approx(3.0)
    assert s[G]["clean_runs"] == 2 and not s[G]["loaded"]
    # no clean run at all: everything is used and the case is marked loaded
    s = summarise(case, {G: [_run(0.1, bg=1.0, **g)], "peer": [_run(0.2, bg=1.0, t_ms=200.0)]}, max_bg=0.2)
    assert s[G]["loaded"] and s["peer"]["ratio_to_gliaflow"] == pytest.approx(10.0)


@pytest.mark.peer
def test_smoke_suite_end_to_end(tmp_path):
    pytest.importorskip("nest", reason="NEST is the smoke run's peer")
    r = subprocess.run([sys.executable, "-m", "benchmarks", "--smoke", "--out", str(tmp_path)], capture_output=True,
                       text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path / "suite-smoke.json").read_text())
    assert res["mode"] == "smoke" and res["command"] == "python -m benchmarks --smoke"
    (c,) = res["cases"]
    assert c["key"] == "coba-400" and not c["errors"]
    sims = c["sims"]
    assert set(sims) == {G, "nest"}
    for lab, s in sims.items():
        assert s["dtype"] == "float64" and s["threads"] == 1 and s["runs"] == 1
        assert s["run_s"] > 0 and s["realtime_factor"] > 0 and set(s["rates_hz"]) == {"exc", "inh"}
        assert all(0 < v < 200 for v in s["rates_hz"].values()), s["rates_hz"]
        assert len(s["background_cores"]) == 1
    assert sims["nest"]["ratio_to_gliaflow"] > 0 and sims[G]["syn_events_per_s"] > 0
    assert sims[G]["synapses"] > 0 and sims[G]["neurons"] == 400
    comp = res["compile"]["coba"]
    assert comp["n"] == 400 and comp["cold_compile_s"] > 0 and comp["warm_same_process_s"] > 0
    assert [t["key"] for t in res["targets"]] == [t[0] for t in TARGETS]
    md = (tmp_path / "suite-smoke.md").read_text()
    assert "## COBA (Brette et al. 2007 benchmark 1) — float64" in md and "| 400 | NEST 3 | 1 |" in md
    assert "float64" in md and "## Targets" in md and "## Compile (gliaflow)" in md
    # the markdown is a pure function of the JSON
    assert markdown(res) == md and targets(res) == res["targets"]


def test_gliaflow_bench_is_the_suite(capsys):
    from engine.cli import main
    with pytest.raises(SystemExit) as e:
        main(["bench", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "python -m benchmarks" in out and "--quick" in out


def test_row_prefetch_changes_no_spike(monkeypatch):
    """The suite's one kernel optimisation (prefetching synapse rows of later spikes, rendered
    for projections past 2^20 synapses) is a cache hint: forced on for a small COBA and for
    delayed delivery (Brunel's ring), every spike stays where it was."""
    import numpy as np

    import engine.backends.numba_backend as nb
    from engine import Simulation

    def spikes(d):
        sim = Simulation(d)
        sim.run(100.0)
        pops = ("exc", "inh")
        return (sim.runner.source, {p: int(sim.plan.buffers[f"{p}.count"][0]) for p in pops},
                {p: sim.plan.buffers[f"{p}.v"].copy() for p in pops})

    for d in (design("coba", 400), design("brunel", 1000)):
        src0, n0, v0 = spikes(d)
        monkeypatch.setattr(nb, "PREFETCH_MIN_SYNAPSES", 0)
        src1, n1, v1 = spikes(d)
        monkeypatch.setattr(nb, "PREFETCH_MIN_SYNAPSES", 1 << 20)
        assert "prefetch" not in src0 and "prefetch" in src1
        assert n0 == n1 and all(n0[p] > 0 for p in n0)
        for p in v0:
            np.testing.assert_array_equal(v0[p], v1[p])
