"""``neuron.linear``: continuous-valued (non-spiking) linear units, e.g. the outputs of a readout."""
from __future__ import annotations

import math
from collections import namedtuple

from engine.params import Num
from engine.registry import Port, register

from .base import NeuronType

Inputs = namedtuple("Inputs", "i_syn jump i_ext")
State = namedtuple("State", "v")
Params = namedtuple("Params", "decay i_bias")

_INF = math.inf


def step(inp, st, p, dt):
    """One step of a linear unit: its value v low-pass filters its input and it never spikes.

    .. math::
        v \\leftarrow d\\,v + (1 - d)\\,(i_{bias} + I_{syn} + I_{ext}) + jump,\\qquad d = e^{-dt/\\tau}

    (the exact solution of tau dv/dt = -v + I with I held over the step); tau = 0 gives
    d = 0: v = i_bias + I_syn + I_ext + jump, the instantaneous weighted sum of the inputs
    (an exponential synapse's trace is then the rate filter: v = sum_j w_j x_j with x_j the
    trace of input j). Delta synapses ('jump') add their weight to v.
    """
    v = p.decay * st.v + (1.0 - p.decay) * (p.i_bias + inp.i_syn + inp.i_ext) + inp.jump
    return v > _INF, State(v)


@register
class Linear(NeuronType):
    """Linear units with a continuous output v: the readout of a reservoir, y_k = sum_i W_ki r_i.

    tau dv/dt = -v + i_bias + I_syn + I_ext (tau_ms = 0: v follows its input at once), where
    I_syn is the sum of the exponentially filtered, weighted spikes of the projections
    driving it (their 'weight' is dimensionless, v is in the units of whatever it is
    trained to match, e.g. a stimulus' target). The units never spike; their output is
    the state v (for monitors, and for plasticity.three_factor, which trains the weights
    onto them to make v follow a target signal).
    """

    type_key = "neuron.linear"
    spiking = False
    #: the state variable that is the unit's continuous output (read by learning rules)
    continuous_output = "v"
    ports = (
        Port("drive", "in", "drive", multiple=True, doc="weighted, filtered spikes from projections (summed)"),
        Port("current", "in", "current", multiple=True, doc="injected input from current stimuli (summed)"),
        Port("state", "out", "state", doc="the output v, for monitors"),
    )
    drive_channels = {"exc": "i_syn", "inh": "i_syn"}
    weight_param = "weight"
    state_units = {"v": "output units", "i_syn": "output units", "jump": "output units", "i_ext": "output units"}

    tau_ms = Num(0.0, bounds=(0, None), doc="time constant of the output (0: v is the input sum at each step)")
    i_bias = Num(0.0, dist=True, unit="output units", doc="constant input (the output's offset)")
    v_init = Num(0.0, dist=True, live=False, unit="output units", doc="initial output v (applies at reset)")

    @classmethod
    def derive(cls, v, dt, node=None, b=None):
        tau = float(v["tau_ms"])
        return dict(decay=math.exp(-dt / tau) if tau > 0 else 0.0, i_bias=v["i_bias"])

    @classmethod
    def init_state(cls, v, n, b, node):
        return {"v": v["v_init"]}

    @classmethod
    def bias(cls, values):
        return values["i_bias"]
