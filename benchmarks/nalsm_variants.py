"""NALSM's three-variant comparison (issue 8): LSM with fixed weights, LSM + plain STDP, NALSM.

Run: ``python -m benchmarks.nalsm_variants`` (seeds 1..5, the full protocol; writes
``benchmarks/results/nalsm_variants.{json,md}``). ``--seeds 1..5`` or ``--seeds 1,2,3``
picks the seeds; ``--quick`` runs the CI form of the protocol and writes nothing unless
``--out`` names a file stem.

Protocol (fixed before any seed ran; not changed after): protocol 2 in the docstring of
``tests/gallery/nalsm_protocol.py`` — phase 1, initialisation: 35 passes over the 1438
train digits at 20 ms each (50 330 presentations, as NALSM's 50 000) with plain STDP or
astrocyte-gated STDP (none for the fixed LSM); phase 2: the weights frozen (rules and
astrocyte removed, learned weights written into the projections), all 1797 samples shown
for 250 ms with 100-ms gaps, a ridge readout on the E spike counts of each sample trained
on the 1438 train samples and tested on the 359 held-out ones (never shown in phase 1).
Branching factor: NALSM's, in [25, 225) ms of the first 20 test presentations. Seeds are
paired: same lattice, connectivity, initial weights, split and input spikes across variants.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "nalsm_variants"
NAMES = {"fixed": "LSM, fixed weights (±3)", "stdp": "LSM + plain STDP", "nalsm": "NALSM (astrocyte-gated STDP)"}
PAPER = {"fixed": "95.30 ± 0.10 (best fixed weight of a sweep)", "stdp": "89.46 ± 0.45", "nalsm": "95.96 ± 0.13"}
PAPER_BF = {"fixed": "–", "stdp": "~1.42", "nalsm": "~1.25"}


def parse_seeds(text: str) -> list[int]:
    """'1..5' -> [1, 2, 3, 4, 5]; '1,3,7' -> [1, 3, 7]."""
    t = text.strip()
    try:
        if ".." in t:
            a, b = t.split("..", 1)
            seeds = list(range(int(a), int(b) + 1))
        else:
            seeds = [int(x) for x in t.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds takes 'A..B' or a comma list such as '1,2,3', "
                                         f"got {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError(f"--seeds {text!r} names no seed")
    return seeds


def _commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def markdown(res: dict) -> str:
    S, P, C = res["summary"], res["paired"], res["claims"]
    proto = res["protocol"]
    seeds = res["seeds"]
    lines = [
        "# NALSM: fixed-weight LSM vs LSM + plain STDP vs NALSM",
        "",
        f"`{res['command']}` ({'quick CI form' if res['quick'] else 'full protocol'}; seeds {seeds[0]}..{seeds[-1]}, "
        f"{len(seeds)} seeds, paired). Protocol: `tests/gallery/nalsm_protocol.py` (protocol 2), fixed before any "
        "seed ran.",
        "",
        f"Liquid: 1000 NALSM LIF neurons (800 E / 200 I) on a 10×10×10 lattice, 64 rate-coded 8×8 digit inputs. "
        f"Phase 1 (initialisation): {proto['init_passes']} pass(es) over the {res['n_train']} train digits, "
        f"{proto['init_sample_ms']:g} ms each, plasticity per variant. Phase 2: weights frozen, all "
        f"{res['n_train'] + res['n_test']} digits for {proto['sample_ms']:g} ms with {proto['gap_ms']:g}-ms gaps; "
        "ridge "
        f"readout (alpha {proto['ridge_alpha']:g}) on E spike counts, trained on {res['n_train']}, tested on "
        f"{res['n_test']} held-out digits. Branching factor (BF): NALSM's, liquid E+I, "
        f"[{proto['bf_window_ms'][0]:g}, {proto['bf_window_ms'][1]:g}) ms of the first {proto['bf_samples']} test "
        "presentations (phase 2); BF init: last second of phase 1.",
        "",
        "| variant | test accuracy (%) | BF (phase 2) | BF init (end of phase 1) | liquid rate, phase 2 (Hz) "
        "| paper: MNIST accuracy (%) | paper: BF |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in ("fixed", "stdp", "nalsm"):
        s = S[v]
        lines.append(f"| {NAMES[v]} | {100 * s['acc']['mean']:.1f} ± {100 * s['acc']['sd']:.1f} "
                     f"| {s['bf']['mean']:.3f} ± {s['bf']['sd']:.3f} | {s['bf_init']['mean']:.3f} ± "
                     f"{s['bf_init']['sd']:.3f} | {s['rate_hz']['mean']:.1f} ± {s['rate_hz']['sd']:.1f} "
                     f"| {PAPER[v]} | {PAPER_BF[v]} |")
    lines += ["", "Mean ± sd over seeds (sd with ddof 1). Paired differences of test accuracy "
              "(percentage points):", ""]
    for k, label in (("nalsm_minus_fixed", "NALSM − fixed"), ("fixed_minus_stdp", "fixed − STDP"),
                     ("nalsm_minus_stdp", "NALSM − STDP")):
        lines.append(f"- {label}: {100 * P[k]['mean']:+.1f} ± {100 * P[k]['sd']:.1f} pp "
                     f"(holds in {P[k]['holds_in']} of {len(seeds)} seeds)")
    d = res["abs_bf_minus_1"]
    lines += ["", "Claims (issue 8, the paper's Figs 2–3A):", "",
              f"- test accuracy NALSM ≥ fixed: **{'holds' if C['acc_nalsm_ge_fixed'] else 'does not hold'}**",
              f"- test accuracy fixed > plain STDP: **{'holds' if C['acc_fixed_gt_stdp'] else 'does not hold'}**",
              f"- NALSM's BF nearest 1: **{'holds' if C['bf_nalsm_nearest_1'] else 'does not hold'}** "
              f"(|mean BF − 1|: fixed {d['fixed']:.3f}, STDP {d['stdp']:.3f}, NALSM {d['nalsm']:.3f}; nearest per "
              f"seed: {', '.join(C['bf_nearest_1_per_seed'])})",
              "", "Per seed:", "",
              "| seed | variant | test acc | train acc | BF | BF init | rate (Hz) | mean E→E w | wall (s) |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(res["rows"], key=lambda r: (r["seed"], ["fixed", "stdp", "nalsm"].index(r["variant"]))):
        lines.append(f"| {r['seed']} | {r['variant']} | {r['acc']:.3f} | {r['train_acc']:.3f} | {r['bf']:.3f} "
                     f"| {r['bf_init']:.3f} | {r['rate_hz']:.1f} | {r['mean_EE_w']:.3f} | {r['wall_s']:.0f} |")
    lines += ["", f"Machine: {res['machine']}; total wall {res['wall_s'] / 60:.1f} min, CPU "
              f"{res['cpu_s'] / 60:.1f} min; commit {res['commit']}.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.nalsm_variants", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=parse_seeds, default=None, help="'1..5' (default) or a comma list")
    ap.add_argument("--quick", action="store_true", help="the CI form of the protocol; writes nothing unless --out")
    ap.add_argument("--out", default=None, help="file stem for the .json/.md results (default: "
                    "benchmarks/results/nalsm_variants, full protocol only)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from tests.gallery import nalsm_protocol as proto

    seeds = args.seeds or list(proto.SEEDS)
    P = proto.QUICK if args.quick else proto.FULL
    w0, c0 = time.time(), time.process_time()

    def log(r):
        print(f"seed {r['seed']} {r['variant']:>5}: test acc {r['acc']:.3f}  BF {r['bf']:.3f}  BF init "
              f"{r['bf_init']:.3f}  rate {r['rate_hz']:.1f} Hz  ({r['wall_s']:.0f} s)", flush=True)

    res = proto.variants_experiment(seeds, P, log=log)
    cmd = "python -m benchmarks.nalsm_variants" + (" --quick" if args.quick else "")
    if args.seeds is not None:
        cmd += f" --seeds {seeds[0]}..{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) else \
            f" --seeds {','.join(map(str, seeds))}"
    res.update(command=cmd, quick=bool(args.quick), wall_s=time.time() - w0, cpu_s=time.process_time() - c0,
               machine=f"{platform.machine()}, {platform.system()}, Python {platform.python_version()}",
               commit=_commit())
    md = markdown(res)
    print(md)
    out = Path(args.out) if args.out else (None if args.quick else OUT)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(res, indent=1, default=float) + "\n")
        out.with_suffix(".md").write_text(md)
        print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
