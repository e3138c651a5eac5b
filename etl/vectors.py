"""Term vectors between DuckDB and numpy (one L2-normalised float32 matrix per model), and their exact cosines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from etl.errors import InputError, WarehouseError
from etl.warehouse import Warehouse

if TYPE_CHECKING:
    import numpy as np


# While vectors stream out, DuckDB may cache at most this much: without a limit its buffer pool keeps
# another copy of every vector (150k x 1024 floats: 1.4 GB peak instead of 1.1 GB; 3.2 GB when the
# whole result was materialised as one Arrow table).
LOAD_MEMORY_LIMIT = "256MB"
LOAD_BATCH_ROWS = 16_384
UNIT_TOLERANCE = 1e-3  # |‖v‖ - 1| allowed before vectors count as not L2-normalised
PAIR_BLOCK = 16_384  # pairs scored per einsum call by exact_cosine (bounds the gathered rows to ~2 x 64 MiB at 1024-d)
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


def exact_cosine(vecs: np.ndarray, rows_a: np.ndarray, rows_b: np.ndarray) -> np.ndarray:
    """float32 dot product of each (rows_a[i], rows_b[i]) pair, reproducible bit for bit.

    einsum's pairwise reduction runs single-threaded in a fixed order, so a pair's value does not
    depend on thread count, chunking or which other pairs are scored with it.
    """
    import numpy as np

    out = np.empty(len(rows_a), dtype=np.float32)
    for start in range(0, len(rows_a), PAIR_BLOCK):
        stop = start + PAIR_BLOCK
        out[start:stop] = np.einsum("ij,ij->i", vecs[rows_a[start:stop]], vecs[rows_b[start:stop]])
    return out


def exact_slack(dim: int) -> float:
    """How far a BLAS float32 dot product of unit vectors may be from `exact_cosine`.

    Any summation order of d products is within d * 2**-24 of the true value (Higham's bound), so
    two orders are within twice that; the slack doubles it again.
    """
    return max(4.0 * dim * 2.0**-24, 1e-6)


def check_unit(ids: np.ndarray, vecs: np.ndarray, model: str) -> None:
    """Refuse vectors that are not L2-normalised (the cosines are plain dot products)."""
    import numpy as np

    lengths = np.sqrt(np.einsum("ij,ij->i", vecs, vecs))
    bad = np.abs(lengths - 1.0) > UNIT_TOLERANCE
    if bad.any():
        raise InputError(
            f"{int(bad.sum()):,} vectors of model {model!r} are not L2-normalised (e.g. term_id {int(ids[bad][0])}); "
            "re-run `etl embed`, which stores unit vectors"
        )
