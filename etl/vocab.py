"""Text normalisation shared by every step, and the registry that gives each term a stable id."""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable

from etl.warehouse import Warehouse, read_sql

# Zero-width characters, joiners, BOM and soft hyphen: invisible, but they break equality.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFC, invisible characters removed, whitespace trimmed and collapsed."""
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    return _SPACE.sub(" ", text).strip()


def has_hangul(text: str) -> bool:
    """True when the text contains a Hangul syllable or jamo."""
    return any("\uac00" <= ch <= "\ud7a3" or "\u1100" <= ch <= "\u11ff" or "\u3130" <= ch <= "\u318f" for ch in text)


def is_latin_letter(ch: str) -> bool:
    """True for ASCII and Latin-extended letters."""
    return ch.isalpha() and ch < "\u0250"


def lang(text: str) -> str:
    """`ko` when it has Hangul and no Latin letters, `en` when its letters are Latin, else `mixed`."""
    letters = [ch for ch in text if ch.isalpha()]
    hangul = has_hangul(text)
    latin = sum(1 for ch in letters if is_latin_letter(ch))
    if hangul and latin == 0:
        return "ko"
    if not hangul and letters and latin == len(letters):
        return "en"
    return "mixed"


def norm_key(text: str, ignore_spaces: bool = True) -> str:
    """Comparison key: normalised and case-folded; Korean optionally compared without spaces."""
    key = normalize(text).casefold()
    if ignore_spaces and has_hangul(key):
        key = key.replace(" ", "")
    return key


def ensure_terms(wh: Warehouse, texts: Iterable[str], origin: str, run_id: int) -> dict[str, int]:
    """Give every (normalised) text a stable term_id and a `terms` row; returns text → term_id.

    Call inside the caller's transaction. Ids come from the append-only `term_ids` registry, so a
    text keeps its id even after `etl clean` rebuilds `terms`.
    """
    import polars as pl

    wanted = sorted({normalize(t) for t in texts} - {""})
    if not wanted:
        return {}
    frame = pl.DataFrame({"text": wanted})
    wh.con.register("wanted_terms", frame)
    try:
        wh.sql_file("register_term_ids").fetchall()
        missing = wh.frame(read_sql("missing_terms"))
        if missing.height:
            rows = missing.with_columns(
                pl.col("text").map_elements(norm_key, return_dtype=pl.String).alias("norm"),
                pl.col("text").map_elements(lang, return_dtype=pl.String).alias("lang"),
            )
            wh.con.register("new_terms", rows)
            try:
                wh.execute(
                    "INSERT INTO terms SELECT term_id, text, norm, lang, [?], ?, ? FROM new_terms",
                    [origin, run_id, run_id],
                ).fetchall()
            finally:
                wh.con.unregister("new_terms")
        ids = wh.execute(
            "SELECT t.text, t.term_id FROM term_ids t JOIN wanted_terms w USING (text)"
        ).fetchall()
    finally:
        wh.con.unregister("wanted_terms")
    return dict(ids)
