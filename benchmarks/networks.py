"""The suite's networks as gliaflow designs, and what the peers need to run the same network.

Every builder returns a design dict with its monitors, readouts and views removed (the
suite times the network; rates come from the populations' spike counters, as Brian2's
``SpikeMonitor(record=False)``). ``n`` is the total number of neurons.

- ``coba(n)``: the gallery COBA (Vogels & Abbott 2005; Brette et al. 2007 benchmark 1),
  80 % E / 20 % I, fixed probability p = 80 / n, i.e. in-degree 80 at every size (the
  weights are the gallery's, so the dynamics are the same at every size).
- ``cuba(n)``: Brette et al. 2007 benchmark 2 (Brian2's CUBA example): current-based LIF,
  tau_m 20 ms, E_L -49 mV, V_th -50 mV, V_reset -60 mV, 5 ms refractory, exponential
  current synapses tau_e 5 ms / tau_i 10 ms, w_e = 60 * 0.27 / 10 = 1.62 mV,
  w_i = -20 * 4.5 / 10 = -9 mV, in-degree 80, v0 ~ U(V_reset, V_th). gliaflow has no exact
  integrator for the coupled (v, I_syn) system: ``neuron.lif`` uses exponential Euler
  (exact for an input held over the step; the synaptic current is held at its value at
  the start of the step). The peers integrate exactly (Brian2 ``method='exact'``, NEST
  ``iaf_psc_exp``), so CUBA is compared statistically (rates), not spike by spike.
- ``brunel(n=12500)``: gallery/brunel.json (Brunel 2000 model A, g = 5, eta = 2, delta
  synapses, 1.5 ms delays, a Poisson count per neuron and step at 20 kHz). Other sizes
  keep epsilon = 0.1 (C_E = N_E / 10) and the external rate per neuron.
- ``coba_stdp(n)``: ``coba(n)`` with pair STDP (all-to-all, additive, hard bounds [0, 1.2]
  around the gallery's 0.6, A+ = 0.006, A- = 0.0063, tau+ = tau- = 20 ms) on every E→E
  synapse, as ``benchmarks/plasticity.py``.
- ``neuron_glia_lr(n)``: ``coba(n)`` plus Li–Rinzel astrocytes (``astrocyte.lr``, NEST
  astrocyte_lr_1994 defaults), one per 80 excitatory neurons: the E→E synaptic activity
  raises IP3 of the astrocyte whose domain holds the target (activity_gain 0.05: Ca crosses
  the SIC threshold about 0.8 s into a run), and
  each astrocyte's slow inward current reaches the excitatory neurons of its domain
  (sic_weight 0.5 mV). Modest on purpose: it measures what the glia cost on top of COBA.
- ``nalsm()``: the gallery NALSM liquid (1000 LIF neurons on a 10x10x10 lattice, digit
  input, astrocyte-gated STDP on every synapse, dt 1 ms), readout and monitors removed.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: family -> (populations whose rates prove the same network ran, default size)
FAMILIES = {
    "coba": {"title": "COBA (Brette et al. 2007 benchmark 1)", "pops": ("exc", "inh"), "n": 4000},
    "cuba": {"title": "CUBA (Brette et al. 2007 benchmark 2)", "pops": ("exc", "inh"), "n": 4000},
    "brunel": {"title": "Brunel 2000 model A (delta synapses, 1.5 ms delays, Poisson drive)",
               "pops": ("exc", "inh"), "n": 12500},
    "coba_stdp": {"title": "COBA with pair STDP on E→E", "pops": ("exc", "inh"), "n": 4000},
    "neuron_glia_lr": {"title": "COBA + Li–Rinzel astrocytes (IP3 from E→E activity, SIC back to E)",
                       "pops": ("exc", "inh"), "n": 4000},
    "nalsm": {"title": "NALSM liquid (gallery/nalsm.json, dt 1 ms)", "pops": ("E", "I"), "n": 1000},
}

STDP = {"a_plus": 0.006, "a_minus": 0.0063, "tau_plus_ms": 20.0, "tau_minus_ms": 20.0, "w_min": 0.0, "w_max": 1.2}
CUBA = {"tau_m_ms": 20.0, "e_leak_mv": -49.0, "v_threshold_mv": -50.0, "v_reset_mv": -60.0, "refractory_ms": 5.0,
        "tau_e_ms": 5.0, "tau_i_ms": 10.0, "w_e_mv": 60 * 0.27 / 10, "w_i_mv": -20 * 4.5 / 10}


def _gallery(name: str) -> dict:
    return json.loads((ROOT / "gallery" / f"{name}.json").read_text())


def _node(id: str, type: str, **data) -> dict:
    return {"id": id, "type": type, "position": {"x": 0, "y": 0}, "data": data}


def _edge(src: str, dst: str) -> dict:
    (s, sp), (t, tp) = src.rsplit(".", 1), dst.rsplit(".", 1)
    return {"id": f"{s}.{sp}->{t}.{tp}", "source": s, "sourceHandle": sp, "target": t, "targetHandle": tp}


def _strip(d: dict) -> dict:
    """Drop monitors, readouts and views: the suite times the network itself."""
    keep = [nd for nd in d["nodes"] if not nd["type"].startswith(("monitor.", "readout."))]
    ids = {nd["id"] for nd in keep}
    d["nodes"] = keep
    d["edges"] = [e for e in d["edges"] if e["source"] in ids and e["target"] in ids]
    d.pop("views", None)
    return d


def _ei(n: int) -> tuple[int, int]:
    ne = int(round(n * 0.8))
    return ne, n - ne


def coba(n: int = 4000, seed: int = 1) -> dict:
    d = _strip(_gallery("coba"))
    d["meta"].update(seed=seed, name=f"coba{n}")
    ne, ni = _ei(n)
    for nd in d["nodes"]:
        if nd["id"] == "exc":
            nd["data"]["n"] = ne
        elif nd["id"] == "inh":
            nd["data"]["n"] = ni
        elif nd["type"] == "projection.synapses":
            nd["data"]["p"] = min(1.0, 80.0 / n)
    return d


def cuba(n: int = 4000, seed: int = 1) -> dict:
    c = CUBA
    ne, ni = _ei(n)
    pop = dict(tau_m_ms=c["tau_m_ms"], e_leak_mv=c["e_leak_mv"], v_threshold_mv=c["v_threshold_mv"],
               v_reset_mv=c["v_reset_mv"], refractory_ms=c["refractory_ms"], method="exponential",
               v_init_mv={"dist": "uniform", "low": c["v_reset_mv"], "high": c["v_threshold_mv"]})
    p = min(1.0, 80.0 / n)
    nodes = [_node("exc", "neuron.lif", n=ne, **pop), _node("inh", "neuron.lif", n=ni, **pop)]
    edges = []
    for pid, src, dst in (("ee", "exc", "exc"), ("ei", "exc", "inh"), ("ie", "inh", "exc"), ("ii", "inh", "inh")):
        exc = src == "exc"
        nodes.append(_node(pid, "projection.synapses", rule="fixed_probability", p=p,
                           receptor="exc" if exc else "inh", synapse="exponential",
                           tau_syn_ms=c["tau_e_ms"] if exc else c["tau_i_ms"],
                           weight_mv=c["w_e_mv"] if exc else c["w_i_mv"]))
        edges += [_edge(f"{src}.spikes", f"{pid}.pre"), _edge(f"{pid}.post", f"{dst}.drive")]
    return {"schema_version": 1,
            "meta": {"name": f"cuba{n}", "description": "CUBA, Brette et al. 2007 benchmark 2 (benchmarks/networks.py)",
                     "dt_ms": 0.1, "duration_ms": 1000.0, "seed": seed, "backend": "numba"},
            "nodes": nodes, "edges": edges}


def brunel(n: int = 12500, seed: int = 1) -> dict:
    d = _strip(_gallery("brunel"))
    d["meta"].update(seed=seed, name=f"brunel{n}")
    ne, ni = _ei(n)
    ce, ci = max(1, round(ne / 10)), max(1, round(ni / 10))
    for nd in d["nodes"]:
        if nd["id"] in ("exc", "ext_e"):
            nd["data"]["n"] = ne
        elif nd["id"] in ("inh", "ext_i"):
            nd["data"]["n"] = ni
        elif nd["id"] in ("ee", "ei"):
            nd["data"]["indegree"] = ce
        elif nd["id"] in ("ie", "ii"):
            nd["data"]["indegree"] = ci
    return d


def coba_stdp(n: int = 4000, seed: int = 1) -> dict:
    d = coba(n, seed)
    d["meta"]["name"] = f"coba_stdp{n}"
    d["nodes"].append(_node("stdp", "plasticity.stdp", **STDP))
    d["edges"].append(_edge("stdp.rule", "ee.rule"))
    return d


def neuron_glia_lr(n: int = 4000, seed: int = 1) -> dict:
    d = coba(n, seed)
    d["meta"]["name"] = f"neuron_glia_lr{n}"
    ne, _ = _ei(n)
    d["nodes"].append(_node("astro", "astrocyte.lr", n=max(1, ne // 80), activity_gain=0.05, sic_weight=0.5))
    d["edges"] += [_edge("ee.activity", "astro.activity"), _edge("astro.sic", "exc.current")]
    return d


def nalsm(n: int = 1000, seed: int = 1) -> dict:
    if n != 1000:
        raise ValueError("nalsm: the liquid is the gallery's 10x10x10 lattice (n = 1000)")
    d = _strip(_gallery("nalsm"))
    d["meta"].update(seed=seed, name="nalsm")
    return d


BUILDERS = {"coba": coba, "cuba": cuba, "brunel": brunel, "coba_stdp": coba_stdp,
            "neuron_glia_lr": neuron_glia_lr, "nalsm": nalsm}


def design(family: str, n: int | None = None, seed: int = 1) -> dict:
    """The gliaflow design of ``family`` at ``n`` neurons (its default size if None)."""
    if family not in BUILDERS:
        raise KeyError(f"unknown benchmark network '{family}'; known: {', '.join(BUILDERS)}")
    return copy.deepcopy(BUILDERS[family](FAMILIES[family]["n"] if n is None else int(n), seed))
