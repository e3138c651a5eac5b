"""Synthetic mining inputs: terms, synonym pairs and groups, and clustered unit vectors in a warehouse."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import polars as pl

from etl.warehouse import Warehouse

MODEL = "test-model"


@dataclass
class World:
    """What was inserted, for assertions."""

    ids: np.ndarray  # term_id per row
    texts: list[str]
    norms: list[str]
    vecs: np.ndarray  # float32, unit rows
    pairs: list[tuple[int, int]]  # (term_a, term_b), term_a < term_b
    group_of: dict[int, int]  # term_id -> group_id


def clustered(n: int, dim: int, rng: np.random.Generator, levels: tuple[float, ...] = (1.2, 1.0, 1.6)) -> np.ndarray:
    """Unit vectors built from nested cluster centres, so cosines spread over every band.

    Level i contributes weight levels[i]; terms sharing more levels are more similar
    (about sum(shared weights) / (sum(all weights) + 1)).
    """
    out = rng.standard_normal((n, dim)).astype(np.float32) / np.sqrt(dim)
    fan = 6
    for depth, weight in enumerate(levels):
        k = fan ** (depth + 1)
        centres = rng.standard_normal((k, dim)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        out += np.sqrt(weight) * centres[(np.arange(n) * k) // n]
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def build(
    wh: Warehouse,
    n_terms: int = 600,
    dim: int = 32,
    n_groups: int = 60,
    seed: int = 0,
    model: str = MODEL,
    vecs: np.ndarray | None = None,
) -> World:
    """Insert a vocabulary with vectors, groups of 2-4 synonyms and their pairs; returns what went in."""
    rng = np.random.default_rng(seed)
    vecs = clustered(n_terms, dim, rng) if vecs is None else np.array(vecs, dtype=np.float32)
    n_terms, dim = vecs.shape
    ids = np.arange(1, n_terms + 1, dtype=np.int64) * 10  # ids are not row numbers
    texts = [f"Term {i:05d}" for i in range(n_terms)]
    norms = [t.casefold() for t in texts]
    members = rng.choice(n_terms, size=(n_groups, 4), replace=False)
    sizes = rng.integers(2, 5, size=n_groups)
    pairs: list[tuple[int, int]] = []
    group_of: dict[int, int] = {}
    for group, size in zip(members, sizes):
        group_ids = sorted(int(ids[r]) for r in group[:size])
        base = vecs[group[0]]
        for r in group[1:size]:
            # Synonyms sit close to the group's first term.
            v = base + 0.35 * rng.standard_normal(dim).astype(np.float32) / np.sqrt(dim)
            vecs[r] = v / np.linalg.norm(v)
        for term in group_ids:
            group_of[term] = group_ids[0]
        # A chain plus one chord: connected, and not every pair listed.
        chain = list(itertools.pairwise(group_ids))
        pairs.extend(chain if size < 4 else [*chain, (group_ids[0], group_ids[2])])
    insert(wh, ids, texts, norms, vecs, pairs, group_of, model)
    return World(ids, texts, norms, vecs, pairs, group_of)


def insert(
    wh: Warehouse,
    ids: np.ndarray,
    texts: list[str],
    norms: list[str],
    vecs: np.ndarray,
    pairs: list[tuple[int, int]],
    group_of: dict[int, int],
    model: str = MODEL,
) -> None:
    """Write terms, pairs, groups and vectors as `etl clean` and `etl embed` would leave them."""

    terms = pl.DataFrame({"term_id": ids, "text": texts, "norm": norms})
    wh.con.register("t_terms", terms)
    wh.execute(
        "INSERT INTO terms (term_id, text, norm, lang, origins, first_run_id, last_run_id) "
        "SELECT term_id, text, norm, 'en', ['test'], 0, 0 FROM t_terms"
    )
    wh.con.unregister("t_terms")
    pair_frame = pl.DataFrame(
        {"a": [a for a, _ in pairs], "b": [b for _, b in pairs]}, schema={"a": pl.Int64, "b": pl.Int64}
    )
    wh.con.register("t_pairs", pair_frame)
    wh.execute(
        "INSERT INTO synonym_pairs (term_a, term_b, similarity, origins, run_ids, run_id) "
        "SELECT a, b, 1.0, ['test'], [0], 0 FROM t_pairs"
    )
    wh.con.unregister("t_pairs")
    groups = pl.DataFrame(
        {"term_id": list(group_of), "group_id": list(group_of.values())},
        schema={"term_id": pl.Int64, "group_id": pl.Int64},
    )
    wh.con.register("t_groups", groups)
    wh.execute("INSERT INTO synonym_groups SELECT term_id, group_id, 0 FROM t_groups")
    wh.con.unregister("t_groups")
    insert_vectors(wh, ids, vecs, model)


def insert_vectors(wh: Warehouse, ids: np.ndarray, vecs: np.ndarray, model: str = MODEL) -> None:
    """Write vectors as `etl embed` would leave them."""
    import pyarrow as pa

    dim = vecs.shape[1]
    flat = pa.array(np.ascontiguousarray(vecs, dtype=np.float32).ravel())
    table = pa.table(
        {
            "term_id": pa.array(ids),
            "vec": pa.ListArray.from_arrays(pa.array(np.arange(0, len(ids) * dim + 1, dim, dtype=np.int32)), flat),
        }
    )
    wh.con.register("t_vecs", table)
    wh.execute("INSERT INTO term_embeddings SELECT term_id, ?, ?, vec, 0 FROM t_vecs", [model, dim])
    wh.con.unregister("t_vecs")


def korean(wh: Warehouse, world: World, share: float = 0.5, seed: int = 1) -> set[int]:
    """Rewrite a seeded `share` of the terms as Korean (Hangul text, lang ko; norms unchanged); returns their ids.

    A group's members get their languages independently, so anchors have same-language positives,
    cross-language ones, or both."""
    rng = np.random.default_rng(seed)
    chosen = sorted(int(t) for t in world.ids[rng.random(len(world.ids)) < share])
    wh.con.register("t_korean", pl.DataFrame({"term_id": chosen}, schema={"term_id": pl.Int64}))
    wh.execute("UPDATE terms SET text = '용어 ' || text, lang = 'ko' WHERE term_id IN (SELECT term_id FROM t_korean)")
    wh.con.unregister("t_korean")
    return set(chosen)
