"""Read pair and vocabulary files (JSONL, JSON, CSV/TSV, Parquet, plain text) with line-accurate errors.

Readers never touch the warehouse: they return the good rows and the bad lines, or raise
`InputError("<file>:<line>: <reason>; ...")` when a bad line is not to be skipped or the file
as a whole is unusable (missing, empty, unknown format, missing column, no usable line). What
every format shares (the result, the line collector, decoding, CSV records) is in lines.py.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl.errors import InputError
from etl.steps.imports.lines import (
    SKIP_HINT,
    Bad,
    Lines,
    Read,
    csv_rows,
    decode,
    json_line,
    missing_column,
    numbered,
    read_header,
)

if TYPE_CHECKING:
    import polars as pl

PAIR_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv", ".parquet": "parquet"}
TERM_FORMATS = {**PAIR_FORMATS, ".txt": "txt", ".json": "json"}
PAIR_COLUMNS = ("source", "target", "similarity")
PAIR_SCHEMA = {"source": "String", "target": "String", "similarity": "Float64", "extra": "String"}
TERM_SCHEMA = {"text": "String"}
TERM_COLUMNS = ("text", "term")  # tried in this order when no column is named


def detect_format(path: Path, fmt: str | None, known: dict[str, str]) -> str:
    """The format named by `fmt`, or by the file's extension."""
    allowed = sorted(set(known.values()))
    if fmt:
        if fmt not in allowed:
            raise InputError(f"unknown format {fmt!r}; use one of {', '.join(allowed)}")
        return fmt
    found = known.get(path.suffix.lower())
    if found is None:
        raise InputError(
            f"{path}: unknown format {path.suffix or '(no extension)'!r}; "
            f"name the file {', '.join(sorted(known))} or pass --format"
        )
    return found


def read_pairs(path: Path, fmt: str | None = None, skip: bool = False) -> Read:
    """(source, target, similarity, extra, line) rows from a pairs file."""
    kind = detect_format(path, fmt, PAIR_FORMATS)
    if kind == "parquet":
        return _pairs_parquet(path, skip)
    lines = Lines(path, PAIR_SCHEMA, skip)
    text = decode(path, lines)
    if kind == "jsonl":
        for number, line in numbered(text):
            obj = json_line(lines, number, line)
            if obj is not None:
                _pair_object(lines, number, line, obj)
    else:
        _pairs_csv(lines, text, "\t" if kind == "tsv" else ",")
    return lines.result()


def read_terms(path: Path, fmt: str | None = None, column: str | None = None, skip: bool = False) -> Read:
    """(text, line) rows from a vocabulary file; for JSON lists and Parquet, `line` is the item number."""
    kind = detect_format(path, fmt, TERM_FORMATS)
    if kind == "parquet":
        return _terms_parquet(path, column, skip)
    lines = Lines(path, TERM_SCHEMA, skip)
    text = decode(path, lines)
    if kind == "txt":
        for number, line in numbered(text):
            lines.good(number, text=line)
    elif kind == "json":
        _terms_json_list(lines, text)
    elif kind == "jsonl":
        for number, line in numbered(text):
            obj = json_line(lines, number, line)
            if isinstance(obj, dict):
                obj = next((obj[c] for c in (column, *TERM_COLUMNS) if c and c in obj), None)
            if isinstance(obj, str):
                lines.good(number, text=obj)
            elif line.strip():
                lines.refuse(number, "wrong_shape", "not a JSON string or an object with a text field", line)
    else:
        _terms_csv(lines, text, "\t" if kind == "tsv" else ",", column)
    return lines.result()


# -- text files ---------------------------------------------------------------------------------


def _pair_object(lines: Lines, number: int, line: str, obj: Any) -> None:
    if not isinstance(obj, dict):
        lines.refuse(number, "wrong_shape", "not a JSON object with source and target", line)
        return
    for name in ("source", "target"):
        if name not in obj:
            lines.refuse(number, "missing_field", f"no {name!r} field", line)
            return
        if not isinstance(obj[name], str):
            lines.refuse(number, "wrong_type", f"{name!r} is {type(obj[name]).__name__}, not a string", line)
            return
    similarity = _similarity(obj.get("similarity"))
    if similarity is False:
        lines.refuse(number, "wrong_type", f"similarity {obj['similarity']!r} is not a number", line)
        return
    extra = {k: v for k, v in obj.items() if k not in PAIR_COLUMNS}
    lines.good(number, source=obj["source"], target=obj["target"], similarity=similarity, extra=_extra(extra))


def _similarity(value: Any) -> float | bool | None:
    """A float, None when absent, or False when it is not a finite number."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return False
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return number if math.isfinite(number) else False


def _extra(values: dict[str, Any]) -> str | None:
    return json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":")) if values else None


def _pairs_csv(lines: Lines, text: str, delimiter: str) -> None:
    rows = csv_rows(lines, text, delimiter)
    header = read_header(lines, rows)
    for name in ("source", "target"):
        if name not in header:
            raise missing_column(lines.path, name, header)
    at = {name: i for i, name in enumerate(header)}
    for number, row in rows:
        raw = delimiter.join(row)
        if len(row) != len(header):
            lines.refuse(number, "wrong_shape", f"has {len(row)} fields, the header has {len(header)}", raw)
            continue
        similarity = _similarity(row[at["similarity"]]) if "similarity" in at else None
        if similarity is False:
            lines.refuse(number, "wrong_type", f"similarity {row[at['similarity']]!r} is not a number", raw)
            continue
        extra = {name: row[i] for name, i in at.items() if name not in PAIR_COLUMNS}
        lines.good(
            number, source=row[at["source"]], target=row[at["target"]], similarity=similarity, extra=_extra(extra)
        )


def _term_column(path: Path, column: str | None, columns: list[str]) -> str:
    if column:
        if column not in columns:
            raise missing_column(path, column, columns)
        return column
    for name in TERM_COLUMNS:
        if name in columns:
            return name
    if len(columns) == 1:
        return columns[0]
    raise InputError(f"{path}:1: no 'text' or 'term' column among {', '.join(columns)}; name one with --column")


def _terms_csv(lines: Lines, text: str, delimiter: str, column: str | None) -> None:
    rows = csv_rows(lines, text, delimiter)
    header = read_header(lines, rows)
    at = header.index(_term_column(lines.path, column, header))
    for number, row in rows:
        if len(row) != len(header):
            lines.refuse(
                number, "wrong_shape", f"has {len(row)} fields, the header has {len(header)}", delimiter.join(row)
            )
            continue
        lines.good(number, text=row[at])


def _terms_json_list(lines: Lines, text: str) -> None:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        # One document: a syntax error cannot be skipped line by line.
        where = f"{lines.path}:{exc.lineno}"
        raise InputError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno}); fix the file") from None
    if not isinstance(items, list):
        raise InputError(f'{lines.path}:1: not a JSON list of terms; give a list like ["term", ...]')
    for number, item in enumerate(items, start=1):
        if isinstance(item, str):
            lines.good(number, text=item)
        else:
            reason = f"item {number} is {type(item).__name__}, not a string"
            lines.refuse(number, "wrong_type", reason, json.dumps(item, ensure_ascii=False))


# -- Parquet ------------------------------------------------------------------------------------


def _parquet(path: Path) -> pl.DataFrame:
    import polars as pl

    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.ComputeError, OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]}); check the file") from exc
    if frame.height == 0:
        raise InputError(f"{path}:1: the file is empty; give a file with at least one row")
    return frame


def _text_column(path: Path, frame: pl.DataFrame, name: str) -> None:
    import polars as pl

    if name not in frame.columns:
        raise missing_column(path, name, frame.columns)
    if frame.schema[name] not in (pl.String, pl.Null):
        raise InputError(f"{path}: column {name!r} holds {frame.schema[name]}, not text; convert it to strings")


def _pairs_parquet(path: Path, skip: bool) -> Read:
    """Parquet rows are numbered from 1 in file order; nulls in source/target make a row unusable."""
    import polars as pl

    frame = _parquet(path)
    for name in ("source", "target"):
        _text_column(path, frame, name)
    if "similarity" in frame.columns:
        if not (frame.schema["similarity"].is_numeric() or frame.schema["similarity"] == pl.Null):
            raise InputError(f"{path}: column 'similarity' holds {frame.schema['similarity']}, not numbers; convert it")
        similarity = pl.col("similarity").cast(pl.Float64)
    else:
        similarity = pl.lit(None, dtype=pl.Float64)
    extra_names = sorted(c for c in frame.columns if c not in PAIR_COLUMNS)
    extra = pl.struct(extra_names).struct.json_encode() if extra_names else pl.lit(None, dtype=pl.String)
    rows = frame.with_row_index("line", offset=1).select(
        pl.col("source").cast(pl.String),
        pl.col("target").cast(pl.String),
        similarity.alias("similarity"),
        extra.alias("extra"),
        pl.col("line").cast(pl.Int64),
    )
    nulls = rows.filter(pl.col("source").is_null() | pl.col("target").is_null())
    good = rows.filter(pl.col("source").is_not_null() & pl.col("target").is_not_null())
    return _parquet_result(path, good, nulls, "source or target is null", skip)


def _terms_parquet(path: Path, column: str | None, skip: bool) -> Read:
    import polars as pl

    frame = _parquet(path)
    name = _term_column(path, column, frame.columns)
    _text_column(path, frame, name)
    rows = frame.with_row_index("line", offset=1).select(
        pl.col(name).cast(pl.String).alias("text"), pl.col("line").cast(pl.Int64)
    )
    good = rows.filter(pl.col("text").is_not_null())
    return _parquet_result(path, good, rows.filter(pl.col("text").is_null()), f"{name} is null", skip)


def _parquet_result(path: Path, good: pl.DataFrame, nulls: pl.DataFrame, reason: str, skip: bool) -> Read:
    """A row with a null where text is needed is a bad line (numbered from 1 in file order)."""
    lines = nulls["line"].to_list()
    if lines and not skip:
        raise InputError(f"{path}:{lines[0]}: {reason}; {SKIP_HINT}")
    if good.height == 0:
        raise InputError(f"{path}: no usable row ({reason} in every row); check the file")
    return Read(good, [Bad(int(line), "missing_value", reason, "") for line in lines])
