"""``neuron.izhikevich``: the Izhikevich (2003) simple model, heterogeneous by preset."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from engine import rng
from engine.ops import where
from engine.params import Choice, Num
from engine.registry import register

from .base import NeuronType

Inputs = namedtuple("Inputs", "i_syn jump i_ext")
State = namedtuple("State", "v u")
Params = namedtuple("Params", "a b c d i_bias v_peak")


def step(inp, st, p, dt):
    """Forward Euler of the Izhikevich (2003) model (time in ms, v in mV).

    .. math::
        dv/dt = 0.04 v^2 + 5 v + 140 - u + I,\\qquad du/dt = a (b v - u)

    with I = i_bias + i_syn + i_ext (model units); ``jump`` adds to v (delta synapses).
    Spike when v >= v_peak, then v = c and u = u + d. Keep dt <= 0.5 ms.
    """
    v = st.v + inp.jump
    I = p.i_bias + inp.i_syn + inp.i_ext
    v_new = v + dt * (0.04 * v * v + 5.0 * v + 140.0 - st.u + I)
    u_new = st.u + dt * p.a * (p.b * v - st.u)
    spike = v_new >= p.v_peak
    v_new = where(spike, p.c, v_new)
    u_new = where(spike, u_new + p.d, u_new)
    return spike, State(v_new, u_new)


@register
class Izhikevich(NeuronType):
    """Izhikevich (2003) neurons; presets give the paper's heterogeneous E/I populations.

    dv/dt = 0.04 v^2 + 5 v + 140 - u + I, du/dt = a (b v - u); v >= v_peak: v = c, u += d.
    Preset 'excitatory_2003': a = 0.02, b = 0.2, c = -65 + 15 r^2, d = 8 - 6 r^2;
    'inhibitory_2003': a = 0.02 + 0.08 r, b = 0.25 - 0.05 r, c = -65, d = 2, with one
    r ~ U(0, 1) per neuron; 'custom' uses a, b, c, d (each may be a distribution).
    """

    type_key = "neuron.izhikevich"
    drive_channels = {"exc": "i_syn", "inh": "i_syn"}
    weight_param = "weight"
    state_units = {"v": "mV", "u": "model units", "i_syn": "model units", "jump": "mV", "i_ext": "model units"}

    preset = Choice("custom", ["custom", "excitatory_2003", "inhibitory_2003"], live=True,
                    doc="parameter preset (the 2003 presets draw a, b, c, d per neuron)")
    a = Num(0.02, dist=True, unit="1/ms", doc="recovery time scale (custom preset)")
    b = Num(0.2, dist=True, doc="sensitivity of u to v (custom preset)")
    c = Num(-65.0, dist=True, unit="mV", doc="reset of v (custom preset)")
    d = Num(8.0, dist=True, doc="increment of u at a spike (custom preset)")
    i_bias = Num(0.0, dist=True, unit="model units", doc="constant input current")
    v_peak_mv = Num(30.0, doc="spike cut-off")
    v_init_mv = Num(-65.0, dist=True, live=False, doc="initial v; u starts at b * v (applies at reset)")

    @classmethod
    def _abcd(cls, v, n, b, node):
        preset = node.values["preset"]
        if preset == "custom":
            return v["a"], v["b"], v["c"], v["d"]
        r = rng.uniform_np(rng.node_key(b.seed, node.id, "param:r"), 0, np.arange(n))
        if preset == "excitatory_2003":
            return np.full(n, 0.02), np.full(n, 0.2), -65.0 + 15.0 * r**2, 8.0 - 6.0 * r**2
        return 0.02 + 0.08 * r, 0.25 - 0.05 * r, np.full(n, -65.0), np.full(n, 2.0)

    @classmethod
    def derive(cls, v, dt, node=None, b=None):
        a, bb, c, d = cls._abcd(v, b.graph.size(node.id), b, node)
        return dict(a=a, b=bb, c=c, d=d, i_bias=v["i_bias"], v_peak=v["v_peak_mv"])

    @classmethod
    def bias(cls, values):
        return values["i_bias"]

    @classmethod
    def init_state(cls, v, n, b, node):
        a, bb, c, d = cls._abcd(v, n, b, node)
        v0 = np.broadcast_to(np.asarray(v["v_init_mv"], np.float64), (n,))
        return {"v": v0, "u": np.asarray(bb) * v0}
