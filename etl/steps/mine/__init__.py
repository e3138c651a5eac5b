"""`etl mine`: negatives per anchor by cosine band, and the (anchor, positive, negative) triplets.

Reads one model's `term_embeddings`, `terms`, `synonym_groups` and `synonym_pairs`; writes
`negatives`, `triplets`, `anchor_bands` and `rejects` rows.

Write mode: replace. `negatives`, `triplets` and `anchor_bands` are rebuilt in one transaction,
with the train/validation split already applied (see etl/splits.py), so a failed run leaves
the previous result untouched and two runs over the same warehouse and settings land identical
rows. Anchors that end with no negative get a `rejects` row (rule `no_negative`) instead of
vanishing.

The contract, per anchor and band: the population is every vocabulary term whose exact float32
cosine lies in the band, less the anchor, its synonym group, every term spelled like one of them, every term that is another
form of one of them (a variant key, etl/steps/mine/variants.py; off with --no-variants) and,
with --max-neg-ratio, every term over the cap. The band's picks are a seeded uniform sample of its
population: its members that come first in the anchor's own permutation of the vocabulary. A band
with fewer members than its quota is filled from the others' remaining members, again in permutation
order. `exact` computes this directly (etl/steps/mine/search.py); `ann` uses the index where it can
show that it covers a band and falls back to the exact scan, per anchor, where it cannot
(etl/steps/mine/ann.py).

With `mine_language` other than `any` (etl/steps/mine/pools.py), "vocabulary term" above reads "term
of the anchor's language pool": populations, picks and fills are each pool's, and `mix` mines an
anchor once per pool with that pool's share of the quota. Pools are mined by the exact scan.

`run` is `prepare` (checks, inputs) → `make_plan` → `mine` → `land` (frames, split, one transaction).
An anchor's picks never depend on the anchors mined beside it, so `mine` also takes any subset of
them: etl/steps/mine/shards.py (`--shard`, `--merge`) and etl/steps/mine/on_ray.py (`--ray`) mine the
anchors in shards and land the combined result through `land`, the same rows as one `run`.

The parts, under etl/steps/mine/: data.py loads the inputs (vectors, anchors, positives, what each
anchor excludes); calibration.py resolves `--calibrate` bands (per language pool too); pools.py
holds the language pools; cost.py chooses the search for `auto`; sample.py holds the seeded draws
(permutations, quotas, picks); chunks.py runs the search chunk by chunk and pool by pool;
search.py and ann.py find the band members; tables.py builds and writes the landed rows; stats.py
makes the counts, warnings and summary; parts.py keeps shard parts on disk for shards.py and on_ray.py.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from etl import output, splits
from etl.config import Settings
from etl.errors import CheckFailed, EtlError
from etl.negatives import BAND_NAMES
from etl.steps.mine import agreement, ann, data, loading, pools, sample, variants
from etl.steps.mine.calibration import calibrate, calibrate_pools
from etl.steps.mine.chunks import Tally, mine_pools, moved_band, search_chunks
from etl.steps.mine.sample import SOURCES, Bands, Permutation, Picks
from etl.steps.mine.search import Context
from etl.steps.mine.stats import no_triplets_message, run_counts, summary
from etl.steps.mine.tables import anchor_bands, frames, write_tables
from etl.vectors import exact_cosine
from etl.warehouse import Run, Warehouse

if TYPE_CHECKING:
    import numpy as np

    from etl.steps.mine.data import MineInputs
    from etl.steps.mine.pools import Slots


class Clock:
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
    variants: bool = True  # variant keys exclude other forms of the anchor's group
    why: str = field(default="", compare=False)  # how the search mode was chosen
    language: str = "any"  # mine_language: the pools negatives come from (etl/steps/mine/pools.py)
    language_mix: float = 0.5  # with `mix`: the anchor language's share
    pool_bands: dict[str, Bands] = field(default_factory=dict)  # calibrated per pool: same, cross, all
    # auto's estimated seconds per path weighed (etl/steps/mine/cost.py); empty when the mode was asked for
    estimate: dict[str, float] = field(default_factory=dict, compare=False)

    def config(self) -> dict[str, Any]:
        """JSON-ready description (the bands as the cosines actually used)."""
        out = {k: v for k, v in asdict(self).items() if k not in ("bands", "why", "pool_bands", "estimate")}
        out["bands"] = self.bands.as_dict()
        if self.pool_bands:
            out["pool_bands"] = {name: bands.as_dict() for name, bands in self.pool_bands.items()}
        return out

    def bands_of(self, kind: str) -> Bands:
        """The bands a slot of this kind (same, cross, all: see pools.kind) is mined with."""
        return self.pool_bands.get(kind, self.bands)


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
    slots: Slots | None = None  # per language pool slot (mine_language other than any); the arrays above sum them


def run(wh: Warehouse, settings: Settings, model: str | None = None, index: Any = None) -> output.StepResult:
    """Mine negatives and triplets for one embedding model; `index` overrides the index step's usearch index."""
    model = data.choose_model(wh, model)
    with wh.record("mine", params(settings, model)) as run:
        clock = Clock()
        inputs = prepare(wh, model, settings.mine_variants)
        clock.lap("load")
        plan = make_plan(wh, settings, inputs, model, index)
        clock.lap("plan")
        if plan.search == "ann" and index is None:
            built: list[bool] = []
            index = ann.open_index(wh, settings, plan.model, built)  # built here when it is stale
            clock.lap("index")
            run.counts["index_built"] = built[0]  # auto learns the build time from runs that built it
        mined = mine(inputs, plan, index)
        clock.lap("search")
        if plan.search == "ann":
            checked = agreement.measure(inputs, plan, mined)
            clock.lap("agreement")
        land(wh, run, settings, inputs, plan, mined, clock)
        if plan.search == "ann":
            run.counts["ann_agreement"] = checked
    return summary(run.counts, run.seconds, run.run_id)


def params(settings: Settings, model: str) -> dict[str, Any]:
    """The settings a mine run records (and that decide its result), with the model."""
    return {key: getattr(settings, key) for key in _PARAMS} | {"model": model}


def prepare(wh: Warehouse, model: str, variant_keys: bool = True) -> MineInputs:
    """Check the inputs' rules and load them (with variant keys unless told not to); refuses a model without any anchor."""
    broken = wh.run_checks("mine_input_")
    if broken:
        raise CheckFailed(
            f"mining inputs break {', '.join(f'{name} ({n} rows)' for name, n in broken.items())}; "
            "every synonym pair needs both terms in one synonym group: run `etl clean`"
        )
    inputs = loading.load(wh, model, variant_keys)
    if len(inputs.anchors) == 0:
        raise EtlError(f"no synonym pair has vectors of model {model!r} on both sides; run `etl clean` and `etl embed`")
    return inputs


def land(
    wh: Warehouse, run: Run, settings: Settings, inputs: MineInputs, plan: Plan, mined: Mined, clock: Clock
) -> None:
    """Build the frames, split the triplets and replace the mined tables in one transaction; fills run.counts."""
    import numpy as np
    import polars as pl

    negatives, triplets, skipped = frames(inputs, mined, plan)
    bands = anchor_bands(inputs, mined)
    if triplets.height == 0:
        raise NoTriplets(no_triplets_message(inputs, plan))
    is_train = splits.assign(triplets, settings.split_by, settings.split_train_ratio, plan.seed)
    triplets = triplets.with_columns(pl.Series("split", np.where(is_train, "train", "validation")))
    with wh.transaction():
        write_tables(
            wh, run.run_id, {"negatives": negatives, "triplets": triplets, "skipped": skipped, "anchor_bands": bands}
        )
        splits.check(wh, settings.split_by)
    clock.lap("write")
    run.counts.update(run_counts(inputs, mined, plan, negatives, triplets, skipped))
    run.counts["variants"] = variants.report(inputs, plan.bands)
    run.counts["split"] = splits.describe(triplets, settings.split_by, settings.split_train_ratio)
    run.counts["seconds"] = {**run.counts.get("seconds", {}), **clock.laps}
    if plan.estimate:
        run.counts["estimate"] = estimate_outcome(plan, clock.laps)


def estimate_outcome(plan: Plan, laps: dict[str, float]) -> dict[str, Any]:
    """auto's estimates beside what the chosen path took (index build and search), so a wrong one shows."""
    taken = laps.get("index", 0.0) + laps.get("search", 0.0)
    rounded = {name: round(value, 3) for name, value in plan.estimate.items()}
    return {**rounded, "chosen": plan.search, "estimated_seconds": rounded[plan.search], "taken_seconds": taken}


_PARAMS = (
    "mine_easy",
    "mine_medium",
    "mine_hard",
    "mine_ratios",
    "mine_negatives",
    "mine_search",
    "mine_top_k",
    "mine_max_neg_ratio",
    "mine_calibrate",
    "mine_percentiles",
    "mine_variants",
    "mine_language",
    "mine_language_mix",
    "seed",
    "split_by",
    "split_train_ratio",
)


def make_plan(wh: Warehouse | None, settings: Settings, inputs: MineInputs, model: str, index: Any = None) -> Plan:
    """Resolve the bands (fixed cosines, or percentiles of this model's scores) and the search mode."""
    pool_bands: dict[str, Bands] = {}
    if settings.mine_calibrate and settings.mine_language != "any":
        pool_bands = calibrate_pools(inputs, settings.mine_percentiles, settings.seed)
        bands = pool_bands["all"]
    elif settings.mine_calibrate:
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
        variants=settings.mine_variants,
        why="asked for",
        language=settings.mine_language,
        language_mix=settings.mine_language_mix,
        pool_bands=pool_bands,
    )
    if plan.language != "any" and plan.search != "exact":
        if plan.search == "ann":
            raise EtlError(
                f"--search ann cannot mine language pools (mine_language {plan.language!r}); "
                "use --search exact or auto, or --language any"
            )
        return dataclasses.replace(plan, search="exact", why="language pools are mined by the exact scan")
    if plan.search != "auto":
        return plan
    from etl.steps.mine import cost

    search, why, estimate = cost.choose(wh, settings, context(inputs, plan), index)
    fields = {k: getattr(plan, k) for k in plan.__dataclass_fields__}
    return Plan(**{**fields, "search": search, "why": why, "estimate": estimate})


def context(inputs: MineInputs, plan: Plan) -> Context:
    """What every chunk of the run shares: the bands, the permutation and the cap."""
    import numpy as np

    cap = None
    if plan.max_neg_ratio > 0:
        pos_sim = exact_cosine(inputs.vecs, inputs.anchors[inputs.pair_anchor()], inputs.pos_rows)
        # Per anchor, against its least similar positive: then every triplet it makes obeys the cap.
        cap = np.float32(plan.max_neg_ratio) * np.minimum.reduceat(pos_sim, inputs.pos_ptr[:-1])
    perm = Permutation(plan.seed, len(inputs.ids))
    return Context(inputs=inputs, bands=plan.bands, n=plan.negatives, perm=perm, cap=cap, top_k=plan.top_k)


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
    n_anchors = len(inputs.anchors)
    which = np.arange(n_anchors, dtype=np.int64) if subset is None else np.asarray(subset, dtype=np.int64)
    quota = sample.quotas(plan.seed, inputs.anchor_ids, plan.negatives, plan.ratios)
    target = pools.targets(inputs, plan.language)
    tally = Tally.of(n_anchors)
    slots = None
    with output.Progress("mining", len(which) if target is None else int((target[:, which] > 0).sum())) as progress:
        if target is None:
            (members,) = search_chunks([(ctx, 0)], plan, index, which, tally, progress)
            picks = sample.pick(members, quota, plan.negatives)
        else:
            picks, slots = mine_pools(ctx, plan, which, quota, target, tally, progress)
    picks = canonical(picks)
    # Stored cosines are the exact ones; the search decided bands on them wherever an edge was close.
    picks.sim = exact_cosine(inputs.vecs, inputs.anchors[picks.anchor], picks.row)
    if moved_band(inputs, plan, picks, target):  # pragma: no cover - a broken slack, not bad input
        raise EtlError("a mined negative changed band on its exact cosine; this is a bug, please report it")
    found_by = {name: int((tally.sources == code).sum()) for code, name in enumerate(SOURCES)}
    by_band = dict(zip(BAND_NAMES, (int(v) for v in tally.by_band)))
    if slots is not None:
        quota = slots.quota.sum(axis=0)
    return Mined(
        picks=picks,
        quota=quota,
        population=tally.population.sum(axis=0),
        estimated=np.any(tally.estimated, axis=0),
        escalated=tally.escalated,
        lost=tally.lost,
        escalated_by_band=by_band,
        found=found_by,
        slots=slots,
    )


def canonical(picks: Picks) -> Picks:
    """Picks ordered by (anchor, negative row): the order rows land in, whatever the chunks or shards were."""
    import numpy as np

    order = np.lexsort((picks.row, picks.anchor))
    return Picks(**{f: getattr(picks, f)[order] for f in ("anchor", "row", "sim", "band", "filled", "source")})
