"""nalsm: a gliaflow design as a Python script.

`python nalsm.py` runs it headless and prints the summary of `gliaflow run --json`
(it takes the options of `gliaflow run`: --duration-ms, --seed, --out, ...);
`gliaflow import nalsm.py -o DESIGN.json` reads it back into a design.
"""
from engine import Network

net = Network("nalsm",
              description=("NALSM (Ivanov & Michmizos 2021): a liquid of 1000 NALSM LIF neurons "
                           "(800 E, 200 I) on a 10x10x10 lattice with distance-dependent "
                           "connectivity, driven by rate-coded 8x8 digits; astrocyte-gated STDP "
                           "on every liquid-afferent synapse, the global astrocyte setting the "
                           "depression rate from liquid minus input activity. Shortened "
                           "initialisation phase: 250 samples of 20 ms (200 train, 50 held out), "
                           "STDP and astrocyte on, no resets. Watch the E raster, NALSM's "
                           "branching factor of E->E over the last second (the astrocyte pulls it "
                           "down from the supercritical start) and a ridge readout of the E spike "
                           "counts of each sample. The three-variant comparison (fixed weights, "
                           "plain STDP, NALSM) with frozen weights and a held-out test set is "
                           "python -m benchmarks.nalsm_variants."),
              reference=("Ivanov & Michmizos, NeurIPS 2021 (arXiv 2111.01760); github "
                         "combra-lab/NALSM"),
              dt_ms=1.0, duration_ms=5000, seed=1, backend="numba",
              views={"plots": ["E_spikes", "E_branching", "readout"]})

digits = net.add("stimulus.digits", "digits", label="digits 8x8 (64 inputs)", n_samples=250,
                 sample_ms=20.0, max_rate_hz=500.0, process="bernoulli")

E = net.add("neuron.lif_nalsm", "E", label="liquid E (800)", n=800, grid_shape="10x10x10",
            grid_group="liquid")
I = net.add("neuron.lif_nalsm", "I", label="liquid I (200)", n=200, grid_shape="10x10x10",
            grid_group="liquid")

astro = net.add("astrocyte.nalsm", "astro", label="global astrocyte")

in_E_pos = net.add("projection.synapses", "in_E_pos", label="in E pos", p=0.075, tau_syn_ms=1.0,
                   weight_mv=3.0)
stdp_in_E_pos = net.add("plasticity.stdp_nalsm", "stdp_in_E_pos", label="STDP in_E_pos", w_min=-3.0,
                        presynaptic="excitatory")
in_E_neg = net.add("projection.synapses", "in_E_neg", label="in E neg", p=0.075, tau_syn_ms=1.0,
                   weight_mv=-3.0)
stdp_in_E_neg = net.add("plasticity.stdp_nalsm", "stdp_in_E_neg", label="STDP in_E_neg", w_min=-3.0,
                        presynaptic="excitatory")
in_I_pos = net.add("projection.synapses", "in_I_pos", label="in I pos", p=0.075, tau_syn_ms=1.0,
                   weight_mv=3.0)
stdp_in_I_pos = net.add("plasticity.stdp_nalsm", "stdp_in_I_pos", label="STDP in_I_pos", w_min=-3.0,
                        presynaptic="excitatory")
in_I_neg = net.add("projection.synapses", "in_I_neg", label="in I neg", p=0.075, tau_syn_ms=1.0,
                   weight_mv=-3.0)
stdp_in_I_neg = net.add("plasticity.stdp_nalsm", "stdp_in_I_neg", label="STDP in_I_neg", w_min=-3.0,
                        presynaptic="excitatory")
EE = net.add("projection.synapses", "EE", rule="distance", p_max=0.2, tau_syn_ms=1.0, weight_mv=3.0)
stdp_EE = net.add("plasticity.stdp_nalsm", "stdp_EE", label="STDP EE", presynaptic="excitatory")
EI = net.add("projection.synapses", "EI", rule="distance", p_max=0.1, tau_syn_ms=1.0, weight_mv=3.0)
stdp_EI = net.add("plasticity.stdp_nalsm", "stdp_EI", label="STDP EI", presynaptic="excitatory")
IE = net.add("projection.synapses", "IE", rule="distance", receptor="inh", tau_syn_ms=1.0,
             weight_mv=-3.0)
stdp_IE = net.add("plasticity.stdp_nalsm", "stdp_IE", label="STDP IE", w_min=-3.0, w_max=0.0,
                  presynaptic="inhibitory")
II = net.add("projection.synapses", "II", rule="distance", p_max=0.05, receptor="inh",
             tau_syn_ms=1.0, weight_mv=-3.0)
stdp_II = net.add("plasticity.stdp_nalsm", "stdp_II", label="STDP II", w_min=-3.0, w_max=0.0,
                  presynaptic="inhibitory")

E_spikes = net.add("monitor.spikes", "E_spikes", label="E spikes")
I_spikes = net.add("monitor.spikes", "I_spikes", label="I spikes")
in_spikes = net.add("monitor.spikes", "in_spikes", label="input spikes")
E_branching = net.add("monitor.branching", "E_branching", label="branching factor E->E")
readout = net.add("readout.ridge", "readout", label="ridge readout (E counts)")

net.connect(digits.spikes, in_E_pos.pre)
net.connect(in_E_pos.post, E.drive)
net.connect(stdp_in_E_pos.rule, in_E_pos.rule)
net.connect(astro.depression, stdp_in_E_pos.depression)
net.connect(digits.spikes, in_E_neg.pre)
net.connect(in_E_neg.post, E.drive)
net.connect(stdp_in_E_neg.rule, in_E_neg.rule)
net.connect(astro.depression, stdp_in_E_neg.depression)
net.connect(digits.spikes, in_I_pos.pre)
net.connect(in_I_pos.post, I.drive)
net.connect(stdp_in_I_pos.rule, in_I_pos.rule)
net.connect(astro.depression, stdp_in_I_pos.depression)
net.connect(digits.spikes, in_I_neg.pre)
net.connect(in_I_neg.post, I.drive)
net.connect(stdp_in_I_neg.rule, in_I_neg.rule)
net.connect(astro.depression, stdp_in_I_neg.depression)
net.connect(E.spikes, EE.pre)
net.connect(EE.post, E.drive)
net.connect(stdp_EE.rule, EE.rule)
net.connect(astro.depression, stdp_EE.depression)
net.connect(E.spikes, EI.pre)
net.connect(EI.post, I.drive)
net.connect(stdp_EI.rule, EI.rule)
net.connect(astro.depression, stdp_EI.depression)
net.connect(I.spikes, IE.pre)
net.connect(IE.post, E.drive)
net.connect(stdp_IE.rule, IE.rule)
net.connect(astro.depression, stdp_IE.depression)
net.connect(I.spikes, II.pre)
net.connect(II.post, I.drive)
net.connect(stdp_II.rule, II.rule)
net.connect(astro.depression, stdp_II.depression)
net.connect(E.spikes, astro.liquid)
net.connect(I.spikes, astro.liquid)
net.connect(digits.spikes, astro.input)
net.connect(E.spikes, E_spikes.spikes)
net.connect(I.spikes, I_spikes.spikes)
net.connect(digits.spikes, in_spikes.spikes)
net.connect(E.spikes, E_branching.spikes)
net.connect(EE.weights, E_branching.weights)
net.connect(E.spikes, readout.spikes)
net.connect(digits.label, readout.label)

if __name__ == "__main__":
    net.main()

# --- canvas positions: node id, x, y (read back by `gliaflow import`) ---
# digits -400 0
# E 0 -150
# I 0 150
# astro 400 300
# in_E_pos -150 -350
# stdp_in_E_pos -150 -450
# in_E_neg -30 -350
# stdp_in_E_neg -30 -450
# in_I_pos 90 -350
# stdp_in_I_pos 90 -450
# in_I_neg 210 -350
# stdp_in_I_neg 210 -450
# EE -150 350
# stdp_EE -150 450
# EI -30 350
# stdp_EI -30 450
# IE 90 350
# stdp_IE 90 450
# II 210 350
# stdp_II 210 450
# E_spikes 300 -150
# I_spikes 300 150
# in_spikes -400 200
# E_branching 300 -300
# readout 550 -150
