"""The judge's side of the warehouse: which pairs to ask about, their texts, landing verdicts, and the figures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from etl.llm.ledger import Reject, replace_rejects
from etl.steps.judge.tasks import Pair, Verdict
from etl.streams import STREAM_JUDGE, keyed
from etl.warehouse import Warehouse, read_sql

if TYPE_CHECKING:
    import polars as pl

STEP = "judge"

_SAME_IN_NEGATIVES = """
    SELECT count(*)
    FROM negatives n
    SEMI JOIN negative_judgements j
        ON j.anchor_id = n.anchor_id AND j.negative_id = n.negative_id AND j.trial = 0 AND j.verdict = 'same'
"""


def pending(wh: Warehouse, bands: Sequence[str], retry_rejects: bool) -> list[Pair]:
    """The current negatives of `bands` with no verdict of record (nor a refused answer, unless `retry_rejects`)."""
    keys = wh.frame(read_sql("judge_pending"), {"bands": list(bands), "retry_rejects": retry_rejects})
    return pairs(wh, keys)


def pairs(wh: Warehouse, keys: pl.DataFrame) -> list[Pair]:
    """Pairs with their prompt texts, for the keys (anchor_id, negative_id, band, similarity) given."""
    if keys.height == 0:
        return []
    with wh.staged("judge_keys", keys):
        rows = wh.sql_file("judge_pair_texts").fetchall()
    return [
        Pair(int(a), int(n), anchor, negative, tuple(synonyms), band, float(sim))
        for a, n, anchor, negative, synonyms, band, sim in rows
    ]


def same_in_negatives(wh: Warehouse) -> int:
    """Mined negatives that carry a `same` verdict: mining has yet to replace them."""
    return int(wh.scalar(_SAME_IN_NEGATIVES))


def consistency_sample(wh: Warehouse, size: int, seed: int) -> tuple[list[Pair], int]:
    """The seeded sample of verdicts of record asked a second time: the pairs still to ask, and the sample's size.

    The sample is the `size` verdicts whose keyed hash of (anchor_id, negative_id) comes first, so it
    only grows with new verdicts and a rerun asks nothing again.
    """
    import polars as pl

    judged = wh.frame(
        "SELECT anchor_id, negative_id, band, similarity, "
        "EXISTS (SELECT 1 FROM negative_judgements r WHERE r.anchor_id = j.anchor_id "
        "AND r.negative_id = j.negative_id AND r.trial = 1) AS asked "
        "FROM negative_judgements j WHERE trial = 0"
    )
    if judged.height == 0 or size == 0:
        return [], 0
    rank = keyed(seed, STREAM_JUDGE, judged["anchor_id"].to_numpy(), judged["negative_id"].to_numpy())
    sample = judged.with_columns(pl.Series("rank", rank)).sort("rank").head(size)
    todo = sample.filter(~pl.col("asked")).sort("rank")
    chosen = pairs(wh, todo.select("anchor_id", "negative_id", "band", "similarity"))
    order = {(a, n): i for i, (a, n) in enumerate(zip(todo["anchor_id"], todo["negative_id"], strict=True))}
    return sorted(chosen, key=lambda p: order[(p.anchor_id, p.negative_id)]), sample.height


def land(
    wh: Warehouse,
    run_id: int,
    trial: int,
    answers: Sequence[tuple[str, list[Verdict], list[tuple[Pair, Reject]]]],
) -> int:
    """Land each answer's verdicts (call_hash, verdicts, rejects) and make its rejects the answer's; returns rejects.

    Runs inside the caller's transaction (the ledger's atomic mode records the call in the same one).
    """
    import polars as pl

    rows = [
        {
            "anchor_id": v.pair.anchor_id,
            "negative_id": v.pair.negative_id,
            "trial": trial,
            "band": v.pair.band,
            "similarity": v.pair.similarity,
            "verdict": v.verdict,
            "reason": v.reason,
            "call_hash": call_hash,
            "run_id": run_id,
        }
        for call_hash, verdicts, _ in answers
        for v in verdicts
    ]
    if rows:
        with wh.staged("judge_verdicts", pl.DataFrame(rows)):
            wh.sql_file("judge_land_verdicts")
    refused = [(call_hash, pair.source, reject) for call_hash, _, rejects in answers for pair, reject in rejects]
    replace_rejects(wh, run_id, STEP, [call_hash for call_hash, _, _ in answers], refused)
    return len(refused)


def promote(wh: Warehouse) -> int:
    """Mark every `same` verdict of record as a synonym pair for the next `etl clean`; returns how many are new."""
    new = int(
        wh.scalar("SELECT count(*) FROM negative_judgements WHERE trial = 0 AND verdict = 'same' AND NOT promoted")
    )
    if new:
        wh.execute("UPDATE negative_judgements SET promoted = true WHERE trial = 0 AND verdict = 'same'")
    return new
