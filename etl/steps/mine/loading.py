"""Loading the mining inputs from the warehouse: vectors, terms, groups, pairs and the judge's verdicts as arrays."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from etl import vectors
from etl.errors import EtlError
from etl.steps.mine import pools
from etl.steps.mine.data import MineInputs, member
from etl.steps.mine.variants import anchor_key_sets, vocabulary_keys
from etl.warehouse import Warehouse

if TYPE_CHECKING:
    import numpy as np


def load(wh: Warehouse, model: str, variants: bool = True) -> MineInputs:
    """Vectors, terms, groups and pairs for one model, aligned on vocabulary rows (with variant keys unless `variants` is False)."""
    import numpy as np

    counts: dict[str, Any] = {}
    ids, vecs, spelling = _vocabulary(wh, model, counts)
    group = _groups(wh, ids)

    anchors, pos_ptr, dst = _positives(wh, ids, counts)
    n_spellings = int(spelling.max()) + 1
    anchor_index = np.repeat(np.arange(len(anchors), dtype=np.int64), np.diff(pos_ptr))
    own = np.arange(len(anchors)) * n_spellings + spelling[anchors]
    excluded_spellings = np.unique(np.concatenate([own, anchor_index * n_spellings + spelling[dst]]))
    grouped = group >= 0
    _, dense = np.unique(group[grouped], return_inverse=True)
    group_index = np.full(len(ids), -1, dtype=np.int64)
    group_index[grouped] = dense.reshape(-1)
    group_spellings = np.unique(group_index[grouped] * n_spellings + spelling[grouped])
    counts["anchors"] = len(anchors)
    counts["anchor_positive_pairs"] = len(dst)
    keys = vocabulary_keys(wh, spelling, variants)
    excluded_variants, group_variants = anchor_key_sets(keys, anchors, dst, anchor_index, group_index)
    judged_ptr, judged_rows = _judged_out(wh, ids, anchors)
    if len(judged_rows):
        counts["judged_out"] = len(judged_rows)
    return MineInputs(
        model=model,
        ids=ids,
        vecs=vecs,
        group=group,
        spelling=spelling,
        anchors=anchors,
        pos_ptr=pos_ptr,
        pos_rows=dst,
        excluded_spellings=excluded_spellings,
        group_spellings=group_spellings,
        group_index=group_index,
        n_spellings=n_spellings,
        variant_ptr=keys.ptr,
        variant_keys=keys.codes,
        variant_rules=keys.rules,
        excluded_variants=excluded_variants,
        group_variants=group_variants,
        n_variant_keys=keys.n_keys,
        lang=pools.load(wh, ids),
        judged_ptr=judged_ptr,
        judged_rows=judged_rows,
        counts=counts,
        variants_on=variants,
    )


def _vocabulary(wh: Warehouse, model: str, counts: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The terms with a vector of `model` (ascending term_id), their unit vectors and spelling codes."""
    import numpy as np

    ids, vecs = vectors.load(wh, model)
    term_ids, spelling_codes = _columns(
        wh, "SELECT term_id, dense_rank() OVER (ORDER BY norm) AS code FROM terms ORDER BY term_id"
    )
    counts["vectors"] = len(ids)
    in_terms = member(term_ids, ids)
    if not in_terms.all():
        # Vectors of terms that have left the vocabulary: they have no text to put in a triplet.
        counts["vectors_without_term"] = int((~in_terms).sum())
        ids, vecs = ids[in_terms], vecs[in_terms]
    if len(ids) == 0:
        raise EtlError(f"no term with a vector for model {model!r} is in `terms`; run `etl clean` and `etl embed`")
    vectors.check_unit(ids, vecs, model)
    spelling = spelling_codes[np.searchsorted(term_ids, ids)]
    return ids, vecs, spelling


def _groups(wh: Warehouse, ids: np.ndarray) -> np.ndarray:
    """The group_id of every vocabulary row, -1 for a term in no synonym group."""
    import numpy as np

    group = np.full(len(ids), -1, dtype=np.int64)
    g_ids, g_groups = _columns(wh, "SELECT term_id, group_id FROM synonym_groups")
    rows, ok = _rows(ids, g_ids)
    group[rows[ok]] = g_groups[ok]
    return group


def _positives(wh: Warehouse, ids: np.ndarray, counts: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Anchors (vocabulary rows, ascending), pointers into their positives, and the positives' rows.

    Both sides of every synonym pair with two vectors are anchors, with the other side as positive."""
    import numpy as np

    term_a, term_b = _columns(wh, "SELECT term_a, term_b FROM synonym_pairs")
    rows_a, ok_a = _rows(ids, term_a)
    rows_b, ok_b = _rows(ids, term_b)
    usable = ok_a & ok_b & (rows_a != rows_b)
    counts["pairs"] = len(term_a)
    counts["pairs_without_vectors"] = int((~(ok_a & ok_b)).sum())
    # Both directions, as the notebook: each side is an anchor with the other as positive.
    src = np.concatenate([rows_a[usable], rows_b[usable]])
    dst = np.concatenate([rows_b[usable], rows_a[usable]])
    edge = np.unique(src * len(ids) + dst)
    src, dst = edge // len(ids), edge % len(ids)
    anchors = np.unique(src)
    pos_ptr = np.searchsorted(src, np.append(anchors, len(ids))).astype(np.int64)
    return anchors, pos_ptr, dst


def _judged_out(wh: Warehouse, ids: np.ndarray, anchors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pointers per anchor into the rows the judge found to mean the same as it, and those rows (ascending)."""
    import numpy as np

    anchor_ids, negative_ids = _columns(
        wh, "SELECT anchor_id, negative_id FROM negative_judgements WHERE trial = 0 AND verdict = 'same'"
    )
    rows_a, ok_a = _rows(ids, anchor_ids)
    rows_n, ok_n = _rows(ids, negative_ids)
    at = np.searchsorted(anchors, rows_a)
    ok = ok_a & ok_n & (at < len(anchors))
    ok[ok] = anchors[at[ok]] == rows_a[ok]  # still an anchor: a pair judged before a clean may not be
    key = np.unique(at[ok] * len(ids) + rows_n[ok])
    owner, rows = key // len(ids), key % len(ids)
    ptr = np.searchsorted(owner, np.arange(len(anchors) + 1)).astype(np.int64)
    return ptr, rows.astype(np.int64)


def _columns(wh: Warehouse, sql: str) -> tuple[np.ndarray, np.ndarray]:
    """Two int64 columns of a query."""
    import numpy as np

    table = wh.con.sql(sql).to_arrow_table()
    return tuple(table.column(i).to_numpy().astype(np.int64, copy=False) for i in range(2))


def _rows(ids: np.ndarray, term_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vocabulary row of each term_id, and whether it is in the vocabulary at all."""
    import numpy as np

    rows = np.minimum(np.searchsorted(ids, term_ids), len(ids) - 1)
    return rows, ids[rows] == term_ids
