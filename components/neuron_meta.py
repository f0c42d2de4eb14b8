"""``neuron.meta``: the probabilistic meta neuron (placeholder of MODELS.md B; experimental)."""
from __future__ import annotations

from collections import namedtuple

from engine.errors import Problem
from engine.ops import exp, maximum, minimum, where
from engine.params import Num
from engine.registry import register

from .base import NeuronType, refractory_steps

Inputs = namedtuple("Inputs", "i_syn jump i_ext")
State = namedtuple("State", "v refr")
#: ``key`` is the 64-bit key of the node's spike stream (read by the renderer, not by ``step``)
Params = namedtuple("Params", "k v_rest theta beta v_reset i_bias refr_steps key")


def step(inp, st, p, dt, u):
    """One step of the probabilistic meta neuron (forward Euler, dt in ms).

    ``v <- v + (dt/tau_m)(V_rest - v) + dt (I_syn + I_ext + I_bias) + jump``: currents are
    in units of v per ms, ``jump`` (delta synapses, sum_j w_j s_j) adds directly; at
    dt = 1 ms this is the discrete model of MODELS.md B. Then the spike probability
    ``p_spike = sigmoid((v - theta) / beta)`` and ``spike = u < p_spike``, where ``u`` is
    one uniform draw in [0, 1) per neuron and step (so spike ~ Bernoulli(p_spike)); on a
    spike ``v = V_reset`` and the neuron is refractory for refr_steps steps (v held,
    inputs dropped, no spikes). Surrogate gradient for training: d spike / d v =
    p_spike (1 - p_spike) / beta.
    """
    refr = maximum(st.refr - 1.0, 0.0)
    active = refr <= 0.0
    v = st.v + p.k * (p.v_rest - st.v) + dt * (inp.i_syn + inp.i_ext + p.i_bias) + inp.jump
    v = where(active, v, st.v)
    x = minimum(maximum((v - p.theta) / p.beta, -700.0), 700.0)
    prob = 1.0 / (1.0 + exp(-x))
    spike = active & (u < prob)
    v = where(spike, p.v_reset, v)
    refr = where(spike, p.refr_steps, refr)
    return spike, State(v, refr)


@register
class MetaNeuron(NeuronType):
    """Probabilistic meta neuron: a leaky V with a sigmoidal spike probability (experimental).

    experimental: equations not confirmed against the paper (Rudnicka, Szczepanski &
    Pregowska, arXiv 2508.11674; placeholder of MODELS.md B):
    V[t+1] = V + (dt/tau_m)(V_rest - V) + inputs; p = sigmoid((V - theta)/beta);
    spike ~ Bernoulli(p); on a spike V = V_reset (then refractory_ms without spikes).
    Time in ms: delta synapses (sum_j w_j s_j) jump V by w; currents (exponential
    synapse traces, injected current, i_bias) are in units of V per ms and add dt * I per
    step, so at dt = 1 ms this is exactly the discrete model above. The Bernoulli draw uses the counter-based generator
    keyed by (seed, node id, step, neuron), so spikes do not depend on chunking.
    Intrinsic parameters a (future) torch backend trains: ``learnable`` = tau_m_ms,
    theta, v_reset, beta (surrogate gradient d spike/dV = p (1 - p) / beta).
    """

    type_key = "neuron.meta"
    experimental = True
    #: intrinsic parameters that a gradient-based (torch) backend may train
    learnable = ("tau_m_ms", "theta", "v_reset", "beta")
    drive_channels = {"exc": "i_syn", "inh": "i_syn"}
    weight_param = "weight"
    state_units = {"v": "a.u.", "refr": "steps", "i_syn": "a.u./ms", "jump": "a.u.", "i_ext": "a.u./ms"}

    tau_m_ms = Num(20.0, bounds=(0, None), inclusive=(False, True), dist=True,
                   doc="membrane time constant (leak factor dt/tau_m per step; keep tau_m >= dt)")
    v_rest = Num(0.0, dist=True, unit="a.u.", doc="resting value V_rest that V relaxes to")
    theta = Num(1.0, dist=True, unit="a.u.", doc="soft threshold: spike probability 1/2 at V = theta")
    beta = Num(0.2, bounds=(0, None), inclusive=(False, True), dist=True, unit="a.u.",
               doc="sigmoid width: p = sigmoid((V - theta)/beta); small beta approaches a hard threshold")
    v_reset = Num(0.0, dist=True, unit="a.u.", doc="V after a spike")
    refractory_ms = Num(0.0, bounds=(0, None), dist=True, doc="refractory period after a spike: V held, no spikes")
    i_bias = Num(0.0, dist=True, unit="a.u./ms", doc="constant input current (adds dt * i_bias to V per step)")
    v_init = Num(0.0, dist=True, live=False, unit="a.u.", doc="initial V (applies at reset)")

    @classmethod
    def derive(cls, v, dt, node=None, b=None):
        return dict(k=dt / v["tau_m_ms"], v_rest=v["v_rest"], theta=v["theta"], beta=v["beta"],
                    v_reset=v["v_reset"], i_bias=v["i_bias"], refr_steps=refractory_steps(v["refractory_ms"], dt),
                    key=b.key(node.id, "spikes"))

    @classmethod
    def init_state(cls, v, n, b, node):
        return {"v": v["v_init"], "refr": 0.0}

    @classmethod
    def bias(cls, values):
        return values["i_bias"]

    @classmethod
    def has_input(cls, node, graph) -> bool:
        return True  # spikes are random even without input

    @classmethod
    def check(cls, node, graph) -> list:
        out = super().check(node, graph)
        tau = node.values.get("tau_m_ms")
        if isinstance(tau, (int, float)) and tau < graph.dt_ms:
            out.append(Problem("warning", "param.stability", f"tau_m_ms = {tau} is below dt = {graph.dt_ms} ms: "
                               "the forward-Euler leak overshoots V_rest", "use tau_m_ms >= dt",
                               node=node.id, param="tau_m_ms"))
        return out

    @classmethod
    def build(cls, node, b) -> None:
        """NeuronType's build; the update also gets one uniform draw per neuron and step."""
        super().build(node, b)
        s = next(s for s in b.steps if s.node == node.id and s.kind == "neuron.update")
        s.attrs["uniform"] = True
