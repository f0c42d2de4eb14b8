"""``neuron.adex``: adaptive exponential integrate-and-fire with conductance synapses."""
from __future__ import annotations

from collections import namedtuple

from engine.ops import exp, maximum, minimum, where
from engine.params import Num
from engine.registry import register

from .base import NeuronType, refractory_steps

Inputs = namedtuple("Inputs", "g_exc g_inh jump i_ext")
State = namedtuple("State", "v w refr")
Params = namedtuple("Params", "c g_l e_l v_t delta_t tau_w a b v_reset v_peak e_exc e_inh i_bias refr_steps")


def step(inp, st, p, dt):
    """Forward Euler of AdEx (Brette & Gerstner 2005) with conductances in units of g_L.

    .. math::
        C dv/dt = -g_L (v - E_L) + g_L \\Delta_T e^{(v - V_T)/\\Delta_T}
                  + g_L g_e (E_e - v) + g_L g_i (E_i - v) - w + I

        \\tau_w dw/dt = a (v - E_L) - w

    C in pF, g_L and a in nS, v in mV, w and I in pA. The exponent is capped at 20 to
    keep the upswing finite within a step. Spike when v > v_peak: v = v_reset, w += b.
    """
    refr = maximum(st.refr - 1.0, 0.0)
    active = refr <= 0.0
    v = where(active, st.v + inp.jump, st.v)
    ex = p.g_l * p.delta_t * exp(minimum((v - p.v_t) / p.delta_t, 20.0))
    i_syn = p.g_l * (inp.g_exc * (p.e_exc - v) + inp.g_inh * (p.e_inh - v))
    dv = (-p.g_l * (v - p.e_l) + ex + i_syn - st.w + p.i_bias + inp.i_ext) / p.c
    w = st.w + dt * (p.a * (v - p.e_l) - st.w) / p.tau_w
    v = where(active, v + dt * dv, v)
    spike = active & (v > p.v_peak)
    v = where(spike, p.v_reset, v)
    w = where(spike, w + p.b, w)
    refr = where(spike, p.refr_steps, refr)
    return spike, State(v, w, refr)


@register
class AdEx(NeuronType):
    """Adaptive exponential integrate-and-fire neurons (Brette & Gerstner 2005).

    C dv/dt = -g_L (v - E_L) + g_L Delta_T exp((v - V_T)/Delta_T) + g_L g_e (E_e - v)
    + g_L g_i (E_i - v) - w + I; tau_w dw/dt = a (v - E_L) - w; spike at v > v_peak:
    v = v_reset, w += b. Defaults are the paper's regular-spiking cell.
    """

    type_key = "neuron.adex"
    drive_channels = {"exc": "g_exc", "inh": "g_inh"}
    weight_param = "weight_gl"
    state_units = {"v": "mV", "w": "pA", "refr": "steps", "g_exc": "g_L", "g_inh": "g_L", "jump": "mV",
                   "i_ext": "pA"}

    c_pf = Num(281.0, bounds=(0, None), inclusive=(False, True), dist=True, doc="membrane capacitance C")
    g_leak_ns = Num(30.0, bounds=(0, None), inclusive=(False, True), dist=True, doc="leak conductance g_L")
    e_leak_mv = Num(-70.6, dist=True, doc="leak reversal potential E_L")
    v_t_mv = Num(-50.4, dist=True, doc="threshold slope factor position V_T")
    delta_t_mv = Num(2.0, bounds=(0, None), inclusive=(False, True), dist=True, doc="slope factor Delta_T")
    tau_w_ms = Num(144.0, bounds=(0, None), inclusive=(False, True), dist=True, doc="adaptation time constant")
    a_ns = Num(4.0, dist=True, doc="subthreshold adaptation a")
    b_pa = Num(80.5, dist=True, doc="spike-triggered adaptation b")
    v_reset_mv = Num(-70.6, dist=True, doc="reset potential")
    v_peak_mv = Num(0.0, dist=True, doc="spike detection threshold")
    e_exc_mv = Num(0.0, dist=True, doc="excitatory reversal potential")
    e_inh_mv = Num(-80.0, dist=True, doc="inhibitory reversal potential")
    i_bias_pa = Num(0.0, dist=True, doc="constant input current")
    refractory_ms = Num(0.0, bounds=(0, None), dist=True, doc="refractory period")
    v_init_mv = Num(-70.6, dist=True, live=False, doc="initial v (w starts at 0; applies at reset)")

    @classmethod
    def derive(cls, v, dt, node=None, b=None):
        return dict(c=v["c_pf"], g_l=v["g_leak_ns"], e_l=v["e_leak_mv"], v_t=v["v_t_mv"], delta_t=v["delta_t_mv"],
                    tau_w=v["tau_w_ms"], a=v["a_ns"], b=v["b_pa"], v_reset=v["v_reset_mv"], v_peak=v["v_peak_mv"],
                    e_exc=v["e_exc_mv"], e_inh=v["e_inh_mv"], i_bias=v["i_bias_pa"],
                    refr_steps=refractory_steps(v["refractory_ms"], dt))

    @classmethod
    def init_state(cls, v, n, b, node):
        return {"v": v["v_init_mv"], "w": 0.0, "refr": 0.0}

    @classmethod
    def bias(cls, values):
        return values["i_bias_pa"]
