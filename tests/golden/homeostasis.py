"""homeostasis: a gliaflow design as a Python script.

`python homeostasis.py` runs it headless and prints the summary of `gliaflow run --json`
(it takes the options of `gliaflow run`: --duration-ms, --seed, --out, ...);
`gliaflow import homeostasis.py -o DESIGN.json` reads it back into a design.
"""
from engine import Network

net = Network("homeostasis",
              description=("Homeostasis under a shift of the input statistics: 100 LIF neurons "
                           "(tau_m 20 ms, threshold 15 mV above rest), each driven by 200 of 1000 "
                           "Poisson inputs (exponential current synapses, 5 ms, 1.2 mV) whose "
                           "rate doubles from 10 to 20 Hz at 10 s. Multiplicative synaptic "
                           "scaling (target 5 Hz, rate estimate over 1 s, 0.5/s) scales each "
                           "neuron's input weights: before the shift it holds the population at 5 "
                           "Hz; the doubled input drives it to ~40 Hz, scaling cuts the weights, "
                           "overshoots (the rate estimate lags: a damped oscillation through "
                           "silence) and settles back at 5 Hz within ~7 s. Delete the scaling "
                           "node for the control: the rate stays near 46 Hz after the shift."),
              reference=("Turrigiano et al. 1998, Nature 391:892 (synaptic scaling); van Rossum, "
                         "Bi & Turrigiano 2000, J Neurosci 20:8812 (the multiplicative rule)"),
              dt_ms=0.1, duration_ms=30000.0, seed=1, backend="numba",
              views={"plots": ["rate", "pop_spikes", "weights"]})

inputs = net.add("stimulus.poisson_switch", "inputs",
                 label="1000 Poisson inputs: 10 Hz, 20 Hz from 10 s", n=1000, switch_ms=10000.0)

syn = net.add("projection.synapses", "syn", label="input synapses (200 per neuron)",
              rule="fixed_indegree", indegree=200, weight_mv=1.2)
scaling = net.add("plasticity.scaling", "scaling", label="synaptic scaling (target 5 Hz)")

pop = net.add("neuron.lif", "pop", label="100 LIF neurons",
              v_init_mv={"dist": "uniform", "low": -65.0, "high": -50.0})

rate = net.add("monitor.activity", "rate", label="population rate", window_ms=500.0)
pop_spikes = net.add("monitor.spikes", "pop_spikes", label="spikes")
weights = net.add("monitor.weights", "weights", label="input weights", every_ms=500.0,
                  max_synapses=20000)

net.connect(inputs.spikes, syn.pre, id="inputs-syn")
net.connect(syn.post, pop.drive, id="syn-pop")
net.connect(scaling.rule, syn.rule, id="scaling-syn")
net.connect(pop.spikes, rate.spikes, id="pop-rate")
net.connect(pop.spikes, pop_spikes.spikes, id="pop-pop_spikes")
net.connect(syn.weights, weights.weights, id="syn-weights")

if __name__ == "__main__":
    net.main()

# --- canvas positions: node id, x, y (read back by `gliaflow import`) ---
# inputs -400 0
# syn -150 0
# scaling -150 -200
# pop 100 0
# rate 350 -150
# pop_spikes 350 50
# weights 100 -250
