"""Parameter sweeps (engine/sweep.py): spec validation, points, Dask runs, resume, lost workers,
a separately started scheduler, and the ``gliaflow sweep`` / ``runs compare --sweep`` commands.

The design is small (100 Poisson inputs -> 200 LIF neurons, an activity monitor) so a point
takes about a second; a sweep is 3 weights x 2 seeds.
"""
from __future__ import annotations

import copy
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.catalog import Catalog, apply_params, design_hash
from engine.errors import DesignError
from engine.sweep import Sweep, make_points, parse_sweep, run_point
from engine.validate import validate
from tests.helpers import ROOT, design, node

pytest.importorskip("distributed")

BIN = Path(sys.executable).parent
MEASURES = ["E.rate_hz", "act.cv_isi", "act.synchrony:mean"]


def sweep_design(duration_ms: float = 2000.0, weights=(3.0, 4.0, 5.0), seeds=(1, 2)) -> dict:
    d = design([node("stim", "stimulus.poisson", n=100, rate_hz=50.0),
                node("syn", "projection.synapses", p=0.1, weight_mv=4.0),
                node("E", "neuron.lif", n=200),
                node("act", "monitor.activity", window_ms=100.0)],
               [("stim.spikes", "syn.pre"), ("syn.post", "E.drive"), ("E.spikes", "act.spikes")],
               name="sweep_test", duration_ms=1000.0)
    d["sweep"] = {"params": [{"node": "syn", "param": "weight_mv", "values": list(weights)}],
                  "seeds": list(seeds), "duration_ms": duration_ms, "measures": MEASURES}
    return d


def results(cat: Catalog, sweep_id: int) -> dict:
    """Every recorded measure of every point but the wall time, by point key."""
    return {p["point_key"]: {k: v for k, v in p["measures"].items() if k != "wall_s"}
            for p in cat.sweep_points(sweep_id)}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The sweep run once on the default local cluster (2 worker processes, one thread each)."""
    cat = Catalog(tmp_path_factory.mktemp("ref") / "cat.sqlite")
    seen = []
    res = Sweep(sweep_design(), catalog=cat, workers=2).run(on_point=seen.append)
    return cat, res, seen


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                           scheduler_kwargs={"dashboard_address": ":0"}, silence_logs=50)
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


# --- the spec ---------------------------------------------------------------------------------------
def _problems(sweep: dict) -> list:
    d = sweep_design()
    d["sweep"] = sweep
    return [p for p in validate(d) if p.code.startswith("sweep.")]


def test_bad_sweep_specs_name_the_node_and_parameter():
    cases = [
        ({"params": [{"node": "astro", "param": "w_astro", "values": [1]}]}, "sweep.node", "astro", "w_astro",
         "not a node of this design"),
        ({"params": [{"node": "syn", "param": "bogus_mv", "values": [1]}]}, "sweep.param", "syn", "bogus_mv",
         "has no parameter 'bogus_mv'"),
        ({"params": [{"node": "syn", "param": "p", "values": [0.1, 1.5]}]}, "sweep.value", "syn", "p",
         "value #1 of syn.p is 1.5, outside [0, 1]"),
        ({"params": [{"node": "E", "param": "n", "range": [10, 20]}]}, "sweep.range", "E", "n", "needs 'n'"),
        ({"params": [{"node": "syn", "param": "weight_mv", "range": [0, 2], "n": 3, "scale": "log"}]},
         "sweep.range", "syn", "weight_mv", "log range needs lo > 0"),
        ({"params": [{"node": "E", "param": "method", "range": [0, 1], "n": 2}]}, "sweep.range", "E", "method",
         "a range needs a number"),
        ({"params": [{"node": "syn", "param": "weight_mv", "values": [1], "range": [1, 2]}]}, "sweep.values",
         "syn", "weight_mv", "exactly one of 'values' or 'range'"),
        ({"params": [{"node": "syn", "param": "weight_mv", "values": [1]}], "measures": ["act.bogus:avg"]},
         "sweep.measure", "act", None, "unknown aggregate 'avg'"),
        ({"params": [{"node": "syn", "param": "weight_mv", "values": [1]}], "measures": ["nope.rate_hz"]},
         "sweep.measure", "nope", None, "not a node of this design"),
    ]
    for sweep, code, nid, param, text in cases:
        probs = _problems(sweep)
        assert len(probs) == 1, (sweep, [str(p) for p in probs])
        p = probs[0]
        assert (p.code, p.node, p.param) == (code, nid, param), str(p)
        assert text in p.message, str(p)
    # everything at once, and the top level: mode, seeds, samples, unknown keys
    probs = _problems({"params": [], "mode": "grd", "seeds": [1, 1], "samples": 3, "extra": 1})
    assert {p.code for p in probs} == {"sweep.params", "sweep.mode", "sweep.seeds", "sweep.unknown_key",
                                       "sweep.samples"}
    with pytest.raises(DesignError) as e:
        parse_sweep({**sweep_design(), "sweep": {"params": [{"node": "syn", "param": "wieght_mv", "values": [1]}]}})
    assert "node 'syn', parameter 'wieght_mv'" in str(e.value) and "weight_mv" in str(e.value)
    with pytest.raises(DesignError, match="has no 'sweep' key"):
        parse_sweep({k: v for k, v in sweep_design().items() if k != "sweep"})


def test_a_measure_the_run_does_not_report_is_refused_before_anything_runs(tmp_path):
    d = sweep_design()
    d["sweep"]["measures"] = ["E.rate_hz", "act.entropy"]
    with pytest.raises(DesignError) as e:
        Sweep(d, catalog=tmp_path / "c.sqlite")
    p = e.value.errors[0]
    assert p.code == "sweep.measure" and p.node == "act"
    assert "act.cv_isi" in p.fix and "act.synchrony" in p.fix


def test_points_grid_random_and_stable_keys():
    d = sweep_design()
    d["sweep"]["params"].append({"node": "stim", "param": "rate_hz", "range": [10, 40], "n": 3, "scale": "log"})
    d["sweep"]["params"].append({"node": "E", "param": "n", "range": [10, 20], "n": 4})
    spec = parse_sweep(d)
    pts = make_points(d, spec)
    assert len(pts) == 3 * 3 * 4 * 2
    assert [p.idx for p in pts] == list(range(len(pts)))
    assert pts[0].params == {"syn.weight_mv": 3.0, "stim.rate_hz": 10.0, "E.n": 10} and pts[0].seed == 1
    assert pts[1].params == pts[0].params and pts[1].seed == 2  # seeds vary fastest, then the last axis
    assert [p.params["stim.rate_hz"] for p in pts[:24:8]] == pytest.approx([10.0, 20.0, 40.0])
    assert sorted({p.params["E.n"] for p in pts}) == [10, 13, 17, 20]  # integer parameter: whole numbers
    assert len({p.key for p in pts}) == len(pts)
    assert [p.key for p in make_points(copy.deepcopy(d), parse_sweep(d))] == [p.key for p in pts]
    # the key is the hash of the design actually computed (what a recorded run's run_key is)
    p = pts[5]
    assert p.key == design_hash(apply_params(d, p.params, seed=p.seed, duration_ms=2000.0, backend="numba"))
    # layout, labels and description do not change keys
    d2 = copy.deepcopy(d)
    d2["nodes"][0]["position"] = {"x": 5, "y": 9}
    d2["meta"]["description"] = "moved"
    assert [q.key for q in make_points(d2, parse_sweep(d2))] == [q.key for q in pts]
    # random mode: reproducible draws within the ranges
    d["sweep"] = {"params": [{"node": "syn", "param": "weight_mv", "range": [1, 4]},
                             {"node": "E", "param": "n", "values": [10, 20]}],
                  "mode": "random", "samples": 5, "sample_seed": 7, "seeds": [3]}
    a, b = make_points(d, parse_sweep(d)), make_points(copy.deepcopy(d), parse_sweep(d))
    assert len(a) == 5 and [x.params for x in a] == [x.params for x in b]
    assert all(1 <= x.params["syn.weight_mv"] <= 4 and x.params["E.n"] in (10, 20) for x in a)


def test_run_point_is_a_pure_function_of_its_inputs():
    d = sweep_design(duration_ms=500.0)
    spec = parse_sweep(d)
    p = make_points(d, spec)[2]
    task = {"design": d, "arrays": None, "params": p.params, "seed": p.seed, "duration_ms": 500.0,
            "backend": "numba", "measures": MEASURES, "save": "traces"}
    a, b = run_point(task), run_point(copy.deepcopy(task))
    assert a["status"] == "done" and a["measures"]["sim_ms"] == 500.0
    strip = lambda m: {k: v for k, v in m.items() if k != "wall_s"}  # noqa: E731
    assert strip(a["measures"]) == strip(b["measures"])
    assert set(MEASURES) <= set(a["measures"]) and a["measures"]["act.synchrony:mean"] is not None
    assert a["data"][:2] == b"PK"  # the traces as an npz
    # a divergent or invalid point fails with the message instead of raising (no retry)
    bad = dict(task, params={"E.tau_m_ms": -1.0})
    r = run_point(bad)
    assert r["status"] == "failed" and "tau_m_ms" in r["error"]


# --- running on Dask --------------------------------------------------------------------------------
def test_local_cluster_sweep_records_every_point(reference):
    cat, res, seen = reference
    assert res.complete and res.computed == 6 and res.reused == 0 and res.workers == 2
    assert res.scheduler == "local:2"
    assert sorted(p.idx for p in seen) == list(range(6))  # one callback per finished point
    pts = cat.sweep_points(res.sweep_id)
    assert [p["status"] for p in pts] == ["done"] * 6
    assert {p["run_id"] for p in pts} == {r["id"] for r in cat.runs(sweep_id=res.sweep_id)}
    # measures grow with the weight; each point's run is a full catalog record
    by_w = {}
    for p in pts:
        by_w.setdefault(p["params"]["syn.weight_mv"], []).append(p["measures"]["E.rate_hz"])
    means = [sum(v) / len(v) for _, v in sorted(by_w.items())]
    assert means[0] < means[1] < means[2], means
    run = cat.run(pts[3]["run_id"])
    assert run["kind"] == "sweep" and run["params"] == {"syn.weight_mv": 4.0} and run["seed"] == 2
    assert run["duration_ms"] == 2000.0 and run["summary"]["sim_ms"] == 2000.0
    assert run["run_key"] == pts[3]["point_key"]
    assert set(cat.traces(run["id"])["act"]) >= {"t_ms", "rate_hz", "synchrony"}
    assert cat.design(run["id"]).node("syn")["data"]["weight_mv"] == 4.0
    assert cat.sweep(res.sweep_id)["status"] == "done"


def test_cancel_then_resume_computes_only_the_missing_points(reference, client, tmp_path):
    ref_cat, ref, _ = reference
    cat = Catalog(tmp_path / "cat.sqlite")
    sw = Sweep(sweep_design(), catalog=cat, client=client)
    first = []

    def stop_after_two(pr):
        first.append(pr)
        if len(first) == 2:
            sw.cancel()

    r1 = sw.run(on_point=stop_after_two)
    assert r1.cancelled and 2 <= r1.computed < 6
    assert cat.sweep(r1.sweep_id)["status"] == "cancelled"
    done1 = {p["idx"]: p["run_id"] for p in cat.sweep_points(r1.sweep_id) if p["status"] == "done"}
    assert len(done1) == r1.computed
    r2 = Sweep(sweep_design(), catalog=cat, client=client).run()
    assert r2.sweep_id == r1.sweep_id and r2.complete
    assert (r2.reused, r2.computed) == (len(done1), 6 - len(done1))
    # every point was executed once over both runs: one run row each, the first ones untouched
    assert len(cat.runs(kind="sweep")) == 6
    assert {i: rid for i, rid in ((p["idx"], p["run_id"]) for p in cat.sweep_points(r2.sweep_id)) if i in done1} == done1
    assert results(cat, r2.sweep_id) == results(ref_cat, ref.sweep_id)
    # nothing left to do: nothing runs; removing a run makes its point pending again
    assert Sweep(sweep_design(), catalog=cat, client=client).run().computed == 0
    cat.remove([done1[min(done1)]])
    r3 = Sweep(sweep_design(), catalog=cat, client=client).run()
    assert (r3.computed, r3.reused) == (1, 5)
    # --fresh: a new sweep that recomputes everything
    r4 = Sweep(sweep_design(), catalog=cat, client=client, resume=False).run()
    assert r4.sweep_id != r1.sweep_id and r4.computed == 6


def test_a_killed_worker_loses_no_point(tmp_path):
    from distributed import Client, LocalCluster

    d = sweep_design(duration_ms=60000.0, weights=(4.0, 5.0))
    cat = Catalog(tmp_path / "cat.sqlite")
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                           scheduler_kwargs={"dashboard_address": ":0"}, silence_logs=50)
    client = Client(cluster)
    try:
        sw = Sweep(d, catalog=cat, client=client)
        one_done = threading.Event()
        sw.start(on_point=lambda pr: one_done.set())
        assert one_done.wait(120), "no point finished"
        pids = client.run(os.getpid)
        busy = None
        deadline = time.time() + 60
        while busy is None and time.time() < deadline:
            busy = next(((w, list(ks)) for w, ks in client.processing().items() if ks), None)
            time.sleep(0.01)
        assert busy is not None, "no point in flight"
        victim, keys = busy
        killed_pid = pids[victim]
        os.kill(killed_pid, signal.SIGKILL)
        t_kill = time.time()
        res = sw.wait(240)
        assert res is not None and res.complete, res
        assert res.computed == 4 and res.failed == 0
        pts = cat.sweep_points(res.sweep_id)
        assert [p["status"] for p in pts] == ["done"] * 4
        runs = {p["idx"]: cat.run(p["run_id"]) for p in pts}
        # nothing is credited to the dead worker after its death; what it held was computed elsewhere
        assert all(r["finished"] <= t_kill + 0.5 for r in runs.values() if r["pid"] == killed_pid)
        held = [p for p in pts if any(p["point_key"][:16] in k for k in keys)]
        assert held
        assert killed_pid not in client.run(os.getpid).values()  # the nanny started a new worker
        # a point computed again is what an undisturbed run gives
        for p in held:
            if runs[p["idx"]]["pid"] == killed_pid:
                continue  # it finished just before the kill landed
            again = run_point({"design": d, "arrays": None, "params": p["params"], "seed": p["seed"],
                               "duration_ms": 60000.0, "backend": "numba", "measures": MEASURES, "save": "none"})
            assert {k: v for k, v in again["measures"].items() if k != "wall_s"} == \
                {k: v for k, v in p["measures"].items() if k != "wall_s"}
    finally:
        client.close()
        cluster.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_separately_started_scheduler_gives_identical_results(reference, tmp_path):
    from distributed import Client

    ref_cat, ref, _ = reference
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard", "--dashboard-address", ":0"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    try:
        for k in range(2):
            procs.append(subprocess.Popen([str(BIN / "dask"), "worker", addr, "--nthreads", "1", "--nworkers", "1",
                                           "--no-dashboard", "--host", "127.0.0.1", "--name", f"w{k}"],
                                          cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        with Client(addr, timeout="60s") as c:
            c.wait_for_workers(2, timeout=90)
        cat = Catalog(tmp_path / "cat.sqlite")
        res = Sweep(sweep_design(), catalog=cat, scheduler=addr).run()
        assert res.complete and res.scheduler == addr and res.workers == 2
        assert results(cat, res.sweep_id) == results(ref_cat, ref.sweep_id)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


# --- the commands -----------------------------------------------------------------------------------
def _sweep_cli(*args, **kw):
    return subprocess.Popen([str(BIN / "gliaflow"), "sweep", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_killing_the_whole_sweep_then_rerunning_recomputes_only_missing_points(tmp_path):
    # long enough points (~0.6 s each here) that the kill lands after the first point and well
    # before the last: with 6-s points (45 ms each) the whole sweep could end between two polls
    d = sweep_design(duration_ms=120000.0)
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(d))
    db = tmp_path / "cat.sqlite"
    p = _sweep_cli(path, "--workers", "2", "--catalog", db, "--quiet", start_new_session=True)
    done = []
    try:
        deadline = time.time() + 150
        while time.time() < deadline and p.poll() is None:
            if db.exists():
                with Catalog(db, recover=False) as cat:
                    sw = cat.sweeps()
                    if sw and sw[0]["done"] >= 1:
                        break
            time.sleep(0.1)
        assert p.poll() is None, p.communicate()
    finally:
        os.killpg(p.pid, signal.SIGKILL)  # the driver and its local cluster, all at once
        p.wait()
    cat = Catalog(db)  # opening marks the dead sweep interrupted
    sid = cat.sweeps()[0]["id"]
    assert cat.sweep(sid)["status"] == "interrupted"
    done = [q for q in cat.sweep_points(sid) if q["status"] == "done"]
    assert 1 <= len(done) < 6
    assert cat.integrity_check() == "ok"
    q = _sweep_cli(path, "--workers", "2", "--catalog", db, "--quiet", "--json", "--out", tmp_path / "pts.csv")
    out, err = q.communicate(timeout=240)
    assert q.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["sweep_id"] == sid
    assert (summary["reused"], summary["computed"]) == (len(done), 6 - len(done))
    assert len(cat.runs(kind="sweep")) == 6  # each point executed (and recorded) once
    rows = (tmp_path / "pts.csv").read_text().splitlines()
    assert rows[0].startswith("idx,seed,status,run_id,syn.weight_mv,E.rate_hz") and len(rows) == 7


def test_runs_compare_sweep_writes_table_figure_and_data(reference, tmp_path, capsys):
    from engine import cli

    cat, res, _ = reference
    sid = str(res.sweep_id)
    assert cli.main(["runs", "compare", "--sweep", sid, "--catalog", str(cat.path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["params"] == ["syn.weight_mv"] and out["measures"] == MEASURES
    assert [m["n"] for m in out["means"]] == [2, 2, 2]
    assert cli.main(["runs", "compare", "--sweep", sid, "--catalog", str(cat.path), "--out",
                     str(tmp_path / "fig.html")]) == 0
    html = (tmp_path / "fig.html").read_text()
    assert "E.rate_hz" in html and "syn.weight_mv" in html and "cdn.bokeh.org" not in html
    assert cli.main(["runs", "compare", "--sweep", sid, "--catalog", str(cat.path), "--out",
                     str(tmp_path / "fig.json")]) == 0
    data = json.loads((tmp_path / "fig.json").read_text())[0]
    line = data["measures"]["E.rate_hz"]
    assert data["x"] == "syn.weight_mv" and line["kind"] == "line" and line["x"] == [3.0, 4.0, 5.0]
    assert len(line["points"]["y"]) == 6 and line["mean"][0] < line["mean"][2]
    text_out = capsys.readouterr()
    assert cli.main(["runs", "sweeps", "--catalog", str(cat.path)]) == 0
    assert "sweep_test" in capsys.readouterr().out
    _ = text_out
