"""`etl clean`: rebuild `terms`, `synonym_pairs` and `synonym_groups` from everything landed.

Sources: `imported_pairs`, `translations` (each yields ko ↔ primary, ↔ every alternative,
↔ abbreviation), the pairs `etl judge --promote` marked in `negative_judgements`, and
`imported_terms`. The rules in `etl.steps.clean.rules` run in order over two streams (pairs and
vocabulary lines); the survivors are merged into one undirected pair per two terms and grouped into
connected components.

Write mode: replace. Each run rebuilds the three tables from scratch, deterministically: term ids
come from the append-only `term_ids` registry, and a pair or group row identical to the stored one
keeps its run_id, so running clean twice changes nothing. Clean's own rejects (step `clean`)
replace the previous clean's, so they never pile up. Everything is written in one transaction and
then `sql/checks/clean_*.sql` run inside it; if any returns rows, nothing is replaced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from etl.config import Settings
from etl.errors import CheckFailed
from etl.output import Progress, StepResult
from etl.steps.clean import dedupe, rules
from etl.warehouse import Run, Warehouse, read_sql

if TYPE_CHECKING:
    import polars as pl

STEP = "clean"
PAYLOAD_CAP = 1_000  # characters of a refused row that `rejects.payload` keeps (as the import step keeps)


def run(wh: Warehouse, settings: Settings) -> StepResult:
    """Rebuild the vocabulary, the synonym pairs and their groups; returns the per-rule summary."""
    import polars as pl

    max_length, ignore_spaces = settings.clean_max_length, settings.clean_ignore_spaces
    params = {"max_length": max_length, "ignore_spaces": ignore_spaces}
    with wh.record(STEP, params) as run, Progress("clean", 5) as progress:
        candidates = wh.frame(read_sql("clean_pair_sources"))
        lines = wh.frame(read_sql("clean_term_sources"))
        raw = pl.concat([candidates["a_raw"], candidates["b_raw"], lines["raw"]])
        table = rules.texts(raw, max_length, ignore_spaces)
        judged = rules.pair_reject_values(rules.judge_pairs(candidates, table))
        vocabulary = rules.judge_terms(lines, table)
        progress.advance()

        counts: dict[str, Any] = {
            "sources": {
                "imported_pairs": int((candidates["src"] == "import").sum()),
                "translation_forms": int((candidates["src"] == "synth").sum()),
                "promoted_pairs": int((candidates["src"] == "judge").sum()),
                "vocabulary_lines": lines.height,
            },
            "rules": {
                "pairs": rules.counts(judged, "pairs", rules.pair_rewrites()),
                "terms": rules.counts(vocabulary, "terms", {"normalize": pl.col("raw") != pl.col("text")}),
            },
        }
        refused = pl.concat(
            [
                rules.rejects(judged, max_length),
                rules.rejects(_vocabulary_reject_values(vocabulary), max_length),
            ]
        )
        with wh.transaction():
            terms = _register(wh, _term_rows(judged, vocabulary), ignore_spaces)
            progress.advance()
            kept = _canonical_ends(judged.filter(pl.col("rule").is_null()), terms)
            abbreviations = terms.filter(pl.col("kind") == "abbreviation")["term_id"]
            pairs, merged = dedupe.merge(kept, abbreviations)
            counts["rules"]["pairs"].update(merged)
            groups = _groups(terms, pairs)
            progress.advance()
            written = _write(wh, run.run_id, terms, pairs, groups, refused)
            progress.advance()
            broken = wh.run_checks("clean_")
            if broken:
                listed = ", ".join(f"{name} ({rows} rows)" for name, rows in broken.items())
                raise CheckFailed(
                    f"clean checks failed: {listed}; nothing was replaced — see the rows with "
                    f"`etl sql --file sql/checks/<name>.sql` after fixing the rule that let them through"
                )
            progress.advance()
        counts.update(written)
        run.counts.update(counts)
    return _summary(run)


def _vocabulary_reject_values(vocabulary: pl.DataFrame) -> pl.DataFrame:
    import polars as pl

    return vocabulary.with_columns(
        pl.col("text").alias("value"), pl.col("raw").alias("payload"), pl.lit(None, dtype=pl.String).alias("call_hash")
    )


def _term_rows(judged: pl.DataFrame, vocabulary: pl.DataFrame) -> pl.DataFrame:
    """Every text that passed the rules of its own side or line: text, origin, run_id, abbreviation."""
    import polars as pl

    origin = pl.when(pl.col("src") == "synth").then(pl.lit("synth")).otherwise(pl.col("origin")).alias("origin")
    side_a = judged.filter(pl.col("a_ok")).select(
        pl.col("form_a").alias("text"), origin, "run_id", pl.col("acronym_a").alias("abbreviation")
    )
    side_b = judged.filter(pl.col("b_ok")).select(
        pl.col("form_b").alias("text"),
        origin,
        "run_id",
        (pl.col("acronym_b") | (pl.col("label") == "abbreviation")).alias("abbreviation"),
    )
    listed = vocabulary.filter(pl.col("rule").is_null()).select(
        "text", "origin", "run_id", pl.col("text").str.contains(rules.ACRONYM).alias("abbreviation")
    )
    return pl.concat([side_a, side_b, listed])


def _register(wh: Warehouse, rows: pl.DataFrame, ignore_spaces: bool) -> pl.DataFrame:
    """One row per text with its stable term_id, norm, lang, origins, run range, kind and canonical id."""
    import polars as pl

    from etl import vocab

    grouped = (
        rows.group_by("text")
        .agg(
            pl.col("origin").unique().sort().alias("origins"),
            pl.col("run_id").min().alias("first_run_id"),
            pl.col("run_id").max().alias("last_run_id"),
            pl.col("abbreviation").any(),
        )
        .sort("text")
    )
    with wh.staged("wanted_terms", grouped.select("text")):
        wh.sql_file("register_term_ids").fetchall()
        ids = wh.frame("SELECT i.text, i.term_id FROM term_ids i SEMI JOIN wanted_terms w USING (text)")
    return (
        grouped.join(ids, on="text", how="left")
        .join(vocab.describe(grouped["text"], ignore_spaces), on="text", how="left")
        .with_columns(
            pl.when(pl.col("abbreviation")).then(pl.lit("abbreviation")).otherwise(pl.lit("term")).alias("kind"),
            # Texts sharing a comparison key (배치 정규화 / 배치정규화) are one term for pairing:
            # pairs use the oldest id among them, and the others join its group.
            pl.col("term_id").min().over("norm").alias("canonical_id"),
        )
        .select("term_id", "text", "norm", "lang", "origins", "first_run_id", "last_run_id", "kind", "canonical_id")
        .sort("term_id")
    )


def _canonical_ends(kept: pl.DataFrame, terms: pl.DataFrame) -> pl.DataFrame:
    """Kept candidates with `ca`/`cb`: the canonical term id of each side."""
    ids = terms.select("text", "canonical_id")
    return (
        kept.select("src", "entry", "label", "form_a", "form_b", "similarity", "origin", "run_id")
        .join(ids.rename({"text": "form_a", "canonical_id": "ca"}), on="form_a", how="left")
        .join(ids.rename({"text": "form_b", "canonical_id": "cb"}), on="form_b", how="left")
    )


def _groups(terms: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """term_id → group_id (smallest term_id of its component over pairs and same-key variants)."""
    import numpy as np
    import polars as pl

    variants = terms.filter(pl.col("term_id") != pl.col("canonical_id"))
    left = np.concatenate([pairs["term_a"].to_numpy(), variants["term_id"].to_numpy()]).astype(np.int64)
    right = np.concatenate([pairs["term_b"].to_numpy(), variants["canonical_id"].to_numpy()]).astype(np.int64)
    nodes = terms["term_id"].to_numpy().astype(np.int64)
    return pl.DataFrame({"term_id": nodes, "group_id": dedupe.components(nodes, left, right)})


def _write(
    wh: Warehouse,
    run_id: int,
    terms: pl.DataFrame,
    pairs: pl.DataFrame,
    groups: pl.DataFrame,
    refused: pl.DataFrame,
) -> dict[str, int]:
    """Replace the three tables and clean's rejects; returns row counts."""
    wh.execute("DELETE FROM terms")
    _insert(
        wh,
        terms.drop("canonical_id"),
        "INSERT INTO terms (term_id, text, norm, lang, origins, first_run_id, last_run_id, kind) "
        "SELECT term_id, text, norm, lang, origins, first_run_id, last_run_id, kind FROM staged",
    )
    staged_pairs = _lineage(wh, "clean_new_pairs", pairs, "clean_pairs_lineage", run_id)
    wh.execute("DELETE FROM synonym_pairs")
    _insert(
        wh,
        staged_pairs,
        "INSERT INTO synonym_pairs (term_a, term_b, similarity, origins, run_ids, run_id, kind) "
        "SELECT term_a, term_b, similarity, origins, run_ids, run_id, kind FROM staged",
    )
    staged_groups = _lineage(wh, "clean_new_groups", groups, "clean_groups_lineage", run_id)
    wh.execute("DELETE FROM synonym_groups")
    _insert(
        wh,
        staged_groups,
        "INSERT INTO synonym_groups (term_id, group_id, run_id) SELECT term_id, group_id, run_id FROM staged",
    )
    wh.execute("DELETE FROM rejects WHERE step = ?", [STEP])
    _insert(
        wh,
        refused,
        "INSERT INTO rejects (run_id, step, rule, reason, source, line, call_hash, payload) "
        "SELECT ?, ?, rule, reason, source, line, call_hash, "
        "CASE WHEN length(payload) > ? THEN left(payload, ?) || '…' ELSE payload END FROM staged",
        [run_id, STEP, PAYLOAD_CAP, PAYLOAD_CAP],
    )
    sizes = groups.group_by("group_id").len()
    return {
        "terms": terms.height,
        "pairs": pairs.height,
        "pairs_changed": int((staged_pairs["run_id"] == run_id).sum()),
        "groups": int((sizes["len"] > 1).sum()),
        "largest_group": int(sizes["len"].to_numpy().max(initial=0)),
        "rejects": refused.height,
    }


def _lineage(wh: Warehouse, name: str, frame: pl.DataFrame, sql: str, run_id: int) -> pl.DataFrame:
    with wh.staged(name, frame):
        return wh.frame(read_sql(sql), {"run_id": run_id})


def _insert(wh: Warehouse, frame: pl.DataFrame, statement: str, params: list[Any] | None = None) -> None:
    with wh.staged("staged", frame):
        wh.execute(statement, params)


def _summary(run: Run) -> StepResult:
    counts = run.counts
    sources = counts["sources"]
    # Pairs the judge promoted are named only when there are some (most warehouses have none).
    promoted = f"{sources['promoted_pairs']:,} promoted pairs (judge), " if sources["promoted_pairs"] else ""
    summary = StepResult.of(run, f"clean: run {run.run_id}").add(
        "sources",
        f"{sources['imported_pairs']:,} imported pairs, {sources['translation_forms']:,} translation forms, "
        f"{promoted}{sources['vocabulary_lines']:,} vocabulary lines",
    )
    for stream, per_rule in counts["rules"].items():
        for name, c in per_rule.items():
            effect = next((f"{c[k]:,} {k}" for k in ("rejected", "rewritten", "merged") if k in c), "")
            summary.add(f"{stream}: {name}", f"{c['in']:,} -> {c['out']:,}  ({effect})")
    return (
        summary.add("terms", counts["terms"])
        .add("synonym pairs", f"{counts['pairs']:,} ({counts['pairs_changed']:,} new or changed)")
        .add("synonym groups (2+ terms)", f"{counts['groups']:,} (largest {counts['largest_group']:,} terms)")
        .add("rejects (step clean)", counts["rejects"])
        .add("seconds", round(run.seconds, 2))
    )
