"""gallery/what_when.json: a three-factor readout of an Izhikevich reservoir learns when and how
likely the upcoming events are, and re-adapts when the timing changes (issue 8).

Protocol (fixed before the test seed ran; the design's parameters were chosen on pilot
seed 101, which no assertion uses). The design runs as shipped: seed 1, 120 one-second
trials, dt 0.5 ms; event A 200 ms after the cue with p = 0.8, B at 500 ms with p = 0.3;
from 60 s (trial 60) on A comes at 350 ms. Each readout unit k's target is its event shifted
50 ms earlier, so its target window is [delay - 50, delay) (A: 150-200 ms, after the change
300-350 ms; B: 450-500 ms); learning is gated to the first 800 ms of each trial.

Measure: the readout output y_k (monitor 'readout', 5-ms samples), averaged over the last 20
trials of a phase (phase 1: trials 40-59; phase 2: trials 100-119). y_k(window) is its mean
over a 50-ms window. "Non-stimulus times" of readout k are the 50-ms bins of the attended
0-800 ms that do not overlap [delay - 100, delay + 50) (the target window, the 50 ms
before it and the event itself).

Claims:
1. when: in phase 1, y_A(150-200) and y_B(450-500) each exceed that readout's output in
   every non-stimulus bin.
2. what: in phase 1, y_A(150-200) > y_B(450-500) (p 0.8 vs 0.3); control run (same seed,
   60 trials, probabilities swapped to A 0.3, B 0.8): y_B(450-500) > y_A(150-200), so the
   ordering follows the probability, not the delay.
3. re-adaptation: in phase 2, y_A(300-350) > y_A(150-200), and y_A(300-350) exceeds y_A in
   every non-stimulus bin of the new timing.
4. prediction, not tracking: over phase-1 trials 20-59, y_A(150-200) on the trials in which
   A then occurs differs from that on the trials in which it does not by less than half
   its mean (the window precedes the event, so the output cannot know; a fast rule that
   merely followed the teacher within the trial would fail this).

Measured (2026-11-23; y in target units, 1 = certain event):

- first fixed design, eta = 1e-6: seed 1 passed all four claims, but the readout diverged
  on seeds 2 and 6 (|y| > 10 within 30 trials; the readout's synaptic current lags weight
  changes by its 60-ms time constant, and the event-evoked bursts give the rule too much
  gain there). eta was lowered 4x to 2.5e-7 for stability (stable for 400 trials on seed 6),
  and the unchanged protocol was run again on seeds 1-6:
- claim 1, phase 1: y_A(150-200) 0.39 / 0.60 / 0.44 / 0.54 / 0.46 / 0.55 (seeds 1-6) against
  at most 0.004-0.030 in the non-stimulus bins; y_B(450-500) 0.15 / 0.11 / 0.13 / 0.12 /
  0.14 / 0.18 against at most 0.018-0.045.
- claim 2: y_A > y_B in every seed (above); swapped probabilities: y_A 0.11 / 0.26 / 0.11 /
  0.15 / 0.10 / 0.23, y_B 0.35 / 0.38 / 0.43 / 0.41 / 0.33 / 0.50. Magnitudes stay below
  the probabilities (0.8 -> 0.39-0.60, 0.3 -> 0.11-0.18): the 60-ms rate filter and the
  finite width of the microstimuli spread each prediction beyond its 50-ms window.
- claim 3, phase 2: y_A(300-350) 0.41 / 0.39 / 0.45 / 0.42 / 0.38 / 0.43, y_A(150-200)
  0.02-0.04; the first 5-trial block after the change in which new > old is trials 65-69
  (seeds 1, 3, 5, 6) or 70-74 (seeds 2, 4).
- claim 4: y_A(150-200) on hit / miss trials 0.37/0.42, 0.52/0.51, 0.44/0.44, 0.53/0.57,
  0.45/0.49, 0.49/0.47 (B, reported only: 0.14/0.15, 0.09/0.10, 0.14/0.15, 0.17/0.16,
  0.10/0.11, 0.15/0.14).
- seed 1 runs in about 20 s here (main run 120 s and control 60 s of model time).
"""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from components.stimulus_cued_events import occurrences
from engine import Simulation
from tests.helpers import ROOT

SAMPLE_MS = 5.0
TRIAL = int(1000 / SAMPLE_MS)  # samples per trial
ATTEND_MS = 800


@pytest.fixture(scope="module")
def doc():
    return json.loads((ROOT / "gallery" / "what_when.json").read_text())


def run(d):
    sim = Simulation(d)
    sim.run()
    rec = sim.state("readout")
    assert np.allclose(np.diff(rec["t_ms"]), SAMPLE_MS)
    n = len(rec["v"]) // TRIAL
    return sim, rec["v"][: n * TRIAL].reshape(n, TRIAL, 2)


@pytest.fixture(scope="module")
def main(doc):
    return run(doc)


@pytest.fixture(scope="module")
def swapped(doc):
    d = copy.deepcopy(doc)
    d["meta"]["duration_ms"] = 60000.0
    cue = next(nd for nd in d["nodes"] if nd["id"] == "cue")
    cue["data"]["probabilities"] = "0.3, 0.8"
    return run(d)


def window(profile, k, lo, hi):
    return float(profile[int(lo / SAMPLE_MS): int(hi / SAMPLE_MS), k].mean())


def off_bins(profile, k, delays):
    """Outputs of readout k in the 50-ms bins of 0-800 ms away from every event in ``delays``."""
    out = []
    for b in range(0, ATTEND_MS, 50):
        if all(b + 50 <= d - 100 or b >= d + 50 for d in delays):
            out.append(window(profile, k, b, b + 50))
    return np.array(out)


def test_the_readouts_peak_just_before_their_events(main):
    _, Y = main
    P = Y[40:60].mean(0)
    a, b = window(P, 0, 150, 200), window(P, 1, 450, 500)
    off_a, off_b = off_bins(P, 0, [200]), off_bins(P, 1, [500])
    assert a > off_a.max(), (a, off_a.round(3))
    assert b > off_b.max(), (b, off_b.round(3))


def test_the_output_magnitude_follows_the_probability(main, swapped):
    _, Y = main
    P = Y[40:60].mean(0)
    _, Ys = swapped
    Q = Ys[40:60].mean(0)
    a, b = window(P, 0, 150, 200), window(P, 1, 450, 500)
    a2, b2 = window(Q, 0, 150, 200), window(Q, 1, 450, 500)
    assert a > b, ("A p=0.8, B p=0.3", a, b)
    assert b2 > a2, ("A p=0.3, B p=0.8", a2, b2)


def test_the_readout_re_adapts_to_the_new_timing(main):
    _, Y = main
    P = Y[100:120].mean(0)
    new, old = window(P, 0, 300, 350), window(P, 0, 150, 200)
    off = off_bins(P, 0, [350])
    assert new > old, (new, old)
    assert new > off.max(), (new, off.round(3))


def test_the_window_output_is_a_prediction_not_a_copy_of_the_teacher(main):
    sim, Y = main
    info = sim.plan.node_info["cue"]
    occ = occurrences(info["trials"], sim.plan.seed, "cue", Y.shape[0])[:, 0]
    trials = np.arange(20, 60)
    y = np.array([window(Y[m], 0, 150, 200) for m in trials])
    hit, miss = y[occ[trials]].mean(), y[~occ[trials]].mean()
    assert abs(hit - miss) < 0.5 * y.mean(), (hit, miss, int((~occ[trials]).sum()))
