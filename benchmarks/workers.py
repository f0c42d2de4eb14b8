"""One measurement per process: ``python -m benchmarks.workers KIND ARGS...`` prints one JSON line.

Every worker times only the simulation of ``t_ms`` biological milliseconds; building and
compiling are timed separately. ``background_cores`` is the CPU the rest of the machine
used during the timed section (system busy time minus this process's, per wall second).
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


class Timed:
    def __enter__(self):
        import psutil
        self.p = psutil.Process()
        self.sys0 = psutil.cpu_times()
        self.own0 = self.p.cpu_times()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        import psutil
        self.wall = time.perf_counter() - self.t0
        s1, o1 = psutil.cpu_times(), self.p.cpu_times()
        busy = lambda c: sum(getattr(c, k) for k in ("user", "nice", "system", "irq", "softirq", "steal") if hasattr(c, k))  # noqa
        own = sum(getattr(o1, k) - getattr(self.own0, k) for k in ("user", "system", "children_user", "children_system"))
        self.background = max(0.0, (busy(s1) - busy(self.sys0) - own) / max(self.wall, 1e-9))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def gliaflow_coba(n: int, t_ms: float, conn_out: str | None = None) -> dict:
    t0 = time.perf_counter()
    from engine import Simulation
    from benchmarks.networks import coba
    import_s = time.perf_counter() - t0
    d = coba(n)
    t1 = time.perf_counter()
    sim = Simulation(d)
    ready_s = time.perf_counter() - t1
    if conn_out:
        import numpy as np
        arrays = {}
        for p in ("ee", "ei", "ie", "ii"):
            i, j, w = sim.connectivity(p)
            arrays[f"{p}_i"], arrays[f"{p}_j"], arrays[f"{p}_w"] = i, j, w
            arrays[f"{p}_decay"] = np.array(sim.plan.params[p]["decay"])
        for p in ("exc", "inh"):
            arrays[f"{p}_v0"] = sim.plan.buffers[f"{p}.v"].copy()
        np.savez(conn_out, **arrays)
    with Timed() as tm:
        sim.run(t_ms)
    s = sim.summary()
    # a second simulation in the same process after a parameter change: no recompilation
    d["nodes"][0]["data"]["i_bias_mv"] = 20.5
    t2 = time.perf_counter()
    Simulation(d)
    warm_same_s = time.perf_counter() - t2
    syn = sum(len(sim.connectivity(p)[0]) for p in ("ee", "ei", "ie", "ii"))
    spikes = {k: v["n_spikes"] for k, v in s["populations"].items()}
    out_deg = {"exc": (len(sim.connectivity("ee")[0]) + len(sim.connectivity("ei")[0])) / sim.graph.size("exc"),
               "inh": (len(sim.connectivity("ie")[0]) + len(sim.connectivity("ii")[0])) / sim.graph.size("inh")}
    events = sum(spikes[k] * out_deg[k] for k in spikes)
    return {"sim": "gliaflow", "n": n, "t_ms": t_ms, "import_s": import_s, "ready_s": ready_s,
            "compile_s": sim.compile_s, "build_s": sim.build_s, "warm_same_process_s": warm_same_s,
            "run_s": tm.wall, "background_cores": tm.background, "rss_mb": _rss_mb(),
            "rates_hz": {k: v["rate_hz"] for k, v in s["populations"].items()}, "synapses": syn,
            "syn_events_per_s": events / tm.wall, "neuron_steps_per_s": n * (t_ms / 0.1) / tm.wall,
            "dtype": "float64"}


def brian2_coba(mode: str, n: int, t_ms: float, conn: str, workdir: str) -> dict:
    import numpy as np
    t0 = time.perf_counter()
    import brian2 as b2
    import_s = time.perf_counter() - t0
    c = np.load(conn)
    if mode == "cpp_standalone":
        b2.set_device("cpp_standalone", directory=workdir, build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = 0
    else:
        b2.prefs.codegen.target = "cython"
        b2.prefs.codegen.runtime.cython.cache_dir = os.path.join(workdir, "cython-cache")
    b2.defaultclock.dt = 0.1 * b2.second  # the same numbers as gliaflow's (1 "second" = 1 ms)
    eqs = """dv/dt = (ge*(Ee-v)+gi*(Ei-v)-(v-El)+I)/taum : 1 (unless refractory)
             ge : 1
             gi : 1"""
    ns = dict(taum=20 * b2.second, El=-60.0, Ee=0.0, Ei=-80.0, I=20.0, Vt=-50.0, Vr=-60.0)
    groups = {}
    for p in ("exc", "inh"):
        g = b2.NeuronGroup(len(c[f"{p}_v0"]), eqs, threshold="v>Vt", reset="v=Vr", refractory=5 * b2.second,
                           method="euler", namespace=ns, name=p)
        g.v = c[f"{p}_v0"]
        groups[p] = g
    objs = list(groups.values())
    for p, (src, tgt, var) in {"ee": ("exc", "exc", "ge"), "ei": ("exc", "inh", "ge"),
                               "ie": ("inh", "exc", "gi"), "ii": ("inh", "inh", "gi")}.items():
        s = b2.Synapses(groups[src], groups[tgt], "w : 1", on_pre=f"{var}_post += w", name=p)
        s.connect(i=c[f"{p}_i"], j=c[f"{p}_j"])
        s.w = c[f"{p}_w"]
        objs.append(s)
    for p, (de, di) in {"exc": ("ee", "ie"), "inh": ("ei", "ii")}.items():
        objs.append(groups[p].run_regularly(f"ge = ge*{float(c[de + '_decay'])!r}\ngi = gi*{float(c[di + '_decay'])!r}",
                                            when="groups", order=1))
    mons = [b2.SpikeMonitor(groups[p], record=False) for p in ("exc", "inh")]
    net = b2.Network(*objs, *mons)
    if mode == "cpp_standalone":
        net.run(t_ms * b2.second)
        t1 = time.perf_counter()
        b2.device.build(directory=workdir, compile=True, run=False)
        build_s = time.perf_counter() - t1
        with Timed() as tm:
            b2.device.run(directory=workdir)
        run_s = b2.device._last_run_time
        binary_s = tm.wall
    else:
        t1 = time.perf_counter()
        net.run(0.1 * b2.second)  # compiles (or loads from the cython cache) every code object
        build_s = time.perf_counter() - t1
        with Timed() as tm:
            net.run(t_ms * b2.second)
        run_s = tm.wall
        binary_s = tm.wall
    rates = {p: float(m.num_spikes) / (len(groups[p]) * t_ms * 1e-3) for p, m in zip(("exc", "inh"), mons)}
    return {"sim": f"brian2_{mode}", "n": n, "t_ms": t_ms, "import_s": import_s, "build_s": build_s,
            "run_s": run_s, "process_run_s": binary_s, "background_cores": tm.background, "rss_mb": _rss_mb(),
            "rates_hz": rates, "dtype": "float64"}


def brian2_rerun(workdir: str, n: int, t_ms: float) -> dict:
    """Run an already built cpp_standalone binary again (no code generation, no compilation)."""
    import subprocess
    with Timed() as tm:
        subprocess.run(["./main"], cwd=workdir, check=True, stdout=subprocess.DEVNULL)
    run_s = float(open(os.path.join(workdir, "results", "last_run_info.txt")).read().split()[0])
    return {"sim": "brian2_cpp_standalone", "n": n, "t_ms": t_ms, "build_s": None, "run_s": run_s,
            "process_run_s": tm.wall, "background_cores": tm.background, "rss_mb": None, "rates_hz": None,
            "dtype": "float64"}


def main(argv: list[str]) -> None:
    kind = argv[0]
    if kind == "gliaflow_coba":
        res = gliaflow_coba(int(argv[1]), float(argv[2]), argv[3] if len(argv) > 3 else None)
    elif kind == "brian2_rerun":
        res = brian2_rerun(argv[1], int(argv[2]), float(argv[3]))
    elif kind == "brian2_coba":
        res = brian2_coba(argv[1], int(argv[2]), float(argv[3]), argv[4], argv[5])
    else:
        raise SystemExit(f"unknown worker {kind}")
    print(json.dumps(res))


if __name__ == "__main__":
    main(sys.argv[1:])
