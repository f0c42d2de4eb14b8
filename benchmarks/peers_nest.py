"""NEST 3 peers of the suite's networks (one thread unless told), statistically equivalent.

- COBA: ``iaf_cond_exp`` (adaptive RKF45 integration), C_m 200 pF, g_L 10 nS (tau_m
  20 ms), I_e = i_bias x g_L, conductance weights w x g_L in nS (negative for the
  inhibitory receptor), gliaflow's connectivity and initial potentials.
- CUBA: ``iaf_psc_exp`` (exact integration), C_m 250 pF, current weights
  w_mV x C_m / tau_m in pA, gliaflow's connectivity and initial potentials.
- Brunel: ``iaf_psc_delta`` with NEST's own ``fixed_indegree`` connectivity (same rule
  and in-degrees; 12.5 M synapses are cheaper to draw than to hand over), a
  ``poisson_generator`` at 20 kHz per neuron, J = 0.1 mV, g = 5, 1.5 ms delays, initial
  potentials U(0, 20) mV.

NEST's minimum delay is one step, so spikes gliaflow delivers within the step (COBA, CUBA
delay 0) arrive one step later in NEST. Build time is node creation + connection; run
time is ``nest.Simulate``; NEST's runs are shortened (see the suite's tables).
"""
from __future__ import annotations

import time

import numpy as np

from benchmarks.networks import CUBA, FAMILIES, design
from benchmarks.workers import Timed, rss_mb

PAIRS = {"ee": ("exc", "exc"), "ei": ("exc", "inh"), "ie": ("inh", "exc"), "ii": ("inh", "inh")}


def _connect_arrays(nest, pops, c, weight_of, delay: float):
    for pid, (src, tgt) in PAIRS.items():
        i, j, w = c[f"{pid}_i"], c[f"{pid}_j"], c[f"{pid}_w"]
        pre = np.asarray(pops[src].tolist(), np.int64)[i]
        post = np.asarray(pops[tgt].tolist(), np.int64)[j]
        ww = np.broadcast_to(np.asarray(w, np.float64), i.shape)
        nest.Connect(pre, post, "one_to_one", {"weight": np.ascontiguousarray(weight_of(pid, ww)),
                                               "delay": np.full(len(i), delay)})


def run(family: str, n: int, t_ms: float, conn: str, threads: int = 1) -> dict:
    t0 = time.perf_counter()
    import nest
    import_s = time.perf_counter() - t0
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.set(resolution=0.1, local_num_threads=threads, rng_seed=1, print_time=False)
    data = {nd["id"]: nd["data"] for nd in design(family, n)["nodes"]}
    t1 = time.perf_counter()
    c = dict(np.load(conn)) if conn else None
    pops = {}
    if family == "coba":
        e = data["exc"]
        g_l = 10.0
        params = dict(C_m=200.0, g_L=g_l, E_L=e["e_leak_mv"], V_th=e["v_threshold_mv"], V_reset=e["v_reset_mv"],
                      t_ref=e["refractory_ms"], E_ex=e["e_exc_mv"], E_in=e["e_inh_mv"],
                      tau_syn_ex=data["ee"]["tau_syn_ms"], tau_syn_in=data["ie"]["tau_syn_ms"], I_e=e["i_bias_mv"] * g_l)
        for p in ("exc", "inh"):
            pops[p] = nest.Create("iaf_cond_exp", len(c[f"{p}_v0"]), params=params)
            pops[p].V_m = c[f"{p}_v0"]
        _connect_arrays(nest, pops, c, lambda pid, w: (1.0 if pid[0] == "e" else -1.0) * w * g_l, 0.1)
    elif family == "cuba":
        p = CUBA
        c_m = 250.0
        params = dict(C_m=c_m, tau_m=p["tau_m_ms"], E_L=p["e_leak_mv"], V_th=p["v_threshold_mv"],
                      V_reset=p["v_reset_mv"], t_ref=p["refractory_ms"], tau_syn_ex=p["tau_e_ms"],
                      tau_syn_in=p["tau_i_ms"], I_e=0.0)
        for q in ("exc", "inh"):
            pops[q] = nest.Create("iaf_psc_exp", len(c[f"{q}_v0"]), params=params)
            pops[q].V_m = c[f"{q}_v0"]
        _connect_arrays(nest, pops, c, lambda pid, w: w * c_m / p["tau_m_ms"], 0.1)
    elif family == "brunel":
        e, ee, ie = data["exc"], data["ee"], data["ie"]
        params = dict(C_m=250.0, tau_m=e["tau_m_ms"], t_ref=e["refractory_ms"], E_L=e["e_leak_mv"],
                      V_th=e["v_threshold_mv"], V_reset=e["v_reset_mv"])
        for q in ("exc", "inh"):
            pops[q] = nest.Create("iaf_psc_delta", data[q]["n"], params=params)
            pops[q].V_m = nest.random.uniform(e["v_init_mv"]["low"], e["v_init_mv"]["high"])
        noise = nest.Create("poisson_generator", params={"rate": data["ext_e"]["rate_hz"]})
        for q in ("exc", "inh"):
            nest.Connect(noise, pops[q], syn_spec={"weight": data["xe"]["weight_mv"], "delay": 0.1})
        d = ee["delay_ms"]
        for src, spec in (("exc", ee), ("inh", ie)):
            for tgt in ("exc", "inh"):
                nest.Connect(pops[src], pops[tgt], {"rule": "fixed_indegree", "indegree": int(spec["indegree"]),
                                                    "allow_autapses": False},
                             {"weight": spec["weight_mv"], "delay": d})
    else:
        raise ValueError(f"no NEST peer for '{family}'")
    recs = {}
    for q, pop in pops.items():
        recs[q] = nest.Create("spike_recorder")
        nest.Connect(pop, recs[q])
    build_s = time.perf_counter() - t1
    nest.Prepare()  # NEST's own setup before the first step, kept out of the timed section
    with Timed() as tm:
        nest.Run(t_ms)
    nest.Cleanup()
    spikes = {q: int(r.n_events) for q, r in recs.items()}
    return {"sim": "nest", "family": family, "n": n, "t_ms": t_ms, "dtype": "float64", "threads": threads,
            "import_s": import_s, "build_s": build_s, "run_s": tm.wall, "run_cpu_s": tm.cpu,
            "background_cores": tm.background,
            "loadavg": tm.loadavg, "rss_mb": rss_mb(), "spikes": spikes,
            "rates_hz": {q: spikes[q] / (len(pops[q]) * t_ms * 1e-3) for q in FAMILIES[family]["pops"]}}
