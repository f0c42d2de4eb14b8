"""Reading and writing design documents: atomic saves, every malformed-input class."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from engine import Design, DesignError, load_design
from engine.design import MAX_DESIGN_BYTES, SCHEMA_VERSION, array_hash, sidecar_path
from tests.helpers import ROOT


def _codes(excinfo) -> list[str]:
    return [p.code for p in excinfo.value.problems]


def test_round_trip_preserves_document(tmp_path):
    d = load_design("gallery/coba.json")
    out = d.save(tmp_path / "c.json")
    again = load_design(out)
    assert again.doc == d.doc


def test_gallery_resolves_by_name_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_design("gallery/coba.json").name == "coba"
    assert load_design("coba").name == "coba"


def test_sidecar_arrays_round_trip_with_hash(tmp_path):
    d = Design({"meta": {"name": "x"}})
    ref = d.put_array("w", np.arange(5.0))
    assert ref["sha256"] == array_hash(np.arange(5.0))
    d.save(tmp_path / "x.json")
    assert sidecar_path(tmp_path / "x.json").exists()
    again = Design.load(tmp_path / "x.json")
    np.testing.assert_array_equal(again.get_array(ref), np.arange(5.0))


def test_atomic_save_leaves_old_file_when_write_fails(tmp_path, monkeypatch):
    p = tmp_path / "d.json"
    d = load_design("gallery/coba.json")
    d.save(p)
    before = p.read_bytes()
    d.meta["name"] = "changed"

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        d.save(p)
    assert p.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["d.json"]  # no temp file left behind


def test_save_is_atomic_under_kill(tmp_path):
    """A writer killed mid-way never leaves a half-written design."""
    p = tmp_path / "big.json"
    load_design("gallery/coba.json").save(p)
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
            "from engine import load_design\n"
            f"d = load_design({str(p)!r}); d.meta['description'] = 'x' * 20_000_000\n"
            f"while True: d.save({str(p)!r})\n")
    proc = subprocess.Popen([sys.executable, "-c", code])
    time.sleep(2.0)
    proc.kill()
    proc.wait()
    json.loads(p.read_text())  # whole: either the old or a new version


@pytest.mark.parametrize("text,code", [
    ("", "file.empty"),
    ("   \n", "file.empty"),
    ('{"schema_version": 1, "meta": {', "file.truncated"),
    ('{"schema_version": 1, "nodes": [}', "json.malformed"),
    ("[1, 2, 3]", "json.not_object"),
    ('{"meta": {}}', "schema.missing"),
    ('{"schema_version": 99, "meta": {}}', "schema.newer"),
    ('{"schema_version": "1"}', "schema.bad"),
    ('{"schema_version": 1, "meta": {"dt_ms": NaN}}', "param.nonfinite"),
    ('{"schema_version": 1, "meta": {"dt_ms": Infinity}}', "param.nonfinite"),
    ("[" * 100000 + "]" * 100000, "json.too_deep"),
    ('{"schema_version": 1, "a": ' + "[" * 40 + "]" * 40 + "}", "json.too_deep"),
])
def test_bad_files_get_clear_errors(tmp_path, text, code):
    p = tmp_path / "bad.json"
    p.write_text(text)
    with pytest.raises(DesignError) as e:
        load_design(p)
    assert _codes(e) == [code]
    assert str(p) in str(e.value) or code.startswith("schema") or code.startswith("param")


def test_binary_and_missing_files(tmp_path):
    p = tmp_path / "bin.json"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DesignError) as e:
        load_design(p)
    assert _codes(e) == ["file.encoding"]
    with pytest.raises(DesignError) as e:
        load_design(tmp_path / "nope.json")
    assert _codes(e) == ["file.not_found"]
    with pytest.raises(DesignError) as e:
        load_design(tmp_path)
    assert _codes(e) == ["file.unreadable"]


def test_huge_file_is_refused_without_reading_it(tmp_path):
    p = tmp_path / "huge.json"
    with open(p, "wb") as f:
        f.truncate(MAX_DESIGN_BYTES + 1)
    t = time.perf_counter()
    with pytest.raises(DesignError) as e:
        load_design(p)
    assert _codes(e) == ["file.too_large"]
    assert time.perf_counter() - t < 1.0


def test_newer_schema_names_versions(tmp_path):
    p = tmp_path / "new.json"
    p.write_text(json.dumps({"schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(DesignError) as e:
        load_design(p)
    assert f"schema {SCHEMA_VERSION + 1}" in str(e.value) and "upgrade" in str(e.value)


def test_loading_never_executes_code(tmp_path):
    marker = tmp_path / "pwned"
    evil = {"schema_version": 1, "meta": {"name": f"__import__('os').system('touch {marker}')"},
            "nodes": [{"id": "a", "type": "neuron.lif", "data": {"n": "__import__('os')"}}], "edges": []}
    p = tmp_path / "evil.json"
    p.write_text(json.dumps(evil))
    np.savez(sidecar_path(p), x=np.zeros(2))
    from engine import validate
    probs = validate(p)
    assert any(pr.code == "param.type" for pr in probs)
    assert not marker.exists()


def test_sidecar_with_pickled_objects_is_refused(tmp_path):
    p = tmp_path / "d.json"
    load_design("gallery/coba.json").save(p)
    np.savez(sidecar_path(p), obj=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DesignError) as e:
        load_design(p)
    assert _codes(e) == ["sidecar.unreadable"]
