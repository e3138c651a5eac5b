"""Term vectors between DuckDB and numpy: one L2-normalised float32 matrix per embedding model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from etl.errors import WarehouseError
from etl.warehouse import Warehouse

if TYPE_CHECKING:
    import numpy as np


# While vectors stream out, DuckDB may cache at most this much: without a limit its buffer pool keeps
# another copy of every vector (150k x 1024 floats: 1.4 GB peak instead of 1.1 GB; 3.2 GB when the
# whole result was materialised as one Arrow table).
LOAD_MEMORY_LIMIT = "256MB"
LOAD_BATCH_ROWS = 16_384
_ALL = "SELECT {} FROM term_embeddings WHERE model = ?"
_IN_TERMS = "SELECT {} FROM term_embeddings SEMI JOIN terms USING (term_id) WHERE model = ?"


def load(wh: Warehouse, model: str, in_terms: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(term_ids int64[n], vectors float32[n, dim]) for one model, ordered by term_id.

    `in_terms` keeps only terms still in `terms` (vectors outlive a term that `etl clean` dropped).
    Record batches are copied into one preallocated matrix, so peak memory stays near the matrix.
    """
    import numpy as np

    query = _IN_TERMS if in_terms else _ALL
    # The templates only ever receive these two fixed column lists; the model is bound.
    n, dim = wh.execute(query.format("count(*), coalesce(max(dim), 0)"), [model]).fetchall()[0]
    ids = np.empty(n, dtype=np.int64)
    if n == 0:
        return ids, np.zeros((0, 0), dtype=np.float32)
    matrix = np.empty((n, dim), dtype=np.float32)
    limit = wh.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    wh.execute("SET memory_limit = ?", [LOAD_MEMORY_LIMIT]).fetchall()
    try:
        # The relational API streams (execute() would materialise the whole result first); it refuses
        # to start while an execute() result is unread, so finish any.
        wh.con.complete()
        reader = wh.con.sql(query.format("term_id, vec"), params=[model]).to_arrow_reader(LOAD_BATCH_ROWS)
        at = 0
        for batch in reader:
            rows = batch.num_rows
            flat = batch.column(1).flatten().to_numpy(zero_copy_only=False)
            if flat.size != rows * dim:
                raise WarehouseError(f"vectors of model {model!r} differ in length; re-run `etl embed` for it")
            ids[at : at + rows] = batch.column(0).to_numpy()
            matrix[at : at + rows] = flat.reshape(rows, dim)
            at += rows
    finally:
        wh.execute("SET memory_limit = ?", [limit]).fetchall()
    # Sorting here instead of in SQL keeps DuckDB from materialising the whole result to sort it.
    if n > 1 and not bool(np.all(ids[1:] > ids[:-1])):
        order = np.argsort(ids, kind="stable")
        ids, matrix = ids[order], matrix[order]
    return ids, matrix


def models(wh: Warehouse) -> list[tuple[str, int, int]]:
    """(model, dim, count) for every model that has vectors."""
    return wh.execute(
        "SELECT model, any_value(dim), count(*) FROM term_embeddings GROUP BY model ORDER BY model"
    ).fetchall()
