"""Designs as Python: export to a readable script, import it back without executing it,
and save a trained network with its learned weights.

Goldens: ``GLIAFLOW_UPDATE_GOLDEN=1 pytest tests/engine/test_script.py`` rewrites
tests/golden/*.py from the exporter (review the diff before committing it).
"""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine import Design, DesignError, Network, Simulation, load_design, validate
from engine.design import with_learned_state
from engine.params import check_value, meta
from engine.registry import all_types
from engine.script import canonical, export_script, import_script, load_script
from tests.helpers import harness

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
GALLERY = sorted(p.stem for p in (ROOT / "gallery").glob("*.json"))  # every gallery design has a golden
BIN = Path(sys.executable).parent


def gf(*args, cwd=None):
    return subprocess.run([str(BIN / "gliaflow"), *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def py(*args, cwd=None):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)


# --- goldens and round trips ----------------------------------------------------------------
@pytest.mark.parametrize("name", GALLERY)
def test_gallery_export_matches_golden(name):
    text = export_script(load_design(name), source=f"{name}.py")
    path = GOLDEN / f"{name}.py"
    if os.environ.get("GLIAFLOW_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", GALLERY)
def test_gallery_round_trip_is_identity(name):
    d = load_design(name)
    back = import_script(export_script(d))
    assert canonical(back) == canonical(d.doc)
    # the canonical form is itself a valid design that means the same thing
    assert not [p for p in validate(canonical(d.doc)) if p.severity == "error"]


def test_script_is_readable():
    text = (GOLDEN / "coba.py").read_text()
    assert 'exc = net.add("neuron.lif_cond", "exc", label="E (3200)", n=3200, i_bias_mv=20.0,' in text
    assert "net.connect(exc.spikes, ee.pre" in text
    assert "tau_m_ms" not in text  # 20.0 is the default: only non-default parameters are written
    assert 'v_init_mv={"dist": "normal", "mean": -55.0, "std": 5.0}' in text
    assert "dt_ms=0.1, duration_ms=1000, seed=1, backend=\"numba\"" in text
    assert text.rstrip().endswith("# exc_v 650 120")
    assert max(len(ln) for ln in text.splitlines()) <= 100
    assert '{"schema_version"' not in text  # never the design JSON


def test_variable_names_are_valid_and_unique():
    net = Network("names")
    for nid in ("in", "net", "x-1", "x_1", "print", "Network", "lambda"):
        net.add("stimulus.poisson", nid, n=2)
    text = export_script(net.design)
    compile(text, "m.py", "exec")
    for v in ("in_ = net.add", "net_ = net.add", "x_1 = net.add", "x_1_2 = net.add", "print_ = net.add",
              "Network_ = net.add", "lambda_ = net.add"):
        assert v in text
    assert canonical(import_script(text)) == canonical(net.design.doc)


@pytest.mark.parametrize("type_key", sorted(all_types()))
def test_every_registered_type_round_trips(type_key):
    d = harness(type_key)
    assert canonical(import_script(export_script(d))) == canonical(d)


# --- property test: random valid designs ------------------------------------------------------
ODD_IDS = ["in", "net", "lambda", "x-1", "print", "Network", "E", "a_b-c", "class", "main"]
ODD_LABELS = ["", "E→I", 'say "hi"', "tab\tand\\backslash", "ünï cödé", "two\nlines", "{'a': 1}", "#not a comment"]


def _mutate_value(rng, name, p):
    md = meta(p)
    kind = md.get("kind", "number")
    if kind == "choice":
        return p.objects[rng.integers(len(p.objects))]
    if kind == "flag":
        return not p.default
    if kind == "integer":
        lo, hi = p.bounds if p.bounds is not None else (None, None)
        lo = lo if lo is not None else (p.default or 0) - 3
        hi = hi if hi is not None else (p.default or 0) + 5
        return int(rng.integers(lo, min(hi, lo + 50) + 1))
    if kind == "number":
        if md.get("dist") and rng.random() < 0.3:
            base = float(p.default or 1.0)
            return rng.choice([{"dist": "normal", "mean": base, "std": round(abs(base) * 0.1 + 0.5, 3)},
                               {"dist": "constant", "value": base}])
        lo, hi = p.bounds if p.bounds is not None else (None, None)
        base = float(p.default) if p.default is not None else 1.0
        lo = lo if lo is not None else base - 10.0
        hi = hi if hi is not None else base + 10.0
        return float(np.round(rng.uniform(lo, hi), 4))
    return None


def _random_design(seed: int) -> Design:
    rng = np.random.default_rng(seed)
    keys = sorted(all_types())
    nodes, edges = [], []
    for j in range(int(rng.integers(1, 4))):
        h = harness(keys[rng.integers(len(keys))])
        main_id = f"{ODD_IDS[rng.integers(len(ODD_IDS))]}{j}"
        ren = {n["id"]: (main_id if n["id"] == "x" else f"g{j}_{n['id']}") for n in h["nodes"]}
        for n in h["nodes"]:
            n = copy.deepcopy(n)
            n["id"] = ren[n["id"]]
            n["label"] = ODD_LABELS[rng.integers(len(ODD_LABELS))]
            n["position"] = {"x": float(np.round(rng.uniform(-900, 900), 2)), "y": int(rng.integers(-500, 500))}
            if rng.random() < 0.1:
                n.pop("label")
            nodes.append(n)
        for e in h["edges"]:
            e = dict(e, source=ren[e["source"]], target=ren[e["target"]])
            r = rng.random()
            if r < 0.4:
                e.pop("id")
            elif r < 0.7:
                e["id"] = f"w{j}-{e['id']} ✓"
            else:
                e["id"] = f"g{j}_{e['id']}"
            edges.append(e)
    meta_ = {"name": f"random {seed}", "dt_ms": float(rng.choice([0.05, 0.1, 0.25])),
             "duration_ms": float(rng.integers(10, 500)), "seed": int(rng.integers(0, 2**40))}
    if rng.random() < 0.5:
        meta_["description"] = "a random design " * int(rng.integers(1, 12))
    doc = {"schema_version": 1, "meta": meta_, "nodes": nodes, "edges": edges}
    # random parameter values, each kept only if the design stays valid
    for n in nodes:
        decls = all_types()[n["type"]].param_decls()
        names = [k for k in decls if meta(decls[k]).get("kind") != "text"]
        for k in rng.permutation(names)[: int(rng.integers(0, 4))]:
            v = _mutate_value(rng, k, decls[k])
            if v is None or check_value(k, decls[k], v):
                continue
            old = n["data"].get(k, ...)
            n["data"][k] = v
            if any(p.severity == "error" for p in validate(doc)):
                if old is ...:
                    n["data"].pop(k)
                else:
                    n["data"][k] = old
    arrays = {}
    proj = [n for n in nodes if n["type"] == "projection.synapses"]
    if proj and rng.random() < 0.3:  # an array reference: the script must name the sidecar
        d = Design(doc)
        proj[0]["data"]["weight_array"] = d.put_array("w0", rng.random(7))
        arrays = d.arrays
    return Design(doc, arrays)


def test_round_trip_of_random_designs():
    n_arrays = 0
    for seed in range(30):
        d = _random_design(seed)
        assert not [p for p in validate(d) if p.severity == "error" and p.code != "array.missing"], seed
        text = export_script(d)
        back = import_script(text, f"random{seed}.py")
        assert canonical(back) == canonical(d.doc), seed
        if d.arrays:
            n_arrays += 1
            assert 'arrays="random_0.arrays.npz"'.replace("0", str(seed)) in text
    assert n_arrays >= 3


# --- running the script reproduces `gliaflow run` --------------------------------------------
def _summary(proc) -> dict:
    s = json.loads(proc.stdout.strip().splitlines()[-1])
    for k in ("wall_s", "compile_s", "realtime_factor"):
        s.pop(k)
    return s


def _unplaced(doc) -> dict:
    c = canonical(doc)
    for n in c["nodes"]:
        n.pop("position", None)
    return c


@pytest.mark.parametrize("name,ms", [("coba", 100), ("nalsm", 200)])
def test_python_script_reproduces_gliaflow_run_spike_for_spike(tmp_path, name, ms):
    r = gf("export", name, "-o", tmp_path / f"{name}.py")
    assert r.returncode == 0, r.stderr
    a = gf("run", name, "--duration-ms", ms, "--out", tmp_path / "cli.npz", "--json", "--quiet", cwd=tmp_path)
    b = py(f"{name}.py", "--duration-ms", ms, "--out", "script.npz", "--quiet", cwd=tmp_path)
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    assert _summary(a) == _summary(b)  # the same JSON summary (timings aside)
    with np.load(tmp_path / "cli.npz") as za, np.load(tmp_path / "script.npz") as zb:
        assert set(za.files) == set(zb.files)
        spikes = [k for k in za.files if k.startswith("spikes/")]
        assert spikes and sum(len(za[k]) for k in spikes if k.endswith("/i")) > 100
        for k in za.files:
            if k == "design_json":  # the same design, up to canvas positions (not in a script's run)
                assert _unplaced(json.loads(str(za[k]))) == _unplaced(json.loads(str(zb[k])))
            else:
                np.testing.assert_array_equal(za[k], zb[k], err_msg=k)


# --- import: hand edits within the subset, and refusals ---------------------------------------
def test_hand_edits_within_the_subset_are_read():
    text = (GOLDEN / "coba.py").read_text()
    text = text.replace('n=3200, i_bias_mv=20.0,', 'n=100, i_bias_mv=21.5,  # smaller')
    text = text.replace('net.connect(ii.post, inh.drive, id="ii-inh")\n', "")
    text = text.replace("if __name__", "# an extra monitor\nrate = net.add(\"monitor.spikes\", \"inh2\")\n"
                        "net.connect(inh.spikes, rate.spikes)\n\nif __name__")
    doc = import_script(text)
    d = Design(doc)
    assert d.node("exc")["data"]["n"] == 100 and d.node("exc")["data"]["i_bias_mv"] == 21.5
    assert "ii-inh" not in [e["id"] for e in d.edges]
    assert d.edges[-1] == {"id": "inh.spikes-inh2.spikes", "source": "inh", "sourceHandle": "spikes",
                           "target": "inh2", "targetHandle": "spikes"}
    assert d.node("exc")["position"] == {"x": 0, "y": 0}  # from the trailing comment block
    assert "position" in d.node("inh2")  # a node without a line gets the builder's layout


EVIL = 'import os\nos.system("touch {marker}")\n'


def test_import_refuses_code_and_executes_nothing(tmp_path):
    marker = tmp_path / "pwned"
    text = (GOLDEN / "coba.py").read_text().replace("from engine import Network\n",
                                                    "from engine import Network\n" + EVIL.format(marker=marker))
    with pytest.raises(DesignError) as ei:
        import_script(text, "evil.py")
    msg = str(ei.value)
    assert "evil.py, line 8" in msg and "import" in msg  # import os
    assert "evil.py, line 9" in msg and "os.system" in msg
    assert "from engine import Network" in msg  # says what is allowed
    assert not marker.exists()
    # the CLI: exit code 2, no design written, nothing executed
    (tmp_path / "evil.py").write_text(text)
    r = gf("import", tmp_path / "evil.py", "-o", tmp_path / "out.json")
    assert r.returncode == 2 and "line 8" in r.stderr
    assert not (tmp_path / "out.json").exists() and not marker.exists()


@pytest.mark.parametrize("line,what", [
    ('x = net.add("neuron.lif", "x", n=int("5"))', "not a literal"),
    ('x = net.add("neuron.lif", "x", n=5, tau_m_ms=1e999)', "not finite"),
    ('for k in range(3):\n    net.add("neuron.lif", f"p{k}")', "not allowed"),
    ('x = net.add("neuron.lif", "x").__class__', "not allowed"),
    ('y = 5', "not allowed"),
    ('open("/etc/passwd")', "open"),
    ('__import__("os").system("true")', "not allowed"),
    ('from engine import Network as N', "import"),
    ('import engine', "import"),
    ('net.design.doc["meta"]["name"] = "x"', "not allowed"),
    ('x = net.add("neuron.lif", "x", n=(lambda: 3)())', "not a literal"),
    ('x = net.add("neuron.lif", "x", **{"n": 3})', "**kwargs"),
    ('net.connect(exc.spikes.__class__, ee.pre)', "not a port"),
    ('net.connect(nobody.spikes, ee.pre)', "not a node defined above"),
    ('x = net.add("neuron.lif", "x", n=[i for i in range(3)])', "not a literal"),
    ('x = net.add("neuron.lif", "x", nn=3)', "has no parameter 'nn'"),
    ('x = net.add("neuron.lif", "x", n=-3)', "outside"),
    ('e = net.connect(exc.spikes, ee.pre)', "not allowed"),
    ('with open("f") as f: pass', "not allowed"),
    ('net = Network("again")', "second Network"),
])
def test_import_refuses_everything_else_with_the_line(line, what):
    base = (GOLDEN / "coba.py").read_text()
    pos = base.index("\nif __name__")
    text = base[:pos] + "\n" + line + "\n" + base[pos:]
    n = base[:pos].count("\n") + 2
    with pytest.raises(DesignError) as ei:
        import_script(text, "m.py")
    msg = str(ei.value)
    assert f"m.py, line {n}" in msg and what in msg, msg


def test_import_reports_syntax_errors_and_bad_positions():
    with pytest.raises(DesignError, match="line 1: not valid Python"):
        import_script("net = Network(\n", "m.py")
    text = (GOLDEN / "coba.py").read_text().replace("# inh 0 300", "# inh zero 300")
    with pytest.raises(DesignError, match="line .*x and y must be finite numbers"):
        import_script(text, "m.py")


# --- learned state ----------------------------------------------------------------------------
def _trainable() -> Network:
    net = Network("train", duration_ms=300.0, seed=3)
    src = net.add("stimulus.poisson", "src", n=20, rate_hz=40.0)
    pop = net.add("neuron.lif", "pop", n=10, i_bias_mv=14.0)
    syn = net.add("projection.synapses", "syn", rule="fixed_indegree", indegree=8, weight_mv=2.0)
    rule = net.add("plasticity.stdp", "stdp", w_max=4.0, a_plus=0.1, a_minus=0.105)
    net.connect(src.spikes, syn.pre)
    net.connect(syn.post, pop.drive)
    net.connect(rule.rule, syn.rule)
    mon = net.add("monitor.spikes", "raster")
    net.connect(pop.spikes, mon.spikes)
    return net


def test_save_with_learned_state_reopen_export_and_rerun(tmp_path):
    net = _trainable()
    sim = net.run()
    learned = sim.plan.buffers["syn.w"].copy()
    assert np.abs(learned - 2.0).max() > 0.05  # the rule did learn
    assert not np.array_equal(sim.plan.node_info["syn"]["order"], np.arange(len(learned)))  # CSR != connect order
    with_learned_state(sim).save(tmp_path / "trained.json")
    reopened = Simulation(Design.load(tmp_path / "trained.json"))
    np.testing.assert_array_equal(reopened.plan.buffers["syn.w"], learned)  # bit for bit
    # the CLI flag writes the same state (same seed, same run)
    net.save(tmp_path / "train.json")
    r = gf("run", tmp_path / "train.json", "--save-state", tmp_path / "cli_trained.json", "--quiet", "--json")
    assert r.returncode == 0, r.stderr
    cli = Design.load(tmp_path / "cli_trained.json")
    np.testing.assert_array_equal(Simulation(cli).plan.buffers["syn.w"], learned)
    # exported with its arrays, the script starts from the learned weights and reruns like the design
    r = gf("export", tmp_path / "cli_trained.json", "-o", tmp_path / "trained_model.py")
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "trained_model.py").read_text()
    assert 'arrays="trained_model.arrays.npz"' in text and '"array": "syn.learned_w"' in text
    np.testing.assert_array_equal(Simulation(load_script(tmp_path / "trained_model.py")).plan.buffers["syn.w"],
                                  learned)
    a = gf("run", tmp_path / "cli_trained.json", "--duration-ms", 100, "--out", tmp_path / "a.npz", "--quiet")
    b = py("trained_model.py", "--duration-ms", 100, "--out", "b.npz", "--quiet", cwd=tmp_path)
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    with np.load(tmp_path / "a.npz") as za, np.load(tmp_path / "b.npz") as zb:
        np.testing.assert_array_equal(za["spikes/pop/t_ms"], zb["spikes/pop/t_ms"])
        np.testing.assert_array_equal(za["spikes/pop/i"], zb["spikes/pop/i"])
    # import back: the design with its arrays
    r = gf("import", tmp_path / "trained_model.py", "-o", tmp_path / "again.json")
    assert r.returncode == 0, r.stderr
    again = Design.load(tmp_path / "again.json")
    assert canonical(again.doc) == canonical(cli.doc)
    np.testing.assert_array_equal(again.arrays["syn.learned_w"], cli.arrays["syn.learned_w"])
