"""Studio behaviour that needs no browser: editing, history, files, recovery, plots, linking."""
from __future__ import annotations

import io
import json
from typing import ClassVar

import numpy as np
import panel as pn
import pytest

from engine import DesignError
from engine.registry import _REGISTRY, NodeType, Port, register
from studio import Studio
from studio.files import MAX_UPLOAD_BYTES, Recovery, gallery, parse_upload
from studio.plots import GenericCard, RasterCard, TraceCard, WeightCard

pn.extension()


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GLIAFLOW_DATA_DIR", str(tmp_path / "data"))


def small_net(st: Studio):
    a = st.add_node("stimulus.poisson", data={"n": 50, "rate_hz": 30.0})
    s = st.add_node("projection.synapses", data={"rule": "all_to_all", "weight_mv": 3.0})
    p = st.add_node("neuron.lif", data={"n": 40})
    m = st.add_node("monitor.spikes")
    st.connect(a, "spikes", s, "pre")
    st.connect(s, "post", p, "drive")
    st.connect(p, "spikes", m, "spikes")
    return a, s, p, m


def test_edit_validate_and_canvas_follow_the_design():
    st = Studio()
    a, s, p, m = small_net(st)
    assert not [x for x in st.problems if x.severity == "error"]
    assert {n["id"] for n in st.flow.nodes} == {a, s, p, m} and len(st.flow.edges) == 3
    st.set_param(p, "tau_m_ms", -1.0)
    errs = [x for x in st.problems if x.severity == "error"]
    assert errs and errs[0].node == p and errs[0].param == "tau_m_ms"
    assert st.run_button.disabled
    node = next(n for n in st.flow.nodes if n["id"] == p)
    assert "gf-invalid" in (node.get("className") or "")
    assert "tau_m_ms" in st.node_views.panes[p].object
    with pytest.raises(DesignError, match="cannot feed"):
        st.connect(a, "spikes", p, "current")


def test_undo_redo_sixty_steps():
    st = Studio()
    ids = [st.add_node("neuron.lif") for _ in range(60)]
    assert len(st.design.nodes) == 60
    for _ in range(60):
        assert st.undo()
    assert st.design.nodes == []
    for _ in range(60):
        assert st.redo()
    assert [n["id"] for n in st.design.nodes] == ids


def test_copy_paste_keeps_internal_wires():
    st = Studio()
    a, s, p, m = small_net(st)
    st.flow.selection = {"nodes": [a, s, p], "edges": []}
    assert st.copy_selection() == 3
    new = st.paste()
    assert len(new) == 3 and len(st.design.nodes) == 7
    internal = [e for e in st.design.edges if e["source"] in new and e["target"] in new]
    assert len(internal) == 2


def test_live_edit_reaches_a_paused_simulation_without_recompiling():
    st = Studio()
    a, s, p, m = small_net(st)
    st.run(200.0, block=True)
    kernel = st.sim.runner.kernel
    assert st.set_param(a, "rate_hz", 60.0) == "live"
    st.run(200.0, block=True)
    assert st.sim.runner.kernel is kernel and st.sim.t_ms == pytest.approx(400.0)
    assert st.set_param(p, "n", 10) == "reset"
    st.run(100.0, block=True)
    assert st.sim.plan.spike_sources[p].n == 10


def test_divergence_is_a_message_not_a_traceback():
    st = Studio()
    p = st.add_node("neuron.izhikevich", data={"n": 5, "a": -5.0})
    st.design.meta["dt_ms"] = 1.0
    st.run(2000.0, block=True)
    assert st.message.visible and f"'{p}'" in st.message.object and "Traceback" not in st.message.object


def test_save_writes_server_path_atomically_and_clears_recovery(tmp_path):
    path = tmp_path / "net.json"
    st = Studio()
    small_net(st)
    st.path = str(path)
    st._dirty_autosave = True
    st._autosave()
    assert st._recovery.read() is not None
    st.save()
    assert st._recovery.read() is None
    saved = json.loads(path.read_text())
    assert saved == json.loads(st.design.to_json())


def test_recovery_is_offered_after_a_crash(tmp_path):
    st = Studio()
    small_net(st)
    st._dirty_autosave = True
    st._autosave()
    assert st._recovery.read() is not None
    # "crash": a new session for the same (untitled) design finds the recovery file
    st2 = Studio()
    assert st2.recovery_box.visible
    restore = st2.recovery_box.objects[1]
    restore.clicks += 1
    assert len(st2.design.nodes) == 4


def test_uploads_are_size_limited_and_never_executed(tmp_path):
    with pytest.raises(DesignError, match="MiB"):
        parse_upload(b" " * (MAX_UPLOAD_BYTES + 1))
    with pytest.raises(DesignError):
        parse_upload(b"import os; os.system('touch x')")
    d = parse_upload(json.dumps({"schema_version": 1, "nodes": [], "edges": []}).encode())
    assert d.nodes == []


def test_gallery_menu_lists_designs_with_descriptions():
    g = gallery()
    assert {"coba", "brunel"} <= set(g)
    assert all(v["short"] for v in g.values())
    st = Studio()
    st.gallery_select.value = "coba"
    assert st.design.name == "coba" and len(st.design.nodes) == 9


def test_results_download_is_a_valid_npz():
    st = Studio("gallery/coba.json")
    st.run(50.0, block=True)
    buf = st._results_npz()
    with np.load(io.BytesIO(buf.read())) as z:
        assert "spikes/exc/t_ms" in z.files


def test_plots_link_selection_across_raster_traces_and_weights():
    st = Studio("gallery/coba.json")
    st.add_node("monitor.weights", data={"every_ms": 20.0}, node_id="w")
    st.connect("ee", "weights", "w", "weights")
    st.run(60.0, block=True)
    st.plots.refresh()
    kinds = {type(c) for c in st.plots.cards}
    assert {RasterCard, TraceCard, WeightCard} <= kinds
    wc = next(c for c in st.plots.cards if isinstance(c, WeightCard))
    img = wc.msrc.data["image"][0]
    assert np.isfinite(img).any() and wc.hsrc.data["image"][0].sum() > 0
    st.plots.select_neurons("exc", 0, 2)
    tc = next(c for c in st.plots.cards if isinstance(c, TraceCard))
    widths = [r.glyph.line_width for r in tc.renderers["v"]]
    assert widths[0] > widths[3]  # neurons 0, 1 highlighted; 3 dimmed
    assert wc.sel_src.data["bottom"] == [0] and wc.sel_src.data["top"] == [2]
    st.plots.focus("ee")
    assert st.plots.col.objects[1] is wc.view


class _RateProbe(NodeType):
    """Test-only monitor: the population rate of its source as a generic trace and scalar."""

    type_key = "monitor.test_rate_probe"
    ports = (Port("spikes", "in", "spikes", required=True, doc="spikes"),)
    views: ClassVar = ({"kind": "trace", "name": "rate", "y_label": "Hz"}, {"kind": "scalar", "name": "last"})

    @classmethod
    def build(cls, node, b):
        pass

    @classmethod
    def stream(cls, node, sim, chunk):
        src = sim.graph.sources(node.id, "spikes")[0]
        dt_s = (chunk.t_end_ms - chunk.t_start_ms) * 1e-3
        r = chunk.counts.get(src.id, 0) / (sim.graph.size(src.id) * dt_s) if dt_s else 0.0
        return {"rate": {"t_ms": chunk.t_end_ms, "y": r}, "last": {"value": r}}


def test_a_new_monitor_type_is_drawn_with_no_studio_code():
    register(_RateProbe)
    try:
        st = Studio("gallery/coba.json")
        st.add_node("monitor.test_rate_probe", node_id="probe")
        st.connect("exc", "spikes", "probe", "spikes")
        st.run(300.0, block=True)
        st.plots.refresh()
        card = next(c for c in st.plots.cards if isinstance(c, GenericCard))
        kind, src, _ = card.items["rate"]
        assert len(src.data["y"]) >= 1 and 5 < float(np.mean(src.data["y"])) < 60
        assert card.items["last"][1].value > 0
    finally:
        _REGISTRY.pop("monitor.test_rate_probe", None)


def test_recovery_file_round_trip(tmp_path):
    r = Recovery("some/key")
    st = Studio()
    small_net(st)
    r.write(st.design)
    saved_at, doc = r.read()
    assert doc == st.design.doc
    r.clear()
    assert r.read() is None


def test_analysis_monitors_draw_from_their_declared_views_with_no_studio_code():
    """Every analysis monitor gets a generic card whose plots fill while the design runs."""
    from tests.engine.test_analysis_monitors import MONITORS, coba_with_monitors

    st = Studio(coba_with_monitors(200))
    st.run(1000.0, block=True)
    st.plots.refresh()
    cards = {c.key: c for c in st.plots.cards}
    for mid, (key, _) in MONITORS.items():
        card = cards[f"g-{mid}"]
        assert isinstance(card, GenericCard), key
        traces = [v for v in card.items.values() if v[0] == "trace"]
        assert traces and all(len(src.data["t"]) > 0 for _, src, _ in traces), key
    geo = cards["g-geo"].items
    assert len(geo["spectrum"][1].data["top"]) == 32 and geo["histogram"][1].data["top"].sum() > 0
    # no raster or weight card of their own: they keep no spikes and draw their own views
    assert "r-act" not in cards and "w-geo" not in cards
    assert st.nwb_button.disabled is False
    assert len(st._results_nwb().getvalue()) > 10_000


def test_code_panel_shows_the_script_live_and_applies_edits_through_the_importer(tmp_path):
    st = Studio("gallery/coba.json", recovery=False)
    assert st.code.value == ""  # exported only while the panel is open
    st.code_card.collapsed = False
    pos = st.design.node("exc")["position"]
    assert 'exc = net.add("neuron.lif_cond", "exc"' in st.code.value
    st.set_param("ee", "weight_gl", 0.5)  # the canvas changes: the script follows
    assert 'weight_gl=0.5' in st.code.value
    edited = st.code.value.replace("n=3200, i_bias_mv=20.0", "n=1000, i_bias_mv=20.0")
    assert st.apply_code(edited)
    assert st.design.node("exc")["data"]["n"] == 1000
    assert st.design.node("exc")["position"] == pos  # canvas positions survive (the script's trailing block)
    assert st.undo() and st.design.node("exc")["data"]["n"] == 3200  # one undo step
    marker = tmp_path / "pwned"
    before = st.design.to_json()
    assert not st.apply_code(f'import os\nos.system("touch {marker}")\n' + st.code.value)
    assert "line 1" in st.code_status.object and st.design.to_json() == before and not marker.exists()


def test_script_download_and_opening_a_py_file():
    st = Studio("gallery/coba.json", recovery=False)
    text = st._script_file().getvalue().decode()
    assert text.startswith('"""coba: a gliaflow design as a Python script.') and st.script_button.filename == "coba.py"
    d = parse_upload(text.encode(), "coba.py")
    assert [n["id"] for n in d.nodes] == [n["id"] for n in st.design.nodes]
    with pytest.raises(DesignError) as e:
        parse_upload(b"import os\nos.system('true')\n", "evil.py")
    assert "line 1" in str(e.value)


def test_backend_selector_offers_torch_and_runs_it():
    pytest.importorskip("torch")
    runs = {}
    for backend in ("numba", "torch"):
        st = Studio()
        small_net(st)
        assert "torch" in st.backend.options
        st.backend.value = backend
        st.run(100.0, block=True)
        assert st.sim.backend == backend and st.last_error is None
        runs[backend] = st.sim.spikes(st.design.nodes[-1]["id"])
    assert len(runs["numba"][0]) > 0
    assert np.array_equal(runs["numba"][0], runs["torch"][0]) and np.array_equal(runs["numba"][1], runs["torch"][1])


def test_train_panel_streams_epochs_and_applies_the_learned_design():
    pytest.importorskip("torch")
    from tests.engine.test_training import small_design

    st = Studio(small_design("lif"), recovery=False)
    tp = st.train_panel
    tp.epochs.value = 3
    tp.learn.value = ["readout", "intrinsics"]
    tp.start(block=True)
    assert tp.error is None, tp.error
    assert list(tp.src.data["epoch"]) == [0, 1, 2, 3]  # epoch 0 is before training
    assert all(0.0 <= a <= 1.0 for a in tp.src.data["test_acc"])
    assert "done" in tp.status.object and not tp.apply_button.disabled
    before = json.dumps(st.design.doc, sort_keys=True)
    assert tp.apply()
    learned = st.design.node("hid")["data"]
    assert {"tau_m_ms", "v_threshold_mv", "v_reset_mv"} <= set(learned)
    assert {"hid.learned_tau_m_ms"} <= set(st.design.arrays)
    st.undo()
    assert json.dumps(st.design.doc, sort_keys=True) == before


def test_train_panel_reports_an_untrainable_design_without_a_traceback():
    pytest.importorskip("torch")
    st = Studio("gallery/coba.json", recovery=False)
    st.train_panel.epochs.value = 1
    st.train_panel.start(block=True)
    assert st.train_panel.result is None and st.train_panel.error
    assert "Traceback" not in st.train_panel.status.object and "training failed" in st.train_panel.status.object


def test_state_traces_of_many_neurons_draw_the_first_twenty_and_runs_end():
    """A state monitor on more than 20 neurons draws 20 lines (the plot must not ask Bokeh to
    stream columns it never created), and a failing plot never leaves a run hanging."""
    from tests.helpers import node, small_coba
    d = small_coba(200)
    d["nodes"].append(node("v_all", "monitor.state", variables="v", neurons="0:60"))
    d["edges"].append({"id": "v-all", "source": "exc", "sourceHandle": "state", "target": "v_all",
                       "targetHandle": "state"})
    st = Studio(d, recovery=False)
    st.run(60.0, block=True)
    st.plots.refresh()
    tc = next(c for c in st.plots.cards if isinstance(c, TraceCard) and "v_all" in c.nodes)
    assert tc.k == 20 and len([k for k in tc.src.data if k != "t"]) == 20
    assert len(tc.src.data["t"]) > 0


def test_auto_y_range_moves_only_when_the_data_leave_it_or_shrink_and_never_while_zoomed():
    from studio.plots import AutoY
    a = AutoY()
    a.update(-70.0, -50.0)
    r0 = (a.range.start, a.range.end)
    assert r0[0] < -70.0 and r0[1] > -50.0
    a.update(-68.0, -52.0)  # inside and filling most of it: no change (no round trip, no relayout)
    assert (a.range.start, a.range.end) == r0
    a.update(-80.0, -50.0)  # leaves it: follows
    assert a.range.start < -80.0
    a.update(-61.0, -60.0)  # fills a few % of it: shrinks
    assert a.range.end - a.range.start < 5.0
    a.frozen = True  # the user zoomed: left alone
    before = (a.range.start, a.range.end)
    a.update(0.0, 100.0)
    assert (a.range.start, a.range.end) == before
    rates = AutoY(floor=0.0)
    rates.update(0.0, 40.0)
    assert rates.range.start == 0.0 and rates.range.end > 40.0


def test_live_traces_send_only_the_visible_window_as_float32_and_rates_stream_new_bins(monkeypatch):
    """A fast run hands in many windows between two refreshes: the trace card sends at most one
    window of samples (what the browser keeps), and the rates card streams only the bins that
    completed since the last refresh (replacing the series rebuilt the legend each time)."""
    st = Studio("gallery/coba.json", recovery=False)
    st.run(20.0, block=True)  # builds the cards (window: 200 ms, the design's duration then)
    tc = next(c for c in st.plots.cards if isinstance(c, TraceCard))
    rc = st.plots._by_key["rates"]
    st.plots.refresh()
    from bokeh.models import ColumnDataSource
    streamed = []
    orig = ColumnDataSource.stream

    def record(self, data, rollover=None, **kw):
        streamed.append((self, data, rollover))
        return orig(self, data, rollover=rollover, **kw)

    monkeypatch.setattr(ColumnDataSource, "stream", record)
    sent = lambda src: [(d, r) for s_, d, r in streamed if s_ is src]  # noqa: E731
    st.run(1000.0, block=True)  # five windows between two refreshes
    st.plots.refresh()
    (data, rollover), = sent(tc.src)
    n = len(data["t"])
    assert 0 < n <= rollover and data["t"][-1] >= st.sim.t_ms - 1.0
    assert all(data[k].dtype == np.float32 for k in data if k != "t")
    assert data["t"][-1] - data["t"][0] <= tc.window
    first = {p: np.asarray(sent(src)[0][0]["t"]) for p, src in rc.srcs.items()}
    assert all(len(first[p]) and np.all(np.diff(first[p]) > 0) for p in rc.srcs)
    st.run(50.0, block=True)
    st.plots.refresh()
    for p, src in rc.srcs.items():  # the second refresh streams only bins after the first one's
        assert np.asarray(sent(src)[1][0]["t"]).min() > first[p].max()
    assert rc.auto.range.start == 0.0 and rc.auto.range.end > 0.0
