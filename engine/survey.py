"""Survey exports (CONTRACT §3): many respondents' answers in CSV, read in one streaming pass.

Nothing is kept per respondent except the index that finds duplicated respondent ids: each row's
answers are reduced to one byte per question and folded into per-group counts every BATCH rows, so
memory grows with organisations × questions rather than with respondents, and no individual answer
can reach a report because only counts survive the read.

How a survey platform's extra header row is told from a respondent's row with a typo
(the decision the contract leaves to us):

- a row whose rated cells are all blank (or `unknown`) has no rated answers: skipped, with a warning;
- a row with at least one non-blank rated cell and *no* number among its rated cells (question text,
  `{"ImportId":"QID1"}`, labels) is a header row: skipped, with a warning naming the line;
- a row with at least one number among its rated cells is a respondent's row: every other non-blank
  rated cell must then be a number from 1 to 5, or the file is rejected (exit 2) with
  `file:line: item: message` for each bad cell. A number out of range counts as a number, so a row
  of 0–10 scores is an error, never a header.
"""
from __future__ import annotations

import codecs
import csv
import re
from collections import Counter
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING

from .answers import check_value
from .errors import InputError, Problem, display_path
from .schema import suggest

if TYPE_CHECKING:
    from .kb import KnowledgeBase

META = ("respondent", "organisation", "sector", "round")
META_ALIASES = {"organization": "organisation"}
DELIMITERS = ",;\t|"
UNSTATED = "(organisation not stated)"
MAX_PROBLEMS_PER_FILE = 100
BATCH = 1024                     # rows buffered per group before they are folded into counts
_CODES = {"": 0, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5}   # the fast path's cells -> answer codes
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_ISO_DATE = re.compile(r"\d{4}(-(\d{2}|Q[1-4]))?(-\d{2})?")
_BLANK, _TEXT, _RANGE, _MISS = object(), object(), object(), object()


@dataclass
class Tally:
    """The answers of one organisation in one round, as counts.

    Rows are buffered as one byte per rated column (0 = blank, 1–5 = the answer; nothing else of the
    row), at most BATCH rows at a time, then folded into per-item counts by C-speed byte counting:
    the loop over cells stays out of Python, and memory stays bounded whatever the number of rows.
    """

    width: int                                   # number of rated items in the knowledge base
    respondents: int = 0
    hist: list[int] = field(default_factory=list)       # item * 6 + whole answer -> count
    fractional: dict[int, list[float]] = field(default_factory=dict)  # item -> [n, sum, sum of squares]
    choices: dict[str, Counter] = field(default_factory=dict)        # context item -> value -> count
    answered_choice: Counter = field(default_factory=Counter)        # context item -> respondents
    sectors: Counter = field(default_factory=Counter)
    pending: dict[tuple[int, ...], bytearray] = field(default_factory=dict)   # columns' items -> codes

    def __post_init__(self) -> None:
        if not self.hist:
            self.hist = [0] * (self.width * 6)

    def add(self, layout: tuple[int, ...], codes: bytes) -> None:
        """One respondent's whole answers, `codes[k]` for item `layout[k]` (0 = not a whole answer)."""
        buffer = self.pending.get(layout)
        if buffer is None:
            buffer = self.pending[layout] = bytearray()
        buffer += codes
        if len(buffer) >= BATCH * len(layout):
            self._fold(layout)

    def _fold(self, layout: tuple[int, ...]) -> None:
        buffer = bytes(self.pending.pop(layout))
        step, hist = len(layout), self.hist
        for k, index in enumerate(layout):
            column = buffer[k::step]
            for value in range(1, 6):
                hist[index * 6 + value] += column.count(value)

    def finish(self) -> "Tally":
        for layout in list(self.pending):
            self._fold(layout)
        return self

    def moments(self, index: int) -> tuple[int, float, float]:
        """(n, sum, sum of squares) of one item: all that means and spreads need."""
        self.finish()
        base = index * 6
        n = total = squares = 0.0
        for value in range(1, 6):
            count = self.hist[base + value]
            n += count
            total += count * value
            squares += count * value * value
        extra = self.fractional.get(index)
        if extra:
            n, total, squares = n + extra[0], total + extra[1], squares + extra[2]
        return int(n), total, squares

    def merge(self, other: "Tally") -> None:
        self.finish()
        other.finish()
        self.respondents += other.respondents
        self.hist = [a + b for a, b in zip(self.hist, other.hist)]
        for index, (n, s, q) in other.fractional.items():
            mine = self.fractional.setdefault(index, [0, 0.0, 0.0])
            mine[0] += n
            mine[1] += s
            mine[2] += q
        for item, counts in other.choices.items():
            self.choices.setdefault(item, Counter()).update(counts)
        self.answered_choice.update(other.answered_choice)
        self.sectors.update(other.sectors)


@dataclass
class Survey:
    """Everything `assess` needs from the CSVs: counts per round and organisation, and warnings."""

    items: list[str]                               # rated item ids, knowledge-base order
    choice_items: list[str]                        # context (choice / multi) item ids present
    rounds: dict[str, dict[str, Tally]]            # round label -> organisation key -> tally
    names: dict[str, str]                          # organisation key -> name as first written
    files: list[str]
    warnings: list[Problem]
    has_organisations: bool
    round_source: str                              # "single" | "column" | "files"

    @property
    def round_order(self) -> list[str]:
        return list(self.rounds)


@dataclass
class _Columns:
    """One file's header, resolved against the knowledge base."""

    width: int
    rated: list[tuple[int, int]]                   # (column, rated item index)
    choice: list[tuple[int, str]]                  # (column, context item id)
    meta: dict[str, int]


class _Reader:
    """State shared by all files of one `assess` run."""

    def __init__(self, kb: "KnowledgeBase", paths: list[Path], same_round: bool) -> None:
        self.kb = kb
        self.items = [q for q, e in kb.questions.items() if e.type == "rated"]
        self.index = {q: i for i, q in enumerate(self.items)}
        self.choice_seen: set[str] = set()
        self.paths = paths
        self.same_round = same_round
        self.rounds: dict[str, dict[str, Tally]] = {}
        self.names: dict[str, str] = {}
        self.seen_ids: dict[tuple[str, str], tuple[int, str, int]] = {}   # -> (file number, file, line)
        self.file_number = 0
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.has_organisations = False
        self.round_sources: set[str] = set()
        self.file_labels = _file_labels(paths)
        self.cell_cache: dict[bool, dict[str, object]] = {}     # decimal comma? -> cell -> class
        self.org_keys: dict[str, str] = {}                      # organisation as written -> key

    # ---- files ----------------------------------------------------------------------------------

    def read(self) -> Survey:
        repeated = self._refuse_repeated_files()
        for number, path in enumerate(self.paths):
            if number not in repeated:
                self.file_number = number
                self._read_file(path, number)
        if self.problems:
            raise InputError(self.problems)
        if not any(t.respondents for groups in self.rounds.values() for t in groups.values()):
            shown = ", ".join(display_path(p) for p in self.paths)
            raise InputError([Problem(shown, None, None, "no respondent has a rated answer: nothing to assess")])
        source = "column" if "column" in self.round_sources else "files" if "files" in self.round_sources else "single"
        order = _order_rounds(list(self.rounds)) if self.round_sources == {"column"} else list(self.rounds)
        return Survey(self.items, [q for q in self.kb.questions if q in self.choice_seen],
                      {r: self.rounds[r] for r in order}, self.names, [display_path(p) for p in self.paths],
                      self.warnings, self.has_organisations, source)

    def _refuse_repeated_files(self) -> set[int]:
        """The same respondents read twice would count twice: the same file named twice (returned, so
        that it is read once), or, in one round, two files with the same content (whose repeated
        respondent ids are reported line by line as well). Successive rounds may repeat people."""
        seen: dict[object, Path] = {}
        repeated: set[int] = set()
        for number, path in enumerate(self.paths):
            try:
                key: object = path.resolve(strict=True)
            except OSError:
                continue                      # reported, with its reason, when the file is read
            if key in seen:
                self.problems.append(Problem(display_path(path), None, None, "given twice: its respondents "
                                             "would count twice"))
                repeated.add(number)
                continue
            seen[key] = path
        if not self.same_round or len(seen) < 2:
            return repeated
        import hashlib
        contents: dict[str, Path] = {}
        for path in seen.values():
            digest = hashlib.sha256()
            try:
                with open(path, "rb") as handle:
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(block)
            except OSError:
                continue
            first = contents.setdefault(digest.hexdigest(), path)
            if first is not path:
                self.problems.append(Problem(display_path(path), None, None, f"same content as "
                                             f"{display_path(first)}: its respondents would count twice in one round"))
        return repeated

    def _read_file(self, path: Path, number: int) -> None:
        shown = display_path(path)
        before = len(self.problems)
        try:
            encoding = _detect_encoding(path)
            with open(path, newline="", encoding=encoding) as handle:
                first = handle.readline()
                handle.seek(0)
                delimiter = _sniff_delimiter(first)
                reader = csv.reader(handle, delimiter=delimiter)
                header = next(reader, None)
                if header is None or not any(cell.strip() for cell in header):
                    self.problems.append(Problem(shown, 1, None, "empty file: expected a header row of item ids"))
                    return
                columns = self._columns(header, shown)
                if columns is None:
                    return
                label = self.file_labels[number] if len(self.paths) > 1 and not self.same_round else ""
                self._rows(reader, columns, shown, label, delimiter)
        except FileNotFoundError:
            self.problems.append(Problem(shown, None, None, "no such file"))
        except IsADirectoryError:
            self.problems.append(Problem(shown, None, None, "is a directory, expected a CSV file"))
        except PermissionError:
            self.problems.append(Problem(shown, None, None, "cannot read: permission denied"))
        except csv.Error as exc:
            self.problems.append(Problem(shown, None, None, f"malformed CSV: {exc}"))
        found = self.problems[before:]
        if len(found) > MAX_PROBLEMS_PER_FILE:
            last = max(p.line or 0 for p in found)
            del self.problems[before + MAX_PROBLEMS_PER_FILE:]
            self.problems.append(Problem(shown, last, None, f"… and {len(found) - MAX_PROBLEMS_PER_FILE} more "
                                         "problems in this file not shown"))

    def _columns(self, header: list[str], shown: str) -> _Columns | None:
        """Resolve column names: item ids, the optional meta columns, and unknown ones (warned once)."""
        rated: list[tuple[int, int]] = []
        choice: list[tuple[int, str]] = []
        meta: dict[str, int] = {}
        first_at: dict[str, int] = {}
        problems = []
        for column, raw in enumerate(header):
            name = raw.strip()
            key = META_ALIASES.get(name.lower(), name.lower())
            canonical = name if name in self.kb.questions else key if key in META else name
            if canonical in first_at:
                problems.append(Problem(shown, 1, canonical or None, f"column appears twice (columns "
                                        f"{first_at[canonical] + 1} and {column + 1})"))
                continue
            first_at[canonical] = column
            if name in self.kb.questions:
                if self.kb.questions[name].type == "rated":
                    rated.append((column, self.index[name]))
                else:
                    choice.append((column, name))
                    self.choice_seen.add(name)
            elif key in META:
                meta[key] = column
            elif name:
                self.warnings.append(Problem(shown, 1, name, "warning: unknown column, ignored"
                                             + self._suggest_column(name)))
            else:
                self.warnings.append(Problem(shown, 1, None, f"warning: column {column + 1} has no name, ignored"))
        if not rated and not problems:
            problems.append(Problem(shown, 1, None, "no column is named by a rated item id (e.g. "
                                    f"{', '.join(self.items[:2])}); the first row must hold the item ids"))
        if problems:
            self.problems += problems
            return None
        if "organisation" in meta:
            self.has_organisations = True
        return _Columns(len(header), rated, choice, meta)

    def _suggest_column(self, name: str) -> str:
        """Survey tools often drop the zero padding (stair.q1 for stair.q01): suggest that first."""
        padded = re.sub(r"(\d+)$", lambda m: m.group(1).zfill(2), name.strip().lower())
        if padded in self.kb.questions:
            return f"; did you mean '{padded}'?"
        return suggest(name, list(self.kb.questions) + list(META))

    # ---- rows -----------------------------------------------------------------------------------

    def _rows(self, reader, columns: _Columns, shown: str, label: str, delimiter: str) -> None:
        """The hot loop. Fast path: every rated cell is exactly '1'…'5' or blank, so the row's rated
        cells become a byte string in one C-level pass (map over a dict lookup). Any other cell sends
        the row down the slow path, which classifies each cell and tells a header row from a typo."""
        width = columns.width
        layout = tuple(index for _, index in columns.rated)
        positions = [column for column, _ in columns.rated]
        pick = itemgetter(*positions) if len(positions) > 1 else (lambda row: (row[positions[0]],))
        code = _CODES.__getitem__
        blank = bytes(len(positions))
        last_line = reader.line_num
        for row in reader:
            line = last_line + 1
            last_line = reader.line_num
            if len(row) != width:
                if row:
                    self.problems.append(Problem(shown, line, None, f"row has {len(row)} cells, the header has "
                                                 f"{width} (a missing or extra delimiter '{_show(delimiter)}'?)"))
                continue
            try:
                codes = bytes(map(code, pick(row)))
            except KeyError:
                self._slow_row(row, columns, layout, shown, line, label, delimiter)
                continue
            if codes == blank:
                self.warnings.append(Problem(shown, line, None, "warning: row has no rated answers, skipped"))
                continue
            self._count(row, columns, shown, line, label, layout, codes, ())

    def _slow_row(self, row: list[str], columns: _Columns, layout: tuple[int, ...], shown: str, line: int,
                  label: str, delimiter: str) -> None:
        """A row with a cell other than '1'…'5' or blank: padded, fractional, 'unknown', text, off
        the scale. Header rows and rows with no answers are skipped with a warning; typos are errors."""
        decimal_comma = delimiter != ","
        cache = self.cell_cache.setdefault(decimal_comma, {})
        codes = bytearray(len(layout))
        fractional: list[tuple[int, float]] = []
        bad: list[tuple[int, int]] = []
        answers = numbers = False
        for k, (column, index) in enumerate(columns.rated):
            cell = row[column]
            value = cache.get(cell, _MISS)
            if value is _MISS:
                value = _classify(cell, decimal_comma)
                if len(cache) < 4096:
                    cache[cell] = value
            kind = type(value)
            if kind is int:
                codes[k] = value                        # type: ignore[call-overload]
                answers = True
            elif kind is float:
                fractional.append((index, value))     # type: ignore[arg-type]
                answers = True
            elif value is not _BLANK:
                bad.append((column, index))
                numbers = numbers or value is _RANGE
        if not answers:
            if not bad:
                self.warnings.append(Problem(shown, line, None, "warning: row has no rated answers, skipped"))
                return
            if not numbers:
                self.warnings.append(Problem(shown, line, None, "warning: skipped a header row (its rated "
                                             "cells hold text, not answers: question text or import ids)"))
                return
        if bad:
            for column, index in bad:
                self._bad_cell(row[column], self.items[index], shown, line, decimal_comma)
            return
        self._count(row, columns, shown, line, label, layout, bytes(codes), fractional)

    def _bad_cell(self, cell: str, item: str, shown: str, line: int, decimal_comma: bool) -> None:
        text = cell.strip()
        value: object = _number(text, decimal_comma)
        _, error = check_value(self.kb, item, text if value is None else value)
        self.problems.append(Problem(shown, line, item, error or f"cannot read {text!r}"))

    def _count(self, row: list[str], columns: _Columns, shown: str, line: int, label: str,
               layout: tuple[int, ...], codes: bytes, fractional) -> None:
        """Validate the row's other cells, then add it to its group's counts."""
        meta = columns.meta
        errors = len(self.problems)
        if "round" in meta:
            label = row[meta["round"]].strip()
            if not label:
                self.problems.append(Problem(shown, line, "round", "round is blank (the file has a round column)"))
        picked = self._choices(row, columns.choice, shown, line) if columns.choice else ()
        if "respondent" in meta:
            respondent = row[meta["respondent"]].strip()
            if respondent:
                first = self.seen_ids.setdefault((label, respondent), (self.file_number, shown, line))
                if first != (self.file_number, shown, line):
                    in_round = f" in round {label!r}" if label else ""
                    self.problems.append(Problem(shown, line, respondent, f"duplicate respondent id{in_round}: "
                                                 f"also at {first[1]}:{first[2]}"))
        if len(self.problems) != errors:
            return
        raw = row[meta["organisation"]] if "organisation" in meta else ""
        key = self.org_keys.get(raw)
        if key is None:
            organisation = " ".join(raw.split())
            key = self.org_keys[raw] = organisation.casefold()
            self.names.setdefault(key, organisation or UNSTATED)
        groups = self.rounds.get(label)
        if groups is None:
            groups = self.rounds[label] = {}
            self.round_sources.add("column" if "round" in meta else "files" if label else "single")
        tally = groups.get(key)
        if tally is None:
            tally = groups[key] = Tally(len(self.items))
        tally.respondents += 1
        tally.add(layout, codes)
        for index, value in fractional:
            acc = tally.fractional.setdefault(index, [0, 0.0, 0.0])
            acc[0] += 1
            acc[1] += value
            acc[2] += value * value
        for item, value in picked:
            tally.answered_choice[item] += 1
            tally.choices.setdefault(item, Counter()).update(value if isinstance(value, list) else [value])
        if "sector" in meta:
            sector = row[meta["sector"]].strip().lower()
            if sector:
                tally.sectors[sector] += 1

    def _choices(self, row: list[str], choice: list[tuple[int, str]], shown: str, line: int) -> list:
        picked: list[tuple[str, object]] = []
        for column, item in choice:
            checked, error = check_value(self.kb, item, _choice_value(self.kb, item, row[column]))
            if error:
                self.problems.append(Problem(shown, line, item, error))
            elif checked is not None:
                picked.append((item, checked))
        return picked


def _show(delimiter: str) -> str:
    return "\\t" if delimiter == "\t" else delimiter


def _number(text: str, decimal_comma: bool) -> int | float | None:
    if _NUMBER.fullmatch(text):
        value = float(text)
    elif decimal_comma and _DECIMAL_COMMA.fullmatch(text):
        value = float(text.replace(",", "."))
    else:
        return None
    return int(value) if value.is_integer() else value


def _classify(cell: str, decimal_comma: bool) -> object:
    """A rated cell: its answer (int when whole), or _BLANK, _RANGE (a number off the scale), _TEXT."""
    text = cell.strip()
    if not text or text.lower() == "unknown":
        return _BLANK
    value = _number(text, decimal_comma)
    if value is None:
        return _TEXT
    if not 1 <= value <= 5:
        return _RANGE
    return int(value) if isinstance(value, int) else float(value)


def _choice_value(kb: "KnowledgeBase", item: str, cell: str) -> object:
    """Context cells: a choice is one option; a multi-choice cell lists options split by ; | or ,."""
    text = cell.strip()
    if kb.questions[item].type == "multi" and text and text.lower() != "unknown":
        return [part.strip() for part in re.split(r"[;|,]", text) if part.strip()]
    return text


def _detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) or UTF-16 by BOM; otherwise Windows-1252, as Excel writes it."""
    with open(path, "rb") as handle:
        head = handle.read(4)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := handle.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8-sig"


def _sniff_delimiter(first_line: str) -> str:
    """The id row names items (dots, letters, digits), so its most frequent separator is the delimiter."""
    try:
        return csv.Sniffer().sniff(first_line, delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: first_line.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _file_labels(paths: list[Path]) -> list[str]:
    """Round labels for files that are successive rounds: the file name, unique."""
    stems = [p.stem for p in paths]
    return [p.stem if stems.count(p.stem) == 1 else display_path(p) for p in paths]


def _order_rounds(labels: list[str]) -> list[str]:
    """Rounds named in a round column, in time order: numerically when all are numbers, as text
    when all are ISO dates (2024, 2024-03, 2024-Q1, 2024-03-31), otherwise in the order first met.
    (Files that are rounds keep the order given on the command line.)"""
    def numeric(label: str) -> float | None:
        try:
            return float(label)
        except ValueError:
            return None
    if labels and all(numeric(x) is not None for x in labels):
        return sorted(labels, key=lambda x: (numeric(x), x))
    if labels and all(_ISO_DATE.fullmatch(x) for x in labels):
        return sorted(labels)
    return labels


def read_survey(kb: "KnowledgeBase", paths: list[Path], same_round: bool = False) -> Survey:
    """Read and validate CSV exports; InputError lists every problem as `file:line: id: message`.

    Several files without a `round` column are successive rounds in the order given, unless
    `same_round` says they are parts of one round (e.g. one export per organisation).
    """
    return _Reader(kb, [Path(p) for p in paths], same_round).read()
