"""NALSM's three-variant comparison (issue 8), shortened: protocol 2 of ``nalsm_protocol``
in its quick form (``QUICK``: 300 digits, 240 train / 60 held out, one 4.8-s initialisation
pass, frozen-weight readout phase of 100-ms samples with 50-ms gaps), seeds 1, 2, 3, fixed
before these tests ran. The full protocol is ``python -m benchmarks.nalsm_variants``
(results in ``benchmarks/results/nalsm_variants.md``).

Declared (the paper's Figs 2-3A): mean test accuracy NALSM >= fixed-weight LSM > LSM +
plain STDP, and NALSM's mean branching factor (phase 2) nearest 1 of the three.

Measured (2026-11-23, seeds 1-3): test accuracy fixed 90.6 +- 4.2 %, plain STDP 91.7 +- 4.4 %,
NALSM 88.3 +- 3.3 % (per seed fixed/stdp/nalsm: 0.950/0.950/0.917, 0.867/0.867/0.850,
0.900/0.933/0.883); branching factor in phase 2 fixed 1.34, STDP 1.35, NALSM 0.85 (NALSM
nearest 1 in every seed). The fixed and plain-STDP liquids both saturate near 275 Hz and
read out alike; the astrocyte brings the liquid to ~10 Hz and its BF nearest 1, but its
readout is 2.2 +- 1.0 pp *below* the fixed LSM's. The two accuracy claims do not
reproduce here and are strict xfails; the BF claim holds.

For contrast, the full protocol (5 seeds; 35 initialisation passes, 1438 / 359 digits, 250-ms
samples): test accuracy fixed 95.5 +- 2.0 %, plain STDP 97.4 +- 1.1 %, NALSM 96.2 +- 1.2 %;
BF 1.36 / 1.36 / 0.93 (NALSM nearest 1 in every seed). There NALSM >= fixed holds on the
mean (+0.6 +- 1.7 pp, 3 of 5 seeds: not a resolved difference) and fixed > plain STDP does
not (plain STDP is the best readout).
"""
from __future__ import annotations

import numpy as np
import pytest

from .nalsm_protocol import QUICK, VARIANTS, variants_experiment

CI_SEEDS = (1, 2, 3)


@pytest.fixture(scope="module")
def result():
    return variants_experiment(CI_SEEDS, QUICK)


def test_protocol_shape(result):
    """Every variant and seed ran both phases on the declared split, paired by seed."""
    assert len(result["rows"]) == len(VARIANTS) * len(CI_SEEDS)
    for r in result["rows"]:
        assert (r["n_train"], r["n_test"]) == (240, 60), r
        assert r["init_passes"] == 1 and r["init_ms"] == 240 * 20.0, r
        assert np.isfinite(r["bf"]) and np.isfinite(r["bf_init"]), r
    fixed = [r for r in result["rows"] if r["variant"] == "fixed"]
    assert all(r["mean_EE_w"] == 3.0 for r in fixed), "the fixed LSM must keep its initial weights"
    learned = [r for r in result["rows"] if r["variant"] != "fixed"]
    assert all(r["mean_EE_w"] < 3.0 for r in learned), "STDP must have changed the E->E weights"


def test_every_variant_reads_out_the_digits_well_above_chance(result):
    for v in VARIANTS:
        assert result["summary"][v]["acc"]["mean"] > 0.3, (v, result["summary"][v])


@pytest.mark.xfail(strict=True, reason="does not reproduce (quick form, seeds 1-3): NALSM 88.3 % vs fixed LSM "
                   "90.6 % test accuracy, NALSM lower in 3 of 3 seeds (-2.2 +- 1.0 pp)")
def test_nalsm_accuracy_at_least_the_fixed_lsm(result):
    assert result["claims"]["acc_nalsm_ge_fixed"], result["summary"]


@pytest.mark.xfail(strict=True, reason="does not reproduce (quick form, seeds 1-3): fixed LSM 90.6 % vs plain STDP "
                   "91.7 % test accuracy (equal in seeds 1-2, STDP higher in seed 3); both liquids saturate ~275 Hz")
def test_fixed_lsm_beats_plain_stdp(result):
    assert result["claims"]["acc_fixed_gt_stdp"], result["summary"]


def test_nalsm_branching_factor_nearest_1(result):
    assert result["claims"]["bf_nalsm_nearest_1"], (result["abs_bf_minus_1"], result["summary"])
