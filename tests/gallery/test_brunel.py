"""gallery/brunel.json against Brunel's (2000) mean-field theory and his known regimes.

The stationary rate of the sparse E/I network solves the self-consistency equation of the
diffusion approximation (Brunel 2000, eqs. 21-22; Amit & Brunel 1997):

    1/nu = tau_rp + tau sqrt(pi) int_{(V_r - mu)/sigma}^{(theta - mu)/sigma} e^{u^2} (1 + erf u) du
    mu = C_E J tau (nu_ext + nu (1 - g gamma)),  sigma = J sqrt(C_E tau (nu_ext + nu (1 + g^2 gamma)))

In the stationary state (g = 5, nu_ext/nu_thr = 2, Fig. 8C) the simulated rate must match
the theory within 3 %: J = 0.1 mV is small against theta - V_r = 10 mV (diffusion limit),
and 12 500 neurons over 0.4 s average the finite-size fluctuations to well below that.
"""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from scipy import integrate, optimize, special

from engine import Simulation
from tests.helpers import ROOT


def siegert(mu, sigma, tau=20.0, theta=20.0, vr=10.0, tref=2.0):
    lo, hi = (vr - mu) / sigma, (theta - mu) / sigma
    integral, _ = integrate.quad(lambda u: special.erfcx(-u), lo, hi, limit=200)  # e^{u^2}(1+erf u)
    return 1.0 / (tref + tau * np.sqrt(np.pi) * integral)


def brunel_rate_hz(g, eta, J=0.1, CE=1000, gamma=0.25, tau=20.0, theta=20.0):
    nu_ext = eta * theta / (J * CE * tau)

    def f(nu):
        mu = CE * J * tau * (nu_ext + nu * (1 - g * gamma))
        sig = J * np.sqrt(CE * tau * (nu_ext + nu * (1 + g * g * gamma)))
        return siegert(mu, sig) - nu

    return optimize.brentq(f, 1e-6, 0.4) * 1000.0


@pytest.fixture(scope="module")
def brunel_doc():
    return json.loads((ROOT / "gallery" / "brunel.json").read_text())


def with_g(doc, g):
    d = copy.deepcopy(doc)
    for nd in d["nodes"]:
        if nd["id"] in ("ie", "ii"):
            nd["data"]["weight_mv"] = -g * 0.1
    return d


def stats(sim, t0=100.0):
    t, i = sim.spikes("exc")
    keep = t >= t0
    t, i = t[keep], i[keep]
    counts = np.bincount(((t - t0) // 1.0).astype(int))
    order = np.lexsort((t, i))
    t, i = t[order], i[order]
    cvs = []
    for n in range(0, 10000, 25):
        x = np.diff(t[i == n])
        if len(x) >= 4:
            cvs.append(x.std() / x.mean())
    return counts.std() / counts.mean(), float(np.mean(cvs))


def test_ai_state_rate_matches_mean_field_theory(brunel_doc):
    sim = Simulation(brunel_doc)
    sim.run(400.0)
    want = brunel_rate_hz(5.0, 2.0)
    assert want == pytest.approx(37.95, abs=0.1)
    for pop in ("exc", "inh"):
        got = sim.summary()["populations"][pop]["rate_hz"]
        assert abs(got - want) < 0.03 * want, (pop, got, want)
    pop_cv, isi_cv = stats(sim)
    assert isi_cv > 0.25  # irregular single-neuron firing (theory: mean-driven, CV ~ 0.4)


def test_sr_state_is_synchronous_and_regular(brunel_doc):
    sim = Simulation(with_g(brunel_doc, 3.0))
    sim.run(400.0)
    rate = sim.summary()["populations"]["exc"]["rate_hz"]
    pop_cv, isi_cv = stats(sim)
    assert rate > 150  # neurons fire at high rates (Fig. 8A)
    assert isi_cv < 0.1  # regularly
    ai = Simulation(brunel_doc)
    ai.run(400.0)
    ai_pop_cv, ai_isi_cv = stats(ai)
    assert isi_cv < 0.25 * ai_isi_cv
