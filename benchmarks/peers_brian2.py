"""Brian2 peers of the suite's networks: runtime (cython) and cpp_standalone.

Brian2 gets the connectivity, weights, synaptic decay factors and initial potentials that
gliaflow drew (the ``--conn`` file written by the gliaflow worker), in the same numbers
(time in Brian2's base unit with 1 "second" = 1 ms, potentials in mV as plain numbers).
A projection whose weights are all equal is given as a constant in ``on_pre`` (as gliaflow
folds it into its kernel), otherwise as a per-synapse variable.

- COBA: forward Euler in the arithmetic form of ``neuron.lif_cond``, traces decayed by the
  same factor after the state update: spike-exact on Brian2's numpy target
  (tests/engine/test_brian2.py); the compiled targets use ``-ffast-math``, so counts may
  differ in the last spikes.
- CUBA: Brian2's CUBA example (``method='exact'`` on v, ge, gi): statistically equivalent.
- Brunel: ``dv/dt = (E_L - v)/tau`` (``method='exact'``), delta synapses with 1.5 ms delay
  dropped while refractory (as gliaflow and NEST), external drive ``PoissonInput``
  (C_E = 1000 sources at 20 Hz, J = 0.1 mV): statistically equivalent.
- COBA-STDP: Brian2's standard event-driven pair STDP on E→E (per-synapse traces),
  A+ / A- / tau / bounds as gliaflow: statistically equivalent.

Build time: cython is code generation + compilation of every code object before the
first step (``Network.run(0 s)``; cold with an empty cache, warm with the suite's cache);
cpp_standalone is code generation + compilation of the project (``device.build``). Run time
for cpp_standalone is Brian2's own measurement of the main loop (``_last_run_time``).
"""
from __future__ import annotations

import os
import subprocess
import time

import numpy as np

from benchmarks.networks import CUBA, FAMILIES, STDP, design
from benchmarks.workers import Timed, rss_mb

PAIRS = {"ee": ("exc", "exc"), "ei": ("exc", "inh"), "ie": ("inh", "exc"), "ii": ("inh", "inh")}


def _data(family: str, n: int) -> dict:
    return {nd["id"]: nd["data"] for nd in design(family, n)["nodes"]}


def _synapses(b2, groups, c, pid, model, on_pre, name=None, **kw):
    src, tgt = PAIRS[pid]
    w = c[f"{pid}_w"]
    const = len(w) == 1
    s = b2.Synapses(groups[src], groups[tgt], model if not const else (model.replace("w : 1", "") or ""),
                    on_pre=on_pre.replace("W", repr(float(w[0])) if const else "w"), name=name or pid, **kw)
    s.connect(i=c[f"{pid}_i"], j=c[f"{pid}_j"])
    if not const:
        s.w = w
    return s


def _coba(b2, c, family, n, stdp: bool):
    data = _data(family, n)
    e = data["exc"]
    eqs = """dv/dt = (ge*(Ee-v)+gi*(Ei-v)-(v-El)+I)/taum : 1 (unless refractory)
             ge : 1
             gi : 1"""
    ns = dict(taum=e["tau_m_ms"] * b2.second, El=e["e_leak_mv"], Ee=e["e_exc_mv"], Ei=e["e_inh_mv"],
              I=e["i_bias_mv"], Vt=e["v_threshold_mv"], Vr=e["v_reset_mv"])
    groups = {}
    for p in ("exc", "inh"):
        g = b2.NeuronGroup(len(c[f"{p}_v0"]), eqs, threshold="v>Vt", reset="v=Vr",
                           refractory=e["refractory_ms"] * b2.second, method="euler", namespace=ns, name=p)
        g.v = c[f"{p}_v0"]
        groups[p] = g
    objs = list(groups.values())
    for pid in PAIRS:
        var = "ge" if pid[0] == "e" else "gi"
        if stdp and pid == "ee":
            s = b2.Synapses(groups["exc"], groups["exc"], """w : 1
                dapre/dt = -apre/taupre : 1 (event-driven)
                dapost/dt = -apost/taupost : 1 (event-driven)""",
                            on_pre="""ge_post += w
                apre += Ap
                w = clip(w + apost, wmin, wmax)""",
                            on_post="""apost += Am
                w = clip(w + apre, wmin, wmax)""", name="ee",
                            namespace=dict(taupre=STDP["tau_plus_ms"] * b2.second, taupost=STDP["tau_minus_ms"] * b2.second,
                                           Ap=STDP["a_plus"], Am=-STDP["a_minus"], wmin=STDP["w_min"], wmax=STDP["w_max"]))
            s.connect(i=c["ee_i"], j=c["ee_j"])
            w = c["ee_w"]
            s.w = float(w[0]) if len(w) == 1 else w
        else:
            s = _synapses(b2, groups, c, pid, "w : 1", f"{var}_post += W")
        objs.append(s)
    for p, (de, di) in {"exc": ("ee", "ie"), "inh": ("ei", "ii")}.items():
        objs.append(groups[p].run_regularly(f"ge = ge*{float(c[de + '_decay'])!r}\ngi = gi*{float(c[di + '_decay'])!r}",
                                            when="groups", order=1))
    return groups, objs


def _cuba(b2, c, family, n):
    p = CUBA
    eqs = """dv/dt = (ge+gi-(v-El))/taum : 1 (unless refractory)
             dge/dt = -ge/taue : 1
             dgi/dt = -gi/taui : 1"""
    ns = dict(taum=p["tau_m_ms"] * b2.second, taue=p["tau_e_ms"] * b2.second, taui=p["tau_i_ms"] * b2.second,
              El=p["e_leak_mv"], Vt=p["v_threshold_mv"], Vr=p["v_reset_mv"])
    groups = {}
    for q in ("exc", "inh"):
        g = b2.NeuronGroup(len(c[f"{q}_v0"]), eqs, threshold="v>Vt", reset="v=Vr",
                           refractory=p["refractory_ms"] * b2.second, method="exact", namespace=ns, name=q)
        g.v = c[f"{q}_v0"]
        groups[q] = g
    objs = list(groups.values())
    for pid in PAIRS:
        objs.append(_synapses(b2, groups, c, pid, "w : 1", f"{'ge' if pid[0] == 'e' else 'gi'}_post += W"))
    return groups, objs


def _brunel(b2, c, family, n):
    data = _data(family, n)
    e, xe, ee = data["exc"], data["ext_e"], data["ee"]
    ns = dict(tau=e["tau_m_ms"] * b2.second, El=e["e_leak_mv"], theta=e["v_threshold_mv"], Vr=e["v_reset_mv"])
    groups = {}
    for q in ("exc", "inh"):
        g = b2.NeuronGroup(len(c[f"{q}_v0"]), "dv/dt = (El - v)/tau : 1 (unless refractory)", threshold="v>theta",
                           reset="v=Vr", refractory=e["refractory_ms"] * b2.second, method="exact", namespace=ns, name=q)
        g.v = c[f"{q}_v0"]
        groups[q] = g
    objs = list(groups.values())
    delay = ee["delay_ms"] * b2.second
    for pid in PAIRS:
        objs.append(_synapses(b2, groups, c, pid, "w : 1", "v_post += W*int(not_refractory_post)", delay=delay))
    # the external drive: Brunel's C_E sources at nu_ext each, i.e. rate_hz per neuron in total
    c_e = int(ee["indegree"])
    for q in ("exc", "inh"):
        objs.append(b2.PoissonInput(groups[q], "v", N=c_e, rate=xe["rate_hz"] / c_e * 1e-3 / b2.second,
                                    weight=f"{data['xe']['weight_mv']!r}*int(not_refractory)"))
    return groups, objs


def _network(b2, family, n, c):
    if family in ("coba", "coba_stdp"):
        return _coba(b2, c, family, n, stdp=family == "coba_stdp")
    if family == "cuba":
        return _cuba(b2, c, family, n)
    if family == "brunel":
        return _brunel(b2, c, family, n)
    raise ValueError(f"no Brian2 peer for '{family}'")


def run(family: str, mode: str, n: int, t_ms: float, conn: str, workdir: str, threads: int = 1) -> dict:
    t0 = time.perf_counter()
    import brian2 as b2
    import_s = time.perf_counter() - t0
    c = dict(np.load(conn))
    if mode == "cpp_standalone":
        b2.set_device("cpp_standalone", directory=workdir, build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = threads if threads > 1 else 0
    elif mode == "cython":
        b2.prefs.codegen.target = "cython"
        b2.prefs.codegen.runtime.cython.cache_dir = os.path.join(workdir, "cython-cache")
    else:
        raise ValueError(f"unknown Brian2 mode '{mode}'")
    b2.defaultclock.dt = 0.1 * b2.second  # gliaflow's numbers (1 "second" = 1 ms)
    t1 = time.perf_counter()
    groups, objs = _network(b2, family, n, c)
    mons = {p: b2.SpikeMonitor(groups[p], record=False) for p in groups}
    net = b2.Network(*objs, *mons.values())
    setup_s = time.perf_counter() - t1
    if mode == "cpp_standalone":
        net.run(t_ms * b2.second)
        t2 = time.perf_counter()
        b2.device.build(directory=workdir, compile=True, run=False)
        build_s = time.perf_counter() - t2
        with Timed() as tm:
            b2.device.run(directory=workdir)
        run_s = b2.device._last_run_time
        rss = None  # the compiler's children share RUSAGE_CHILDREN here: see rerun
    else:
        t2 = time.perf_counter()
        net.run(0 * b2.second)  # generates and compiles (or loads from the cache) every code object
        build_s = time.perf_counter() - t2
        with Timed() as tm:
            net.run(t_ms * b2.second)
        run_s = tm.wall
        rss = rss_mb()
    spikes = {p: int(m.num_spikes) for p, m in mons.items()}
    return {"sim": f"brian2_{mode}", "family": family, "n": n, "t_ms": t_ms, "dtype": "float64", "threads": threads,
            "import_s": import_s, "setup_s": setup_s, "build_s": build_s, "run_s": run_s, "process_run_s": tm.wall,
            "run_cpu_s": tm.cpu,
            "background_cores": tm.background, "loadavg": tm.loadavg, "rss_mb": rss, "spikes": spikes,
            "rates_hz": {p: spikes[p] / (len(groups[p]) * t_ms * 1e-3) for p in FAMILIES[family]["pops"]}}


def rerun(family: str, n: int, t_ms: float, workdir: str, threads: int = 1) -> dict:
    """Run an already built cpp_standalone binary again (no code generation, no compilation)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    with Timed() as tm:
        subprocess.run(["./main"], cwd=workdir, check=True, stdout=subprocess.DEVNULL, env=env)
    run_s = float(open(os.path.join(workdir, "results", "last_run_info.txt")).read().split()[0])
    return {"sim": "brian2_cpp_standalone", "family": family, "n": n, "t_ms": t_ms, "dtype": "float64",
            "threads": threads, "build_s": None, "run_s": run_s, "process_run_s": tm.wall, "run_cpu_s": tm.cpu,
            "background_cores": tm.background, "loadavg": tm.loadavg, "rss_mb": rss_mb(children=True),
            "rates_hz": None}
