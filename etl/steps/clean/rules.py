"""The cleaning rules, in the order they apply; each is a name, an effect and one vectorised test.

Two streams pass through them: `pairs` (imported pairs and translation forms) and `terms`
(vocabulary lines). A row is judged by the first rule it breaks; a text becomes a term when it
passes the rules of its own side (its form, its script), even if its pair is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from etl import vocab

if TYPE_CHECKING:
    import polars as pl

# Placeholders an LLM or a spreadsheet writes where a term should be (compared case-folded).
NULL_WORDS = vocab.NULL_WORDS
# An English form must have at least this share of Latin letters among its letters.
LATIN_SHARE = 0.8
_LATIN = "[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f]"
# Hanja (CJK ideographs): Korean vocabularies list words in Hanja too (the notebook's 李滉 ↔ 李穡).
_HANJA = "[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
_INITIALISM = r"^(?:[A-Z]\.){2,}$|^(?:[A-Z]\.)+[A-Z]$"  # A.I.  N.L.P.  U.S.A
_CLIPPED = r"^(?:[A-Za-z]{1,6}\.)+$"  # norm.  approx.  e.g.  (longer words just lose the dot)
ACRONYM = r"^[A-Z][A-Z0-9&/\-]{1,9}s?$"  # ML  GPU  GPT-3  R&D  CNNs
ACRONYM_DOT = r"^[A-Z][A-Z0-9&/\-]{1,9}s?\.$"  # ML.  (a stray period, not a clipped word)


@dataclass(frozen=True)
class Rule:
    """One named cleaning rule."""

    name: str
    effect: str  # rewrite | reject | merge
    streams: str  # pairs | terms | pairs+terms
    text: str


RULES: tuple[Rule, ...] = (
    Rule("normalize", "rewrite", "pairs+terms", "NFC, invisible characters removed, whitespace trimmed and collapsed"),
    Rule("empty", "reject", "pairs+terms", "nothing left after normalisation"),
    Rule("null_like", "reject", "pairs+terms", "a placeholder such as null, none or n/a"),
    Rule("too_long", "reject", "pairs+terms", "longer than clean_max_length characters"),
    Rule("initialism_dots", "rewrite", "pairs", "a dotted initialism loses its dots: A.I. -> AI"),
    Rule(
        "trailing_period",
        "rewrite",
        "pairs",
        "other forms lose a closing period: machine learning. -> machine learning",
    ),
    Rule("clipped_word", "reject", "pairs", "a clipped word (up to 6 letters) with a trailing dot: norm., approx."),
    Rule("echo", "reject", "pairs", "a translation that only repeats the Korean term"),
    Rule("self_pair", "reject", "pairs", "both sides of an imported pair are the same term"),
    Rule("no_hangul", "reject", "pairs", "the Korean term of a translation has no Hangul"),
    Rule("not_latin", "reject", "pairs", "an English form whose letters are not mostly Latin"),
    Rule("bad_script", "reject", "pairs", "an imported term with no Hangul or Hanja and not mostly Latin letters"),
    Rule("alternative_is_primary", "merge", "pairs", "an alternative equal to its primary"),
    Rule("duplicate_in_entry", "merge", "pairs", "a form repeated within one translation"),
    Rule("duplicate_pair", "merge", "pairs", "the same pair again (another run, source or line): origins merged"),
    Rule("reverse_pair", "merge", "pairs", "B -> A where A -> B exists: one undirected pair"),
)
ORDER = {rule.name: i for i, rule in enumerate(RULES)}
_SIDE_A = ("term_rule_a", "form_rule_a", "role_rule_a")
_SIDE_B = ("term_rule_b", "form_rule_b", "role_rule_b")


def texts(raw: pl.Series, max_length: int, ignore_spaces: bool) -> pl.DataFrame:
    """Per distinct raw text: normalised `text`, its term rule, and the pair `form` with its rules and script."""
    import polars as pl

    text = pl.col("text")
    frame = (
        pl.DataFrame({"raw": raw.cast(pl.String)})
        .unique()
        .with_columns(vocab.normalize_expr(pl.col("raw")).alias("text"))
        .with_columns(
            (pl.col("raw") != text).alias("raw_changed"),
            vocab.term_rule(text, max_length).alias("term_rule"),
            pl.when(text.str.contains(_INITIALISM))
            .then(pl.lit("initialism_dots"))
            .when(text.str.contains(ACRONYM_DOT))
            .then(pl.lit("trailing_period"))
            .when(text.str.contains(_CLIPPED))
            .then(pl.lit(None))
            .when(text.str.contains(r"[^.]\.$"))
            .then(pl.lit("trailing_period"))
            .alias("rewrite"),
        )
        .with_columns(
            pl.when(pl.col("rewrite") == "initialism_dots")
            .then(text.str.replace_all(".", "", literal=True))
            .when(pl.col("rewrite") == "trailing_period")
            .then(text.str.strip_suffix("."))
            .otherwise(text)
            .alias("form"),
        )
    )
    form = pl.col("form")
    letters = form.str.count_matches(r"\p{L}")
    latin = form.str.count_matches(_LATIN)
    described = vocab.describe(frame["form"].unique(), ignore_spaces).select("text", "norm")
    return frame.with_columns(
        pl.when(form.str.contains(_CLIPPED)).then(pl.lit("clipped_word")).alias("form_rule"),
        form.str.contains(vocab.HANGUL_CLASS).alias("hangul"),
        form.str.contains(_HANJA).alias("hanja"),
        ((latin > 0) & (latin >= letters * LATIN_SHARE)).alias("latin"),
        form.str.contains(ACRONYM).alias("acronym"),
    ).join(described.rename({"text": "form", "norm": "form_norm"}), on="form", how="left")


def judge_pairs(candidates: pl.DataFrame, table: pl.DataFrame) -> pl.DataFrame:
    """Candidates with each side's text and rules, the pair's first broken rule (`rule`) and `a_ok`/`b_ok`."""
    import polars as pl

    side = table.select(
        "raw",
        "raw_changed",
        "text",
        "term_rule",
        "rewrite",
        "form",
        "form_rule",
        "hangul",
        "hanja",
        "latin",
        "acronym",
        "form_norm",
    )
    frame = candidates.join(side.rename(lambda c: c + "_a"), left_on="a_raw", right_on="raw_a", how="left")
    frame = frame.join(side.rename(lambda c: c + "_b"), left_on="b_raw", right_on="raw_b", how="left")
    synth = pl.col("src") == "synth"
    script = lambda s: pl.col(f"hangul_{s}") | pl.col(f"hanja_{s}") | pl.col(f"latin_{s}")  # noqa: E731 - one line per side
    frame = frame.with_columns(
        pl.when(synth & ~pl.col("hangul_a"))
        .then(pl.lit("no_hangul"))
        .when(~synth & ~script("a"))
        .then(pl.lit("bad_script"))
        .alias("role_rule_a"),
        pl.when(synth & ~pl.col("latin_b"))
        .then(pl.lit("not_latin"))
        .when(~synth & ~script("b"))
        .then(pl.lit("bad_script"))
        .alias("role_rule_b"),
        pl.when(pl.col("form_norm_a") == pl.col("form_norm_b"))
        .then(pl.when(synth).then(pl.lit("echo")).otherwise(pl.lit("self_pair")))
        .alias("pair_rule"),
    )
    ranks = [_rank(c) for c in (*_SIDE_A, *_SIDE_B, "pair_rule")]
    names = {i: rule.name for i, rule in enumerate(RULES)}
    return frame.with_columns(
        pl.min_horizontal(ranks).replace_strict(names, default=None, return_dtype=pl.String).alias("rule"),
        pl.all_horizontal([pl.col(c).is_null() for c in _SIDE_A]).alias("a_ok"),
        pl.all_horizontal([pl.col(c).is_null() for c in _SIDE_B]).alias("b_ok"),
    ).with_columns(
        # Which value the refusal is about: the side whose own rule came first, else the pair.
        pl.when(pl.min_horizontal([_rank(c) for c in _SIDE_A]) == _rank("rule"))
        .then(pl.lit("a"))
        .when(pl.min_horizontal([_rank(c) for c in _SIDE_B]) == _rank("rule"))
        .then(pl.lit("b"))
        .otherwise(pl.lit("pair"))
        .alias("culprit"),
    )


def judge_terms(lines: pl.DataFrame, table: pl.DataFrame) -> pl.DataFrame:
    """Vocabulary lines with their normalised text and first broken rule (`rule`)."""
    return lines.join(table.select("raw", "text", "term_rule"), on="raw", how="left").rename({"term_rule": "rule"})


def counts(frame: pl.DataFrame, stream: str, rewrites: dict[str, pl.Expr]) -> dict[str, dict[str, int]]:
    """Per rule of this stream, in order: rows in, rows out, and rows rejected or rewritten."""
    import polars as pl

    rejected = dict(frame.group_by("rule").len().drop_nulls("rule").iter_rows())
    remaining = frame.height
    out: dict[str, dict[str, int]] = {}
    for rule in RULES:
        if rule.effect == "merge" or stream not in rule.streams.split("+"):
            continue
        entry = {"in": remaining}
        if rule.effect == "reject":
            entry["rejected"] = int(rejected.get(rule.name, 0))
            remaining -= entry["rejected"]
        else:
            reaching = pl.col("rule").is_null() | (_rank("rule") > ORDER[rule.name])
            entry["rewritten"] = int(frame.select((reaching & rewrites[rule.name]).sum()).item())
        entry["out"] = remaining
        out[rule.name] = entry
    return out


def pair_rewrites() -> dict[str, pl.Expr]:
    """Which pair rows each rewrite rule changed (either side)."""
    import polars as pl

    return {
        "normalize": (pl.col("raw_changed_a") | pl.col("raw_changed_b")),
        "initialism_dots": (pl.col("rewrite_a") == "initialism_dots") | (pl.col("rewrite_b") == "initialism_dots"),
        "trailing_period": (pl.col("rewrite_a") == "trailing_period") | (pl.col("rewrite_b") == "trailing_period"),
    }


def rejects(frame: pl.DataFrame, max_length: int) -> pl.DataFrame:
    """One reject per refused row, deduplicated: rule, reason, source, line, call_hash, payload."""
    import polars as pl

    value = pl.col("value")
    reason = (
        pl.when(pl.col("rule") == "empty")
        .then(pl.lit("nothing is left after normalisation"))
        .when(pl.col("rule") == "null_like")
        .then(pl.format("'{}' is a placeholder, not a term", value))
        .when(pl.col("rule") == "too_long")
        .then(
            pl.format(
                "'{}…' has {} characters, more than clean_max_length ({})",
                value.str.slice(0, 40),
                value.str.len_chars(),
                pl.lit(max_length),
            )
        )
        .when(pl.col("rule") == "clipped_word")
        .then(pl.format("'{}' is a clipped word with a trailing dot", value))
        .when(pl.col("rule") == "echo")
        .then(pl.format("the answer '{}' only repeats the Korean term", value))
        .when(pl.col("rule") == "self_pair")
        .then(pl.format("both sides are the same term (same comparison key): {}", value))
        .when(pl.col("rule") == "no_hangul")
        .then(pl.format("the Korean term '{}' has no Hangul", value))
        .when(pl.col("rule") == "not_latin")
        .then(pl.format("the English form '{}' is not mostly Latin letters", value))
        .when(pl.col("rule") == "bad_script")
        .then(pl.format("'{}' has no Hangul or Hanja and is not mostly Latin letters", value))
        .otherwise(pl.format("broke rule {}", pl.col("rule")))
    )
    return (
        frame.filter(pl.col("rule").is_not_null())
        .with_columns(value=pl.col("value").fill_null(""))
        .select("rule", reason.alias("reason"), "source", "line", "call_hash", "payload")
        .unique(maintain_order=True)
    )


def pair_reject_values(frame: pl.DataFrame) -> pl.DataFrame:
    """Judged pairs with `value` (shown in the reason) and `payload` (verbatim) for the culprit."""
    import polars as pl

    culprit = pl.col("culprit")
    both_raw = pl.format("{} ↔ {}", pl.col("a_raw"), pl.col("b_raw"))
    return frame.with_columns(
        pl.when(culprit == "a")
        .then(pl.coalesce("form_a", "text_a"))
        .when(culprit == "b")
        .then(pl.coalesce("form_b", "text_b"))
        .when(pl.col("rule") == "echo")
        .then(pl.col("form_b"))
        .otherwise(pl.format("{} ↔ {}", pl.col("form_a"), pl.col("form_b")))
        .alias("value"),
        pl.when(culprit == "a")
        .then(pl.col("a_raw"))
        .when((culprit == "b") | (pl.col("rule") == "echo"))
        .then(pl.col("b_raw"))
        .otherwise(both_raw)
        .alias("payload"),
    )


def _rank(column: str) -> pl.Expr:
    import polars as pl

    return pl.col(column).replace_strict(ORDER, default=None, return_dtype=pl.Int32)
