"""What a mined negative is labelled with: its cosine band, and the language pair it spans with its anchor.

Mining assigns both; the export's card and the report count them from the landed `negatives`, so
the names live here, below every step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from etl.warehouse import Warehouse

BAND_NAMES = ("easy", "medium", "hard")

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
