"""Bounded in-memory stores for recorded data (newest kept), with optional disk spill."""
from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np


class SpikeStore:
    """Spike events (step, index, count) in chunks; keeps at most ``max_events`` newest."""

    def __init__(self, max_events: int, multi: bool, spill_dir: str = "", name: str = ""):
        self.max_events = int(max_events)
        self.multi = multi
        self.chunks: deque = deque()
        self.n = 0
        self.dropped = 0
        self.total = 0
        self.spill = Path(spill_dir) / name if spill_dir else None
        if self.spill is not None:
            self.spill.parent.mkdir(parents=True, exist_ok=True)

    def add(self, t: np.ndarray, i: np.ndarray, c: np.ndarray | None) -> None:
        if len(t) == 0:
            return
        self.chunks.append((t, i, c))
        self.n += len(t)
        self.total += len(t)
        if self.spill is not None:
            for suffix, a in (("t.i64", t), ("i.i32", i)) + ((("c.i32", c),) if c is not None else ()):
                with open(f"{self.spill}.{suffix}", "ab") as f:
                    f.write(np.ascontiguousarray(a).tobytes())
        while self.n > self.max_events and self.chunks:
            t0, i0, c0 = self.chunks[0]
            extra = self.n - self.max_events
            if len(t0) <= extra:
                self.chunks.popleft()
                self.n -= len(t0)
                self.dropped += len(t0)
            else:
                self.chunks[0] = (t0[extra:], i0[extra:], None if c0 is None else c0[extra:])
                self.n -= extra
                self.dropped += extra

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        if not self.chunks:
            return np.zeros(0, np.int64), np.zeros(0, np.int32), (np.zeros(0, np.int32) if self.multi else None)
        t = np.concatenate([c[0] for c in self.chunks])
        i = np.concatenate([c[1] for c in self.chunks])
        c = np.concatenate([c[2] for c in self.chunks]) if self.multi else None
        return t, i, c

    def clear(self) -> None:
        self.chunks.clear()
        self.n = self.dropped = self.total = 0


class RowStore:
    """Sampled rows (step, values); keeps at most ``max_rows`` newest rows."""

    def __init__(self, max_rows: int, width: int):
        self.max_rows = int(max_rows)
        self.width = width
        self.chunks: deque = deque()
        self.n = 0

    def add(self, steps: np.ndarray, rows: np.ndarray) -> None:
        if len(steps) == 0:
            return
        self.chunks.append((steps, rows))
        self.n += len(steps)
        while self.n > self.max_rows and self.chunks:
            s0, r0 = self.chunks[0]
            extra = self.n - self.max_rows
            if len(s0) <= extra:
                self.chunks.popleft()
                self.n -= len(s0)
            else:
                self.chunks[0] = (s0[extra:], r0[extra:])
                self.n -= extra

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.chunks:
            return np.zeros(0, np.int64), np.zeros((0, self.width))
        return np.concatenate([c[0] for c in self.chunks]), np.concatenate([c[1] for c in self.chunks])

    def clear(self) -> None:
        self.chunks.clear()
        self.n = 0
