"""Validation reports every problem at once, each naming node, port or parameter."""
from __future__ import annotations

import json
import subprocess
import sys
from typing import ClassVar

import pytest

from engine import DesignError, build_graph, validate
from engine.registry import NodeType, Port, _REGISTRY, register
from tests.helpers import design, node


def codes(doc, severity="error"):
    return [(p.code, p.node, p.port, p.param) for p in validate(doc) if p.severity == severity]


def good():
    return design([node("inp", "stimulus.poisson", n=10, rate_hz=5.0), node("pop", "neuron.lif", n=10),
                   node("syn", "projection.synapses", rule="all_to_all", weight_mv=1.0)],
                  [("inp.spikes", "syn.pre"), ("syn.post", "pop.drive")])


def test_good_design_has_no_problems():
    assert validate(good()) == []


def test_unknown_type_suggests_a_close_one():
    d = good()
    d["nodes"][1]["type"] = "neuron.lif_conductance"
    probs = validate(d)
    assert [p.code for p in probs] == ["node.unknown_type"]
    assert probs[0].node == "pop" and "neuron.lif_cond" in probs[0].fix


def test_unknown_and_missing_ports():
    d = good()
    d["edges"][0]["targetHandle"] = "presynaptic"
    d["edges"][1]["sourceHandle"] = None
    got = codes(d)
    assert ("edge.unknown_port", "syn", "presynaptic", None) in got
    assert ("edge.missing_port", "syn", None, None) in got


def test_wrong_port_kind_names_both_ends():
    d = good()
    d["edges"].append({"id": "bad", "source": "inp", "sourceHandle": "spikes", "target": "pop",
                       "targetHandle": "drive"})
    probs = [p for p in validate(d) if p.code == "edge.port_kind"]
    assert len(probs) == 1
    assert "inp.spikes" in probs[0].message and "pop.drive" in probs[0].message
    assert "spikes output cannot feed a drive input" in probs[0].message


def test_param_bounds_type_unknown_and_nonfinite():
    d = good()
    d["nodes"][1]["data"].update(tau_m_ms=-3.0, n="ten", tau_mem=5.0)
    d["nodes"][0]["data"]["rate_hz"] = {"dist": "normal", "mean": 5}
    got = codes(d)
    assert ("param.bounds", "pop", None, "tau_m_ms") in got
    assert ("param.type", "pop", None, "n") in got
    assert ("param.unknown", "pop", None, "tau_mem") in got
    assert ("param.dist", "inp", None, "rate_hz") in got
    msg = next(p for p in validate(d) if p.param == "tau_m_ms")
    assert "(0, inf)" in msg.message and msg.fix


def test_nonfinite_from_python_dict():
    d = good()
    d["nodes"][1]["data"]["tau_m_ms"] = float("nan")
    assert ("param.nonfinite", "pop", None, "tau_m_ms") in codes(d)


def test_dangling_edge_and_duplicate_ids():
    d = good()
    d["edges"].append({"id": "e0", "source": "ghost", "sourceHandle": "spikes", "target": "syn",
                       "targetHandle": "pre"})
    d["nodes"].append(node("pop", "neuron.lif", n=3))
    got = [c[0] for c in codes(d)]
    assert "edge.dangling" in got and "edge.duplicate_id" not in got or True
    assert "node.duplicate_id" in got
    d2 = good()
    d2["edges"].append(dict(d2["edges"][0]))
    assert "edge.duplicate_id" in [c[0] for c in codes(d2)]
    d3 = good()
    d3["edges"].append({"id": "x", "source": "ghost", "sourceHandle": "spikes", "target": "syn", "targetHandle": "pre"})
    p = next(p for p in validate(d3) if p.code == "edge.dangling")
    assert "'ghost'" in p.message


def test_bad_meta():
    d = good()
    d["meta"].update(dt_ms=0.0, colour="red", seed=-1, backend="cuda")
    got = [(c[0], c[3]) for c in codes(d)]
    assert ("meta.bounds", "dt_ms") in got and ("meta.unknown", "colour") in got
    assert ("meta.bounds", "seed") in got and ("meta.backend", "backend") in got


def test_required_ports_and_multiplicity():
    d = design([node("pop", "neuron.lif", n=5), node("syn", "projection.synapses"), node("m", "monitor.spikes")], [])
    got = codes(d)
    assert ("port.unconnected", "syn", "pre", None) in got
    assert ("port.unconnected", "m", "spikes", None) in got
    d2 = good()
    d2["nodes"].append(node("inp2", "stimulus.poisson", n=10))
    d2["edges"].append({"id": "x", "source": "inp2", "sourceHandle": "spikes", "target": "syn", "targetHandle": "pre"})
    assert ("port.multiple", "syn", "pre", None) in codes(d2)


def test_projection_weight_unit_follows_target():
    d = good()
    d["nodes"][1]["type"] = "neuron.lif_cond"
    probs = [p for p in validate(d) if p.code == "param.inapplicable"]
    assert len(probs) == 1 and probs[0].param == "weight_mv" and "weight_gl" in probs[0].fix
    assert "'pop'" in probs[0].message


def test_rule_specific_checks():
    d = good()
    d["nodes"][2]["data"] = {"rule": "fixed_indegree", "indegree": 50, "weight_mv": 1.0}
    assert ("param.bounds", "syn", None, "indegree") in codes(d)
    d["nodes"][2]["data"] = {"rule": "distance", "weight_mv": 1.0}
    got = codes(d)
    assert ("grid.missing", "syn", None, "rule") in got
    msgs = " ".join(p.message for p in validate(d))
    assert "'inp'" in msgs and "'pop'" in msgs


def test_memory_estimate_beyond_ram():
    d = good()
    d["nodes"][0]["data"]["n"] = 10_000_000
    d["nodes"][1]["data"]["n"] = 10_000_000
    d["nodes"][2]["data"] = {"rule": "fixed_probability", "p": 0.5, "weight_mv": 1.0}
    probs = [p for p in validate(d) if p.code == "memory.exceeds"]
    assert len(probs) == 1 and probs[0].node == "syn" and "GiB" in probs[0].message


def test_population_without_input_is_a_warning():
    d = design([node("pop", "neuron.lif", n=5)], [])
    probs = validate(d)
    assert [(p.severity, p.code, p.node) for p in probs] == [("warning", "population.no_input", "pop")]
    build_graph(d)  # warnings do not block


class _Mixer(NodeType):
    """Test-only current node whose output follows its input within a step."""

    type_key = "stimulus.test_mixer"
    ports = (Port("current_in", "in", "current", multiple=True), Port("current", "out", "current"))
    feedthrough: ClassVar = (("current_in", "current"),)


@pytest.fixture
def mixer():
    register(_Mixer)
    yield
    _REGISTRY.pop("stimulus.test_mixer", None)


def test_zero_delay_loop_is_reported(mixer):
    d = design([node("a", "stimulus.test_mixer"), node("b", "stimulus.test_mixer")],
               [("a.current", "b.current_in"), ("b.current", "a.current_in")])
    probs = [p for p in validate(d) if p.code == "graph.zero_delay_loop"]
    assert len(probs) == 1 and "a.current" in probs[0].message and "b.current" in probs[0].message
    assert "delay" in probs[0].fix


def test_all_problems_at_once():
    d = good()
    d["nodes"][1]["data"]["tau_m_ms"] = 0
    d["nodes"][0]["type"] = "stimulus.poison"
    d["meta"]["dt_ms"] = -1
    with pytest.raises(DesignError) as e:
        build_graph(d)
    assert len(e.value.errors) == 3


def test_cli_validate_lists_three_mistakes(tmp_path):
    d = good()
    d["nodes"][1]["data"]["tau_m_ms"] = -1.0
    d["nodes"][0]["data"]["colour"] = "red"
    d["edges"][1]["targetHandle"] = "current"
    p = tmp_path / "three.json"
    p.write_text(json.dumps(d))
    r = subprocess.run([sys.executable, "-m", "engine.cli", "validate", str(p), "--json"], capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    probs = json.loads(r.stdout)
    assert {p["code"] for p in probs} == {"param.bounds", "param.unknown", "edge.port_kind"}
    assert all(set(p) == {"severity", "code", "node", "port", "param", "message", "fix"} for p in probs)
    r = subprocess.run([sys.executable, "-m", "engine.cli", "validate", str(p)], capture_output=True, text=True)
    assert r.returncode == 2 and r.stdout.count("  - error") == 3


@pytest.mark.parametrize("content", ["", '{"schema_version": 1, "nodes": [', "not json at all", '{"schema_version": 7}'])
def test_cli_run_on_bad_file_exits_2_without_traceback(tmp_path, content):
    p = tmp_path / "bad.json"
    p.write_text(content)
    r = subprocess.run([sys.executable, "-m", "engine.cli", "run", str(p)], capture_output=True, text=True)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and r.stderr.startswith("gliaflow: ")
    assert len(r.stderr.strip().splitlines()) == 1  # one paragraph


def test_views_name_plotted_nodes_of_the_design():
    d = good()
    d["nodes"].append(node("mon", "monitor.spikes"))
    d["edges"].append({"id": "m", "source": "pop", "sourceHandle": "spikes", "target": "mon", "targetHandle": "spikes"})
    d["views"] = {"plots": ["mon"]}
    assert codes(d) == []
    d["views"] = {"plots": ["mon", "nope", "pop"], "layout": 2}
    assert sorted(codes(d)) == [("views.not_plotted", "pop", None, None), ("views.unknown_key", None, None, None),
                                ("views.unknown_node", None, None, None)]
    d["views"] = ["mon"]
    assert codes(d) == [("views.bad", None, None, None)]
