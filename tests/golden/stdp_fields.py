"""stdp_fields: a gliaflow design as a Python script.

`python stdp_fields.py` runs it headless and prints the summary of `gliaflow run --json`
(it takes the options of `gliaflow run`: --duration-ms, --seed, --out, ...);
`gliaflow import stdp_fields.py -o DESIGN.json` reads it back into a design.
"""
from engine import Network

net = Network("stdp_fields",
              description=("STDP receptive fields in the style of Song, Miller & Abbott (2000): "
                           "10 LIF neurons (tau_m 10 ms, E_L -74 mV, threshold -54 mV, reset -60 "
                           "mV) each receive the same 1000 excitatory Poisson inputs at 15 Hz "
                           "through plastic synapses (all-to-all, exponential current 5 ms, "
                           "initial weights uniform in [0, gmax], gmax 0.6 mV) trained by "
                           "additive pair STDP (tau+ = tau- = 20 ms, A+ = 0.01 gmax, A- = 1.05 "
                           "A+, hard bounds [0, gmax]). Inputs 0-199 form one correlated group (c "
                           "= 0.2, shared spikes of a common mother train); the other 800 are "
                           "independent. Watch the weight matrix and histogram: within ~5 s the "
                           "correlated group's synapses climb to gmax; over the next tens of "
                           "seconds the uncorrelated ones are pushed down, many to 0, and the "
                           "histogram turns U-shaped. Set correlation to 0 for competition alone: "
                           "the weights split into strong and silent ones over a few hundred "
                           "seconds."),
              reference=("Song, Miller & Abbott 2000, Nat Neurosci 3:919 (competition, bimodal "
                         "weights, correlated inputs win); parameters of Brian2's example of that "
                         "model; correlated groups: Kuhn, Aertsen & Rotter 2003, Neural Comput "
                         "15:67"),
              dt_ms=0.1, duration_ms=100000.0, seed=1, backend="numba",
              views={"plots": ["weights", "geometry", "out_spikes", "in_spikes"]})

inputs = net.add("stimulus.correlated_poisson", "inputs",
                 label="1000 Poisson inputs, 200 correlated (c 0.2)", rate_hz=15.0, group_size=200,
                 correlation=0.2)

syn = net.add("projection.synapses", "syn", label="plastic synapses (all-to-all)",
              rule="all_to_all", weight_mv={"dist": "uniform", "low": 0.0, "high": 0.6})
stdp = net.add("plasticity.stdp", "stdp", label="additive pair STDP", w_max=0.6, a_plus=0.006,
               a_minus=0.0063)

neuron = net.add("neuron.lif", "neuron", label="10 LIF neurons", n=10, tau_m_ms=10.0,
                 e_leak_mv=-74.0, v_threshold_mv=-54.0, v_reset_mv=-60.0, refractory_ms=0.0,
                 v_init_mv=-74.0)

weights = net.add("monitor.weights", "weights", every_ms=1000.0)
geometry = net.add("monitor.weight_geometry", "geometry", label="weight geometry", every_ms=1000.0,
                   max_rows=10, ref_rank=2, spectrum_size=10)
out_spikes = net.add("monitor.spikes", "out_spikes", label="output spikes")
in_spikes = net.add("monitor.spikes", "in_spikes", label="input spikes")

net.connect(inputs.spikes, syn.pre, id="inputs-syn")
net.connect(syn.post, neuron.drive, id="syn-neuron")
net.connect(stdp.rule, syn.rule, id="stdp-syn")
net.connect(syn.weights, weights.weights, id="syn-weights")
net.connect(syn.weights, geometry.weights, id="syn-geometry")
net.connect(neuron.spikes, out_spikes.spikes, id="neuron-out_spikes")
net.connect(inputs.spikes, in_spikes.spikes, id="inputs-in_spikes")

if __name__ == "__main__":
    net.main()

# --- canvas positions: node id, x, y (read back by `gliaflow import`) ---
# inputs -400 0
# syn -150 0
# stdp -150 -200
# neuron 100 0
# weights 100 -250
# geometry 350 -250
# out_spikes 350 0
# in_spikes -400 250
