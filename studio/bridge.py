"""A tiny browser-side helper: keyboard shortcuts, downloads and an opt-in frame-rate probe.

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
