"""Mining against a brute-force reference written here: score everything, then check every band's picks.

The reference scores every (anchor, term) pair, removes the anchor itself, its group and every term
sharing a variant key with a group member (other forms: "the X", "Xs", "Xing", "X, Y", "X하다", placed
near their base so that they fall in its bands), and puts each term in the band of its cosine. Against it, for `exact` and for `ann`:
- a band gives min(quota, population) picks by quota, and every pick is a member of its band;
- a band is filled from others only when its population is smaller than its quota, and an anchor
  ends with min(n, all its members) negatives;
- picks are uniform within their band: the mean percentile of a picked member's cosine among its
  band's members is 0.5 (nearest-first sampling would put it near 1);
- the recorded populations are the reference's.
Three regimes: rare easy members (like a lexical model), a medium band far fuller than the ANN
shortlist (saturated), and a hard band that is mostly empty (sparse, so fills happen).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pytest

from etl import config
from etl.negatives import BAND_NAMES
from etl.steps import mine
from etl.steps.mine.sample import quotas
from etl.steps.mine.variants import keys_of
from etl.warehouse import Warehouse
from tests import minedata

EDGES = ((0.3, 0.5), (0.5, 0.7), (0.7, 0.9))
N_NEG = 5
RATIOS = (0.33, 0.33, 0.34)
SEED = 42


def vectors(
    n: int, dim: int, common: float, cluster: float, clusters: int, leaf: float, leaf_size: int, seed: int
) -> np.ndarray:
    """Unit vectors: a shared direction, a cluster centre, a small leaf centre and noise, with these weights."""
    rng = np.random.default_rng(seed)
    noise = 1.0 - common - cluster - leaf
    shared = rng.standard_normal(dim)
    centres = rng.standard_normal((clusters, dim))
    leaves = rng.standard_normal((n // leaf_size, dim))
    z = rng.standard_normal((n, dim))
    unit = [x / np.linalg.norm(x, axis=-1, keepdims=True) for x in (shared, centres, leaves, z)]
    v = (
        np.sqrt(common) * unit[0]
        + np.sqrt(cluster) * unit[1][rng.integers(0, clusters, n)]
        + np.sqrt(leaf) * unit[2][rng.integers(0, len(leaves), n)]
        + np.sqrt(noise) * unit[3]
    )
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


REGIMES = {
    # ~0.9% of terms are easy, ~15 medium, hard mostly empty.
    "rare_easy_sparse_hard": {"common": 0.0, "cluster": 0.55, "clusters": 150, "leaf": 0.2, "leaf_size": 3},
    # ~1,100 easy, ~340 medium (beyond the 100 + margin the index shortlists), ~8 hard.
    "saturated_medium": {"common": 0.3, "cluster": 0.3, "clusters": 8, "leaf": 0.3, "leaf_size": 2},
}


@dataclass
class Reference:
    """Every anchor's band members, by brute force."""

    anchor_ids: np.ndarray  # term_id per anchor, ascending
    members: list[list[dict[int, float]]]  # [anchor][band] -> {term_id: cosine}


def reference(
    world: minedata.World, pool: Callable[[int], np.ndarray] | None = None, edges: Sequence[tuple[float, float]] = EDGES
) -> Reference:
    """Score every term against every anchor (fixed-order float32 dot products) and bin by band.

    `pool(anchor_id)`, when given, is a bool per term: the terms that anchor may take (a language pool)."""
    partners: dict[int, set[int]] = {}
    for a, b in world.pairs:
        partners.setdefault(a, set()).add(b)
        partners.setdefault(b, set()).add(a)
    anchor_ids = np.array(sorted(partners), dtype=np.int64)
    row = {int(t): i for i, t in enumerate(world.ids)}
    group = np.array([world.group_of.get(int(t), -1) for t in world.ids])
    keys = [set(keys_of(text.casefold())) for text in world.texts]
    rows_of: dict[str, list[int]] = {}
    for i, term_keys in enumerate(keys):
        for key in term_keys:
            rows_of.setdefault(key, []).append(i)
    out = []
    for a in anchor_ids:
        va = world.vecs[row[int(a)]]
        sims = np.einsum("ij,ij->i", np.broadcast_to(va, world.vecs.shape), world.vecs)
        allowed = (world.ids != a) & (group != world.group_of[int(a)])
        for member in np.flatnonzero(group == world.group_of[int(a)]):
            for key in keys[member]:
                allowed[rows_of[key]] = False  # another form of a group member
        if pool is not None:
            allowed &= pool(int(a))
        bands = []
        for low, high in edges:
            inside = np.flatnonzero(allowed & (sims >= np.float32(low)) & (sims < np.float32(high)))
            bands.append(dict(zip(world.ids[inside].tolist(), sims[inside].tolist())))
        out.append(bands)
    return Reference(anchor_ids, out)


def build(wh: Warehouse, regime: str) -> minedata.World:
    """The regime's vocabulary with ~300 synonym groups of 2-3 terms, and other forms of 300 group members."""
    vecs = vectors(3000, 64, seed=11, **REGIMES[regime])
    world = minedata.build(wh, vecs=vecs, n_groups=300, seed=4)
    return with_variants(wh, world)


FORMS = ("the {}", "to {}", "{}s", "{}ing", "{}ed", "{}ly", "{}, {}", "{} or {}", "{}하다")


def with_variants(wh: Warehouse, world: minedata.World, n: int = 300, seed: int = 6) -> minedata.World:
    """Word-like texts for every term; n terms outside the groups become forms of group members, near them."""
    import polars as pl

    rng = np.random.default_rng(seed)
    syllables = [c + v for c in "bdgklmnprt" for v in "aeiou"]
    words = [a + b + c for a in syllables for b in syllables for c in syllables]
    texts = [words[k] for k in rng.choice(len(words), size=len(world.ids), replace=False)]
    grouped = np.array([int(t) in world.group_of for t in world.ids])
    bases = rng.choice(np.flatnonzero(grouped), size=n)
    for k, (row, base) in enumerate(zip(rng.choice(np.flatnonzero(~grouped), size=n, replace=False), bases)):
        texts[row] = FORMS[k % len(FORMS)].format(texts[base], texts[int(rng.integers(len(texts)))])
        noise = rng.standard_normal(world.vecs.shape[1]).astype(np.float32)
        noise -= (noise @ world.vecs[base]) * world.vecs[base]
        weight = (0.95, 0.8, 0.6)[k % 3]  # hard, medium and easy forms
        v = weight * world.vecs[base] + np.sqrt(1 - weight**2) * noise / np.linalg.norm(noise)
        world.vecs[row] = v / np.linalg.norm(v)
    frame = pl.DataFrame({"term_id": world.ids, "text": texts, "norm": [t.casefold() for t in texts]})
    wh.con.register("t_texts", frame)
    wh.execute("UPDATE terms SET text = t.text, norm = t.norm FROM t_texts t WHERE terms.term_id = t.term_id")
    wh.con.unregister("t_texts")
    wh.execute("DELETE FROM term_embeddings")
    minedata.insert_vectors(wh, world.ids, world.vecs)
    world.texts = texts
    return world


def check(wh: Warehouse, ref: Reference, pool: str | None = None) -> dict[str, float]:
    """Every contract check against the reference; returns the mean in-band percentile per band."""
    counts = wh.last_ok_run("mine")["counts"]
    quota = quotas(SEED, ref.anchor_ids, N_NEG, RATIOS)
    picked: dict[int, list[tuple[int, str, bool]]] = {}
    for a, n, band, filled in wh.execute("SELECT anchor_id, negative_id, band, filled FROM negatives").fetchall():
        picked.setdefault(a, []).append((n, band, filled))
    percentiles: dict[str, list[float]] = {name: [] for name in BAND_NAMES}
    for i, a in enumerate(ref.anchor_ids):
        mine_ = picked.get(int(a), [])
        sizes = [len(ref.members[i][b]) for b in range(3)]
        assert len(mine_) == min(N_NEG, sum(sizes)), (a, mine_, sizes)
        for code, name in enumerate(BAND_NAMES):
            band = ref.members[i][code]
            by_quota = [n for n, b, f in mine_ if b == name and not f]
            assert len(by_quota) == min(quota[i, code], len(band)), (a, name, by_quota, len(band))
            for n, b, _ in mine_:
                if b == name:
                    assert n in band, (a, n, name)  # every pick is a member of its band
            if len(band) > quota[i, code]:
                ranked = sorted(band.values())
                for n in by_quota:
                    percentiles[name].append(ranked.index(band[n]) / (len(ranked) - 1))
        short = any(len(ref.members[i][b]) < quota[i, b] for b in range(3))
        if not short:
            assert not any(f for _, _, f in mine_), a  # filled only when a band is really short
    # The recorded populations are the reference's, anchor by anchor where they were counted.
    recorded_rows = wh.execute("SELECT anchor_id, band, population, estimated FROM anchor_bands").fetchall()
    if pool is not None:  # one language pool per anchor: the rows name it
        assert {r[0] for r in wh.execute("SELECT DISTINCT pool FROM anchor_bands").fetchall()} <= {"ko", "en", "ko+en"}
    position = {int(a): i for i, a in enumerate(ref.anchor_ids)}
    assert len(recorded_rows) == 3 * len(ref.anchor_ids)
    for a, band, population, estimated in recorded_rows:
        if not estimated:
            assert population == len(ref.members[position[a]][BAND_NAMES.index(band)]), (a, band)
    for code, name in enumerate(BAND_NAMES):
        sizes = np.array([len(ref.members[i][code]) for i in range(len(ref.anchor_ids))])
        recorded = counts["bands"][name]
        assert recorded["anchors_empty"] == int((sizes == 0).sum()), name
        if not recorded["population_estimated"]:
            assert recorded["population"]["median"] == pytest.approx(float(np.median(sizes)), abs=1), name
    return {name: float(np.mean(v)) for name, v in percentiles.items() if len(v) >= 100}


def settings(search: str, **overrides: object) -> config.Settings:
    return config.load(overrides={"mine_search": search, "seed": SEED, **overrides}).settings


@pytest.fixture(params=sorted(REGIMES))
def regime(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_exact_search_is_the_reference(wh: Warehouse, regime: str) -> None:
    world = build(wh, regime)
    mine.run(wh, settings("exact"))
    means = check(wh, reference(world))
    assert means, "the regime gives no band enough picks to judge uniformity"
    for name, mean in means.items():
        assert mean == pytest.approx(0.5, abs=0.05), (regime, name, means)


def test_ann_search_is_the_reference_and_escalates_what_it_cannot_see(wh: Warehouse, regime: str) -> None:
    from usearch.index import Index

    world = build(wh, regime)
    index = Index(ndim=64, metric="cos", dtype="f32", connectivity=32, expansion_add=400, expansion_search=800)
    index.add(world.ids.astype(np.uint64), world.vecs, threads=1)
    # With the rare regime's ~40 terms above 0.3, a default shortlist covers every band; a short one does not.
    top_k = 10 if regime == "rare_easy_sparse_hard" else 100
    mine.run(wh, settings("ann", mine_top_k=top_k), index=index)
    counts = wh.last_ok_run("mine")["counts"]
    means = check(wh, reference(world))
    for name, mean in means.items():
        assert mean == pytest.approx(0.5, abs=0.05), (regime, name, means)
    escalated = counts["escalated"]
    if regime == "rare_easy_sparse_hard":
        # Easy members are below the short shortlist and too rare for 64 draws: those anchors were scanned.
        assert escalated["by_band"]["easy"] > 0 and escalated["anchors"] > 0
    else:
        # Medium overflows the shortlist, but holds a tenth of the terms: draws fill it for most anchors.
        assert counts["bands"]["medium"]["population_estimated"] > 0
        assert escalated["share"] < 0.5


def test_nearest_first_sampling_would_fail_the_uniformity_check(wh: Warehouse) -> None:
    """The check can fail: taking each band's most similar members puts the mean percentile near 1."""
    world = build(wh, "saturated_medium")
    ref = reference(world)
    tops = []
    for bands in ref.members:
        band = sorted(bands[1].values())
        if len(band) > 2:
            tops += [(len(band) - 1 - k) / (len(band) - 1) for k in range(2)]
    assert np.mean(tops) > 0.95


class LostIndex:
    """A usearch index whose graph search gets lost for every other query: it misses the query's own
    neighbourhood (the anchor itself included) and returns the next-best terms, with their true distances."""

    def __init__(self, index: object) -> None:
        self.index = index

    def __len__(self) -> int:
        return len(self.index)  # type: ignore[arg-type]

    def search(self, queries: np.ndarray, count: int, threads: int = 0) -> object:
        from types import SimpleNamespace

        found = self.index.search(queries, 2 * count, threads=threads)  # type: ignore[attr-defined]
        keys = np.asarray(found.keys).reshape(len(queries), -1).copy()
        dist = np.asarray(found.distances).reshape(keys.shape).copy()
        keys[::2, :count], dist[::2, :count] = keys[::2, count:], dist[::2, count:]
        return SimpleNamespace(keys=keys[:, :count], distances=dist[:, :count], counts=np.full(len(queries), count))


def test_ann_scans_the_anchors_the_index_got_lost_on(wh: Warehouse) -> None:
    from usearch.index import Index

    world = build(wh, "saturated_medium")
    index = Index(ndim=64, metric="cos", dtype="f32", connectivity=32, expansion_add=400, expansion_search=800)
    index.add(world.ids.astype(np.uint64), world.vecs, threads=1)
    mine.run(wh, settings("ann", mine_top_k=400), index=LostIndex(index))
    escalated = wh.last_ok_run("mine")["counts"]["escalated"]
    assert escalated["index_missed_anchor"] > 0.4 * wh.scalar("SELECT count(DISTINCT anchor_id) FROM anchor_bands")
    check(wh, reference(world))  # the wrong neighbourhoods left no trace


class LeakyIndex(LostIndex):
    """A usearch index that never returns a third of the terms (keys divisible by 30), as a poor graph might miss them."""

    def search(self, queries: np.ndarray, count: int, threads: int = 0) -> object:
        from types import SimpleNamespace

        found = self.index.search(queries, 2 * count, threads=threads)  # type: ignore[attr-defined]
        keys = np.asarray(found.keys).reshape(len(queries), -1)
        dist = np.asarray(found.distances).reshape(keys.shape)
        kept_keys, kept_dist = [], []
        for row_keys, row_dist in zip(keys, dist):
            keep = (row_keys % 30 != 0) | (row_dist < 1e-6)  # the query itself is still found
            kept_keys.append(row_keys[keep][:count])
            kept_dist.append(row_dist[keep][:count])
        width = min(len(k) for k in kept_keys)
        return SimpleNamespace(
            keys=np.stack([k[:width] for k in kept_keys]),
            distances=np.stack([d[:width] for d in kept_dist]),
            counts=np.full(len(queries), width),
        )


def test_an_ann_run_reports_its_agreement_with_the_exact_scan(wh: Warehouse) -> None:
    """The agreement an ann run records is what a separate exact run gives those anchors, figure for figure."""
    from usearch.index import Index

    from etl.steps.mine.agreement import SAMPLE_ANCHORS
    from etl.streams import STREAM_AGREEMENT, keyed

    world = build(wh, "saturated_medium")
    index = Index(ndim=64, metric="cos", dtype="f32", connectivity=32, expansion_add=400, expansion_search=800)
    index.add(world.ids.astype(np.uint64), world.vecs, threads=1)
    picks = "SELECT anchor_id, list(negative_id ORDER BY negative_id) FROM negatives GROUP BY anchor_id"
    for leaky, expect_all in ((False, True), (True, False)):
        result = mine.run(wh, settings("ann", mine_top_k=400), index=LeakyIndex(index) if leaky else index)
        got = result.counts["ann_agreement"]
        ann = dict(wh.execute(picks).fetchall())
        mine.run(wh, settings("exact"))
        exact = dict(wh.execute(picks).fetchall())
        anchors = np.array(sorted(set(ann) | set(exact)))
        sample = anchors[np.argsort(keyed(SEED, STREAM_AGREEMENT, anchors), kind="stable")[:SAMPLE_ANCHORS]]
        same = sum(ann.get(int(a)) == exact.get(int(a)) for a in sample)
        shared = sum(len(set(ann.get(int(a), [])) & set(exact.get(int(a), []))) for a in sample)
        total = sum(len(exact.get(int(a), [])) for a in sample)
        assert (got["anchors"], got["identical_anchors"]) == (len(sample), same)
        assert (got["exact_picks"], got["shared_picks"]) == (total, shared)
        assert (same == len(sample)) is expect_all, got
        assert "sampled anchors picked exactly the exact scan's negatives" in result.render()
