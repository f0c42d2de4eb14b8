"""``neuron.lif_nalsm``: the discrete LIF of the NALSM code (Ivanov & Michmizos 2021)."""
from __future__ import annotations

from collections import namedtuple

from engine.ops import maximum, where
from engine.params import Num
from engine.registry import register

from .base import NeuronType, refractory_steps

Inputs = namedtuple("Inputs", "i_syn i_ext")
State = namedtuple("State", "v refr")
Params = namedtuple("Params", "leak bias v_th v_reset refr_steps")


def step(inp, st, p, dt):
    """One 1-ms step of the NALSM LIF, in the code's order.

    The code checks the threshold first (s = V >= V_th and refr == 0), resets V to 0, then
    integrates V += -V/tau_v + I_syn + I_in + b, with refr = t_ref after a spike. Here one
    step integrates and then checks, which is the same sequence shifted by half a step: the
    input of the step in which a presynaptic spike happens reaches V in that step (the
    code's age-0 kernel term), so the timing of every spike is as in the code. V keeps
    integrating while refractory; a refractory neuron only cannot fire.
    """
    v = st.v + p.leak * st.v + inp.i_syn + inp.i_ext + p.bias
    can = st.refr <= 0.0
    spike = can & (v >= p.v_th)
    v = where(spike, p.v_reset, v)
    refr = where(spike, p.refr_steps, maximum(st.refr - 1.0, 0.0))
    return spike, State(v, refr)


@register
class LIFNalsm(NeuronType):
    """The discrete LIF of the NALSM code (dt = 1 ms): V += -V/tau_v + I_syn + I_in + b.

    Threshold 20, reset to 0, 2 refractory steps during which V integrates but cannot fire;
    inputs are in voltage units per step. Synapses: a projection with synapse 'exponential'
    and tau_syn_ms = 1 gives the code's kernel w, w e^-1, w e^-2, ... (the code counts only
    a presynaptic neuron's last spike: a second spike of the same neuron within ~5 ms adds
    here where the code replaces, a difference below e^-3 = 5 % of one PSP).
    """

    type_key = "neuron.lif_nalsm"
    drive_channels = {"exc": "i_syn", "inh": "i_syn"}
    weight_param = "weight_mv"
    state_units = {"v": "a.u.", "refr": "steps", "i_syn": "a.u.", "i_ext": "a.u."}

    tau_v_ms = Num(64.0, bounds=(0, None), inclusive=(False, True), dist=True, doc="membrane time constant tau_v")
    v_threshold = Num(20.0, dist=True, doc="spike when V >= V_th")
    v_reset = Num(0.0, dist=True, doc="V after a spike")
    refractory_ms = Num(2.0, bounds=(0, None), dist=True, doc="refractory time: no spike (V integrates)")
    i_bias = Num(0.0, dist=True, doc="constant input b per step")
    v_init = Num(0.0, dist=True, live=False, doc="initial V (applies at reset)")

    @classmethod
    def derive(cls, v, dt, node=None, b=None):
        return dict(leak=-dt / v["tau_v_ms"], bias=v["i_bias"], v_th=v["v_threshold"], v_reset=v["v_reset"],
                    refr_steps=refractory_steps(v["refractory_ms"], dt))

    @classmethod
    def init_state(cls, v, n, b, node):
        return {"v": v["v_init"], "refr": 0.0}

    @classmethod
    def bias(cls, values):
        return values["i_bias"]
