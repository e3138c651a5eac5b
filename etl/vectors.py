"""Term vectors between DuckDB and numpy: one L2-normalised float32 matrix per embedding model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from etl.warehouse import Warehouse

if TYPE_CHECKING:
    import numpy as np


_ALL = "SELECT term_id, vec FROM term_embeddings WHERE model = ? ORDER BY term_id"
_IN_TERMS = "SELECT term_id, vec FROM term_embeddings SEMI JOIN terms USING (term_id) WHERE model = ? ORDER BY term_id"


def load(wh: Warehouse, model: str, in_terms: bool = False) -> tuple["np.ndarray", "np.ndarray"]:
    """(term_ids int64[n], vectors float32[n, dim]) for one model, ordered by term_id.

    `in_terms` keeps only terms still in `terms` (vectors outlive a term that `etl clean` dropped).
    """
    import numpy as np
    import pyarrow as pa

    query = _IN_TERMS if in_terms else _ALL
    # con.sql refuses to start while an execute() result is unread (e.g. after fetchone); finish it.
    wh.con.complete()
    table = wh.con.sql(query, params=[model]).to_arrow_table()
    ids = table.column("term_id").to_numpy().astype(np.int64, copy=False)
    if table.num_rows == 0:
        return ids, np.zeros((0, 0), dtype=np.float32)
    column = table.column("vec").combine_chunks()
    if isinstance(column, pa.ChunkedArray):  # pragma: no cover - combine_chunks returns an Array
        column = column.chunk(0)
    flat = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    return ids, flat.reshape(table.num_rows, -1)


def models(wh: Warehouse) -> list[tuple[str, int, int]]:
    """(model, dim, count) for every model that has vectors."""
    return wh.execute(
        "SELECT model, any_value(dim), count(*) FROM term_embeddings GROUP BY model ORDER BY model"
    ).fetchall()
