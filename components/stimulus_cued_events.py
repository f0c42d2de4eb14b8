"""``stimulus.cued_events``: a cue, then events at fixed delays with given probabilities (trials)."""
from __future__ import annotations

import math
import re

import numba
import numpy as np

from engine import rng
from engine.backends.numba_backend import renderer
from engine.errors import Problem
from engine.params import Choice, Int, Num, Text
from engine.registry import NodeType, Port, register
from engine.rng import step_key, uniform

from .stimulus_poisson import draw

_NUM = r"\d+(\.\d*)?([eE][+-]?\d+)?"
LIST_PATTERN = rf"\s*{_NUM}(\s*,\s*{_NUM})*\s*"
OPT_LIST_PATTERN = rf"(\s*|{LIST_PATTERN})"
NEVER = 2**62


def parse_list(text: str) -> list[float]:
    """``"200, 500"`` -> [200.0, 500.0]; an empty text gives []."""
    return [float(x) for x in re.split(r"\s*,\s*", text.strip())] if text.strip() else []


def n_events(values: dict) -> int:
    """Number of event types K (0 when ``delays_ms`` does not parse: validation reports it)."""
    try:
        return len(parse_list(values["delays_ms"]))
    except ValueError:
        return 0


def timing(values: dict, dt: float) -> dict:
    """The trial structure in steps: period, cue, the event delays and probabilities of the two
    phases (row 0 before the change, row 1 from the change on), event length, lead, gate window
    and the first trial of phase 1 (``NEVER`` without a change)."""
    st = lambda ms: int(round(float(ms) / dt))  # noqa: E731
    d0, p0 = parse_list(values["delays_ms"]), parse_list(values["probabilities"])
    d1 = parse_list(values["delays_after_ms"]) or d0
    p1 = parse_list(values["probabilities_after"]) or p0
    period = max(1, st(values["trial_ms"]))
    ch = values["change_ms"]
    attend = values["attend_ms"]
    return {"period_steps": period, "cue_steps": st(values["cue_ms"]),
            "delay_steps": np.array([[st(x) for x in d0], [st(x) for x in d1]], np.int64).reshape(2, len(d0)),
            "prob": np.array([p0, p1], np.float64).reshape(2, len(d0)),
            "event_steps": max(1, st(values["event_ms"])), "lead_steps": st(values["lead_ms"]),
            "attend_steps": period if attend is None else st(attend),
            "change_trial": NEVER if ch is None else int(math.ceil(float(ch) / dt / period - 1e-9))}


def occurrences(tm: dict, seed: int, node_id: str, n_trials: int) -> np.ndarray:
    """Which events occur in trials 0..n_trials-1: bool (n_trials, K), the kernel's own draws
    (event k of trial m occurs when u(seed, node, 'occur', m, k) < p_k of the trial's phase).
    ``tm`` is :func:`timing` (published as ``node_info[node_id]["trials"]``)."""
    key = rng.node_key(seed, node_id, "occur")
    K = tm["prob"].shape[1]
    u = np.array([rng.uniform_np(key, m, np.arange(K)) for m in range(n_trials)]).reshape(n_trials, K)
    phase = (np.arange(n_trials) >= tm["change_trial"]).astype(np.int64)
    return u < tm["prob"][phase]


@numba.njit(cache=True)
def emit(t, key, okey, period, n_cue, n_per, cue_steps, cue_lam, cue_k, micro, mu, inv2s2, delay, ev_steps,
         ev_lam, prob, change_trial, lead, attend, bern, spk, cnt, target, gate):
    """Spikes, targets and gate of step ``t`` (see :class:`CuedEvents`); returns the spike count."""
    trial = t // period
    off = t - trial * period
    ph = 1 if trial >= change_trial else 0
    gate[0] = 1.0 if off < attend else 0.0
    sk = step_key(key, t)
    ok = step_key(okey, trial)
    ns = 0
    if off < cue_steps:
        for i in range(n_cue):
            y = math.exp(-(cue_k[i] if cue_k.shape[0] > 1 else cue_k[0]) * off)  # the cue's trace
            lam = cue_lam * (math.exp(-(y - mu[i]) * (y - mu[i]) * inv2s2) if micro else y)
            c = draw(sk, i, lam, math.exp(-lam), bern)
            if c > 0:
                spk[ns] = i
                cnt[ns] = c
                ns += 1
    enl_ev = math.exp(-ev_lam)
    for k in range(delay.shape[1]):
        occ = uniform(ok, k) < prob[ph, k]
        d = delay[ph, k]
        target[k] = 1.0 if occ and d <= off + lead and off + lead < d + ev_steps else 0.0
        if occ and d <= off and off < d + ev_steps:
            base = n_cue + k * n_per
            for i in range(n_per):
                c = draw(sk, base + i, ev_lam, enl_ev, bern)
                if c > 0:
                    spk[ns] = base + i
                    cnt[ns] = c
                    ns += 1
    return ns


@register
class CuedEvents(NodeType):
    """Trials of a cue followed by K events at fixed delays, each occurring with its probability.

    Every trial_ms a trial starts with the cue, whose n_cue Poisson sources fire for cue_ms
    after it. They follow the cue's trace y = exp(-(t - t_cue)/cue_tau_ms) (y = 1 when
    cue_tau_ms = 0): with cue_profile 'trace' source i fires at cue_rate_hz y (a distribution
    of cue_tau_ms gives each source its own time constant); with 'microstimuli' at
    cue_rate_hz exp(-(y - mu_i)^2 / (2 cue_width^2)), mu_i = (i + 0.5)/n_cue: Gaussian tuning
    to the trace height (the microstimuli of Ludvig, Sutton & Kehoe 2008, without their
    amplitude factor y, so every one peaks at cue_rate_hz), bumps that tile the time after
    the cue, later ones wider. Event k (n_per_event sources) fires at event_rate_hz for
    event_ms from delays_ms[k] after the cue, in a trial with probability probabilities[k],
    drawn independently per trial and event from the counter-based generator (keyed by
    seed, node id, trial and event), so occurrences do not depend on chunking. From the
    first trial starting at or after change_ms the delays and probabilities are
    delays_after_ms and probabilities_after (empty: unchanged).

    The 'target' output holds one value per event: target_k(t) = 1 while event k of the
    current trial (if it occurs) is on at t + lead_ms, else 0 (lead_ms > 0 asks for a
    prediction ahead of the event). The 'gate' output is 1 for the first attend_ms of
    each trial (empty: the whole trial), else 0: an attention gate for learning rules.
    """

    type_key = "stimulus.cued_events"
    spiking = True
    target_ports = ("target",)
    ports = (Port("spikes", "out", "spikes", doc="spikes of the cue (sources 0..n_cue - 1), then of each event k "
                  "(sources n_cue + k n_per_event .. n_cue + (k + 1) n_per_event - 1)"),
             Port("target", "out", "signal", doc="one value per event: 1 while the event (shifted earlier by "
                  "lead_ms) is on in this trial, else 0; wire to a three-factor rule's modulator"),
             Port("gate", "out", "signal", doc="attention gate: 1 during the first attend_ms of each trial, else 0"))
    n_cue = Int(20, bounds=(1, 1_000_000), doc="Poisson sources of the cue")
    n_per_event = Int(20, bounds=(1, 1_000_000), doc="Poisson sources of each event")
    trial_ms = Num(1000.0, bounds=(0, None), inclusive=(False, True), live=False, doc="trial period (cue to cue)")
    cue_ms = Num(50.0, bounds=(0, None), live=False, doc="how long the cue sources fire after each trial start")
    cue_rate_hz = Num(100.0, bounds=(0, None), doc="rate of the cue sources at the cue")
    cue_tau_ms = Num(0.0, bounds=(0, None), dist=True, live=False,
                     doc="time constant of the cue's trace y (0: y = 1, a constant cue for cue_ms)")
    cue_profile = Choice("trace", ["trace", "microstimuli"], live=False,
                         doc="trace: each cue source fires at cue_rate_hz y; microstimuli: at cue_rate_hz "
                         "exp(-(y - mu_i)^2 / (2 cue_width^2)), Gaussian tuning to the trace height")
    cue_width = Num(0.05, bounds=(0, None), inclusive=(False, True), live=False,
                    doc="microstimuli: tuning width in units of the trace height (0..1)")
    delays_ms = Text("200, 500", pattern=LIST_PATTERN, pattern_hint="write delays separated by commas, e.g. "
                     "'200, 500'", doc="onset of each event after the cue")
    probabilities = Text("0.8, 0.3", pattern=LIST_PATTERN, pattern_hint="write one probability per event, "
                         "e.g. '0.8, 0.3'", doc="probability that each event occurs in a trial")
    event_ms = Num(50.0, bounds=(0, None), inclusive=(False, True), live=False, doc="duration of each event")
    event_rate_hz = Num(100.0, bounds=(0, None), doc="rate of an event's sources while it is on")
    lead_ms = Num(0.0, bounds=(0, None), live=False,
                  doc="the target of each event is the event shifted this much earlier (a prediction horizon)")
    attend_ms = Num(None, bounds=(0, None), allow_none=True, live=False,
                    doc="the gate is open for this long after each cue (empty: the whole trial)")
    change_ms = Num(None, bounds=(0, None), allow_none=True, live=False,
                    doc="from the first trial starting at or after this time the '_after' values apply "
                    "(empty: never)")
    delays_after_ms = Text("", pattern=OPT_LIST_PATTERN, pattern_hint="write delays separated by commas, or "
                           "leave empty", doc="delays from change_ms on (empty: unchanged)")
    probabilities_after = Text("", pattern=OPT_LIST_PATTERN, pattern_hint="write probabilities separated by "
                               "commas, or leave empty", doc="probabilities from change_ms on (empty: unchanged)")
    process = Choice("poisson", ["poisson", "bernoulli"],
                     doc="poisson: spike counts per step (exact); bernoulli: at most one spike per step")

    @classmethod
    def size(cls, values: dict, graph, node_id: str) -> int:
        return int(values["n_cue"]) + int(values["n_per_event"]) * n_events(values)

    @classmethod
    def signal_width(cls, node, port: str) -> int:
        return n_events(node.values) if port == "target" else 1

    @classmethod
    def check(cls, node, graph) -> list:
        v = node.values
        out = []
        P = lambda param, msg, fix: out.append(Problem("error", "param.events", msg, fix, node=node.id,  # noqa: E731
                                                       param=param))
        try:
            d0 = parse_list(v["delays_ms"])
            p0 = parse_list(v["probabilities"])
            d1 = parse_list(v["delays_after_ms"]) or d0
            p1 = parse_list(v["probabilities_after"]) or p0
        except ValueError:
            return out  # the text patterns are reported by the parameter check
        K = len(d0)
        for name, lst in (("probabilities", p0), ("delays_after_ms", d1), ("probabilities_after", p1)):
            if len(lst) != K:
                P(name, f"{name} lists {len(lst)} values for {K} events (delays_ms {v['delays_ms']!r})",
                  f"give one value per event ({K})")
        for name, lst in (("probabilities", p0), ("probabilities_after", p1)):
            bad = [x for x in lst if x > 1.0]
            if bad:
                P(name, f"{name} has values above 1: {bad}", "give probabilities in [0, 1]")
        trial, ev, lead = float(v["trial_ms"]), float(v["event_ms"]), float(v["lead_ms"])
        for name, lst in (("delays_ms", d0), ("delays_after_ms", d1)):
            late = [x for x in lst if x + ev > trial]
            if late:
                P(name, f"events at {late} ms last event_ms = {ev} ms past the trial end (trial_ms {trial})",
                  "use earlier delays, shorter events or longer trials")
            early = [x for x in lst if x < lead]
            if early:
                P(name, f"events at {early} ms start before lead_ms = {lead} ms: their target would precede the cue",
                  "use a smaller lead_ms or later delays")
        if float(v["cue_ms"]) > trial:
            P("cue_ms", f"cue_ms {v['cue_ms']} exceeds trial_ms {trial}", "make the cue fit in the trial")
        if v["attend_ms"] is not None and float(v["attend_ms"]) > trial:
            P("attend_ms", f"attend_ms {v['attend_ms']} exceeds trial_ms {trial}", "make the gate fit in the trial")
        if v["change_ms"] is not None and not (v["delays_after_ms"].strip() or v["probabilities_after"].strip()):
            out.append(Problem("warning", "param.events", f"change_ms is {v['change_ms']} but neither "
                               "delays_after_ms nor probabilities_after is set, so nothing changes",
                               "set the values that apply after the change", node=node.id, param="change_ms"))
        return out

    @classmethod
    def build(cls, node, b) -> None:
        nid = node.id
        K = n_events(node.values)
        n_cue, n_per = int(node.values["n_cue"]), int(node.values["n_per_event"])
        n = n_cue + n_per * K
        b.spikes(node, n, multi=True)
        b.buffer(nid, "target", np.zeros(max(K, 1), np.float64), "signal")
        b.buffer(nid, "gate", np.zeros(1, np.float64), "signal")
        tm = timing(node.values, b.dt)

        def derive(nd):
            v = nd.values
            tau = np.atleast_1d(np.asarray(b.value(nd, "cue_tau_ms", n_cue), np.float64))
            cue_k = np.where(tau > 0, b.dt / np.where(tau > 0, tau, 1.0), 0.0)
            return {"key": b.key(nd.id, "spikes"), "okey": b.key(nd.id, "occur"),
                    "period": np.int64(tm["period_steps"]), "n_cue": np.int64(n_cue), "n_per": np.int64(n_per),
                    "cue_steps": np.int64(tm["cue_steps"]), "cue_lam": float(v["cue_rate_hz"]) * b.dt * 1e-3,
                    "cue_k": cue_k, "micro": v["cue_profile"] == "microstimuli",
                    "mu": (np.arange(n_cue, dtype=np.float64) + 0.5) / n_cue,
                    "inv2s2": 1.0 / (2.0 * float(v["cue_width"]) ** 2), "delay": tm["delay_steps"],
                    "ev_steps": np.int64(tm["event_steps"]), "ev_lam": float(v["event_rate_hz"]) * b.dt * 1e-3,
                    "prob": tm["prob"], "change": np.int64(tm["change_trial"]),
                    "lead": np.int64(tm["lead_steps"]), "attend": np.int64(tm["attend_steps"]),
                    "bern": v["process"] == "bernoulli"}

        b.set_params(node, derive)
        b.node_info[nid].update(n=n, multi=True, n_events=K, n_cue=n_cue, n_per_event=n_per, trials=tm)
        b.step("stimulus", nid, "cued_events.emit", sets=[f"{nid}.spk", f"{nid}.target", f"{nid}.gate"])
        b.step("monitor", nid, "count", reads=[f"{nid}.spk"])


@renderer("cued_events.emit")
def _render(step, ctx):
    nid = step.node
    f = ctx.use(f"{__name__}:emit")
    P = lambda k: ctx.p(nid, k)  # noqa: E731
    B = lambda k: ctx.b(f"{nid}.{k}")  # noqa: E731
    args = ", ".join(P(k) for k in ("key", "okey", "period", "n_cue", "n_per", "cue_steps", "cue_lam", "cue_k",
                                    "micro", "mu", "inv2s2", "delay", "ev_steps", "ev_lam", "prob", "change",
                                    "lead", "attend", "bern"))
    return [f"{ctx.ns(nid)} = {f}(t, {args}, {B('spk')}, {B('cnt')}, {B('target')}, {B('gate')})"]
