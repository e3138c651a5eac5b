"""Land pair and vocabulary files as they are: `imported_pairs` and `imported_terms`.

Write mode: replace by file. A file is keyed by its resolved path; importing it again replaces the
rows (and the import rejects) that file landed before, so reruns never duplicate rows. The file is
read and checked before anything is written: a bad file fails with `file:line: reason` and leaves
the warehouse exactly as it was (not even a run row). Cleaning happens later, in `etl clean`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from etl.config import Settings
from etl.output import StepResult
from etl.steps.imports import readers
from etl.warehouse import Warehouse

if TYPE_CHECKING:
    import polars as pl


def pairs(
    wh: Warehouse, settings: Settings, path: Path | str, skip_bad_lines: bool = False, fmt: str | None = None
) -> StepResult:
    """Land a synonym-pairs file (source, target, optional similarity; other columns kept in `extra`)."""
    path = Path(path)
    read = readers.read_pairs(path, fmt, skip_bad_lines)
    return _land(wh, "import.pairs", "imported_pairs", path, read, {"format": fmt, "skip_bad_lines": skip_bad_lines})


def terms(
    wh: Warehouse,
    settings: Settings,
    path: Path | str,
    skip_bad_lines: bool = False,
    fmt: str | None = None,
    column: str | None = None,
) -> StepResult:
    """Land a vocabulary file: one term per line, a JSON list, or a CSV/TSV/Parquet column."""
    path = Path(path)
    read = readers.read_terms(path, fmt, column, skip_bad_lines)
    params = {"format": fmt, "column": column, "skip_bad_lines": skip_bad_lines}
    return _land(wh, "import.terms", "imported_terms", path, read, params)


_SQL = {
    "imported_pairs": {
        "count": "SELECT count(*) FROM imported_pairs WHERE file = ?",
        "delete": "DELETE FROM imported_pairs WHERE file = ?",
        "files": "SELECT file, count(*), max(run_id) FROM imported_pairs GROUP BY file ORDER BY file",
        "insert": "INSERT INTO imported_pairs (source, target, similarity, extra, file, line, run_id) "
        "SELECT source, target, similarity, CAST(extra AS JSON), ?, line, ? FROM landing",
    },
    "imported_terms": {
        "count": "SELECT count(*) FROM imported_terms WHERE file = ?",
        "delete": "DELETE FROM imported_terms WHERE file = ?",
        "files": "SELECT file, count(*), max(run_id) FROM imported_terms GROUP BY file ORDER BY file",
        "insert": "INSERT INTO imported_terms (text, file, line, run_id) SELECT text, ?, line, ? FROM landing",
    },
}


def _land(
    wh: Warehouse, step: str, table: str, path: Path, read: readers.Read, params: Mapping[str, object]
) -> StepResult:
    """Replace this file's rows and import rejects in one transaction."""
    file = str(path.resolve())
    with wh.record(step, {"file": file, **params}) as run:
        with wh.transaction():
            replaced = wh.scalar(_SQL[table]["count"], [file])
            wh.execute(_SQL[table]["delete"], [file])
            wh.execute("DELETE FROM rejects WHERE step = ? AND source = ?", [step, file])
            with wh.staged("landing", read.rows):
                wh.execute(_SQL[table]["insert"], [file, run.run_id])
            if read.bad:
                with wh.staged("bad_lines", _bad_frame(read.bad)):
                    wh.execute(
                        "INSERT INTO rejects (run_id, step, rule, reason, source, line, payload) "
                        "SELECT ?, ?, rule, reason, ?, line, payload FROM bad_lines",
                        [run.run_id, step, file],
                    )
        run.counts.update({"rows": read.rows.height, "bad_lines": len(read.bad), "replaced": replaced})
    summary = StepResult.of(run, f"{step}: run {run.run_id}").add("file", file).add("rows landed", read.rows.height)
    if read.bad:
        rules = sorted({b.rule for b in read.bad})
        summary.add("bad lines (in rejects)", f"{len(read.bad):,} ({', '.join(rules)})")
    if replaced:
        summary.add("replaced from an earlier import", replaced)
    return summary.add("seconds", round(run.seconds, 2)).add("next", "etl clean")


def sources(wh: Warehouse) -> list[tuple[str, str, int, int]]:
    """Every landed file: (kind, file, rows, run_id), pairs first."""
    found = []
    for kind, table in (("pairs", "imported_pairs"), ("terms", "imported_terms")):
        rows = wh.execute(_SQL[table]["files"]).fetchall()
        found += [(kind, file, int(n), int(run_id)) for file, n, run_id in rows]
    return found


def drop(wh: Warehouse, path: Path | str) -> StepResult:
    """Remove what one file landed (its rows and its import rejects); `etl clean` then rebuilds without it."""
    from etl.errors import EtlError

    landed = {file: (kind, rows) for kind, file, rows, _ in sources(wh)}
    file = str(Path(path).resolve())
    if file not in landed:
        file = next((f for f in landed if Path(f).name == str(path)), file)  # a bare name is enough when unique
    if file not in landed:
        known = ", ".join(sorted(Path(f).name for f in landed)) or "none"
        raise EtlError(f"no landed file {str(path)!r}; the landed files are {known} (`etl import list`)")
    kind, rows = landed[file]
    table, step = ("imported_pairs", "import.pairs") if kind == "pairs" else ("imported_terms", "import.terms")
    with wh.record("import.drop", {"file": file}) as run, wh.transaction():
        wh.execute(_SQL[table]["delete"], [file])
        wh.execute("DELETE FROM rejects WHERE step = ? AND source = ?", [step, file])
        run.counts.update({"rows": rows, "kind": kind})
    return (
        StepResult.of(run, f"import.drop: run {run.run_id}")
        .add("file", file)
        .add(f"{kind} removed", rows)
        .add("next", "etl clean")
    )


def _bad_frame(bad: list[readers.Bad]) -> pl.DataFrame:
    import polars as pl

    return pl.DataFrame(
        {
            "line": [b.line for b in bad],
            "rule": [b.rule for b in bad],
            "reason": [b.reason for b in bad],
            "payload": [b.payload for b in bad],
        },
        schema={"line": pl.Int64, "rule": pl.String, "reason": pl.String, "payload": pl.String},
    )
