"""The run catalog (engine/catalog.py): recording, transactional writes, a killed run, concurrent
writers, parameter diffs, and the ``gliaflow run --record`` / ``gliaflow runs`` commands."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine import Simulation, cli
from engine.catalog import Catalog, CatalogError, design_hash, flat_params, param_diff, summary_measures
from tests.helpers import design, node

BIN = Path(sys.executable).parent


def tiny(seed: int = 1, weight: float = 4.0) -> dict:
    return design([node("stim", "stimulus.poisson", n=100, rate_hz=50.0),
                   node("syn", "projection.synapses", p=0.1, weight_mv=weight),
                   node("E", "neuron.lif", n=100),
                   node("E_spikes", "monitor.spikes"),
                   node("act", "monitor.activity", window_ms=50.0)],
                  [("stim.spikes", "syn.pre"), ("syn.post", "E.drive"), ("E.spikes", "E_spikes.spikes"),
                   ("E.spikes", "act.spikes")], name="tiny", duration_ms=300.0, seed=seed)


def test_a_recorded_run_keeps_everything(tmp_path):
    cat = Catalog(tmp_path)  # a folder gets catalog.sqlite
    assert cat.path == tmp_path / "catalog.sqlite" and cat.integrity_check() == "ok"
    assert cat._q("PRAGMA journal_mode")[0][0] == "wal"
    d = tiny()
    with cat.record(d, kind="studio", seed=3, duration_ms=300.0) as rec:
        sim = Simulation(d, seed=3)
        sim.run(300.0)
        rec.finish(sim)
    r = cat.run(rec.id)
    assert (r["kind"], r["status"], r["seed"], r["backend"], r["duration_ms"]) == ("studio", "done", 3, "numba", 300.0)
    assert r["design_hash"] == design_hash(d) and r["design"] == d
    assert r["version"] and r["host"] and r["pid"] == os.getpid() and r["finished"] >= r["started"]
    assert r["wall_s"] > 0 and r["summary"]["sim_ms"] == 300.0
    assert r["measures"] == summary_measures(sim.summary())
    assert r["measures"]["E.rate_hz"] > 0 and "act.synchrony" in r["measures"]
    # the data file lives next to the catalog: spikes and traces
    assert Path(r["data_path"]).parent == tmp_path / "catalog_data"
    t, i = sim.spikes("E_spikes")
    data = cat.data(rec.id)
    np.testing.assert_array_equal(data["monitors/E_spikes/t_ms"], t)
    tr = cat.traces(rec.id)
    assert set(tr["act"]) >= {"t_ms", "rate_hz"} and len(tr["E"]["hz"]) == len(tr["E"]["t_ms"])
    # the design as run: seed written in
    assert cat.design(rec.id).meta["seed"] == 3 and cat.design(rec.id, effective=False).meta["seed"] == 1
    assert [x["id"] for x in cat.runs()] == [rec.id] and cat.runs(kind="run") == []


def test_an_exception_or_ctrl_c_closes_the_run(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    with pytest.raises(RuntimeError):
        with cat.record(tiny()) as rec:
            raise RuntimeError("boom")
    assert cat.run(rec.id)["status"] == "failed" and cat.run(rec.id)["error"] == "RuntimeError: boom"
    with pytest.raises(KeyboardInterrupt):
        with cat.record(tiny()) as rec2:
            raise KeyboardInterrupt
    assert cat.run(rec2.id)["status"] == "interrupted"


def test_writes_are_transactional(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    rid = cat.start_run(tiny())
    n_designs = cat._q("SELECT COUNT(*) FROM designs")[0][0]
    # a finish whose row cannot be written (NaN is not JSON) leaves the run as it was, and no data file
    with pytest.raises(ValueError):
        cat.finish_run(rid, summary={"sim_ms": 1.0, "bad": float("nan")}, measures={"x": 1.0},
                       data={"a": np.arange(3)})
    r = cat.run(rid)
    assert r["status"] == "running" and r["summary"] is None and r["data_path"] is None
    assert list((tmp_path / "c_data").glob("*.npz")) == []
    # an insert that fails half way (bad status) stores neither the run nor its new design nor its data
    with pytest.raises(sqlite3.IntegrityError):
        cat.add_run(tiny(weight=5.0), status="bogus", measures={"x": 1}, data={"a": np.arange(3)})
    assert cat._q("SELECT COUNT(*) FROM designs")[0][0] == n_designs
    assert len(cat.runs()) == 1 and list((tmp_path / "c_data").glob("*.npz")) == []
    assert cat.integrity_check() == "ok"


def test_a_newer_catalog_is_refused(tmp_path):
    db = tmp_path / "c.sqlite"
    Catalog(db).close()
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version=99")
    con.close()
    with pytest.raises(CatalogError, match="schema 99"):
        Catalog(db)


def _wait_for(pred, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_kill_9_of_a_recorded_run_leaves_a_consistent_catalog(tmp_path):
    db = tmp_path / "cat.sqlite"
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(tiny()))
    for seed in (1, 2):  # earlier runs
        assert cli.main(["run", str(path), "--record", "--catalog", str(db), "--seed", str(seed), "--quiet"]) == 0
    before = {r["id"]: r for r in Catalog(db).runs()}
    assert len(before) == 2 and all(r["status"] == "done" for r in before.values())
    p = subprocess.Popen([str(BIN / "gliaflow"), "run", str(path), "--record", "--catalog", str(db),
                          "--duration-ms", "1e9", "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        watcher = Catalog(db, recover=False)
        row = _wait_for(lambda: watcher.runs(status="running"), 60, "the run row")[0]
        assert row["seed"] == 1 and row["duration_ms"] == 1e9
        time.sleep(0.5)  # well inside the run
        assert p.poll() is None, p.stderr.read()
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    assert watcher.run(row["id"])["status"] == "running"  # nobody has looked yet
    cat = Catalog(db)  # opening notices that the writer is gone
    r = cat.run(row["id"])
    assert r["status"] == "failed" and "process gone" in r["error"] and str(p.pid) in r["error"]
    assert r["finished"] is not None and r["data_path"] is None
    assert {x["id"]: x for x in cat.runs() if x["id"] in before} == before  # earlier runs intact
    assert cat.integrity_check() == "ok"
    assert Catalog(db).run(row["id"])["status"] == "failed"


WRITER = r"""
import sys, numpy as np
from engine.catalog import Catalog
db, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
doc = {"schema_version": 1, "meta": {"name": tag, "seed": 1}, "nodes": [
    {"id": "s", "type": "stimulus.poisson", "data": {"n": 3}}], "edges": []}
cat = Catalog(db, timeout_s=120)
for k in range(n):
    if k % 2:
        rid = cat.start_run(doc, seed=k, duration_ms=1.0)
        cat.finish_run(rid, summary={"sim_ms": 1.0}, measures={"k": k, "tag": 0}, data={"x": np.full(50, k)})
    else:
        cat.add_run(doc, seed=k, duration_ms=1.0, measures={"k": k}, data={"x": np.full(50, k)})
print("ok")
"""


def test_concurrent_writers_do_not_corrupt_the_catalog(tmp_path):
    db = tmp_path / "cat.sqlite"
    n = 120
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), tag, str(n)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for tag in ("studio", "cli")]
    reads = 0
    while any(p.poll() is None for p in procs):  # a reader alongside
        if db.exists():
            try:
                with Catalog(db, recover=False) as c:
                    c.runs(limit=5)
                    reads += 1
            except CatalogError:
                pass
        time.sleep(0.02)
    for p in procs:
        out, err = p.communicate()
        assert p.returncode == 0 and out.strip() == "ok", err
    cat = Catalog(db)
    assert cat.integrity_check() == "ok"
    runs = cat.runs()
    assert len(runs) == 2 * n and all(r["status"] == "done" for r in runs)
    for tag in ("studio", "cli"):
        assert sorted(r["measures"]["k"] for r in runs if r["design_name"] == tag) == list(range(n))
    for r in runs[:10]:
        assert cat.data(r["id"])["x"][0] == r["measures"]["k"]
    assert len(list((tmp_path / "cat_data").glob("*.npz"))) == 2 * n
    assert reads > 0


def test_param_diff_names_the_node_parameters_that_differ():
    a, b = tiny(seed=1), tiny(seed=2, weight=5.0)
    b["nodes"][2]["data"]["tau_m_ms"] = 20.0  # the default, written out: not a difference
    b["nodes"][0]["position"] = {"x": 100, "y": 0}  # layout: not a difference
    assert param_diff([a, b]) == {"meta.seed": [1, 2], "syn.weight_mv": [4.0, 5.0]}
    assert design_hash(a) != design_hash(b)
    c = json.loads(json.dumps(a))
    c["nodes"] = c["nodes"][:-1]
    c["edges"] = c["edges"][:-1]
    diff = param_diff([a, c])
    assert diff["act.type"] == ["monitor.activity", None] and diff["act.window_ms"] == [50.0, None]
    assert diff["edge E.spikes -> act.spikes"] == [True, None]
    assert flat_params(a)["E.tau_m_ms"] == 20.0  # defaults filled in


def test_run_record_and_runs_commands(tmp_path, capsys):
    db = str(tmp_path / "cat.sqlite")
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(tiny()))
    assert cli.main(["run", str(path), "--quiet"]) == 0 and not Path(db).exists()  # off by default
    assert cli.main(["run", str(path), "--record", "--catalog", db, "--quiet", "--json"]) == 0
    assert cli.main(["run", str(path), "--record", "--catalog", db, "--quiet", "--seed", "7",
                     "--record-data", "traces", "--out", str(tmp_path / "r.npz")]) == 0
    capsys.readouterr()
    assert cli.main(["runs", "list", "--catalog", db, "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [r["seed"] for r in runs] == [7, 1] and {r["kind"] for r in runs} == {"run"}
    new, old = runs[0]["id"], runs[1]["id"]
    assert cli.main(["runs", "show", str(new), "--catalog", db]) == 0
    out = capsys.readouterr().out
    assert "status        done" in out and "E.rate_hz" in out and str(tmp_path / "r.npz") in out
    data = Catalog(db).data(new)
    assert "rates/E/hz" in data and not any(k.startswith("spikes/") for k in data)  # traces only
    assert "spikes/E/t_ms" in Catalog(db).data(old)
    assert cli.main(["runs", "compare", str(old), str(new), "--catalog", db]) == 0
    out = capsys.readouterr().out
    assert "E.rate_hz" in out and "meta.seed" in out
    assert cli.main(["runs", "compare", str(old), str(new), "--catalog", db, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["params"] == {"meta.seed": [1, 7]}
    assert cli.main(["runs", "rm", str(old), "--catalog", db]) == 0
    assert cli.main(["runs", "show", str(old), "--catalog", db]) == 2
    assert f"no run {old}" in capsys.readouterr().err
    assert [r["id"] for r in Catalog(db).runs()] == [new]
    # a divergent run is recorded as failed with the message
    bad = tiny()
    bad["nodes"][2]["data"].update(i_bias_mv=1e4, refractory_ms=0.0)  # fires at every step: runaway
    path.write_text(json.dumps(bad))
    rc = cli.main(["run", str(path), "--record", "--catalog", db, "--quiet"])
    r = Catalog(db).runs()[0]
    assert (rc, r["status"]) == (3, "failed") and "diverged" in r["error"]
