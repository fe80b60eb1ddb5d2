"""The dependency graph: the single truth for "what feeds what".

item → score → rule → conclusion → rule → recommendation. Question selection, why/why-not, lint and
docs read this graph instead of re-deriving links from the rules.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

import networkx as nx

from .conditions import atoms

if TYPE_CHECKING:
    from .kb import KnowledgeBase


def build_graph(kb: "KnowledgeBase") -> nx.DiGraph:
    g = nx.DiGraph()
    for q in kb.questions.values():
        g.add_node(q.id, kind="item", label=q.title, instrument=q.data["instrument"])
    for s in kb.scores.values():
        g.add_node(s.id, kind="score", label=s.title)
        for i in s.inputs:
            g.add_edge(i, s.id)
    for r in kb.rules:   # concluded ids first: a `fact` atom may name one before its rule comes
        if r.concludes not in g:
            target_kind = "recommendation" if r.kind == "recommendation" else "conclusion"
            label = kb.interventions[r.concludes].title if r.kind == "recommendation" else r.title
            g.add_node(r.concludes, kind=target_kind, label=label, type=r.ctype)
    for r in kb.rules:
        g.add_node(f"rule:{r.id}", kind="rule", label=r.title, family=r.family)
        g.add_edge(f"rule:{r.id}", r.concludes)
        for a in atoms(r.when):
            if a.ref not in g:
                g.add_node(a.ref, kind="conclusion", label=a.ref)
            g.add_edge(a.ref, f"rule:{r.id}")
    for n in g.nodes:
        g.nodes[n]["feeds_rules"] = any(g.nodes[d]["kind"] == "rule" for d in nx.descendants(g, n))
    return g


def feeders(g: nx.DiGraph, ident: str, kind: str | None = None) -> list[str]:
    """Everything upstream of ident (optionally of one kind), in a stable order."""
    if ident not in g:
        return []
    found = nx.ancestors(g, ident)
    return sorted(n for n in found if kind is None or g.nodes[n]["kind"] == kind)


def influences(g: nx.DiGraph, ident: str, kind: str | None = None) -> list[str]:
    if ident not in g:
        return []
    found = nx.descendants(g, ident)
    return sorted(n for n in found if kind is None or g.nodes[n]["kind"] == kind)


def neighbourhood(g: nx.DiGraph, around: str | None, depth: int) -> nx.DiGraph:
    if around is None:
        return g
    undirected = g.to_undirected(as_view=True)
    keep = nx.single_source_shortest_path_length(undirected, around, cutoff=depth)
    return g.subgraph(keep).copy()


def _safe(n: str) -> str:
    return "n_" + "".join(ch if ch.isalnum() else "_" for ch in n)


def to_dot(g: nx.DiGraph) -> str:
    shapes = {"item": "box", "score": "ellipse", "rule": "diamond", "conclusion": "octagon", "recommendation": "note"}
    lines = ["digraph partnerdx {", "  rankdir=LR;"]
    for n, d in sorted(g.nodes(data=True)):
        lines.append(f'  "{n}" [shape={shapes.get(d["kind"], "box")}, tooltip={json.dumps(d.get("label", n))}];')
    for a, b in sorted(g.edges):
        lines.append(f'  "{a}" -> "{b}";')
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(g: nx.DiGraph) -> str:
    lines = ["flowchart LR"]
    for n, d in sorted(g.nodes(data=True)):
        lines.append(f'  {_safe(n)}["{n}"]')
    for a, b in sorted(g.edges):
        lines.append(f"  {_safe(a)} --> {_safe(b)}")
    return "\n".join(lines) + "\n"


def to_json(g: nx.DiGraph) -> str:
    nodes = [{"id": n, **{k: v for k, v in d.items()}} for n, d in sorted(g.nodes(data=True))]
    edges = [{"from": a, "to": b} for a, b in sorted(g.edges)]
    return json.dumps({"nodes": nodes, "edges": edges}, indent=2, ensure_ascii=False) + "\n"
