"""The analysis monitors on a running network: they stream every window, keep bounded
memory, do not depend on chunk sizes, and report through summary / npz like any monitor."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from engine import DesignError, Simulation
from tests.helpers import node, small_coba

MONITORS = {
    "act": ("monitor.activity", {"bin_ms": 5.0, "window_ms": 100.0}),
    "ent": ("monitor.entropy", {}),
    "lz": ("monitor.lz", {}),
    "br": ("monitor.branching", {}),
    "dse": ("monitor.dse", {}),
    "geo": ("monitor.weight_geometry", {}),
}


def coba_with_monitors(n=400, **over):
    d = small_coba(n)
    for mid, (key, data) in MONITORS.items():
        data = dict(data, **over.get(mid, {}))
        d["nodes"].append(node(mid, key, **data))
        if key == "monitor.weight_geometry":
            d["edges"].append({"id": f"m-{mid}", "source": "ee", "sourceHandle": "weights", "target": mid,
                               "targetHandle": "weights"})
        else:
            d["edges"].append({"id": f"m-{mid}", "source": "exc", "sourceHandle": "spikes", "target": mid,
                               "targetHandle": "spikes"})
    return d


def _arrays(sim):
    return {mid: sim.graph.nodes[mid].type.arrays(sim.graph.nodes[mid], sim) for mid in MONITORS}


@pytest.fixture(scope="module")
def ran():
    sim = Simulation(coba_with_monitors(), chunk_ms=100.0)
    streamed: dict = {}

    def on_chunk(ch, s):
        for mid, payload in ch.streams.items():
            for name, val in payload.items():
                streamed.setdefault((mid, name), []).append(val)

    sim.subscribe(on_chunk)
    sim.run(1000.0)
    return sim, streamed


def test_every_monitor_streams_values_every_window(ran):
    sim, streamed = ran
    a = _arrays(sim)
    assert len(a["act"]["t_ms"]) == 10 and np.allclose(a["act"]["t_ms"], np.arange(100, 1001, 100))
    # entropy, LZ and branching slide their windows by 100 ms (one value per headless chunk)
    for mid in ("ent", "lz", "br"):
        np.testing.assert_allclose(a[mid]["t_ms"], np.arange(100, 1001, 100), err_msg=mid)
    np.testing.assert_allclose(a["geo"]["t_ms"], np.arange(0, 1001, 100))  # every_ms 100 by default, from t = 0
    # DSE: at its default cadence, once per simulated second on 500 samples of 2 ms
    s = sim.summary()["monitors"]
    assert s["dse"]["computed"] >= 1 and s["dse"]["samples"] >= 500 and np.isfinite(a["dse"]["dse_bits"]).all()
    # what was streamed is what was kept
    for mid, arr in a.items():
        for name in sim.graph.nodes[mid].type.traces:
            got = np.concatenate([v["y"] for v in streamed.get((mid, name), [])]) if (mid, name) in streamed else []
            np.testing.assert_array_equal(got, arr[name])
    # the geometry monitor's other views stream too
    assert ("geo", "spectrum") in streamed and ("geo", "histogram") in streamed


def test_values_are_plausible_and_rates_agree_with_the_population(ran):
    sim, _ = ran
    a = _arrays(sim)
    pop = sim.summary()["populations"]["exc"]["rate_hz"]
    assert np.mean(a["act"]["rate_hz"]) == pytest.approx(pop, rel=1e-9)
    # CV over all intervals so far: at the end, isi_cv on the whole recording
    from engine.analysis import isi_cv
    t, i = sim.spikes("exc")
    assert a["act"]["cv_isi"][-1] == pytest.approx(np.nanmean(isi_cv(t, i, 320)), rel=1e-9)
    assert 0.5 < a["act"]["cv_isi"][-1] < 1.5  # COBA's asynchronous irregular state
    assert 0 <= np.nanmean(a["act"]["synchrony"]) < 0.5
    assert 0 < a["ent"]["entropy_bits"][-1] <= 10.0 + 1e-9
    # normalised LZ76 of Bernoulli(p) symbols tends to their entropy h(p) from below (slowly:
    # ~0.7 h(p) at 64 000 symbols); COBA's irregular trains behave alike
    p = pop * 1e-3  # spike probability per 1-ms bin
    h = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    assert 0.4 * h < a["lz"]["population"].mean() < 1.2 * h
    assert 0.3 < a["br"]["ratio"][-1] < 1.2
    geo = a["geo"]
    assert np.all(geo["drift"] == 0) and np.isnan(geo["subspace_cosine"]).all()  # static weights
    assert 1 < geo["effective_rank"][0] <= 128


def test_results_do_not_depend_on_chunk_size(ran):
    sim, _ = ran
    ref = _arrays(sim)
    other = Simulation(coba_with_monitors(), chunk_ms=7.3)
    other.run(400.0)
    other.run(600.0)
    got = _arrays(other)
    for mid in MONITORS:
        for k, v in ref[mid].items():
            np.testing.assert_array_equal(got[mid][k], v, err_msg=f"{mid}.{k}")


def test_sliding_windows_measure_the_last_window(ran):
    """A value at t is the measure of the spikes in [max(0, t - window), t) (windows grow to
    the full length first), computed by the same function on the recorded spikes."""
    from engine.analysis import branching_ratio, lz76_population, word_entropy

    sim, _ = ran
    a = _arrays(sim)
    t, i = sim.spikes("exc")
    ent_node, lz_node, br_node = (sim.graph.nodes[k] for k in ("ent", "lz", "br"))
    for k, t_end in enumerate(a["ent"]["t_ms"]):
        cols = ent_node.type.state(ent_node, sim).windows.kept
        t0 = max(0.0, t_end - 1000.0)
        keep = (t >= t0) & (t < t_end)
        idx = np.searchsorted(cols, i[keep])
        ok = (idx < len(cols)) & (cols[np.minimum(idx, len(cols) - 1)] == i[keep])
        counts = np.zeros((int(round((t_end - t0) / 2.0)), len(cols)), np.int64)
        np.add.at(counts, (((t[keep][ok] - t0) / 2.0 + 1e-9).astype(int), idx[ok]), 1)
        assert a["ent"]["entropy_bits"][k] == pytest.approx(word_entropy(counts > 0), rel=1e-12)
    for k, t_end in enumerate(a["lz"]["t_ms"]):
        cols = lz_node.type.state(lz_node, sim).windows.kept
        t0 = max(0.0, t_end - 200.0)
        keep = (t >= t0) & (t < t_end) & np.isin(i, cols)
        counts = np.zeros((int(round(t_end - t0)), len(cols)), np.int64)
        np.add.at(counts, (((t[keep] - t0) + 1e-9).astype(int), np.searchsorted(cols, i[keep])), 1)
        assert a["lz"]["population"][k] == pytest.approx(lz76_population((counts > 0).astype(np.uint8)), rel=1e-12)
    for k, t_end in enumerate(a["br"]["t_ms"]):
        t0 = max(0.0, t_end - 1000.0)
        keep = (t >= t0) & (t < t_end)
        act = np.bincount(((t[keep] - t0) / 4.0 + 1e-9).astype(int), minlength=int(round((t_end - t0) / 4.0)))
        assert a["br"]["ratio"][k] == pytest.approx(branching_ratio(act), rel=1e-9)


def test_window_must_be_whole_strides():
    d = coba_with_monitors(200, lz={"stride_ms": 30.0})
    with pytest.raises(DesignError) as e:
        Simulation(d)
    assert any(p.node == "lz" and p.param == "stride_ms" for p in e.value.problems)


def test_memory_is_bounded_by_max_points():
    d = coba_with_monitors(200, act={"max_points": 3, "window_ms": 50.0}, lz={"max_points": 2})
    sim = Simulation(d)
    sim.run(600.0)
    a = _arrays(sim)
    assert len(a["act"]["t_ms"]) == 3 and a["act"]["t_ms"][-1] == pytest.approx(600.0)
    assert len(a["lz"]["t_ms"]) == 2


def test_summary_and_npz_carry_the_monitors(ran, tmp_path):
    sim, _ = ran
    s = sim.summary()["monitors"]
    assert s["act"]["type"] == "monitor.activity" and s["act"]["points"] == 10 and s["act"]["rate_hz"] > 0
    assert s["geo"]["type"] == "monitor.weight_geometry" and s["geo"]["rows"] == 128
    json.dumps(s)
    p = tmp_path / "r.npz"
    sim.save_npz(p)
    z = np.load(p, allow_pickle=False)
    assert "monitors/act/rate_hz" in z and "monitors/dse/dse_bits" in z and "monitors/geo/singular_values" in z
    np.testing.assert_array_equal(z["monitors/lz/population"], _arrays(sim)["lz"]["population"])


def test_weight_geometry_sees_a_weight_edit():
    sim = Simulation(coba_with_monitors(200, geo={"every_ms": 100.0}))
    sim.run(200.0)
    sim.set_param("ee", "weight_gl", 0.9)  # from 0.6: W = 1.5 W0
    sim.run(200.0)
    geo = _arrays(sim)["geo"]
    assert geo["drift"][-1] == pytest.approx(0.5, rel=1e-12)
    # the change W0/2 lies in W0's row space: its cosine with the span of the top 4 right
    # singular vectors is sqrt(sum of the top 4 s^2 / sum of all s^2)
    k = int(np.argmax(geo["drift"] > 0))
    s = geo["singular_values"]
    assert geo["subspace_cosine"][k] == pytest.approx(np.sqrt(np.sum(s[:4] ** 2) / np.sum(s ** 2)), rel=1e-9)
    assert np.isnan(geo["subspace_cosine"][k + 1:]).all()  # no change afterwards


def test_branching_uses_the_recurrent_projection_and_refuses_another():
    d = coba_with_monitors(200)
    d["edges"].append({"id": "br-w", "source": "ee", "sourceHandle": "weights", "target": "br",
                       "targetHandle": "weights"})
    sim = Simulation(d)
    sim.run(1000.0)
    nalsm = _arrays(sim)["br"]["nalsm"]
    assert len(nalsm) == 10 and np.isfinite(nalsm).all() and (nalsm > 0).all()
    d["edges"][-1]["source"] = "ei"  # exc -> inh: not recurrent on exc
    with pytest.raises(DesignError) as e:
        Simulation(d)
    assert "'br'" in str(e.value) and "weights" in str(e.value) and "recurrent" in str(e.value)


def test_cli_json_and_out_include_monitor_values(tmp_path):
    path = tmp_path / "coba_mon.json"
    path.write_text(json.dumps(coba_with_monitors(200)))
    out = tmp_path / "r.npz"
    r = subprocess.run([sys.executable, "-m", "engine.cli", "run", str(path), "--duration-ms", "500", "--json",
                        "--quiet", "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout.strip().splitlines()[-1])
    assert s["monitors"]["lz"]["points"] == 5 and s["monitors"]["act"]["rate_hz"] > 0
    z = np.load(out, allow_pickle=False)
    assert len(z["monitors/act/t_ms"]) == 5


def test_nwb_export_reads_back_with_the_same_content(ran, tmp_path):
    import pynwb
    from engine.nwb import save_nwb

    sim, _ = ran
    p = tmp_path / "r.nwb"
    save_nwb(sim, p)
    with pynwb.NWBHDF5IO(str(p), "r") as io:
        f = io.read()
        units = f.units.to_dataframe()
        exc = units[units["population"] == "exc"]
        t, i = sim.spikes("exc")
        assert len(exc) == 320
        for k in (0, 7, 319):
            np.testing.assert_allclose(exc[exc["neuron"] == k]["spike_times"].iloc[0], np.sort(t[i == k]) * 1e-3,
                                       rtol=0, atol=1e-12)
        mod = f.processing["gliaflow"]
        a = _arrays(sim)
        np.testing.assert_array_equal(mod["act.rate_hz"].data[:], a["act"]["rate_hz"])
        np.testing.assert_allclose(mod["act.rate_hz"].timestamps[:], a["act"]["t_ms"] * 1e-3)
        st = sim.state("exc_v")
        np.testing.assert_array_equal(mod["exc_v.v"].data[:], st["v"])
        assert json.loads(f.notes) == json.loads(sim.design.to_json())


@pytest.mark.parametrize("precision, tol", [("float64", 1e-12), ("float32", 1e-4)])
def test_dse_is_the_function_on_the_binned_spikes(precision, tol):
    """Each DSE value is diffusion_spectral_entropy of the newest n_samples spike-count
    vectors (2-ms windows, the kept neurons), whatever the chunk size. float64 is the
    function itself (rel 1e-12); float32 eigenvalues carry ~1e-7 absolute errors, which
    move a 5-bit DSE by ~1e-6 bits (tolerance 1e-4 bits)."""
    from engine.analysis import diffusion_spectral_entropy
    d = coba_with_monitors(400, dse={"precision": precision})
    d["nodes"].append(node("sp", "monitor.spikes"))
    d["edges"].append({"id": "m-sp", "source": "exc", "sourceHandle": "spikes", "target": "sp",
                       "targetHandle": "spikes"})
    for chunk in (100.0, 7.3):
        sim = Simulation(d, chunk_ms=chunk)
        sim.run(2000.0)
        dn = sim.graph.nodes["dse"]
        a = dn.type.arrays(dn, sim)
        kept = dn.type.state(dn, sim).windows.kept
        np.testing.assert_allclose(a["t_ms"], [1000.0, 2000.0])
        t, i = sim.spikes("sp")
        col = np.full(320, -1)
        col[kept] = np.arange(len(kept))
        wins = np.rint(t / sim.dt).astype(int) // 20
        for t_end, got in zip(a["t_ms"], a["dse_bits"]):
            w1 = int(round(t_end / 2.0))
            m = (wins >= w1 - 500) & (wins < w1) & (col[i] >= 0)
            X = np.zeros((500, len(kept)))
            np.add.at(X, (wins[m] - (w1 - 500), col[i[m]]), 1.0)
            want = diffusion_spectral_entropy(X, sigma=4.0)
            assert got == pytest.approx(want, rel=tol if precision == "float64" else 0, abs=tol if precision == "float32"
                                        else 0), (precision, chunk, t_end)


def test_analysis_monitors_of_one_source_share_one_kernel_recorder(ran):
    sim, _ = ran
    recs = [r for r in sim.plan.recorders if r.info.get("source") == "exc"]
    own = [r for r in recs if r.kind == "spikes" and not r.info.get("keep", True)]
    aliases = [r for r in recs if r.kind == "spikes_alias"]
    assert len(own) == 1 and len(aliases) == 4  # act records; ent, lz, br and dse read its arrays
    assert {r.info["owner"] for r in aliases} == {own[0].node}


def test_activity_window_values_are_the_functions_on_the_binned_spikes(ran):
    """Fano factor and Golomb's χ per 100-ms window (20 bins of 5 ms) equal
    engine.analysis.fano_factor / golomb_chi on the recorded spikes to 1e-12 (the monitor's
    compiled pass sums integer counts exactly; only the final divisions round)."""
    from engine.analysis import fano_factor, golomb_chi
    sim, _ = ran
    a = _arrays(sim)["act"]
    t, i = sim.spikes("exc")
    for k, t_end in enumerate(a["t_ms"]):
        m = (t >= t_end - 100.0) & (t < t_end)
        counts = np.zeros((20, 320), np.int32)
        np.add.at(counts, (((t[m] - (t_end - 100.0)) / 5.0 + 1e-9).astype(int), i[m]), 1)
        assert a["fano"][k] == pytest.approx(np.nanmean(fano_factor(counts)), rel=1e-12)
        assert a["synchrony"][k] == pytest.approx(golomb_chi(counts), rel=1e-12)
