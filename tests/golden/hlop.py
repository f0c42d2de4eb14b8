"""hlop: a gliaflow design as a Python script.

`python hlop.py` runs it headless and prints the summary of `gliaflow run --json`
(it takes the options of `gliaflow run`: --duration-ms, --seed, --out, ...);
`gliaflow import hlop.py -o DESIGN.json` reads it back into a design.
"""
from engine import Network

net = Network("hlop",
              description=("HLOP (Xiao et al. 2024): continual learning of three tasks in "
                           "sequence, split digits 0/1, then 2/3, then 4/5 (domain-incremental: "
                           "two shared outputs, 'first' and 'second' class of each task). 64 "
                           "Poisson pixel inputs drive 2 LIF outputs through weights W learned by "
                           "an error-driven three-factor rule. Beside them, 24 lateral subspace "
                           "neurons learn, with Oja's subspace rule, 8 principal directions of "
                           "each task's input activity; at a task boundary those rows freeze, and "
                           "W's later updates use the presynaptic traces projected off the frozen "
                           "subspace (r - H^T H r), so what earlier tasks use is not overwritten. "
                           "After each task every held-out sample is shown: the accuracy monitor "
                           "plots each task's accuracy after each task. Delete the wire "
                           "hlop.subspace -> learn.subspace for plain sequential training, which "
                           "forgets more (benchmarks/hlop_continual.py)."),
              reference=("Xiao, Meng, Zhang, He & Lin, 'Hebbian learning based orthogonal "
                         "projection for continual learning of spiking neural networks', ICLR "
                         "2024 (arXiv 2402.11984); github pkuxmq/HLOP-SNN"),
              dt_ms=0.5, duration_ms=100800.0, seed=1, backend="numba",
              views={"plots": ["acc", "out_spikes", "in_spikes"]})

digits = net.add("stimulus.digits", "digits", label="split digits 0/1, 2/3, 4/5", n_samples=600,
                 gap_ms=20.0, tasks="0,1; 2,3; 4,5", task_labels="within_task")

w = net.add("projection.synapses", "w", label="W (learned)", rule="all_to_all", weight_mv=0.0)

out = net.add("neuron.lif", "out", label="outputs (first / second class)", n=2, tau_m_ms=10.0)

learn = net.add("plasticity.three_factor", "learn", label="error-driven rule", eta=1e-07)
lat = net.add("projection.synapses", "lat", label="H (lateral, Oja)", rule="all_to_all",
              allow_self=True, weight_mv={"dist": "normal", "mean": 0.0, "std": 0.1})

sub = net.add("neuron.lif", "sub", label="subspace neurons (8 per task)", n=24)

hlop = net.add("plasticity.oja_subspace", "hlop", label="HLOP: Oja subspace", rows_per_task=8,
               projected="frozen")

acc = net.add("monitor.task_accuracy", "acc", label="accuracy per task")
out_spikes = net.add("monitor.spikes", "out_spikes", label="output raster")
in_spikes = net.add("monitor.spikes", "in_spikes", label="input raster")

net.connect(digits.spikes, w.pre)
net.connect(w.post, out.drive)
net.connect(learn.rule, w.rule)
net.connect(digits.label, learn.modulator)
net.connect(digits.spikes, lat.pre)
net.connect(lat.post, sub.drive)
net.connect(hlop.rule, lat.rule)
net.connect(digits.label, hlop.schedule)
net.connect(hlop.subspace, learn.subspace)
net.connect(out.spikes, acc.spikes)
net.connect(digits.label, acc.label)
net.connect(out.spikes, out_spikes.spikes)
net.connect(digits.spikes, in_spikes.spikes)

if __name__ == "__main__":
    net.main()

# --- canvas positions: node id, x, y (read back by `gliaflow import`) ---
# digits -400 0
# w -150 -120
# out 100 -120
# learn -150 -260
# lat -150 150
# sub 100 150
# hlop -150 300
# acc 350 -120
# out_spikes 350 0
# in_spikes -400 200
