"""The run catalog: every recorded run and sweep point in one embedded SQLite file.

``Catalog(path=None)`` opens (creating if needed) ``path``: a ``.sqlite`` file, or a folder
that gets ``catalog.sqlite``; by default ``$GLIAFLOW_CATALOG``, else
``$GLIAFLOW_DATA_DIR/catalog.sqlite``, else the platform's user data folder. Recorded
arrays live next to it, in ``<stem>_data/<run uid>.npz``.

What a run row holds: kind (``run`` from the CLI, ``studio``, ``sweep`` for a sweep
point), status (``running``, ``done``, ``failed``, ``interrupted``), the design (stored once
per :func:`design_hash`, with its sidecar arrays), the parameters a sweep set
(``{"node.param": value}``), seed, backend, duration, dt, gliaflow version, git commit
(when the package runs from a git checkout), host, pid, start/end time, wall time (the
whole run, build included), the ``gliaflow run --json`` summary, flat summary measures
(:func:`summary_measures`: ``"E.rate_hz"``, ``"readout.test_accuracy"``, ``"br.nalsm"``, ...)
and the path of its data file. ``run_key`` is the hash of the design actually computed
(base design + parameters + seed + duration + backend): two runs with equal keys computed
the same thing, which is how a sweep skips finished points.

Consistency: WAL journal, ``busy_timeout``, every write one ``BEGIN IMMEDIATE``
transaction, data files written atomically *before* the transaction that references
them, so a crash leaves either the old or the new state, never a half-written row.
Schema version in ``PRAGMA user_version``. Each run row keeps the pid, host and process
start time of its writer; opening a catalog marks ``running`` rows of this host whose
process is gone as ``failed`` ("process gone"), and ``running`` sweeps as
``interrupted``. Concurrent writers (the studio and CLI runs, sweep drivers) each open
their own ``Catalog``; SQLite serialises their transactions. One ``Catalog`` object may be
shared by threads (a lock serialises its calls).

API for the studio (all return plain dicts/lists of JSON values unless said):

- recording: ``rec = cat.record(design, kind="studio")`` used as a context manager,
  ``rec.finish(sim)`` at the end (an exception marks the run failed, Ctrl-C interrupted);
  or ``run_id = cat.start_run(...)`` / ``cat.finish_run(run_id, sim=sim)``;
- reading: ``cat.runs(kind=, status=, sweep_id=, limit=)`` (newest first), ``cat.run(id)``
  (everything, design doc included), ``cat.design(id)`` (the :class:`Design` that ran),
  ``cat.data(id)`` / ``cat.traces(id)`` (recorded arrays, monitor traces by node id);
- comparing: ``cat.compare(ids)`` -> measure table and :func:`param_diff` of their designs;
- removing: ``cat.remove(ids)``, ``cat.remove_sweep(sweep_id)``;
- sweeps: ``cat.sweeps()``, ``cat.sweep(id)``, ``cat.sweep_points(id)`` (one row per point,
  with its measures once done); :mod:`engine.sweep` writes them.

The values a run row is made of (hashes, flat parameters and diffs, summary measures,
recorded arrays) are computed in :mod:`engine.run_data` and re-exported here.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Iterable

import numpy as np

from .design import Design, atomic_write_bytes, load_design
from .errors import GliaflowError
from .run_data import (_dumps, _proc_start, apply_params, compute_form, design_hash, flat_params, git_commit,
                       npz_bytes, package_version, param_diff, process_alive, sim_arrays, summary_measures)

__all__ = ["Catalog", "CatalogError", "RunRecord", "default_path", "apply_params", "compute_form", "design_hash",
           "flat_params", "param_diff", "summary_measures", "sim_arrays", "npz_bytes", "git_commit", "process_alive"]

SCHEMA = 1
DB_NAME = "catalog.sqlite"
STATUSES = ("running", "done", "failed", "interrupted")

_SCHEMA_SQL = """
CREATE TABLE designs(
  hash TEXT PRIMARY KEY, name TEXT, doc TEXT NOT NULL, arrays BLOB, created REAL NOT NULL);
CREATE TABLE sweeps(
  id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, name TEXT,
  design_hash TEXT NOT NULL REFERENCES designs(hash), spec TEXT NOT NULL, backend TEXT, duration_ms REAL,
  n_points INTEGER NOT NULL, status TEXT NOT NULL, scheduler TEXT, host TEXT, pid INTEGER, proc_start REAL,
  created REAL NOT NULL, updated REAL NOT NULL);
CREATE INDEX sweeps_key ON sweeps(key);
CREATE TABLE runs(
  id INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'interrupted')),
  design_hash TEXT NOT NULL REFERENCES designs(hash), design_name TEXT, run_key TEXT NOT NULL,
  params TEXT NOT NULL DEFAULT '{}', seed INTEGER, backend TEXT, duration_ms REAL, dt_ms REAL,
  version TEXT, git_commit TEXT, host TEXT, pid INTEGER, proc_start REAL,
  started REAL NOT NULL, finished REAL, wall_s REAL, sim_ms REAL,
  measures TEXT, summary TEXT, data_path TEXT, files TEXT, error TEXT, note TEXT,
  sweep_id INTEGER REFERENCES sweeps(id) ON DELETE SET NULL);
CREATE INDEX runs_key ON runs(run_key, status);
CREATE INDEX runs_sweep ON runs(sweep_id);
CREATE TABLE sweep_points(
  sweep_id INTEGER NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE, idx INTEGER NOT NULL,
  point_key TEXT NOT NULL, params TEXT NOT NULL, seed INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending', run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
  PRIMARY KEY (sweep_id, idx));
CREATE INDEX points_key ON sweep_points(point_key);
"""


class CatalogError(GliaflowError):
    """A catalog that cannot be opened or a run id that does not exist."""


def default_path() -> Path:
    """``$GLIAFLOW_CATALOG``, else ``catalog.sqlite`` in ``$GLIAFLOW_DATA_DIR`` or the user data folder."""
    env = os.environ.get("GLIAFLOW_CATALOG")
    if env:
        return Path(env)
    from .paths import user_dir
    return user_dir("data", "GLIAFLOW_DATA_DIR") / DB_NAME


# --- the catalog --------------------------------------------------------------------------------
_LIGHT = ("id", "uid", "kind", "status", "design_name", "design_hash", "run_key", "params", "seed", "backend",
          "duration_ms", "started", "finished", "wall_s", "sim_ms", "measures", "sweep_id", "error")


class Catalog:
    """An SQLite run catalog (see the module docstring)."""

    def __init__(self, path: str | os.PathLike | None = None, *, timeout_s: float = 60.0, recover: bool = True):
        p = Path(path) if path is not None else default_path()
        p = p.expanduser().absolute()
        if p.is_dir() or (not p.exists() and p.suffix == ""):
            p = p / DB_NAME
        p.parent.mkdir(parents=True, exist_ok=True)
        self.path = p
        self.data_dir = p.with_name(p.stem + "_data")
        self._lock = threading.RLock()
        try:
            self._con = sqlite3.connect(str(p), timeout=timeout_s, isolation_level=None, check_same_thread=False)
            self._con.row_factory = sqlite3.Row
            self._con.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute("PRAGMA synchronous=FULL")
            self._con.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as e:
            raise CatalogError(f"cannot open the run catalog {p}: {e}") from None
        if recover:
            self.recover()

    # --- plumbing -----------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Catalog({str(self.path)!r})"

    @contextlib.contextmanager
    def _tx(self):
        """One write transaction (``BEGIN IMMEDIATE``: waits for other writers, never upgrades)."""
        with self._lock:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                yield self._con
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")

    def _q(self, sql: str, args: Iterable = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._con.execute(sql, tuple(args)).fetchall()

    def _migrate(self) -> None:
        v = self._con.execute("PRAGMA user_version").fetchone()[0]
        if v == SCHEMA:
            return
        if v > SCHEMA:
            raise CatalogError(f"the run catalog {self.path} has schema {v}; this gliaflow reads up to {SCHEMA} "
                               "(upgrade gliaflow, or use another --catalog)")
        with self._tx() as con:
            if con.execute("PRAGMA user_version").fetchone()[0] == 0:  # another process may have just made it
                for stmt in _SCHEMA_SQL.split(";"):
                    if stmt.strip():
                        con.execute(stmt)
                con.execute(f"PRAGMA user_version={SCHEMA}")

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: "ok" for a sound file."""
        return self._q("PRAGMA integrity_check")[0][0]

    def data_file(self, uid: str) -> Path:
        return self.data_dir / f"{uid}.npz"

    def recover(self) -> list[int]:
        """Mark ``running`` runs of this host whose process is gone as failed (and such sweeps
        as interrupted); returns the run ids marked."""
        host = socket.gethostname()
        rows = self._q("SELECT id, uid, pid, proc_start FROM runs WHERE status='running' AND host=?", (host,))
        dead = [r for r in rows if not process_alive(r["pid"], r["proc_start"])]
        now = time.time()
        if dead:
            with self._tx() as con:
                for r in dead:
                    con.execute("UPDATE runs SET status='failed', finished=?, error=? WHERE id=? AND status='running'",
                                (now, f"process gone: pid {r['pid']} on {host} ended without finishing the run",
                                 r["id"]))
            for r in dead:  # a data file written just before the crash is referenced by nothing
                with contextlib.suppress(OSError):
                    self.data_file(r["uid"]).unlink()
        sw = self._q("SELECT id, pid, proc_start FROM sweeps WHERE status='running' AND host=?", (host,))
        gone = [r["id"] for r in sw if not process_alive(r["pid"], r["proc_start"])]
        if gone:
            with self._tx() as con:
                con.executemany("UPDATE sweeps SET status='interrupted', updated=? WHERE id=? AND status='running'",
                                [(now, i) for i in gone])
        return [r["id"] for r in dead]

    def _store_design(self, con, design: Design, h: str) -> None:
        arrays = npz_bytes(design.arrays) if design.arrays else None
        con.execute("INSERT OR IGNORE INTO designs(hash, name, doc, arrays, created) VALUES (?,?,?,?,?)",
                    (h, design.name, _dumps(design.doc), arrays, time.time()))

    # --- writing runs ------------------------------------------------------------------------------
    def start_run(self, design, *, kind: str = "run", params: dict | None = None, seed: int | None = None,
                  backend: str | None = None, duration_ms: float | None = None, sweep_id: int | None = None,
                  note: str | None = None) -> int:
        """Insert a ``running`` run (with this process' pid and host) and return its id."""
        base = load_design(design)
        eff = apply_params(base, params, seed=seed, duration_ms=duration_ms, backend=backend)
        m = eff.meta
        h = design_hash(base)
        uid = os.urandom(12).hex()
        with self._tx() as con:
            self._store_design(con, base, h)
            cur = con.execute(
                "INSERT INTO runs(uid, kind, status, design_hash, design_name, run_key, params, seed, backend, "
                "duration_ms, dt_ms, version, git_commit, host, pid, proc_start, started, note, sweep_id) "
                "VALUES (?,?,'running',?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (uid, kind, h, base.name, design_hash(eff), _dumps(params or {}), int(m.get("seed", 1)),
                 m.get("backend", "numba"), float(m.get("duration_ms", 1000.0)), float(m.get("dt_ms", 0.1)),
                 package_version(), git_commit(), socket.gethostname(), os.getpid(), _proc_start(), time.time(),
                 note, sweep_id))
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, *, sim=None, status: str | None = None, summary: dict | None = None,
                   measures: dict | None = None, data: dict | bytes | None = None, save: str = "all",
                   error: str | None = None, files: dict | None = None) -> None:
        """Close a run: status (default ``done``, or ``interrupted`` when ``sim`` was), summary and
        measures (from ``sim`` when given), data (arrays or npz bytes; from ``sim`` per ``save``:
        "all", "traces" or "none"), files written elsewhere (``{"nwb": path}``), error text."""
        row = self._q("SELECT uid, started, status FROM runs WHERE id=?", (run_id,))
        if not row:
            raise CatalogError(f"no run {run_id} in {self.path}")
        if sim is not None:
            summary = summary if summary is not None else sim.summary()
            if data is None:
                data = sim_arrays(sim, save)
            if status is None and getattr(sim, "interrupted", False):
                status = "interrupted"
        status = status or "done"
        if status not in STATUSES[1:]:
            raise ValueError(f"status {status!r}: use done, failed or interrupted")
        if measures is None and summary is not None:
            measures = summary_measures(summary)
        rel = self._write_data(row[0]["uid"], data)
        now = time.time()
        try:
            with self._tx() as con:
                con.execute("UPDATE runs SET status=?, finished=?, wall_s=?, sim_ms=?, measures=?, summary=?, "
                            "data_path=?, files=?, error=? WHERE id=?",
                            (status, now, now - row[0]["started"], (summary or {}).get("sim_ms"),
                             _dumps(measures) if measures is not None else None,
                             _dumps(summary) if summary is not None else None, rel,
                             _dumps(files) if files else None, error, run_id))
        except BaseException:
            if rel:
                with contextlib.suppress(OSError):
                    (self.data_dir / rel).unlink()
            raise

    def _write_data(self, uid: str, data) -> str | None:
        if data is None or (isinstance(data, dict) and not data):
            return None
        raw = data if isinstance(data, (bytes, bytearray)) else npz_bytes(data)
        atomic_write_bytes(self.data_file(uid), bytes(raw))
        return self.data_file(uid).name

    def record(self, design, **kw) -> "RunRecord":
        """``with cat.record(design, kind="studio") as rec: ...; rec.finish(sim)``: a run row that
        ends ``done`` (``finish``), ``failed`` (an exception) or ``interrupted`` (Ctrl-C)."""
        return RunRecord(self, self.start_run(design, **kw))

    def add_run(self, design, *, kind: str = "sweep", params: dict | None = None, seed: int | None = None,
                backend: str | None = None, duration_ms: float | None = None, status: str = "done",
                started: float | None = None, finished: float | None = None, summary: dict | None = None,
                measures: dict | None = None, data: dict | bytes | None = None, error: str | None = None,
                host: str | None = None, pid: int | None = None, sweep_id: int | None = None,
                point_idx: int | None = None) -> int:
        """Insert a finished run in one transaction (a sweep point computed elsewhere); when
        ``sweep_id``/``point_idx`` are given, that sweep point is linked to it."""
        base = load_design(design)
        eff = apply_params(base, params, seed=seed, duration_ms=duration_ms, backend=backend)
        m = eff.meta
        h = design_hash(base)
        uid = os.urandom(12).hex()
        if measures is None and summary is not None:
            measures = summary_measures(summary)
        started = started if started is not None else time.time()
        finished = finished if finished is not None else time.time()
        rel = self._write_data(uid, data)
        try:
            with self._tx() as con:
                self._store_design(con, base, h)
                cur = con.execute(
                    "INSERT INTO runs(uid, kind, status, design_hash, design_name, run_key, params, seed, backend, "
                    "duration_ms, dt_ms, version, git_commit, host, pid, started, finished, wall_s, sim_ms, measures, "
                    "summary, data_path, error, sweep_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (uid, kind, status, h, base.name, design_hash(eff), _dumps(params or {}), int(m.get("seed", 1)),
                     m.get("backend", "numba"), float(m.get("duration_ms", 1000.0)), float(m.get("dt_ms", 0.1)),
                     package_version(), git_commit(), host or socket.gethostname(), pid, started, finished,
                     finished - started, (summary or {}).get("sim_ms"),
                     _dumps(measures) if measures is not None else None,
                     _dumps(summary) if summary is not None else None, rel, error, sweep_id))
                rid = int(cur.lastrowid)
                if sweep_id is not None and point_idx is not None:
                    con.execute("UPDATE sweep_points SET run_id=?, status=? WHERE sweep_id=? AND idx=?",
                                (rid, "done" if status == "done" else "failed", sweep_id, point_idx))
                    con.execute("UPDATE sweeps SET updated=? WHERE id=?", (time.time(), sweep_id))
                return rid
        except BaseException:
            if rel:
                with contextlib.suppress(OSError):
                    (self.data_dir / rel).unlink()
            raise

    def remove(self, run_ids: Iterable[int]) -> int:
        """Delete runs and their data files; sweep points they held become pending again."""
        ids = [int(i) for i in run_ids]
        rows = [r for i in ids for r in self._q("SELECT id, uid, data_path FROM runs WHERE id=?", (i,))]
        missing = sorted(set(ids) - {r["id"] for r in rows})
        if missing:
            raise CatalogError(f"no run {', '.join(map(str, missing))} in {self.path}")
        with self._tx() as con:
            for r in rows:
                con.execute("UPDATE sweep_points SET run_id=NULL, status='pending' WHERE run_id=?", (r["id"],))
                con.execute("DELETE FROM runs WHERE id=?", (r["id"],))
        for r in rows:
            if r["data_path"]:
                with contextlib.suppress(OSError):
                    (self.data_dir / r["data_path"]).unlink()
        return len(rows)

    # --- reading runs ------------------------------------------------------------------------------
    @staticmethod
    def _light(r: sqlite3.Row) -> dict:
        d = {k: r[k] for k in _LIGHT}
        d["params"] = json.loads(d["params"] or "{}")
        d["measures"] = json.loads(d["measures"]) if d["measures"] else {}
        return d

    def runs(self, *, kind: str | None = None, status: str | None = None, sweep_id: int | None = None,
             limit: int | None = None) -> list[dict]:
        """Runs, newest first: id, kind, status, design name and hash, params, seed, backend,
        duration, times, measures, sweep id, error."""
        where, args = [], []
        for col, v in (("kind", kind), ("status", status), ("sweep_id", sweep_id)):
            if v is not None:
                where.append(f"{col}=?")
                args.append(v)
        sql = f"SELECT {', '.join(_LIGHT)} FROM runs" + (f" WHERE {' AND '.join(where)}" if where else "")
        sql += " ORDER BY id DESC" + (f" LIMIT {int(limit)}" if limit else "")
        return [self._light(r) for r in self._q(sql, args)]

    def run(self, run_id: int) -> dict:
        """Everything about a run: the light fields plus version, git commit, host, pid, summary,
        the design document (``design``), files and the absolute ``data_path``."""
        rows = self._q("SELECT r.*, d.doc AS design_doc FROM runs r JOIN designs d ON d.hash = r.design_hash "
                       "WHERE r.id=?", (int(run_id),))
        if not rows:
            raise CatalogError(f"no run {run_id} in {self.path}")
        r = rows[0]
        d = self._light(r)
        d.update(version=r["version"], git_commit=r["git_commit"], host=r["host"], pid=r["pid"], dt_ms=r["dt_ms"],
                 note=r["note"], summary=json.loads(r["summary"]) if r["summary"] else None,
                 files=json.loads(r["files"]) if r["files"] else {}, design=json.loads(r["design_doc"]),
                 data_path=str(self.data_dir / r["data_path"]) if r["data_path"] else None)
        return d

    def design(self, run_id: int, effective: bool = True) -> Design:
        """The run's design with its sidecar arrays; ``effective``: with the run's parameters,
        seed, duration and backend written in (what ran)."""
        rows = self._q("SELECT d.doc, d.arrays, r.params, r.seed, r.duration_ms, r.backend FROM runs r "
                       "JOIN designs d ON d.hash = r.design_hash WHERE r.id=?", (int(run_id),))
        if not rows:
            raise CatalogError(f"no run {run_id} in {self.path}")
        r = rows[0]
        arrays = {}
        if r["arrays"] is not None:
            with np.load(io.BytesIO(r["arrays"]), allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        d = Design(json.loads(r["doc"]), arrays)
        if effective:
            d = apply_params(d, json.loads(r["params"]), seed=r["seed"], duration_ms=r["duration_ms"],
                             backend=r["backend"])
        return d

    def data(self, run_id: int) -> dict[str, np.ndarray]:
        """The run's recorded arrays (empty when it kept none)."""
        path = self.run(run_id)["data_path"]
        if not path or not Path(path).exists():
            return {}
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    def traces(self, run_id: int) -> dict[str, dict[str, np.ndarray]]:
        """Recorded traces by node id: ``{"readout": {"t_ms", "test_accuracy", ...}, "E_bf": {...},
        "E": {"t_ms", "hz"} (binned population rate)}``."""
        out: dict[str, dict[str, np.ndarray]] = {}
        for k, v in self.data(run_id).items():
            parts = k.split("/")
            if len(parts) == 3 and parts[0] in ("monitors", "rates"):
                out.setdefault(parts[1], {})[parts[2]] = v
        return out

    def compare(self, run_ids: list[int], measures: list[str] | None = None) -> dict:
        """Runs side by side: ``{"runs": [light rows], "measures": {name: [value per run]},
        "params": {path: [value per run]}}`` (only differing parameters; measures default to
        every one any of them has)."""
        runs = [self.run(i) for i in run_ids]
        names = list(measures or [])
        if not names:
            for r in runs:
                names += [k for k in r["measures"] if k not in names]
        table = {k: [r["measures"].get(k) for r in runs] for k in names}
        diff = param_diff([self.design(r["id"]).doc for r in runs])
        return {"runs": [{k: r[k] for k in _LIGHT} for r in runs], "measures": table, "params": diff}

    # --- sweeps ------------------------------------------------------------------------------------
    def open_sweep(self, design, spec: dict, points: list, *, key: str, fresh: bool = False,
                   scheduler: str | None = None, backend: str | None = None,
                   duration_ms: float | None = None) -> int:
        """The sweep row for ``key`` (the newest one, unless ``fresh``), created with its point rows
        if needed, marked running by this process. ``points``: objects with ``idx``, ``key``,
        ``params``, ``seed``. Unless ``fresh``, every pending point whose key matches a finished
        run anywhere in the catalog is linked to that run (it is not computed again)."""
        base = load_design(design)
        h = design_hash(base)
        now = time.time()
        with self._tx() as con:
            self._store_design(con, base, h)
            row = None if fresh else con.execute("SELECT id, status, host, pid, proc_start FROM sweeps WHERE key=? "
                                                 "ORDER BY id DESC LIMIT 1", (key,)).fetchone()
            if (row is not None and row["status"] == "running" and row["host"] == socket.gethostname()
                    and row["pid"] != os.getpid() and process_alive(row["pid"], row["proc_start"])):
                raise CatalogError(f"sweep {row['id']} of this design is running in process {row['pid']}; wait for "
                                   "it, or stop it (finished points are kept) and run again")
            if row is None:
                cur = con.execute(
                    "INSERT INTO sweeps(key, name, design_hash, spec, backend, duration_ms, n_points, status, "
                    "scheduler, host, pid, proc_start, created, updated) VALUES (?,?,?,?,?,?,?,'running',?,?,?,?,?,?)",
                    (key, base.name, h, _dumps(spec), backend, duration_ms, len(points), scheduler,
                     socket.gethostname(), os.getpid(), _proc_start(), now, now))
                sid = int(cur.lastrowid)
                con.executemany("INSERT INTO sweep_points(sweep_id, idx, point_key, params, seed) VALUES (?,?,?,?,?)",
                                [(sid, p.idx, p.key, _dumps(p.params), p.seed) for p in points])
            else:
                sid = int(row["id"])
                con.execute("UPDATE sweeps SET status='running', scheduler=?, host=?, pid=?, proc_start=?, updated=? "
                            "WHERE id=?", (scheduler, socket.gethostname(), os.getpid(), _proc_start(), now, sid))
            if not fresh:
                con.execute(
                    "UPDATE sweep_points SET status='done', run_id=(SELECT r.id FROM runs r WHERE "
                    "r.run_key = sweep_points.point_key AND r.status='done' ORDER BY r.id DESC LIMIT 1) "
                    "WHERE sweep_id=? AND status!='done' AND EXISTS (SELECT 1 FROM runs r WHERE "
                    "r.run_key = sweep_points.point_key AND r.status='done')", (sid,))
        return sid

    def set_sweep_status(self, sweep_id: int, status: str) -> None:
        with self._tx() as con:
            con.execute("UPDATE sweeps SET status=?, updated=? WHERE id=?", (status, time.time(), sweep_id))

    def sweeps(self) -> list[dict]:
        """Sweeps, newest first, with point counts by status."""
        rows = self._q("SELECT s.id, s.name, s.design_hash, s.status, s.n_points, s.scheduler, s.created, s.updated, "
                       "SUM(p.status='done') AS done, SUM(p.status='failed') AS failed "
                       "FROM sweeps s LEFT JOIN sweep_points p ON p.sweep_id = s.id GROUP BY s.id ORDER BY s.id DESC")
        return [dict(r) | {"done": int(r["done"] or 0), "failed": int(r["failed"] or 0)} for r in rows]

    def sweep(self, sweep_id: int) -> dict:
        """A sweep row: name, key, design hash, spec (the design's ``sweep`` object as run),
        status, point counts, scheduler, times."""
        rows = self._q("SELECT * FROM sweeps WHERE id=?", (int(sweep_id),))
        if not rows:
            raise CatalogError(f"no sweep {sweep_id} in {self.path}")
        d = dict(rows[0])
        d["spec"] = json.loads(d["spec"])
        counts = dict(self._q("SELECT status, COUNT(*) FROM sweep_points WHERE sweep_id=? GROUP BY status",
                              (int(sweep_id),)))
        d.update(done=int(counts.get("done", 0)), failed=int(counts.get("failed", 0)),
                 pending=int(counts.get("pending", 0)))
        return d

    def sweep_points(self, sweep_id: int) -> list[dict]:
        """One row per point, in sweep order: idx, point_key, params, seed, status, run_id and,
        for finished points, measures, wall_s, error."""
        rows = self._q("SELECT p.idx, p.point_key, p.params, p.seed, p.status, p.run_id, r.measures, r.wall_s, "
                       "r.error FROM sweep_points p LEFT JOIN runs r ON r.id = p.run_id WHERE p.sweep_id=? "
                       "ORDER BY p.idx", (int(sweep_id),))
        return [{"idx": r["idx"], "point_key": r["point_key"], "params": json.loads(r["params"]), "seed": r["seed"],
                 "status": r["status"], "run_id": r["run_id"],
                 "measures": json.loads(r["measures"]) if r["measures"] else {}, "wall_s": r["wall_s"],
                 "error": r["error"]} for r in rows]

    def remove_sweep(self, sweep_id: int, runs: bool = True) -> int:
        """Delete a sweep with its point rows and (``runs``) the runs it computed; returns the
        number of runs deleted."""
        self.sweep(sweep_id)
        ids = [r["id"] for r in self._q("SELECT id FROM runs WHERE sweep_id=?", (int(sweep_id),))] if runs else []
        n = self.remove(ids) if ids else 0
        with self._tx() as con:
            con.execute("DELETE FROM sweep_points WHERE sweep_id=?", (int(sweep_id),))
            con.execute("DELETE FROM sweeps WHERE id=?", (int(sweep_id),))
        return n


class RunRecord:
    """A run being recorded (from :meth:`Catalog.record`)."""

    def __init__(self, catalog: Catalog, run_id: int):
        self.catalog, self.id, self.finished = catalog, run_id, False

    def finish(self, sim=None, **kw) -> None:
        """Close the run (see :meth:`Catalog.finish_run`)."""
        self.catalog.finish_run(self.id, sim=sim, **kw)
        self.finished = True

    def __enter__(self) -> "RunRecord":
        return self

    def __exit__(self, typ, exc, tb) -> bool:
        if self.finished:
            return False
        if typ is None:
            self.finish()
        else:
            status = "interrupted" if issubclass(typ, KeyboardInterrupt) else "failed"
            self.finish(status=status, error=f"{typ.__name__}: {exc}")
        return False
