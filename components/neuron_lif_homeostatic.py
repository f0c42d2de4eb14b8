"""``neuron.lif_homeostatic``: current-based LIF with homeostatic intrinsic threshold adaptation."""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from engine.errors import Problem
from engine.ops import maximum, minimum, where
from engine.params import Num
from engine.registry import register

from .neuron_lif import LIF

Inputs = namedtuple("Inputs", "i_syn jump i_ext")
State = namedtuple("State", "v refr theta r")
Params = namedtuple("Params", "k e_l i_bias v_reset refr_steps decay r_gain target eta_dt theta_min theta_max")


def step(inp, st, p, dt):
    """One step of neuron.lif with the threshold theta as a per-neuron state, then homeostasis.

    The LIF part is neuron.lif's step (``v <- v + k (v_inf - v)``, ``v_inf = E_L + I_bias
    + I_syn + I_ext``, ``jump`` adds to v, all dropped while refractory) with threshold
    ``st.theta``: spike when ``v > theta``, then ``v = v_reset`` for refr_steps steps.
    Rate estimate (Hz): ``r <- decay r + spike (1 - decay) 1000/dt`` with
    ``decay = exp(-dt/tau_rate)`` (an exponential average whose mean is the firing rate).
    Threshold: ``theta <- clip(theta + dt eta (r - target), theta_min, theta_max)``
    (eta_dt = eta * dt in seconds).
    """
    refr = maximum(st.refr - 1.0, 0.0)
    active = refr <= 0.0
    v = where(active, st.v + inp.jump, st.v)
    v_inf = p.e_l + p.i_bias + inp.i_syn + inp.i_ext
    v = where(active, v + p.k * (v_inf - v), v)
    spike = active & (v > st.theta)
    v = where(spike, p.v_reset, v)
    refr = where(spike, p.refr_steps, refr)
    r = p.decay * st.r + where(spike, p.r_gain, 0.0)
    theta = minimum(maximum(st.theta + p.eta_dt * (r - p.target), p.theta_min), p.theta_max)
    return spike, State(v, refr, theta, r)


@register
class LIFHomeostatic(LIF):
    """Current-based LIF whose threshold adapts so that each neuron fires at target_hz.

    The LIF is neuron.lif (same equations and parameters; v_threshold_mv is the initial
    threshold). Homeostatic intrinsic plasticity (Desai, Rutherford & Turrigiano 1999,
    Nat. Neurosci. 2:515; as a threshold rule e.g. Zenke, Gerstner & Ganguli 2017,
    Curr. Opin. Neurobiol. 43:166): each neuron keeps a rate estimate r, an exponential
    average of its spike train with time constant tau_rate_ms (starts at target_hz), and
    moves its threshold theta += dt * eta * (r - target_hz), clipped to
    [theta_min_mv, theta_max_mv]: a neuron firing too much raises its threshold, one
    firing too little lowers it.
    """

    type_key = "neuron.lif_homeostatic"
    state_units = {**LIF.state_units, "theta": "mV", "r": "Hz"}

    v_threshold_mv = Num(-50.0, dist=True, live=False,
                         doc="initial spike threshold theta (it then adapts; applies at reset)")
    target_hz = Num(5.0, bounds=(0, None), dist=True, doc="target firing rate of each neuron")
    tau_rate_ms = Num(1000.0, bounds=(0, None), inclusive=(False, True), dist=True,
                      doc="time constant of the rate estimate r")
    eta = Num(0.1, bounds=(0, None), dist=True, unit="mV/(s·Hz)",
              doc="threshold learning rate: theta changes by eta * (r - target) mV per second")
    theta_min_mv = Num(-60.0, dist=True, doc="lower bound of the threshold")
    theta_max_mv = Num(0.0, dist=True, doc="upper bound of the threshold")

    @classmethod
    def derive(cls, v, dt, node=None, b=None):
        lif = LIF.derive(v, dt, node, b)
        tau_r = v["tau_rate_ms"]
        decay = np.exp(-dt / tau_r) if isinstance(tau_r, np.ndarray) else math.exp(-dt / tau_r)
        return dict(k=lif["k"], e_l=lif["e_l"], i_bias=lif["i_bias"], v_reset=lif["v_reset"],
                    refr_steps=lif["refr_steps"], decay=decay, r_gain=(1.0 - decay) * 1000.0 / dt,
                    target=v["target_hz"], eta_dt=v["eta"] * dt * 1e-3,
                    theta_min=v["theta_min_mv"], theta_max=v["theta_max_mv"])

    @classmethod
    def init_state(cls, v, n, b, node):
        theta = np.minimum(np.maximum(np.asarray(v["v_threshold_mv"], np.float64), v["theta_min_mv"]),
                           v["theta_max_mv"])
        return {"v": v["v_init_mv"], "refr": 0.0, "theta": theta, "r": v["target_hz"]}

    @classmethod
    def check(cls, node, graph) -> list:
        out = super().check(node, graph)
        lo, hi = node.values.get("theta_min_mv"), node.values.get("theta_max_mv")
        if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo > hi:
            out.append(Problem("error", "param.bounds", f"theta_min_mv = {lo} is above theta_max_mv = {hi}",
                               "make theta_min_mv <= theta_max_mv", node=node.id, param="theta_min_mv"))
        return out
