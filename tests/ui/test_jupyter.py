"""The example notebooks: headless (nbclient) and in a real JupyterLab in Debian's Chromium.

The JupyterLab test starts `jupyter lab` from this repository's environment (its config
enables the `studio.jupyter` server extension that scripts/setup.sh installs), opens
`examples/gallery_in_studio.ipynb`, runs every cell from the Run menu, and checks what a
user sees: the canvas' nodes, a raster with ink, and no request leaving 127.0.0.1.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from .harness import free_port

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "examples").glob("*.ipynb"))
pytestmark = pytest.mark.ui


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_example_notebooks_execute_headless(path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "stored with outputs"
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []


@pytest.fixture
def jupyterlab(tmp_path):
    pytest.importorskip("jupyterlab")
    port = free_port()
    # a copy of the notebooks: JupyterLab's autosave must not write outputs into the repository's
    root = tmp_path / "root"
    (root / "examples").mkdir(parents=True)
    for nb in NOTEBOOKS:
        (root / "examples" / nb.name).write_bytes(nb.read_bytes())
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "ws"), IPYTHONDIR=str(tmp_path / "ipy"))
    env.pop("BOKEH_RESOURCES", None)  # the server extension must set it
    cmd = [sys.executable, "-m", "jupyterlab", f"--port={port}", "--ip=127.0.0.1", "--no-browser", "--allow-root",
           f"--ServerApp.root_dir={root}", "--ServerApp.token=", "--ServerApp.password=",
           "--ServerApp.disable_check_xsrf=True", "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    log = open(tmp_path / "jupyter.log", "w")
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        t0 = time.time()
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=1)
                break
            except Exception:
                if proc.poll() is not None or time.time() - t0 > 60:
                    raise RuntimeError("jupyter lab did not start: " + (tmp_path / "jupyter.log").read_text()[-2000:])
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        text = (tmp_path / "jupyter.log").read_text()
        assert "gliaflow: Panel/Bokeh resources served locally" in text, text[-2000:]


def test_studio_notebook_runs_in_jupyterlab(jupyterlab, browser, tmp_path):
    from PIL import Image

    page = browser.ctx.new_page()
    page.on("console", lambda m: browser.console.append(f"{m.type}: {m.text}"))
    page.goto(f"{jupyterlab}/lab/tree/examples/gallery_in_studio.ipynb", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-Notebook", timeout=60000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60000)
    deadline = time.time() + 60  # the kernel starts (no kernel dialog: the notebook names its kernelspec)
    while time.time() < deadline and "Idle" not in page.locator(".jp-StatusBar-TextItem").all_inner_texts().__str__():
        if page.locator(".jp-Dialog .jp-mod-accept").count():
            page.locator(".jp-Dialog .jp-mod-accept").first.click()
        page.wait_for_timeout(300)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-item", has_text="Run All Cells").first.click()
    page.wait_for_selector(".react-flow__node", timeout=90000)
    deadline = time.time() + 120
    while time.time() < deadline:  # the last cell prints the rates after the second run
        outs = page.locator(".jp-Cell").last.locator(".jp-OutputArea-output").all_inner_texts()
        if any("'exc'" in o or '"exc"' in o for o in outs):
            break
        page.wait_for_timeout(500)
    else:
        raise AssertionError("the notebook's last cell never printed the rates")
    page.screenshot(path=str(tmp_path / "notebook.png"))
    assert page.locator(".react-flow__node").count() == 9  # COBA: 2 populations, 4 projections, 3 monitors
    # the second run rebuilt the plot cards: the page may still be swapping the old ones for the
    # new, so look again until a raster is attached and inked
    ink, deadline = 0.0, time.time() + 30
    while time.time() < deadline:
        try:
            page.locator(".gf-plots canvas").first.scroll_into_view_if_needed(timeout=5000)
            page.wait_for_timeout(1000)
            png = page.locator(".gf-plots").first.screenshot(path=str(tmp_path / "notebook-plots.png"), timeout=5000)
        except Exception:  # noqa: BLE001 - detached while being replaced: look again
            page.wait_for_timeout(500)
            continue
        a = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
        ink = float((a < 200).mean())
        if ink > 0.02:
            break
    assert ink > 0.02, "the live raster is empty"
    errors = [c for c in browser.console if c.startswith("error") and "favicon" not in c]
    assert not [e for e in errors if "reactflow" in e.lower() or "Cannot read properties" in e], errors
