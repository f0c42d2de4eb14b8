"""neuron_glia: a gliaflow design as a Python script.

`python neuron_glia.py` runs it headless and prints the summary of `gliaflow run --json`
(it takes the options of `gliaflow run`: --duration-ms, --seed, --out, ...);
`gliaflow import neuron_glia.py -o DESIGN.json` reads it back into a design.
"""
from engine import Network

net = Network("neuron_glia",
              description=("Recurrent neuron–glia network (Stimberg et al. 2019, Fig. 6): the "
                           "COBA network of 3200 excitatory and 800 inhibitory conductance-based "
                           "LIF neurons (p 0.05 / 0.2, w_e 0.05 nS, w_i 1 nS, I_ex 100 pA raised "
                           "by 20 % from 2 to 4 s), every synapse with Tsodyks–Markram short-term "
                           "plasticity, the excitatory ones tripartite: their released "
                           "neurotransmitter drives 100 G-ChI astrocytes (reduced from 3200) on a "
                           "10x10 grid coupled by IP3 gap junctions, and each Ca crossing of "
                           "C_Theta releases gliotransmitter that binds presynaptic receptors and "
                           "sets U_0 = (1 - Gamma) U_0* + alpha Gamma. alpha = 1 (here) is "
                           "release-increasing, alpha = 0 release-decreasing gliotransmission. "
                           "Watch the astrocytic Ca rise network-wide about 2.3 s into the run, "
                           "the releases, and the excitatory rate change once the gliotransmitter "
                           "has bound (compare alpha 0 and 1 on stp_ee and stp_ei)."),
              reference=("Stimberg, Goodman, Brette & De Pittà (2019), Modeling neuron–glia "
                         "interactions with the Brian 2 simulator, in Computational Glioscience "
                         "(Springer), Fig. 6; brian2 "
                         "examples/frompapers/Stimberg_et_al_2018/example_6_COBA_with_astro.py"),
              dt_ms=0.1, duration_ms=8000.0, seed=1, backend="numba",
              views={"plots": ["exc_spikes", "astro_ca", "exc_rate", "astro_release", "inh_spikes"]})

exc = net.add("neuron.lif_cond", "exc", label="E (3200)", n=3200, tau_m_ms=19.82, i_bias_mv=10.01,
              v_init_mv={"dist": "uniform", "low": -60.0, "high": -50.0})
inh = net.add("neuron.lif_cond", "inh", label="I (800)", n=800, tau_m_ms=19.82, i_bias_mv=10.01,
              v_init_mv={"dist": "uniform", "low": -60.0, "high": -50.0})

stim_exc = net.add("stimulus.current", "stim_exc", label="I_ex x 1.2 at 2-4 s (E)", amplitude=2.002,
                   start_ms=2000.0, stop_ms=4000.0)
stim_inh = net.add("stimulus.current", "stim_inh", label="I_ex x 1.2 at 2-4 s (I)", amplitude=2.002,
                   start_ms=2000.0, stop_ms=4000.0)

ee = net.add("projection.synapses", "ee", label="exc→exc", p=0.05, weight_gl=0.005005)
ei = net.add("projection.synapses", "ei", label="exc→inh", p=0.05, weight_gl=0.005005)
ie = net.add("projection.synapses", "ie", label="inh→exc", p=0.2, receptor="inh", tau_syn_ms=10.0,
             weight_gl=0.1001)
ii = net.add("projection.synapses", "ii", label="inh→inh", p=0.2, receptor="inh", tau_syn_ms=10.0,
             weight_gl=0.1001)
stp_ee = net.add("plasticity.stp", "stp_ee", label="tripartite STP ee", alpha=1.0)
stp_ei = net.add("plasticity.stp", "stp_ei", label="tripartite STP ei", alpha=1.0)
stp_ie = net.add("plasticity.stp", "stp_ie", label="STP ie")
stp_ii = net.add("plasticity.stp", "stp_ii", label="STP ii")

astro = net.add("astrocyte.gchi", "astro", label="astrocytes (10x10 grid)", n=100, coupling="grid",
                y_per_spike_um=2500.0, activity_gain=199.8)

exc_spikes = net.add("monitor.spikes", "exc_spikes", label="E spikes")
inh_spikes = net.add("monitor.spikes", "inh_spikes", label="I spikes")
exc_rate = net.add("monitor.activity", "exc_rate", label="E population rate")
astro_ca = net.add("monitor.state", "astro_ca", label="Ca and gliotransmitter (grid diagonal)",
                   variables="ca, g_a", neurons="0, 11, 22, 33, 44, 55, 66, 77, 88, 99",
                   every_ms=10.0)
astro_ip3 = net.add("monitor.state", "astro_ip3", label="IP3 and receptors (grid diagonal)",
                    variables="ip3, gamma_a", neurons="0, 11, 22, 33, 44, 55, 66, 77, 88, 99",
                    every_ms=10.0)
astro_release = net.add("monitor.spikes", "astro_release", label="gliotransmitter releases")

net.connect(stim_exc.current, exc.current, id="stim_exc-exc")
net.connect(stim_inh.current, inh.current, id="stim_inh-inh")
net.connect(exc.spikes, ee.pre, id="exc-ee")
net.connect(ee.post, exc.drive, id="ee-exc")
net.connect(exc.spikes, ei.pre, id="exc-ei")
net.connect(ei.post, inh.drive, id="ei-inh")
net.connect(inh.spikes, ie.pre, id="inh-ie")
net.connect(ie.post, exc.drive, id="ie-exc")
net.connect(inh.spikes, ii.pre, id="inh-ii")
net.connect(ii.post, inh.drive, id="ii-inh")
net.connect(stp_ee.release, ee.modulation, id="stp_ee-ee")
net.connect(stp_ei.release, ei.modulation, id="stp_ei-ei")
net.connect(stp_ie.release, ie.modulation, id="stp_ie-ie")
net.connect(stp_ii.release, ii.modulation, id="stp_ii-ii")
net.connect(ee.activity, astro.activity, id="ee-astro")
net.connect(astro.gliotransmitter, stp_ee.gliotransmitter, id="astro-stp_ee")
net.connect(ei.activity, astro.activity, id="ei-astro")
net.connect(astro.gliotransmitter, stp_ei.gliotransmitter, id="astro-stp_ei")
net.connect(exc.spikes, exc_spikes.spikes, id="exc-exc_spikes")
net.connect(inh.spikes, inh_spikes.spikes, id="inh-inh_spikes")
net.connect(exc.spikes, exc_rate.spikes, id="exc-exc_rate")
net.connect(astro.state, astro_ca.state, id="astro-astro_ca")
net.connect(astro.state, astro_ip3.state, id="astro-astro_ip3")
net.connect(astro.release, astro_release.spikes, id="astro-astro_release")

if __name__ == "__main__":
    net.main()

# --- canvas positions: node id, x, y (read back by `gliaflow import`) ---
# exc 0 0
# inh 0 400
# stim_exc -350 -150
# stim_inh -350 550
# ee 350 -100
# ei 350 150
# ie 350 250
# ii 350 500
# stp_ee 600 -100
# stp_ei 600 150
# stp_ie 600 250
# stp_ii 600 500
# astro 850 30
# exc_spikes 350 -300
# inh_spikes 350 700
# exc_rate 600 -300
# astro_ca 1100 -100
# astro_ip3 1100 80
# astro_release 1100 250
