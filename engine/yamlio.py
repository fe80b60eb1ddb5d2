"""Safe YAML with line numbers and duplicate-key detection.

Error messages must name the line of the offending key, and YAML silently keeps the last of two
duplicate keys; both need the node marks that plain `safe_load` throws away.
"""
from __future__ import annotations

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
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        msg = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise InputError([Problem(path, line, None, f"malformed YAML: {msg}")]) from None
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
