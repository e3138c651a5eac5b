"""Read-only views of the warehouse: `etl status` and `etl sql`."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

import duckdb

from etl.errors import EtlError
from etl.output import format_table, human_bytes
from etl.warehouse import Warehouse, first_line


@dataclass
class Result:
    """Column names and rows of a query."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    def to_json(self) -> str:
        """The rows as a JSON array of objects (`etl sql --json`)."""
        return to_json(self)

    def to_csv(self) -> str:
        """A header row, then the rows (`etl sql --csv`)."""
        return to_csv(self)


def status(wh: Warehouse, last_runs: int = 10) -> str:
    """Path and size, every table with its row count, and the last runs."""
    size = wh.path.stat().st_size if wh.path.exists() else 0
    tables = wh.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY table_name"
    ).fetchall()
    counts = []
    for (name,) in tables:
        # Table names come from the catalog, not from user input; identifiers cannot be bound.
        quoted = '"' + name.replace('"', '""') + '"'
        counts.append((name, wh.scalar(f"SELECT count(*) FROM {quoted}")))
    runs = wh.sql_file("status_runs", [last_runs]).fetchall()
    parts = [
        f"warehouse  {wh.path.resolve()}",
        f"size       {human_bytes(size)}",
        "",
        format_table(["table", "rows"], [(n, f"{c:,}") for n, c in counts]),
        "",
    ]
    # Where the synonym pairs come from (a pair with two sources counts under both): files, synth, judge.
    sources = wh.execute(
        "SELECT origin, count(*) FROM (SELECT unnest(origins) AS origin FROM synonym_pairs) GROUP BY origin "
        "ORDER BY origin"
    ).fetchall()
    if sources:
        parts += [format_table(["synonym pairs from", "pairs"], [(o, f"{n:,}") for o, n in sources]), ""]
    if runs:
        parts.append(format_table(["run", "step", "status", "started", "seconds", "counts"], runs, max_width=70))
    else:
        parts.append("no runs yet")
    return "\n".join(parts)


def query(wh: Warehouse, sql: str) -> Result:
    """Run read-only SQL and return the last statement's result; refuses anything that writes."""
    statements = wh.read_only_statements(sql)
    cursor = None
    try:
        for statement in statements:
            cursor = wh.con.execute(statement)
        assert cursor is not None
        rows = cursor.fetchall()
    except duckdb.Error as exc:
        raise EtlError(f"query failed: {first_line(exc)}") from exc
    columns = [d[0] for d in cursor.description or []]
    return Result(columns, rows)


def to_json(result: Result) -> str:
    """One JSON object per row, as a JSON array."""
    records = [dict(zip(result.columns, row)) for row in result.rows]
    return json.dumps(records, ensure_ascii=False, indent=2, default=str)


def to_csv(result: Result) -> str:
    """A header row, then one line per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(result.columns)
    writer.writerows(result.rows)
    return buffer.getvalue()
