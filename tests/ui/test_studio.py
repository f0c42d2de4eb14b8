"""The studio in real headless Chromium (Debian's), as a user drives it.

Loose bounds only on timings (CI machines are loaded); `benchmarks/studio_live.py`
measures the real figures.
"""
from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest
from PIL import Image

from .harness import wait_until

pytestmark = pytest.mark.ui


# --- helpers -----------------------------------------------------------------------------
def palette_add(page, studio, label):
    n = len(studio.design.nodes)
    page.locator(".gf-palette").get_by_text(label, exact=True).first.click()
    wait_until(lambda: len(studio.design.nodes) == n + 1, message=f"palette '{label}' added no node")
    page.wait_for_timeout(250)
    return studio.design.nodes[-1]["id"]


def fit(page):
    page.locator(".react-flow__controls-fitview").click()
    page.wait_for_timeout(300)


def handle(page, node, port, kind):
    return page.locator(f'.react-flow__handle.{kind}[data-nodeid="{node}"][data-handleid="{port}"]')


def drag_wire(page, src, src_port, dst, dst_port, *, release=True, on_hover=None):
    a = handle(page, src, src_port, "source").bounding_box()
    b = handle(page, dst, dst_port, "target").bounding_box()
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move((a["x"] + b["x"]) / 2, (a["y"] + b["y"]) / 2, steps=6)
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=6)
    page.wait_for_timeout(400)
    result = on_hover() if on_hover else None
    if release:
        page.mouse.up()
        page.wait_for_timeout(400)
    return result


def click_node(page, node_id):
    page.locator(f'.react-flow__node[data-id="{node_id}"]').click(position={"x": 30, "y": 12})
    page.wait_for_timeout(300)


def set_input(page, css, value):
    box = page.locator(f"{css} input").first
    box.fill(str(value))
    box.press("Enter")
    page.wait_for_timeout(300)


def text_of(page, css) -> str:
    """Text of an element including its shadow roots (Panel renders into shadow DOM)."""
    return page.locator(css).first.evaluate("""(el) => {
        const walk = (n) => {
            let t = "";
            if (n.shadowRoot) t += walk(n.shadowRoot);
            for (const c of n.childNodes) t += c.nodeType === 3 ? c.textContent : walk(c);
            return t;
        };
        return walk(el);
    }""")


def status_t(page) -> float:
    txt = text_of(page, ".gf-status")
    return float(txt.split("t = ")[1].split(" ms")[0]) if "t = " in txt else 0.0


def ink(page, css) -> float:
    """Fraction of non-white pixels in an element, from a screenshot (what a user sees)."""
    png = page.locator(css).first.screenshot()
    a = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    return float((a < 235).mean())


PLOT_PAINTS_JS = """(title) => {
  for (const v of Bokeh.index.all_views()) {
    if (!('canvas_view' in v) || !(v.model.title && String(v.model.title.text).startsWith(title))) continue;
    if (v.__gf_test_paints === undefined) {
      v.__gf_test_paints = 0;
      const paint = v._actual_paint.bind(v);
      v._actual_paint = () => { v.__gf_test_paints += 1; paint(); };
    }
    return [!!v.__gf_hidden, v.__gf_test_paints];
  }
  return [null, 0];
}"""


def raster_paints(page, title: str = "inh_spikes") -> list:
    """[out of view (paused), paints counted since the first call] of the plot titled ``title``
    (COBA's inhibitory raster: far enough below the canvas to be out of view with it)."""
    return page.evaluate(PLOT_PAINTS_JS, title)


# --- tests ---------------------------------------------------------------------------------
def test_build_wire_edit_run_pause_resume_undo_save_reopen(server_factory, browser, tmp_path):
    srv = server_factory()
    page = browser.page(srv.url)
    st = srv.studios[-1]
    # build from a blank canvas through the palette
    src = palette_add(page, st, "poisson")
    syn = palette_add(page, st, "synapses")
    pop = palette_add(page, st, "lif")
    mon = palette_add(page, st, "spikes")
    fit(page)
    drag_wire(page, src, "spikes", syn, "pre")
    drag_wire(page, syn, "post", pop, "drive")
    drag_wire(page, pop, "spikes", mon, "spikes")
    wait_until(lambda: len(st.design.edges) == 3, message=f"wires: {st.design.edges}")
    assert not [p for p in st.problems if p.severity == "error"]
    # set parameters in the inspector
    click_node(page, syn)
    page.locator(".gf-param-rule select").select_option("all_to_all")
    page.wait_for_timeout(300)
    set_input(page, ".gf-param-weight_mv", 4.0)
    wait_until(lambda: st.design.node(syn)["data"].get("weight_mv") == 4.0 and
               st.design.node(syn)["data"].get("rule") == "all_to_all")
    page.locator(".gf-duration input").first.fill("20000")
    page.locator(".gf-duration input").first.press("Enter")
    page.locator(".gf-speed select").select_option("real time")
    page.wait_for_timeout(300)
    # run, see the raster fill and time advance
    page.locator(".gf-run button").click()
    wait_until(lambda: status_t(page) > 300, timeout=20, message="status line did not advance")
    empty = ink(page, ".gf-card-r-" + mon)
    wait_until(lambda: ink(page, ".gf-card-r-" + mon) > empty + 0.002, timeout=10, message="raster stayed empty")
    # pause: time stops
    page.locator(".gf-run button").click()
    wait_until(lambda: not st.running, timeout=5)
    t_pause = st.sim.t_ms
    page.wait_for_timeout(600)
    assert st.sim.t_ms == t_pause and abs(status_t(page) - t_pause) < 1.0
    # change the input rate while paused, resume, see the rate change
    click_node(page, src)
    set_input(page, ".gf-param-rate_hz", 25.0)
    wait_until(lambda: st.sim.graph.nodes[src].values["rate_hz"] == 25.0 or
               st.design.node(src)["data"].get("rate_hz") == 25.0)
    page.locator(".gf-run button").click()
    wait_until(lambda: st.sim.t_ms > t_pause + 1500, timeout=20)
    page.locator(".gf-run button").click()
    wait_until(lambda: not st.running, timeout=5)
    t, i = st.sim.spikes(mon)
    before = np.sum((t > t_pause - 1000) & (t <= t_pause)) / 1.0
    after = np.sum((t > t_pause + 200) & (t <= t_pause + 1200)) / 1.0
    assert after > 1.5 * before > 0, (before, after)
    # undo a deletion
    click_node(page, mon)
    page.keyboard.press("Delete")
    wait_until(lambda: all(n["id"] != mon for n in st.design.nodes), message="Delete did not remove the node")
    page.locator(".react-flow__pane").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+z")
    wait_until(lambda: any(n["id"] == mon for n in st.design.nodes), message="Ctrl+Z did not restore the node")
    wait_until(lambda: page.locator(f'.react-flow__node[data-id="{mon}"]').count() == 1)
    assert len(st.design.edges) == 3
    # save (download), reload the page, open the saved file: the same design
    with page.expect_download() as dl:
        page.locator(".gf-save button").click()
    path = tmp_path / "saved.json"
    dl.value.save_as(path)
    saved = json.loads(path.read_text())
    assert saved == json.loads(st.design.to_json())
    page.reload(wait_until="domcontentloaded")
    page.wait_for_selector(".react-flow__renderer", timeout=30000)
    st2 = srv.studios[-1]
    assert st2 is not st
    page.locator(".gf-open input[type=file]").set_input_files(str(path))
    wait_until(lambda: json.loads(st2.design.to_json()) == saved, timeout=10, message="reopened design differs")
    wait_until(lambda: page.locator(".react-flow__node").count() == len(saved["nodes"]))


def test_invalid_connection_is_refused_with_reason(server_factory, browser):
    srv = server_factory()
    page = browser.page(srv.url)
    st = srv.studios[-1]
    src = palette_add(page, st, "poisson")
    pop = palette_add(page, st, "lif")
    fit(page)

    def reason():
        h = handle(page, pop, "current", "target")
        wait_until(lambda: "rf-handle-invalid" in (h.get_attribute("class") or ""), timeout=5)
        return h.get_attribute("aria-label") or h.get_attribute("data-tooltip")

    why = drag_wire(page, src, "spikes", pop, "current", on_hover=reason)
    assert "spikes output cannot feed a current input" in why
    assert st.design.edges == []
    assert page.locator(".react-flow__edge").count() == 0


def test_out_of_range_parameter_shows_on_node_and_disables_run(server_factory, browser):
    srv = server_factory("gallery/coba.json")
    page = browser.page(srv.url)
    st = srv.studios[-1]
    click_node(page, "exc")
    set_input(page, ".gf-param-tau_m_ms", -5.0)
    node = page.locator('.react-flow__node[data-id="exc"]')
    wait_until(lambda: "gf-invalid" in (node.get_attribute("class") or ""), message="node not marked invalid")
    assert "tau_m_ms" in text_of(page, '.react-flow__node[data-id="exc"]') and "outside" in text_of(page, '.react-flow__node[data-id="exc"]')
    assert page.locator(".gf-run button").is_disabled()
    msg = text_of(page, ".gf-message")
    assert "Run is disabled" in msg and "tau_m_ms" in msg
    page.locator(".gf-run button").click(force=True)
    page.wait_for_timeout(500)
    assert st.sim is None or st.sim.t_ms == 0
    # undo restores a runnable design
    page.locator(".react-flow__pane").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+z")
    wait_until(lambda: not page.locator(".gf-run button").is_disabled(), timeout=5)


def test_live_coba_stays_responsive(server_factory, browser):
    """Loose bounds (the real figures come from benchmarks/studio_live.py)."""
    srv = server_factory("gallery/coba.json")
    page = browser.page(srv.url)
    st = srv.studios[-1]
    page.locator(".gf-duration input").first.fill("600000")
    page.locator(".gf-duration input").first.press("Enter")
    page.wait_for_timeout(300)
    t0 = time.time()
    page.locator(".gf-run button").click()
    wait_until(lambda: page.locator(".gf-card-r-exc_spikes").count() == 1, timeout=20)
    empty = 0.10  # axes, labels and title of an empty raster card cover a few per cent
    wait_until(lambda: ink(page, ".gf-card-r-exc_spikes") > empty + 0.2, timeout=20, message="no spikes on screen")
    first_spikes_s = time.time() - t0
    page.evaluate("window.__gliaflow_probe_fps(true)")
    page.wait_for_timeout(1500)
    fps = page.evaluate("window.__gliaflow_fps || 0")
    page.evaluate("window.__gliaflow_probe_fps(false)")
    # a plot out of view is not painted while the run goes on, and paints again in view
    assert page.evaluate("window.__gliaflow_bokeh_patched()")
    page.locator(".gf-run button").scroll_into_view_if_needed()
    wait_until(lambda: raster_paints(page)[0] is True, timeout=5, message="the raster out of view was not paused")
    n0 = raster_paints(page)[1]
    t_sim = st.sim.t_ms
    wait_until(lambda: st.sim.t_ms > t_sim + 2000, timeout=20)
    assert raster_paints(page)[1] == n0, "the raster out of view kept painting"
    page.evaluate("window.__gliaflow_pause_offscreen(false)")  # every plot painted (a full-page capture)
    wait_until(lambda: raster_paints(page)[1] > n0 + 1, timeout=5, message="pausing could not be switched off")
    page.evaluate("window.__gliaflow_pause_offscreen(true)")
    wait_until(lambda: raster_paints(page)[0] is True, timeout=5, message="pausing did not come back")
    n0 = raster_paints(page)[1]
    page.locator(".gf-card-r-inh_spikes").first.scroll_into_view_if_needed()
    wait_until(lambda: raster_paints(page)[1] > n0, timeout=5,
               message="the raster did not paint again in view")
    assert st.running
    t_click = time.time()
    page.locator(".gf-run button").click()
    wait_until(lambda: not st.running, timeout=5)
    pause_s = time.time() - t_click
    assert fps > 10, fps
    assert pause_s < 1.0, pause_s
    assert first_spikes_s < 15, first_spikes_s


def test_drag_from_palette_keyboard_run_pause_and_copy_paste(server_factory, browser):
    srv = server_factory()
    page = browser.page(srv.url)
    st = srv.studios[-1]
    item = page.locator(".gf-palette").get_by_text("lif cond", exact=True).first
    item.drag_to(page.locator(".react-flow__pane"), target_position={"x": 400, "y": 200})
    wait_until(lambda: [n["type"] for n in st.design.nodes] == ["neuron.lif_cond"], message="drop added no node")
    nid = st.design.nodes[0]["id"]
    st.set_param(nid, "i_bias_mv", 20.0)
    st.design.meta["duration_ms"] = 600000.0
    st.speed.value = "real time"
    page.locator(".react-flow__pane").click(position={"x": 5, "y": 5})
    page.keyboard.press("Space")
    wait_until(lambda: st.running, timeout=10, message="Space did not start the run")
    page.keyboard.press("Space")
    wait_until(lambda: not st.running, timeout=5, message="Space did not pause")
    click_node(page, nid)
    page.keyboard.press("Control+c")
    page.locator(".react-flow__pane").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+v")
    wait_until(lambda: len(st.design.nodes) == 2, message="paste added no node")


def test_sessions_are_independent_and_a_run_does_not_block_another_ui(server_factory, browser):
    srv = server_factory("gallery/coba.json")
    a = browser.page(srv.url)
    sa = srv.studios[-1]
    b = browser.page(srv.url)
    sb = srv.studios[-1]
    assert sa is not sb
    a.locator(".gf-duration input").first.fill("600000")
    a.locator(".gf-duration input").first.press("Enter")
    a.locator(".gf-run button").click()
    wait_until(lambda: sa.running and sa.sim is not None and sa.sim.t_ms > 100, timeout=20)
    t0 = time.time()
    n = len(sb.design.nodes)
    b.locator(".gf-palette").get_by_text("poisson", exact=True).first.click()
    wait_until(lambda: len(sb.design.nodes) == n + 1, timeout=5)
    wait_until(lambda: b.locator(".react-flow__node").count() == n + 1, timeout=5)
    assert time.time() - t0 < 3.0
    assert sa.running and len(sa.design.nodes) == 9
    a.locator(".gf-run button").click()
    wait_until(lambda: not sa.running, timeout=5)


TRACE_POINTS_JS = """(name) => {
  for (const d of Bokeh.documents) {
    const m = d.get_model_by_name(name);
    if (m) return m.data.y.length;
  }
  return 0;
}"""


def test_analysis_monitors_stream_into_generic_plots(server_factory, browser):
    """gallery/coba_measures.json: every analysis monitor's card is drawn from its declared
    views and its traces fill in the browser while the design runs."""
    srv = server_factory("gallery/coba_measures.json")
    page = browser.page(srv.url)
    st = srv.studios[-1]
    set_input(page, ".gf-duration", "1000")
    page.locator(".gf-run button").click()
    wait_until(lambda: st.sim is not None and not st.running and st.sim.t_ms == 1000.0, timeout=60)
    expect = {"act": "rate_hz", "ent": "entropy_bits", "lz": "population", "br": "ratio", "dse": "dse_bits",
              "geo": "effective_rank"}
    for mid, trace in expect.items():
        wait_until(lambda mid=mid: page.locator(f".gf-card-g-{mid}").count() == 1, timeout=10)
        wait_until(lambda mid=mid, trace=trace: page.evaluate(TRACE_POINTS_JS, f"gf-trace-{mid}-{trace}") > 0,
                   timeout=10, message=f"{mid}.{trace} has no points in the browser")
    assert page.evaluate(TRACE_POINTS_JS, "gf-trace-act-rate_hz") == 10
    assert ink(page, ".gf-card-g-geo") > 0.05  # spectrum, histogram and PC image drawn


def test_astrocyte_and_plasticity_state_stream_into_generic_plots(server_factory, browser, tmp_path):
    """gallery/nalsm.json: the global astrocyte's A streams into its generic card while the
    astrocyte-gated STDP trains the liquid; no studio code knows these types."""
    srv = server_factory("gallery/nalsm.json")
    page = browser.page(srv.url)
    st = srv.studios[-1]
    set_input(page, ".gf-duration", "2000")
    page.locator(".gf-run button").click()
    wait_until(lambda: st.sim is not None and not st.running and st.sim.t_ms == 2000.0, timeout=90)
    wait_until(lambda: page.locator(".gf-card-g-astro").count() == 1, timeout=10)
    wait_until(lambda: page.evaluate(TRACE_POINTS_JS, "gf-trace-astro-a") > 0, timeout=10,
               message="the astrocyte's A has no points in the browser")
    w = st.sim.plan.buffers["EE.w"]
    assert w.min() >= 0.0 and w.max() <= 3.0 and w.mean() < 3.0  # trained, within NALSM's E bounds
    page.locator(".gf-plots").screenshot(path=str(tmp_path / "nalsm.png"))
    assert ink(page, ".gf-card-g-astro") > 0.01
    assert browser.foreign_requests() == []


def test_code_panel_edits_apply_to_the_canvas(server_factory, browser):
    """The Code panel shows the exported script; an edit typed in the browser and applied
    changes the design (through the importer) and the node on the canvas."""
    srv = server_factory("gallery/coba.json")
    page = browser.page(srv.url)
    st = srv.studios[-1]
    page.locator(".gf-code-card").first.scroll_into_view_if_needed()
    page.locator(".gf-code-card .card-header").first.click()
    wait_until(lambda: 'net.add("neuron.lif_cond", "exc"' in st.code.value, message="the Code panel stayed empty")
    box = page.locator(".gf-code textarea").first
    wait_until(lambda: 'net.add("neuron.lif_cond", "exc"' in box.input_value(), message="the script is not shown")
    box.fill(box.input_value().replace('label="E (3200)"', 'label="E cells"'))
    box.press("Tab")  # commit the text area's value
    page.wait_for_timeout(500)
    page.locator(".gf-code-apply button").first.click()
    wait_until(lambda: st.design.node("exc").get("label") == "E cells", message="the edit was not applied")
    wait_until(lambda: page.locator('.react-flow__node[data-id="exc"]').inner_text().startswith("E cells"),
               message="the canvas did not follow")
    assert "applied" in text_of(page, ".gf-code-card")
