"""What a mined negative is labelled with: its cosine band, the language pair it spans with its anchor,
and the LLM judge's verdict on it.

Mining assigns the first two and `etl judge` the third; the export's card and stats file and the
report count them from the landed `negatives` and `negative_judgements`, so the names and the
counts live here, below every step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from etl.warehouse import Warehouse

BAND_NAMES = ("easy", "medium", "hard")
VERDICTS = ("same", "related", "different")  # the judge's answers: only `same` takes a negative out

# The two language pools (bits, so that a set of pools is their sum); etl/steps/mine/pools.py says who is in which.
KO, EN, BOTH = 1, 2, 3
LANGS = {KO: "ko", EN: "en"}
POOL_NAMES = {KO: "ko", EN: "en", BOTH: "ko+en"}
LANGUAGE_PAIRS = tuple(f"{LANGS[a]}→{LANGS[b]}" for a in (KO, EN) for b in (KO, EN))  # anchor's → negative's


def landed_pairs(wh: Warehouse) -> dict[str, dict[str, int]]:
    """Negatives per band and language pair in the warehouse, counted in SQL from their terms' texts."""
    from etl.vocab import HANGUL_CLASS

    out = {band: dict.fromkeys(LANGUAGE_PAIRS, 0) for band in BAND_NAMES}
    for band, pair, n in wh.sql_file("negative_language_pairs", {"hangul": HANGUL_CLASS}).fetchall():
        if band in out:
            out[band][pair] = int(n)
    return out


def pair_shares(pairs: dict[str, dict[str, int]]) -> dict[str, dict[str, float]]:
    """Counts per band and language pair as shares of each band's negatives, and of all of them (key `all`)."""
    total: dict[str, int] = {}
    for counts in pairs.values():
        for pair, n in counts.items():
            total[pair] = total.get(pair, 0) + n
    out: dict[str, Any] = {}
    for name, counts in {**pairs, "all": total}.items():
        size = sum(counts.values())
        out[name] = {pair: round(n / size, 4) if size else 0.0 for pair, n in counts.items()}
    return out


def verdict_counts(wh: Warehouse, run_id: int | None = None) -> dict[str, dict[str, int]]:
    """Per band, verdicts of record: judged, same, related, different, promoted (one judge run's, or all)."""
    out = {}
    for band, *figures in wh.sql_file("judge_band_counts", {"run_id": run_id}).fetchall():
        out[band] = dict(zip(("judged", *VERDICTS, "promoted"), (int(f) for f in figures), strict=True))
    return {band: out[band] for band in BAND_NAMES if band in out}


def dry_bands(wh: Warehouse) -> dict[str, int]:
    """Per band, anchors that lost members to the judge and whose band then fell short of its quota."""
    return {band: int(n) for band, n in wh.sql_file("judge_dry_bands").fetchall()}


def agreement(wh: Warehouse, sample: int | None = None) -> dict[str, Any]:
    """How often the judge's second verdict on a sampled pair matched its first, over every pair asked twice."""
    row = wh.execute(
        "SELECT count(*), count(*) FILTER (WHERE a.verdict = b.verdict) "
        "FROM negative_judgements a JOIN negative_judgements b USING (anchor_id, negative_id) "
        "WHERE a.trial = 0 AND b.trial = 1"
    ).fetchall()[0]
    asked, agreed = int(row[0]), int(row[1])
    share = round(agreed / asked, 4) if asked else None
    return {"sample": asked if sample is None else sample, "asked_twice": asked, "agreed": agreed, "agreement": share}


def judgements(wh: Warehouse) -> dict[str, Any] | None:
    """What the judge found, over every verdict of record (None when nothing was judged): the stats file, card, report."""
    bands = verdict_counts(wh)
    if not bands:
        return None
    in_triplets = wh.scalar(
        "SELECT count(*) FROM triplets t SEMI JOIN negative_judgements j ON j.anchor_id = t.anchor_id "
        "AND j.negative_id = t.negative_id AND j.trial = 0"
    )
    return {
        "bands": bands,
        "judged_negatives_in_triplets": int(in_triplets),
        "dry": dry_bands(wh),
        "consistency": agreement(wh),
        "models": [
            m
            for (m,) in wh.execute(
                "SELECT DISTINCT model FROM llm_calls WHERE task = 'judge' AND status = 'ok' ORDER BY model"
            ).fetchall()
        ],
    }
