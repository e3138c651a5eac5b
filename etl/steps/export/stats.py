"""The content of an export's data_preparation_stats.json, counted from the warehouse.

Config (bands, ratios, split, model, search), dataset counts (per split, anchors and groups on each
side), the difficulty distribution, band fill rates, the negatives' language pairs, skipped anchors and positives
per anchor: read from `triplets`, `negatives`, `rejects` and the mine and split runs' records in `runs`; the newest
downstream probe of these very triplets from `probe_results` (None when none ran on them), and what
the LLM judge found (`negative_judgements`; None when it never ran). Reads only;
triplets.py writes the file (and adds the `layouts` entry when more than the default is exported).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from etl.negatives import BAND_NAMES, judgements, landed_pairs, pair_shares
from etl.warehouse import Warehouse

if TYPE_CHECKING:
    import pyarrow as pa


def build_stats(wh: Warehouse, mine_run: dict[str, Any], table: pa.Table) -> dict[str, Any]:
    """The stats file's content, counted from the tables (and the mine run's recorded config)."""
    split_params = _split_params(wh, mine_run)
    difficulty = dict(wh.execute("SELECT difficulty, count(*) FROM triplets GROUP BY ALL ORDER BY ALL").fetchall())
    per_split: dict[str, dict[str, int]] = {}
    for split, diff, n in wh.execute(
        "SELECT split, difficulty, count(*) FROM triplets GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        per_split.setdefault(split, {})[diff] = n
    skipped = [
        r[0]
        for r in wh.execute(
            "SELECT source FROM rejects WHERE run_id = ? AND rule = 'no_negative' ORDER BY source", [mine_run["run_id"]]
        ).fetchall()
    ]
    return {
        "config": _config(mine_run["config"], split_params),
        "dataset": _dataset(wh, mine_run, table, len(skipped)),
        "difficulty_distribution": difficulty,
        "difficulty_distribution_by_split": per_split,
        "band_fill": _band_fill(wh, mine_run),
        "language_pairs": _language_pairs(wh),
        "search": {key: mine_run[key] for key in ("search_reason", "escalated", "found") if key in mine_run},
        "variant_exclusion": mine_run.get("variants"),  # None: mined before variant keys existed
        "warnings": mine_run.get("warnings", []),
        "positives_per_anchor": mine_run["positives_per_anchor"],
        "skipped_anchor_list": skipped,
        "probe": probe_figures(wh, mine_run["run_id"]),
        "judge": judgements(wh),  # None: no negative was judged
        "lineage": {"mine_run_id": mine_run["run_id"], "split_run_id": split_params.get("run_id")},
    }


def probe_figures(wh: Warehouse, mine_run_id: int) -> dict[str, Any] | None:
    """The newest probe that ran on these triplets (their mine run and latest split), or None.

    Figures per arm and pool, the probe's settings, and the MRR@10 lift of the mined negatives
    over the untrained model and over random negatives, per pool.
    """
    rows = wh.sql_file("probe_latest", {"mine_run_id": mine_run_id}).fetchall()
    if not rows:
        return None
    run_id, params, counts = rows[0][0], json.loads(rows[0][1] or "{}"), json.loads(rows[0][2] or "{}")
    arms: dict[str, dict[str, dict[str, float]]] = {
        arm: {"target": {}, "mixed": {}} for arm in ("untrained", "mined", "random")
    }
    for *_, arm, pool, metric, value in rows:
        arms.setdefault(arm, {"target": {}, "mixed": {}})[pool][metric] = round(float(value), 4)
    # `unjudged` (the judged-out negatives put back) is an arm only where the judge removed some.
    lift = {
        f"over_{base}": {
            pool: round(arms["mined"][pool]["mrr@10"] - arms[base][pool]["mrr@10"], 4) for pool in arms[base]
        }
        for base in ("untrained", "random", "unjudged")
        if base in arms
    }
    return {
        "run_id": run_id,
        "loss": params.get("probe_loss"),
        "epochs": params.get("probe_epochs"),
        "seed": params.get("seed"),
        "train_triplets": counts.get("trained_on"),
        "validation_anchors": counts.get("anchors_scored"),
        "arms": arms,
        "mrr@10_lift_of_mined": lift,
    }


def _config(config: dict[str, Any], split_params: dict[str, Any]) -> dict[str, Any]:
    """The settings the triplets were mined and split with, as the mine and split runs recorded them."""
    bands = config["bands"]
    ratios = config["ratios"]
    return {
        "easy_range": bands["easy"],
        "medium_range": bands["medium"],
        "hard_range": bands["hard"],
        "easy_ratio": ratios[0],
        "medium_ratio": ratios[1],
        "hard_ratio": ratios[2],
        "negatives_per_anchor": config["negatives"],
        "train_ratio": split_params["split_train_ratio"],
        "val_ratio": round(1.0 - split_params["split_train_ratio"], 10),
        "split_by": split_params["split_by"],
        "model": config["model"],
        "search": config["search"],
        "top_k": config["top_k"],
        "seed": config["seed"],
        "max_neg_ratio": config["max_neg_ratio"] or None,
        "calibrated": config["calibrated"],
        "percentiles": config["percentiles"] if config["calibrated"] else None,
        "variants": config.get("variants"),
        "language": config.get("language", "any"),  # runs from before mine_language mined as `any`
        "language_mix": config.get("language_mix") if config.get("language") == "mix" else None,
        "pool_bands": config.get("pool_bands"),
    }


def _language_pairs(wh: Warehouse) -> dict[str, Any]:
    """Negatives per band and language pair (anchor's → negative's), as counts and as shares of the band."""
    counts = landed_pairs(wh)
    return {"negatives": counts, "shares": pair_shares(counts)}


def _dataset(wh: Warehouse, mine_run: dict[str, Any], table: pa.Table, skipped: int) -> dict[str, Any]:
    """Rows, anchors and synonym groups per split, and how many of them are on both sides."""
    by_split = dict(wh.execute("SELECT split, count(*) FROM triplets GROUP BY split").fetchall())
    sides = {
        r[0]: r[1:]
        for r in wh.execute(
            "SELECT split, count(DISTINCT anchor_id), count(DISTINCT group_id) FROM triplets GROUP BY split"
        ).fetchall()
    }
    anchors_both, groups_both = wh.sql_file("export_both_sides").fetchall()[0]
    total = table.num_rows
    train = by_split.get("train", 0)
    return {
        "total_triplets": total,
        "train_triplets": train,
        "val_triplets": by_split.get("validation", 0),
        "achieved_train_ratio": round(train / total, 4) if total else None,
        "unique_anchors": mine_run["anchors"],
        "anchors_with_triplets": wh.scalar("SELECT count(DISTINCT anchor_id) FROM triplets"),
        "skipped_anchors": skipped,
        "short_anchors": mine_run["anchors_short"],
        "negatives": wh.scalar("SELECT count(*) FROM negatives"),
        "train_anchors": sides.get("train", (0, 0))[0],
        "val_anchors": sides.get("validation", (0, 0))[0],
        "train_groups": sides.get("train", (0, 0))[1],
        "val_groups": sides.get("validation", (0, 0))[1],
        "anchors_on_both_sides": anchors_both,
        "groups_on_both_sides": groups_both,
    }


def _band_fill(wh: Warehouse, mine_run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per band: its quota, the negatives that met it, those taken as fill, and what the band held."""
    fills = {}
    for band in BAND_NAMES:
        asked = mine_run["bands"][band]
        by_quota, by_fill = wh.execute(
            "SELECT count(*) FILTER (WHERE NOT filled), count(*) FILTER (WHERE filled) FROM negatives WHERE band = ?",
            [band],
        ).fetchall()[0]
        quota = asked["quota"]
        fills[band] = {
            "quota": quota,
            "by_quota": by_quota,
            "by_fill": by_fill,
            "fill_rate": round(by_quota / quota, 4) if quota else None,
        }
        # What the band held, as the mine run counted it (absent from runs that did not record it).
        for key in ("population", "population_estimated", "anchors_empty", "anchors_short"):
            if key in asked:
                fills[band][key] = asked[key]
    return fills


def _split_params(wh: Warehouse, mine_run: dict[str, Any]) -> dict[str, Any]:
    """The split settings in force: a later `etl split` run's, else the mine run's."""
    row = wh.execute(
        "SELECT run_id, params FROM runs WHERE step = 'split' AND status = 'ok' AND run_id > ? ORDER BY run_id DESC LIMIT 1",
        [mine_run["run_id"]],
    ).fetchall()
    if row:
        return {"run_id": row[0][0], **json.loads(row[0][1])}
    return {"run_id": None, **{k: mine_run["params"][k] for k in ("split_by", "split_train_ratio")}}


def changed_since(wh: Warehouse, mined_by: int) -> list[str]:
    """Runs that changed the mined inputs (imports, synthesis, clean, embed) after mine run `mined_by`."""
    rows = wh.execute(
        "SELECT step, run_id FROM runs WHERE status = 'ok' AND run_id > ? "
        "AND (step IN ('clean', 'embed') OR step LIKE 'import.%' OR step LIKE 'synth.%') ORDER BY run_id",
        [mined_by],
    ).fetchall()
    return [f"{step} run {run_id}" for step, run_id in rows]
