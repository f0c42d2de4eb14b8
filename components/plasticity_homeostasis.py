"""``plasticity.scaling``: homeostatic synaptic scaling toward a target firing rate."""
from __future__ import annotations

import math

import numba
import numpy as np

from engine.backends.numba_backend import renderer
from engine.params import Num
from engine.registry import register

from .plasticity_base import PlasticityRule, spike_args


@numba.njit(cache=True, nogil=True)
def scaling_step(t, post_spk, ns_post, post, w, r, decay, jump, every, gain, target, w_min, w_max):
    """Rate estimate r (Hz) per postsynaptic neuron; every ``every`` steps all incoming
    weights of neuron i are multiplied by 1 + gain (target - r_i) / target, then clipped."""
    for i in range(r.shape[0]):
        r[i] *= decay
    for k in range(ns_post):
        r[post_spk[k]] += jump
    if (t + 1) % every != 0:
        return
    for q in range(w.shape[0]):
        v = w[q] * (1.0 + gain * (target - r[post[q]]) / target)
        w[q] = min(max(v, w_min), w_max)


@register
class SynapticScaling(PlasticityRule):
    """Multiplicative synaptic scaling (Turrigiano 1998; van Rossum et al. 2000).

    Each postsynaptic neuron keeps a rate estimate r (exponential average with
    tau_rate_ms, in Hz). Every every_ms all its incoming weights of the trained projection
    are multiplied by 1 + rate_per_s * every_ms/1000 * (target_hz - r)/target_hz, so
    relative weights (what STDP learned) are kept while the total drive moves the rate
    toward target_hz. Weights stay within [w_min, w_max].
    """

    type_key = "plasticity.scaling"
    target_hz = Num(5.0, bounds=(0, None), inclusive=(False, True), doc="target firing rate of each neuron")
    tau_rate_ms = Num(1000.0, bounds=(0, None), inclusive=(False, True), doc="time constant of the rate estimate")
    rate_per_s = Num(0.5, bounds=(0, None), doc="scaling speed: relative weight change per second per unit "
                     "of relative rate error")
    every_ms = Num(10.0, bounds=(0, None), inclusive=(False, True), live=False, doc="interval between scalings")
    w_max = Num(10.0, doc="upper weight bound, in the projection's weight units")

    @classmethod
    def build(cls, node, b) -> None:
        s = cls.setup(node, b)
        rid = node.id
        b.buffer(rid, "r", np.zeros(max(s["n_post"], 1), b.dtype))
        every = max(1, int(round(float(node.values["every_ms"]) / b.dt)))

        def derive(nd):
            v = nd.values
            tau = float(v["tau_rate_ms"])
            return {"decay": math.exp(-b.dt / tau), "jump": 1000.0 / tau, "every": np.int64(every),
                    "gain": float(v["rate_per_s"]) * every * b.dt / 1000.0, "target": float(v["target_hz"]),
                    "wmin": float(v["w_min"]), "wmax": float(v["w_max"])}

        b.set_params(node, derive)
        b.step("plasticity", rid, "plasticity.scaling", reads=[f"{s['post']}.spk"],
               updates=[f"{s['pid']}.w", f"{rid}.r"], projection=s["pid"], post=s["post"])

    views = ({"kind": "trace", "name": "mean_rate_hz", "title": "scaling: mean rate estimate", "y_label": "Hz"},)

    @classmethod
    def stream(cls, node, sim, chunk) -> dict:
        if chunk.t_end_ms <= chunk.t_start_ms:
            return {}
        r = sim.plan.buffers[f"{node.id}.r"]
        return {"mean_rate_hz": {"t_ms": np.array([chunk.t_end_ms]), "y": np.array([float(r.mean())])}}


@renderer("plasticity.scaling")
def _render(step, ctx):
    a = step.attrs
    rid, pid = step.node, a["projection"]
    f = ctx.use(f"{__name__}:scaling_step")
    qspk, qns, _, _ = spike_args(ctx, a["post"])
    P = lambda k: ctx.p(rid, k)  # noqa: E731
    return [f"{f}(t, {qspk}, {qns}, {ctx.b(pid + '.post')}, {ctx.b(pid + '.w')}, {ctx.b(rid + '.r')}, "
            f"{P('decay')}, {P('jump')}, {P('every')}, {P('gain')}, {P('target')}, {P('wmin')}, {P('wmax')})"]
