"""Loading term vectors into numpy."""

from __future__ import annotations

import numpy as np

from etl import vectors
from etl.warehouse import Warehouse


def test_load_returns_ids_and_matrix_in_term_order(wh: Warehouse) -> None:
    rows = [(3, "m", 2, [0.0, 1.0], 1), (1, "m", 2, [1.0, 0.0], 1), (2, "other", 3, [1.0, 0.0, 0.0], 1)]
    wh.con.executemany("INSERT INTO term_embeddings VALUES (?, ?, ?, ?, ?)", rows)
    ids, matrix = vectors.load(wh, "m")
    assert ids.tolist() == [1, 3]
    assert matrix.dtype == np.float32 and matrix.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert vectors.models(wh) == [("m", 2, 2), ("other", 3, 1)]


def test_load_of_unknown_model_is_empty(wh: Warehouse) -> None:
    ids, matrix = vectors.load(wh, "nothing")
    assert ids.shape == (0,) and matrix.shape == (0, 0)
