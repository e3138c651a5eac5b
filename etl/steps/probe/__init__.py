"""`etl probe`: do the mined negatives help a model? A cheap downstream check of the triplets.

Trains a small adapter over the mining model's frozen vectors (adapter.py) on the train split's
triplets and measures, on a seeded sample of the validation anchors (rank.py), how well it
retrieves their positives: MRR@10, recall@1 and recall@10, in the `target` pool (the positive's
language) and the `mixed` pool (every term). Three arms with the same seed, batches and epochs:
`untrained` (the identity: the mining model as it is), `mined` (the triplets as mined) and
`random` (the same anchor/positive pairs with negatives drawn uniformly from the vocabulary
outside the anchor's synonym group), so mined negatives are compared with no training and with
negatives anyone could draw. Where `etl judge` took negatives out, a fourth arm, `unjudged`, trains
on the mined triplets with the judged-out negatives put back (one triplet per train anchor-positive
pair and judged-out negative of that anchor), so a user sees whether the removals helped.

Reads `triplets` (the mine run and split that landed them), `terms` (lang), `synonym_groups` and
the mine run's model's vectors in `term_embeddings`. Write mode: append to `probe_results`, one row
per (arm, pool, metric) with this run's run_id and the triplets' mine and split run ids; readers
take the newest probe of the triplets as they stand. The same warehouse and settings give the
same figures. A vocabulary over `probe_max_terms`, or an empty train or validation side, skips the
probe with a one-line reason (and writes no figures).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from etl import output, vectors
from etl.config import Settings
from etl.errors import EtlError
from etl.steps.probe.adapter import DRAW_RANDOM, DRAW_SAMPLE, DRAW_TRAIN, Adapter, train
from etl.steps.probe.rank import METRICS, POOLS, Vocabulary, evaluate
from etl.streams import STREAM_PROBE, keyed
from etl.warehouse import Run, Warehouse

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

ARMS = ("untrained", "mined", "random")
LANGS = ("ko", "en", "mixed")
_PARAMS = ("probe_loss", "probe_epochs", "probe_triplets", "probe_anchors", "probe_max_terms", "seed")


@dataclass
class Lineage:
    """Which triplets the probe is about: the mine run that landed them, the split run that last split them."""

    mine_run_id: int
    split_run_id: int | None
    model: str


def lineage(wh: Warehouse) -> Lineage:
    """The triplets' mine run, latest split run and mining model; fails when there are no triplets."""
    import json

    run_ids = [r[0] for r in wh.execute("SELECT DISTINCT run_id FROM triplets").fetchall()]
    if not run_ids:
        raise EtlError("there are no triplets to probe; run `etl mine` first")
    counts = wh.scalar("SELECT counts FROM runs WHERE run_id = ?", [run_ids[0]])
    if len(run_ids) > 1 or counts is None:
        raise EtlError("the triplets table mixes several mine runs; run `etl mine` again to rebuild it")
    split_run = wh.scalar(
        "SELECT max(run_id) FROM runs WHERE step = 'split' AND status = 'ok' AND run_id > ?", [run_ids[0]]
    )
    return Lineage(
        int(run_ids[0]), None if split_run is None else int(split_run), json.loads(counts)["config"]["model"]
    )


def run(wh: Warehouse, settings: Settings) -> output.StepResult:
    """Train and score the three arms on the triplets, and append their figures to `probe_results`."""
    params: dict[str, Any] = {key: getattr(settings, key) for key in _PARAMS}
    with wh.record("probe", params) as run:
        source = lineage(wh)
        run.counts.update(
            {"mine_run_id": source.mine_run_id, "split_run_id": source.split_run_id, "model": source.model}
        )
        reason = _skip_reason(wh, settings, source)
        if reason is not None:
            run.counts["skipped"] = reason
            return output.StepResult.of(run, f"probe: skipped in {run.seconds:.1f}s").add("why", reason)
        data = _load(wh, settings, source)
        if len(data.train[0]) == 0 or len(data.anchors) == 0:
            run.counts["skipped"] = "the triplets' terms lost their vectors or terms; run `etl mine` again"
            return output.StepResult.of(run, f"probe: skipped in {run.seconds:.1f}s").add("why", run.counts["skipped"])
        figures: dict[str, dict[str, dict[str, float]]] = {}
        losses: dict[str, list[float]] = {}
        hidden = data.vocab.vectors @ Adapter.identity(data.vocab.vectors.shape[1], settings.seed).u
        arms = (*ARMS, "unjudged") if data.judged_out is not None else ARMS
        with output.Progress("probe: train and score each arm", 2 * len(arms)) as progress:
            for arm in arms:
                adapter, losses[arm] = _adapter(arm, data, hidden, settings)
                progress.advance()
                figures[arm] = evaluate(data.vocab, adapter, hidden, data.anchors, data.pairs)
                progress.advance()
        _write(wh, run.run_id, source, figures)
        run.counts.update(
            {
                "terms": len(data.vocab.ids),
                "dim": int(data.vocab.vectors.shape[1]),
                "train_triplets": data.train_total,
                "trained_on": len(data.train[0]),
                "anchors_scored": len(data.anchors),
                "queries": data.queries,
                "losses": losses,
            }
        )
    return summary(figures, run, settings, run.seconds)


@dataclass
class Data:
    """The probe's inputs as vocabulary rows."""

    vocab: Vocabulary
    train: tuple[np.ndarray, np.ndarray, np.ndarray]  # anchor, positive, negative rows of the train triplets
    train_ids: tuple[np.ndarray, np.ndarray, np.ndarray]  # the same as term ids (they seed the batch order)
    anchors: np.ndarray  # the sampled validation anchors' rows
    pairs: tuple[np.ndarray, np.ndarray]  # (anchor row, positive row) of every positive of those anchors
    queries: dict[str, int]
    train_total: int  # train triplets before the sample
    # Train triplets of the negatives the judge took out (rows, then ids), None when it took none out
    judged_out: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, ...]] | None = None


def _skip_reason(wh: Warehouse, settings: Settings, source: Lineage) -> str | None:
    """Why the probe cannot run on these triplets (an empty side, a vocabulary over budget), or None."""
    sides = dict(wh.execute("SELECT split, count(*) FROM triplets GROUP BY split").fetchall())
    for side in ("train", "validation"):
        if not sides.get(side):
            return (
                f"the {side} side has no triplets, so there is nothing to "
                f"{'train on' if side == 'train' else 'evaluate on'}; re-split with `etl split --train-ratio`"
            )
    terms = wh.scalar(
        "SELECT count(*) FROM term_embeddings SEMI JOIN terms USING (term_id) WHERE model = ?", [source.model]
    )
    if terms == 0:
        return f"no term has a vector of the mining model {source.model} any more; run `etl embed` and `etl mine`"
    if terms > settings.probe_max_terms:
        return (
            f"the vocabulary has {terms:,} terms with vectors of {source.model}, over probe_max_terms "
            f"({settings.probe_max_terms:,}); raise it (--max-terms) to probe anyway"
        )
    return None


def _load(wh: Warehouse, settings: Settings, source: Lineage) -> Data:
    """The vocabulary sorted by language, the train triplets and the sampled validation anchors, as rows."""
    import numpy as np

    ids, matrix = vectors.load(wh, source.model, in_terms=True)
    langs = wh.frame("SELECT term_id, lang FROM terms")
    groups = wh.frame("SELECT term_id, group_id FROM synonym_groups")
    vocab = _vocabulary(ids, matrix, langs, groups)
    row_of = _rows(vocab.ids)
    triplets = wh.frame(
        "SELECT anchor_id, positive_id, negative_id, split FROM triplets ORDER BY anchor_id, positive_id, negative_id"
    )
    a, p, n = (triplets[c].to_numpy() for c in ("anchor_id", "positive_id", "negative_id"))
    rows = [row_of(x) for x in (a, p, n)]
    known = (rows[0] >= 0) & (rows[1] >= 0) & (rows[2] >= 0)
    is_train = (triplets["split"].to_numpy() == "train") & known
    train_rows = np.flatnonzero(is_train)
    if len(train_rows) > settings.probe_triplets:
        draw = keyed(settings.seed, STREAM_PROBE, DRAW_TRAIN, a[train_rows], p[train_rows], n[train_rows])
        train_rows = np.sort(train_rows[np.argsort(draw, kind="stable")[: settings.probe_triplets]])
    # Validation: each anchor's distinct positives; a seeded sample of at most probe_anchors anchors.
    pairs = np.unique(np.stack([rows[0], rows[1]], axis=1)[~is_train & known], axis=0)
    anchors = np.unique(pairs[:, 0])
    if len(anchors) > settings.probe_anchors:
        draw = keyed(settings.seed, STREAM_PROBE, DRAW_SAMPLE, vocab.ids[anchors])
        anchors = np.sort(anchors[np.lexsort((vocab.ids[anchors], draw))[: settings.probe_anchors]])
    pairs = pairs[np.isin(pairs[:, 0], anchors)]
    langs_of = vocab.lang_of(pairs[:, 1])
    queries = {"mixed": len(anchors), "target": len(np.unique(pairs[:, 0] * len(LANGS) + langs_of))}
    train = (rows[0][train_rows], rows[1][train_rows], rows[2][train_rows])
    train_ids = (a[train_rows], p[train_rows], n[train_rows])
    data = Data(vocab, train, train_ids, anchors, (pairs[:, 0], pairs[:, 1]), queries, int(is_train.sum()))
    data.judged_out = _judged_out(wh, train_ids, row_of)
    return data


def _judged_out(
    wh: Warehouse, train_ids: tuple[np.ndarray, ...], row_of: Any
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, ...]] | None:
    """Triplets putting back what the judge took out: each train (anchor, positive) with each judged-out negative."""
    import numpy as np
    import polars as pl

    judged = wh.frame(
        "SELECT anchor_id, negative_id FROM negative_judgements WHERE trial = 0 AND verdict = 'same' "
        "ORDER BY anchor_id, negative_id"
    )
    if judged.height == 0:
        return None
    pairs = pl.DataFrame({"anchor_id": train_ids[0], "positive_id": train_ids[1]}).unique()
    extra = pairs.join(judged, on="anchor_id").sort("anchor_id", "positive_id", "negative_id")
    ids = tuple(extra[c].to_numpy() for c in ("anchor_id", "positive_id", "negative_id"))
    rows = [row_of(x) for x in ids]
    known = (rows[0] >= 0) & (rows[1] >= 0) & (rows[2] >= 0)
    if not known.any():
        return None
    return (rows[0][known], rows[1][known], rows[2][known]), tuple(np.asarray(x)[known] for x in ids)


def _vocabulary(ids: np.ndarray, matrix: np.ndarray, langs: pl.DataFrame, groups: pl.DataFrame) -> Vocabulary:
    """The vectors with their language and group, reordered by (language, term_id)."""
    import numpy as np

    codes = np.array([LANGS.index(x) if x in LANGS else len(LANGS) for x in langs["lang"].to_list()], dtype=np.int64)
    lang = _lookup(ids, langs["term_id"].to_numpy(), codes, len(LANGS))
    group = _lookup(ids, groups["term_id"].to_numpy(), groups["group_id"].to_numpy(), -1)
    order = np.lexsort((ids, lang))
    lang = lang[order]
    names = [*LANGS, "other"]
    blocks = {}
    for code in np.unique(lang):
        where = np.flatnonzero(lang == code)
        blocks[names[int(code)]] = (int(where[0]), int(where[-1]) + 1)
    return Vocabulary(ids[order], matrix[order], group[order], blocks)


def _lookup(keys: np.ndarray, known: np.ndarray, values: np.ndarray, missing: int) -> np.ndarray:
    """values[known == key] for each key, `missing` where a key is not known."""
    import numpy as np

    order = np.argsort(known, kind="stable")
    at = np.clip(np.searchsorted(known[order], keys), 0, max(len(known) - 1, 0))
    found = (known[order][at] == keys) if len(known) else np.zeros(len(keys), dtype=bool)
    return np.where(found, values[order][at] if len(known) else missing, missing).astype(np.int64)


def _rows(ids: np.ndarray) -> Any:
    """A function from term ids to vocabulary rows (-1 for a term without a vector)."""
    import numpy as np

    rows = np.arange(len(ids))
    return lambda keys: _lookup(np.asarray(keys), ids, rows, -1)


def _adapter(arm: str, data: Data, hidden: np.ndarray, settings: Settings) -> tuple[Adapter, list[float]]:
    """The arm's adapter: the identity, or trained on the mined, random or unjudged negatives."""
    import numpy as np

    if arm == "untrained":
        return Adapter.identity(data.vocab.vectors.shape[1], settings.seed), []
    anchors, positives, negatives = data.train
    keys: tuple[np.ndarray, ...] = data.train_ids
    if arm == "random":
        negatives = random_negatives(data.vocab, anchors, data.train_ids, settings.seed)
    if arm == "unjudged" and data.judged_out is not None:
        (extra_a, extra_p, extra_n), extra_keys = data.judged_out
        anchors, positives, negatives = (
            np.concatenate(x) for x in ((anchors, extra_a), (positives, extra_p), (negatives, extra_n))
        )
        keys = tuple(np.concatenate([k, e]) for k, e in zip(keys, extra_keys, strict=True))
    return train(
        data.vocab.vectors,
        hidden,
        (anchors, positives, negatives),
        data.vocab.groups,
        loss=settings.probe_loss,
        epochs=settings.probe_epochs,
        seed=settings.seed,
        keys=keys,
    )


def random_negatives(vocab: Vocabulary, anchors: np.ndarray, keys: tuple[np.ndarray, ...], seed: int) -> np.ndarray:
    """Per triplet, a vocabulary row drawn uniformly outside the anchor's synonym group (seeded by its ids)."""
    import numpy as np

    n = len(vocab.ids)
    drawn = np.full(len(anchors), -1, dtype=np.int64)
    todo = np.arange(len(anchors))
    for attempt in range(64):  # a draw lands in the group with probability group size / vocabulary
        if len(todo) == 0:
            break
        pick = (keyed(seed, STREAM_PROBE, DRAW_RANDOM, attempt, *(k[todo] for k in keys)) % np.uint64(n)).astype(
            np.int64
        )
        ok = (vocab.groups[pick] != vocab.groups[anchors[todo]]) & (pick != anchors[todo])
        drawn[todo[ok]] = pick[ok]
        todo = todo[~ok]
    if len(todo):
        raise EtlError("the vocabulary holds hardly any term outside the anchors' synonym groups; add terms")
    return drawn


def _write(wh: Warehouse, run_id: int, source: Lineage, figures: dict[str, dict[str, dict[str, float]]]) -> None:
    """Append one row per (arm, pool, metric)."""
    rows = [
        (run_id, source.mine_run_id, source.split_run_id, arm, pool, metric, figures[arm][pool][metric])
        for arm in figures
        for pool in POOLS
        for metric in METRICS
    ]
    with wh.transaction():
        wh.con.executemany("INSERT INTO probe_results VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


def summary(
    figures: dict[str, dict[str, dict[str, float]]], run: Run, settings: Settings, seconds: float
) -> output.StepResult:
    """The run's counts and the figures (arm → pool → metric), shown as the arms × pools table with the lift
    of the mined negatives over no training and over random ones."""
    counts = run.counts
    out = output.StepResult(
        f"probe: {len(figures)} arms on {counts['anchors_scored']:,} validation anchors in {seconds:.1f}s",
        step=run.step,
        run_id=run.run_id,
        counts={**counts, "figures": figures},
    )
    out.add(
        "model", f"{counts['model']} ({counts['terms']:,} terms x {counts['dim']}), mine run {counts['mine_run_id']}"
    )
    out.add(
        "training",
        f"{counts['trained_on']:,} of {counts['train_triplets']:,} train triplets, {settings.probe_loss} loss, "
        f"{settings.probe_epochs} epochs",
    )
    for arm in figures:
        out.add(arm, "  ".join(f"{pool} {_cells(figures[arm][pool])}" for pool in POOLS))
    for base in [arm for arm in ("untrained", "random", "unjudged") if arm in figures]:
        lift = {pool: figures["mined"][pool]["mrr@10"] - figures[base][pool]["mrr@10"] for pool in POOLS}
        out.add(f"mined vs {base}", "  ".join(f"{pool} MRR@10 {lift[pool]:+.3f}" for pool in POOLS))
    return out


def _cells(values: dict[str, float]) -> str:
    return " ".join(f"{metric} {values[metric]:.3f}" for metric in METRICS)
