"""``neuron.lif_cond``: conductance-based leaky integrate-and-fire (COBA form)."""
from __future__ import annotations

from collections import namedtuple

from engine.ops import maximum, where
from engine.params import Num
from engine.registry import register

from .base import NeuronType, refractory_steps

Inputs = namedtuple("Inputs", "g_exc g_inh jump i_ext")
State = namedtuple("State", "v refr")
Params = namedtuple("Params", "k el_i e_exc e_inh v_th v_reset refr_steps")


def step(inp, st, p, dt):
    """One forward-Euler step, in Brian2's update order and arithmetic form.

    .. math::
        \\tau_m \\frac{dv}{dt} = (E_L + I) + g_e (E_e - v) + g_i (E_i - v) - v

    with conductances :math:`g_e, g_i` in units of the leak conductance. Reads inputs
    ``g_exc, g_inh`` (summed drive), ``jump`` (delta synapses, mV), ``i_ext`` (mV);
    state ``v`` (mV), ``refr`` (refractory steps left). While refractory, ``v`` is held
    and delta jumps are dropped. A spike is ``v > v_th`` after the update; then
    ``v = v_reset`` and ``refr = refr_steps``. ``k = dt / tau_m``.
    """
    refr = maximum(st.refr - 1.0, 0.0)
    active = refr <= 0.0
    v = where(active, st.v + inp.jump, st.v)
    v_new = p.k * (((p.el_i + inp.i_ext) + (inp.g_exc * (p.e_exc - v) + inp.g_inh * (p.e_inh - v))) - v) + v
    v = where(active, v_new, v)
    spike = active & (v > p.v_th)
    v = where(spike, p.v_reset, v)
    refr = where(spike, p.refr_steps, refr)
    return spike, State(v, refr)


@register
class LIFCond(NeuronType):
    """Leaky integrate-and-fire neurons with excitatory and inhibitory conductances.

    tau_m dv/dt = (E_L + I) + g_e (E_e - v) + g_i (E_i - v) - v, conductances in units of
    g_leak (dimensionless), forward Euler with Brian2's update order (update, threshold,
    deliver, reset); spike when v > v_threshold, then v = v_reset for refractory_ms.
    The COBA benchmark (Vogels & Abbott 2005) uses this form.
    """

    type_key = "neuron.lif_cond"
    drive_channels = {"exc": "g_exc", "inh": "g_inh"}
    weight_param = "weight_gl"
    state_units = {"v": "mV", "refr": "steps", "g_exc": "g_L", "g_inh": "g_L", "jump": "mV", "i_ext": "mV"}

    tau_m_ms = Num(20.0, bounds=(0, None), inclusive=(False, True), dist=True, doc="membrane time constant")
    e_leak_mv = Num(-60.0, dist=True, doc="leak reversal (resting) potential E_L")
    v_threshold_mv = Num(-50.0, dist=True, doc="spike threshold (spike when v exceeds it)")
    v_reset_mv = Num(-60.0, dist=True, doc="reset potential after a spike")
    refractory_ms = Num(5.0, bounds=(0, None), dist=True, doc="refractory period: v held at reset")
    e_exc_mv = Num(0.0, dist=True, doc="excitatory reversal potential E_e")
    e_inh_mv = Num(-80.0, dist=True, doc="inhibitory reversal potential E_i")
    i_bias_mv = Num(0.0, dist=True, doc="constant bias input I (as R*I, in mV)")
    v_init_mv = Num(-60.0, dist=True, live=False, doc="initial membrane potential (applies at reset)")

    @classmethod
    def derive(cls, v, dt, node=None, b=None):
        return dict(k=dt / v["tau_m_ms"], el_i=v["e_leak_mv"] + v["i_bias_mv"], e_exc=v["e_exc_mv"],
                    e_inh=v["e_inh_mv"], v_th=v["v_threshold_mv"], v_reset=v["v_reset_mv"],
                    refr_steps=refractory_steps(v["refractory_ms"], dt))

    @classmethod
    def init_state(cls, v, n, b, node):
        return {"v": v["v_init_mv"], "refr": 0.0}

    @classmethod
    def bias(cls, values):
        return values["i_bias_mv"]
