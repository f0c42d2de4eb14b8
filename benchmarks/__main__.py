"""``python -m benchmarks`` (or ``gliaflow bench``): gliaflow's performance suite, peers side by side.

Networks (``benchmarks/networks.py``): COBA at N = 4k, 16k, 64k, 256k (in-degree 80), CUBA
(Brette et al. 2007 benchmark 2), Brunel 2000 (12.5k neurons, in-degree 1000, 1.5 ms
delays, Poisson drive), COBA with pair STDP on E→E, COBA with Li–Rinzel astrocytes and the
NALSM liquid. Peers in the same run where they install: Brian2 runtime (cython) and
cpp_standalone, NEST 3 — at 4k and 16k (Brunel at 12.5k); larger sizes run gliaflow alone
with one shortened peer run. Each measurement in its own process, simulators alternating,
ratios per repetition, medians of clean runs (``benchmarks/suite.py``).

Modes: full (default, < 20 min on a quiet 2-core machine; writes results/suite.{json,md} and
results/coba4000.{json,md}), ``--quick`` (< 3 min: COBA-4k vs Brian2 cpp_standalone and
CUBA-4k vs NEST, 3 repetitions of 0.5 s; writes results/suite-quick.{json,md}) and
``--smoke`` (the test's: COBA-400, one repetition, gliaflow and NEST).
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="< 3 min: COBA-4k and CUBA-4k, one peer each, 3 x 0.5 s")
    g.add_argument("--smoke", action="store_true", help="seconds: COBA-400, 1 repetition (the suite's test)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions per case (default: 5; quick 3; Brunel 3)")
    ap.add_argument("--only", default="", help="comma-separated families or cases (e.g. coba,cuba-4000)")
    ap.add_argument("--threads", type=int, default=2, help="threads of the COBA-64k thread comparison (1: skip it)")
    ap.add_argument("--max-background", type=float, default=0.2,
                    help="discard runs in which other processes used more cores than this")
    ap.add_argument("--no-profile", action="store_true", help="full mode: skip the 'where the time goes' profile")
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--render", action="store_true",
                    help="rewrite the markdown from the mode's JSON (and profile) without running anything")
    a = ap.parse_args(argv)
    from benchmarks.report import machine, markdown, targets
    from benchmarks.suite import plan, run_suite
    mode = "quick" if a.quick else "smoke" if a.smoke else "full"
    stem = {"full": "suite", "quick": "suite-quick", "smoke": "suite-smoke"}[mode]
    if a.render:
        out = Path(a.out)
        res = json.loads((out / f"{stem}.json").read_text())
        prof = out / "profile.json"
        if mode == "full" and prof.exists():
            from benchmarks.profile import render
            res["profile"] = json.loads(prof.read_text())
            (out / "profile.md").write_text(render(res["profile"]))
        res["targets"] = targets(res)
        (out / f"{stem}.json").write_text(json.dumps(res, indent=1) + "\n")
        md = markdown(res, (out / "profile.md").read_text() if (out / "profile.md").exists() and mode != "smoke" else "")
        (out / f"{stem}.md").write_text(md)
        if mode == "full":
            _coba4000(res, out)
        print(md)
        return 0
    cmd = "python -m benchmarks" + {"quick": " --quick", "smoke": " --smoke", "full": ""}[mode]
    for flag, val in (("--reps", a.reps), ("--only", a.only), ("--threads", a.threads if a.threads != 2 else None)):
        if val:
            cmd += f" {flag} {val}"
    started = datetime.datetime.now().isoformat(timespec="seconds")
    only = [x for x in a.only.split(",") if x] or None
    res = run_suite(mode, a.reps, a.max_background, a.threads, only)
    res.update(command=cmd, started=started, machine=machine())
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    profile_md = ""
    if plan(mode)["profile"] and not a.no_profile and not only:
        from benchmarks.profile import profile
        profile_md, res["profile"] = profile(out)
    elif (out / "profile.md").exists() and mode != "smoke":  # the latest profile, with its own date
        profile_md = (out / "profile.md").read_text()
    res["targets"] = targets(res)
    md = markdown(res, profile_md)
    (out / f"{stem}.json").write_text(json.dumps(res, indent=1) + "\n")
    (out / f"{stem}.md").write_text(md)
    if mode == "full" and not only:
        _coba4000(res, out)
    print(md)
    return 0


def _coba4000(res: dict, out: Path) -> None:
    """The README's earlier table: the COBA-4000 slice of the suite, as results/coba4000.{json,md}."""
    from benchmarks.report import markdown
    coba = next((c for c in res["cases"] if c["key"] == "coba-4000"), None)
    if coba:
        (out / "coba4000.json").write_text(json.dumps({"command": res["command"], "started": res.get("started"),
                                                       **coba}, indent=1) + "\n")
        (out / "coba4000.md").write_text(markdown(dict(res, cases=[coba], compile={}, targets=[])))


if __name__ == "__main__":
    sys.exit(main())
