"""A tiny browser-side helper: keyboard shortcuts, downloads, pausing plots out of view, and an
opt-in frame-rate probe.

Plain ESM with no imports, served from the package like every other resource.
"""
from __future__ import annotations

from typing import Callable

from panel.custom import JSComponent


class Bridge(JSComponent):
    """Sends key presses to Python; lets Python trigger a file download in the browser."""

    _esm = """
export function render({ model, el }) {
  el.style.display = "none";
  const editable = (t) => {
    if (!t) return false;
    const tag = (t.tagName || "").toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || t.isContentEditable;
  };
  const onKey = (e) => {
    const path = e.composedPath ? e.composedPath() : [e.target];
    if (path.some(editable)) return;
    const ctrl = e.ctrlKey || e.metaKey;
    let key = null;
    if (e.code === "Space" && !ctrl) key = "space";
    else if (ctrl && (e.key === "z" || e.key === "Z") && !e.shiftKey) key = "undo";
    else if (ctrl && (e.key === "y" || e.key === "Y" || ((e.key === "z" || e.key === "Z") && e.shiftKey))) key = "redo";
    else if (ctrl && (e.key === "s" || e.key === "S")) key = "save";
    else if (ctrl && (e.key === "c" || e.key === "C")) key = "copy";
    else if (ctrl && (e.key === "v" || e.key === "V")) key = "paste";
    else if (e.key === "?") key = "help";
    else if (e.key === "Escape") key = "escape";
    if (key === null) return;
    if (key !== "copy" && key !== "escape") e.preventDefault();
    model.send_msg({ type: "key", key: key });
  };
  document.addEventListener("keydown", onKey, true);
  model.on("msg:custom", (event) => {
    const msg = event.data !== undefined ? event.data : event;
    if (msg.type === "download") {
      const blob = new Blob([msg.text], { type: msg.mime || "application/json" });
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = msg.filename;
      document.body.appendChild(a);
      a.click();
      setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    } else if (msg.type === "title") {
      document.title = msg.title;
    }
  });
  // Bokeh 3.9 rewrites the position stylesheet of every canvas renderer (axis, grid, glyph,
  // title) at every paint, unchanged or not, and each write invalidates the page's style; the
  // next CSS-variable read of a visual (getComputedStyle, see bokeh/bokeh#15286) then
  // recomputes style: a third of a figure's paint here. Writing only text that changed keeps
  // exactly the same CSS without the recalculation.
  try {
    const sheet = window.Bokeh.require("core/dom").InlineStyleSheet;
    if (sheet && typeof sheet.prototype._update === "function" && !sheet.prototype.__gf_same_text) {
      const write = sheet.prototype._update;
      sheet.prototype._update = function (text) { if (this.el.textContent !== text) write.call(this, text); };
      sheet.prototype.__gf_same_text = true;
    }
  } catch (e) { /* another Bokeh build: leave it as it is */ }
  window.__gliaflow_bokeh_patched = () => {
    try { return !!window.Bokeh.require("core/dom").InlineStyleSheet.prototype.__gf_same_text; } catch (e) { return false; }
  };
  // Plots out of view are not painted. A Bokeh figure repaints at every update (five a second
  // while a design runs) whether or not it can be seen; in a 2-core machine that drawing
  // competes with the simulation. A figure that leaves the window (scrolled away, or inside a
  // closed panel) is paused and repaints once, with what arrived meanwhile, when it shows
  // again. Its data keep arriving while paused, so nothing is lost.
  const viewOf = new WeakMap();
  const tracked = new Set();
  let pausing = true;
  const io = new IntersectionObserver((entries) => {
    for (const en of entries) {
      const v = viewOf.get(en.target);
      if (v === undefined) continue;
      if (en.isIntersecting && v.__gf_hidden) { v.__gf_hidden = false; v.request_repaint(); }
      else if (!en.isIntersecting && pausing) v.__gf_hidden = true;
    }
  }, { rootMargin: "100px 0px" });
  // every plot painted, in view or not (a full-page capture), until called with true again
  window.__gliaflow_pause_offscreen = (on) => {
    pausing = on !== false;
    for (const v of tracked) {
      if (!pausing && v.__gf_hidden) { v.__gf_hidden = false; v.request_repaint(); }
      if (pausing) { io.unobserve(v.el); io.observe(v.el); }  // observing again reports where each one is
    }
  };
  const scanPlots = () => {
    const B = window.Bokeh;
    if (!B || !B.index || typeof B.index.all_views !== "function") return;
    for (const v of tracked) {  // removed plots (rebuilt cards): stop observing them
      if (!v.el.isConnected) { io.unobserve(v.el); tracked.delete(v); }
    }
    for (const v of B.index.all_views()) {
      if (tracked.has(v) || !("canvas_view" in v) || typeof v.request_repaint !== "function" || !v.el.isConnected) continue;
      // a plot view paints only when it is not paused (``is_paused``); Bokeh's own pause
      // counter is balanced by Bokeh itself, so out of view is added beside it, not into it
      let base = () => v._is_paused != 0;
      for (let p = Object.getPrototypeOf(v); p; p = Object.getPrototypeOf(p)) {
        const d = Object.getOwnPropertyDescriptor(p, "is_paused");
        if (d && d.get) { base = () => d.get.call(v); break; }
      }
      v.__gf_hidden = false;
      Object.defineProperty(v, "is_paused", { configurable: true, get: () => v.__gf_hidden || base() });
      tracked.add(v); viewOf.set(v.el, v); io.observe(v.el);
    }
  };
  window.__gliaflow_paused_plots = () => [...tracked].filter((v) => v.__gf_hidden).length;
  setInterval(scanPlots, 500);
  // frame-rate probe, off unless asked for (a permanent requestAnimationFrame loop would
  // make the browser draw 60 frames/s for nothing): window.__gliaflow_probe_fps(true)
  let frames = 0, last = 0, probing = false;
  const tick = (now) => {
    if (!probing) return;
    frames += 1;
    if (now - last >= 1000) {
      window.__gliaflow_fps = frames * 1000 / (now - last);
      frames = 0; last = now;
    }
    requestAnimationFrame(tick);
  };
  window.__gliaflow_probe_fps = (on) => {
    const was = probing;
    probing = on !== false;
    if (probing && !was) { frames = 0; last = performance.now(); window.__gliaflow_fps = 0; requestAnimationFrame(tick); }
  };
}
"""

    def __init__(self, on_key: Callable[[str], None] | None = None, **params):
        super().__init__(**params)
        self._on_key = on_key

    def _handle_msg(self, msg) -> None:
        if isinstance(msg, dict) and msg.get("type") == "key" and self._on_key is not None:
            self._on_key(msg.get("key"))

    def download(self, filename: str, text: str, mime: str = "application/json") -> None:
        self._send_msg({"type": "download", "filename": filename, "text": text, "mime": mime})

    def set_title(self, title: str) -> None:
        self._send_msg({"type": "title", "title": title})
