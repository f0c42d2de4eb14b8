"""Files: the gallery, autosave/recovery, and size-limited parsing of opened designs."""
from __future__ import annotations

import hashlib
import json
import time
from importlib import resources
from pathlib import Path

from engine.design import Design, atomic_write_bytes, parse_json_text
from engine.paths import user_dir

MAX_UPLOAD_BYTES = 32 * 1024 * 1024


def gallery() -> dict[str, dict]:
    """Gallery designs by name: {"path", "title", "description"} (read as JSON, never executed)."""
    out = {}
    root = resources.files("gallery")
    for f in sorted(root.iterdir(), key=lambda p: p.name):
        if not f.name.endswith(".json"):
            continue
        try:
            doc = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        meta = doc.get("meta", {})
        desc = meta.get("description", "")
        out[f.name[:-5]] = {"path": str(f), "title": meta.get("name", f.name[:-5]),
                            "description": desc, "short": desc.split(". ")[0][:110]}
    return out


def parse_upload(raw: bytes, filename: str = "upload") -> Design:
    """An opened file as a Design: size-limited, UTF-8 JSON (or a gliaflow script), validated shape;
    never executed."""
    from engine.errors import DesignError, Problem
    if len(raw) > MAX_UPLOAD_BYTES:
        raise DesignError(Problem("error", "file.too_large", f"{filename} is {len(raw) / 2**20:.0f} MiB; designs "
                                  f"are at most {MAX_UPLOAD_BYTES // 2**20} MiB", "keep large arrays in the sidecar"))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DesignError(Problem("error", "file.encoding", f"{filename} is not UTF-8 text",
                                  "open a gliaflow design (.json)")) from None
    if filename.endswith(".py"):  # a script from `gliaflow export`: parsed (ast), never executed
        from engine.script import import_script
        return Design(import_script(text, source=filename))
    return Design(parse_json_text(text, source=filename))


def data_dir() -> Path:
    """Recovery files live here: ``$GLIAFLOW_DATA_DIR`` or the platform's user data folder."""
    return user_dir("data", "GLIAFLOW_DATA_DIR")


class Recovery:
    """Autosave of an unsaved design to a recovery file, offered again after a crash."""

    def __init__(self, key: str):
        h = hashlib.sha256(key.encode()).hexdigest()[:16]
        self.path = data_dir() / "recovery" / f"{h}.json"

    def write(self, design: Design) -> None:
        payload = {"saved_at": time.time(), "design": design.doc}
        atomic_write_bytes(self.path, json.dumps(payload, allow_nan=False).encode())

    def read(self) -> tuple[float, dict] | None:
        try:
            payload = json.loads(self.path.read_text())
            return float(payload["saved_at"]), payload["design"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def clear(self) -> None:
        try:
            self.path.unlink()
        except OSError:
            pass
