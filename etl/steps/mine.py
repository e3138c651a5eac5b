"""`etl mine`: negatives per anchor by cosine band, and the (anchor, positive, negative) triplets.

Write mode: replace. `negatives` and `triplets` are rebuilt in one transaction, with the
train/validation split already applied (see etl/steps/split.py), so a failed run leaves the previous
result untouched and two runs over the same warehouse and settings land identical rows. Anchors
that end with no negative get a `rejects` row (rule `no_negative`) instead of vanishing.

Per anchor: candidates are the `mine_top_k` nearest terms (exact matrix product or the usearch
index) for the medium and hard bands, plus seeded random draws over the vocabulary for the easy
band (easy terms are far from the anchor, so outside any top-k). The anchor itself, its synonym
group and every term whose norm equals the anchor's or a positive's are never candidates. Every
candidate is rescored with an exact float32 cosine; its band is decided on that value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from etl import report
from etl.config import Settings
from etl.errors import CheckFailed, EtlError
from etl.steps import mine_data, mine_sample, mine_search, split
from etl.steps.mine_sample import BAND_NAMES, Bands, Picks
from etl.warehouse import Warehouse

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from etl.steps.mine_data import MineInputs
    from etl.steps.mine_search import Searcher

SAMPLE_DRAWS = 32  # random vocabulary rows scored per anchor, the pool for easy negatives
SHORTLIST_MARGIN = 16  # extra search results, so near-ties at rank k are settled on exact scores
ANN_CHUNK = 1024  # anchors per index search batch
CALIBRATION_ANCHORS = 8192
CALIBRATION_DRAWS = 64


@dataclass(frozen=True)
class Plan:
    """Everything that decides the result of a mining run, as resolved for one model."""

    model: str
    search: str
    top_k: int
    negatives: int
    ratios: tuple[float, ...]
    seed: int
    bands: Bands
    max_neg_ratio: float
    calibrated: bool
    percentiles: tuple[float, ...]

    def config(self) -> dict[str, Any]:
        """JSON-ready description (the bands as the cosines actually used)."""
        out = {k: v for k, v in asdict(self).items() if k != "bands"}
        out["bands"] = self.bands.as_dict()
        return out


@dataclass
class Mined:
    """What mining produced, before it is written."""

    picks: Picks
    quota: "np.ndarray"  # int64[m, 3] negatives asked per anchor and band
    eligible: "np.ndarray"  # int64[m] in-band candidates left per anchor after exclusions and cap
    search_candidates: int
    sample_candidates: int


def run(wh: Warehouse, settings: Settings, model: str | None = None, index: Any = None) -> report.Summary:
    """Mine negatives and triplets for one embedding model; `index` overrides the index step's usearch index."""
    import numpy as np
    import polars as pl

    model = mine_data.choose_model(wh, model)
    params = {key: getattr(settings, key) for key in _PARAMS} | {"model": model}
    with wh.run("mine", params) as run:
        broken = wh.run_checks("mine_input_")
        if broken:
            raise CheckFailed(
                f"mining inputs break {', '.join(f'{name} ({n} rows)' for name, n in broken.items())}; "
                "every synonym pair needs both terms in one synonym group: run `etl clean`"
            )
        inputs = mine_data.load(wh, model)
        if len(inputs.anchors) == 0:
            raise EtlError(f"no synonym pair has vectors of model {model!r} on both sides; run `etl clean` and `etl embed`")
        plan = make_plan(inputs, settings, model)
        searcher = _searcher(wh, settings, inputs, plan, index)
        mined = mine(inputs, plan, searcher)
        negatives, triplets, skipped = frames(inputs, mined, plan)
        is_train = split.assign(triplets, settings.split_by, settings.split_train_ratio, plan.seed)
        triplets = triplets.with_columns(pl.Series("split", np.where(is_train, "train", "validation")))
        with wh.transaction():
            _write(wh, run.run_id, negatives, triplets, skipped)
            split.check(wh, settings.split_by)
        run.counts.update(_counts(inputs, mined, plan, negatives, triplets, skipped))
        run.counts["split"] = split.describe(triplets, settings.split_by, settings.split_train_ratio)
    return _summary(run.counts, run.seconds)


_PARAMS = (
    "mine_easy", "mine_medium", "mine_hard", "mine_ratios", "mine_negatives", "mine_search", "mine_top_k",
    "mine_max_neg_ratio", "mine_calibrate", "mine_percentiles", "seed", "split_by", "split_train_ratio",
)  # fmt: skip


def make_plan(inputs: "MineInputs", settings: Settings, model: str) -> Plan:
    """Resolve the search mode and the bands (fixed cosines, or percentiles of this model's scores)."""
    if settings.mine_calibrate:
        bands = calibrate(inputs, settings.mine_percentiles, settings.seed)
    else:
        bands = Bands.of(settings.mine_easy, settings.mine_medium, settings.mine_hard)
    search = settings.mine_search
    if search == "auto":
        search = mine_search.resolve(search, len(inputs.ids))
        if search == "ann" and not mine_search.ann_available():
            search = "exact"  # the index step is not installed: slower, same answer
    return Plan(
        model=model,
        search=search,
        top_k=settings.mine_top_k,
        negatives=settings.mine_negatives,
        ratios=tuple(settings.mine_ratios),
        seed=settings.seed,
        bands=bands,
        max_neg_ratio=settings.mine_max_neg_ratio,
        calibrated=settings.mine_calibrate,
        percentiles=tuple(settings.mine_percentiles),
    )


def calibrate(inputs: "MineInputs", percentiles: tuple[float, ...], seed: int) -> Bands:
    """Bands at percentiles of anchor-to-random-term cosines for this model (seeded, exact scores)."""
    import numpy as np

    order = np.argsort(mine_sample.keyed(seed, mine_sample.STREAM_CALIBRATE, inputs.anchor_ids), kind="stable")
    chosen = inputs.anchors[order[:CALIBRATION_ANCHORS]]
    draws = mine_sample.random_rows(seed + 1, inputs.ids[chosen], len(inputs.ids), CALIBRATION_DRAWS)
    rows_a = np.repeat(chosen, CALIBRATION_DRAWS)
    rows_b = draws.ravel()
    keep = rows_a != rows_b
    sims = mine_search.exact_cosine(inputs.vecs, rows_a[keep], rows_b[keep])
    edges = np.quantile(sims.astype(np.float64), percentiles).astype(np.float32)
    return Bands(np.stack([edges[:-1], edges[1:]], axis=1))


def _searcher(wh: Warehouse, settings: Settings, inputs: "MineInputs", plan: Plan, index: Any) -> "Searcher":
    floor = plan.bands.search_floor
    if plan.search == "exact":
        return mine_search.exact_searcher(inputs.vecs, floor)
    if index is None:
        index = mine_search.open_index(wh, settings, plan.model)
    return mine_search.ann_searcher(index, inputs.ids, inputs.vecs, floor)


def mine(inputs: "MineInputs", plan: Plan, searcher: "Searcher") -> Mined:
    """Pick every anchor's negatives, chunk by chunk (results do not depend on the chunking)."""
    import numpy as np

    m = len(inputs.anchors)
    quota = mine_sample.quotas(plan.seed, inputs.anchor_ids, plan.negatives, plan.ratios)
    cap = None
    if plan.max_neg_ratio > 0:
        pos_sim = mine_search.exact_cosine(inputs.vecs, inputs.anchors[inputs.pair_anchor()], inputs.pos_rows)
        # Per anchor, against its least similar positive: then every triplet it makes obeys the cap.
        cap = np.float32(plan.max_neg_ratio) * np.minimum.reduceat(pos_sim, inputs.pos_ptr[:-1])
    bound = inputs.exclusion_bound()
    chunk = mine_search.exact_chunk_size(len(inputs.ids)) if plan.search == "exact" else ANN_CHUNK
    parts: list[Picks] = []
    eligible = np.zeros(m, dtype=np.int64)
    found = {"search": 0, "sample": 0}
    with report.Progress("mining", m) as progress:
        for start in range(0, m, chunk):
            anchors = np.arange(start, min(start + chunk, m), dtype=np.int64)
            count = plan.top_k + SHORTLIST_MARGIN + int(bound[anchors].max())
            anchor, rows, sims, sampled = _candidates(inputs, plan, searcher, anchors, count, cap)
            in_band = plan.bands.classify(sims) >= 0
            eligible += np.bincount(anchor[in_band], minlength=m)
            found["search"] += int((~sampled).sum())
            found["sample"] += int(sampled.sum())
            parts.append(
                mine_sample.pick(
                    anchor, rows, sims, sampled, anchor_ids=inputs.anchor_ids, row_ids=inputs.ids,
                    quota=quota, n=plan.negatives, bands=plan.bands, seed=plan.seed,
                )  # fmt: skip
            )
            progress.advance(len(anchors))
    return Mined(Picks.concat(parts), quota, eligible, found["search"], found["sample"])


def _candidates(
    inputs: "MineInputs", plan: Plan, searcher: "Searcher", anchors: "np.ndarray", count: int, cap: "np.ndarray | None"
) -> tuple["np.ndarray", "np.ndarray", "np.ndarray", "np.ndarray"]:
    """Eligible (anchor, row, exact cosine, sampled?) candidates of a chunk, one per (anchor, row)."""
    import numpy as np

    n = len(inputs.ids)
    query = inputs.anchors[anchors]
    found = searcher(query, count)
    drawn = mine_sample.random_rows(plan.seed, inputs.ids[query], n, SAMPLE_DRAWS)
    width = found.shape[1] + SAMPLE_DRAWS
    rows = np.concatenate([found, drawn], axis=1).ravel()
    anchor = np.repeat(anchors, width)
    sampled = np.tile(np.arange(width) >= found.shape[1], len(anchors))
    keep = rows >= 0
    anchor, rows, sampled = anchor[keep], rows[keep], sampled[keep]
    keep = ~inputs.excluded(anchor, rows)
    anchor, rows, sampled = anchor[keep], rows[keep], sampled[keep]
    sims = mine_search.exact_cosine(inputs.vecs, inputs.anchors[anchor], rows)
    keep = np.ones(len(rows), dtype=bool) if cap is None else sims <= cap[anchor]
    # The search side: the top_k nearest remaining terms at or above the floor, on exact scores.
    searched = np.flatnonzero(keep & ~sampled)
    order = searched[np.lexsort((rows[searched], -sims[searched], anchor[searched]))]
    keep[order] = mine_sample.rank_within(anchor[order]) < plan.top_k
    keep[searched] &= sims[searched] >= np.float32(plan.bands.search_floor)
    anchor, rows, sims, sampled = anchor[keep], rows[keep], sims[keep], sampled[keep]
    # One entry per (anchor, row); the searched copy wins over a sampled duplicate.
    order = np.lexsort((sampled, rows, anchor))
    first = np.ones(len(order), dtype=bool)
    key = anchor[order] * n + rows[order]
    first[1:] = key[1:] != key[:-1]
    take = order[first]
    return anchor[take], rows[take], sims[take], sampled[take]


def frames(inputs: "MineInputs", mined: Mined, plan: Plan) -> tuple["pl.DataFrame", "pl.DataFrame", "pl.DataFrame"]:
    """The negatives, the triplets (ids; texts are joined in SQL) and the anchors left without negatives."""
    import numpy as np
    import polars as pl

    p = mined.picks
    names = np.array(BAND_NAMES)
    anchor_rows = inputs.anchors[p.anchor]
    negatives = pl.DataFrame(
        {
            "anchor_id": inputs.ids[anchor_rows],
            "negative_id": inputs.ids[p.row],
            "similarity": p.sim,
            "band": names[p.band],
            "filled": p.filled,
            "source": np.where(p.sampled, "sample", "search"),
        }
    )
    per = inputs.positive_counts()[p.anchor]
    pick = np.repeat(np.arange(len(p.row)), per)
    first = np.repeat(inputs.pos_ptr[p.anchor], per)
    offset = np.arange(len(pick)) - np.repeat(np.cumsum(per) - per, per)
    group = inputs.group[anchor_rows[pick]]
    triplets = pl.DataFrame(
        {
            "anchor_id": inputs.ids[anchor_rows[pick]],
            "positive_id": inputs.ids[inputs.pos_rows[first + offset]],
            "negative_id": inputs.ids[p.row[pick]],
            "negative_similarity": p.sim[pick],
            "difficulty": names[p.band[pick]],
            "group_id": group,
        }
    )
    got = np.bincount(p.anchor, minlength=len(inputs.anchors))
    lonely = np.flatnonzero(got == 0)
    skipped = pl.DataFrame(
        {
            "anchor_id": inputs.anchor_ids[lonely],
            "positives": inputs.positive_counts()[lonely],
            "eligible": mined.eligible[lonely],
        }
    )
    return negatives, triplets, skipped


def _write(wh: Warehouse, run_id: int, negatives: "pl.DataFrame", triplets: "pl.DataFrame", skipped: "pl.DataFrame") -> None:
    """Replace negatives and triplets; record skipped anchors in rejects. Call inside a transaction."""
    wh.execute("DELETE FROM negatives")
    wh.execute("DELETE FROM triplets")
    for name, frame, sql in (
        ("mined_negatives", negatives, "mine_insert_negatives"),
        ("mined_triplets", triplets, "mine_insert_triplets"),
        ("mined_skipped", skipped, "mine_insert_skipped"),
    ):
        wh.con.register(name, frame)
        try:
            wh.sql_file(sql, {"run_id": run_id}).fetchall()
        finally:
            wh.con.unregister(name)
    landed = wh.scalar("SELECT count(*) FROM triplets")
    if landed != triplets.height:
        raise EtlError(f"landed {landed:,} of {triplets.height:,} triplets (a term lost its text); run `etl clean` and retry")
    broken = wh.run_checks("mine_output_")
    if broken:
        raise CheckFailed(f"mined rows break {', '.join(f'{k} ({v} rows)' for k, v in broken.items())}; this is a bug, please report it")


def _counts(
    inputs: "MineInputs", mined: Mined, plan: Plan, negatives: "pl.DataFrame", triplets: "pl.DataFrame", skipped: "pl.DataFrame"
) -> dict[str, Any]:
    import numpy as np

    p = mined.picks
    per_anchor = np.bincount(p.anchor, minlength=len(inputs.anchors))
    positives = inputs.positive_counts()
    quota = mined.quota.sum(axis=0)
    bands = {}
    for code, name in enumerate(BAND_NAMES):
        by_quota = int(((p.band == code) & ~p.filled).sum())
        bands[name] = {
            "quota": int(quota[code]),
            "by_quota": by_quota,
            "by_fill": int(((p.band == code) & p.filled).sum()),
            "fill_rate": round(by_quota / quota[code], 4) if quota[code] else None,
        }
    return {
        **inputs.counts,
        "config": plan.config(),
        "search": plan.search,
        "terms": int(len(inputs.ids)),
        "dim": int(inputs.vecs.shape[1]),
        "anchors": int(len(inputs.anchors)),
        "anchors_with_negatives": int((per_anchor > 0).sum()),
        "anchors_short": int(((per_anchor > 0) & (per_anchor < plan.negatives)).sum()),
        "skipped_anchors": int(skipped.height),
        "negatives": int(negatives.height),
        "triplets": int(triplets.height),
        "candidates": {"search": mined.search_candidates, "sample": mined.sample_candidates},
        "bands": bands,
        "positives_per_anchor": {
            "mean": round(float(positives.mean()), 4),
            "min": int(positives.min()),
            "median": float(np.median(positives)),
            "max": int(positives.max()),
        },
    }


def _summary(counts: dict[str, Any], seconds: float) -> report.Summary:
    split_info = counts["split"]
    summary = report.Summary(f"mine: {counts['triplets']:,} triplets from {counts['anchors']:,} anchors in {seconds:.1f}s")
    summary.add("model", f"{counts['config']['model']} ({counts['terms']:,} terms x {counts['dim']})")
    summary.add("search", f"{counts['search']} (top {counts['config']['top_k']})")
    bands = counts["config"]["bands"]
    summary.add("bands", "  ".join(f"{name} [{lo:g}, {hi:g})" for name, (lo, hi) in bands.items()))
    summary.add("negatives", counts["negatives"])
    for name, band in counts["bands"].items():
        rate = "-" if band["fill_rate"] is None else f"{band['fill_rate']:.0%}"
        summary.add(f"  {name}", f"{band['by_quota'] + band['by_fill']:,} (quota {band['quota']:,} met {rate}, fill {band['by_fill']:,})")
    pos = counts["positives_per_anchor"]
    summary.add("positives/anchor", f"mean {pos['mean']:.2f}  min {pos['min']}  median {pos['median']:g}  max {pos['max']}")
    summary.add("short anchors", counts["anchors_short"])
    summary.add("skipped anchors", f"{counts['skipped_anchors']:,} (see rejects, rule no_negative)")
    summary.add("split", f"{split_info['by']}: train {split_info['train']:,} / validation {split_info['validation']:,} "
                f"(train ratio {split_info['train_ratio']:.3f})")  # fmt: skip
    return summary
