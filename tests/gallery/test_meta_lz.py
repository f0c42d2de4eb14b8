"""gallery/meta_patterns.json and ``benchmarks/meta_lz``: Lempel–Ziv classification of the
output trains of LIF and meta-neuron networks (Rudnicka et al., arXiv 2508.11674; issue 8).

Protocol (fixed before the runs; the benchmark's is in ``benchmarks/meta_lz.py``):

- the gallery design as shipped (numba engine, untrained network: 40 frozen 15-Hz patterns
  of 4 classes, 4 training epochs then 1 held-out epoch of presentations, 32 meta neurons)
  at design seeds 1, 2, 3: the ``lz`` node (per-neuron LZC, 1-ms bins) must classify the
  held-out presentations above chance, mean test accuracy >= 0.35 (chance 0.25; the 40
  held-out presentations are the training patterns again, through stochastic neurons). A
  pilot run of these seeds while building the design gave 0.475, 0.475, 0.425;
- the benchmark's LZC decision (``benchmarks.meta_lz.lz_predict``) is the gallery node's:
  fed the node's own per-sample complexities, it predicts what the node predicts;
- the benchmark's shortened protocol ``CI_PROTOCOL`` (same task, network and training with
  20 train / 25 test samples per class, 10 epochs, seeds 0, 1, 2): in every arm (LIF / meta
  x fixed / learned intrinsics) the per-neuron LZC test accuracy, mean over seeds, is at
  least chance + 15 pp (>= 0.40). The full protocol's pilot seed 99 gave 0.59-0.65;
- the paper's claim, learned intrinsics improve LZC accuracy: the mean paired gain
  (learned - fixed) of the per-neuron LZC test accuracy is positive for both LIF and meta.

Measured (2 shared cores, torch 1 thread, float64; CI protocol, ~45 s of CPU):
gallery design per-neuron LZC test accuracy 0.475 / 0.475 / 0.425 (population-mean rule
0.30 / 0.20 / 0.25, near chance); trained arms, per-neuron LZC mean over seeds 0-2:
LIF fixed 0.570, LIF learned 0.577, meta fixed 0.537, meta learned 0.577 (population-mean
rule 0.26-0.30); paired gain learned - fixed +0.7 pp (LIF) and +4.0 pp (meta), so the
claim holds on the shortened protocol, LIF by about one test sample per seed. It does NOT
hold at full length: the 10-seed protocol of ``benchmarks/results/meta_lz.md`` (20 epochs,
160 train samples) gives -5.5 +/- 2.8 pp (LIF, worse in 10 of 10 seeds) and -5.7 +/- 3.6
pp (meta, worse in 9 of 10): there learning the intrinsics drives the output rates to
300-450 Hz and the training objective overfits (linear-readout train accuracy up, test
accuracy down: learning_intrinsics.md). The shortened protocol (10 epochs, 80 train
samples) stops before that regime (learned-arm rates 20-100 Hz).
"""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from benchmarks.meta_lz import CI_PROTOCOL, experiment, lz_predict
from engine import Simulation
from tests.helpers import ROOT

CHANCE = 0.25


@pytest.fixture(scope="module")
def gallery_doc():
    return json.loads((ROOT / "gallery" / "meta_patterns.json").read_text())


@pytest.fixture(scope="module")
def gallery_runs(gallery_doc):
    sims = {}
    for seed in (1, 2, 3):
        d = copy.deepcopy(gallery_doc)
        d["meta"]["seed"] = seed
        sim = Simulation(d)
        sim.run(float(d["meta"]["duration_ms"]))
        sims[seed] = sim
    return sims


@pytest.fixture(scope="module")
def shortened():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the benchmark runs (and 2 threads only contend on this machine)
    try:
        return experiment(CI_PROTOCOL, log=print, untrained=False)
    finally:
        torch.set_num_threads(threads)


def test_gallery_design_opens_with_raster_and_lz_accuracy(gallery_doc):
    assert gallery_doc["views"]["plots"] == ["spikes", "lz", "lz_pop"]
    types = {n["id"]: n["type"] for n in gallery_doc["nodes"]}
    assert types["lz"] == types["lz_pop"] == "readout.lz_classifier"
    wired = {(e["source"], e["sourceHandle"], e["target"], e["targetHandle"]) for e in gallery_doc["edges"]}
    for r in ("lz", "lz_pop"):
        assert ("hidden", "spikes", r, "spikes") in wired and ("patterns", "label", r, "label") in wired


def test_gallery_lz_classifies_held_out_presentations_above_chance(gallery_runs):
    acc = []
    for seed, sim in gallery_runs.items():
        m = sim.summary()["monitors"]["lz"]
        assert (m["n_train"], m["n_test"]) == (160, 40), m
        assert all(v is not None for v in m["class_mean_complexity"].values()), m
        acc.append(m["test_accuracy"])
        print(f"seed {seed}: LZC per-neuron test {m['test_accuracy']:.3f}, population-mean "
              f"{sim.summary()['monitors']['lz_pop']['test_accuracy']:.3f}")
    assert np.mean(acc) >= CHANCE + 0.10, acc


def test_benchmark_decision_rule_is_the_gallery_nodes(gallery_runs):
    sim = gallery_runs[1]
    for rid, rule in (("lz", "per_neuron"), ("lz_pop", "population_mean")):
        nd = sim.graph.nodes[rid]
        a = nd.type.arrays(nd, sim)
        tr = a["sample_train"] == 1.0
        te = ~tr & ~np.isnan(a["sample_prediction"])
        F, y = a["complexity"], a["sample_label"].astype(np.int64)
        pred = lz_predict(F[tr], y[tr], F[te], rule, 4)
        np.testing.assert_array_equal(pred, a["sample_prediction"][te].astype(np.int64))
        assert np.mean(pred == y[te]) == pytest.approx(sim.summary()["monitors"][rid]["test_accuracy"])


def test_lz_classification_of_trained_networks_is_above_chance_in_every_arm(shortened):
    t = shortened["table"]
    got = {name: round(t[name]["lz_per_neuron_test_acc_mean"], 3) for name in t}
    print("LZC per-neuron test accuracy (CI protocol):", got)
    print("LZC population-mean:", {n: round(t[n]["lz_population_mean_test_acc_mean"], 3) for n in t})
    assert set(got) == {"LIF fixed", "LIF learned", "meta fixed", "meta learned"}
    assert all(v >= CHANCE + 0.15 for v in got.values()), got


# The paper's claim (learned intrinsics raise LZ classification accuracy) is not asserted here:
# it is decided at full length (python -m benchmarks.meta_lz, 10 seeds), where learning the
# intrinsics LOWERS held-out LZ accuracy (LIF -5.5 +- 2.8 pp, meta -5.7 +- 3.6 pp; README and
# gallery/README.md report it). On this shortened protocol the sign happens to be positive by
# about one test sample, which is noise, not evidence either way.
