"""coba: a gliaflow design as a Python script.

`python coba.py` runs it headless and prints the summary of `gliaflow run --json`
(it takes the options of `gliaflow run`: --duration-ms, --seed, --out, ...);
`gliaflow import coba.py -o DESIGN.json` reads it back into a design.
"""
from engine import Network

net = Network("coba",
              description=("COBA benchmark (Vogels & Abbott 2005; Brette et al. 2007 benchmark "
                           "1): 4000 conductance-based LIF neurons, 80% excitatory, 20% "
                           "inhibitory, sparse random connectivity (p = 0.02), self-sustained "
                           "asynchronous irregular activity."),
              reference=("Vogels & Abbott 2005 J Neurosci 25:10786; Brette et al. 2007 J Comput "
                         "Neurosci 23:349 (benchmark 1)"),
              dt_ms=0.1, duration_ms=1000, seed=1, backend="numba",
              views={"plots": ["exc_spikes", "exc_v", "inh_spikes"]})

exc = net.add("neuron.lif_cond", "exc", label="E (3200)", n=3200, i_bias_mv=20.0,
              v_init_mv={"dist": "normal", "mean": -55.0, "std": 5.0})
inh = net.add("neuron.lif_cond", "inh", label="I (800)", n=800, i_bias_mv=20.0,
              v_init_mv={"dist": "normal", "mean": -55.0, "std": 5.0})

ee = net.add("projection.synapses", "ee", label="exc→exc", p=0.02, weight_gl=0.6)
ei = net.add("projection.synapses", "ei", label="exc→inh", p=0.02, weight_gl=0.6)
ie = net.add("projection.synapses", "ie", label="inh→exc", p=0.02, receptor="inh", tau_syn_ms=10.0,
             weight_gl=6.7)
ii = net.add("projection.synapses", "ii", label="inh→inh", p=0.02, receptor="inh", tau_syn_ms=10.0,
             weight_gl=6.7)

exc_spikes = net.add("monitor.spikes", "exc_spikes", label="exc spikes")
inh_spikes = net.add("monitor.spikes", "inh_spikes", label="inh spikes")
exc_v = net.add("monitor.state", "exc_v", label="E membrane", variables="v, g_exc, g_inh",
                neurons="0:5", every_ms=0.5)

net.connect(exc.spikes, ee.pre, id="exc-ee")
net.connect(ee.post, exc.drive, id="ee-exc")
net.connect(exc.spikes, ei.pre, id="exc-ei")
net.connect(ei.post, inh.drive, id="ei-inh")
net.connect(inh.spikes, ie.pre, id="inh-ie")
net.connect(ie.post, exc.drive, id="ie-exc")
net.connect(inh.spikes, ii.pre, id="inh-ii")
net.connect(ii.post, inh.drive, id="ii-inh")
net.connect(exc.spikes, exc_spikes.spikes, id="exc-exc_spikes")
net.connect(inh.spikes, inh_spikes.spikes, id="inh-inh_spikes")
net.connect(exc.state, exc_v.state, id="exc-exc_v")

if __name__ == "__main__":
    net.main()

# --- canvas positions: node id, x, y (read back by `gliaflow import`) ---
# exc 0 0
# inh 0 300
# ee 300 -100
# ei 300 150
# ie 300 50
# ii 300 400
# exc_spikes 650 0
# inh_spikes 650 300
# exc_v 650 120
