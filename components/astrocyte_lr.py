"""``astrocyte.lr``: Li-Rinzel astrocytes with NEST ``astrocyte_lr_1994`` semantics.

Model (NEST 3.10 ``astrocyte_lr_1994``, Nadkarni & Jung 2003 input/output), per astrocyte::

    dIP3/dt = (IP3_0 - IP3) / tau_IP3                      + IP3 jumps delta_IP3 * J_syn
    m_inf   = IP3 / (IP3 + Kd_IP3_1)
    n_inf   = Ca / (Ca + Kd_act)
    Ca_ER   = (Ca_tot - Ca) / ratio_ER_cyt                 (er_form 'nest_3_10', the released NEST form)
            = Ca_tot + (Ca_tot - Ca) / ratio_ER_cyt        (er_form 'conserved', an earlier NEST source)
    J_chan  = ratio_ER_cyt * rate_IP3R * m_inf^3 n_inf^3 h^3 (Ca_ER - Ca)
    J_leak  = ratio_ER_cyt * rate_L * (Ca_ER - Ca)
    J_pump  = rate_SERCA * Ca^2 / (Km_SERCA^2 + Ca^2)
    dCa/dt  = J_chan - J_pump + J_leak + J_noise          (J_noise: the current input)
    dh/dt   = k_IP3R Kd_inh (IP3 + Kd_IP3_1)/(IP3 + Kd_IP3_2) (1 - h) - k_IP3R Ca h
    I_SIC   = SIC_scale * ln(y) if y > 1 else 0,   y = (Ca - SIC_th) * 1000  (Ca in nM above threshold)

Time stepping (multi-rate): the astrocyte advances every ``k = round(update_every_ms / dt)``
neuron steps, by classic RK4 with ``rk4_substeps`` substeps of ``k dt / rk4_substeps``. As in
NEST, Ca inside the right-hand side is clamped to [0, Ca_max] (Ca_max = Ca_tot for 'nest_3_10',
Ca_tot (1 + ratio_ER_cyt) for 'conserved'); after each astrocyte step the state itself is
clamped (Ca to that range, h to [0, 1], IP3 >= 0), then the summed input of the step(s) is
added to IP3, then I_SIC is computed (NEST's order: integrate, add spikes, compute SIC).
NEST integrates each step with adaptive RKF45 (GSL, absolute tolerance 1e-3); the model's
rates are slow (well under 0.02 /ms), so both are at round-off in 1-ms steps: 60 s of an
oscillating astrocyte agree with NEST 3.10 to 1e-14 uM, and 10-ms RK4 steps stay within
2e-9 uM of a DOP853 reference (tests/engine/test_astrocyte_lr.py).

Inputs. ``drive``: a projection whose post is this astrocyte population (NEST: a spike
sent *to the astrocyte* through a connection with a weight). Each presynaptic spike
delivered to astrocyte j with weight w adds delta_IP3 * w to IP3_j. The projection's trace
g is read every neuron step and scaled by (1 - exp(-dt/tau_syn)): a delta synapse
(``synapse='delta'``, weight ``weight_mv`` taken as dimensionless) gives the jump in the
step the spike arrives, exactly as NEST; an exponential synapse (weight ``weight``) gives
the same total increment spread over a few tau_syn_ms. Delays of the projection apply.
``activity``: the synaptic activity of a projection onto *neurons* (or spikes of a
population directly): each presynaptic spike passing synapse (i -> neuron j, weight w)
adds delta_IP3 * activity_gain * w * sign to the astrocyte whose domain holds neuron j, in
the step the presynaptic spike is emitted (the projection's delay does not apply); spikes
wired directly count weight 1 for the astrocyte whose domain holds source i.

``current``: a current (e.g. stimulus.current, one channel per astrocyte) in uM/ms added
to dCa/dt as NEST's J_noise. As in NEST, the current of a step acts from the next step on:
the mean current of one astrocyte step is held through the next astrocyte step.

Domains: population of N elements, n astrocytes: element j belongs to astrocyte
floor(j n / N) (contiguous blocks; n = N is one-to-one, n = 1 is one global astrocyte).

Output ``sic`` (a current): neuron j of a target population receives
sic_weight * I_SIC of the astrocyte of its domain (NEST's ``sic_connection`` weight), in
the target's current unit (mV as R*I for LIF neurons, pA for AdEx). It is refreshed at
each astrocyte step and read by the neurons in the next step (a one-step delay, as
NEST's minimum delay). All targets must have the same size.

Defaults are NEST 3.10's (delta_IP3 = 0.0002 uM per unit weight there; the earlier NEST
source with the 'conserved' ER form lists 5.0). Initial state IP3 = IP3_0, Ca = 0.073 uM,
h = 0.793. NEST refuses negative input weights; so does this node's validation.
"""
from __future__ import annotations

import math
from collections import namedtuple

import numba
import numpy as np

from engine.backends.numba_backend import renderer
from engine.errors import Problem
from engine.params import Choice, Int, Num
from engine.registry import NodeType, Port, register

Inputs = namedtuple("Inputs", "j_syn")
State = namedtuple("State", "ip3 ca h sic")
#: kernel constants of the ODE, in the order ``advance`` takes them
ODE_PARAMS = ("ca_tot", "ip3_0", "kd_ip3_1", "kd_ip3_2", "kd_act", "kd_inh", "km_serca", "k_ip3r",
              "rate_ip3r", "rate_l", "rate_serca", "ratio_er_cyt", "inv_tau_ip3", "ca_max", "ca_er_off")


@numba.njit(cache=True, inline="always")
def rhs(ip3, ca, h, ca_tot, ip3_0, kd1, kd2, kd_act, kd_inh, km_serca, k_ip3r, rate_ip3r, rate_l,
        rate_serca, ratio, inv_tau, ca_max, ca_er_off, j_noise):
    """Right-hand side (per ms) of the Li-Rinzel ODE, NEST's form (Ca clamped inside; j_noise: Ca current)."""
    c = min(max(ca, 0.0), ca_max)
    m_inf = ip3 / (ip3 + kd1)
    n_inf = c / (c + kd_act)
    ca_er = ca_er_off + (ca_tot - c) / ratio
    mnh = m_inf * n_inf * h
    j_chan = ratio * rate_ip3r * mnh * mnh * mnh * (ca_er - c)
    j_leak = ratio * rate_l * (ca_er - c)
    j_pump = rate_serca * c * c / (km_serca * km_serca + c * c)
    d_ip3 = (ip3_0 - ip3) * inv_tau
    d_ca = j_chan - j_pump + j_leak + j_noise
    d_h = k_ip3r * kd_inh * (ip3 + kd1) / (ip3 + kd2) * (1.0 - h) - k_ip3r * c * h
    return d_ip3, d_ca, d_h


@numba.njit(cache=True)
def advance(ip3, ca, h, H, nsub, ca_tot, ip3_0, kd1, kd2, kd_act, kd_inh, km_serca, k_ip3r, rate_ip3r,
            rate_l, rate_serca, ratio, inv_tau, ca_max, ca_er_off, j_noise):
    """Classic RK4 over ``H`` ms in ``nsub`` substeps, then clamp to the physical ranges."""
    s = H / nsub
    for _ in range(nsub):
        a1, c1, h1 = rhs(ip3, ca, h, ca_tot, ip3_0, kd1, kd2, kd_act, kd_inh, km_serca, k_ip3r, rate_ip3r,
                         rate_l, rate_serca, ratio, inv_tau, ca_max, ca_er_off, j_noise)
        a2, c2, h2 = rhs(ip3 + 0.5 * s * a1, ca + 0.5 * s * c1, h + 0.5 * s * h1, ca_tot, ip3_0, kd1, kd2,
                         kd_act, kd_inh, km_serca, k_ip3r, rate_ip3r, rate_l, rate_serca, ratio, inv_tau,
                         ca_max, ca_er_off, j_noise)
        a3, c3, h3 = rhs(ip3 + 0.5 * s * a2, ca + 0.5 * s * c2, h + 0.5 * s * h2, ca_tot, ip3_0, kd1, kd2,
                         kd_act, kd_inh, km_serca, k_ip3r, rate_ip3r, rate_l, rate_serca, ratio, inv_tau,
                         ca_max, ca_er_off, j_noise)
        a4, c4, h4 = rhs(ip3 + s * a3, ca + s * c3, h + s * h3, ca_tot, ip3_0, kd1, kd2,
                         kd_act, kd_inh, km_serca, k_ip3r, rate_ip3r, rate_l, rate_serca, ratio, inv_tau,
                         ca_max, ca_er_off, j_noise)
        ip3 += s / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4)
        ca += s / 6.0 * (c1 + 2.0 * c2 + 2.0 * c3 + c4)
        h += s / 6.0 * (h1 + 2.0 * h2 + 2.0 * h3 + h4)
    return max(ip3, 0.0), min(max(ca, 0.0), ca_max), min(max(h, 0.0), 1.0)


@numba.njit(cache=True, inline="always")
def sic_current(ca, sic_th, sic_scale):
    """NEST's slow inward current: SIC_scale ln((Ca - SIC_th) * 1000) where that exceeds 0."""
    y = (ca - sic_th) * 1000.0
    return sic_scale * math.log(y) if y > 1.0 else 0.0


def domain(j: np.ndarray | int, n_astro: int, n_elems: int):
    """The astrocyte whose domain holds element ``j`` of a population of ``n_elems``."""
    return (np.asarray(j, np.int64) * n_astro) // max(n_elems, 1)


@register
class AstrocyteLR(NodeType):
    """Li-Rinzel astrocytes (NEST astrocyte_lr_1994): IP3, Ca and h; slow inward current to neurons.

    Spikes reaching the astrocyte (drive: a projection targeting it, as in NEST; activity:
    synaptic activity onto neurons of its domain) raise IP3 by delta_IP3 x weight; IP3 opens
    ER channels and Ca oscillates; Ca above SIC_th gives neurons of the domain a slow inward
    current I_SIC = SIC_scale ln((Ca - SIC_th)/nM) x sic_weight. dIP3/dt = (IP3_0 - IP3)/tau_IP3;
    dCa/dt = J_chan - J_pump + J_leak; dh/dt = alpha_h (1 - h) - k_IP3R Ca h. Multi-rate:
    RK4 every update_every_ms; Ca, h, IP3 clamped to their physical ranges.
    """

    type_key = "astrocyte.lr"
    ports = (
        Port("drive", "in", "drive", multiple=True,
             doc="projections whose post is this astrocyte population: each spike adds delta_IP3 x weight to IP3"),
        Port("activity", "in", "activity", multiple=True,
             doc="synaptic activity of projections onto neurons (or spikes): IP3 of the astrocyte of the "
                 "target neuron's domain rises by delta_IP3 x activity_gain x weight"),
        Port("current", "in", "current", multiple=True,
             doc="Ca current J_noise (uM/ms) added to dCa/dt, as NEST's current input (one step late, see doc)"),
        Port("sic", "out", "current", doc="slow inward current to the neurons of each astrocyte's domain"),
        Port("state", "out", "state", doc="IP3, Ca, h and I_SIC, for monitor.state"),
    )
    views = ({"kind": "trace", "name": "ca", "title": "mean astrocytic Ca", "y_label": "Ca (µM)"},
             {"kind": "trace", "name": "ip3", "title": "mean astrocytic IP3", "y_label": "IP3 (µM)"})
    #: a projection into the drive port uses this weight (dimensionless, NEST's connection weight)
    weight_param = "weight"
    drive_channels = {"exc": "j_syn"}
    jump_input = "j_syn"
    state_units = {"ip3": "µM", "ca": "µM", "h": "", "sic": "target current unit", "j_syn": "weight"}

    n = Int(1, bounds=(1, 10_000_000), doc="number of astrocytes (each covers a contiguous domain of neurons)")
    ca_tot_um = Num(2.0, bounds=(0, None), inclusive=(False, True), dist=True,
                    doc="total free Ca in terms of cytosolic volume (Ca_tot)")
    ip3_0_um = Num(0.16, bounds=(0, None), dist=True, doc="baseline IP3 (IP3_0)")
    kd_ip3_1_um = Num(0.13, bounds=(0, None), inclusive=(False, True), dist=True,
                      doc="first IP3R dissociation constant of IP3 (Kd_IP3_1)")
    kd_ip3_2_um = Num(0.9434, bounds=(0, None), inclusive=(False, True), dist=True,
                      doc="second IP3R dissociation constant of IP3 (Kd_IP3_2)")
    kd_act_um = Num(0.08234, bounds=(0, None), inclusive=(False, True), dist=True,
                    doc="IP3R dissociation constant of Ca, activation (Kd_act)")
    kd_inh_um = Num(1.049, bounds=(0, None), dist=True, doc="IP3R dissociation constant of Ca, inhibition (Kd_inh)")
    km_serca_um = Num(0.1, bounds=(0, None), inclusive=(False, True), dist=True,
                      doc="half-activation constant of the SERCA pump (Km_SERCA)")
    k_ip3r = Num(0.0002, bounds=(0, None), dist=True, unit="1/(µM·ms)",
                 doc="IP3R binding constant for Ca inhibition (k_IP3R)")
    rate_ip3r = Num(0.006, bounds=(0, None), dist=True, unit="1/ms", doc="maximum Ca release rate via IP3R (rate_IP3R)")
    rate_l = Num(0.00011, bounds=(0, None), dist=True, unit="1/ms", doc="Ca leak rate from ER to cytosol (rate_L)")
    rate_serca = Num(0.0009, bounds=(0, None), dist=True, unit="µM/ms", doc="maximum SERCA uptake rate (rate_SERCA)")
    ratio_er_cyt = Num(0.185, bounds=(0, None), inclusive=(False, True), dist=True,
                       doc="ER to cytosol volume ratio (ratio_ER_cyt)")
    tau_ip3_ms = Num(7142.0, bounds=(0, None), inclusive=(False, True), dist=True,
                     doc="IP3 decay time constant (tau_IP3)")
    delta_ip3_um = Num(0.0002, bounds=(0, None), dist=True,
                       doc="IP3 increase per unit of input weight (delta_IP3; NEST 3.10 default)")
    sic_th_um = Num(0.19669, bounds=(0, None), dist=True, doc="Ca threshold of the slow inward current (SIC_th)")
    sic_scale = Num(1.0, bounds=(0, None), dist=True, doc="scale of the slow inward current (SIC_scale)")
    sic_weight = Num(1.0, unit="target current unit",
                     doc="weight of the SIC delivered to each neuron (NEST sic_connection weight)")
    activity_gain = Num(1.0, doc="factor on synaptic weights arriving through the activity port")
    update_every_ms = Num(1.0, bounds=(0, 100), inclusive=(False, True),
                          doc="astrocyte time step (rounded to whole neuron steps, at least one)")
    er_form = Choice("nest_3_10", ["nest_3_10", "conserved"], live=True,
                     doc="ER calcium: nest_3_10 (NEST 3.10: Ca_ER = (Ca_tot - Ca)/ratio_ER_cyt, Ca clamped to "
                         "[0, Ca_tot]) or conserved (an earlier NEST source: Ca_ER = Ca_tot + (Ca_tot - Ca)/"
                         "ratio_ER_cyt, Ca clamped to [0, Ca_tot (1 + ratio_ER_cyt)])")
    rk4_substeps = Int(1, bounds=(1, 1000), live=True, doc="RK4 substeps per astrocyte step")
    ip3_init_um = Num(None, bounds=(0, None), allow_none=True, dist=True, live=False,
                      doc="initial IP3 (empty: IP3_0)")
    ca_init_um = Num(0.073, bounds=(0, None), dist=True, live=False, doc="initial cytosolic Ca")
    h_init = Num(0.793, bounds=(0, 1), dist=True, live=False, doc="initial fraction of non-inactivated IP3R")

    _ode_names = {"ca_tot": "ca_tot_um", "ip3_0": "ip3_0_um", "kd_ip3_1": "kd_ip3_1_um", "kd_ip3_2": "kd_ip3_2_um",
                  "kd_act": "kd_act_um", "kd_inh": "kd_inh_um", "km_serca": "km_serca_um", "k_ip3r": "k_ip3r",
                  "rate_ip3r": "rate_ip3r", "rate_l": "rate_l", "rate_serca": "rate_serca",
                  "ratio_er_cyt": "ratio_er_cyt"}

    @classmethod
    def model(cls):
        """For monitor.state: the recordable state variables and inputs."""
        import sys
        return sys.modules[cls.__module__]

    # --- wiring ---------------------------------------------------------------------------
    @classmethod
    def sic_targets(cls, node, graph):
        return graph.targets(node.id, "sic")

    @classmethod
    def check(cls, node, graph):
        from .astrocyte_base import wiring_problems

        out = wiring_problems(node, graph)
        sizes = {graph.size(t.id) for t in cls.sic_targets(node, graph)}
        if len(sizes) > 1:
            out.append(Problem("error", "size.mismatch", f"sic drives populations of different sizes {sorted(sizes)}",
                               "use one astrocyte population per target size (the domains follow the target size)",
                               node=node.id, port="sic"))
        for e in graph.inputs(node.id, "drive"):
            src = graph.nodes[e.source]
            if src.type.family() != "projection":
                continue
            wname = src.type.weight_name(src, cls) if hasattr(src.type, "weight_name") else "weight"
            w = src.values.get(wname)
            if isinstance(w, (int, float)) and w < 0:
                out.append(Problem("error", "param.bounds", f"weight {w} into astrocyte '{node.id}' is negative "
                                   "(NEST's astrocyte_lr_1994 refuses negative input weights)",
                                   "use a weight >= 0", node=src.id, param=wname))
        for e in graph.inputs(node.id, "activity"):
            src = graph.nodes[e.source]
            if src.type.family() == "projection":
                continue
            if not getattr(src.type, "spiking", False):
                out.append(Problem("error", "port.activity", f"activity comes from '{src.id}' ({src.key}), which "
                                   "is neither a projection nor a spike source",
                                   "wire a projection's activity output or a population's spikes", node=node.id,
                                   port="activity"))
        return out

    @classmethod
    def memory_bytes(cls, node, graph) -> int:
        n = int(node.values["n"])
        tg = cls.sic_targets(node, graph)
        return 8 * n * 6 + 8 * (graph.size(tg[0].id) if tg else 0)

    # --- build ------------------------------------------------------------------------------
    @classmethod
    def build(cls, node, b) -> None:
        nid = node.id
        g = b.graph
        n = g.size(nid)
        dt = b.dt
        def val(nd, k):
            return b.value(nd, k, n)

        def derive(nd):
            out = {k: val(nd, user) for k, user in cls._ode_names.items()}
            out["inv_tau_ip3"] = 1.0 / val(nd, "tau_ip3_ms")
            if nd.values["er_form"] == "nest_3_10":  # released NEST: Ca_ER = (Ca_tot - Ca)/ratio, Ca <= Ca_tot
                out["ca_max"] = out["ca_tot"]
                out["ca_er_off"] = 0.0 * out["ca_tot"]
            else:  # NEST development source: Ca_ER = Ca_tot + (Ca_tot - Ca)/ratio, Ca <= Ca_tot (1 + ratio)
                out["ca_max"] = out["ca_tot"] * (1.0 + out["ratio_er_cyt"])
                out["ca_er_off"] = out["ca_tot"]
            out["delta_ip3"] = val(nd, "delta_ip3_um")
            out["sic_th"] = val(nd, "sic_th_um")
            out["sic_scale"] = val(nd, "sic_scale")
            out["sic_w"] = float(nd.values["sic_weight"])
            out["act_gain"] = float(nd.values["activity_gain"])
            out["every"] = np.int64(max(1, int(round(float(nd.values["update_every_ms"]) / dt))))
            out["nsub"] = np.int64(int(nd.values["rk4_substeps"]))
            return out

        b.set_params(node, derive)
        v0 = {k: b.value(node, k, n) for k in ("ip3_init_um", "ca_init_um", "h_init")}
        ip3_0 = b.value(node, "ip3_0_um", n)
        ca_max = b.params[nid]["ca_max"]
        init = {"ip3": ip3_0 if v0["ip3_init_um"] is None else v0["ip3_init_um"],
                "ca": np.minimum(v0["ca_init_um"], ca_max), "h": v0["h_init"], "sic": 0.0}  # within [0, Ca_max]
        bufs = {}
        for f in State._fields:
            a = np.ascontiguousarray(np.broadcast_to(np.asarray(init[f], dtype=b.dtype), (n,))).copy()
            bufs[f] = b.buffer(nid, f, a)
        acc = b.buffer(nid, "acc", np.zeros(n, b.dtype))
        from .astrocyte_base import wire_inputs

        drives, acts, reads, _ = wire_inputs(node, b, n)
        currents = [f"{e.source}.I" for e in g.inputs(nid, "current")]
        if currents:
            b.buffer(nid, "jacc", np.zeros(n, b.dtype))
            b.buffer(nid, "jnow", np.zeros(n, b.dtype))
            reads += currents
        targets = cls.sic_targets(node, g)
        n_t = g.size(targets[0].id) if targets else 0
        sets = []
        if targets:
            b.buffer(nid, "I", np.zeros(n_t, b.dtype), "state")
            b.buffer(nid, "sic_dom", domain(np.arange(n_t), n, n_t), "const")
            sets.append(f"{nid}.I")
        b.node_info[nid].update(n=n, state=list(State._fields), inputs={"j_syn": [f"{p}.g" for p in drives]},
                                sic_targets=[t.id for t in targets], n_target=n_t)
        b.step("astrocyte", nid, "astrocyte.lr", reads=reads, sets=sets,
               updates=[*bufs.values(), acc] + ([f"{nid}.jacc", f"{nid}.jnow"] if currents else []), n=n,
               drives=tuple(drives), acts=tuple(acts), n_target=n_t, currents=tuple(currents))

    # --- streaming ---------------------------------------------------------------------------
    @classmethod
    def stream(cls, node, sim, chunk) -> dict:
        B = sim.plan.buffers
        t = np.array([chunk.t_end_ms])
        return {"ca": {"t_ms": t, "y": np.array([float(B[f"{node.id}.ca"].mean())])},
                "ip3": {"t_ms": t, "y": np.array([float(B[f"{node.id}.ip3"].mean())])}}


@renderer("astrocyte.lr")
def _render(step, ctx):
    nid = step.node
    a = step.attrs
    n = a["n"]
    B = lambda v: ctx.b(f"{nid}.{v}")  # noqa: E731
    P = lambda k, i="i": ctx.pv(nid, k, i)  # noqa: E731
    acc = B("acc")
    # every neuron step: collect the input weight of this step into acc
    from .astrocyte_base import input_lines

    lines = input_lines(ctx, a, n, acc, "", ctx.p(nid, "act_gain"))
    if a["currents"]:  # J_noise: summed over the block, its mean drives the next block (NEST: next step)
        lines += [f"for i in range({n}):",
                  f"    {B('jacc')}[i] += {' + '.join(ctx.b(c) + '[i]' for c in a['currents'])}"]
    # every k-th step: advance the ODE over k dt, add the input, compute the SIC
    adv = ctx.use(f"{__name__}:advance")
    sicf = ctx.use(f"{__name__}:sic_current")
    every = ctx.p(nid, "every")
    ode = ", ".join(P(k) for k in ODE_PARAMS)
    ip3, ca, h, sic = B("ip3"), B("ca"), B("h"), B("sic")
    jn = f"{B('jnow')}[i]" if a["currents"] else "0.0"
    lines += [f"if (t + 1) % {every} == 0:",
              f"    _H = {every} * dt",
              f"    for i in range({n}):",
              f"        _a, _c, _h = {adv}({ip3}[i], {ca}[i], {h}[i], _H, {ctx.p(nid, 'nsub')}, {ode}, {jn})",
              f"        _a += {P('delta_ip3')} * {acc}[i]",
              f"        {acc}[i] = 0.0",
              f"        {ip3}[i] = _a if _a > 0.0 else 0.0",
              f"        {ca}[i] = _c",
              f"        {h}[i] = _h",
              f"        {sic}[i] = {sicf}(_c, {P('sic_th')}, {P('sic_scale')})"]
    if a["currents"]:
        lines += [f"        {B('jnow')}[i] = {B('jacc')}[i] / {every}", f"        {B('jacc')}[i] = 0.0"]
    if a["n_target"]:
        I, dom = B("I"), B("sic_dom")
        lines += [f"    for _j in range({a['n_target']}):",
                  f"        {I}[_j] = {ctx.p(nid, 'sic_w')} * {sic}[{dom}[_j]]"]
    return lines
