"""brunel: a gliaflow design as a Python script.

`python brunel.py` runs it headless and prints the summary of `gliaflow run --json`
(it takes the options of `gliaflow run`: --duration-ms, --seed, --out, ...);
`gliaflow import brunel.py -o DESIGN.json` reads it back into a design.
"""
from engine import Network

net = Network("brunel",
              description=("Brunel (2000) sparse E/I network of delta-synapse LIF neurons, model "
                           "A: 10000 excitatory and 2500 inhibitory neurons, 1000+250 inputs "
                           "each, J = 0.1 mV, g = 5.0, 1.5 ms delays, external Poisson drive at "
                           "nu_ext/nu_thr = 2.0. g = 5, eta = 2 gives the asynchronous irregular "
                           "(AI) state; g = 3 gives synchronous regular firing (SR)."),
              reference="Brunel 2000, J Comput Neurosci 8:183, Fig. 8", dt_ms=0.1,
              duration_ms=1000.0, seed=1, backend="numba",
              views={"plots": ["exc_spikes", "inh_spikes"]})

exc = net.add("neuron.lif", "exc", label="E (10000)", n=10000, e_leak_mv=0.0, v_threshold_mv=20.0,
              v_reset_mv=10.0, v_init_mv={"dist": "uniform", "low": 0.0, "high": 20.0})
inh = net.add("neuron.lif", "inh", label="I (2500)", n=2500, e_leak_mv=0.0, v_threshold_mv=20.0,
              v_reset_mv=10.0, v_init_mv={"dist": "uniform", "low": 0.0, "high": 20.0})

ext_e = net.add("stimulus.poisson", "ext_e", label="external drive E", n=10000, rate_hz=20000.0)
ext_i = net.add("stimulus.poisson", "ext_i", label="external drive I", n=2500, rate_hz=20000.0)

ee = net.add("projection.synapses", "ee", label="exc→exc", rule="fixed_indegree", indegree=1000,
             synapse="delta", weight_mv=0.1, delay_ms=1.5)
ei = net.add("projection.synapses", "ei", label="exc→inh", rule="fixed_indegree", indegree=1000,
             synapse="delta", weight_mv=0.1, delay_ms=1.5)
ie = net.add("projection.synapses", "ie", label="inh→exc", rule="fixed_indegree", indegree=250,
             receptor="inh", synapse="delta", weight_mv=-0.5, delay_ms=1.5)
ii = net.add("projection.synapses", "ii", label="inh→inh", rule="fixed_indegree", indegree=250,
             receptor="inh", synapse="delta", weight_mv=-0.5, delay_ms=1.5)
xe = net.add("projection.synapses", "xe", label="ext_e→exc", rule="one_to_one", synapse="delta",
             weight_mv=0.1)
xi = net.add("projection.synapses", "xi", label="ext_i→inh", rule="one_to_one", synapse="delta",
             weight_mv=0.1)

exc_spikes = net.add("monitor.spikes", "exc_spikes", label="exc spikes")
inh_spikes = net.add("monitor.spikes", "inh_spikes", label="inh spikes")

net.connect(exc.spikes, ee.pre, id="exc-ee")
net.connect(ee.post, exc.drive, id="ee-exc")
net.connect(exc.spikes, ei.pre, id="exc-ei")
net.connect(ei.post, inh.drive, id="ei-inh")
net.connect(inh.spikes, ie.pre, id="inh-ie")
net.connect(ie.post, exc.drive, id="ie-exc")
net.connect(inh.spikes, ii.pre, id="inh-ii")
net.connect(ii.post, inh.drive, id="ii-inh")
net.connect(ext_e.spikes, xe.pre, id="ext_e-xe")
net.connect(xe.post, exc.drive, id="xe-exc")
net.connect(ext_i.spikes, xi.pre, id="ext_i-xi")
net.connect(xi.post, inh.drive, id="xi-inh")
net.connect(exc.spikes, exc_spikes.spikes, id="exc-exc_spikes")
net.connect(inh.spikes, inh_spikes.spikes, id="inh-inh_spikes")

if __name__ == "__main__":
    net.main()

# --- canvas positions: node id, x, y (read back by `gliaflow import`) ---
# exc 300 0
# inh 300 300
# ext_e -300 0
# ext_i -300 300
# ee 600 -100
# ei 600 150
# ie 600 50
# ii 600 400
# xe 0 0
# xi 0 300
# exc_spikes 900 0
# inh_spikes 900 300
