"""``neuron.amsu``: Astrocyte-Modulated Spiking Unit (placeholder of MODELS.md C; experimental)."""
from __future__ import annotations

from collections import namedtuple

from engine.ops import where
from engine.params import Choice, Num
from engine.registry import register

from .base import NeuronType

Inputs = namedtuple("Inputs", "i_syn jump i_ext")
State = namedtuple("State", "v a s")
Params = namedtuple("Params", "alpha_a alpha_dt beta_dt g_a theta mult i_bias")


def step(inp, st, p, dt):
    """One step of the AM-SU placeholder (dt in ms); ``st.s`` is the previous step's spike.

    The membrane u of MODELS.md C is the state ``v`` here (the name every neuron shares).
    ``alpha_dt = alpha_a**dt`` and ``beta_dt = beta**dt`` (alpha_a, beta are per-ms factors).

    ``a <- alpha_dt a + (1 - alpha_a) s_prev`` (slow astrocyte trace; each spike adds
    1 - alpha_a), with the input ``I = dt (I_syn + I_ext + I_bias) + jump`` (W x[t]):
    additive ``u <- beta_dt u (1 - s_prev) + I + dt g_a a`` or multiplicative
    ``u <- beta_dt u (1 - s_prev) + (1 + g_a a) I``; ``spike = u >= theta`` (Heaviside,
    H(0) = 1) and ``s = spike``. The factor ``1 - s_prev`` resets u to 0 after a spike.
    At dt = 1 ms these are exactly the equations of MODELS.md C.
    """
    a = p.alpha_dt * st.a + (1.0 - p.alpha_a) * st.s
    drive = dt * (inp.i_syn + inp.i_ext + p.i_bias) + inp.jump
    mod = p.g_a * a
    u = p.beta_dt * st.v * (1.0 - st.s) + where(p.mult > 0.5, (1.0 + mod) * drive, drive + dt * mod)
    spike = u >= p.theta
    s = where(spike, 1.0, 0.0)
    return spike, State(u, a, s)


@register
class AMSU(NeuronType):
    """Astrocyte-Modulated Spiking Unit: LIF u with a slow astrocyte trace a per neuron (experimental).

    experimental: equations not confirmed against the paper (Shen et al., AstroSNN,
    arXiv 2312.07625; placeholder of MODELS.md C, a textbook form, not the paper's model):
    a[t] = alpha_a a[t-1] + (1 - alpha_a) s[t-1];
    u[t] = beta u[t-1] (1 - s[t-1]) + W x[t] + g_a a[t]   (modulation 'additive') or
    u[t] = beta u[t-1] (1 - s[t-1]) + (1 + g_a a[t]) W x[t]   ('multiplicative');
    s[t] = H(u[t] - theta). These are the equations at dt = 1 ms; at another dt the
    decays are alpha_a**dt and beta**dt per step (alpha_a, beta are per-ms factors, e.g.
    beta = exp(-1 ms/tau)), currents (synaptic traces, injected current, i_bias, and the
    additive g_a a) add dt * I per step and delta synapses jump u by w, so time constants
    and per-spike effects do not depend on dt.
    Negative g_a makes the astrocyte trace an activity-dependent inhibition (adaptation).
    The membrane u is the state variable ``v`` (as in every neuron type).
    """

    type_key = "neuron.amsu"
    experimental = True
    #: parameters that a gradient-based backend may train (besides W), as in MODELS.md C
    learnable = ("alpha_a", "g_a", "beta", "theta")
    drive_channels = {"exc": "i_syn", "inh": "i_syn"}
    weight_param = "weight"
    state_units = {"v": "a.u.", "a": "a.u.", "s": "spike (0/1)", "i_syn": "a.u./ms", "jump": "a.u.",
                   "i_ext": "a.u./ms"}

    alpha_a = Num(0.95, bounds=(0, 1), dist=True, doc="decay of the astrocyte trace a per ms (slow: 0.9-0.99)")
    beta = Num(0.9, bounds=(0, 1), dist=True, doc="decay of the membrane u per ms")
    g_a = Num(0.5, dist=True, doc="astrocyte gain: additive term g_a a, or input factor (1 + g_a a)")
    theta = Num(1.0, dist=True, unit="a.u.", doc="spike threshold: spike when u >= theta")
    modulation = Choice("additive", ["additive", "multiplicative"], live=True,
                        doc="how the astrocyte trace acts: added to u, or scaling the input")
    i_bias = Num(0.0, dist=True, unit="a.u./ms", doc="constant input current (adds dt * i_bias to W x per step)")
    v_init = Num(0.0, dist=True, live=False, unit="a.u.", doc="initial membrane u (state v; applies at reset)")
    a_init = Num(0.0, dist=True, live=False, unit="a.u.", doc="initial astrocyte trace a (applies at reset)")

    @classmethod
    def derive(cls, v, dt, node=None, b=None):
        return dict(alpha_a=v["alpha_a"], alpha_dt=v["alpha_a"] ** dt, beta_dt=v["beta"] ** dt,
                    g_a=v["g_a"], theta=v["theta"],
                    mult=1.0 if v["modulation"] == "multiplicative" else 0.0, i_bias=v["i_bias"])

    @classmethod
    def init_state(cls, v, n, b, node):
        return {"v": v["v_init"], "a": v["a_init"], "s": 0.0}

    @classmethod
    def bias(cls, values):
        return values["i_bias"]
