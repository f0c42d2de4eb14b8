"""what_when: a gliaflow design as a Python script.

`python what_when.py` runs it headless and prints the summary of `gliaflow run --json`
(it takes the options of `gliaflow run`: --duration-ms, --seed, --out, ...);
`gliaflow import what_when.py -o DESIGN.json` reads it back into a design.
"""
from engine import Network

net = Network("what_when",
              description=("What/when predictions (placeholder of Yamada & Chao's model, "
                           "experimental): a heterogeneous Izhikevich reservoir (400 E from "
                           "regular spiking to chattering, 100 I from fast spiking to "
                           "low-threshold spiking, Izhikevich 2003 presets, sparse random E/I "
                           "connections) receives a cue and two events: A 200 ms after the cue in "
                           "80% of trials and B 500 ms after it in 30% (1-s trials). The cue "
                           "reaches the reservoir as 50 microstimuli (Gaussian tuning to a fading "
                           "trace, Ludvig et al. 2008) that tile the time after it. Two "
                           "continuous readout units y = W r (filtered reservoir rates) learn "
                           "online, from zero weights, with the error-modulated, attention-gated "
                           "three-factor rule (dW = eta (target - y) G e) to predict each event "
                           "50 ms ahead; the gate is open for the first 800 ms of each trial. "
                           "Within about 20 trials y_A peaks just before 200 ms and y_B just "
                           "before 500 ms, y_A higher than y_B (0.39 vs 0.15 over trials 40-59: "
                           "below the probabilities, ordered by them). At 60 s event A moves to "
                           "350 ms; y_A follows within 5-10 trials, without resets. Plots: "
                           "reservoir raster, readout outputs, the third factor (gated error)."),
              reference=("Yamada & Chao, arXiv 2510.14382 (what/when predictions, three-factor "
                         "readouts; equations not retrievable, canonical form of MODELS.md D); "
                         "Izhikevich 2003 (IEEE TNN 14:1569) reservoir; Ludvig, Sutton & Kehoe "
                         "2008 (Neural Comput 20:3034) microstimuli"),
              dt_ms=0.5, duration_ms=120000.0, seed=1, backend="numba",
              views={"plots": ["E_spikes", "readout", "error"]})

cue = net.add("stimulus.cued_events", "cue", label="cue (50 microstimuli) + events A, B", n_cue=50,
              cue_ms=800.0, cue_rate_hz=2000.0, cue_tau_ms=500.0, cue_profile="microstimuli",
              event_rate_hz=2000.0, lead_ms=50.0, attend_ms=800.0, change_ms=60000.0,
              delays_after_ms="350, 500")
noise_e = net.add("stimulus.current", "noise_e", label="noise E", waveform="noise")
noise_i = net.add("stimulus.current", "noise_i", label="noise I", waveform="noise", amplitude=2.0)

E = net.add("neuron.izhikevich", "E", label="reservoir E (400, RS to CH)", n=400,
            preset="excitatory_2003")
I = net.add("neuron.izhikevich", "I", label="reservoir I (100, FS to LTS)",
            preset="inhibitory_2003")

in_E = net.add("projection.synapses", "in_E", label="inputs to E (one each)", rule="fixed_indegree",
               indegree=1)
EE = net.add("projection.synapses", "EE", label="E to E",
             weight={"dist": "uniform", "low": 0.0, "high": 0.5})
EI = net.add("projection.synapses", "EI", label="E to I",
             weight={"dist": "uniform", "low": 0.0, "high": 0.5})
IE = net.add("projection.synapses", "IE", label="I to E", receptor="inh",
             weight={"dist": "uniform", "low": -1.0, "high": 0.0})
II = net.add("projection.synapses", "II", label="I to I", receptor="inh",
             weight={"dist": "uniform", "low": -1.0, "high": 0.0})
ro = net.add("projection.synapses", "ro", label="readout weights (E to y)", rule="all_to_all",
             tau_syn_ms=60.0, weight=0.0)
tf = net.add("plasticity.three_factor", "tf", label="three-factor: error x eligibility x attention",
             tau_pre_ms=60.0, tau_e_ms=2.0, eta=2.5e-07)

out = net.add("neuron.linear", "out", label="readout y: A, B", n=2)

E_spikes = net.add("monitor.spikes", "E_spikes", label="reservoir raster")
readout = net.add("monitor.state", "readout", label="readout output y (A, B)", neurons="0:2",
                  every_ms=5.0)
error = net.add("monitor.signal", "error", label="third factor: gated error (A, B)", every_ms=5.0)
targets = net.add("monitor.signal", "targets", label="targets (A, B)", every_ms=5.0)

net.connect(cue.spikes, in_E.pre)
net.connect(in_E.post, E.drive)
net.connect(noise_e.current, E.current)
net.connect(noise_i.current, I.current)
net.connect(E.spikes, EE.pre)
net.connect(EE.post, E.drive)
net.connect(E.spikes, EI.pre)
net.connect(EI.post, I.drive)
net.connect(I.spikes, IE.pre)
net.connect(IE.post, E.drive)
net.connect(I.spikes, II.pre)
net.connect(II.post, I.drive)
net.connect(E.spikes, ro.pre)
net.connect(ro.post, out.drive)
net.connect(tf.rule, ro.rule)
net.connect(cue.target, tf.modulator)
net.connect(cue.gate, tf.gate)
net.connect(E.spikes, E_spikes.spikes)
net.connect(out.state, readout.state)
net.connect(tf.error, error.signal)
net.connect(cue.target, targets.signal)

if __name__ == "__main__":
    net.main()

# --- canvas positions: node id, x, y (read back by `gliaflow import`) ---
# cue -600 0
# noise_e -600 -300
# noise_i -600 300
# E 0 -150
# I 0 200
# in_E -300 -150
# EE 0 -400
# EI 200 50
# IE -200 50
# II 0 400
# ro 350 -150
# tf 350 -400
# out 650 -150
# E_spikes 350 250
# readout 900 -150
# error 650 -400
# targets -300 -400
