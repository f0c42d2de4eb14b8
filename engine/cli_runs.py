"""The catalog and sweep commands of the ``gliaflow`` CLI: ``sweep``, ``runs list|show|compare|rm|sweeps``,
and the ``--record`` side of ``gliaflow run`` (see engine/cli.py for exit codes)."""
from __future__ import annotations

import json
import os
import sys
import time

EXIT_OK, EXIT_DESIGN, EXIT_DIVERGED, EXIT_INCOMPLETE, EXIT_INTERRUPTED = 0, 2, 3, 4, 130


def _eprint(*a):
    print(*a, file=sys.stderr)


def _when(t) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"


def _short(params: dict) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


# --- gliaflow run --record ---------------------------------------------------------------------------
class CliRecord:
    """The catalog row of one ``gliaflow run --record``: opened once the design is built,
    closed with the run's outcome (an exception marks it failed, Ctrl-C interrupted)."""

    def __init__(self, args):
        self.args, self.cat, self.run_id, self.error, self.closed = args, None, None, None, False

    def start(self, sim, duration_ms: float) -> None:
        from .catalog import Catalog
        from .design import load_design
        self.cat = Catalog(self.args.catalog)
        self.run_id = self.cat.start_run(load_design(self.args.design), kind="run", seed=sim.seed,
                                         duration_ms=duration_ms, backend=sim.backend)

    def finish(self, sim, code: int) -> None:
        if self.run_id is None or self.closed:
            return
        status = {EXIT_DIVERGED: "failed", EXIT_INTERRUPTED: "interrupted"}.get(code, "done")
        a = self.args
        files = {k: os.path.abspath(v) for k, v in (("npz", a.out), ("nwb", a.nwb),
                                                    ("state", getattr(a, "save_state", None))) if v}
        self.cat.finish_run(self.run_id, sim=sim, status=status, error=self.error, files=files, save=a.record_data)
        self.closed = True
        if not a.quiet:
            _eprint(f"gliaflow: recorded run {self.run_id} in {self.cat.path}")

    def fail(self, exc: BaseException) -> None:
        if self.run_id is None or self.closed:
            return
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        self.cat.finish_run(self.run_id, status=status, error=f"{type(exc).__name__}: {exc}")
        self.closed = True


def add_run_options(r) -> None:
    import argparse
    r.add_argument("--record", action=argparse.BooleanOptionalAction, default=False,
                   help="record the run in the run catalog (--no-record: don't; default off)")
    r.add_argument("--catalog", default=None, metavar="PATH",
                   help="run catalog (.sqlite file or folder; default $GLIAFLOW_CATALOG or the user data folder)")
    r.add_argument("--record-data", default="all", choices=["all", "traces", "none"],
                   help="what --record keeps next to the catalog: all (spikes, traces), traces, none (default all)")


# --- gliaflow sweep --------------------------------------------------------------------------------
def cmd_sweep(args) -> int:
    from .catalog import Catalog
    from .sweep import Sweep
    from .sweep_report import aggregate, format_rows, sweep_rows, write_rows

    cat = Catalog(args.catalog)
    sw = Sweep(args.design, catalog=cat, scheduler=args.scheduler, workers=args.workers, resume=not args.fresh,
               retries=args.retries)
    n = len(sw.points)
    where = args.scheduler or f"a local Dask cluster ({args.workers or os.cpu_count()} worker processes at most)"
    if not args.quiet:
        axes = "; ".join(f"{a.path} x{len(a.grid()) if sw.spec.mode == 'grid' else '?'}" for a in sw.spec.axes)
        _eprint(f"gliaflow: sweep '{sw.design.name}': {n} points ({axes}; seeds {list(sw.spec.seeds)}; "
                f"{sw.spec.duration_ms:g} ms each) on {where}; catalog {cat.path}")
    bar = None
    if not args.quiet:
        from tqdm import tqdm
        bar = tqdm(total=n, unit="point", file=sys.stderr, dynamic_ncols=True)

    def progress(done, total):
        if bar is not None:
            bar.update(done - bar.n)

    def on_point(pr):
        if pr.status != "done" and not args.quiet:
            msg = f"gliaflow: point {pr.idx} ({_short(pr.params)}, seed {pr.seed}) failed: {pr.error}"
            (bar.write(msg, file=sys.stderr) if bar is not None else _eprint(msg))

    try:
        res = sw.run(on_point=on_point, progress=progress)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        sid = sw.result.sweep_id if sw.result else "?"
        _eprint(f"gliaflow: sweep {sid} interrupted; finished points are kept: rerun the same command to compute "
                "only the missing ones")
        return EXIT_INTERRUPTED
    finally:
        if bar is not None:
            bar.close()
    params, names, rows = sweep_rows(cat, res.sweep_id)
    agg = aggregate(rows, params, names)
    if args.out:
        write_rows(rows, args.out)
        if not args.quiet:
            _eprint(f"gliaflow: wrote {args.out}")
    if args.json:
        print(json.dumps({"sweep_id": res.sweep_id, "catalog": str(cat.path), "points": res.total,
                          "computed": res.computed, "reused": res.reused, "failed": res.failed,
                          "cancelled": res.cancelled, "wall_s": res.wall_s, "workers": res.workers,
                          "scheduler": res.scheduler, "means": agg}, default=float))
    else:
        cols = params + ["n"] + [c for m in names for c in (f"{m}.mean", f"{m}.std")]
        print(f"sweep {res.sweep_id}: {res.computed} points computed, {res.reused} reused, {res.failed} failed "
              f"in {res.wall_s:.1f} s on {res.scheduler} ({res.workers} workers)\n")
        print(format_rows(agg, cols))
        print(f"\ngliaflow runs compare --sweep {res.sweep_id} --out sweep.html  # the figure")
    return EXIT_OK if res.complete else EXIT_INCOMPLETE


# --- gliaflow runs ... -----------------------------------------------------------------------------
def _catalog(args):
    from .catalog import Catalog
    return Catalog(args.catalog)


def cmd_runs_list(args) -> int:
    cat = _catalog(args)
    runs = cat.runs(kind=args.kind, status=args.status, sweep_id=args.sweep, limit=args.limit)
    if args.json:
        print(json.dumps(runs, default=float))
        return EXIT_OK
    if not runs:
        print(f"no runs in {cat.path}")
        return EXIT_OK
    rows = [{"id": r["id"], "kind": r["kind"], "status": r["status"], "design": r["design_name"],
             "seed": r["seed"], "backend": r["backend"], "ms": r["duration_ms"], "started": _when(r["started"]),
             "wall_s": r["wall_s"], "sweep": r["sweep_id"], "params": _short(r["params"])} for r in runs]
    from .sweep_report import format_rows
    print(format_rows(rows))
    return EXIT_OK


def cmd_runs_show(args) -> int:
    r = _catalog(args).run(args.id)
    if args.json:
        print(json.dumps(r, default=float))
        return EXIT_OK
    keys = ("id", "kind", "status", "design_name", "design_hash", "run_key", "seed", "backend", "duration_ms",
            "dt_ms", "version", "git_commit", "host", "pid", "sweep_id", "data_path")
    for k in keys:
        print(f"{k:<14}{r[k] if r[k] is not None else '-'}")
    print(f"{'started':<14}{_when(r['started'])}")
    print(f"{'finished':<14}{_when(r['finished'])}")
    print(f"{'wall_s':<14}{r['wall_s'] if r['wall_s'] is None else round(r['wall_s'], 3)}")
    if r["params"]:
        print(f"{'params':<14}{_short(r['params'])}")
    for k, v in r["files"].items():
        print(f"{'file ' + k:<14}{v}")
    if r["error"]:
        print(f"{'error':<14}{r['error']}")
    if r["measures"]:
        print("\nmeasures:")
        for k, v in r["measures"].items():
            print(f"  {k:<40}{'-' if v is None else (f'{v:.6g}' if isinstance(v, float) else v)}")
    return EXIT_OK


def cmd_runs_compare(args) -> int:
    cat = _catalog(args)
    measures = [m.strip() for m in args.measures.split(",") if m.strip()] if args.measures else None
    if args.sweep is not None:
        return _compare_sweep(cat, args, measures)
    if len(args.ids) < 2:
        _eprint("gliaflow: runs compare needs two or more run ids (or --sweep SWEEP_ID)")
        return EXIT_DESIGN
    c = cat.compare(args.ids, measures)
    if args.json:
        print(json.dumps(c, default=float))
        return EXIT_OK
    from .sweep_report import format_rows
    cols = ["measure"] + [f"run {i}" for i in args.ids]
    print(format_rows([{"measure": k, **{f"run {i}": v for i, v in zip(args.ids, vals)}}
                       for k, vals in c["measures"].items()], cols))
    print()
    if c["params"]:
        cols = ["parameter"] + [f"run {i}" for i in args.ids]
        print(format_rows([{"parameter": k, **{f"run {i}": (json.dumps(v) if isinstance(v, (dict, list)) else v)
                                               for i, v in zip(args.ids, vals)}}
                           for k, vals in c["params"].items()], cols))
    else:
        print("the runs' designs are identical (same parameters, seed, duration and backend)")
    return EXIT_OK


def _compare_sweep(cat, args, measures) -> int:
    from .sweep_report import aggregate, figure_data, format_rows, sweep_rows, write_figure_html, write_rows
    params, names, rows = sweep_rows(cat, args.sweep, measures)
    agg = aggregate(rows, params, names)
    if args.out:
        suffix = os.path.splitext(args.out)[1].lower()
        if suffix in (".html", ".htm"):
            data = figure_data(cat, args.sweep, names, x=args.x)
            write_figure_html(data, args.out, title=f"sweep {args.sweep}: {cat.sweep(args.sweep)['name']}")
        elif suffix == ".json":
            write_rows([figure_data(cat, args.sweep, names, x=args.x)], args.out)
        else:
            write_rows(agg, args.out)
        _eprint(f"gliaflow: wrote {args.out}")
    if args.json:
        print(json.dumps({"params": params, "measures": names, "points": rows, "means": agg}, default=float))
        return EXIT_OK
    s = cat.sweep(args.sweep)
    print(f"sweep {s['id']} '{s['name']}': {s['done']}/{s['n_points']} points done, {s['failed']} failed, "
          f"status {s['status']}\n")
    print(format_rows(agg, params + ["n"] + [c for m in names for c in (f"{m}.mean", f"{m}.std")]))
    return EXIT_OK


def cmd_runs_rm(args) -> int:
    cat = _catalog(args)
    if args.sweep is not None:
        n = cat.remove_sweep(args.sweep, runs=not args.keep_runs)
        print(f"removed sweep {args.sweep} and {n} runs")
    if args.ids:
        n = cat.remove(args.ids)
        print(f"removed {n} runs")
    if args.sweep is None and not args.ids:
        _eprint("gliaflow: runs rm needs run ids or --sweep SWEEP_ID")
        return EXIT_DESIGN
    return EXIT_OK


def cmd_runs_sweeps(args) -> int:
    cat = _catalog(args)
    sw = cat.sweeps()
    if args.json:
        print(json.dumps(sw, default=float))
        return EXIT_OK
    if not sw:
        print(f"no sweeps in {cat.path}")
        return EXIT_OK
    from .sweep_report import format_rows
    print(format_rows([{"id": s["id"], "design": s["name"], "status": s["status"], "points": s["n_points"],
                        "done": s["done"], "failed": s["failed"], "scheduler": s["scheduler"],
                        "updated": _when(s["updated"])} for s in sw]))
    return EXIT_OK


def _catalog_errors(fn, value_errors: bool = True):
    """Run ``fn``; a missing run/sweep or an unusable catalog (and, for the ``runs`` commands, a
    bad option value such as ``--x``) is a usage error (exit 2), not an internal one."""
    def run(args):
        from .catalog import CatalogError
        try:
            return fn(args)
        except (CatalogError, ValueError) as e:
            if isinstance(e, ValueError) and not value_errors:
                raise
            _eprint(f"gliaflow: {e}")
            return EXIT_DESIGN
    return run


def add_parsers(sub) -> None:
    """The ``sweep`` and ``runs`` subcommands."""
    cat_help = "run catalog (.sqlite file or folder; default $GLIAFLOW_CATALOG or the user data folder)"
    s = sub.add_parser("sweep", help="run the design's parameter sweep on Dask, recording every point in the catalog")
    s.add_argument("design", help="design JSON with a 'sweep' key, or a gallery name (e.g. gallery/nalsm_sweep.json)")
    s.add_argument("--scheduler", default=None, metavar="ADDR",
                   help="a running Dask scheduler (tcp://host:8786); default: a local cluster of processes")
    s.add_argument("--workers", type=int, default=None,
                   help="local cluster: worker processes, one thread each (default: one per core)")
    s.add_argument("--catalog", default=None, metavar="PATH", help=cat_help)
    g = s.add_mutually_exclusive_group()
    g.add_argument("--resume", dest="fresh", action="store_false", default=False,
                   help="skip points the catalog already finished (default)")
    g.add_argument("--fresh", dest="fresh", action="store_true", help="compute every point again, as a new sweep")
    s.add_argument("--retries", type=int, default=2, help="retries of a point that raised (default 2)")
    s.add_argument("--out", default=None, metavar="RESULTS.csv|.json", help="write one row per point")
    s.add_argument("--json", action="store_true", help="print a JSON summary last on stdout")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(fn=_catalog_errors(cmd_sweep, value_errors=False))

    r = sub.add_parser("runs", help="the run catalog: list, show, compare, rm, sweeps")
    rs = r.add_subparsers(dest="runs_cmd", required=True)
    ls = rs.add_parser("list", help="recorded runs, newest first")
    ls.add_argument("--kind", choices=["run", "studio", "sweep"], default=None)
    ls.add_argument("--status", choices=["running", "done", "failed", "interrupted"], default=None)
    ls.add_argument("--sweep", type=int, default=None, metavar="SWEEP_ID", help="the runs a sweep computed")
    ls.add_argument("--limit", type=int, default=50, help="at most this many (default 50; 0: all)")
    ls.set_defaults(fn=_catalog_errors(cmd_runs_list))
    sh = rs.add_parser("show", help="everything recorded about a run")
    sh.add_argument("id", type=int)
    sh.set_defaults(fn=_catalog_errors(cmd_runs_show))
    cp = rs.add_parser("compare", help="measures and parameter differences of runs, or a sweep's results")
    cp.add_argument("ids", type=int, nargs="*", help="two or more run ids")
    cp.add_argument("--sweep", type=int, default=None, metavar="SWEEP_ID",
                    help="a sweep's measures over its swept parameters (mean and std over seeds)")
    cp.add_argument("--measures", default=None, help="comma-separated measures (default: all / the sweep's)")
    cp.add_argument("--x", default=None, metavar="NODE.PARAM", help="--sweep: the parameter on the x axis")
    cp.add_argument("--out", default=None, metavar="FILE",
                    help="--sweep: FILE.html (figure, standalone), FILE.json (figure data) or FILE.csv (means)")
    cp.set_defaults(fn=_catalog_errors(cmd_runs_compare))
    rm = rs.add_parser("rm", help="delete runs (and their data files) or a sweep")
    rm.add_argument("ids", type=int, nargs="*")
    rm.add_argument("--sweep", type=int, default=None, metavar="SWEEP_ID", help="delete this sweep and its runs")
    rm.add_argument("--keep-runs", action="store_true", help="with --sweep: keep the runs it computed")
    rm.set_defaults(fn=_catalog_errors(cmd_runs_rm))
    sw = rs.add_parser("sweeps", help="recorded sweeps")
    sw.set_defaults(fn=_catalog_errors(cmd_runs_sweeps))
    for p in (ls, sh, cp, rm, sw):
        p.add_argument("--catalog", default=None, metavar="PATH", help=cat_help)
        if p is not rm:
            p.add_argument("--json", action="store_true", help="JSON on stdout")
