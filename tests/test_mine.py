"""`etl mine`: bands, quotas and fill, exclusions, the cap, search modes and reproducibility."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from etl import config, splits
from etl.errors import CheckFailed, EtlError
from etl.steps import mine
from etl.steps.mine import sample as mine_sample
from etl.steps.mine.sample import Bands, quotas
from etl.warehouse import Warehouse
from tests import minedata

BOUNDARIES = (0.3, 0.5, 0.7, 0.9)


def settings(**overrides: object) -> config.Settings:
    """Defaults plus overrides, as a command's options would give them."""
    return config.load(overrides={"mine_search": "exact", **overrides}).settings


def below(x: float) -> np.float32:
    """The largest float32 below float32(x)."""
    return np.nextafter(np.float32(x), np.float32(-1))


# -- bands, quotas, the pick -------------------------------------------------------------------------


def test_band_edges_are_low_inclusive_high_exclusive_in_float32() -> None:
    bands = Bands.of((0.3, 0.5), (0.5, 0.7), (0.7, 0.9))
    sims = np.array([below(0.3), 0.3, below(0.5), 0.5, below(0.7), 0.7, below(0.9), 0.9], dtype=np.float32)
    assert bands.classify(sims).tolist() == [-1, 0, 0, 1, 1, 2, 2, -1]
    assert bands.thresholds.tolist() == pytest.approx([0.3, 0.5, 0.7, 0.9])


def test_quotas_sum_to_n_and_average_to_the_ratios() -> None:
    ids = np.arange(200_000, dtype=np.int64)
    q = quotas(42, ids, 5, (0.33, 0.33, 0.34))
    assert (q.sum(axis=1) == 5).all() and (q >= 0).all()
    assert q.mean(axis=0) == pytest.approx([1.65, 1.65, 1.70], abs=0.01)
    assert (quotas(42, ids[:100], 5, (1, 0, 0)) == [5, 0, 0]).all()
    # Per anchor, not per position: the same anchor gets the same quota in any company.
    assert (quotas(42, ids[50:60], 5, (0.33, 0.33, 0.34)) == q[50:60]).all()


def test_pick_fills_a_short_band_and_labels_by_real_similarity() -> None:
    bands = Bands.of((0.3, 0.5), (0.5, 0.7), (0.7, 0.9))
    # One anchor: no easy candidate, one medium, six hard, one above every band.
    sims = np.array([0.55, 0.71, 0.72, 0.75, 0.8, 0.85, 0.88, 0.95], dtype=np.float32)
    rows = np.arange(len(sims), dtype=np.int64)
    members = mine_sample.Members(
        np.zeros(len(sims), dtype=np.int64),
        rows,
        sims,
        bands.classify(sims),
        rows[::-1].copy(),
        np.zeros(len(sims), dtype=np.int8),
    ).take(bands.classify(sims) >= 0)
    picks = mine_sample.pick(members, np.array([[2, 2, 1]]), 5)
    assert len(picks.row) == 5
    assert 7 not in picks.row.tolist()  # 0.95 is outside every band, even for the fill
    assert (picks.band == bands.classify(picks.sim)).all()
    got = {(int(r), int(b), bool(f)) for r, b, f in zip(picks.row, picks.band, picks.filled)}
    assert (0, 1, False) in got  # the only medium, by quota
    assert sum(1 for _, b, f in got if b == 2 and not f) == 1  # hard quota of one
    assert sum(1 for _, b, f in got if b == 2 and f) == 3  # the shortfall, filled, still labelled hard


# -- the step on a warehouse -------------------------------------------------------------------------


def boundary_world(wh: Warehouse) -> dict[str, int]:
    """Anchor e1 with candidates exactly on and just below every band edge (float32 dot products)."""
    sims = [s for edge in BOUNDARIES for s in (np.float32(edge), below(edge))]
    vecs = [[1, 0, 0, 0], [0, 0, 0, 1]]  # the anchor, and its positive (orthogonal: it gets no negative)
    vecs += [[s, np.sqrt(1 - np.float64(s) ** 2), 0, 0] for s in sims]
    matrix = np.array(vecs, dtype=np.float32)
    ids = np.arange(1, len(vecs) + 1, dtype=np.int64)
    texts = [f"w{i}" for i in ids]
    minedata.insert(wh, ids, texts, texts, matrix, [(1, 2)], {1: 1, 2: 1})
    return {f"{s!r}": int(i) for s, i in zip(sims, ids[2:])}


def test_boundaries_through_the_step(wh: Warehouse) -> None:
    by_sim = boundary_world(wh)
    mine.run(wh, settings(mine_negatives=20))
    got = dict(wh.execute("SELECT negative_id, band FROM negatives WHERE anchor_id = 1").fetchall())
    expected = {
        by_sim[repr(np.float32(0.3))]: "easy",
        by_sim[repr(below(0.5))]: "easy",
        by_sim[repr(np.float32(0.5))]: "medium",
        by_sim[repr(below(0.7))]: "medium",
        by_sim[repr(np.float32(0.7))]: "hard",
        by_sim[repr(below(0.9))]: "hard",
    }
    assert got == expected  # below 0.3 and exactly 0.9 are never negatives
    stored = dict(wh.execute("SELECT negative_id, similarity FROM negatives").fetchall())
    assert stored[by_sim[repr(np.float32(0.7))]] == np.float32(0.7)


def test_anchor_without_negative_is_counted_and_listed(wh: Warehouse) -> None:
    boundary_world(wh)
    mine.run(wh, settings())
    rejects = wh.execute("SELECT step, rule, source, payload FROM rejects").fetchall()
    assert [(s, r, src) for s, r, src, _ in rejects] == [("mine", "no_negative", "w2")]
    assert json.loads(rejects[0][3])["anchor_id"] == 2
    counts = wh.last_ok_run("mine")["counts"]
    assert counts["skipped_anchors"] == 1 and counts["anchors"] == 2
    assert wh.scalar("SELECT count(*) FROM triplets WHERE anchor_id = 2") == 0


@pytest.fixture
def world(wh: Warehouse) -> minedata.World:
    """The synthetic vocabulary, plus look-alikes that only the norm rule catches."""
    w = minedata.build(wh)
    # Terms spelled like an anchor or a positive (same norm), placed right next to them.
    group = sorted(set(w.group_of.values()))[0]
    members = sorted(t for t, g in w.group_of.items() if g == group)
    rows = {int(t): i for i, t in enumerate(w.ids)}
    extra_ids, extra_texts, extra_vecs = [], [], []
    rng = np.random.default_rng(9)
    for k, term in enumerate(members[:2]):
        # Cosine 0.8 to its twin: inside the hard band, so only the norm rule keeps it out.
        twin = w.vecs[rows[term]]
        other = rng.standard_normal(w.vecs.shape[1]).astype(np.float32)
        other -= (other @ twin) * twin
        v = 0.8 * twin + 0.6 * other / np.linalg.norm(other)
        extra_ids.append(900_000 + k)
        extra_texts.append(w.texts[rows[term]].upper())
        extra_vecs.append(v / np.linalg.norm(v))
    minedata.insert(
        wh, np.array(extra_ids), extra_texts, [t.casefold() for t in extra_texts], np.array(extra_vecs), [], {}
    )
    w.lookalikes = dict(zip(extra_ids, members[:2]))  # type: ignore[attr-defined]
    w.ids = np.concatenate([w.ids, extra_ids])
    w.vecs = np.concatenate([w.vecs, np.array(extra_vecs, dtype=np.float32)])
    w.texts += extra_texts
    return w


def test_no_known_synonym_is_ever_a_negative(wh: Warehouse, world: minedata.World) -> None:
    mine.run(wh, settings(mine_negatives=50))  # take nearly every in-band candidate
    negatives = wh.execute("SELECT anchor_id, negative_id FROM negatives").fetchall()
    assert negatives
    positives: dict[int, set[int]] = {}
    for a, b in world.pairs:
        positives.setdefault(a, set()).add(b)
        positives.setdefault(b, set()).add(a)
    norm = dict(wh.execute("SELECT term_id, norm FROM terms").fetchall())
    group_norms: dict[int, set[str]] = {}
    for term, group in world.group_of.items():
        group_norms.setdefault(group, set()).add(norm[term])
    for anchor, negative in negatives:
        assert negative != anchor
        assert world.group_of.get(negative) != world.group_of[anchor], (anchor, negative)
        assert norm[negative] not in {norm[anchor], *(norm[p] for p in positives[anchor])}, (anchor, negative)
        assert norm[negative] not in group_norms[world.group_of[anchor]], (anchor, negative)
    # The look-alikes sit in the hard band of their twins, yet no anchor of that group takes them.
    lookalikes: dict[int, int] = world.lookalikes  # type: ignore[attr-defined]
    group = world.group_of[next(iter(lookalikes.values()))]
    rows = {int(t): i for i, t in enumerate(world.ids)}
    for fake, twin in lookalikes.items():
        assert 0.7 <= float(world.vecs[rows[fake]] @ world.vecs[rows[twin]]) < 0.9
    taken = {n for a, n in negatives if world.group_of[a] == group}
    assert taken and not taken & set(lookalikes)


def test_triplets_are_positives_times_negatives(wh: Warehouse, world: minedata.World) -> None:
    mine.run(wh, settings())
    bad = wh.execute(
        """
        SELECT count(*) FROM triplets t
        JOIN terms a ON a.term_id = t.anchor_id JOIN terms p ON p.term_id = t.positive_id
        JOIN terms n ON n.term_id = t.negative_id JOIN synonym_groups g ON g.term_id = t.anchor_id
        WHERE t.anchor <> a.text OR t.positive <> p.text OR t.negative <> n.text OR t.group_id <> g.group_id
        """
    ).fetchone()[0]
    assert bad == 0
    per_anchor = dict(wh.execute("SELECT anchor_id, count(*) FROM negatives GROUP BY anchor_id").fetchall())
    degree: dict[int, int] = {}
    for a, b in world.pairs:
        degree[a] = degree.get(a, 0) + 1
        degree[b] = degree.get(b, 0) + 1
    assert wh.scalar("SELECT count(*) FROM triplets") == sum(n * degree[a] for a, n in per_anchor.items())
    # Every label is the band of the stored similarity, and that similarity is the real cosine.
    rows = {int(t): i for i, t in enumerate(world.ids)}
    bands = Bands.of((0.3, 0.5), (0.5, 0.7), (0.7, 0.9))
    for a, n, sim, band in wh.execute("SELECT anchor_id, negative_id, similarity, band FROM negatives").fetchall():
        exact = float(world.vecs[rows[a]] @ world.vecs[rows[n]])
        assert sim == pytest.approx(exact, abs=1e-5)
        assert band == mine_sample.BAND_NAMES[bands.classify(np.float32(sim))]


def test_quota_ratios_and_fill_show_in_counts(wh: Warehouse, world: minedata.World) -> None:
    mine.run(wh, settings(mine_ratios="1,0,0"))
    counts = wh.last_ok_run("mine")["counts"]
    assert counts["bands"]["easy"]["quota"] == 5 * counts["anchors"]
    assert counts["bands"]["medium"]["quota"] == counts["bands"]["hard"]["quota"] == 0
    assert wh.scalar("SELECT count(*) FROM negatives WHERE band <> 'easy' AND NOT filled") == 0
    filled = wh.scalar("SELECT count(*) FROM negatives WHERE filled")
    assert (
        filled
        == counts["bands"]["medium"]["by_fill"]
        + counts["bands"]["hard"]["by_fill"]
        + counts["bands"]["easy"]["by_fill"]
    )


def test_positive_aware_cap(wh: Warehouse, world: minedata.World) -> None:
    rows = {int(t): i for i, t in enumerate(world.ids)}

    def violations() -> int:
        triplets = wh.execute("SELECT anchor_id, positive_id, negative_similarity FROM triplets").fetchall()
        lowest: dict[int, float] = {}
        for a, p, _ in triplets:
            lowest[a] = min(lowest.get(a, 2.0), float(world.vecs[rows[a]] @ world.vecs[rows[p]]))
        return sum(1 for a, _, s in triplets if s > 0.8 * lowest[a] + 1e-6)

    mine.run(wh, settings())
    assert violations() > 0  # without the cap, some negatives beat 0.8 x the positive
    mine.run(wh, settings(mine_max_neg_ratio=0.8))
    assert wh.scalar("SELECT count(*) FROM triplets") > 0
    assert violations() == 0


def test_inputs_with_a_pair_across_groups_fail_clearly_and_write_nothing(wh: Warehouse, world: minedata.World) -> None:
    mine.run(wh, settings())
    before = wh.execute("SELECT * FROM triplets ORDER BY ALL").fetchall()
    _a, b = world.pairs[0]
    wh.execute("UPDATE synonym_groups SET group_id = -5 WHERE term_id = ?", [b])
    with pytest.raises(CheckFailed, match="one synonym group"):
        mine.run(wh, settings())
    assert wh.execute("SELECT * FROM triplets ORDER BY ALL").fetchall() == before
    assert wh.scalar("SELECT status FROM runs ORDER BY run_id DESC LIMIT 1") == "failed"


def test_a_failure_while_writing_keeps_the_previous_result(
    wh: Warehouse, world: minedata.World, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine.run(wh, settings())
    before = wh.execute("SELECT * FROM negatives ORDER BY ALL").fetchall()

    def broken(_wh: Warehouse, _by: str) -> None:
        raise CheckFailed("simulated")

    monkeypatch.setattr(splits, "check", broken)
    with pytest.raises(CheckFailed):
        mine.run(wh, settings(seed=7))
    assert wh.execute("SELECT * FROM negatives ORDER BY ALL").fetchall() == before


def test_model_choice(wh: Warehouse) -> None:
    with pytest.raises(EtlError, match="run `etl embed`"):
        mine.run(wh, settings())
    minedata.build(wh, n_terms=50, n_groups=5)
    wh.execute("INSERT INTO term_embeddings SELECT term_id, 'other', dim, vec, run_id FROM term_embeddings")
    with pytest.raises(EtlError, match="choose one with --model"):
        mine.run(wh, settings())
    with pytest.raises(EtlError, match="no vectors for model 'nope'"):
        mine.run(wh, settings(), model="nope")
    mine.run(wh, settings(), model="other")
    assert json.loads(wh.scalar("SELECT params FROM runs WHERE step = 'mine' AND status = 'ok'"))["model"] == "other"


def test_calibrated_bands_follow_the_model(wh: Warehouse) -> None:
    # An E5-like model: a strong shared direction puts unrelated terms at 0.75 and above.
    rng = np.random.default_rng(3)
    base = minedata.clustered(600, 32, rng)
    shifted = base + 2.2 * np.eye(32, dtype=np.float32)[0]
    shifted /= np.linalg.norm(shifted, axis=1, keepdims=True)
    minedata.build(wh, vecs=shifted)
    mine.run(wh, settings())
    fixed = dict(wh.execute("SELECT band, count(*) FROM negatives GROUP BY band").fetchall())
    # Fixed cosines: nearly all "hard", and the rare easy members this model has are all there is of easy.
    assert fixed.get("easy", 0) < 0.01 * sum(fixed.values()) and fixed["hard"] > 2 * fixed.get("medium", 0)
    assert wh.last_ok_run("mine")["counts"]["warnings"]  # the easy band is empty for most anchors
    mine.run(wh, settings(mine_calibrate=True))
    counts = wh.last_ok_run("mine")["counts"]
    edges = [counts["config"]["bands"][b] for b in mine_sample.BAND_NAMES]
    assert edges[0][0] > 0.7 and edges[0][1] == edges[1][0] and edges[1][1] == edges[2][0] < edges[2][1]
    calibrated = dict(wh.execute("SELECT band, count(*) FROM negatives GROUP BY band").fetchall())
    assert set(calibrated) == {"easy", "medium", "hard"}
    bands = Bands(np.array(edges, dtype=np.float32))
    sims, labels = zip(*wh.execute("SELECT similarity, band FROM negatives").fetchall())
    assert [mine_sample.BAND_NAMES[c] for c in bands.classify(np.array(sims, dtype=np.float32))] == list(labels)


# -- search modes and reproducibility ---------------------------------------------------------------


def snapshot(wh: Warehouse, how: bool = True) -> list[tuple]:
    """The negatives, with or without how each was found (`source`)."""
    drop = "run_id" if how else "run_id, source"
    return wh.execute(f"SELECT * EXCLUDE ({drop}) FROM negatives ORDER BY anchor_id, negative_id").fetchall()


def test_ann_search_matches_exact_search_when_recall_is_perfect(wh: Warehouse, world: minedata.World) -> None:
    from usearch.index import Index

    from etl import vectors

    ids, vecs = vectors.load(wh, minedata.MODEL)
    index = Index(
        ndim=vecs.shape[1], metric="cos", dtype="f32", connectivity=32, expansion_add=400, expansion_search=800
    )
    index.add(ids.astype(np.uint64), vecs, threads=1)
    mine.run(wh, settings())
    exact = snapshot(wh, how=False)
    mine.run(wh, settings(mine_search="ann"), index=index)
    assert wh.last_ok_run("mine")["counts"]["search"] == "ann"
    assert snapshot(wh, how=False) == exact  # the same picks, found partly through the index


def test_two_runs_and_any_chunking_give_identical_rows(
    wh: Warehouse, world: minedata.World, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine.run(wh, settings())
    first = snapshot(wh)
    triplets = wh.execute("SELECT * EXCLUDE (run_id) FROM triplets ORDER BY ALL").fetchall()
    mine.run(wh, settings())
    assert snapshot(wh) == first
    monkeypatch.setattr("etl.steps.mine.search.EXACT_CHUNK_BYTES", 1)  # 16 anchors per chunk
    monkeypatch.setattr("etl.vectors.PAIR_BLOCK", 7)
    mine.run(wh, settings())
    assert snapshot(wh) == first
    assert wh.execute("SELECT * EXCLUDE (run_id) FROM triplets ORDER BY ALL").fetchall() == triplets
    mine.run(wh, settings(seed=43))
    assert snapshot(wh) != first
    # Stored cosines come from a fixed-order dot product of the two rows, not from a BLAS product
    # (whose last bits depend on the kernel, the chunk shape and, with some libraries, the threads).
    rows = {int(t): i for i, t in enumerate(world.ids)}
    a, n, sim = zip(*wh.execute("SELECT anchor_id, negative_id, similarity FROM negatives").fetchall())
    ra, rn = [rows[x] for x in a], [rows[x] for x in n]
    assert np.array_equal(np.einsum("ij,ij->i", world.vecs[ra], world.vecs[rn]), np.array(sim, dtype=np.float32))


def test_one_and_two_threads_export_identical_bytes(tmp_path: Path) -> None:
    warehouse = tmp_path / "threads.duckdb"
    with Warehouse.open(warehouse) as wh:
        minedata.build(wh, n_terms=6000, dim=128, n_groups=600, seed=5)
    outputs = []
    for threads in ("1", "2"):
        env = {**os.environ, "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        out = tmp_path / f"out-{threads}"
        for args in (["mine", "--search", "exact"], ["export", "triplets", "--out", str(out)]):
            subprocess.run(
                [sys.executable, "-m", "etl", "--warehouse", str(warehouse), *args],
                env=env,
                check=True,
                capture_output=True,
            )
        outputs.append(out)
    for name in ("train.parquet", "validation.parquet", "train_triplets.jsonl", "val_triplets.jsonl"):
        one, two = ((o / name).read_bytes() for o in outputs)
        assert one == two, name
        assert len(one) > 1000


def test_auto_search_takes_the_exact_scan_when_it_is_quick(wh: Warehouse, world: minedata.World) -> None:
    mine.run(wh, settings(mine_search="auto"))
    counts = wh.last_ok_run("mine")["counts"]
    assert counts["search"] == "exact"
    assert counts["search_reason"].startswith("auto: exact scan ~")


def test_auto_records_its_estimates_beside_the_time_the_chosen_path_took(
    wh: Warehouse, world: minedata.World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etl.steps.mine import cost

    monkeypatch.setattr(cost, "EXACT_WITHOUT_ASKING", -1.0)  # weigh the index even on a quick scan
    result = mine.run(wh, settings(mine_search="auto"))
    counts = wh.last_ok_run("mine")["counts"]
    estimate, laps = counts["estimate"], counts["seconds"]
    assert estimate["chosen"] == counts["search"] in ("exact", "ann")
    assert estimate["estimated_seconds"] == estimate[counts["search"]]
    assert {"exact", "ann", "index_build", "ann_search", "escalation_share"} <= set(estimate)
    assert estimate["taken_seconds"] == pytest.approx(laps.get("index", 0.0) + laps["search"])
    shown = dict(result.lines)["  estimate"]
    assert shown == (
        f"{estimate['chosen']} ~{estimate['estimated_seconds']:.1f}s estimated, "
        f"{estimate['taken_seconds']:.1f}s taken (index build and search)"
    )
    mine.run(wh, settings(mine_search="exact"))  # a mode asked for estimates nothing
    assert "estimate" not in wh.last_ok_run("mine")["counts"]


def test_auto_takes_what_past_runs_of_this_model_and_shape_really_took(
    wh: Warehouse, world: minedata.World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etl.steps.mine import cost

    monkeypatch.setattr(cost, "EXACT_WITHOUT_ASKING", -1.0)  # weigh the index even on a quick scan
    mine.run(wh, settings(mine_search="exact"))
    exact_run = wh.last_ok_run("mine")
    mine.run(wh, settings(mine_search="ann"))
    ann_run = wh.last_ok_run("mine")
    assert ann_run["counts"]["index_built"] is True
    past = cost.learned(wh, minedata.MODEL, exact_run["counts"]["terms"], exact_run["counts"]["dim"])
    anchors = exact_run["counts"]["anchors"]
    assert past["exact"] == pytest.approx(exact_run["counts"]["seconds"]["search"] / anchors)
    assert past["ann"] == pytest.approx(ann_run["counts"]["seconds"]["search"] / anchors)
    assert past["index_build"] == ann_run["counts"]["seconds"]["index"]
    assert cost.learned(wh, "another-model", 10, 10) == {}

    mine.run(wh, settings(mine_search="auto"))
    auto = wh.last_ok_run("mine")["counts"]
    estimate = auto["estimate"]
    assert estimate["exact"] == pytest.approx(past["exact"] * anchors, abs=1e-3)
    # The index is current (the ann run saved it): no build; the search as the ann run took it.
    assert estimate["ann"] == pytest.approx(past["ann"] * anchors, abs=1e-3) and estimate["index_build"] == 0
    assert estimate["ann_margin"] == 1.0
    assert auto["search"] == ("ann" if estimate["ann"] < estimate["exact"] else "exact")
    assert (
        f"(run {exact_run['run_id']})" in auto["search_reason"] and f"run {ann_run['run_id']}" in auto["search_reason"]
    )


@pytest.mark.parametrize(("ann_share", "chosen"), [(0.6, "exact"), (0.3, "ann")])
def test_auto_takes_an_ann_path_never_run_here_only_when_it_looks_twice_as_fast(
    wh: Warehouse, world: minedata.World, monkeypatch: pytest.MonkeyPatch, ann_share: float, chosen: str
) -> None:
    from etl.steps.mine import cost

    monkeypatch.setattr(cost, "EXACT_WITHOUT_ASKING", -1.0)
    # An exact scan that took 1 s per anchor before; the ANN path never ran: its estimate is ann_share of that.
    monkeypatch.setattr(cost, "learned", lambda wh, model, n, dim: {"exact": 1.0, "exact_run": 1})
    monkeypatch.setattr(cost, "escalation_share", lambda ctx, probe, sims: 0.0)
    monkeypatch.setattr(cost, "_build_seconds", lambda settings, ctx, index: (0.0, "index current"))
    monkeypatch.setattr(cost, "_search_seconds", lambda ctx, index, probe, build: ann_share * len(ctx.inputs.anchors))
    mine.run(wh, settings(mine_search="auto"))
    counts = wh.last_ok_run("mine")["counts"]
    assert counts["search"] == chosen, counts["search_reason"]
    assert counts["estimate"]["ann_margin"] == 2.0
    if chosen == "exact":
        assert "never run on this model and shape must look 2x faster" in counts["search_reason"]


def test_the_exclusions_the_scan_blanks_are_exactly_those_the_predicate_forbids(
    wh: Warehouse, world: minedata.World
) -> None:
    from etl.steps.mine import loading as mine_data

    inputs = mine_data.load(wh, minedata.MODEL)
    anchors = np.arange(len(inputs.anchors), dtype=np.int64)
    which, rows = inputs.exclusions(anchors)
    listed = set(zip(which.tolist(), rows.tolist()))
    every_a = np.repeat(anchors, len(inputs.ids))
    every_r = np.tile(np.arange(len(inputs.ids)), len(anchors))
    forbidden = inputs.excluded(every_a, every_r)
    assert listed == set(zip(every_a[forbidden].tolist(), every_r[forbidden].tolist()))
    assert any(
        inputs.spelling[r] == inputs.spelling[inputs.anchors[a]] and r != inputs.anchors[a] for a, r in listed
    )  # look-alikes


def test_summary_gives_the_triplets_difficulty_distribution_with_percentages(etl, warehouse_path: Path) -> None:
    etl("run", "--example")
    out = etl("mine", "--ratios", "0.2,0.2,0.6").output
    line = next(x for x in out.splitlines() if x.strip().startswith("triplets by difficulty"))
    with Warehouse.open(warehouse_path, read_only=True) as wh:
        counts = wh.execute("SELECT difficulty, count(*) FROM triplets GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()
        quotas = wh.execute("SELECT DISTINCT band, quota FROM anchor_bands ORDER BY quota, band").fetchall()
    total = sum(n for _, n in counts)
    expected = "  ".join(f"{d} {n:,} ({100 * n / total:.1f}%)" for d, n in counts)
    assert line.split("triplets by difficulty", 1)[1].strip() == expected
    # The notebook's int() truncation: every anchor asks 1 easy, 1 medium and 3 hard.
    assert quotas == [("easy", 1), ("medium", 1), ("hard", 3)]
