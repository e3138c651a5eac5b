"""What every reader shares: the result it returns, the collector of good rows and refused lines, and
the text-level steps (decode as UTF-8, number the lines, parse a JSON line, CSV records and header).

Like readers.py this never touches the warehouse; readers.py is its one user.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl.errors import InputError

if TYPE_CHECKING:
    import polars as pl

SKIP_HINT = "fix the input or rerun with --skip-bad-lines to send bad lines to rejects"
MAX_LINE = 1_000_000  # characters; a longer line is no term or pair, and would only slow every later step
PAYLOAD_CAP = 1_000  # characters of a refused line that `rejects.payload` keeps


@dataclass
class Bad:
    """One refused line: its 1-based number, a short rule name, a sentence, and the line verbatim."""

    line: int
    rule: str
    reason: str
    payload: str


@dataclass
class Read:
    """What a reader found: the good rows, and the bad lines it was allowed to skip."""

    rows: pl.DataFrame
    bad: list[Bad] = field(default_factory=list)


class Lines:
    """Collects good rows and bad lines; raises on the first bad line unless skipping."""

    def __init__(self, path: Path, schema: dict[str, Any], skip: bool) -> None:
        self.path = path
        self.skip = skip
        self.schema = {**schema, "line": "Int64"}
        self.columns: dict[str, list[Any]] = {name: [] for name in self.schema}
        self.bad: list[Bad] = []

    def good(self, line: int, **values: Any) -> None:
        for name, value in values.items():
            self.columns[name].append(value)
        self.columns["line"].append(line)

    def refuse(self, line: int, rule: str, reason: str, payload: str) -> None:
        if not self.skip:
            raise InputError(f"{self.path}:{line}: {reason}; {SKIP_HINT}")
        self.bad.append(Bad(line, rule, reason, capped(payload)))

    def result(self) -> Read:
        import polars as pl

        if not self.columns["line"]:
            first = f" (first: line {self.bad[0].line}: {self.bad[0].reason})" if self.bad else ""
            raise InputError(f"{self.path}: no usable line{first}; check that this is the right file and format")
        schema = {name: getattr(pl, dtype) for name, dtype in self.schema.items()}
        return Read(pl.DataFrame(self.columns, schema=schema), self.bad)


def decode(path: Path, lines: Lines) -> str:
    """The file as text; a line that is not UTF-8 is refused (and blanked, keeping line numbers)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; check the path") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror}); check the path and permissions") from exc
    if not data.strip():
        raise InputError(f"{path}:1: the file is empty; give a file with at least one row")
    try:
        return refuse_long_lines(data.decode("utf-8-sig"), lines)
    except UnicodeDecodeError:
        pass
    out = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            out.append(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
        except UnicodeDecodeError as exc:
            byte = raw[exc.start]
            reason = f"not UTF-8 (byte 0x{byte:02x} at column {exc.start + 1}); save the file as UTF-8"
            lines.refuse(number, "not_utf8", reason, raw.decode("utf-8", errors="replace"))
            out.append("")
    return refuse_long_lines("\n".join(out), lines)


def refuse_long_lines(text: str, lines: Lines) -> str:
    """Refuse (and blank, keeping line numbers) every line over MAX_LINE characters."""
    if len(text) <= MAX_LINE:
        return text
    out = text.split("\n")
    for number, line in enumerate(out, start=1):
        if len(line) > MAX_LINE:
            reason = f"the line has {len(line):,} characters, more than the {MAX_LINE:,} a line may have"
            lines.refuse(number, "too_long", reason, line)
            out[number - 1] = ""
    return "\n".join(out)


def capped(payload: str) -> str:
    """At most PAYLOAD_CAP characters of a refused line, marked when cut."""
    if len(payload) <= PAYLOAD_CAP:
        return payload
    return payload[:PAYLOAD_CAP] + f"… ({len(payload):,} characters)"


def numbered(text: str) -> Iterator[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers (a trailing carriage return dropped)."""
    for number, line in enumerate(text.split("\n"), start=1):
        line = line[:-1] if line.endswith("\r") else line
        if line.strip():
            yield number, line


def json_line(lines: Lines, number: int, line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        lines.refuse(number, "not_json", f"not valid JSON ({exc.msg} at column {exc.colno})", line)
        return None


def csv_rows(lines: Lines, text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line number where the record starts, fields), skipping blank lines."""
    reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter)
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            lines.refuse(start, "bad_csv", f"not valid CSV ({exc})", "")
            start = reader.line_num + 1
            continue
        if row:
            yield start, row
        start = reader.line_num + 1


def read_header(lines: Lines, rows: Iterator[tuple[int, list[str]]]) -> list[str]:
    first = next(rows, None)
    if first is None:
        raise InputError(f"{lines.path}:1: the file has no header row; the first row must name the columns")
    return [name.strip() for name in first[1]]


def missing_column(path: Path, name: str, columns: list[str]) -> InputError:
    listed = ", ".join(columns) or "none"
    return InputError(f"{path}:1: missing column {name!r} (columns: {listed}); rename it or pick another file")
