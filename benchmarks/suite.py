"""The suite's plan and its runner: cases, alternating repetitions, pairwise ratios.

A *case* is one network at one size with the simulators that run it ("sims"). Within a
repetition every sim of the case runs once, each in its own process, in a fixed order
(A B C, A B C, ...), so machine drift cancels in the per-repetition ratios. A run is
*clean* when the rest of the machine used at most ``max_background`` cores around its
timed section (``benchmarks.workers.Timed``); medians use clean runs and ratios clean
pairs. When no run (pair) is clean, all are used and the case is marked ``loaded``.

Sim specs: ``kind`` (gliaflow, brian2, nest), ``t_ms`` (biological time; peers are
shortened where they are slow), ``mode`` (Brian2), ``threads``, ``family`` (a different
network as a pairwise reference, e.g. static COBA inside the STDP case) and ``once``
(one shortened run in the first repetition only).
"""
from __future__ import annotations

import json
import os
import shutil
import statistics as st
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.workers import PREFIX

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
G, CY, CPP, NEST = "gliaflow", "brian2_cython", "brian2_cpp_standalone", "nest"
BRIAN2_FAMILIES = ("coba", "cuba", "brunel", "coba_stdp")  # networks with a Brian2 peer


def sim(kind: str, t_ms: float, **kw) -> dict:
    return {"kind": kind, "t_ms": float(t_ms), "threads": 1, **kw}


def case(family: str, n: int, sims: dict, reps: int | None = None, note: str = "") -> dict:
    return {"key": f"{family}-{n}", "family": family, "n": int(n), "sims": sims, "reps": reps, "note": note}


def peers(t: float, nest_t: float | None, cython_t: float | None = None, cpp_t: float | None = None) -> dict:
    out = {CY: sim("brian2", cython_t or t, mode="cython"), CPP: sim("brian2", cpp_t or t, mode="cpp_standalone")}
    if nest_t:
        out[NEST] = sim("nest", nest_t)
    return out


def plan(mode: str, threads: int = 2) -> dict:
    """The cases of ``quick``, ``full`` and ``smoke`` (the test's) mode, and the compile benchmarks."""
    if mode == "smoke":
        return {"reps": 1, "cases": [case("coba", 400, {G: sim("gliaflow", 50), NEST: sim("nest", 20)})],
                "compile": ["coba"], "compile_n": {"coba": 400}, "profile": False}
    if mode == "quick":
        return {"reps": 3, "profile": False, "compile": ["coba"], "compile_n": {},
                "cases": [case("coba", 4000, {G: sim("gliaflow", 500), CPP: sim("brian2", 500, mode="cpp_standalone")}),
                          case("cuba", 4000, {G: sim("gliaflow", 500), NEST: sim("nest", 200)})]}
    big = {G: sim("gliaflow", 1000)}
    if threads > 1:
        big[f"{G} ({threads} threads)"] = sim("gliaflow", 1000, threads=threads)
    big[CPP] = sim("brian2", 200, mode="cpp_standalone", once=True)
    if threads > 1:
        big[f"{CPP} ({threads} threads)"] = sim("brian2", 200, mode="cpp_standalone", threads=threads, once=True)
    cases = [
        case("coba", 4000, {G: sim("gliaflow", 1000), **peers(1000, 100)}),
        case("coba", 16000, {G: sim("gliaflow", 1000), **peers(1000, 100, cython_t=500)}),
        case("coba", 64000, big, note="peers: one shortened Brian2 cpp_standalone run"),
        case("coba", 256000, {G: sim("gliaflow", 1000)}, note="synapses in DRAM; gliaflow alone"),
        case("cuba", 4000, {G: sim("gliaflow", 1000), **peers(1000, 500)}),
        case("cuba", 16000, {G: sim("gliaflow", 1000), **peers(1000, 200, cython_t=500)}),
        case("brunel", 12500, {G: sim("gliaflow", 500), **peers(500, 100, cython_t=200)}, reps=3),
        case("coba_stdp", 4000, {G: sim("gliaflow", 1000), "gliaflow static COBA": sim("gliaflow", 1000, family="coba"),
                                 **peers(1000, None)}),
        case("coba_stdp", 16000, {G: sim("gliaflow", 1000), **peers(1000, None, cython_t=500)}),
        case("neuron_glia_lr", 4000, {G: sim("gliaflow", 1000),
                                      "gliaflow static COBA": sim("gliaflow", 1000, family="coba")}),
        case("nalsm", 1000, {G: sim("gliaflow", 1000)}),
    ]
    return {"reps": 5, "cases": cases, "profile": True, "compile_n": {"brunel": 12500, "nalsm": 1000},
            "compile": ["coba", "cuba", "brunel", "coba_stdp", "neuron_glia_lr", "nalsm"]}


# --- running workers ---------------------------------------------------------------------

CACHE_ENV: dict = {}  # smoke mode: the suite's private kernel/numba caches


def worker(args: list[str], threads: int = 1, env: dict | None = None, timeout: float = 1800) -> dict:
    t = str(threads)
    e = dict(os.environ, **CACHE_ENV, NUMBA_NUM_THREADS=t, OMP_NUM_THREADS=t, OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
             PYTHONPATH=str(ROOT))
    e.update(env or {})
    r = subprocess.run([sys.executable, "-m", "benchmarks.workers", *args], capture_output=True, text=True, env=e,
                       cwd=ROOT, timeout=timeout)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith(PREFIX)]
    if r.returncode != 0 or not lines:
        raise RuntimeError(f"worker {' '.join(args)} failed (exit {r.returncode}):\n{r.stderr[-3000:]}")
    return json.loads(lines[-1][len(PREFIX):])


def version(module: str, dist: str | None = None) -> str | None:
    """The installed version of a peer (None: not installed), without importing it."""
    import importlib.metadata
    import importlib.util
    if importlib.util.find_spec(module) is None:
        return None
    try:
        return importlib.metadata.version(dist or module)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_one(c: dict, label: str, spec: dict, rep: int, tmp: Path, conn: str) -> dict:
    fam = spec.get("family", c["family"])
    base = ["--family", fam, "--n", str(c["n"]), "--t-ms", repr(spec["t_ms"]), "--threads", str(spec["threads"])]
    if spec["kind"] == "gliaflow":
        return worker(["gliaflow", *base, "--conn", conn if (rep == 0 and label == G) else ""], spec["threads"])
    if spec["kind"] == "nest":
        return worker(["nest", *base, "--conn", "" if fam == "brunel" else conn], spec["threads"])
    if spec["mode"] == "cython":
        r = worker(["brian2", *base, "--mode", "cython", "--conn", conn, "--workdir", str(tmp.parent / "cython")])
        return r
    wd = tmp / f"cpp-{label.replace(' ', '_').replace('(', '').replace(')', '')}"
    if rep == 0 or not (wd / "main").exists():
        return worker(["brian2", *base, "--mode", "cpp_standalone", "--conn", conn, "--workdir", str(wd)],
                      spec["threads"])
    return worker(["brian2_rerun", *base, "--workdir", str(wd)], spec["threads"])


def med(xs):
    xs = [x for x in xs if x is not None]
    return st.median(xs) if xs else None


def summarise(c: dict, runs: dict, max_bg: float) -> dict:
    """Medians over clean runs, ratios over clean pairs (rep by rep against gliaflow)."""
    out = {}
    clean = lambda r: r is not None and r["background_cores"] <= max_bg  # noqa: E731
    ref = runs.get(G, [])
    for label, rs in runs.items():
        spec = c["sims"][label]
        done = [r for r in rs if r is not None]
        keep = [r for r in done if clean(r)]
        loaded = not keep
        use = keep or done
        rtf = [r["run_s"] / (r["t_ms"] * 1e-3) for r in use]
        pairs = [(r, ref[k]) for k, r in enumerate(rs) if r is not None and k < len(ref) and ref[k] is not None]
        cp = [(a, b) for a, b in pairs if clean(a) and clean(b)]
        ratio = None
        if label != G and pairs:
            ratio = med([(a["run_s"] / a["t_ms"]) / (b["run_s"] / b["t_ms"]) for a, b in (cp or pairs)])
        first = next((r for r in done if r.get("rates_hz")), done[0] if done else {})
        builds = [r.get("build_s") for r in done if r.get("build_s") is not None]
        s = {"kind": spec["kind"], "t_ms": spec["t_ms"], "threads": spec["threads"], "dtype": "float64",
             "runs": len(done), "clean_runs": len(keep), "loaded": loaded, "clean_pairs": len(cp) if label != G else None,
             "run_s": med([r["run_s"] for r in use]), "realtime_factor": med(rtf),
             "rtf_all": [round(r["run_s"] / (r["t_ms"] * 1e-3), 5) for r in done],
             "realtime_factor_best": min(rtf) if rtf else None,
             "background_cores": [round(r["background_cores"], 3) for r in done],
             "loadavg": [r.get("loadavg") for r in done],
             "ratio_to_gliaflow": ratio, "rates_hz": first.get("rates_hz"), "spikes": first.get("spikes"),
             "peak_rss_mb": med([r.get("rss_mb") for r in done]), "build_first_s": builds[0] if builds else None,
             "build_later_s": med(builds[1:]) if len(builds) > 1 else None}
        if spec["kind"] == "gliaflow":
            s.update({k: med([r[k] for r in use]) for k in ("warm_same_process_s", "syn_events_per_s",
                                                            "neuron_steps_per_s", "kernel_s")})
            later = done[1:] or done  # the first run of a new size may compile: warm = the later runs
            s.update(ready_s=med([r["ready_s"] for r in later]), compile_s=med([r["compile_s"] for r in later]),
                     first_compile_s=done[0]["compile_s"])
            s.update(synapses=done[0]["synapses"], neurons=done[0]["neurons"], parallel_kernel=done[0]["parallel_kernel"],
                     family=spec.get("family", c["family"]))
        g0 = ref[0] if ref else None
        if spec["kind"] == "brian2" and g0 and first.get("spikes") and first["t_ms"] == g0["t_ms"]:
            s["same_spike_counts"] = all(first["spikes"].get(p) == g0["spikes"].get(p) for p in first["spikes"])
        out[label] = s
    return out


def run_case(c: dict, reps: int, max_bg: float, tmp_root: Path, available: dict) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix=f"{c['key']}-", dir=tmp_root))
    conn = str(tmp / "conn.npz")
    sims = {lab: s for lab, s in c["sims"].items()
            if available.get(s["kind"], True) and (s["kind"] != "brian2" or c["family"] in BRIAN2_FAMILIES)}
    c = dict(c, sims=sims)
    runs: dict[str, list] = {lab: [] for lab in sims}
    errors = []
    t0 = time.time()
    for rep in range(reps):
        for lab, spec in sims.items():
            if spec.get("once") and rep > 0:
                continue
            log(f"  {c['key']}: repetition {rep + 1}/{reps}, {lab}")
            try:
                runs[lab].append(run_one(c, lab, spec, rep, tmp, conn))
            except Exception as e:  # a failing peer is reported, not fatal
                if lab == G:
                    raise
                errors.append(f"{lab}: {str(e).strip().splitlines()[-1] if str(e).strip() else e!r}")
                log(f"    failed: {errors[-1]}")
                runs[lab].append(None)
    shutil.rmtree(tmp, ignore_errors=True)
    res = {k: c[k] for k in ("key", "family", "n", "note")}
    res.update(reps=reps, errors=errors, wall_s=time.time() - t0, sims=summarise(c, runs, max_bg),
               raw={k: v for k, v in runs.items()})
    return res


def compile_bench(families: list[str], sizes: dict, tmp_root: Path) -> dict:
    """gliaflow compile: cold (empty kernel and numba caches), in a fresh process."""
    out = {}
    for fam in families:
        from benchmarks.networks import FAMILIES
        n = sizes.get(fam, FAMILIES[fam]["n"])
        d = Path(tempfile.mkdtemp(prefix=f"cold-{fam}-", dir=tmp_root))
        log(f"  compile: {fam}-{n} cold (empty caches)")
        cold = CACHE_ENV or {"GLIAFLOW_CACHE_DIR": str(d / "gf"), "NUMBA_CACHE_DIR": str(d / "nb")}
        r = worker(["gliaflow", "--family", fam, "--n", str(n), "--t-ms", "10"], env=cold)
        out[fam] = {"n": n, "cold_ready_s": r["ready_s"], "cold_compile_s": r["compile_s"], "plan_s": r["plan_s"],
                    "import_s": r["import_s"], "warm_same_process_s": r["warm_same_process_s"],
                    "background_cores": r["background_cores"]}
        shutil.rmtree(d, ignore_errors=True)
    return out


def run_suite(mode: str, reps: int | None, max_bg: float, threads: int = 2, only: list[str] | None = None) -> dict:
    p = plan(mode, threads)
    available = {"brian2": bool(version("brian2")), "nest": bool(version("nest", "nest-simulator")), "gliaflow": True}
    t0 = time.time()
    tmp_root = Path(tempfile.mkdtemp(prefix="gfsuite-"))
    if mode == "smoke":  # isolated and cheap: the cold compile fills the caches the case then loads from
        CACHE_ENV.update(GLIAFLOW_CACHE_DIR=str(tmp_root / "gf"), NUMBA_CACHE_DIR=str(tmp_root / "nb"))
    try:
        cases = [c for c in p["cases"] if not only or c["family"] in only or c["key"] in only]
        comp = compile_bench([f for f in p["compile"] if not only or f in only], p.get("compile_n", {}), tmp_root)
        out = []
        for c in cases:
            r = reps or c["reps"] or p["reps"]
            log(f"{c['key']} ({r} repetitions)")
            out.append(run_case(c, r, max_bg, tmp_root, available))
    finally:
        CACHE_ENV.clear()
        shutil.rmtree(tmp_root, ignore_errors=True)
    return {"mode": mode, "max_background_cores": max_bg, "peers_available": available, "cases": out,
            "compile": comp, "wall_s": time.time() - t0}
