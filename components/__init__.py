"""The built-in node types. Importing this package registers every one of them.

One module per type; each declares its parameters, ports and step, and registers itself.
"""
from importlib import import_module

_MODULES = (
    "stimulus_poisson", "stimulus_spike_array", "stimulus_current", "stimulus_digits", "stimulus_patterns",
    "stimulus_correlated_poisson", "stimulus_poisson_switch", "stimulus_cued_events",
    "neuron_lif", "neuron_lif_cond", "neuron_izhikevich", "neuron_adex", "neuron_lif_nalsm",
    "neuron_meta", "neuron_amsu", "neuron_lif_homeostatic", "neuron_linear",
    "projection_synapses",
    "plasticity_stdp", "plasticity_homeostasis", "plasticity_oja", "plasticity_stp", "plasticity_three_factor",
    "astrocyte_nalsm",
    "astrocyte_lr", "astrocyte_gchi",
    "readout_ridge", "readout_delta", "readout_lz", "readout_tempotron",
    "monitor_spikes", "monitor_state", "monitor_weights", "monitor_signal",
    "monitor_activity", "monitor_entropy", "monitor_lz", "monitor_branching", "monitor_dse",
    "monitor_weight_geometry", "monitor_task_accuracy",
)

for _m in _MODULES:
    import_module(f"{__name__}.{_m}")
