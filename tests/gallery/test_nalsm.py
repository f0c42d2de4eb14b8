"""NALSM mechanism (issue 5, acceptance 3): the protocol in ``nalsm_protocol`` was fixed
before the seeds ran; these tests state what came out.

Measured (5 seeds, 2026-11-23): plain STDP (A- = A+) BF 1.33-1.40 with the liquid
saturating near 270 Hz (paper's LSM+STDP: ~1.42); with the astrocyte BF 0.52-0.68 at
~10 Hz (paper's NALSM: ~1.25). The astrocyte lowers the branching factor in every seed,
but overshoots below 1: |BF - 1| is smaller with the astrocyte in 1 of 5 seeds only, so
the paper's "closer to 1" does not reproduce under this shortened protocol (5 s of 20-ms
digit presentations instead of 50 000 MNIST samples; 64 inputs instead of 784). That
claim is kept as a strict xfail: if a change makes it hold, the test says so.

The gallery design as shipped (seed 1, 5 s) also carries the studio's views: its ridge
readout of E counts (200 train / 50 held-out samples of 20 ms on the plastic liquid) must
classify the held-out digits above chance (10 classes), and its E->E branching monitor
must report finite values (at least one per second). The three-variant comparison with a
frozen-weight readout is ``test_nalsm_variants.py``.
"""
from __future__ import annotations

import numpy as np
import pytest

from .nalsm_protocol import SEEDS, experiment, gallery


@pytest.fixture(scope="module")
def result():
    return experiment()


def test_plain_stdp_is_supercritical_in_every_seed(result):
    assert all(bf > 1.0 for bf in result["bf_stdp"]), result["bf_stdp"]


def test_the_astrocyte_lowers_the_branching_factor_in_every_seed(result):
    assert all(a < b for a, b in zip(result["bf_nalsm"], result["bf_stdp"])), result
    rates = {r["variant"]: [] for r in result["rows"]}
    for r in result["rows"]:
        rates[r["variant"]].append(r["liquid_rate_hz"])
    assert np.median(rates["nalsm"]) < np.median(rates["stdp"])


@pytest.mark.xfail(strict=True, reason="does not reproduce under the shortened protocol: with the astrocyte "
                   "BF ~0.6 (overshoots below 1), plain STDP ~1.37; see the module docstring")
def test_astrocyte_gated_stdp_settles_closer_to_1(result):
    assert result["closer_to_1_in"] == len(SEEDS), result


def test_gallery_design_views_readout_and_branching():
    from engine import Simulation

    d = gallery()
    assert d["views"]["plots"] == ["E_spikes", "E_branching", "readout"]
    sim = Simulation(d)
    sim.run()
    mon = sim.monitor_summary()
    ro = mon["readout"]
    assert (ro["n_train"], ro["n_test"]) == (200, 50), ro
    assert ro["test_accuracy"] > 0.1, ro
    br = mon["E_branching"]
    assert br["points"] >= 5 and np.isfinite(br["nalsm"]) and np.isfinite(br["ratio"]), br
