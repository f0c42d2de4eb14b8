"""The ``gliaflow`` command line.

Exit codes: 0 ok, 1 internal error, 2 invalid or unreadable design, 3 divergence,
4 a sweep ended with failed points, 130 interrupted by Ctrl-C (what was recorded so far is
kept and written). ``sweep`` and ``runs`` live in engine/cli_runs.py.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback

EXIT_OK, EXIT_INTERNAL, EXIT_DESIGN, EXIT_DIVERGED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _eprint(*a, **kw):
    print(*a, file=sys.stderr, **kw)


def _design_error(e) -> int:
    errs = e.errors or e.problems
    if len(errs) == 1:
        _eprint(f"gliaflow: {errs[0]}")
    else:
        _eprint(f"gliaflow: {len(errs)} problems in the design:")
        for p in errs:
            _eprint(f"  - {p}")
    return EXIT_DESIGN


def cmd_validate(args) -> int:
    from .validate import validate
    be = getattr(args, "backend", None)
    probs = validate(args.design, backend=be) if be else validate(args.design)
    errors = [p for p in probs if p.severity == "error"]
    if args.json:
        print(json.dumps([{k: v for k, v in p.to_dict().items()} for p in probs]))
    else:
        if not probs:
            print(f"{args.design}: valid")
        for p in probs:
            print(f"  - {p}")
        if errors:
            print(f"{len(errors)} error(s), {len(probs) - len(errors)} warning(s)")
    return EXIT_DESIGN if errors else EXIT_OK


def cmd_types(args) -> int:
    from .registry import all_types, port_table
    if args.markdown is not None:
        from .docs import write_reference
        path = write_reference(args.markdown or None)
        print(path)
        return EXIT_OK
    types = {k: t.describe() for k, t in all_types().items()}
    if args.json:
        print(json.dumps({"types": types, "ports": port_table()}, default=str))
        return EXIT_OK
    for k, d in types.items():
        ports = ", ".join(f"{p['name']}({p['direction']} {p['kind']})" for p in d["ports"])
        print(f"{k:<24} {d['description'][:90]}")
        print(f"{'':<24} ports: {ports}")
    return EXIT_OK


def cmd_plan(args) -> int:
    from .plan import make_plan
    from .validate import build_graph
    g = build_graph(args.design)
    print(make_plan(g).describe())
    return EXIT_OK


def _table(summary: dict) -> str:
    lines = [f"design {summary['design']}  backend {summary['backend']}  seed {summary['seed']}  "
             f"dt {summary['dt_ms']} ms",
             f"simulated {summary['sim_ms']:.1f} ms in {summary['wall_s']:.3f} s "
             f"(realtime factor {summary['realtime_factor'] or 0:.4f}; compile {summary['compile_s']:.2f} s)", "",
             f"{'population':<16}{'type':<22}{'n':>9}{'spikes':>11}{'rate (Hz)':>11}"]
    for k, p in summary["populations"].items():
        lines.append(f"{k:<16}{p['type']:<22}{p['n']:>9}{p['n_spikes']:>11}{p['rate_hz']:>11.2f}")
    if summary["monitors"]:
        lines += ["", "monitors:"]
        for k, m in summary["monitors"].items():
            rest = {a: b for a, b in m.items() if a not in ("type",)}
            lines.append(f"  {k:<16}{m['type']:<18}{json.dumps(rest, default=str)}")
    if summary.get("interrupted"):
        lines.append("\ninterrupted: results cover the simulated time above")
    return "\n".join(lines)


def cmd_run(args) -> int:
    """``gliaflow run``; with ``--record`` the run is also a catalog row (engine/catalog.py),
    closed with its outcome: done, failed (divergence, an exception) or interrupted."""
    if not getattr(args, "record", False):
        return _cmd_run(args)
    from .catalog import CatalogError
    from .cli_runs import CliRecord
    rec = CliRecord(args)
    try:
        return _cmd_run(args, rec)
    except CatalogError as e:
        _eprint(f"gliaflow: {e}")
        return EXIT_DESIGN
    except BaseException as e:
        rec.fail(e)
        raise


def _cmd_run(args, rec=None) -> int:
    from .errors import DivergenceError
    from .simulation import Simulation

    torch_kw = {k: v for k, v in (("device", getattr(args, "device", None)),
                                  ("dtype", getattr(args, "dtype", None)),
                                  ("trials", getattr(args, "trials", None))) if v is not None}
    sim = Simulation(args.design, backend=args.backend, seed=args.seed, **torch_kw)
    if not args.quiet:
        for w in sim.warnings:
            _eprint(f"gliaflow: {w}")
    duration = args.duration_ms if args.duration_ms is not None else float(sim.design.meta.get("duration_ms", 1000))
    if rec is not None:
        rec.start(sim, duration)
    bar = None
    if not args.quiet:
        try:
            from tqdm import tqdm
            bar = tqdm(total=round(duration, 6), unit="ms", file=sys.stderr, delay=2.0, leave=False,
                       bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} ms [{elapsed}<{remaining}]")
        except ImportError:  # pragma: no cover
            bar = None

    def progress(done, total):
        if bar is not None:
            bar.update(done - bar.n)

    interrupted = {"n": 0}

    def on_sigint(signum, frame):
        interrupted["n"] += 1
        if interrupted["n"] > 1:
            raise KeyboardInterrupt
        sim.pause()

    old = signal.signal(signal.SIGINT, on_sigint)
    code = EXIT_OK
    try:
        sim.run(duration, progress=progress)
    except DivergenceError as e:
        _eprint(f"gliaflow: {e}")
        code = EXIT_DIVERGED
        if rec is not None:
            rec.error = str(e)
    finally:
        signal.signal(signal.SIGINT, old)
        if bar is not None:
            bar.close()
    if interrupted["n"]:
        sim.interrupted = True
        code = EXIT_INTERRUPTED
        _eprint(f"gliaflow: interrupted at t = {sim.t_ms:.1f} ms; keeping what was recorded")
    if args.out:
        sim.save_npz(args.out)
        if not args.quiet:
            _eprint(f"gliaflow: wrote {args.out}")
    if args.nwb:
        from .nwb import save_nwb
        save_nwb(sim, args.nwb)
        if not args.quiet:
            _eprint(f"gliaflow: wrote {args.nwb}")
    if getattr(args, "save_state", None):
        from .design import with_learned_state
        with_learned_state(sim).save(args.save_state)
        if not args.quiet:
            _eprint(f"gliaflow: wrote {args.save_state} (the design with its learned weights)")
    summary = sim.summary()
    if hasattr(sim.runner, "describe"):  # torch: device, dtype and the spikes of every trial
        summary["torch"] = sim.runner.describe()
    if args.json:
        print(json.dumps(summary, separators=(",", ":"), default=float))
    else:
        print(_table(summary))
        if "torch" in summary:
            print("\ntorch: " + json.dumps(summary["torch"], default=str))
    if rec is not None:
        rec.finish(sim, code)
    return code


def cmd_export(args) -> int:
    from pathlib import Path

    from .design import atomic_write_bytes, load_design, sidecar_path
    from .script import export_script
    design = load_design(args.design)
    out = Path(args.output)
    arrays = sidecar_path(out).name if design.arrays else None
    text = export_script(design, arrays_file=arrays, source=out.name)
    if design.arrays:
        import io

        import numpy as np
        buf = io.BytesIO()
        np.savez(buf, **design.arrays)
        atomic_write_bytes(sidecar_path(out), buf.getvalue())
    atomic_write_bytes(out, text.encode("utf-8"))
    _eprint(f"gliaflow: wrote {out}" + (f" and {sidecar_path(out)}" if design.arrays else ""))
    return EXIT_OK


def cmd_import(args) -> int:
    from .script import load_script
    design = load_script(args.script)
    design.save(args.output)
    _eprint(f"gliaflow: wrote {args.output}")
    return EXIT_OK


def cmd_train(args) -> int:
    from .training import GROUPS, train
    learn = tuple(x.strip() for x in args.learn.split(",") if x.strip())
    bad = [x for x in learn if x not in GROUPS]
    if bad:
        _eprint(f"gliaflow: --learn {','.join(bad)}: choose from {','.join(GROUPS)}")
        return EXIT_DESIGN

    def show(r):
        if not args.json:
            print(f"epoch {r['epoch']:>3}  train loss {r['train_loss']:.4f} acc {r['train_acc']:.3f}  "
                  f"test loss {r['test_loss']:.4f} acc {r['test_acc']:.3f}", flush=True)

    res = train(args.design, epochs=args.epochs, lr=args.lr, surrogate=args.surrogate, slope=args.slope,
                seed=args.seed, learn=learn, batch_size=args.batch_size, on_epoch=show,
                device=getattr(args, "device", None) or "cpu", dtype=getattr(args, "dtype", None) or "float64")
    if args.output:
        res.trained_design().save(args.output)
        _eprint(f"gliaflow: wrote {args.output}")
    if args.json:
        print(json.dumps(res.summary(), default=float))
    return EXIT_OK


def cmd_bench(args) -> int:
    """``gliaflow bench [--quick]``: ``python -m benchmarks`` (needs the benchmarks/ folder of a clone)."""
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    if not (root / "benchmarks" / "suite.py").exists():
        _eprint("gliaflow bench: the suite lives in the benchmarks/ folder of a gliaflow clone; run it there")
        return EXIT_DESIGN
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from benchmarks.__main__ import main as bench_main
    return bench_main(list(args.args))


def cmd_studio(args) -> int:
    if args.design is not None:
        from .design import load_design
        load_design(args.design)  # a bad file fails here, with exit code 2
    from studio.server import serve
    print(f"gliaflow studio on http://{args.address}:{args.port}/  (Ctrl-C stops)", file=sys.stderr)
    serve(args.design, address=args.address, port=args.port, show=args.show)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gliaflow", description="Spiking networks with neurons and glia: "
                                "validate, plan and run designs headless.")
    p.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run", help="run a design headless")
    r.add_argument("design", help="design JSON file or gallery name (e.g. gallery/coba.json)")
    r.add_argument("--duration-ms", type=float, default=None, help="simulated time (default: the design's)")
    r.add_argument("--backend", default=None, choices=["numba", "torch"], help="simulation backend")
    r.add_argument("--device", default=None, help="torch backend: device such as cpu or cuda (default cpu)")
    r.add_argument("--dtype", default=None, choices=["float64", "float32"],
                   help="torch backend: float type (default float64, the reference)")
    r.add_argument("--trials", type=int, default=None, metavar="B",
                   help="torch backend: B trials at once, differing in their random draws (summary: trial 0; "
                   "spikes of every trial under 'torch')")
    r.add_argument("--seed", type=int, default=None, help="random seed (default: the design's)")
    r.add_argument("--out", default=None, help="write spikes, monitor traces and the design to FILE.npz")
    r.add_argument("--nwb", default=None, help="write spikes (units) and monitor traces to FILE.nwb (needs pynwb)")
    r.add_argument("--save-state", default=None, metavar="OUT.json",
                   help="write the design with its learned weights (sidecar OUT.arrays.npz) after the run")
    r.add_argument("--json", action="store_true", help="print one JSON summary line last on stdout")
    r.add_argument("--quiet", action="store_true", help="no progress bar or warnings")
    from .cli_runs import add_parsers, add_run_options
    add_run_options(r)
    r.set_defaults(fn=cmd_run)

    v = sub.add_parser("validate", help="list every problem of a design")
    v.add_argument("design")
    v.add_argument("--json", action="store_true", help="problems as a JSON list")
    v.add_argument("--backend", default=None, choices=["numba", "torch"],
                   help="validate for this backend (default: the design's); torch reports node types it cannot run")
    v.set_defaults(fn=cmd_validate)

    t = sub.add_parser("types", help="the registered node types")
    t.add_argument("--json", action="store_true", help="types with ports and parameters as JSON")
    t.add_argument("--markdown", nargs="?", const="", default=None, metavar="PATH",
                   help="write the node reference (default docs/node-types.md)")
    t.set_defaults(fn=cmd_types)

    st = sub.add_parser("studio", help="open the browser studio (on 127.0.0.1 by default)")
    st.add_argument("design", nargs="?", default=None, help="design to open (path or gallery name)")
    st.add_argument("--address", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    st.add_argument("--port", type=int, default=5006)
    st.add_argument("--show", action="store_true", help="open a browser tab")
    st.set_defaults(fn=cmd_studio)

    ex = sub.add_parser("export", help="write a design as a Python script (engine.Network calls)")
    ex.add_argument("design", help="design JSON file or gallery name")
    ex.add_argument("-o", "--output", required=True, metavar="MODEL.py",
                    help="the script to write (arrays, if any, go to MODEL.arrays.npz next to it)")
    ex.set_defaults(fn=cmd_export)

    im = sub.add_parser("import", help="read a script written by `gliaflow export` back into a design "
                        "(parsed, never executed)")
    im.add_argument("script", help="the Python script")
    im.add_argument("-o", "--output", required=True, metavar="DESIGN.json", help="the design file to write")
    im.set_defaults(fn=cmd_import)

    tr = sub.add_parser("train", help="train a feed-forward design by surrogate-gradient BPTT (torch)")
    tr.add_argument("design", help="design JSON: a stimulus.patterns stimulus, projections, LIF/meta populations")
    tr.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    tr.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate (default 0.01)")
    tr.add_argument("--learn", default="readout,intrinsics",
                    help="what to learn, comma-separated: readout, weights, intrinsics (default readout,intrinsics)")
    tr.add_argument("--surrogate", default="fast_sigmoid", choices=["fast_sigmoid", "arctan"],
                    help="surrogate gradient of the spike threshold")
    tr.add_argument("--slope", type=float, default=5.0, help="surrogate slope (default 5)")
    tr.add_argument("--seed", type=int, default=0, help="seed of initialisation, batches and meta-neuron draws")
    tr.add_argument("--batch-size", type=int, default=32, help="trials per Adam step (default 32)")
    tr.add_argument("--device", default=None, help="torch device: cpu (default) or cuda")
    tr.add_argument("--dtype", default=None, choices=["float64", "float32"], help="float type (default float64)")
    tr.add_argument("--json", action="store_true", help="print the training summary as JSON")
    tr.add_argument("-o", "--output", default=None, metavar="TRAINED.json",
                    help="write the design with the learned intrinsics (and weights) as sidecar arrays")
    tr.set_defaults(fn=cmd_train)

    pl = sub.add_parser("plan", help="print the compiled plan: buffers and ordered steps")
    pl.add_argument("design")
    pl.set_defaults(fn=cmd_plan)
    # everything after "bench" goes to the suite's own parser ("+" prefix: --flags stay positional here)
    bn = sub.add_parser("bench", add_help=False, prefix_chars="+",
                        help="the performance suite with Brian2/NEST side by side (python -m benchmarks; --help)")
    bn.add_argument("args", nargs="*")
    bn.set_defaults(fn=cmd_bench)
    add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    return _dispatch(build_parser().parse_args(argv))


def run_design(design, argv=()) -> int:
    """``gliaflow run DESIGN --json`` on an in-memory design (what an exported script's
    ``net.main()`` calls): the same options, code path, output and exit codes."""
    args = build_parser().parse_args(["run", "<script>", "--json", *argv])
    args.design = design
    return _dispatch(args)


def _dispatch(args) -> int:
    from .errors import DesignError

    try:
        return int(args.fn(args) or 0)
    except DesignError as e:
        return _design_error(e)
    except KeyboardInterrupt:
        _eprint("gliaflow: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # pragma: no cover
        return EXIT_OK
    except Exception as e:  # noqa: BLE001
        if args.debug or os.environ.get("GLIAFLOW_DEBUG"):
            traceback.print_exc()
        _eprint(f"gliaflow: internal error: {type(e).__name__}: {e}\n"
                "This is a bug in gliaflow; rerun with --debug for the traceback and report it.")
        return EXIT_INTERNAL


def entry() -> None:  # console script
    t = time.perf_counter()
    code = main()
    _ = t
    sys.exit(code)


if __name__ == "__main__":
    entry()
