"""Contract over every registered type: declared well, validates, runs 10 ms, survives save/load."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from engine import Simulation, all_types, load_design, validate
from engine.params import meta
from engine.registry import FAMILIES, PORT_KINDS
from tests.helpers import harness

TYPES = sorted(all_types())


@pytest.mark.parametrize("key", TYPES)
def test_declaration(key):
    cls = all_types()[key]
    assert cls.family() in FAMILIES and key == key.lower()
    assert cls.description() and cls.__doc__
    for p in cls.ports:
        assert p.kind in PORT_KINDS and p.doc
    for name, p in cls.param_decls().items():
        md = meta(p)
        assert p.doc, f"{key}.{name} has no doc"
        assert md.get("kind") in ("number", "integer", "choice", "flag", "text", "array"), name
        assert "live" in md
    d = cls.describe()
    json.dumps(d)


@pytest.mark.parametrize("key", TYPES)
def test_validates_runs_and_survives_save_load(key, tmp_path):
    doc = harness(key)
    errors = [p for p in validate(doc) if p.severity == "error"]
    assert errors == []
    sim = Simulation(doc)
    sim.run(10.0)
    assert sim.t_ms == pytest.approx(10.0)
    s1 = sim.summary()
    path = tmp_path / "d.json"
    sim.design.save(path)
    again = load_design(path)
    assert again.doc == sim.design.doc
    sim2 = Simulation(again)
    sim2.run(10.0)
    s2 = sim2.summary()
    assert s1["populations"] == s2["populations"]
    assert s1["monitors"] == s2["monitors"]
    for r in sim.plan.recorders:
        if r.kind == "spikes" and r.info.get("keep", True):
            for a, b in zip(sim.spikes(r.node), sim2.spikes(r.node)):
                np.testing.assert_array_equal(a, b)


def test_types_json_lists_ports_and_params():
    r = subprocess.run([sys.executable, "-m", "engine.cli", "types", "--json"], capture_output=True, text=True)
    assert r.returncode == 0
    out = json.loads(r.stdout)
    assert set(out["types"]) == set(TYPES)
    for k, d in out["types"].items():
        for p in d["ports"]:
            assert set(p) >= {"name", "direction", "kind", "multiple"}
        for name, p in d["params"].items():
            assert set(p) >= {"default", "bounds", "unit", "doc", "live"}
    assert out["types"]["neuron.lif_cond"]["params"]["tau_m_ms"]["unit"] == "ms"
    assert out["ports"]["compatible"]["spikes"] == ["activity", "spikes"]


def test_types_markdown_reference(tmp_path):
    p = tmp_path / "ref.md"
    r = subprocess.run([sys.executable, "-m", "engine.cli", "types", "--markdown", str(p)], capture_output=True, text=True)
    assert r.returncode == 0
    text = p.read_text()
    for k in TYPES:
        assert f"`{k}`" in text
    assert "tau_m_ms" in text and "dv/dt" in text


def test_committed_node_reference_is_current():
    from engine.docs import reference_markdown
    from tests.helpers import ROOT
    assert (ROOT / "docs" / "node-types.md").read_text() == reference_markdown(), \
        "docs/node-types.md is stale: run `gliaflow types --markdown`"
