"""Export a simulation's recordings to NWB (Neurodata Without Borders) with pynwb.

What goes in:
- ``units``: one unit per neuron of every population watched by a ``monitor.spikes``, with
  its spike times (s) and the columns ``population`` and ``neuron`` (index in the population);
- processing module ``gliaflow``: a ``TimeSeries`` per ``monitor.state`` variable
  (``<monitor>.<variable>``, samples × recorded neurons), per analysis-monitor trace
  (``<monitor>.<trace>``) and per ``monitor.weights`` (``<monitor>.weights``,
  snapshots × recorded synapses), all with timestamps in seconds;
- the design JSON in ``notes``, so the file says which network produced it.

``pynwb`` is imported only here (it is an optional dependency: ``pip install gliaflow[nwb]``).
"""
from __future__ import annotations

import datetime as _dt
import os
import tempfile
import uuid
from pathlib import Path

import numpy as np

STATE_UNITS = {"v": "mV", "g_exc": "g_leak", "g_inh": "g_leak", "w": "pA", "u": "mV"}


def _require_pynwb():
    try:
        import pynwb  # noqa: F401
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise RuntimeError("NWB export needs pynwb: pip install 'gliaflow[nwb]'") from e


def build_nwbfile(sim):
    """An in-memory ``pynwb.NWBFile`` with the simulation's recordings."""
    _require_pynwb()
    from pynwb import NWBFile, TimeSeries

    f = NWBFile(session_description=f"gliaflow simulation of design '{sim.design.name}' "
                                    f"({sim.t_ms:.1f} ms, dt {sim.dt} ms, seed {sim.seed}, backend {sim.backend})",
                identifier=str(uuid.uuid4()), session_start_time=_dt.datetime.now(_dt.timezone.utc),
                notes=sim.design.to_json(indent=None), source_script="gliaflow", source_script_file_name="gliaflow")
    spike_recs = [r for r in sim.plan.recorders if r.kind == "spikes" and r.info.get("keep", True)]
    if spike_recs:
        f.add_unit_column("population", "the population (node id) this neuron belongs to")
        f.add_unit_column("neuron", "index of the neuron in its population")
        seen = set()
        for r in spike_recs:
            pop = r.info["source"]
            if pop in seen:
                continue
            seen.add(pop)
            t, i = sim.spikes(r.node)
            order = np.argsort(i, kind="stable")
            t, i = t[order] * 1e-3, i[order]
            bounds = np.searchsorted(i, np.arange(r.info["n_src"] + 1))
            for k in range(r.info["n_src"]):
                f.add_unit(spike_times=t[bounds[k]:bounds[k + 1]], population=pop, neuron=k)
    mod = f.create_processing_module("gliaflow", "monitor recordings of the gliaflow simulation")
    python_monitors = {n.id: n for n in sim.graph.nodes.values() if getattr(n.type, "final", None) is not None}
    for r in sim.plan.recorders:
        if r.node in python_monitors:
            continue
        if r.kind == "state":
            d = sim.state(r.node)
            ts = np.asarray(d["t_ms"], float) * 1e-3
            for var in r.info["variables"]:
                mod.add(TimeSeries(name=f"{r.node}.{var}", data=np.asarray(d[var], float), timestamps=ts,
                                   unit=STATE_UNITS.get(var, "model units"),
                                   description=f"{var} of neurons {list(map(int, d['neurons']))} of {r.info['source']}"))
        elif r.kind == "weights":
            tt, W = sim.weights(r.node)
            if len(tt):
                mod.add(TimeSeries(name=f"{r.node}.weights", data=np.asarray(W, float), timestamps=tt * 1e-3,
                                   unit="weight", description=f"weights of {r.info['source']} (synapse subset "
                                                              f"of {len(r.info['subset'])})"))
    for nid, node in python_monitors.items():
        if getattr(node.type, "arrays", None) is None:
            continue
        arrs = node.type.arrays(node, sim)
        t = np.asarray(arrs.get("t_ms", []), float) * 1e-3
        for name, val in arrs.items():
            if name == "t_ms":
                continue
            val = np.asarray(val, float)
            if len(t) and len(val) == len(t):
                mod.add(TimeSeries(name=f"{nid}.{name}", data=val, timestamps=t, unit="a.u.",
                                   description=f"{name} from {node.key} '{nid}'"))
            else:  # e.g. the latest singular-value spectrum
                mod.add(TimeSeries(name=f"{nid}.{name}", data=val, timestamps=np.arange(len(val), dtype=float),
                                   unit="a.u.", description=f"{name} from {node.key} '{nid}' at the end of the run "
                                                            "(timestamps are indices)"))
    return f


def save_nwb(sim, path) -> None:
    """Write the simulation's recordings to ``path`` (atomically: temporary file, then rename)."""
    _require_pynwb()
    from pynwb import NWBHDF5IO

    path = Path(path)
    f = build_nwbfile(sim)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp.nwb", dir=str(path.parent or "."))
    os.close(fd)
    try:
        with NWBHDF5IO(tmp, "w") as io:
            io.write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def nwb_bytes(sim) -> bytes:
    """The NWB file as bytes (the studio's download)."""
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "results.nwb"
        save_nwb(sim, p)
        return p.read_bytes()
