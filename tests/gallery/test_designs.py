"""Every gallery design, the four things a newcomer does with it (issue 8, acceptance 1).

For each ``gallery/*.json``: it opens in the studio with no error (and, when it declares
``views.plots``, the studio's plots open in that order), it validates, it runs headless
through ``gliaflow run`` (shortened to a few chunks: the designs' own result tests in this
folder run them at length), and it exports to a Python script that imports back to the same
design. The list is derived from the folder, so a new design is covered without editing
this file.
"""
from __future__ import annotations

import json

import pytest

from engine import cli
from engine.design import load_design
from engine.script import canonical, export_script, import_script
from engine.validate import validate
from tests.helpers import ROOT

GALLERY = sorted(p.stem for p in (ROOT / "gallery").glob("*.json"))
SHORT_MS = 20.0


@pytest.fixture(scope="module", params=GALLERY)
def name(request):
    return request.param


def test_validates_without_errors(name):
    errors = [p for p in validate(ROOT / "gallery" / f"{name}.json") if p.severity == "error"]
    assert errors == [], [str(p) for p in errors]


def test_describes_itself_for_the_gallery_menu(name):
    meta = load_design(ROOT / "gallery" / f"{name}.json").meta
    assert meta.get("name") == name
    assert len(meta.get("description", "")) > 80, "a one-paragraph description is shown in the gallery menu"
    assert meta.get("reference"), "say which paper or benchmark the design reproduces"


def test_opens_in_the_studio_with_its_plots_arranged(name):
    from studio.app import Studio

    st = Studio(str(ROOT / "gallery" / f"{name}.json"), recovery=False)
    assert st.design.name == name
    assert not [p for p in st.problems if p.severity == "error"]
    plots = (st.design.doc.get("views") or {}).get("plots") or []
    if plots:
        st.run(SHORT_MS, block=True)
        for nid, card in zip(plots, st.plots.cards):
            assert nid in card.nodes, f"views.plots puts {nid} at this place, the studio shows {card.key}"


def test_runs_headless(name, capsys):
    rc = cli.main(["run", str(ROOT / "gallery" / f"{name}.json"), "--duration-ms", str(SHORT_MS), "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    assert rc == 0, out[-5:]
    summary = json.loads(out[-1])
    assert summary["sim_ms"] == pytest.approx(SHORT_MS), summary
    assert summary["design"] == name


def test_exports_to_a_script_and_back(name):
    d = load_design(ROOT / "gallery" / f"{name}.json")
    src = export_script(d)
    compile(src, f"{name}.py", "exec")
    assert canonical(import_script(src)) == canonical(d)
