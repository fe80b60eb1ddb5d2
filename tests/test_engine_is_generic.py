"""Rules as data, engine as code: no string in engine/ names an item, score, rule, conclusion or
intervention of the knowledge base (docstrings and lint's documentation examples aside)."""
from __future__ import annotations

import ast
import re

from conftest import ROOT

DOC_EXAMPLES = {"lint.py"}   # its code docs show authors example YAML, by design


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def test_engine_code_names_no_knowledge_base_id(kb):
    ids = {i for i in (set(kb.questions) | set(kb.conclusion_types) | set(kb.interventions) | set(kb.scores)
                       | {r.id for r in kb.rules}) if "." in i}
    pattern = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, sorted(ids, key=len, reverse=True))) + r")(?![\w])")
    found = []
    for f in sorted((ROOT / "engine").rglob("*.py")):
        if f.name in DOC_EXAMPLES:
            continue
        tree = ast.parse(f.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                m = pattern.search(node.value)
                if m:
                    found.append(f"{f.relative_to(ROOT)}:{node.lineno}: {m.group(1)}")
    assert not found, "\n".join(found)


def test_the_installed_code_claims_one_import_name():
    """`partnerdx` only: importing every module never loads a generic top-level `engine` or `cli`."""
    import subprocess
    import sys
    code = ("import importlib, pkgutil, sys, partnerdx\n"
            "for m in pkgutil.walk_packages(partnerdx.__path__, 'partnerdx.'):\n"
            "    if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
            "print(sorted({n.split('.')[0] for n in sys.modules if n.split('.')[0] in ('engine', 'cli')}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    main = subprocess.run([sys.executable, "-m", "partnerdx", "--help"], capture_output=True, text=True,
                          cwd="/", timeout=60)
    assert main.returncode == 0 and "Usage:" in main.stdout
