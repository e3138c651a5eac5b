"""`pipeline_state`: a stage's fingerprint, recorded after it succeeds, and the table states it hashes.

A stage's fingerprint is a hash of the settings it reads, the bytes of the files it reads, the state
(row count, newest run_id) of the tables it reads, and which of its output files exist.

Write mode: `pipeline_state` is merged on `stage` (`record`); everything else here only reads.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from etl.config import Settings
from etl.errors import EtlError
from etl.warehouse import Warehouse

if TYPE_CHECKING:
    from pathlib import Path

    from etl.steps.pipeline.stages import Stage

# A table's state is its row count and this expression: rows land with their run_id, so a newer run
# shows, except in `terms`, whose rows name their source runs, so its content is hashed instead. Only
# these tables are queried (identifiers cannot be bound).
_STATE = {
    "category_terms": "max(run_id)",
    "imported_pairs": "max(run_id)",
    "imported_terms": "max(run_id)",
    "translations": "max(run_id)",
    "parallel_sentences": "max(run_id)",
    "synonym_pairs": "max(run_id)",
    "synonym_groups": "max(run_id)",
    "term_embeddings": "max(run_id)",
    "triplets": "max(run_id)",
    "probe_results": "max(run_id)",
    "terms": "sum(hash(term_id, text, norm, kind))",
    "negative_judgements": "sum(hash(anchor_id, negative_id))",
}
# Tables of which a stage reads only some rows: clean reads the pairs the judge promoted, nothing else.
_ROWS = {"negative_judgements": "WHERE promoted"}


def fingerprint(wh: Warehouse, settings: Settings, stage: Stage) -> str:
    """A hash of everything the stage reads: settings, file bytes, table states, outputs present."""
    material = {
        "settings": {key: getattr(settings, key) for key in stage.settings},
        "files": {str(path.resolve()): _file_digest(path) for path in stage.files},
        "tables": {name: _table_state(wh, name) for name in stage.tables},
        "outputs": {str(path.resolve()): path.exists() for path in stage.outputs},
    }
    text = json.dumps(material, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _table_state(wh: Warehouse, table: str) -> tuple[int, str]:
    rows = _ROWS.get(table, "")
    count, state = wh.one(wh.execute(f"SELECT count(*), CAST({_STATE[table]} AS VARCHAR) FROM {table} {rows}"))
    return int(count), str(state)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise EtlError(f"cannot read {path}: {exc.strerror}") from exc
    return digest.hexdigest()


def recorded(wh: Warehouse, stage: str) -> str | None:
    return wh.scalar("SELECT fingerprint FROM pipeline_state WHERE stage = ?", [stage])


def recorded_run(wh: Warehouse, stage: str) -> int | None:
    return wh.scalar("SELECT run_id FROM pipeline_state WHERE stage = ?", [stage])


def record(wh: Warehouse, stage: str, digest: str, run_id: int) -> None:
    wh.execute(
        "INSERT OR REPLACE INTO pipeline_state (stage, fingerprint, run_id, updated_at) VALUES (?, ?, ?, utc_now())",
        [stage, digest, run_id],
    )


def row_count(wh: Warehouse, tables: tuple[str, ...]) -> int | None:
    if not tables:
        return None
    return sum(_table_state(wh, table)[0] for table in tables)
