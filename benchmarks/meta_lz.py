"""LIF vs meta neuron, fixed vs learned intrinsics, classified by Lempel–Ziv complexity (issue 8).

Run: ``python -m benchmarks.meta_lz`` (writes ``benchmarks/results/meta_lz.{json,md}``;
``--seeds N`` to change the number of seeds, ``--quick`` for a smoke run that writes nothing).

Protocol (fixed before the seed runs; not changed after seeing them)
--------------------------------------------------------------------
The paper's framework (Rudnicka, Szczepanski & Pregowska, arXiv 2508.11674; MODELS.md B,
"SNN-LZC"): a spiking network whose intrinsic parameters are trained with a differentiable
objective, whose output spike trains are then classified by their Lempel–Ziv complexity.
Its task, network, training objective and exact LZC decision rule were not retrievable;
this protocol fixes them as follows.

Task, network and training: exactly those of ``benchmarks/learning_intrinsics.py`` (its
``PROTOCOL`` and ``design``, imported, so the trained networks are the same ones):
4 classes, 50 afferents, class rate profiles r[c, i] ~ U(5, 20) Hz, fresh Bernoulli
trains of 50 ms at dt = 1 ms, 40 train / 50 held-out test samples per class; all-to-all
delta synapses N(0.05, 0.1) onto 32 neurons (``neuron.lif``: tau_m 20 ms, E_L 0, v_th 1,
v_reset 0; ``neuron.meta``: tau_m 20 ms, V_rest 0, theta 1, beta 0.2, V_reset 0; no
refractory period). Training objective: the existing differentiable one of
``engine.training.train``, cross-entropy of a linear readout of the output spike counts,
by surrogate-gradient BPTT (fast sigmoid, slope 5), Adam lr 0.01, batch 32, 20 epochs,
float64. "fixed" arms learn readout and input weights; "learned" arms also learn the
intrinsics (LIF: tau_m, v_th, v_reset; meta: tau_m, theta, V_reset, beta; per neuron).

LZC evaluation (after the last epoch, no selection): the trained network (the same
``SpikingNet``, hard threshold / Bernoulli draws in the forward pass, meta draws continuing
the training generator) is run once over the 160 train samples, then once over the 200
held-out test samples, in batches of 32, recording the output population's spike trains.
Each sample's train of each neuron is one symbol per 1-ms bin (bin_ms = dt = 1 ms, 50
symbols); its normalised LZ76 complexity c log2(n) / n is ``engine.analysis.lz``'s
(Kaspar–Schuster count). Class means of the complexities are taken over the train samples;
each test sample gets the class of the nearest mean by the decision rule of the gallery's
``readout.lz_classifier`` node (its own ``predict`` is called):

- ``per_neuron`` (primary): the 32-vector of per-neuron complexities, nearest class-mean
  vector (Euclidean). With 4 classes whose difference is spread over afferents, this is
  the rule that can use where in the population the complexity differs;
- ``population_mean`` (the paper's single-output rule, MODELS.md B): the mean complexity
  over neurons, nearest class mean (a scalar: it can order 4 classes along one axis only).

Reference arms (no training): the initial network of each neuron type (initial weights,
default intrinsics) classified the same way, to show what training adds to LZC.

Reported: per arm, mean ± sd over seeds of the LZC test accuracy (both rules), of the
linear-readout test accuracy (must equal ``learning_intrinsics``' numbers: same runs) and
of the output rate; paired (same seed: same task and initial weights) learned − fixed
gains. The paper's claim tested here: learned intrinsics improve LZC accuracy, i.e. a
positive mean paired gain of the per-neuron LZC test accuracy for both neuron types.

Seeds 0..9 (10; the seeds of ``learning_intrinsics``). Chance: 25 %.

Pilot, stated for transparency: one run of the four arms on seed 99 (not an experiment
seed), used only to see the orders of magnitude before writing the CI test's assertions:
per-neuron LZC 0.59-0.65, population-mean LZC 0.24-0.30 (near chance).

Shortened protocol of the CI test (``CI_PROTOCOL``, ``tests/gallery/test_meta_lz.py``):
the same task and network with 20 train / 25 test samples per class, 10 epochs, seeds
0, 1, 2.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from benchmarks.learning_intrinsics import PROTOCOL as TRAIN_PROTOCOL
from benchmarks.learning_intrinsics import design
from components.readout_lz import LZClassifier
from engine.analysis.lz import lz76_per_neuron
from engine.training import PoissonClassTask, SpikingNet, train

PROTOCOL = {**TRAIN_PROTOCOL, "lz_bin_ms": 1.0, "lz_rules": ["per_neuron", "population_mean"],
            "eval_batch_size": 32}
CI_PROTOCOL = {**PROTOCOL, "n_train_per_class": 20, "n_test_per_class": 25, "epochs": 10, "seeds": [0, 1, 2]}
VARIANTS = (("LIF", "lif", False), ("LIF", "lif", True), ("meta", "meta", False), ("meta", "meta", True))
RULES = ("per_neuron", "population_mean")
OUT = Path(__file__).resolve().parent / "results"


def make_task(seed: int, P=PROTOCOL) -> PoissonClassTask:
    return PoissonClassTask(n_in=P["n_in"], n_classes=P["n_classes"], sample_ms=P["sample_ms"],
                            rate_low_hz=P["rate_low_hz"], rate_high_hz=P["rate_high_hz"],
                            n_train=P["n_train_per_class"], n_test=P["n_test_per_class"], seed=seed)


def output_trains(net: SpikingNet, x: torch.Tensor, batch_size: int = 32) -> np.ndarray:
    """The output population's spike trains (N, T, n) as 0/1 uint8, one forward pass per batch."""
    out = []
    with torch.no_grad():
        for i in range(0, x.shape[0], batch_size):
            _, rec = net(x[i:i + batch_size], record=True)
            out.append(rec[net.output].cpu().numpy())
    s = np.concatenate(out, axis=0)
    assert set(np.unique(s)) <= {0.0, 1.0}, "the forward pass must emit hard 0/1 spikes"
    return s.astype(np.uint8)


def lz_features(trains: np.ndarray, bin_steps: int = 1) -> np.ndarray:
    """Normalised LZ76 complexity per sample and neuron (N, n): one symbol per bin of
    ``bin_steps`` steps (1 when the neuron fired in it; a last partial bin dropped), as
    ``readout.lz_classifier`` bins."""
    N, T, n = trains.shape
    nb = max(1, T // bin_steps)
    b = trains[:, :nb * bin_steps].reshape(N, nb, bin_steps, n).max(axis=2)
    return np.stack([lz76_per_neuron(b[k]) for k in range(N)]) if N else np.zeros((0, n))


def lz_predict(F_train: np.ndarray, y_train: np.ndarray, F: np.ndarray, rule: str, n_classes: int) -> np.ndarray:
    """Classes of the rows of ``F`` by ``readout.lz_classifier``'s rule ``rule``, with the
    class means of (``F_train``, ``y_train``)."""
    y_train = np.asarray(y_train, np.int64)
    model = {"sum": np.zeros((n_classes, F_train.shape[1])), "count": np.bincount(y_train, minlength=n_classes)
             .astype(np.float64)}
    np.add.at(model["sum"], y_train, F_train)
    node = SimpleNamespace(values={"feature": rule})
    return LZClassifier.predict(node, SimpleNamespace(F=F), np.arange(len(F)), model)


def lz_evaluate(net: SpikingNet, data, P=PROTOCOL) -> dict:
    """LZC classification of ``net``'s output trains: class means on the train samples,
    accuracy on the train and on the held-out test samples, for both rules."""
    bs = int(P["eval_batch_size"])
    bin_steps = max(1, int(round(P["lz_bin_ms"] / net.dt)))
    tr = output_trains(net, data.x_train, bs)
    te = output_trains(net, data.x_test, bs)
    Ftr, Fte = lz_features(tr, bin_steps), lz_features(te, bin_steps)
    ytr, yte = data.y_train.numpy(), data.y_test.numpy()
    res = {"rate_hz": float(te.mean() * 1000.0 / net.dt)}
    for rule in RULES:
        res[f"lz_{rule}_test_acc"] = float(np.mean(lz_predict(Ftr, ytr, Fte, rule, data.n_classes) == yte))
        res[f"lz_{rule}_train_acc"] = float(np.mean(lz_predict(Ftr, ytr, Ftr, rule, data.n_classes) == ytr))
    res["class_mean_complexity"] = [float(Ftr[ytr == c].mean()) for c in range(data.n_classes)]
    return res


def run_one(kind: str, learned: bool, seed: int, P=PROTOCOL) -> dict:
    """Train one arm (as ``learning_intrinsics.run_one`` does) and classify its output trains by LZC."""
    task = make_task(seed, P)
    learn = P["learn_learned"] if learned else P["learn_fixed"]
    r = train(design(kind, seed, P), epochs=P["epochs"], lr=P["lr"], surrogate=P["surrogate"], slope=P["slope"],
              seed=seed, learn=tuple(learn), task=task, batch_size=P["batch_size"])
    data = task.make(r.net.dt)  # the same samples as in training (seeded)
    t0 = time.perf_counter()
    out = lz_evaluate(r.net, data, P)
    out.update(linear_test_acc=r.history[-1]["test_acc"], linear_train_acc=r.history[-1]["train_acc"],
               intrinsics=r.summary()["intrinsics"].get("hid", {}), train_seconds=r.seconds,
               eval_seconds=time.perf_counter() - t0)
    return out


def run_untrained(kind: str, seed: int, P=PROTOCOL) -> dict:
    """The reference arm: the initial network (no training) classified by LZC."""
    task = make_task(seed, P)
    net = SpikingNet(design(kind, seed, P), learn=("readout",), seed=seed, n_classes=P["n_classes"])
    return lz_evaluate(net, task.make(net.dt), P)


def _ms(xs):
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def experiment(P=PROTOCOL, log=print, untrained: bool = True) -> dict:
    """Every arm on every seed of ``P``; returns runs, per-arm table and paired gains."""
    runs = {}
    for neuron, kind, learned in VARIANTS:
        name = f"{neuron} {'learned' if learned else 'fixed'}"
        runs[name] = []
        for seed in P["seeds"]:
            r = run_one(kind, learned, seed, P)
            r["seed"] = seed
            runs[name].append(r)
            log(f"{name:<14} seed {seed}: LZC per-neuron {r['lz_per_neuron_test_acc']:.3f}, population "
                f"{r['lz_population_mean_test_acc']:.3f}, linear {r['linear_test_acc']:.3f}, rate "
                f"{r['rate_hz']:.0f} Hz ({r['train_seconds']:.1f} s)")
    if untrained:
        for neuron, kind in (("LIF", "lif"), ("meta", "meta")):
            name = f"{neuron} untrained"
            runs[name] = []
            for seed in P["seeds"]:
                r = run_untrained(kind, seed, P)
                r["seed"] = seed
                runs[name].append(r)
            log(f"{name:<14} LZC per-neuron {statistics.fmean(x['lz_per_neuron_test_acc'] for x in runs[name]):.3f}")
    keys = ["lz_per_neuron_test_acc", "lz_population_mean_test_acc", "lz_per_neuron_train_acc",
            "lz_population_mean_train_acc", "linear_test_acc", "rate_hz"]
    table = {}
    for name, rs in runs.items():
        table[name] = {"n_seeds": len(rs)}
        for k in keys:
            if k in rs[0]:
                m, sd = _ms([r[k] for r in rs])
                table[name][f"{k}_mean"], table[name][f"{k}_sd"] = m, sd
    paired = {}
    for neuron in ("LIF", "meta"):
        paired[neuron] = {}
        for k in ("lz_per_neuron_test_acc", "lz_population_mean_test_acc", "linear_test_acc"):
            d = [b[k] - a[k] for a, b in zip(runs[f"{neuron} fixed"], runs[f"{neuron} learned"])]
            m, sd = _ms(d)
            paired[neuron][k] = {"mean_gain_pp": 100 * m, "sd_pp": 100 * sd, "n_better": sum(x > 0 for x in d),
                                 "n_equal": sum(x == 0 for x in d), "n_worse": sum(x < 0 for x in d)}
    return {"protocol": P, "table": table, "paired_learned_minus_fixed": paired, "runs": runs}


def _pct(t, k):
    return f"{100 * t[k + '_mean']:.1f} ± {100 * t[k + '_sd']:.1f}"


def write_markdown(res: dict, wall: float) -> str:
    P, table, paired = res["protocol"], res["table"], res["paired_learned_minus_fixed"]
    lines = ["# LIF vs meta neuron classified by Lempel–Ziv complexity", "",
             "`python -m benchmarks.meta_lz` (protocol: the module docstring of `benchmarks/meta_lz.py`). The "
             "networks of `benchmarks/learning_intrinsics.py` (same task, network, training and seeds: Poisson "
             "class-rate task, 4 classes, 50 afferents, U(5, 20) Hz, 50 ms at dt 1 ms, 160 train / 200 test "
             "samples; 32 neurons; cross-entropy of a linear readout of spike counts, surrogate-gradient BPTT, "
             "Adam lr 0.01, 20 epochs), then their output spike trains classified by normalised LZ76 complexity "
             "(1-ms bins, class means on the train samples, `readout.lz_classifier`'s rules) on the held-out "
             f"samples. Seeds {P['seeds'][0]}..{P['seeds'][-1]} ({len(P['seeds'])}); mean ± sd over seeds. "
             "Chance: 25 %.", "",
             "| arm | LZC per-neuron test acc. (%) | LZC population-mean test acc. (%) | linear-readout test acc. (%) "
             "| output rate (Hz) |", "|---|---|---|---|---|"]
    for name, t in table.items():
        lin = _pct(t, "linear_test_acc") if "linear_test_acc_mean" in t else "—"
        lines.append(f"| {name} | {_pct(t, 'lz_per_neuron_test_acc')} | {_pct(t, 'lz_population_mean_test_acc')} "
                     f"| {lin} | {t['rate_hz_mean']:.0f} ± {t['rate_hz_sd']:.0f} |")
    lines += ["", "\"untrained\": the initial network (initial weights, default intrinsics), no training."]
    ref = OUT / "learning_intrinsics.json"
    if ref.exists():
        old = json.loads(ref.read_text())["runs"]
        same = all([r["test_acc"] for r in old.get(name, [])][:len(rs)] == [r["linear_test_acc"] for r in rs]
                   for name, rs in res["runs"].items() if "linear_test_acc" in rs[0])
        lines += ["", "The linear-readout column " + ("reproduces `learning_intrinsics.md` seed for seed (the same "
                  "trained networks)." if same else "DIFFERS from `learning_intrinsics.json` (not the same runs).")]
    lines += ["", "Paired gain of learning the intrinsics (learned − fixed, same seed: same task and initial "
              "weights):", ""]
    label = {"lz_per_neuron_test_acc": "LZC per-neuron", "lz_population_mean_test_acc": "LZC population-mean",
             "linear_test_acc": "linear readout"}
    for neuron, g in paired.items():
        for k, p in g.items():
            lines.append(f"- {neuron}, {label[k]}: {p['mean_gain_pp']:+.1f} ± {p['sd_pp']:.1f} pp (better in "
                         f"{p['n_better']}, equal in {p['n_equal']}, worse in {p['n_worse']} of {len(P['seeds'])} "
                         "seeds)")
    lines += ["", "Paper (Rudnicka, Szczepanski & Pregowska, arXiv 2508.11674 v2, abstract): learning intrinsics "
              "gains +13.5 pp (LIF) and +8.5 pp (meta neuron); SNN-LZC up to 99.5 %. Its task, network, "
              "meta-neuron equations and LZC decision rule were not retrievable (MODELS.md B); this run uses the "
              "placeholder meta neuron and the rules above, so the comparison is qualitative only.", "",
              f"Wall time {wall:.0f} s on {res['machine']['cpu']} (1 torch thread; shared machine, load average "
              f"{res['machine'].get('loadavg_end', float('nan')):.1f} at the end), torch {torch.__version__}.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=None, help="number of seeds (default: the protocol's 10)")
    ap.add_argument("--quick", action="store_true", help="2 epochs, 1 seed, nothing written (smoke test)")
    args = ap.parse_args(argv)
    P = dict(PROTOCOL)
    if args.seeds:
        P["seeds"] = list(range(args.seeds))
    if args.quick:
        P.update(epochs=2, seeds=[0])
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    res = experiment(P, log=lambda s: print(s, flush=True))
    wall = time.perf_counter() - t0
    for name, t in res["table"].items():
        print(f"{name:<15} LZC per-neuron {_pct(t, 'lz_per_neuron_test_acc')} %, population "
              f"{_pct(t, 'lz_population_mean_test_acc')} %")
    if args.quick:
        return 0
    res.update(wall_s=wall, machine={"python": platform.python_version(), "torch": torch.__version__,
                                     "cpu": platform.processor() or platform.machine(), "threads": 1,
                                     "loadavg_end": os.getloadavg()[0]})
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "meta_lz.json").write_text(json.dumps(res, indent=1, default=float) + "\n")
    (OUT / "meta_lz.md").write_text(write_markdown(res, wall))
    print(f"wrote {OUT / 'meta_lz.json'} and .md ({wall:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
