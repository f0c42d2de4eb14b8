"""Markdown of the suite's JSON: one table per network family, compile times, the targets.

Every table names the dtype (float64, the reference) and the threads of each row.
"Speed-up" is the median over repetitions of (peer realtime factor / gliaflow's realtime
factor in the same repetition): above 1, gliaflow is faster.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

from benchmarks.networks import FAMILIES
from benchmarks.suite import CPP, CY, G, version

HERE = Path(__file__).resolve().parent
LABELS = {G: "gliaflow (numba)", CY: "Brian2 runtime (cython)", CPP: "Brian2 cpp_standalone", "nest": "NEST 3"}

TARGETS = [  # (key, measure, naive reference, target text, op, value)
    ("coba4k_rtf", "COBA-4000, realtime factor", "0.11", "≤ 0.04", "le", 0.04),
    ("vs_cpp", "vs Brian2 cpp_standalone (COBA-4000, same network, same run)", "1.8×", "≥ 5×", "ge", 5.0),
    ("vs_cython", "vs Brian2 runtime (cython) (COBA-4000)", "4.6×", "≥ 12×", "ge", 12.0),
    ("coba256k_events", "COBA-256k (synapses in DRAM), synaptic events/s", "~0.1 G/s", "≥ 0.4 G/s", "ge", 0.4e9),
    ("threads_64k", "2 threads vs 1 thread, COBA-64k", "Brian2 gets slower", "≥ 1.5×", "ge", 1.5),
    ("stdp_vs_static", "STDP on E→E vs static (COBA-4000)", "—", "≤ 1.6× the static time", "le", 1.6),
    ("compile_cold", "compile, cold (COBA-4000, empty caches)", "—", "≤ 3 s", "le", 3.0),
    ("compile_warm", "compile, warm (cached, params changed, same process)", "—", "≤ 0.3 s", "le", 0.3),
    ("studio_live", "studio live run vs headless run", "—", "≤ 1.15×", "le", 1.15),
]


def machine() -> dict:
    info = {"machine": platform.machine(), "cores": os.cpu_count(), "python": platform.python_version()}
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                info["cpu"] = ln.split(":", 1)[1].strip()
                break
        lines = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
        for ln in lines:
            k = ln.split(":")[0].strip()
            if k in ("L1d cache", "L2 cache", "L3 cache"):
                info[k] = ln.split(":", 1)[1].strip()
        info["mem_gb"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (OSError, ValueError):  # pragma: no cover - not Linux
        pass
    try:
        import numba
        info["numba"] = numba.__version__
    except ImportError:  # pragma: no cover
        pass
    info["brian2"], info["nest"] = version("brian2"), version("nest", "nest-simulator")
    r = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE.parent)
    info["commit"] = r.stdout.strip() or None
    return info


def _f(x, fmt="{:.3g}", none="—"):
    return none if x is None else fmt.format(x)


def _rates(r):
    if not r:
        return "—"
    return " / ".join(f"{v:.2f}" for v in r.values())


def _case_rows(c: dict) -> list[str]:
    rows = []
    for lab, s in c["sims"].items():
        base = lab.split(" (")[0]
        name = LABELS.get(base, lab) + lab[len(base):]
        if lab.startswith("gliaflow static"):
            name = "gliaflow, static COBA (pairwise reference)"
        build = "—"
        if s["kind"] == "gliaflow":
            build = (f"ready {_f(s['ready_s'], '{:.2f}')} (kernel load {_f(s['compile_s'], '{:.2f}')}), "
                     f"param change {_f(s['warm_same_process_s'], '{:.3f}')}")
        elif s.get("build_first_s") is not None:
            build = f"first {_f(s['build_first_s'], '{:.1f}')}" + (
                f", later {_f(s['build_later_s'], '{:.2f}')}" if s.get("build_later_s") is not None else "")
        if lab == G:
            sp = "1"
        elif s["kind"] == "gliaflow":
            sp = f"{_f(s['ratio_to_gliaflow'], '{:.2f}')}× time"
        else:
            sp = f"**{_f(s['ratio_to_gliaflow'], '{:.2f}')}×**"
        ev = _f(s.get("syn_events_per_s") and s["syn_events_per_s"] / 1e6, "{:.0f}")
        nsteps = _f(s.get("neuron_steps_per_s") and s["neuron_steps_per_s"] / 1e6, "{:.0f}")
        exact = ""
        if "same_spike_counts" in s:
            exact = " (same spike counts)" if s["same_spike_counts"] else " (counts differ)"
        runs = f"{s['clean_runs']}/{s['runs']}" + (" ⚠" if s["loaded"] else "")
        b = s.get("realtime_factor_best")
        if b is None and s.get("rtf_all"):  # results written before the field existed
            b = min(s["rtf_all"])
        best = f" (best {b:.4f})" if b is not None and s["runs"] > 1 else ""
        rows.append(f"| {c['n']} | {name} | {s['threads']} | {s['t_ms'] / 1000:g} | {runs} | {_f(s['run_s'], '{:.4f}')} | "
                    f"{_f(s['realtime_factor'], '{:.4f}')}{best} | {sp} | {build} | {ev} | {nsteps} | "
                    f"{_f(s['peak_rss_mb'], '{:.0f}')} | {_rates(s['rates_hz'])}{exact} | "
                    f"{max(s['background_cores']) if s['background_cores'] else 0:.2f} |")
    return rows


def targets(res: dict) -> list[dict]:
    """Measured value of every target of issue 9 (None where the suite did not measure it)."""
    cases = {c["key"]: c for c in res["cases"]}
    g = lambda key, lab=G, f="realtime_factor": cases.get(key, {}).get("sims", {}).get(lab, {}).get(f)  # noqa: E731
    th = next((lab for lab in cases.get("coba-64000", {}).get("sims", {}) if lab.startswith(f"{G} (")), None)
    r_th = g("coba-64000", th, "ratio_to_gliaflow") if th else None
    r_stdp = g("coba_stdp-4000", "gliaflow static COBA", "ratio_to_gliaflow")
    comp = res.get("compile", {}).get("coba", {})
    comp = comp if comp.get("n") == 4000 else {}
    studio = None
    p = HERE / "results" / "studio_live.json"
    if p.exists():
        studio = json.loads(p.read_text()).get("live_over_headless_median")
    prof = {r["n"]: r for r in (res.get("profile") or {}).get("runs", [])}
    measured = {"coba4k_rtf": g("coba-4000"), "vs_cpp": g("coba-4000", CPP, "ratio_to_gliaflow"),
                "vs_cython": g("coba-4000", CY, "ratio_to_gliaflow"),
                "coba256k_events": g("coba-256000", G, "syn_events_per_s"),
                "threads_64k": (1.0 / r_th) if r_th else None, "stdp_vs_static": (1.0 / r_stdp) if r_stdp else None,
                "compile_cold": comp.get("cold_compile_s"), "compile_warm": g("coba-4000", G, "warm_same_process_s"),
                "studio_live": studio}
    out = []
    for key, label, naive, text, op, val in TARGETS:
        m = measured[key]
        met = None if m is None else (m <= val if op == "le" else m >= val)
        row = {"key": key, "measure": label, "naive": naive, "target": text, "measured": m, "met": met}
        if key == "coba256k_events" and 256000 in prof:  # the delivery loop alone (profile)
            row["delivery_only"] = prof[256000].get("events_per_s_delivery")
        if key == "coba4k_rtf":
            s = cases.get("coba-4000", {}).get("sims", {}).get(G, {})
            row["best"] = s.get("realtime_factor_best") or (min(s["rtf_all"]) if s.get("rtf_all") else None)
        if key == "threads_64k" and th:
            row["parallel_kernel"] = cases["coba-64000"]["sims"][th].get("parallel_kernel")
        out.append(row)
    return out


def _fmt_target(t: dict) -> str:
    m = t["measured"]
    if m is None:
        return "not measured in this run"
    if t["key"] == "coba256k_events":
        extra = f"; delivery part alone {t['delivery_only'] / 1e9:.2f} G/s (profile)" if t.get("delivery_only") else ""
        return f"{m / 1e9:.3f} G/s per run second{extra}"
    if t["key"] == "coba4k_rtf" and t.get("best") is not None:
        return f"{m:.4f} (median; best run {t['best']:.4f})"
    if t["key"] == "threads_64k" and t.get("parallel_kernel") is False:
        return f"{m:.2f}× (the numba kernel is serial: the thread count changes nothing)"
    if t["key"] in ("vs_cpp", "vs_cython", "threads_64k", "stdp_vs_static", "studio_live"):
        s = f"{m:.2f}×"
        return s + (" (benchmarks/results/studio_live.json)" if t["key"] == "studio_live" else "")
    if t["key"].startswith("compile"):
        return f"{m:.3f} s"
    return f"{m:.4f}"


def markdown(res: dict, profile_md: str = "") -> str:
    m = res.get("machine", {})
    L = [f"# gliaflow performance suite ({res['mode']} mode)", "",
         f"Command: `{res['command']}` — {res.get('started', '')}, {res['wall_s'] / 60:.1f} min in all.", "",
         f"Machine: {m.get('cpu', m.get('machine'))}, {m.get('cores')} cores, L2 {m.get('L2 cache', '?')}, "
         f"L3 {m.get('L3 cache', '?')}, {m.get('mem_gb', '?')} GB; Python {m.get('python')}, numba {m.get('numba')}, "
         f"Brian2 {m.get('brian2') or 'not installed'}, NEST {m.get('nest') or 'not installed'}; commit {m.get('commit')}.",
         "",
         "All figures float64, excluding compile/build; one thread unless the row says otherwise. Each "
         "measurement runs in its own process; simulators alternate within each repetition and "
         "**speed-up** is the median over repetitions of (peer realtime factor / gliaflow's realtime factor in "
         "the same repetition) — above 1 gliaflow is faster (for a gliaflow row: its time relative to the "
         "first row). Runs in which other processes used more than "
         f"{res['max_background_cores']} cores around the timed section are discarded (runs column: "
         "clean/all; ⚠ = none was clean, all were used: the figure was taken on a loaded machine). "
         "Synaptic events count spikes of neuron populations times their projections' mean out-degree "
         "(external Poisson drive not counted). Peak RSS is the worker process (for cpp_standalone the "
         "binary). Rates are E / I in Hz. The realtime factor is the median (best run in brackets): on this "
         "virtual machine identical runs are bimodal, e.g. COBA-4000 in CPU time 0.035 or 0.056 in about one run "
         "of three, independent of how the arrays are aligned (tested), so read the best as what the code does on "
         "an undisturbed core. Compile/build: for gliaflow, *ready* is a new process with a warm "
         "kernel cache (plan, connectivity, kernel load; median of the later repetitions) and *param change* a "
         "second `Simulation` in the same process after a weight change; for Brian2, *first* is code generation "
         "and compilation (cython: the suite's cache is cold for the first case of each network; "
         "cpp_standalone: every case builds its project) and *later* the same with the cache warm; for NEST, "
         "node creation and connection.", ""]
    fams = []
    for c in res["cases"]:
        if c["family"] not in fams:
            fams.append(c["family"])
    hdr = ("| N | simulator | threads | bio s | runs | run time (s) | realtime factor | speed-up | compile/build (s) | "
           "syn. events (M/s) | neuron-steps (M/s) | peak RSS (MB) | rates (Hz) | max background (cores) |")
    for fam in fams:
        L += [f"## {FAMILIES[fam]['title']} — float64", "", hdr, "|" + "---|" * 14]
        notes = []
        for c in res["cases"]:
            if c["family"] != fam:
                continue
            L += _case_rows(c)
            if c.get("note"):
                notes.append(f"N = {c['n']}: {c['note']}.")
            if any(s["kind"] == "gliaflow" and s["threads"] > 1 and s.get("parallel_kernel") is False
                   for s in c["sims"].values()):
                notes.append(f"N = {c['n']}: gliaflow's numba kernel is serial; the multi-thread row runs the same "
                             "code with NUMBA_NUM_THREADS raised (it measures what threads give today: nothing).")
            if c.get("wall_s"):
                notes.append(f"N = {c['n']}: {c['reps']} repetitions, {c['wall_s'] / 60:.1f} min.")
            for e in c.get("errors", []):
                notes.append(f"N = {c['n']}: failed run, {e}")
        L += [""] + ([" ".join(notes), ""] if notes else [])
    comp = res.get("compile", {})
    if comp:
        L += ["## Compile (gliaflow)", "",
              "Cold: a fresh process with empty kernel and numba caches (`ready` = plan + connectivity + compile). "
              "Warm, new process: the kernel loaded from the disk cache (the `compile/build` column above, median). "
              "Warm, same process: a second `Simulation` after changing a weight (no recompilation).", "",
              "| network | N | cold: compile (s) | cold: ready (s) | plan + connectivity (s) | warm, same process (s) |",
              "|---|---|---|---|---|---|"]
        for fam, r in comp.items():
            L.append(f"| {fam} | {r['n']} | {r['cold_compile_s']:.2f} | {r['cold_ready_s']:.2f} | {r['plan_s']:.2f} | "
                     f"{_f(r['warm_same_process_s'], '{:.3f}')} |")
        L.append("")
    if res.get("targets"):
        L += ["## Targets (issue 9; 1 thread unless stated, excluding compile)", "",
              "| measure | naive reference | target | measured | met |", "|---|---|---|---|---|"]
    for t in res.get("targets", []):
        met = "—" if t["met"] is None else ("yes" if t["met"] else "**no**")
        L.append(f"| {t['measure']} | {t['naive']} | {t['target']} | {_fmt_target(t)} | {met} |")
    L.append("")
    if profile_md:
        L += [profile_md.strip(), ""]
    return "\n".join(L) + "\n"
