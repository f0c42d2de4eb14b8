"""The built-in node types. Importing this package registers every one of them.

One module per type; each declares its parameters, ports and step, and registers itself.
"""
from importlib import import_module

_MODULES = (
    "stimulus_poisson", "stimulus_spike_array", "stimulus_current",
    "neuron_lif", "neuron_lif_cond", "neuron_izhikevich", "neuron_adex",
    "projection_synapses",
    "monitor_spikes", "monitor_state", "monitor_weights",
    "monitor_activity", "monitor_entropy", "monitor_lz", "monitor_branching", "monitor_dse",
    "monitor_weight_geometry",
)

for _m in _MODULES:
    import_module(f"{__name__}.{_m}")
