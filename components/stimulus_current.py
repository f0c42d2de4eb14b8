"""``stimulus.current``: injected current (constant, step, sine or noise)."""
from __future__ import annotations

import math

import numba
import numpy as np

from engine.backends.numba_backend import renderer
from engine.errors import Problem
from engine.params import Choice, Int, Num
from engine.registry import NodeType, Port, register
from engine.rng import normal, step_key

WAVEFORMS = ["constant", "step", "sine", "noise"]


@numba.njit(cache=True)
def emit(t, dt, kind, amp, off, start, stop, freq_hz, phase_rad, key, out):
    """Fill ``out`` with the current of step ``t`` (zero outside [start, stop))."""
    n = out.shape[0]
    if t < start or t >= stop:
        for i in range(n):
            out[i] = 0.0
        return
    if kind == 3:
        sk = step_key(key, t)
        for i in range(n):
            out[i] = off + amp * normal(sk, i)
        return
    if kind == 0:
        x = off + amp
    elif kind == 1:
        x = off + amp
    else:
        x = off + amp * math.sin(2.0 * math.pi * freq_hz * 1e-3 * t * dt + phase_rad)
    for i in range(n):
        out[i] = x


@register
class CurrentStimulus(NodeType):
    """Current injected into a population: constant, step, sine or Gaussian noise.

    I(t) = offset + amplitude * w(t) inside [start_ms, stop_ms), zero outside ('constant'
    ignores the window), with
    w = 1 (constant, step), sin(2 pi f t + phase) (sine) or an independent N(0, 1) draw
    per neuron and step (noise). The unit is the target's current unit: mV (R*I) for
    LIF neurons, pA for AdEx, model units for Izhikevich.
    """

    type_key = "stimulus.current"
    ports = (Port("current", "out", "current", doc="current into a population"),)
    waveform = Choice("step", WAVEFORMS, doc="shape of the current")
    amplitude = Num(1.0, unit="target current unit", doc="amplitude (step height, sine amplitude, noise std)")
    offset = Num(0.0, unit="target current unit", doc="added to the waveform inside the window")
    start_ms = Num(0.0, bounds=(0, None), doc="onset")
    stop_ms = Num(None, bounds=(0, None), allow_none=True, doc="offset time (empty: never)")
    frequency_hz = Num(10.0, bounds=(0, None), doc="sine frequency")
    phase_deg = Num(0.0, doc="sine phase")
    n = Int(0, bounds=(0, 100_000_000), doc="number of channels; 0: the size of the target population")

    @classmethod
    def size(cls, values, graph, node_id):
        if values.get("n"):
            return int(values["n"])
        ts = [e.target for e in graph.outputs(node_id, "current")]
        return graph.size(ts[0]) if ts else 0

    @classmethod
    def check(cls, node, graph):
        sizes = {graph.size(e.target) for e in graph.outputs(node.id, "current")}
        if node.values.get("n"):
            sizes.add(int(node.values["n"]))
        if len(sizes) > 1:
            return [Problem("error", "size.mismatch", f"drives populations of different sizes {sorted(sizes)}",
                            "use one current stimulus per population size", node=node.id, port="current")]
        if not graph.outputs(node.id, "current"):
            return [Problem("warning", "port.unconnected", "current stimulus drives nothing",
                            "wire its current output to a population", node=node.id, port="current")]
        return []

    @classmethod
    def build(cls, node, b) -> None:
        n = max(b.graph.size(node.id), 1)
        b.buffer(node.id, "I", np.zeros(n, b.dtype), "scratch")

        def derive(nd):
            v = nd.values
            stop = v["stop_ms"]
            const = v["waveform"] == "constant"
            return {"kind": np.int64(WAVEFORMS.index(v["waveform"])), "amp": float(v["amplitude"]),
                    "off": float(v["offset"]), "start": np.int64(0 if const else math.ceil(float(v["start_ms"]) / b.dt - 1e-9)),
                    "stop": np.int64(2**62 if (stop is None or const) else math.ceil(float(stop) / b.dt - 1e-9)),
                    "freq": float(v["frequency_hz"]), "phase": math.radians(float(v["phase_deg"])),
                    "key": b.key(nd.id, "noise")}

        b.set_params(node, derive)
        b.step("stimulus", node.id, "current.emit", sets=[f"{node.id}.I"])


@renderer("current.emit")
def _render(step, ctx):
    nid = step.node
    f = ctx.use(f"{__name__}:emit")
    P = lambda k: ctx.p(nid, k)  # noqa: E731
    return [f"{f}(t, dt, {P('kind')}, {P('amp')}, {P('off')}, {P('start')}, {P('stop')}, {P('freq')}, "
            f"{P('phase')}, {P('key')}, {ctx.b(nid + '.I')})"]
