"""Safe YAML with line numbers and duplicate-key detection.

Error messages must name the line of the offending key, and YAML silently keeps the last of two
duplicate keys; both need the node marks that plain `safe_load` throws away.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

try:  # libyaml's C loader is several times faster; fall back when it is not built.
    _Base = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the platform build
    _Base = yaml.SafeLoader

from .errors import InputError, Problem, display_path


class LineDict(dict):
    """A mapping that remembers where it and each of its keys were written."""

    line: int = 0
    key_lines: dict

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list):
    line: int = 0
    item_lines: list


def _make_loader(path: str, problems: list[Problem]) -> type:
    class Loader(_Base):  # type: ignore[misc, valid-type]
        pass

    def construct_mapping(loader: Any, node: yaml.MappingNode) -> LineDict:
        loader.flatten_mapping(node)
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                problems.append(Problem(path, key_node.start_mark.line + 1, None, "mapping keys must be plain values"))
                continue
            key = str(key) if not isinstance(key, str) else key
            line = key_node.start_mark.line + 1
            if key in result:
                problems.append(Problem(path, line, None,
                                        f"duplicate key '{key}' (first at line {result.key_lines[key]})"))
                continue
            result[key] = loader.construct_object(value_node, deep=True)
            result.key_lines[key] = line
        return result

    def construct_sequence(loader: Any, node: yaml.SequenceNode) -> LineList:
        result = LineList(loader.construct_object(n, deep=True) for n in node.value)
        result.line = node.start_mark.line + 1
        result.item_lines = [n.start_mark.line + 1 for n in node.value]
        return result

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_sequence)
    return Loader


def parse_yaml(text: str, path: str) -> Any:
    """Parse YAML text; raise InputError naming path and line for syntax errors, tags, duplicates."""
    problems: list[Problem] = []
    loader = _make_loader(path, problems)
    try:
        data = yaml.load(text, Loader=loader)  # noqa: S506 - the loader is a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        line, msg = plain_words(exc, text)
        if not msg.startswith("malformed YAML"):
            msg = f"malformed YAML: {msg}"
        raise InputError([Problem(path, line, None, msg)]) from None
    except yaml.YAMLError as exc:
        raise InputError([Problem(path, None, None, f"malformed YAML: {exc}")]) from None
    if problems:
        raise InputError(problems)
    return data


def read_text(path: Path) -> str:
    """Read a UTF-8 file, turning OS and decoding errors into InputError."""
    shown = display_path(path)
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError([Problem(shown, None, None, "no such file")]) from None
    except IsADirectoryError:
        raise InputError([Problem(shown, None, None, "is a directory, not a file")]) from None
    except UnicodeDecodeError as exc:
        raise InputError([Problem(shown, None, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})")]) from None
    except OSError as exc:
        raise InputError([Problem(shown, None, None, f"cannot read: {exc.strerror}")]) from None


def load_yaml_file(path: Path) -> Any:
    return parse_yaml(read_text(path), display_path(path))


def line_of(node: Any, key: str | None = None) -> int | None:
    """Best line for `node[key]` (or node itself) when the node came from this loader."""
    if isinstance(node, LineDict):
        return node.line_of(key) if key is not None else node.line
    if isinstance(node, LineList):
        return node.line
    return None


_LIST_KEY = re.compile(r"^(entries|scores|rules|scenarios):\s*(#.*)?$")
_ITEM = re.compile(r"^( *)- ")
_ID = re.compile(r"^\s*(?:- )?id:\s*['\"]?([A-Za-z0-9_.*-]+)")


def plain_words(exc: yaml.MarkedYAMLError, text: str) -> tuple[int | None, str]:
    """A YAML syntax error in words an author understands, at the line to fix."""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else None
    lines = text.splitlines()
    problem = str(exc.problem or "")
    here = lines[line - 1] if line and line <= len(lines) else ""
    tabbed = next((i + 1 for i, ln in enumerate(lines) if "\t" in ln[:len(ln) - len(ln.lstrip())]), None)
    if "\\t" in problem or "'\\t'" in repr(problem) or (tabbed and line and abs(tabbed - line) <= 1):
        return tabbed or line, "a tab character indents this line; YAML indents with spaces only"
    if "mapping values are not allowed" in problem:
        return line, ("a 'key: value' where none can start: this line is probably indented too far or too "
                      "little, or a text containing ': ' needs quotes")
    if "expected <block end>" in problem or "did not find expected key" in problem or \
            "expected <block mapping start>" in problem:
        return line, ("this line is indented differently from the keys before it: align it with the other keys "
                      f"of its entry ({here.strip()[:40]!r})")
    if "could not find expected ':'" in problem:
        return line, "a key without ':' (or a text that runs over lines without quotes)"
    msg = " ".join(str(x) for x in (exc.context, exc.problem) if x)
    return line, f"malformed YAML: {msg}"


def _chunks(lines: list[str]) -> list[tuple[str, int, int]]:
    """(list key, first line index, end index) of every entry of every top-level entry list."""
    out: list[tuple[str, int, int]] = []
    i = 0
    while i < len(lines):
        m = _LIST_KEY.match(lines[i])
        if not m:
            i += 1
            continue
        key, j, indent, start = m.group(1), i + 1, None, None
        while j < len(lines):
            ln = lines[j]
            if ln.strip() and not ln.startswith((" ", "-", "#", "\t")):
                break                                 # next top-level key
            item = _ITEM.match(ln)
            if item and (indent is None or len(item.group(1)) == indent):
                indent = len(item.group(1))
                if start is not None:
                    out.append((key, start, j))
                start = j
            j += 1
        if start is not None:
            out.append((key, start, j))
        i = j
    return out


def parse_yaml_entries(text: str, path: str) -> tuple[Any, list[Problem]]:
    """Parse a document; when it has a syntax error, parse it entry by entry instead, so that one
    broken entry is reported (in plain words, at its line) and the others still load. Returns the
    document (with the broken entries left out) and the problems; raises InputError only when not
    even the document's frame can be read. A broken entry whose `id` can be read is kept as a
    mapping `{id: …, __broken__: true}` so the loader knows the id is defined but invalid."""
    try:
        return parse_yaml(text, path), []
    except InputError as exc:
        first = exc
        if not any("malformed YAML" in p.message for p in first.problems):
            raise
    lines = text.splitlines(keepends=True)
    chunks = _chunks(lines)
    skeleton = list(lines)
    for _, a, b in chunks:
        for k in range(a, b):
            skeleton[k] = "\n"
    try:
        doc = parse_yaml("".join(skeleton), path)
    except InputError:
        doc = None
    if not isinstance(doc, LineDict) or not chunks:
        raise first from None
    problems: list[Problem] = []
    lists: dict[str, LineList] = {}
    for key, a, b in chunks:
        target = lists.setdefault(key, _line_list(doc.line_of(key)))
        piece = "\n" * a + "".join(lines[a:b])
        try:
            parsed = yaml.load(piece, Loader=_make_loader(path, problems))  # noqa: S506 - safe loader
        except yaml.MarkedYAMLError as exc:
            line, msg = plain_words(exc, piece)
            msg = msg if msg.startswith("malformed YAML") else f"malformed YAML: {msg}"
            ident = next((m.group(1) for ln in lines[a:b] if (m := _ID.match(ln))), None)
            problems.append(Problem(path, line, ident, msg))
            if ident:
                broken = LineDict(id=ident, __broken__=True)
                broken.line, broken.key_lines = a + 1, {}
                target.append(broken)
                target.item_lines.append(a + 1)
            continue
        for item, item_line in zip(parsed or [], getattr(parsed, "item_lines", [])):
            target.append(item)
            target.item_lines.append(item_line)
    for key, value in lists.items():
        doc[key] = value
    return doc, problems


def _line_list(line: int) -> LineList:
    out = LineList()
    out.line, out.item_lines = line, []
    return out
