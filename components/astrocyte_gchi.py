"""``astrocyte.gchi``: De Pittà's G-ChI astrocytes (Stimberg et al. 2019, Brian2 example 6).

State per astrocyte (uM; rates per second as in the paper, converted to per ms inside)::

    dY_S/dt     = -Omega_c Y_S                                     (neurotransmitter seen by the astrocyte)
    dGamma_A/dt = O_N Y_S (1 - G) - Omega_N (1 + zeta C/(C + K_KC)) G,   G = clip(Gamma_A, 0, 1)
    dI/dt       = O_beta Gamma_A + O_delta/(1 + I/kappa_delta) C^2/(C^2 + K_delta^2)
                  - O_3K C^4/(C^4 + K_D^4) I/(I + K_3K) - Omega_5P I + J_coupling
    dC/dt       = (Omega_C m_inf^3 h^3 + Omega_L)(C_T - (1 + rho_A) C) - O_P C^2/(C^2 + K_P^2)
    dh/dt       = (h_inf - h)/tau_h
    m_inf = I/(I + d_1) C/(C + d_5),  Q_2 = d_2 (I + d_1)/(I + d_3),
    h_inf = Q_2/(Q_2 + C),  tau_h = 1/(O_2 (Q_2 + C))
    dx_A/dt = Omega_A (1 - x_A),  dG_A/dt = -Omega_e G_A            (exact exponentials)
    release at the first step with C > C_Theta after C <= C_Theta (Brian2's threshold and
    refractory 'C > C_Theta'):  G_A += rho_e G_T U_A x_A;  x_A -= U_A x_A
    gap junctions (astrocytes i, j coupled):
    J_coupling_i = sum_j -(1 + tanh((|I_i - I_j| - I_Theta)/omega_I)) sign(I_i - I_j) F/2

Time stepping: every ``k = round(update_every_ms / dt)`` neuron steps, the coupled system
(Y_S, Gamma_A, I, C, h of all astrocytes) advances by RK4 in ``rk4_substeps`` substeps
(default 10 ms in 10 substeps: O_N Y_S reaches ~0.5 /ms after a spike, too stiff for one
10-ms RK4 step), x_A and G_A exactly; then the state is clamped (Gamma_A, h, x_A to [0, 1],
I, Y_S, G_A >= 0, C to [0, C_T/(1 + rho_A)], where the ER holds no Ca), then release is
checked, then the inputs of the step(s) are added to Y_S.

Input (Y_S). In Brian2, Y_S of the astrocyte is the mean over its synapses of each
synapse's cleft neurotransmitter, which jumps by rho_c Y_T r_S per spike (r_S from the
tripartite synapse's short-term plasticity) and decays with Omega_c. Here the astrocyte
keeps Y_S itself: each spike arriving through ``drive`` (a projection targeting the
astrocytes, weight w) or ``activity`` (a projection onto neurons of its domain, weight w,
times activity_gain and the edge's sign) adds y_per_spike_um x w, divided by the number of
synapses onto that astrocyte when ``average_inputs`` is on (Brian2's N_incoming). Default
y_per_spike_um = rho_c Y_T U_0* = 0.005 x 500 mM x 0.6 = 1500 uM (first release from rest;
no presynaptic depression or facilitation: that belongs to the tripartite synapse).
Brian2 samples the synapses' Y_S at the astrocytes' 10-ms steps and holds it over the
step; here its decay is integrated, so Gamma_A differs from Brian2 by that sampling.

Domains as for astrocyte.lr: element j of a population of N belongs to astrocyte
floor(j n / N). Output: ``gliotransmitter`` (modulation): G_A per astrocyte (buffer
``g_a``), for a tripartite synapse to read through the same map, and its mean over the
population (buffer ``a``, updated at each astrocyte step: the one-scalar modulation that
plasticity rules read from astrocytes, as astrocyte.nalsm's A); ``release``: each release as a spike
(for monitor.spikes, or a projection); ``state``: the state, for monitor.state.
"""
from __future__ import annotations

import math
import sys
from collections import namedtuple

import numba
import numpy as np

from engine.backends.numba_backend import renderer
from engine.errors import Problem
from engine.params import Choice, Flag, Int, Num
from engine.registry import NodeType, Port, register


Inputs = namedtuple("Inputs", "y_in")
State = namedtuple("State", "y_s gamma_a ip3 ca h x_a g_a")

#: packed kernel constants (per ms, uM), in this order
PRM = ("omega_c", "o_n", "omega_n", "zeta", "k_kc", "o_beta", "o_delta", "kappa_delta", "k_delta", "o_3k",
       "k_d", "k_3k", "omega_5p", "omega_cc", "omega_l", "c_t", "rho_a", "o_p", "k_p", "d_1", "d_2", "d_3",
       "d_5", "o_2", "f", "i_theta", "omega_i")
_IDX = {k: i for i, k in enumerate(PRM)}
(P_OMEGA_C, P_O_N, P_OMEGA_N, P_ZETA, P_K_KC, P_O_BETA, P_O_DELTA, P_KAPPA_DELTA, P_K_DELTA, P_O_3K, P_K_D,
 P_K_3K, P_OMEGA_5P, P_OMEGA_CC, P_OMEGA_L, P_C_T, P_RHO_A, P_O_P, P_K_P, P_D_1, P_D_2, P_D_3, P_D_5, P_O_2,
 P_F, P_I_THETA, P_OMEGA_I) = range(len(PRM))


@numba.njit(cache=True)
def rhs(S, D, p, nb_ptr, nb_idx):
    """Derivatives (per ms) of the rows Y_S, Gamma_A, I, C, h of ``S`` (5, n) into ``D``."""
    n = S.shape[1]
    for i in range(n):
        y = S[0, i]
        g = min(max(S[1, i], 0.0), 1.0)
        ip3 = S[2, i]
        c = S[3, i]
        h = S[4, i]
        c2 = c * c
        D[0, i] = -p[P_OMEGA_C] * y
        D[1, i] = p[P_O_N] * y * (1.0 - g) - p[P_OMEGA_N] * (1.0 + p[P_ZETA] * c / (c + p[P_K_KC])) * g
        j_beta = p[P_O_BETA] * S[1, i]
        j_delta = p[P_O_DELTA] / (1.0 + ip3 / p[P_KAPPA_DELTA]) * c2 / (c2 + p[P_K_DELTA] * p[P_K_DELTA])
        kd2 = p[P_K_D] * p[P_K_D]
        j_3k = p[P_O_3K] * c2 * c2 / (c2 * c2 + kd2 * kd2) * ip3 / (ip3 + p[P_K_3K])
        j_5p = p[P_OMEGA_5P] * ip3
        j_gap = 0.0
        for q in range(nb_ptr[i], nb_ptr[i + 1]):
            d = ip3 - S[2, nb_idx[q]]
            sg = 1.0 if d > 0.0 else (-1.0 if d < 0.0 else 0.0)
            j_gap -= (1.0 + math.tanh((abs(d) - p[P_I_THETA]) / p[P_OMEGA_I])) * sg * p[P_F] * 0.5
        D[2, i] = j_beta + j_delta - j_3k - j_5p + j_gap
        m_inf = ip3 / (ip3 + p[P_D_1]) * c / (c + p[P_D_5])
        q2 = p[P_D_2] * (ip3 + p[P_D_1]) / (ip3 + p[P_D_3])
        er = p[P_C_T] - (1.0 + p[P_RHO_A]) * c
        mh = m_inf * h
        D[3, i] = (p[P_OMEGA_CC] * mh * mh * mh + p[P_OMEGA_L]) * er - p[P_O_P] * c2 / (c2 + p[P_K_P] * p[P_K_P])
        D[4, i] = (q2 / (q2 + c) - h) * p[P_O_2] * (q2 + c)
    return D


@numba.njit(cache=True)
def advance(S, H, nsub, p, nb_ptr, nb_idx, W):
    """RK4 of the coupled system over ``H`` ms in ``nsub`` substeps; ``W`` (25, n) is scratch."""
    n = S.shape[1]
    s = H / nsub
    k1, k2, k3, k4, tmp = W[0:5], W[5:10], W[10:15], W[15:20], W[20:25]
    for _ in range(nsub):
        rhs(S, k1, p, nb_ptr, nb_idx)
        for r in range(5):
            for i in range(n):
                tmp[r, i] = S[r, i] + 0.5 * s * k1[r, i]
        rhs(tmp, k2, p, nb_ptr, nb_idx)
        for r in range(5):
            for i in range(n):
                tmp[r, i] = S[r, i] + 0.5 * s * k2[r, i]
        rhs(tmp, k3, p, nb_ptr, nb_idx)
        for r in range(5):
            for i in range(n):
                tmp[r, i] = S[r, i] + s * k3[r, i]
        rhs(tmp, k4, p, nb_ptr, nb_idx)
        for r in range(5):
            for i in range(n):
                S[r, i] += s / 6.0 * (k1[r, i] + 2.0 * k2[r, i] + 2.0 * k3[r, i] + k4[r, i])


@numba.njit(cache=True)
def astro_step(S, xa, ga, above, acc, inv_nin, H, nsub, p, nb_ptr, nb_idx, W, c_theta, omega_a, omega_e,
               rel_amount, u_a, spk):
    """One astrocyte step: ODE, clamps, release (returns the releasing astrocytes in ``spk``), input."""
    advance(S, H, nsub, p, nb_ptr, nb_idx, W)
    n = S.shape[1]
    c_max = p[P_C_T] / (1.0 + p[P_RHO_A])
    ea = math.exp(-omega_a * H)
    ee = math.exp(-omega_e * H)
    ns = 0
    for i in range(n):
        S[0, i] = max(S[0, i], 0.0)
        S[1, i] = min(max(S[1, i], 0.0), 1.0)
        S[2, i] = max(S[2, i], 0.0)
        S[3, i] = min(max(S[3, i], 0.0), c_max)
        S[4, i] = min(max(S[4, i], 0.0), 1.0)
        xa[i] = 1.0 - (1.0 - xa[i]) * ea
        ga[i] *= ee
        up = S[3, i] > c_theta
        if up and not above[i]:
            ga[i] += rel_amount * u_a * xa[i]
            xa[i] -= u_a * xa[i]
            spk[ns] = i
            ns += 1
        above[i] = up
        S[0, i] += acc[i] * inv_nin[i]
        acc[i] = 0.0
    return ns


def neighbours(mode: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gap-junction partners as CSR (indptr, indices): none, chain (i +- 1), ring, all, or
    grid: astrocyte i at row i // w, column i % w of a square lattice of width
    w = ceil(sqrt(n)) (the last row may be partial), coupled to its up to 4 nearest
    neighbours, not periodic (Stimberg et al. 2019, example 6: partners closer than 75 um
    on a 67-um lattice)."""
    lists: list[list[int]] = [[] for _ in range(n)]
    w = max(1, math.isqrt(n - 1) + 1) if n > 1 else 1
    for i in range(n):
        if mode == "grid":
            r, c = divmod(i, w)
            lists[i] = [j for j in ((r - 1) * w + c, i - 1 if c > 0 else -1, i + 1 if c < w - 1 else -1,
                                    (r + 1) * w + c) if 0 <= j < n]
        elif mode in ("chain", "ring"):
            for j in (i - 1, i + 1):
                if mode == "ring":
                    j %= n
                if 0 <= j < n and j != i and j not in lists[i]:
                    lists[i].append(j)
        elif mode == "all":
            lists[i] = [j for j in range(n) if j != i]
    ptr = np.zeros(n + 1, np.int64)
    ptr[1:] = np.cumsum([len(x) for x in lists])
    idx = np.array([j for x in lists for j in x], np.int64)
    return ptr, idx


PER_S = ("o_beta_um_s", "o_n", "omega_n", "o_delta_um_s", "o_3k_um_s", "omega_5p", "omega_c_astro", "omega_l",
         "o_p_um_s", "o_2", "f_um_s", "omega_c", "omega_a", "omega_e")


@register
class AstrocyteGChI(NodeType):
    """De Pittà G-ChI astrocytes (Stimberg et al. 2019): receptors, IP3, Ca, gliotransmitter release.

    Neurotransmitter Y_S from synaptic input activates receptors (Gamma_A), which make IP3
    (PLCbeta; PLCdelta adds Ca-dependent IP3, IP3-3K and IP-5P degrade it); IP3 opens ER
    channels (Li-Rinzel CICR) and Ca oscillates; each upward crossing of C_Theta releases
    gliotransmitter G_A (a fraction U_A of the resources x_A). IP3 diffuses through gap
    junctions (none, chain, ring, all-to-all or a square grid). RK4 every update_every_ms in substeps.
    """

    type_key = "astrocyte.gchi"
    spiking = True
    ports = (
        Port("drive", "in", "drive", multiple=True,
             doc="projections whose post is this astrocyte population: each spike adds y_per_spike_um x weight to Y_S"),
        Port("activity", "in", "activity", multiple=True,
             doc="synaptic activity of projections onto neurons (or spikes): Y_S of the astrocyte of the "
                 "target neuron's domain rises by y_per_spike_um x activity_gain x weight"),
        Port("gliotransmitter", "out", "modulation",
             doc="extracellular gliotransmitter: G_A of each astrocyte (buffer g_a, uM) and their mean "
                 "(buffer a, the scalar a plasticity rule's modulation input reads)"),
        Port("release", "out", "spikes", doc="gliotransmitter release events, one spike per release"),
        Port("state", "out", "state", doc="Y_S, Gamma_A, IP3, Ca, h, x_A and G_A, for monitor.state"),
    )
    views = ({"kind": "trace", "name": "ca", "title": "mean astrocytic Ca", "y_label": "C (µM)"},
             {"kind": "trace", "name": "ip3", "title": "mean astrocytic IP3", "y_label": "I (µM)"},
             {"kind": "trace", "name": "g_a", "title": "mean gliotransmitter", "y_label": "G_A (µM)"})
    weight_param = "weight"
    drive_channels = {"exc": "y_in"}
    jump_input = "y_in"
    state_units = {"y_s": "µM", "gamma_a": "", "ip3": "µM", "ca": "µM", "h": "", "x_a": "", "g_a": "µM",
                   "y_in": "weight"}

    n = Int(1, bounds=(1, 1_000_000), doc="number of astrocytes (each covers a contiguous domain of neurons)")
    # Ca fluxes
    o_p_um_s = Num(0.9, bounds=(0, None), unit="µM/s", doc="maximal Ca uptake rate by SERCAs (O_P)")
    k_p_um = Num(0.05, bounds=(0, None), inclusive=(False, True), doc="Ca affinity of SERCAs (K_P)")
    c_t_um = Num(2.0, bounds=(0, None), inclusive=(False, True), doc="total cell free Ca content (C_T)")
    rho_a = Num(0.18, bounds=(0, None), doc="ER-to-cytoplasm volume ratio (rho_A)")
    omega_c_astro = Num(6.0, bounds=(0, None), unit="1/s", doc="maximal Ca release rate by IP3Rs (Omega_C)")
    omega_l = Num(0.1, bounds=(0, None), unit="1/s", doc="maximal Ca leak rate from the ER (Omega_L)")
    # IP3R kinetics
    d_1_um = Num(0.13, bounds=(0, None), inclusive=(False, True), doc="IP3 binding affinity (d_1)")
    d_2_um = Num(1.05, bounds=(0, None), doc="Ca inactivation dissociation constant (d_2)")
    o_2 = Num(0.2, bounds=(0, None), inclusive=(False, True), unit="1/(µM·s)",
              doc="IP3R binding rate for Ca inhibition (O_2)")
    d_3_um = Num(0.9434, bounds=(0, None), inclusive=(False, True), doc="IP3 dissociation constant (d_3)")
    d_5_um = Num(0.08, bounds=(0, None), inclusive=(False, True), doc="Ca activation dissociation constant (d_5)")
    # IP3 production and degradation
    o_beta_um_s = Num(0.5, bounds=(0, None), unit="µM/s", doc="maximal IP3 production by PLCbeta (O_beta)")
    o_n = Num(0.3, bounds=(0, None), unit="1/(µM·s)", doc="agonist binding rate (O_N)")
    omega_n = Num(0.5, bounds=(0, None), unit="1/s", doc="maximal receptor inactivation rate (Omega_N)")
    k_kc_um = Num(0.5, bounds=(0, None), inclusive=(False, True), doc="Ca affinity of PKC (K_KC)")
    zeta = Num(10.0, bounds=(0, None), doc="maximal reduction of receptor affinity by PKC (zeta)")
    o_delta_um_s = Num(1.2, bounds=(0, None), unit="µM/s", doc="maximal IP3 production by PLCdelta (O_delta)")
    kappa_delta_um = Num(1.5, bounds=(0, None), inclusive=(False, True), doc="PLCdelta inhibition by IP3 (kappa_delta)")
    k_delta_um = Num(0.1, bounds=(0, None), doc="Ca affinity of PLCdelta (K_delta)")
    omega_5p = Num(0.05, bounds=(0, None), unit="1/s", doc="maximal IP3 degradation by IP-5P (Omega_5P)")
    k_d_um = Num(0.7, bounds=(0, None), doc="Ca affinity of IP3-3K (K_D)")
    k_3k_um = Num(1.0, bounds=(0, None), inclusive=(False, True), doc="IP3 affinity of IP3-3K (K_3K)")
    o_3k_um_s = Num(4.5, bounds=(0, None), unit="µM/s", doc="maximal IP3 degradation by IP3-3K (O_3K)")
    # gap junctions
    coupling = Choice("none", ["none", "chain", "ring", "all", "grid"],
                      doc="which astrocytes share IP3 through gap junctions (grid: 4 nearest neighbours on a "
                          "square lattice of width ceil(sqrt(n)))")
    f_um_s = Num(0.09, bounds=(0, None), unit="µM/s", doc="gap-junction IP3 permeability (F)")
    i_theta_um = Num(0.3, bounds=(0, None), doc="threshold IP3 gradient for diffusion (I_Theta)")
    omega_i_um = Num(0.05, bounds=(0, None), inclusive=(False, True), doc="scaling factor of diffusion (omega_I)")
    # gliotransmitter release
    c_theta_um = Num(0.5, bounds=(0, None), doc="Ca threshold for exocytosis (C_Theta)")
    omega_a = Num(0.6, bounds=(0, None), unit="1/s", doc="gliotransmitter recycling rate (Omega_A)")
    u_a = Num(0.6, bounds=(0, 1), doc="gliotransmitter release probability (U_A)")
    g_t_um = Num(200_000.0, bounds=(0, None), doc="total vesicular gliotransmitter (G_T = 200 mM)")
    rho_e = Num(6.5e-4, bounds=(0, None), doc="astrocytic vesicle-to-extracellular volume ratio (rho_e)")
    omega_e = Num(60.0, bounds=(0, None), unit="1/s", doc="gliotransmitter clearance rate (Omega_e)")
    # input
    omega_c = Num(40.0, bounds=(0, None), unit="1/s", doc="neurotransmitter clearance rate (Omega_c)")
    y_per_spike_um = Num(1500.0, bounds=(0, None),
                         doc="Y_S increase per spike of unit weight (rho_c Y_T U_0* = 0.005 x 500 mM x 0.6)")
    average_inputs = Flag(True, doc="divide each astrocyte's input by its number of input synapses "
                          "(Brian2's mean over N_incoming)")
    activity_gain = Num(1.0, doc="factor on synaptic weights arriving through the activity port")
    # stepping and initial state
    update_every_ms = Num(10.0, bounds=(0, 100), inclusive=(False, True),
                          doc="astrocyte time step (rounded to whole neuron steps, at least one)")
    rk4_substeps = Int(10, bounds=(1, 1000), live=True, doc="RK4 substeps per astrocyte step")
    ca_init_um = Num(0.01, bounds=(0, None), dist=True, live=False, doc="initial Ca (C)")
    h_init = Num(0.9, bounds=(0, 1), dist=True, live=False, doc="initial h")
    ip3_init_um = Num(0.01, bounds=(0, None), dist=True, live=False, doc="initial IP3 (I)")
    x_a_init = Num(1.0, bounds=(0, 1), dist=True, live=False,
                   doc="initial fraction of releasable gliotransmitter (x_A)")

    @classmethod
    def model(cls):
        return sys.modules[cls.__module__]

    @classmethod
    def check(cls, node, graph):
        from .astrocyte_base import wiring_problems

        out = wiring_problems(node, graph)
        for e in graph.inputs(node.id, "activity"):
            src = graph.nodes[e.source]
            if src.type.family() != "projection" and not getattr(src.type, "spiking", False):
                out.append(Problem("error", "port.activity", f"activity comes from '{src.id}' ({src.key}), which "
                                   "is neither a projection nor a spike source",
                                   "wire a projection's activity output or a population's spikes", node=node.id,
                                   port="activity"))
        return out

    @classmethod
    def memory_bytes(cls, node, graph) -> int:
        return 8 * int(node.values["n"]) * 40

    @classmethod
    def build(cls, node, b) -> None:
        nid = node.id
        g = b.graph
        n = g.size(nid)
        dt = b.dt

        def derive(nd):
            v = nd.values
            r = lambda k: float(v[k]) * 1e-3  # noqa: E731  (per s -> per ms)
            vals = {"omega_c": r("omega_c"), "o_n": r("o_n"), "omega_n": r("omega_n"), "zeta": float(v["zeta"]),
                    "k_kc": float(v["k_kc_um"]), "o_beta": r("o_beta_um_s"), "o_delta": r("o_delta_um_s"),
                    "kappa_delta": float(v["kappa_delta_um"]), "k_delta": float(v["k_delta_um"]),
                    "o_3k": r("o_3k_um_s"), "k_d": float(v["k_d_um"]), "k_3k": float(v["k_3k_um"]),
                    "omega_5p": r("omega_5p"), "omega_cc": r("omega_c_astro"), "omega_l": r("omega_l"),
                    "c_t": float(v["c_t_um"]), "rho_a": float(v["rho_a"]), "o_p": r("o_p_um_s"),
                    "k_p": float(v["k_p_um"]), "d_1": float(v["d_1_um"]), "d_2": float(v["d_2_um"]),
                    "d_3": float(v["d_3_um"]), "d_5": float(v["d_5_um"]), "o_2": r("o_2"), "f": r("f_um_s"),
                    "i_theta": float(v["i_theta_um"]), "omega_i": float(v["omega_i_um"])}
            return {"prm": np.array([vals[k] for k in PRM], np.float64),
                    "c_theta": float(v["c_theta_um"]), "omega_a": r("omega_a"), "omega_e": r("omega_e"),
                    "rel": float(v["rho_e"]) * float(v["g_t_um"]), "u_a": float(v["u_a"]),
                    "y_spk": float(v["y_per_spike_um"]), "act_gain": float(v["activity_gain"]),
                    "every": np.int64(max(1, int(round(float(v["update_every_ms"]) / dt)))),
                    "nsub": np.int64(int(v["rk4_substeps"]))}

        b.set_params(node, derive)
        v = node.values
        S = np.zeros((5, n), b.dtype)
        S[2] = b.value(node, "ip3_init_um", n)
        S[3] = np.minimum(b.value(node, "ca_init_um", n), float(v["c_t_um"]) / (1.0 + float(v["rho_a"])))
        S[4] = b.value(node, "h_init", n)
        b.buffer(nid, "S", S)
        b.buffer(nid, "x_a", np.array(np.broadcast_to(b.value(node, "x_a_init", n), (n,)), b.dtype))
        b.buffer(nid, "g_a", np.zeros(n, b.dtype))
        b.buffer(nid, "a", np.zeros(1, b.dtype))  # mean G_A: the scalar modulation a rule reads
        b.buffer(nid, "above", np.zeros(n, np.bool_))
        b.buffer(nid, "acc", np.zeros(n, b.dtype))
        b.buffer(nid, "W", np.zeros((25, n), b.dtype), "scratch")
        ptr, idx = neighbours(v["coupling"], n)
        b.buffer(nid, "nb_ptr", ptr, "const")
        b.buffer(nid, "nb_idx", np.ascontiguousarray(idx) if len(idx) else np.zeros(1, np.int64), "const")
        b.spikes(node, n)
        # rows of S as 1-D views, for monitor.state and streaming
        for k, name in enumerate(("y_s", "gamma_a", "ip3", "ca", "h")):
            b.buffer(nid, name, S[k], "view")
        from .astrocyte_base import wire_inputs

        drives, acts, reads, n_in = wire_inputs(node, b, n)
        avg = bool(v["average_inputs"])
        b.buffer(nid, "inv_nin", np.where((n_in > 0) & avg, 1.0 / np.maximum(n_in, 1), 1.0), "const")
        b.node_info[nid].update(n=n, state=list(State._fields), inputs={"y_in": [f"{p}.g" for p in drives]},
                                n_inputs=n_in.tolist())
        b.buffer(nid, "pend", np.zeros(n, np.int32), "scratch")
        b.buffer(nid, "npend", np.zeros(1, np.int64))
        # releases found at an astrocyte step are emitted as spikes at the start of the next neuron
        # step (the astrocyte phase runs after delivery, so spikes set there would reach no projection)
        b.step("stimulus", nid, "astrocyte.gchi.emit", sets=[f"{nid}.spk"], updates=[f"{nid}.npend"])
        b.step("astrocyte", nid, "astrocyte.gchi", reads=reads,
               updates=[f"{nid}.S", f"{nid}.x_a", f"{nid}.g_a", f"{nid}.acc", f"{nid}.npend", f"{nid}.a"], n=n,
               drives=tuple(drives), acts=tuple(acts))
        b.step("monitor", nid, "count", reads=[f"{nid}.spk"])

    @classmethod
    def stream(cls, node, sim, chunk) -> dict:
        B = sim.plan.buffers
        t = np.array([chunk.t_end_ms])
        return {k: {"t_ms": t, "y": np.array([float(B[f"{node.id}.{b_}"].mean())])}
                for k, b_ in (("ca", "ca"), ("ip3", "ip3"), ("g_a", "g_a"))}


@renderer("astrocyte.gchi")
def _render(step, ctx):
    nid = step.node
    a = step.attrs
    n = a["n"]
    B = lambda v: ctx.b(f"{nid}.{v}")  # noqa: E731
    P = lambda k: ctx.p(nid, k)  # noqa: E731
    acc = B("acc")
    lines = []
    from .astrocyte_base import input_lines

    lines += input_lines(ctx, a, n, acc, f"{P('y_spk')} * ", f"{P('y_spk')} * {P('act_gain')}")
    f = ctx.use(f"{__name__}:astro_step")
    every = P("every")
    lines += [f"if (t + 1) % {every} == 0:",
              f"    {B('npend')}[0] = {f}({B('S')}, {B('x_a')}, {B('g_a')}, {B('above')}, {acc}, {B('inv_nin')}, "
              f"{every} * dt, {P('nsub')}, {P('prm')}, {B('nb_ptr')}, {B('nb_idx')}, {B('W')}, {P('c_theta')}, "
              f"{P('omega_a')}, {P('omega_e')}, {P('rel')}, {P('u_a')}, {B('pend')})",
              f"    {B('a')}[0] = {B('g_a')}.mean()"]
    return lines


@renderer("astrocyte.gchi.emit")
def _render_emit(step, ctx):
    nid = step.node
    B = lambda v: ctx.b(f"{nid}.{v}")  # noqa: E731
    ns = ctx.ns(nid)
    return [f"{ns} = {B('npend')}[0]", f"for _k in range({ns}):", f"    {B('spk')}[_k] = {B('pend')}[_k]",
            f"{B('npend')}[0] = 0"]


_ = _IDX
