"""Designs as Python: export a design to a readable script, import such a script back.

``export_script(design)`` writes a script that builds the same network through the public
API (:class:`engine.Network`): one ``net.add`` per node with only its non-default
parameters, one ``net.connect`` per wire, the design's meta in the ``Network(...)`` call,
sidecar arrays by name (``arrays="NAME.arrays.npz"``), canvas positions in a trailing
comment block, and ``net.main()`` under ``if __name__ == "__main__":``, which runs it
headless exactly like ``gliaflow run DESIGN --json``.

``import_script(text)`` turns such a script back into the design document **without
executing it**: the text is parsed with :mod:`ast`, every statement must be one of the
forms the exporter writes (hand edits within them are fine), literal values are read with
``ast.literal_eval``, and the builder calls are replayed on a fresh :class:`Network`.
Anything else is refused with a :class:`DesignError` naming the line.

``canonical(doc)`` is the form in which design -> script -> design is the identity:
defaults filled in, labels defaulting to the id, edge ids to the builder's, UI-only keys
dropped, keys sorted.
"""
from __future__ import annotations

import ast
import builtins
import dataclasses
import json
import keyword
import math
import os
import re
from pathlib import Path

from .builder import _COLUMNS, Network
from .design import SCHEMA_VERSION, Design, load_design, load_sidecar, sidecar_path
from .errors import DesignError, Problem
from .registry import get_type

__all__ = ["export_script", "import_script", "load_script", "canonical"]

WIDTH = 100
POSITIONS_MARK = "# --- canvas positions: node id, x, y (read back by `gliaflow import`) ---"
META_DEFAULTS = {"name": "network", "dt_ms": 0.1, "duration_ms": 1000.0, "seed": 1, "backend": "numba"}
#: keyword arguments of Network(...) besides the name, in the order the exporter writes them
NETWORK_KW = ("description", "reference", "dt_ms", "duration_ms", "seed", "backend", "arrays", "views", "sweep")
ALLOWED = ("a design script may only hold: `from engine import Network`, `net = Network(\"name\", dt_ms=0.1)`, "
           "`x = net.add(\"family.type\", \"id\", param=value)`, `net.connect(a.port, b.port)`, "
           "literal values (numbers, strings, True/False/None, dicts and lists of them), comments, "
           "and `if __name__ == \"__main__\": net.main()`")


# --- canonical form ------------------------------------------------------------------------
def _default_edge_id(e: dict) -> str:
    return f"{e.get('source')}.{e.get('sourceHandle')}-{e.get('target')}.{e.get('targetHandle')}"


def _sorted(x):
    if isinstance(x, dict):
        return {k: _sorted(x[k]) for k in sorted(x)}
    if isinstance(x, list):
        return [_sorted(v) for v in x]
    return x


def _is_default(v, default) -> bool:
    """A value equal to the declared default, of the same type (20 is not 20.0, True not 1)."""
    return type(v) is type(default) and v == default


def canonical(doc) -> dict:
    """The canonical form of a design document (or :class:`Design`): meta defaults filled
    in, parameters equal to their defaults left out (what the exported script writes;
    filling them in instead would not be a valid design, since the validator refuses
    parameters that do not apply, e.g. ``weight_mv`` on a conductance target),
    ``label`` defaulting to the id, edge ids to the builder's ``"src.port-dst.port"``,
    UI-only keys (selection, sizes) dropped, keys sorted. Node and edge order is kept;
    the result is itself a design that means the same thing."""
    if isinstance(doc, Design):
        doc = doc.doc
    m = doc.get("meta") or {}
    meta = {k: m.get(k, d) for k, d in META_DEFAULTS.items()}
    meta["name"] = m.get("name") or META_DEFAULTS["name"]
    for k in ("description", "reference"):
        if m.get(k):
            meta[k] = m[k]
    nodes = []
    for n in doc.get("nodes") or []:
        cls = get_type(n.get("type"))
        data = dict(n.get("data") or {})
        if cls is not None:
            defaults = cls.defaults()
            data = {k: v for k, v in data.items() if not (k in defaults and _is_default(v, defaults[k]))}
        out = {"id": n.get("id"), "type": n.get("type"), "label": n.get("label") or n.get("id"), "data": data}
        pos = n.get("position")
        if isinstance(pos, dict):
            out["position"] = {"x": pos.get("x"), "y": pos.get("y")}
        nodes.append(out)
    edges = []
    for e in doc.get("edges") or []:
        out = {k: e.get(k) for k in ("source", "sourceHandle", "target", "targetHandle")}
        out["id"] = e.get("id") or _default_edge_id(e)
        if e.get("data"):
            out["data"] = dict(e["data"])
        edges.append(out)
    res = {"schema_version": SCHEMA_VERSION, "meta": meta, "nodes": nodes, "edges": edges}
    for k in ("views", "sweep"):
        if doc.get(k) is not None:
            res[k] = doc[k]
    return _sorted(res)


# --- export -----------------------------------------------------------------------------------
def _lit(v) -> str:
    """A Python literal for a JSON value, double-quoted strings, dicts in their own order."""
    if isinstance(v, str):
        try:
            text = json.dumps(v, ensure_ascii=False)
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: escape them
            text = json.dumps(v)
        return text
    if isinstance(v, bool) or v is None:
        return repr(v)
    if isinstance(v, int):
        return repr(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise DesignError(Problem("error", "param.nonfinite", f"value {v} cannot be exported",
                                      "replace NaN/inf by a finite number"))
        return repr(v)
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_lit(str(k))}: {_lit(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_lit(x) for x in v) + "]"
    raise DesignError(Problem("error", "param.type", f"value {v!r} ({type(v).__name__}) is not a JSON value",
                              "use numbers, strings, booleans, null, objects and lists"))


def _str_lit(s: str, room: int, pad: int = 1) -> str:
    """A string literal, split into implicitly concatenated pieces (in parentheses, continued
    ``pad`` columns in) when longer than ``room``."""
    whole = _lit(s)
    if len(whole) <= room or room < 30:
        return whole
    pieces, cur = [], ""
    for word in re.split(r"(?<= )", s):
        if cur and len(_lit(cur + word)) > room:
            pieces.append(cur)
            cur = ""
        cur += word
    if cur:
        pieces.append(cur)
    return "(" + ("\n" + " " * pad).join(_lit(p) for p in pieces) + ")" if len(pieces) > 1 else whole


def _call(head: str, args: list[str], width: int = WIDTH) -> str:
    """``head(arg, arg, ...)`` on one line, or packed onto lines aligned after the parenthesis."""
    one = f"{head}({', '.join(args)})"
    if len(one) <= width and "\n" not in one:
        return one
    indent = " " * (len(head) + 1)
    lines, cur = [], ""
    for i, a in enumerate(args):
        piece = a + ("," if i < len(args) - 1 else ")")
        if "\n" in a:  # a wrapped string: its continuation lines follow the indent
            a_lines = a.split("\n")
            piece = ("\n" + indent).join(a_lines) + ("," if i < len(args) - 1 else ")")
            if cur:
                lines.append(cur.rstrip())
            lines.append(piece)
            cur = ""
            continue
        if cur and len(indent) + len(cur) + len(piece) > width:
            lines.append(cur.rstrip())
            cur = ""
        cur += piece + " "
    if cur.strip():
        lines.append(cur.rstrip())
    return head + "(" + ("\n" + indent).join(lines)


_RESERVED = set(keyword.kwlist) | set(dir(builtins)) | {"net", "Network"}


def _var_names(ids: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    used = set(_RESERVED)
    for nid in ids:
        base = re.sub(r"\W", "_", nid)
        if not base.isidentifier() or base in _RESERVED:
            base = base + "_"
        name, k = base, 2
        while name in used:
            name = f"{base}_{k}"
            k += 1
        used.add(name)
        out[nid] = name
    return out


def _uses_arrays(doc: dict) -> bool:
    for n in doc.get("nodes", []):
        for v in (n.get("data") or {}).values():
            if isinstance(v, dict) and "array" in v:
                return True
    return False


def export_script(design, *, arrays_file: str | None = None, source: str = "model.py") -> str:
    """A readable Python script that builds ``design`` with :class:`engine.Network`.

    ``arrays_file`` names the sidecar ``.arrays.npz`` the script loads (default: the
    design's own sidecar name, or ``NAME.arrays.npz``) when the design references arrays.
    The script is checked by importing it back (so an invalid value fails here, not later).
    """
    design = load_design(design)
    doc = design.doc
    m = doc.get("meta") or {}
    name = m.get("name") or design.name
    lines: list[str] = []
    title = name if re.fullmatch(r"[\w .,:;()+\-/]*", name) else "design"
    lines += ['"""' + f"{title}: a gliaflow design as a Python script.", "",
              f"`python {source}` runs it headless and prints the summary of `gliaflow run --json`",
              "(it takes the options of `gliaflow run`: --duration-ms, --seed, --out, ...);",
              f"`gliaflow import {source} -o DESIGN.json` reads it back into a design.",
              '"""',
              "from engine import Network", ""]
    # --- Network(...) -----------------------------------------------------------------------
    args = [_lit(name)]
    head = "net = Network"
    for k in NETWORK_KW:
        if k in ("description", "reference"):
            if m.get(k):
                args.append(f"{k}=" + _str_lit(m[k], WIDTH - len(head) - len(k) - 4, len(k) + 2))
        elif k in ("dt_ms", "duration_ms", "seed", "backend"):
            args.append(f"{k}={_lit(m.get(k, META_DEFAULTS[k]))}")
        elif k == "arrays":
            if design.arrays or _uses_arrays(doc):
                af = arrays_file or (sidecar_path(design.path).name if design.path
                                     else f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.arrays.npz")
                args.append(f"arrays={_lit(af)}")
        elif doc.get(k) is not None:
            args.append(f"{k}={_lit(doc[k])}")
    for k in m:
        if k not in META_DEFAULTS and k not in ("description", "reference"):
            raise DesignError(Problem("error", "meta.unknown", f"unknown meta key '{k}' cannot be exported",
                                      "remove it from the design's meta", param=k))
    lines += [_call(head, args), ""]
    # --- nodes --------------------------------------------------------------------------------
    nodes = doc.get("nodes") or []
    names = _var_names([n["id"] for n in nodes])
    fam = None
    for n in nodes:
        cls = get_type(n.get("type"))
        if cls is None:
            raise DesignError(Problem("error", "node.unknown_type", f"unknown node type {n.get('type')!r}",
                                      "see `gliaflow types` for the registered types", node=n.get("id")))
        group = _COLUMNS.get(cls.family(), 5)  # projections and their rules stay together
        if fam is not None and group != fam:
            lines.append("")
        fam = group
        data = n.get("data") or {}
        decls = cls.param_decls()
        defaults = cls.defaults()
        args = [_lit(n["type"]), _lit(n["id"])]
        label = n.get("label") or ""
        if label and label != n["id"]:
            args.append(f"label={_lit(label)}")
        order = [k for k in decls if k in data] + [k for k in data if k not in decls]
        for k in order:
            v = data[k]
            if k in defaults and _is_default(v, defaults[k]):
                continue
            args.append(f"{k}={_lit(v)}")
        lines.append(_call(f"{names[n['id']]} = net.add", args))
    # --- wires --------------------------------------------------------------------------------
    edges = doc.get("edges") or []
    if edges:
        lines.append("")
    for e in edges:
        def end(node_id, port):
            if node_id in names and isinstance(port, str) and port.isidentifier() and not keyword.iskeyword(port) \
                    and not port.startswith("_"):
                return f"{names[node_id]}.{port}"
            return _lit(f"{node_id}.{port}")
        args = [end(e.get("source"), e.get("sourceHandle")), end(e.get("target"), e.get("targetHandle"))]
        if e.get("id") and e["id"] != _default_edge_id(e):
            args.append(f"id={_lit(e['id'])}")
        for k, v in (e.get("data") or {}).items():
            args.append(f"{k}={_lit(v)}")
        lines.append(_call("net.connect", args))
    lines += ["", 'if __name__ == "__main__":', "    net.main()"]
    pos_lines = []
    for n in nodes:
        p = n.get("position")
        if isinstance(p, dict) and all(isinstance(p.get(a), (int, float)) and not isinstance(p.get(a), bool)
                                       for a in ("x", "y")):
            pos_lines.append(f"# {n['id']} {_lit(p['x'])} {_lit(p['y'])}")
    if pos_lines:
        lines += ["", POSITIONS_MARK] + pos_lines
    text = "\n".join(lines) + "\n"
    import_script(text, source)  # a self-check: what we write must read back
    return text


# --- import -----------------------------------------------------------------------------------
def _problem(source: str, node: ast.AST | int, code: str, what: str, fix: str = ALLOWED) -> Problem:
    line = node if isinstance(node, int) else getattr(node, "lineno", "?")
    return Problem("error", code, f"{source}, line {line}: {what}", fix)


_LITERAL_NODES = (ast.Constant, ast.Dict, ast.List, ast.UnaryOp, ast.USub, ast.UAdd, ast.Load)


def _describe(node: ast.AST) -> str:
    try:
        text = ast.unparse(node)
    except Exception:  # pragma: no cover
        text = type(node).__name__
    lines = text.splitlines() or [""]
    text = lines[0] + (" …" if len(lines) > 1 else "")
    return text if len(text) <= 60 else text[:57] + "…"


class _Reader:
    """Checks a parsed script against the allowed subset, then replays it on a Network."""

    def __init__(self, text: str, source: str):
        self.text, self.source = text, source
        self.problems: list[Problem] = []

    def bad(self, node, code: str, what: str, fix: str = ALLOWED):
        if fix == ALLOWED and any(p.fix == ALLOWED for p in self.problems):
            fix = "see the first problem for what a design script may hold"
        self.problems.append(_problem(self.source, node, code, what, fix))

    # literal values ------------------------------------------------------------------------
    def literal(self, node: ast.AST):
        """(ok, value): a JSON-like literal read with ast.literal_eval, or a recorded problem."""
        for sub in ast.walk(node):
            if not isinstance(sub, _LITERAL_NODES) or (
                    isinstance(sub, ast.UnaryOp) and not (isinstance(sub.operand, ast.Constant)
                                                          and isinstance(sub.operand.value, (int, float))
                                                          and not isinstance(sub.operand.value, bool))):
                self.bad(sub if hasattr(sub, "lineno") else node, "script.value",
                         f"`{_describe(node)}` is not a literal value",
                         "write numbers, strings, True/False/None, or dicts and lists of them "
                         "(a distribution is a dict such as {\"dist\": \"normal\", \"mean\": -55.0, \"std\": 5.0})")
                return False, None
            if isinstance(sub, ast.Constant) and not (sub.value is None or isinstance(sub.value, (bool, int, float, str))):
                self.bad(sub, "script.value", f"`{_describe(sub)}` is not a JSON value",
                         "write numbers, strings, True/False/None, dicts and lists")
                return False, None
            if isinstance(sub, ast.Dict) and not all(isinstance(k, ast.Constant) and isinstance(k.value, str)
                                                    for k in sub.keys):
                self.bad(sub, "script.value", "dict keys must be strings", "quote every key")
                return False, None
        value = ast.literal_eval(node)
        bad = [x for x in _leaves(value) if isinstance(x, float) and not math.isfinite(x)]
        if bad:
            self.bad(node, "param.nonfinite", f"`{_describe(node)}` is not finite", "give a finite number")
            return False, None
        return True, value

    # the statements ------------------------------------------------------------------------
    def check(self, tree: ast.Module):
        """First pass: classify every statement; nothing is built unless all are allowed."""
        self.stmts = []
        net_var = None
        imported = False
        node_vars: set[str] = set()
        for st in tree.body:
            if isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant) and isinstance(st.value.value, str):
                continue  # a docstring or a bare string
            if isinstance(st, ast.ImportFrom) and st.module == "engine" and st.level == 0 \
                    and [(a.name, a.asname) for a in st.names] == [("Network", None)]:
                imported = True
                continue
            if isinstance(st, (ast.Import, ast.ImportFrom)):
                self.bad(st, "script.import", f"`{_describe(st)}`: only `from engine import Network` may be imported")
                continue
            if isinstance(st, ast.If) and self._is_main_guard(st.test):
                for sub in st.body:
                    if not (isinstance(sub, ast.Expr) and self._is_method(sub.value, net_var, "main")
                            and not sub.value.args and not sub.value.keywords):
                        self.bad(sub, "script.main", f"`{_describe(sub)}` under `if __name__ == \"__main__\":`",
                                 "that block holds only `net.main()`")
                if st.orelse:
                    self.bad(st.orelse[0], "script.statement", "an `else:` branch is not allowed")
                continue
            call, target = None, None
            if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name) \
                    and isinstance(st.value, ast.Call):
                call, target = st.value, st.targets[0].id
            elif isinstance(st, ast.Expr) and isinstance(st.value, ast.Call):
                call = st.value
            if call is None:
                self.bad(st, "script.statement", f"`{_describe(st)}` ({type(st).__name__.lower()}) is not allowed")
                continue
            f = call.func
            if isinstance(f, ast.Name) and f.id == "Network":
                if not imported:
                    self.bad(st, "script.import", "Network is used before `from engine import Network`")
                elif net_var is not None:
                    self.bad(st, "script.network", "a second Network(…)", "a script builds one network")
                elif target is None:
                    self.bad(st, "script.network", "Network(…) must be assigned to a name (`net = Network(…)`)")
                else:
                    net_var = target
                    self.arguments(call)
                    self.stmts.append(("network", st, call, target))
                continue
            kind = None
            if net_var is not None and self._is_method(call, net_var, "add"):
                kind = "add"
            elif net_var is not None and self._is_method(call, net_var, "connect") and target is None:
                kind = "connect"
            if kind is None:
                self.bad(st, "script.call", f"a call of `{_describe(f)}` is not allowed"
                         + (" (its result may not be assigned)" if kind is None and target is not None
                            and self._is_method(call, net_var, "connect") else ""))
                continue
            if target is not None and (target == net_var or target in ("Network", "__name__")):
                self.bad(st, "script.name", f"`{target}` cannot name a node", "choose another variable name")
                continue
            self.arguments(call, port_args=kind == "connect")  # literal values: all problems at once
            if kind == "add":
                if target is not None:
                    node_vars.add(target)
                self.stmts.append(("add", st, call, target))
            else:
                for a in call.args:
                    if isinstance(a, ast.Attribute) and isinstance(a.value, ast.Name) and a.value.id not in node_vars:
                        self.bad(a, "script.name", f"`{a.value.id}` is not a node defined above",
                                 "define the node with `x = net.add(…)` before wiring it")
                self.stmts.append(("connect", st, call, None))
        if net_var is None and not self.problems:
            self.bad(1, "script.network", "no `net = Network(…)` statement", ALLOWED)
        self.net_var = net_var

    @staticmethod
    def _is_main_guard(test) -> bool:
        return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
                and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq) and len(test.comparators) == 1
                and isinstance(test.comparators[0], ast.Constant) and test.comparators[0].value == "__main__")

    @staticmethod
    def _is_method(call, var, name) -> bool:
        return (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == name
                and isinstance(call.func.value, ast.Name) and call.func.value.id == var)

    def arguments(self, call: ast.Call, port_args: bool = False):
        args, kwargs, ok = [], {}, True
        for a in call.args:
            if isinstance(a, ast.Starred):
                self.bad(a, "script.value", "`*args` is not allowed", "write each argument out")
                ok = False
            elif port_args and isinstance(a, ast.Attribute):
                if not isinstance(a.value, ast.Name):
                    self.bad(a, "script.value", f"`{_describe(a)}` is not a port", "write `node.port`")
                    ok = False
                else:
                    args.append(("port", a.value.id, a.attr))
            else:
                good, v = self.literal(a)
                ok &= good
                args.append(v)
        for k in call.keywords:
            if k.arg is None:
                self.bad(k.value, "script.value", "`**kwargs` is not allowed", "write each keyword out")
                ok = False
                continue
            good, v = self.literal(k.value)
            ok &= good
            kwargs[k.arg] = v
        return ok, args, kwargs

    def replay(self):
        """Second pass: call the builder with the literal values (nothing of the script runs)."""
        net, arrays_file, nodes = None, None, {}
        for kind, st, call, target in self.stmts:
            try:
                if kind == "network":
                    ok, args, kw = self.arguments(call)
                    if not ok:
                        continue
                    bad_kw = [k for k in kw if k not in NETWORK_KW]
                    if bad_kw or len(args) > 1:
                        self.bad(st, "script.network", f"Network(…) takes a name and {', '.join(NETWORK_KW)}"
                                 + (f", not {', '.join(bad_kw)}" if bad_kw else ""), "fix the Network(…) call")
                        continue
                    arrays_file = kw.pop("arrays", None)
                    if arrays_file is not None and not isinstance(arrays_file, str):
                        self.bad(st, "script.network", "arrays= must be a file name string")
                        continue
                    net = Network(*args, **kw)
                elif net is None:
                    return None, None
                elif kind == "add":
                    ok, args, kw = self.arguments(call)
                    if not ok:
                        continue
                    if len(args) > 2:
                        self.bad(st, "script.add", "net.add takes the type and the id, then keywords",
                                 'write net.add("family.name", "id", param=value, ...)')
                        continue
                    ref = net.add(*args, **kw)
                    if target is not None:
                        nodes[target] = ref
                else:
                    ok, args, kw = self.arguments(call, port_args=True)
                    if not ok:
                        continue
                    if len(args) != 2:
                        self.bad(st, "script.connect", "net.connect takes two ports", "write net.connect(a.port, b.port)")
                        continue
                    ends = []
                    for a in args:
                        if isinstance(a, tuple) and a[0] == "port":
                            if a[1] not in nodes:
                                raise DesignError(Problem("error", "script.name", f"`{a[1]}` is not a node defined above",
                                                          "define the node with `x = net.add(…)` first"))
                            ends.append(getattr(nodes[a[1]], a[2]))
                        elif isinstance(a, str):
                            ends.append(a)
                        else:
                            raise DesignError(Problem("error", "edge.endpoint", f"bad endpoint {a!r}",
                                                      "write node.port"))
                    if any(not isinstance(v, (str, int, float, bool, type(None))) for v in kw.values()):
                        raise DesignError(Problem("error", "edge.data", "wire data must be plain values", "write sign=-1"))
                    net.connect(*ends, **kw)
            except DesignError as e:
                for p in e.problems:
                    self.problems.append(dataclasses.replace(p, message=f"{self.source}, line {st.lineno}: {p.message}"))
            except TypeError as e:  # a wrong keyword or argument count of a builder method
                self.bad(st, "script.call", f"{e}", ALLOWED)
            except KeyError as e:  # a node id named in a "node.port" string that does not exist
                self.bad(st, "edge.dangling", f"no node {e} in the script", "add the node before wiring it")
        return net, arrays_file

    def positions(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        lines = self.text.splitlines()
        try:
            start = next(i for i, ln in enumerate(lines) if ln.strip() == POSITIONS_MARK)
        except StopIteration:
            return out
        for i in range(start + 1, len(lines)):
            ln = lines[i].strip()
            if not ln.startswith("#"):
                break
            parts = ln[1:].split()
            if len(parts) != 3:
                self.bad(i + 1, "script.position", f"`{ln}` is not `# id x y`", "write one `# id x y` line per node")
                continue
            try:
                xy = [ast.literal_eval(p) for p in parts[1:]]
            except (ValueError, SyntaxError):
                xy = None
            if xy is None or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                                     for v in xy):
                self.bad(i + 1, "script.position", f"`{ln}`: x and y must be finite numbers", "write `# id x y`")
                continue
            out[parts[0]] = {"x": xy[0], "y": xy[1]}
        return out


def _leaves(v):
    if isinstance(v, dict):
        for x in v.values():
            yield from _leaves(x)
    elif isinstance(v, list):
        for x in v:
            yield from _leaves(x)
    else:
        yield v


def _parse(text: str, source: str) -> tuple[Design, str | None]:
    try:
        tree = ast.parse(text, filename=source)
    except SyntaxError as e:
        raise DesignError(_problem(source, e.lineno or 0, "script.syntax", f"not valid Python: {e.msg}",
                                   "fix the syntax at that line")) from None
    except ValueError as e:  # NUL bytes and the like
        raise DesignError(_problem(source, 0, "script.syntax", f"not valid Python: {e}", "fix the file")) from None
    r = _Reader(text, source)
    r.check(tree)
    if r.problems:
        raise DesignError(r.problems)
    net, arrays_file = r.replay()
    pos = r.positions()
    if r.problems:
        raise DesignError(r.problems)
    design = net.design
    for n in design.nodes:
        if n["id"] in pos:
            n["position"] = pos[n["id"]]
    return design, arrays_file


def import_script(text: str, source: str = "model.py") -> dict:
    """The design document of a script written by :func:`export_script` (or edited within
    its forms), read without executing anything. Raises :class:`DesignError` naming the
    line of every statement outside the allowed subset."""
    return _parse(text, source)[0].doc


def load_script(path: str | os.PathLike) -> Design:
    """A :class:`Design` from a script file, with the sidecar arrays it names (``arrays=``,
    relative to the script's folder) loaded."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DesignError(Problem("error", "file.unreadable", f"cannot read {path}: {e}",
                                  "give a Python script written by `gliaflow export`")) from None
    design, arrays_file = _parse(text, str(path))
    if arrays_file is not None:
        p = Path(arrays_file)
        if not p.is_absolute():
            p = path.parent / p
        if not p.exists():
            raise DesignError(Problem("error", "file.not_found", f"the script names arrays '{arrays_file}', "
                                      f"which is not next to it ({p})", "put the .arrays.npz next to the script"))
        design.arrays = load_sidecar(p)
    return design
