"""gallery/coba_measures.json: every analysis monitor streams values on COBA-4000."""
from __future__ import annotations

import numpy as np

from engine import Simulation, load_design


def test_every_analysis_monitor_reports_on_coba_4000():
    sim = Simulation(load_design("coba_measures"))
    streamed = set()
    sim.subscribe(lambda ch, s: streamed.update(ch.streams))
    sim.run(1000.0)
    mon = sim.summary()["monitors"]
    expect = {"act": "rate_hz", "ent": "entropy_bits", "lz": "population", "br": "nalsm", "dse": "dse_bits",
              "geo": "effective_rank"}
    assert streamed == set(expect)
    for mid, key in expect.items():
        assert mon[mid]["points"] >= 1 and np.isfinite(mon[mid][key]), (mid, mon[mid])
    assert 10 < mon["act"]["rate_hz"] < 40 and mon["dse"]["samples"] >= 500
