"""meta_patterns: a gliaflow design as a Python script.

`python meta_patterns.py` runs it headless and prints the summary of `gliaflow run --json`
(it takes the options of `gliaflow run`: --duration-ms, --seed, --out, ...);
`gliaflow import meta_patterns.py -o DESIGN.json` reads it back into a design.
"""
from engine import Network

net = Network("meta_patterns",
              description=("LIF vs meta neuron with learnable intrinsic parameters (Rudnicka et "
                           "al.): 50 afferents carrying frozen Poisson patterns of 4 classes "
                           "drive 32 probabilistic meta neurons (experimental: MODELS.md B "
                           "placeholder). Train it with `gliaflow train meta_patterns --epochs 20 "
                           "--learn readout,weights,intrinsics`; swap the population for "
                           "neuron.lif to compare."),
              reference="Rudnicka, Szczepanski & Pregowska, arXiv 2508.11674", dt_ms=1.0,
              duration_ms=10000, seed=1, backend="numba")

patterns = net.add("stimulus.patterns", "patterns", label="Poisson patterns (4 classes)", n=50,
                   n_classes=4, rate_hz=15.0, sample_ms=50.0, epochs=4)

w_in = net.add("projection.synapses", "w_in", label="input → hidden", rule="all_to_all",
               synapse="delta", weight_mv={"dist": "normal", "mean": 0.05, "std": 0.1})

hidden = net.add("neuron.meta", "hidden", label="meta neurons (32)", n=32)

spikes = net.add("monitor.spikes", "spikes", label="hidden spikes")

net.connect(patterns.spikes, w_in.pre)
net.connect(w_in.post, hidden.drive)
net.connect(hidden.spikes, spikes.spikes)

if __name__ == "__main__":
    net.main()

# --- canvas positions: node id, x, y (read back by `gliaflow import`) ---
# patterns 0 0
# w_in 250 0
# hidden 500 0
# spikes 750 0
