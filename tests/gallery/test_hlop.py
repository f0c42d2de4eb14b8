"""HLOP gallery design (issue 8): forgetting with and without the Hebbian orthogonal projection.

Protocol: ``benchmarks/hlop_continual.py`` (its docstring; fixed before any seed ran) on the
committed ``gallery/hlop.json``: split digits 0/1, 2/3, 4/5 learned in sequence on two shared
LIF outputs, 160 train samples per task, every held-out sample (40 per task) measured after
every task. A full run takes about 2 s, so CI runs the full-length protocol and shortens the
seeds instead: seeds 1..5 (the benchmark runs 1..20), both variants paired by seed.

Claims, fixed before running:
1. task 1 is learned (held-out accuracy right after it >= 0.8 in every seed; the two variants
   are identical until task 2 starts);
2. HLOP's forgetting (mean over tasks 1, 2 of R[j, j] - R[3, j]) is lower than the baseline's
   in every one of the 5 seeds (paired).

Measured (2026-11-23, seeds 1..5; forgetting HLOP / baseline): 0.069/0.075, -0.025/0.113,
-0.019/0.019, 0.013/0.119, -0.119/0.031: lower with HLOP in all 5, so claim 2 holds, but in
seed 1 only by half a held-out sample. The first run, before the one-step projection lag
was fixed (benchmarks/hlop_continual.py, "History"), had seed 1 at 0.081/0.075 and claim 2
failing there: the per-seed claim is fragile, the mean effect is not. Over the benchmark's
20 seeds: forgetting 1.0 +- 5.6 % (HLOP) vs 8.5 +- 8.0 % (baseline), lower with HLOP in 17,
higher in 2, equal in 1; final old-task accuracy 81.5 vs 75.3 %; the last task is learned
less well with HLOP (80.6 vs 86.9 %). Task 1 accuracy right after it: 0.875-0.975.

A third test checks that these runs reproduce the benchmark's recorded accuracy matrices
(benchmarks/results/hlop_continual.json) to within two held-out samples per entry.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.hlop_continual import CI_SEEDS, OUT, VARIANTS, run


@pytest.fixture(scope="module")
def rows():
    return {(v, s): run(v, s) for s in CI_SEEDS for v in VARIANTS}


def test_task_1_is_learned_in_every_seed(rows):
    r00 = {s: rows["hlop", s]["R"][0][0] for s in CI_SEEDS}
    assert all(rows["baseline", s]["R"][0] == rows["hlop", s]["R"][0] for s in CI_SEEDS)  # identical until task 2
    assert min(r00.values()) >= 0.8, r00


def test_hlop_forgets_less_than_plain_sequential_training_in_every_seed(rows):
    f = {s: (rows["hlop", s]["forgetting"], rows["baseline", s]["forgetting"]) for s in CI_SEEDS}
    assert all(h < b for h, b in f.values()), f


def test_runs_reproduce_the_recorded_benchmark(rows):
    rec = json.loads((OUT / "hlop_continual.json").read_text())
    by = {(r["variant"], r["seed"]): np.array(r["R"]) for r in rec["rows"]}
    for key, r in rows.items():
        np.testing.assert_allclose(np.array(r["R"]), by[key], rtol=0, atol=2 / 40 + 1e-9, err_msg=str(key))
