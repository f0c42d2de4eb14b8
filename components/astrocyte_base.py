"""What every astrocyte type checks about its wiring."""
from __future__ import annotations

from engine.errors import Problem


def wiring_problems(node, graph) -> list[Problem]:
    """An astrocyte with no input never changes and one with no output acts on nothing:
    warnings naming the astrocyte, its ports and what to wire them to."""
    out = []
    ins = [p.name for p in node.type.in_ports()]
    outs = [p.name for p in node.type.out_ports() if p.name != "state"]
    if not any(graph.inputs(node.id, p) for p in ins):
        out.append(Problem("warning", "astrocyte.no_input",
                           f"astrocyte '{node.id}' ({node.key}) receives nothing on {', '.join(ins)}, so its state "
                           "never changes", f"wire spikes or a projection's activity into '{node.id}.{ins[0]}'",
                           node=node.id, port=ins[0]))
    if outs and not any(graph.outputs(node.id, p) for p in outs):
        out.append(Problem("warning", "astrocyte.no_output",
                           f"astrocyte '{node.id}' ({node.key}) acts on nothing: none of {', '.join(outs)} is wired",
                           f"wire '{node.id}.{outs[0]}' to what it modulates", node=node.id, port=outs[0]))
    return out
