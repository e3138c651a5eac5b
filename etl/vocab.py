"""Text normalisation shared by every step, and the registry that gives each term a stable id."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING

from etl.warehouse import Warehouse, read_sql

if TYPE_CHECKING:
    import polars as pl

# Zero-width characters, joiners, BOM and soft hyphen: invisible, but they break equality.
_INVISIBLE_CLASS = "[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]"
_INVISIBLE = re.compile(_INVISIBLE_CLASS)
_SPACE = re.compile(r"\s+")
# The same whitespace for polars (Rust regex): Python's \s also matches the separators U+001C..U+001F.
_SPACE_RUST = r"[\s\x1c-\x1f]+"
HANGUL_CLASS = "[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]"
# Text made only of ASCII, Hangul and CJK ideographs: lower() equals casefold() and every letter is
# easy to classify, so norm_key and lang can run as polars expressions. Anything else goes to Python.
_FAST_TEXT = "^[\x00-\x7f\uac00-\ud7a3\u1100-\u11ff\u3131-\u318e\u4e00-\u9fff]*$"


# Placeholders a term list or a pairs file may hold where a term is missing; never a term.
NULL_WORDS = ("null", "none", "n/a", "na", "nan", "nil", "undefined", "unknown", "-", "--", "?", "tbd")


def term_rule(text: pl.Expr, max_length: int) -> pl.Expr:
    """The rule that refuses a normalised text as a term (empty, null_like, too_long), or null when it is one.

    `etl clean` judges every landed text with it, and the import embedder the texts of its term list,
    so the vocabulary is the same whichever of the two ran last.
    """
    import polars as pl

    return (
        pl.when(text == "")
        .then(pl.lit("empty"))
        .when(text.str.to_lowercase().is_in(list(NULL_WORDS)))
        .then(pl.lit("null_like"))
        .when(text.str.len_chars() > max_length)
        .then(pl.lit("too_long"))
    )


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


def normalize_expr(expr: pl.Expr) -> pl.Expr:
    """`normalize` as a polars expression: the same result without a Python call per row."""
    return (
        expr.str.normalize("NFC")
        .str.replace_all(_INVISIBLE_CLASS, "")
        .str.replace_all(_SPACE_RUST, " ")
        .str.strip_chars(" ")
    )


def describe(texts: pl.Series, ignore_spaces: bool = True) -> pl.DataFrame:
    """`norm_key` and `lang` of already-normalised texts as columns text, norm, lang (vectorised)."""
    import polars as pl

    text = pl.col("text")
    hangul = text.str.contains(HANGUL_CLASS)
    latin = text.str.contains("[A-Za-z]")
    cjk = text.str.contains("[\u4e00-\u9fff]")
    # norm_key normalises again: after invisibles are removed, conjoining jamo can compose anew.
    lower = pl.col("renormalized").str.to_lowercase()
    frame = (
        pl.DataFrame({"text": texts.cast(pl.String)})
        .with_columns(normalize_expr(text).alias("renormalized"))
        .with_columns(
            pl.when(pl.col("renormalized").str.contains(HANGUL_CLASS) & pl.lit(ignore_spaces))
            .then(lower.str.replace_all(" ", "", literal=True))
            .otherwise(lower)
            .alias("norm"),
            pl.when(hangul & ~latin)
            .then(pl.lit("ko"))
            .when(~hangul & latin & ~cjk)
            .then(pl.lit("en"))
            .otherwise(pl.lit("mixed"))
            .alias("lang"),
            text.str.contains(_FAST_TEXT).alias("fast"),
        )
        .drop("renormalized")
    )
    slow = frame.filter(~pl.col("fast"))["text"].unique()
    if not slow.len():
        return frame.drop("fast")
    # Rare scripts (accented Latin, Greek, Cyrillic...) where case folding needs Python's own rules.
    exact = pl.DataFrame(
        {
            "text": slow,
            "norm_exact": [norm_key(t, ignore_spaces) for t in slow],
            "lang_exact": [lang(t) for t in slow],
        },
        schema={"text": pl.String, "norm_exact": pl.String, "lang_exact": pl.String},
    )
    return (
        frame.join(exact, on="text", how="left", maintain_order="left")
        .with_columns(pl.coalesce("norm_exact", "norm").alias("norm"), pl.coalesce("lang_exact", "lang").alias("lang"))
        .select("text", "norm", "lang")
    )


def ensure_terms(wh: Warehouse, texts: Iterable[str], origin: str, run_id: int) -> dict[str, int]:
    """Give every (normalised) text a stable term_id and a `terms` row; returns text → term_id.

    Call inside the caller's transaction. Ids come from the append-only `term_ids` registry, so a
    text keeps its id even after `etl clean` rebuilds `terms`.
    """
    import polars as pl

    raw = pl.Series("text", list(texts), dtype=pl.String)
    frame = (
        pl.DataFrame({"text": raw})
        .select(normalize_expr(pl.col("text")).alias("text"))
        .filter(pl.col("text") != "")
        .unique()
        .sort("text")
    )
    if not frame.height:
        return {}
    with wh.staged("wanted_terms", frame):
        wh.sql_file("register_term_ids").fetchall()
        missing = wh.frame(read_sql("missing_terms"))
        if missing.height:
            rows = missing.join(describe(missing["text"]), on="text", how="left")
            with wh.staged("new_terms", rows):
                wh.execute(
                    "INSERT INTO terms (term_id, text, norm, lang, origins, first_run_id, last_run_id) "
                    "SELECT term_id, text, norm, lang, [?], ?, ? FROM new_terms",
                    [origin, run_id, run_id],
                ).fetchall()
        ids = wh.execute("SELECT t.text, t.term_id FROM term_ids t JOIN wanted_terms w USING (text)").fetchall()
    return dict(ids)
