"""Benchmark networks as gliaflow designs (the gallery COBA scaled to N at in-degree 80)."""
from __future__ import annotations

import json
from importlib import resources


def coba(n: int = 4000, seed: int = 1) -> dict:
    d = json.loads((resources.files("gallery") / "coba.json").read_text())
    d["meta"]["seed"] = seed
    d["meta"]["name"] = f"coba{n}"
    ne = int(round(n * 0.8))
    keep = []
    for nd in d["nodes"]:
        if nd["id"] == "exc":
            nd["data"]["n"] = ne
        elif nd["id"] == "inh":
            nd["data"]["n"] = n - ne
        elif nd["type"] == "projection.synapses":
            nd["data"]["p"] = min(1.0, 80.0 / n)
        if nd["type"] == "monitor.state":
            continue  # benchmarks time the network, not a voltage recorder
        keep.append(nd)
    d["nodes"] = keep
    ids = {nd["id"] for nd in keep}
    d["edges"] = [e for e in d["edges"] if e["source"] in ids and e["target"] in ids]
    return d
