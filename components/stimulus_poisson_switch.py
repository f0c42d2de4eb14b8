"""``stimulus.poisson_switch``: Poisson sources whose rate switches to a new value at a given time."""
from __future__ import annotations

import math

import numpy as np

from engine.backends.numba_backend import renderer
from engine.params import Num
from engine.registry import register

from .stimulus_poisson import PoissonStimulus


@register
class PoissonSwitchStimulus(PoissonStimulus):
    """Independent Poisson spike trains at rate_hz until switch_ms, at rate_after_hz from then on.

    A step change of the input statistics at a set time (e.g. to perturb a network and
    watch homeostasis restore its rate). Before switch_ms the trains are exactly those of
    a stimulus.poisson with the same id, rate and seed: each source emits a
    Poisson(rate * dt) number of spikes per step ('bernoulli': at most one), from the same
    draws keyed by (seed, node id, step, source); from the first step at or after
    switch_ms the same draws are inverted at rate_after_hz.
    """

    type_key = "stimulus.poisson_switch"
    emit_kind = "poisson_switch.emit"
    rate_hz = Num(10.0, bounds=(0, None), dist=True, doc="firing rate of each source before switch_ms")
    rate_after_hz = Num(20.0, bounds=(0, None), dist=True, doc="firing rate of each source from switch_ms on")
    switch_ms = Num(1000.0, bounds=(0, None), doc="time at which the rate switches")

    @classmethod
    def kernel_params(cls, nd, b, n) -> dict:
        p = super().kernel_params(nd, b, n)
        lam2 = np.atleast_1d(np.asarray(b.value(nd, "rate_after_hz", n), np.float64) * b.dt * 1e-3).copy()
        p.update(lam2=lam2, enl2=np.exp(-lam2),
                 switch=np.int64(math.ceil(float(nd.values["switch_ms"]) / b.dt - 1e-9)))
        return p


@renderer("poisson_switch.emit")
def _render(step, ctx):
    nid = step.node
    f = ctx.use("components.stimulus_poisson:emit")
    P = lambda k: ctx.p(nid, k)  # noqa: E731
    before = f"t < {P('switch')}"
    return [f"{ctx.ns(nid)} = {f}(t, {P('key')}, ({P('lam')} if {before} else {P('lam2')}), "
            f"({P('enl')} if {before} else {P('enl2')}), {P('start')}, {P('stop')}, {P('bern')}, "
            f"{ctx.b(nid + '.spk')}, {ctx.b(nid + '.cnt')})"]
