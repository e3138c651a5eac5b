"""`etl mine`: negatives per anchor by cosine band, and the (anchor, positive, negative) triplets.

Write mode: replace. `negatives` and `triplets` are rebuilt in one transaction, with the
train/validation split already applied (see etl/steps/split.py), so a failed run leaves the previous
result untouched and two runs over the same warehouse and settings land identical rows. Anchors
that end with no negative get a `rejects` row (rule `no_negative`) instead of vanishing.

The contract, per anchor and band: the population is every vocabulary term whose exact float32
cosine lies in the band, less the anchor, its synonym group, every term spelled like one of them and,
with --max-neg-ratio, every term over the cap. The band's picks are a seeded uniform sample of its
population: its members that come first in the anchor's own permutation of the vocabulary. A band
with fewer members than its quota is filled from the others' remaining members, again in permutation
order. `exact` computes this directly (etl/steps/mine/search.py); `ann` uses the index where it can
show that it covers a band and falls back to the exact scan, per anchor, where it cannot.

`run` is `prepare` (checks, inputs) → `make_plan` → `mine` → `land` (frames, split, one transaction).
An anchor's picks never depend on the anchors mined beside it, so `mine` also takes any subset of
them: etl/steps/mine/shards.py (`--shard`, `--merge`) and etl/steps/mine/on_ray.py (`--ray`) mine the
anchors in shards and land the combined result through `land`, the same rows as one `run`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from etl import output
from etl.config import Settings
from etl.errors import CheckFailed, EtlError
from etl.steps import split
from etl.steps.mine import ann
from etl.steps.mine import data as mine_data
from etl.steps.mine import sample as mine_sample
from etl.steps.mine import search as mine_search
from etl.steps.mine.sample import BAND_NAMES, SOURCES, Bands, Members, Permutation, Picks
from etl.warehouse import Run, Warehouse

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from etl.steps.mine.data import MineInputs

ANN_CHUNK = 1024  # anchors per index search batch
CALIBRATION_ANCHORS = 8192
CALIBRATION_DRAWS = 64
EMPTY_WARNING = 0.5  # warn when a band with a quota is empty for more than this share of anchors


class _Clock:
    """Seconds spent per phase of the run (recorded in its counts)."""

    def __init__(self) -> None:
        import time

        self.laps: dict[str, float] = {}
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        import time

        now = time.perf_counter()
        self.laps[name] = round(now - self.last, 3)
        self.last = now


class NoTriplets(EtlError):
    """Mining ran but no anchor got a single negative."""


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
    why: str = field(default="", compare=False)  # how the search mode was chosen

    def config(self) -> dict[str, Any]:
        """JSON-ready description (the bands as the cosines actually used)."""
        out = {k: v for k, v in asdict(self).items() if k not in ("bands", "why")}
        out["bands"] = self.bands.as_dict()
        return out


@dataclass
class Mined:
    """What mining produced, before it is written."""

    picks: Picks
    quota: np.ndarray  # int64[m, 3] negatives asked per anchor and band
    population: np.ndarray  # int64[m, 3] band members per anchor (estimated where `estimated`)
    estimated: np.ndarray  # bool[m, 3]
    escalated: int = 0  # anchors the ANN path completed with the exact scan
    lost: int = 0  # of those, anchors the index search did not find (its own vector missing)
    escalated_by_band: dict[str, int] = field(default_factory=dict)
    found: dict[str, int] = field(default_factory=dict)  # members found, by how


def run(wh: Warehouse, settings: Settings, model: str | None = None, index: Any = None) -> output.Summary:
    """Mine negatives and triplets for one embedding model; `index` overrides the index step's usearch index."""
    model = mine_data.choose_model(wh, model)
    with wh.run("mine", params(settings, model)) as run:
        clock = _Clock()
        inputs = prepare(wh, model)
        clock.lap("load")
        plan = make_plan(wh, settings, inputs, model, index)
        if plan.search == "ann" and index is None:
            index = ann.open_index(wh, settings, plan.model)
        clock.lap("plan")
        mined = mine(inputs, plan, index)
        clock.lap("search")
        land(wh, run, settings, inputs, plan, mined, clock)
    return summary(run.counts, run.seconds)


def params(settings: Settings, model: str) -> dict[str, Any]:
    """The settings a mine run records (and that decide its result), with the model."""
    return {key: getattr(settings, key) for key in _PARAMS} | {"model": model}


def prepare(wh: Warehouse, model: str) -> MineInputs:
    """Check the inputs' rules and load them; refuses a model without any anchor."""
    broken = wh.run_checks("mine_input_")
    if broken:
        raise CheckFailed(
            f"mining inputs break {', '.join(f'{name} ({n} rows)' for name, n in broken.items())}; "
            "every synonym pair needs both terms in one synonym group: run `etl clean`"
        )
    inputs = mine_data.load(wh, model)
    if len(inputs.anchors) == 0:
        raise EtlError(f"no synonym pair has vectors of model {model!r} on both sides; run `etl clean` and `etl embed`")
    return inputs


def land(
    wh: Warehouse, run: Run, settings: Settings, inputs: MineInputs, plan: Plan, mined: Mined, clock: _Clock
) -> None:
    """Build the frames, split the triplets and replace the mined tables in one transaction; fills run.counts."""
    import numpy as np
    import polars as pl

    negatives, triplets, skipped = frames(inputs, mined, plan)
    bands = anchor_bands(inputs, mined)
    if triplets.height == 0:
        raise NoTriplets(_no_triplets(inputs, plan))
    is_train = split.assign(triplets, settings.split_by, settings.split_train_ratio, plan.seed)
    triplets = triplets.with_columns(pl.Series("split", np.where(is_train, "train", "validation")))
    with wh.transaction():
        _write(wh, run.run_id, {"negatives": negatives, "triplets": triplets, "skipped": skipped,
                                "anchor_bands": bands})  # fmt: skip
        split.check(wh, settings.split_by)
    clock.lap("write")
    run.counts.update(_counts(inputs, mined, plan, negatives, triplets, skipped))
    run.counts["split"] = split.describe(triplets, settings.split_by, settings.split_train_ratio)
    run.counts["seconds"] = {**run.counts.get("seconds", {}), **clock.laps}


_PARAMS = (
    "mine_easy", "mine_medium", "mine_hard", "mine_ratios", "mine_negatives", "mine_search", "mine_top_k",
    "mine_max_neg_ratio", "mine_calibrate", "mine_percentiles", "seed", "split_by", "split_train_ratio",
)  # fmt: skip


def make_plan(wh: Warehouse | None, settings: Settings, inputs: MineInputs, model: str, index: Any = None) -> Plan:
    """Resolve the bands (fixed cosines, or percentiles of this model's scores) and the search mode."""
    if settings.mine_calibrate:
        bands = calibrate(inputs, settings.mine_percentiles, settings.seed)
    else:
        bands = Bands.of(settings.mine_easy, settings.mine_medium, settings.mine_hard)
    plan = Plan(
        model=model,
        search=settings.mine_search,
        top_k=settings.mine_top_k,
        negatives=settings.mine_negatives,
        ratios=tuple(settings.mine_ratios),
        seed=settings.seed,
        bands=bands,
        max_neg_ratio=settings.mine_max_neg_ratio,
        calibrated=settings.mine_calibrate,
        percentiles=tuple(settings.mine_percentiles),
        why="asked for",
    )
    if plan.search != "auto":
        return plan
    from etl.steps.mine import cost as mine_cost

    search, why = mine_cost.choose(wh, settings, context(inputs, plan), index)
    return Plan(**{**{k: getattr(plan, k) for k in plan.__dataclass_fields__}, "search": search, "why": why})


def context(inputs: MineInputs, plan: Plan) -> mine_search.Context:
    """What every chunk of the run shares: the bands, the permutation and the cap."""
    import numpy as np

    cap = None
    if plan.max_neg_ratio > 0:
        pos_sim = mine_search.exact_cosine(inputs.vecs, inputs.anchors[inputs.pair_anchor()], inputs.pos_rows)
        # Per anchor, against its least similar positive: then every triplet it makes obeys the cap.
        cap = np.float32(plan.max_neg_ratio) * np.minimum.reduceat(pos_sim, inputs.pos_ptr[:-1])
    perm = Permutation(plan.seed, len(inputs.ids))
    return mine_search.Context(inputs, plan.bands, plan.negatives, perm, cap, plan.top_k)


def calibrate(inputs: MineInputs, percentiles: tuple[float, ...], seed: int) -> Bands:
    """Bands at percentiles of anchor-to-random-term cosines for this model (seeded, exact scores)."""
    import numpy as np

    sims = sample_cosines(inputs, seed)
    edges = np.quantile(sims.astype(np.float64), percentiles).astype(np.float32)
    return Bands(np.stack([edges[:-1], edges[1:]], axis=1))


def sample_cosines(inputs: MineInputs, seed: int) -> np.ndarray:
    """Exact cosines of up to CALIBRATION_ANCHORS anchors to CALIBRATION_DRAWS random other terms each."""
    import numpy as np

    order = np.argsort(mine_sample.keyed(seed, mine_sample.STREAM_CALIBRATE, inputs.anchor_ids), kind="stable")
    chosen = order[:CALIBRATION_ANCHORS]
    perm = Permutation(seed + 1, len(inputs.ids))
    draws = min(CALIBRATION_DRAWS, len(inputs.ids))
    which = np.repeat(np.arange(len(chosen)), draws)
    rows_b = perm.forward(perm.round_keys(inputs.anchor_ids[chosen]), which, np.tile(np.arange(draws), len(chosen)))
    rows_a = inputs.anchors[chosen][which]
    keep = rows_a != rows_b
    return mine_search.exact_cosine(inputs.vecs, rows_a[keep], rows_b[keep])


def mine(
    inputs: MineInputs, plan: Plan, index: Any = None, subset: np.ndarray | None = None, workers: int | None = None
) -> Mined:
    """Pick the negatives of every anchor (or of the anchor indices `subset`), chunk by chunk.

    The result does not depend on the chunking, nor on which other anchors are mined alongside: a
    shard of the anchors gets exactly the rows a whole run gives those anchors (etl/steps/mine/shards.py).
    Arrays stay sized for every anchor; rows outside `subset` are left at zero.
    """
    import numpy as np

    ctx = context(inputs, plan)
    if workers is not None:
        ctx.workers = workers
    m = len(inputs.anchors)
    which = np.arange(m, dtype=np.int64) if subset is None else np.asarray(subset, dtype=np.int64)
    quota = mine_sample.quotas(plan.seed, inputs.anchor_ids, plan.negatives, plan.ratios)
    chunk = mine_search.exact_chunk_size(len(inputs.ids)) if plan.search == "exact" else ANN_CHUNK
    parts: list[Members] = []
    population = np.zeros((m, 3), dtype=np.int64)
    estimated = np.zeros((m, 3), dtype=bool)
    escalated, lost, by_band = 0, 0, np.zeros(3, dtype=np.int64)
    with output.Progress("mining", len(which)) as progress:
        for start in range(0, len(which), chunk):
            anchors = which[start : start + chunk]
            found = mine_search.scan(ctx, anchors) if plan.search == "exact" else ann.search(ctx, index, anchors)
            parts.append(found.members)
            population[anchors] = found.population
            estimated[anchors] = found.estimated
            escalated += int(found.escalated.sum())
            by_band += found.escalated_by_band
            lost += found.lost
            progress.advance(len(anchors))
    members = Members.concat(parts)
    picks = mine_sample.pick(members, quota, plan.negatives)
    picks = canonical(picks)
    # Stored cosines are the exact ones; the search decided bands on them wherever an edge was close.
    picks.sim = mine_search.exact_cosine(inputs.vecs, inputs.anchors[picks.anchor], picks.row)
    if (plan.bands.classify(picks.sim) != picks.band).any():  # pragma: no cover - a broken slack, not bad input
        raise EtlError("a mined negative changed band on its exact cosine; this is a bug, please report it")
    found_by = {name: int((members.source == code).sum()) for code, name in enumerate(SOURCES)}
    return Mined(picks, quota, population, estimated, escalated, lost,
                 dict(zip(BAND_NAMES, (int(v) for v in by_band))), found_by)  # fmt: skip


def canonical(picks: Picks) -> Picks:
    """Picks ordered by (anchor, negative row): the order rows land in, whatever the chunks or shards were."""
    import numpy as np

    order = np.lexsort((picks.row, picks.anchor))
    return Picks(*(getattr(picks, f)[order] for f in ("anchor", "row", "sim", "band", "filled", "source")))


def frames(inputs: MineInputs, mined: Mined, plan: Plan) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
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
            "source": np.array(SOURCES)[p.source],
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
            "eligible": mined.population.sum(axis=1)[lonely],
        }
    )
    return negatives, triplets, skipped


def anchor_bands(inputs: MineInputs, mined: Mined) -> pl.DataFrame:
    """One row per (anchor, band): its population, whether estimated, its quota and its quota picks."""
    import numpy as np
    import polars as pl

    m = len(inputs.anchors)
    p = mined.picks
    picked = np.zeros((m, 3), dtype=np.int64)
    np.add.at(picked, (p.anchor[~p.filled], p.band[~p.filled]), 1)
    return pl.DataFrame(
        {
            "anchor_id": np.repeat(inputs.anchor_ids, 3),
            "band": np.tile(np.array(BAND_NAMES), m),
            "population": mined.population.ravel(),
            "estimated": mined.estimated.ravel(),
            "quota": mined.quota.ravel().astype(np.int32),
            "picked": picked.ravel().astype(np.int32),
        }
    )


def _write(wh: Warehouse, run_id: int, frames: dict[str, pl.DataFrame]) -> None:
    """Replace negatives, triplets and anchor_bands; record skipped anchors in rejects. Call inside a transaction."""
    for table in ("negatives", "triplets", "anchor_bands"):
        wh.execute(f"DELETE FROM {table}")  # a fixed list of names: identifiers cannot be bound
    for name, frame in frames.items():
        wh.con.register(f"mined_{name}", frame)
        try:
            wh.sql_file(f"mine_insert_{name}", {"run_id": run_id}).fetchall()
        finally:
            wh.con.unregister(f"mined_{name}")
    landed = wh.scalar("SELECT count(*) FROM triplets")
    if landed != frames["triplets"].height:
        raise EtlError(
            f"landed {landed:,} of {frames['triplets'].height:,} triplets (a term lost its text); run `etl clean` and retry"
        )
    broken = wh.run_checks("mine_output_")
    if broken:
        raise CheckFailed(
            f"mined rows break {', '.join(f'{k} ({v} rows)' for k, v in broken.items())}; this is a bug, please report it"
        )


def _counts(
    inputs: MineInputs,
    mined: Mined,
    plan: Plan,
    negatives: pl.DataFrame,
    triplets: pl.DataFrame,
    skipped: pl.DataFrame,
) -> dict[str, Any]:
    import numpy as np

    p = mined.picks
    m = len(inputs.anchors)
    per_anchor = np.bincount(p.anchor, minlength=m)
    positives = inputs.positive_counts()
    bands = {}
    for code, name in enumerate(BAND_NAMES):
        quota = mined.quota[:, code]
        population = mined.population[:, code]
        by_quota = int(((p.band == code) & ~p.filled).sum())
        bands[name] = {
            "quota": int(quota.sum()),
            "by_quota": by_quota,
            "by_fill": int(((p.band == code) & p.filled).sum()),
            "fill_rate": round(by_quota / quota.sum(), 4) if quota.sum() else None,
            "population": _spread(population),
            "population_estimated": int(mined.estimated[:, code].sum()),
            "anchors_empty": int((population == 0).sum()),
            "anchors_short": int(((population < quota) & (quota > 0)).sum()),
        }
    counts: dict[str, Any] = {
        **inputs.counts,
        "config": plan.config(),
        "search": plan.search,
        "search_reason": plan.why,
        "terms": len(inputs.ids),
        "dim": int(inputs.vecs.shape[1]),
        "anchors": int(m),
        "anchors_with_negatives": int((per_anchor > 0).sum()),
        "anchors_short": int(((per_anchor > 0) & (per_anchor < plan.negatives)).sum()),
        "skipped_anchors": int(skipped.height),
        "negatives": int(negatives.height),
        "triplets": int(triplets.height),
        "found": mined.found,
        "bands": bands,
        "positives_per_anchor": {
            "mean": round(float(positives.mean()), 4),
            "min": int(positives.min()),
            "median": float(np.median(positives)),
            "max": int(positives.max()),
        },
        "warnings": _warnings(inputs, plan, bands, m),
    }
    if plan.search == "ann":
        counts["escalated"] = {"anchors": mined.escalated, "share": round(mined.escalated / m, 4),
                               "by_band": mined.escalated_by_band, "index_missed_anchor": mined.lost}  # fmt: skip
    return counts


def _spread(values: np.ndarray) -> dict[str, float]:
    """Mean, median and 5th percentile of a per-anchor count."""
    import numpy as np

    if values.size == 0:
        return {"mean": 0.0, "median": 0.0, "p5": 0.0}
    return {
        "mean": round(float(values.mean()), 1),
        "median": float(np.median(values)),
        "p5": float(np.percentile(values, 5)),
    }


def _cosine_range(inputs: MineInputs, plan: Plan) -> str:
    """Where this model puts anchor-to-term cosines, as percentiles of a seeded sample."""
    import numpy as np

    sims = sample_cosines(inputs, plan.seed)
    if sims.size == 0:
        return "no cosine could be sampled"
    p1, p50, p99 = np.percentile(sims.astype(np.float64), [1, 50, 99])
    return f"anchor-to-term cosines run p1 {p1:.2f} / median {p50:.2f} / p99 {p99:.2f}"


def _warnings(inputs: MineInputs, plan: Plan, bands: dict[str, Any], m: int) -> list[str]:
    """A line per band with a quota that most anchors find empty: the model does not score into it."""
    out = []
    for name, (low, high) in plan.bands.as_dict().items():
        band = bands[name]
        if band["quota"] and band["anchors_empty"] > EMPTY_WARNING * m:
            out.append(
                f"the {name} band [{low:g}, {high:g}) is empty for {band['anchors_empty'] / m:.0%} of anchors "
                f"under model {plan.model!r} ({_cosine_range(inputs, plan)}); its quota is filled from the other "
                f"bands: try `etl mine --calibrate`, or move the band with --{name}"
            )
    return out


def _no_triplets(inputs: MineInputs, plan: Plan) -> str:
    """Why no anchor got a negative, and what to try."""
    shown = "  ".join(f"{name} [{lo:g}, {hi:g})" for name, (lo, hi) in plan.bands.as_dict().items())
    return (
        f"no anchor of {len(inputs.anchors):,} got a negative: no eligible term scores inside the bands "
        f"({shown}) under model {plan.model!r}, whose {_cosine_range(inputs, plan)}; "
        "try `etl mine --calibrate`, or set --easy/--medium/--hard inside that range"
    )


def summary(counts: dict[str, Any], seconds: float) -> output.Summary:
    """The one-screen summary of a mine run from its counts."""
    split_info = counts["split"]
    summary = output.Summary(
        f"mine: {counts['triplets']:,} triplets from {counts['anchors']:,} anchors in {seconds:.1f}s"
    )
    summary.add("model", f"{counts['config']['model']} ({counts['terms']:,} terms x {counts['dim']})")
    summary.add("search", f"{counts['search']} ({counts['search_reason']})")
    if "escalated" in counts:
        esc = counts["escalated"]
        why = ", ".join(f"{band} {n:,}" for band, n in esc["by_band"].items() if n) or "none"
        missed = (
            f"; the index missed {esc['index_missed_anchor']:,} anchors themselves"
            if esc["index_missed_anchor"]
            else ""
        )
        summary.add("  exact scan for", f"{esc['anchors']:,} anchors ({esc['share']:.1%}; short bands: {why}{missed})")
    bands = counts["config"]["bands"]
    summary.add("bands", "  ".join(f"{name} [{lo:g}, {hi:g})" for name, (lo, hi) in bands.items()))
    summary.add("negatives", counts["negatives"])
    for name, band in counts["bands"].items():
        rate = "-" if band["fill_rate"] is None else f"{band['fill_rate']:.0%}"
        pop = band["population"]
        summary.add(
            f"  {name}",
            f"{band['by_quota'] + band['by_fill']:,} (quota {band['quota']:,} met {rate}, fill {band['by_fill']:,}; "
            f"members/anchor median {pop['median']:,.0f}, p5 {pop['p5']:,.0f}; empty for {band['anchors_empty']:,})",
        )
    pos = counts["positives_per_anchor"]
    summary.add(
        "positives/anchor", f"mean {pos['mean']:.2f}  min {pos['min']}  median {pos['median']:g}  max {pos['max']}"
    )
    summary.add("short anchors", counts["anchors_short"])
    summary.add("skipped anchors", f"{counts['skipped_anchors']:,} (see rejects, rule no_negative)")
    summary.add("split", split.describe_line(split_info))
    for line in counts["warnings"]:
        summary.add("warning", line)
    return summary
