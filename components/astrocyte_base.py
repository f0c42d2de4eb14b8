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


def wire_inputs(node, b, n: int):
    """The inputs of an astrocyte population of ``n``: projections onto it (``drive``) and
    synaptic activity or spikes in the domains of its astrocytes (``activity``).

    Returns ``(drives, acts, reads, n_in)``: the driving projections, the activity sources
    as ``(kind, source, spiking node, sign, domain buffer, release buffer)`` for
    :func:`input_lines`, the buffers the step reads, and the number of input synapses of
    each astrocyte (for averaging)."""
    import numpy as np

    from .astrocyte_lr import domain

    g, nid = b.graph, node.id
    n_in = np.zeros(n, np.int64)
    drives = [e.source for e in g.inputs(nid, "drive")]
    for p in drives:
        post = b.buffers.get(f"{p}.post")
        if post is not None:
            n_in += np.bincount(post, minlength=n)[:n]
    acts, reads = [], [f"{p}.g" for p in drives]
    for e in g.inputs(nid, "activity"):
        src = g.nodes[e.source]
        sign = float((e.data or {}).get("sign", 1))
        if src.type.family() == "projection":
            pre = g.sources(src.id, "pre")[0]
            npost = g.size(g.targets(src.id, "post")[0].id)
            dom = domain(np.arange(npost), n, npost).astype(np.int64)
            pb = b.buffers.get(f"{src.id}.post")
            if pb is not None:
                n_in += np.bincount(dom[pb], minlength=n)[:n]
            rel = next((st.attrs.get("release", "") for st in b.steps
                        if st.node == src.id and st.kind == "synapse.deliver"), "")
            acts.append(("proj", src.id, pre.id, sign, b.buffer(nid, f"dom_{src.id}", dom, "const"), rel))
            reads += [f"{pre.id}.spk", f"{src.id}.post", f"{src.id}.indptr", f"{src.id}.w"]
            if rel:  # short-term plasticity on the projection scales each spike's release
                reads.append(rel)
        else:
            nsrc = g.size(src.id)
            dom = domain(np.arange(max(nsrc, 1)), n, nsrc).astype(np.int64)
            n_in += np.bincount(dom[:nsrc], minlength=n)[:n]
            acts.append(("spk", src.id, src.id, sign, b.buffer(nid, f"dom_{src.id}", dom, "const"), ""))
            reads.append(f"{src.id}.spk")
    return drives, acts, reads, n_in


def input_lines(ctx, a, n: int, acc: str, scale: str, gain: str) -> list[str]:
    """Kernel lines adding this step's input to ``acc``: ``scale`` x the weight arriving
    through each driving projection (its trace's increment g (1 - decay)) and ``gain`` x
    weight (x release) of each spike of an activity source, in its astrocyte's domain."""
    lines = []
    for proj in a["drives"]:
        g, dec = ctx.b(f"{proj}.g"), ctx.p(proj, "decay")
        lines += [f"for i in range({n}):", f"    {acc}[i] += {scale}{g}[i] * (1.0 - {dec})"]
    for kind, src, spk_src, sign, dom, rel in a["acts"]:
        spk, ns = ctx.b(f"{spk_src}.spk"), ctx.ns(spk_src)
        getc = f"{ctx.b(spk_src + '.cnt')}[_k]" if ctx.plan.spike_sources[spk_src].multi else "1"
        d = ctx.b(dom)
        gs = f"{gain} * {sign!r}"
        if kind == "proj":
            indptr, post = ctx.b(f"{src}.indptr"), ctx.b(f"{src}.post")
            wq = f"{ctx.b(src + '.w')}[_q]" if ctx.is_array(src, "wc") else ctx.p(src, "wc")
            relf = f" * {ctx.b(rel)}[_i]" if rel else ""
            lines += [f"for _k in range({ns}):", f"    _i = {spk}[_k]", f"    _c = {gs} * {getc}{relf}",
                      f"    for _q in range({indptr}[_i], {indptr}[_i + 1]):",
                      f"        {acc}[{d}[{post}[_q]]] += {wq} * _c"]
        else:
            lines += [f"for _k in range({ns}):", f"    {acc}[{d}[{spk}[_k]]] += {gs} * {getc}"]
    return lines
