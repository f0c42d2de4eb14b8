"""meta_patterns: a gliaflow design as a Python script.

`python meta_patterns.py` runs it headless and prints the summary of `gliaflow run --json`
(it takes the options of `gliaflow run`: --duration-ms, --seed, --out, ...);
`gliaflow import meta_patterns.py -o DESIGN.json` reads it back into a design.
"""
from engine import Network

net = Network("meta_patterns",
              description=("LIF vs meta neuron with Lempel–Ziv classification (Rudnicka et al.): "
                           "50 afferents carrying 40 frozen Poisson patterns (15 Hz, 50 ms) in 4 "
                           "classes drive 32 probabilistic meta neurons (experimental: MODELS.md "
                           "B placeholder). Two readout.lz_classifier nodes classify every "
                           "presentation by the LZ76 complexity of the output trains in 1-ms bins "
                           "— 'lz' by the vector of per-neuron complexities, 'lz_pop' by the "
                           "paper's single population number (nearest class mean) — learning the "
                           "class means on 4 training epochs and scoring the held-out 5th. Train "
                           "weights and intrinsics by surrogate gradients with `gliaflow train "
                           "gallery/meta_patterns.json --epochs 20 --learn "
                           "readout,weights,intrinsics -o trained.json`, then `gliaflow run "
                           "trained.json` classifies the trained network's trains; swap in "
                           "neuron.lif (e_leak_mv 0, v_threshold_mv 1, v_reset_mv 0, v_init_mv 0) "
                           "to compare. `python -m benchmarks.meta_lz` runs the LIF/meta × "
                           "fixed/learned comparison."),
              reference="Rudnicka, Szczepanski & Pregowska, arXiv 2508.11674", dt_ms=1.0,
              duration_ms=10000, seed=1, backend="numba",
              views={"plots": ["spikes", "lz", "lz_pop"]})

patterns = net.add("stimulus.patterns", "patterns", label="Poisson patterns (4 classes)", n=50,
                   n_classes=4, rate_hz=15.0, sample_ms=50.0, epochs=4)

w_in = net.add("projection.synapses", "w_in", label="input → hidden", rule="all_to_all",
               synapse="delta", weight_mv={"dist": "normal", "mean": 0.05, "std": 0.1})

hidden = net.add("neuron.meta", "hidden", label="meta neurons (32)", n=32)

spikes = net.add("monitor.spikes", "spikes", label="hidden spikes")
lz = net.add("readout.lz_classifier", "lz", label="LZ classifier (per neuron)",
             feature="per_neuron")
lz_pop = net.add("readout.lz_classifier", "lz_pop", label="LZ classifier (population mean)")

net.connect(patterns.spikes, w_in.pre)
net.connect(w_in.post, hidden.drive)
net.connect(hidden.spikes, spikes.spikes)
net.connect(hidden.spikes, lz.spikes)
net.connect(patterns.label, lz.label)
net.connect(hidden.spikes, lz_pop.spikes)
net.connect(patterns.label, lz_pop.label)

if __name__ == "__main__":
    net.main()

# --- canvas positions: node id, x, y (read back by `gliaflow import`) ---
# patterns 0 0
# w_in 250 0
# hidden 500 0
# spikes 750 0
# lz 750 150
# lz_pop 750 300
