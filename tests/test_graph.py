"""`partnerdx kb graph`: the dependency graph in three formats, whole or around one id."""
from __future__ import annotations

import networkx as nx
import pytest

from conftest import cli, write


def test_json_graph_runs_from_items_through_rules_to_recommendations(kb):
    g = cli("kb", "graph", "--format", "json").json()
    kinds = {n["id"]: n["kind"] for n in g["nodes"]}
    edges = {(e["from"], e["to"]) for e in g["edges"]}
    assert {"item", "score", "rule", "conclusion", "recommendation"} <= set(kinds.values())
    assert {("t2.r01", "dim.trust"), ("dim.trust", "rule:mode.creating"), ("rule:mode.creating", "mode.creating")} <= edges
    rec = next(r for r in kb.rules if r.kind == "recommendation")
    assert kinds[rec.concludes] == "recommendation" and (f"rule:{rec.id}", rec.concludes) in edges
    assert len(kinds) == kb.graph.number_of_nodes() and len(edges) == kb.graph.number_of_edges()


def test_conclusions_are_labelled_with_their_rule_title_and_type():
    """A conclusion used as a fact by an earlier file is still labelled by the rule concluding it."""
    nodes = {n["id"]: n for n in cli("kb", "graph", "--format", "json").json()["nodes"]}
    assert nodes["mode.creating"]["label"] == "Trust takes precedence over contract in a voluntary partnership"
    assert nodes["mode.creating"]["type"] == "mode"


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_around_keeps_the_neighbourhood_within_depth(kb, depth):
    g = cli("kb", "graph", "--around", "mode.creating", "--depth", str(depth), "--format", "json").json()
    expected = nx.single_source_shortest_path_length(kb.graph.to_undirected(), "mode.creating", cutoff=depth)
    assert {n["id"] for n in g["nodes"]} == set(expected)
    if depth == 1:
        assert {"rule:mode.creating", "rule:fit.creating.suited"} <= set(expected)


def test_dot_and_mermaid():
    dot = cli("kb", "graph", "--around", "mode.creating", "--depth", "1").out
    assert dot.startswith("digraph partnerdx {") and dot.rstrip().endswith("}")
    assert '"rule:mode.creating" -> "mode.creating";' in dot
    assert '"mode.creating" [shape=octagon' in dot
    mermaid = cli("kb", "graph", "--around", "mode.creating", "--depth", "1", "--format", "mermaid").out
    assert mermaid.startswith("flowchart LR\n")
    assert "  n_rule_mode_creating --> n_mode_creating" in mermaid.splitlines()


def test_unknown_id_is_bad_usage_with_a_suggestion():
    run = cli("kb", "graph", "--around", "mode.creatin", code=2)
    assert run.err.strip() == "<command line>: mode.creatin: not in the graph; did you mean 'mode.creating'?"
    cli("kb", "graph", "--depth", "-1", code=2)


def test_overlay_rules_are_in_the_graph(tmp_path):
    write(tmp_path / "rules" / "x.yaml", "kind: rules\nfamily: local\nrules:\n"
          "  - id: local.withheld\n    title: Information is withheld\n    when: {item: stair.q06, lte: 1}\n"
          "    then: {conclude: local.withheld, type: risk}\n    because: x\n"
          '    source: {ref: morley-staircase, at: q, quote: "The ten questions are"}\n    examples: []\n')
    g = cli("--kb", tmp_path, "kb", "graph", "--around", "local.withheld", "--depth", "2", "--format", "json").json()
    edges = {(e["from"], e["to"]) for e in g["edges"]}
    assert {("stair.q06", "rule:local.withheld"), ("rule:local.withheld", "local.withheld")} <= edges
