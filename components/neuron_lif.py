"""``neuron.lif``: current-based leaky integrate-and-fire."""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from engine.ops import maximum, where
from engine.params import Choice, Num
from engine.registry import register

from .base import NeuronType, refractory_steps

Inputs = namedtuple("Inputs", "i_syn jump i_ext")
State = namedtuple("State", "v refr")
Params = namedtuple("Params", "k e_l i_bias v_th v_reset refr_steps")


def step(inp, st, p, dt):
    """One step of tau_m dv/dt = -(v - E_L) + I_bias + I_syn + I_ext.

    ``v <- v + k (v_inf - v)`` with ``v_inf = E_L + I_bias + I_syn + I_ext`` and
    ``k = dt / tau_m`` (forward Euler) or ``k = 1 - exp(-dt / tau_m)`` (exponential
    Euler: exact while the input is constant over the step). Inputs ``i_syn`` (mV, summed
    current synapses), ``jump`` (mV, delta synapses, dropped while refractory), ``i_ext``
    (mV). State ``v`` (mV), ``refr`` (steps left). Spike when ``v > v_th``.
    """
    refr = maximum(st.refr - 1.0, 0.0)
    active = refr <= 0.0
    v = where(active, st.v + inp.jump, st.v)
    v_inf = p.e_l + p.i_bias + inp.i_syn + inp.i_ext
    v = where(active, v + p.k * (v_inf - v), v)
    spike = active & (v > p.v_th)
    v = where(spike, p.v_reset, v)
    refr = where(spike, p.refr_steps, refr)
    return spike, State(v, refr)


@register
class LIF(NeuronType):
    """Current-based leaky integrate-and-fire neurons.

    tau_m dv/dt = -(v - E_L) + I_bias + I_syn + I_ext, inputs in mV (R*I); exponential
    synapses add to I_syn, delta synapses jump v. Spike when v > v_threshold, then
    v = v_reset for refractory_ms. Integration: forward Euler or exponential Euler.
    """

    type_key = "neuron.lif"
    drive_channels = {"exc": "i_syn", "inh": "i_syn"}
    weight_param = "weight_mv"
    state_units = {"v": "mV", "refr": "steps", "i_syn": "mV", "jump": "mV", "i_ext": "mV"}

    tau_m_ms = Num(20.0, bounds=(0, None), inclusive=(False, True), dist=True, doc="membrane time constant")
    e_leak_mv = Num(-65.0, dist=True, doc="resting potential E_L")
    v_threshold_mv = Num(-50.0, dist=True, doc="spike threshold (spike when v exceeds it)")
    v_reset_mv = Num(-65.0, dist=True, doc="reset potential after a spike")
    refractory_ms = Num(2.0, bounds=(0, None), dist=True, doc="refractory period: v held at reset")
    i_bias_mv = Num(0.0, dist=True, doc="constant bias input (as R*I, in mV)")
    method = Choice("exponential", ["exponential", "euler"], live=True,
                    doc="exponential Euler (exact for input constant over a step) or forward Euler")
    v_init_mv = Num(-65.0, dist=True, live=False, doc="initial membrane potential (applies at reset)")

    @classmethod
    def derive(cls, v, dt, node=None, b=None):
        tau = v["tau_m_ms"]
        if v["method"] == "euler":
            k = dt / tau
        else:
            k = -np.expm1(-dt / tau) if isinstance(tau, np.ndarray) else -math.expm1(-dt / tau)
        return dict(k=k, e_l=v["e_leak_mv"], i_bias=v["i_bias_mv"], v_th=v["v_threshold_mv"],
                    v_reset=v["v_reset_mv"], refr_steps=refractory_steps(v["refractory_ms"], dt))

    @classmethod
    def init_state(cls, v, n, b, node):
        return {"v": v["v_init_mv"], "refr": 0.0}

    @classmethod
    def bias(cls, values):
        return values["i_bias_mv"]
