"""The gliaflow command line: run --json, --out, plan, exit codes, Ctrl-C."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.helpers import ROOT, design, node, small_coba


def gf(*args, **kw):
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True, cwd=kw.get("cwd"))


def test_run_coba_json_last_line_and_rates(tmp_path):
    r = gf("run", "gallery/coba.json", "--duration-ms", "1000", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(s) >= {"design", "backend", "seed", "dt_ms", "sim_ms", "wall_s", "compile_s", "realtime_factor",
                      "populations", "monitors"}
    assert s["design"] == "coba" and s["backend"] == "numba" and s["sim_ms"] == pytest.approx(1000.0)
    for pop in ("exc", "inh"):
        p = s["populations"][pop]
        assert set(p) == {"type", "n", "n_spikes", "rate_hz"}
        assert 10 <= p["rate_hz"] <= 40, p
    assert s["realtime_factor"] == pytest.approx(s["wall_s"] / 1.0)
    assert s["monitors"]["exc_spikes"]["n_events"] == s["populations"]["exc"]["n_spikes"]


def test_run_table_and_out_npz(tmp_path):
    d = tmp_path / "small.json"
    d.write_text(json.dumps(small_coba(400)))
    out = tmp_path / "res.npz"
    r = gf("run", str(d), "--duration-ms", "200", "--out", str(out), "--seed", "3")
    assert r.returncode == 0, r.stderr
    assert "population" in r.stdout and "exc" in r.stdout and "rate (Hz)" in r.stdout
    with np.load(out, allow_pickle=False) as z:
        keys = set(z.files)
        assert {"spikes/exc/t_ms", "spikes/exc/i", "spikes/inh/t_ms", "monitors/exc_v/v", "monitors/exc_v/t_ms",
                "design_json"} <= keys
        doc = json.loads(str(z["design_json"]))
        assert doc["meta"]["seed"] == 3
        assert z["spikes/exc/t_ms"].max() < 200.0


def test_plan_prints_buffers_and_ordered_phases():
    r = gf("plan", "gallery/coba.json")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for s in ("buffers:", "exc.v", "ee.g", "[update]", "[deliver]", "[monitor]", "neuron.update", "synapse.deliver"):
        assert s in out
    # readers of a trace run before its decay (Brian2 order: update with old g, then decay)
    assert out.index("neuron.update      exc") < out.index("synapse.decay      ee")


def test_divergence_exit_code_3(tmp_path):
    p = tmp_path / "div.json"
    p.write_text(json.dumps(design([node("bad", "neuron.izhikevich", n=5, a=-5.0)], [], dt_ms=1.0)))
    r = gf("run", str(p), "--duration-ms", "1000")
    assert r.returncode == 3 and "'bad'" in r.stderr and "Traceback" not in r.stderr


def test_ctrl_c_stops_cleanly_and_keeps_data(tmp_path):
    p = tmp_path / "long.json"
    p.write_text(json.dumps(small_coba(2000)))
    out = tmp_path / "partial.npz"
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "run", str(p), "--duration-ms", "600000",
                             "--json", "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    # interrupt once the run is under way (its progress bar has started: a cold kernel cache
    # on a loaded machine can take longer than any fixed wait to compile)
    err_head = ""
    t0 = time.time()
    while "ms [" not in err_head and time.time() - t0 < 240 and proc.poll() is None:
        err_head += proc.stderr.read(1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    stderr = err_head + stderr
    assert proc.returncode == 130, stderr
    s = json.loads(stdout.strip().splitlines()[-1])
    assert s["interrupted"] is True and 0 < s["sim_ms"] < 600000
    with np.load(out) as z:
        assert len(z["spikes/exc/t_ms"]) > 0
    assert "Traceback" not in stderr


def test_internal_error_exit_1(monkeypatch, capsys):
    from engine import cli

    def boom(design):
        raise RuntimeError("synthetic")

    import importlib
    monkeypatch.setattr(importlib.import_module("engine.validate"), "validate", boom)
    assert cli.main(["validate", "gallery/coba.json"]) == 1
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: synthetic" in err and "Traceback" not in err


def test_console_script_installed():
    exe = os.path.join(os.path.dirname(sys.executable), "gliaflow")
    if not os.path.exists(exe):
        pytest.skip("gliaflow console script not installed in this environment")
    r = subprocess.run([exe, "types"], capture_output=True, text=True)
    assert r.returncode == 0 and "neuron.lif_cond" in r.stdout


_ = ROOT
