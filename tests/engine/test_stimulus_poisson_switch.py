"""``stimulus.poisson_switch``: stimulus.poisson's trains at rate_hz, then at rate_after_hz."""
from __future__ import annotations

import numpy as np
import pytest

from engine import Simulation
from tests.helpers import design, node


def spikes(type_key, dur_ms=400.0, dt_ms=0.1, **data):
    d = design([node("p", type_key, **data), node("m", "monitor.spikes")], [("p.spikes", "m.spikes")],
               dt_ms=dt_ms, seed=3)
    sim = Simulation(d)
    sim.run(dur_ms)
    return sim.spikes("m")


@pytest.mark.parametrize("process", ["poisson", "bernoulli"])
def test_before_and_after_the_switch_it_is_stimulus_poisson_at_each_rate(process):
    """Same node id, seed and keyed draws: before switch_ms the trains are stimulus.poisson's
    at rate_hz, from the first step at or after switch_ms those at rate_after_hz, exactly."""
    sw = 150.05  # not on the grid: the switch happens at step ceil(1500.5) = 1501
    t, i = spikes("stimulus.poisson_switch", n=50, rate_hz=30.0, rate_after_hz=120.0, switch_ms=sw, process=process)
    ta, ia = spikes("stimulus.poisson", n=50, rate_hz=30.0, process=process)
    tb, ib = spikes("stimulus.poisson", n=50, rate_hz=120.0, process=process)
    edge = 150.1
    for (x, y), (xr, yr), keep in (((t, i), (ta, ia), lambda s: s < edge - 1e-9),
                                   ((t, i), (tb, ib), lambda s: s >= edge - 1e-9)):
        np.testing.assert_array_equal(x[keep(x)], xr[keep(xr)])
        np.testing.assert_array_equal(y[keep(x)], yr[keep(xr)])
    assert np.sum(t >= edge - 1e-9) > 2 * np.sum(t < edge - 1e-9)


def test_rates_step_at_the_switch():
    """500 sources, 10 Hz for 2 s then 40 Hz for 2 s: 10 000 and 40 000 expected spikes
    (Poisson sd 100 and 200), so 3 % is > 3 sd."""
    t, _ = spikes("stimulus.poisson_switch", dur_ms=4000.0, n=500, rate_hz=10.0, rate_after_hz=40.0,
                  switch_ms=2000.0)
    before, after = np.sum(t < 2000.0) / 500 / 2.0, np.sum(t >= 2000.0) / 500 / 2.0
    assert abs(before - 10.0) < 0.3 and abs(after - 40.0) < 1.2, (before, after)


def test_rate_distributions_and_a_switch_to_silence():
    """Per-source rates may be distributions; a switch to 0 Hz silences every source."""
    t, i = spikes("stimulus.poisson_switch", dur_ms=1000.0, n=200,
                  rate_hz={"dist": "uniform", "low": 20.0, "high": 60.0}, rate_after_hz=0.0, switch_ms=500.0)
    assert len(t) > 1000 and t.max() < 500.0
