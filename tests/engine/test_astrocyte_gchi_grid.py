"""astrocyte.gchi's 'grid' gap-junction coupling (Stimberg et al. 2019, example 6: astrocytes
on a square lattice, each coupled to the partners closer than 75 um on a 67-um lattice,
i.e. its 4 nearest neighbours)."""
from __future__ import annotations

import numpy as np

from components.astrocyte_gchi import neighbours
from engine import Simulation
from tests.engine.test_astrocyte_gchi import gchi_design


def partners(n):
    ptr, idx = neighbours("grid", n)
    return [sorted(idx[ptr[i]:ptr[i + 1]].tolist()) for i in range(n)]


def test_grid_partners_are_the_4_nearest_lattice_neighbours():
    nb = partners(100)  # 10 x 10
    deg = np.array([len(x) for x in nb])
    assert sorted(np.bincount(deg).tolist()) == [0, 0, 4, 32, 64]  # 4 corners, 32 edges, 64 inside
    assert nb[0] == [1, 10] and nb[9] == [8, 19] and nb[55] == [45, 54, 56, 65] and nb[99] == [89, 98]
    for n in (1, 2, 3, 5, 10, 37):  # width ceil(sqrt(n)), the last row partial; always symmetric
        nb = partners(n)
        w = int(np.ceil(np.sqrt(n)))
        for i in range(n):
            for j in nb[i]:
                assert i in nb[j]
                (ri, ci), (rj, cj) = divmod(i, w), divmod(j, w)
                assert abs(ri - rj) + abs(ci - cj) == 1
    assert partners(5) == [[1, 3], [0, 2, 4], [1], [0, 4], [1, 3]]


def test_grid_of_4_is_the_ring_relabelled():
    """A 2 x 2 grid is a ring of 4 visited 0, 1, 3, 2: with astrocyte 0 driven at 2 Hz
    (Y_S +4.5 uM per spike) for 20 s, grid astrocytes 1, 3, 2 follow ring astrocytes 1, 2, 3
    (the ring is checked against solve_ivp in test_astrocyte_gchi.py) up to the summation
    order of the coupling terms (allowed 1e-9 uM). Against uncoupled astrocytes, the
    partners of 0 move by tenths of a uM of IP3 (measured 0.23), the diagonal one only
    through them (measured 0.0018)."""
    T = 20_000.0
    runs = {}
    for c in ("grid", "ring", "none"):
        sim = Simulation(gchi_design(n=4, coupling=c, T=T))
        sim.run(T)
        runs[c] = sim.state("m")
    for name in ("gamma_a", "ip3", "ca", "h", "g_a"):
        err = np.abs(runs["grid"][name] - runs["ring"][name][:, [0, 1, 3, 2]]).max()
        assert err < 1e-9, (name, err)
    dev = np.abs(runs["grid"]["ip3"] - runs["none"]["ip3"]).max(axis=0)
    assert dev[1] == dev[2] and dev[1] > 0.1
    assert 1e-4 < dev[3] < 0.1 * dev[1]
