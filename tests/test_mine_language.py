"""mine_language: negatives from language pools, checked against the brute-force reference restricted to each pool.

The vocabularies are test_mine_reference.py's, with a seeded half of the terms rewritten in Hangul
(minedata.korean), so anchors have same-language positives, cross-language ones, or both.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from etl import config
from etl.errors import EtlError
from etl.negatives import BAND_NAMES
from etl.steps import mine
from etl.steps.mine import calibration, pools
from etl.steps.mine.sample import quotas
from etl.warehouse import Warehouse
from tests import minedata
from tests.conftest import Etl
from tests.test_mine_reference import N_NEG, RATIOS, SEED, build, check, reference
from tests.test_report import plotly  # noqa: F401 - the fixture: skip (fail in CI) without the report extra


def settings(**overrides: object) -> config.Settings:
    return config.load(overrides={"mine_search": "exact", "seed": SEED, **overrides}).settings


class Bilingual:
    """A world with Korean terms, and each anchor's languages as the test sees them."""

    def __init__(self, wh: Warehouse, regime: str = "saturated_medium") -> None:
        self.world = build(wh, regime)
        minedata.korean(wh, self.world)
        # A term is Korean when its text holds Hangul: the rewritten half, and the variant forms ending in 하다.
        texts = wh.execute("SELECT term_id, text FROM terms").fetchall()
        self.korean = {term for term, text in texts if any("가" <= ch <= "힣" for ch in text)}
        self.is_ko = np.array([int(t) in self.korean for t in self.world.ids])
        self.partners: dict[int, set[int]] = {}
        for a, b in self.world.pairs:
            self.partners.setdefault(a, set()).add(b)
            self.partners.setdefault(b, set()).add(a)

    def lang(self, term: int) -> str:
        return "ko" if term in self.korean else "en"

    def own(self, anchor: int) -> np.ndarray:
        """The terms in the anchor's language."""
        return self.is_ko if anchor in self.korean else ~self.is_ko

    def positive_langs(self, anchor: int) -> set[str]:
        return {self.lang(p) for p in self.partners[anchor]}

    def positives(self, anchor: int) -> np.ndarray:
        """The terms in the languages of the anchor's positives."""
        langs = self.positive_langs(anchor)
        return np.where(self.is_ko, "ko" in langs, "en" in langs)

    def other(self, anchor: int) -> np.ndarray:
        """The terms in the language of the anchor's positives that is not its own (none if there is none)."""
        return self.positives(anchor) & ~self.own(anchor)


@pytest.mark.parametrize("regime", ["rare_easy_sparse_hard", "saturated_medium"])
def test_anchor_policy_is_the_reference_within_the_anchors_language(wh: Warehouse, regime: str) -> None:
    b = Bilingual(wh, regime)
    mine.run(wh, settings(mine_language="anchor"))
    means = check(wh, reference(b.world, b.own), pool="anchor")
    for name, mean in means.items():
        assert mean == pytest.approx(0.5, abs=0.05), (regime, name, means)
    pairs = wh.execute("SELECT anchor_id, negative_id FROM negatives").fetchall()
    assert pairs and all(b.lang(a) == b.lang(n) for a, n in pairs)
    pool_of = dict(wh.execute("SELECT DISTINCT anchor_id, pool FROM anchor_bands").fetchall())
    assert all(pool_of[a] == b.lang(a) for a in pool_of)


def test_positive_policy_is_the_reference_within_the_positives_languages(wh: Warehouse) -> None:
    b = Bilingual(wh)
    mine.run(wh, settings(mine_language="positive"))
    means = check(wh, reference(b.world, b.positives), pool="positive")
    assert means
    for name, mean in means.items():
        assert mean == pytest.approx(0.5, abs=0.05), (name, means)
    for a, n in wh.execute("SELECT anchor_id, negative_id FROM negatives").fetchall():
        assert b.lang(n) in b.positive_langs(a)
    pool_of = dict(wh.execute("SELECT DISTINCT anchor_id, pool FROM anchor_bands").fetchall())
    assert pool_of == {a: "+".join(sorted(b.positive_langs(a), reverse=True)) for a in b.partners}
    cross = [a for a in b.partners if b.positive_langs(a) == {"en" if b.lang(a) == "ko" else "ko"}]
    assert cross, "the world has no anchor whose positives are all in the other language"


def test_mix_splits_every_band_between_the_pools_and_fills_within_each(wh: Warehouse) -> None:
    b = Bilingual(wh)
    share = 0.6
    mine.run(wh, settings(mine_language="mix", mine_language_mix=share))
    own_ref, other_ref = reference(b.world, b.own), reference(b.world, b.other)
    quota = quotas(SEED, own_ref.anchor_ids, N_NEG, RATIOS)
    rows = wh.execute("SELECT anchor_id, band, pool, population, quota, picked FROM anchor_bands").fetchall()
    recorded = {(a, band, pool): (pop, q, picked) for a, band, pool, pop, q, picked in rows}
    negatives: dict[int, list[tuple[int, str, bool]]] = {}
    for a, n, band, filled in wh.execute("SELECT anchor_id, negative_id, band, filled FROM negatives").fetchall():
        negatives.setdefault(a, []).append((n, band, filled))
    own_taken = asked_own = 0
    two_pools = 0
    percentiles: list[float] = []
    for i, a in enumerate(own_ref.anchor_ids.tolist()):
        mine_ = negatives.get(a, [])
        own_lang = b.lang(a)
        has_other = bool(b.other(a).any())
        two_pools += has_other
        slots = [(own_lang, own_ref)] + ([("en" if own_lang == "ko" else "ko", other_ref)] if has_other else [])
        assert {pool for (x, _, pool) in recorded if x == a} == {lang for lang, _ in slots}
        split = [[recorded[(a, band, lang)][1] for band in BAND_NAMES] for lang, _ in slots]
        assert np.sum(split, axis=0).tolist() == quota[i].tolist()  # each band's quota, split between the pools
        if not has_other:
            assert split[0] == quota[i].tolist()
        asked_own += sum(split[0]) if has_other else 0
        for (lang, ref), asked in zip(slots, split, strict=True):
            members = ref.members[i]
            in_pool = [(n, band, f) for n, band, f in mine_ if b.lang(n) == lang]
            # The pool ends with its share, or all its members; fills come from the pool's own bands.
            assert len(in_pool) == min(sum(asked), sum(len(m) for m in members)), (a, lang)
            for code, name in enumerate(BAND_NAMES):
                population, _, picked = recorded[(a, name, lang)]
                assert population == len(members[code]), (a, lang, name)
                by_quota = [n for n, band, f in in_pool if band == name and not f]
                assert len(by_quota) == picked == min(asked[code], len(members[code])), (a, lang, name)
                assert all(n in members[code] for n, band, _ in in_pool if band == name)
                if len(members[code]) > asked[code]:  # a uniform sample of the pool's band members
                    ranked = sorted(members[code].values())
                    percentiles += [ranked.index(members[code][n]) / (len(ranked) - 1) for n in by_quota]
            if lang == own_lang and has_other:
                own_taken += len(in_pool)
        assert all(b.lang(n) in {lang for lang, _ in slots} for n, _, _ in mine_)
    assert two_pools > 50
    assert len(percentiles) > 500 and np.mean(percentiles) == pytest.approx(0.5, abs=0.05)
    # Systematic rounding per anchor: the anchor's language gets `share` of the negatives on average.
    assert asked_own / (two_pools * N_NEG) == pytest.approx(share, abs=0.05)
    assert own_taken > 0


def test_any_is_not_restricted_and_reports_the_language_pairs(wh: Warehouse) -> None:
    b = Bilingual(wh)
    mine.run(wh, settings())
    counts = wh.last_ok_run("mine")["counts"]
    check(wh, reference(b.world))  # the plain reference: no pool
    expected = {name: {f"{x}→{y}": 0 for x in ("ko", "en") for y in ("ko", "en")} for name in BAND_NAMES}
    for a, n, band in wh.execute("SELECT anchor_id, negative_id, band FROM negatives").fetchall():
        expected[band][f"{b.lang(a)}→{b.lang(n)}"] += 1
    assert counts["languages"] == expected
    assert counts["language"] == "any"
    assert {pair for band in expected.values() for pair, n in band.items() if n} == set(expected["easy"])
    total = sum(sum(v.values()) for v in expected.values())
    same = sum(v["ko→ko"] + v["en→en"] for v in expected.values())
    assert counts["language_shares"]["all"]["ko→ko"] + counts["language_shares"]["all"]["en→en"] == pytest.approx(
        same / total, abs=1e-3
    )
    assert wh.execute("SELECT DISTINCT pool FROM anchor_bands").fetchall() == [("any",)]


def test_the_language_pairs_reach_the_summary_the_stats_file_and_the_card(
    etl: Etl, warehouse_path: Path, tmp_path: Path
) -> None:
    with Warehouse.open(warehouse_path) as wh:
        b = Bilingual(wh, "rare_easy_sparse_hard")
    out = etl("mine", "--search", "exact", "--language", "anchor").output
    assert "languages" in out and "(policy anchor)" in out and "ko→en 0%" in out
    etl("export", "triplets", "--out", str(tmp_path / "export"))
    stats = json.loads(next((tmp_path / "export").rglob("data_preparation_stats.json")).read_text())
    with Warehouse.open(warehouse_path) as wh:
        landed = wh.execute("SELECT anchor_id, negative_id, band FROM negatives").fetchall()
    hard = sum(1 for a, n, band in landed if band == "hard" and b.lang(a) == b.lang(n) == "ko")
    assert stats["language_pairs"]["negatives"]["hard"]["ko→ko"] == hard
    assert stats["language_pairs"]["negatives"]["easy"]["en→ko"] == 0
    assert stats["config"]["language"] == "anchor"
    card = next((tmp_path / "export").rglob("README.md")).read_text()
    assert "## Negatives by language" in card and "mine_language = anchor" in card


def test_ann_refuses_a_language_policy_and_auto_scans(wh: Warehouse) -> None:
    Bilingual(wh, "rare_easy_sparse_hard")
    with pytest.raises(EtlError, match="--search ann cannot mine language pools"):
        mine.run(wh, settings(mine_search="ann", mine_language="anchor"))
    mine.run(wh, settings(mine_search="auto", mine_language="positive"))
    counts = wh.last_ok_run("mine")["counts"]
    assert counts["search"] == "exact" and "language pools" in counts["search_reason"]


def test_a_bad_mix_share_is_refused() -> None:
    with pytest.raises(config.ConfigError, match="mine_language_mix"):
        settings(mine_language="mix", mine_language_mix=1.5)


def test_calibration_per_pool_gives_cross_language_pairs_their_own_bands(wh: Warehouse) -> None:
    b = Bilingual(wh)
    # Korean terms share a direction: same-language cosines run higher than cross-language ones.
    tilt = np.where(b.is_ko[:, None], 1.0, -1.0) * np.eye(64, dtype=np.float32)[0] * 0.6
    vecs = b.world.vecs + tilt.astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    wh.execute("DELETE FROM term_embeddings")
    minedata.insert_vectors(wh, b.world.ids, vecs)
    b.world.vecs = vecs
    pct = (0.5, 0.99, 0.999, 0.9999)
    mine.run(wh, settings(mine_language="positive", mine_calibrate=True, mine_percentiles=pct))
    plan = wh.last_ok_run("mine")["counts"]["config"]
    inputs = mine.prepare(wh, minedata.MODEL)
    rows_a, rows_b, sims = calibration.sample_pairs(inputs, SEED)
    same = b.is_ko[rows_a] == b.is_ko[rows_b]
    for kind, mask in (("same", same), ("cross", ~same)):
        edges = np.quantile(sims[mask].astype(np.float64), pct).astype(np.float32)
        assert plan["pool_bands"][kind]["easy"][0] == pytest.approx(float(edges[0]), abs=1e-6)
        assert plan["pool_bands"][kind]["hard"][1] == pytest.approx(float(edges[3]), abs=1e-6)
    assert plan["pool_bands"]["same"]["medium"][0] > plan["pool_bands"]["cross"]["medium"][0] + 0.2
    # A cross-language anchor's band members are the reference's under the cross bands.
    cross_bands = [tuple(plan["pool_bands"]["cross"][name]) for name in BAND_NAMES]
    ref = reference(b.world, b.positives, edges=cross_bands)
    picks = wh.execute("SELECT anchor_id, negative_id, band FROM negatives").fetchall()
    position = {int(a): i for i, a in enumerate(ref.anchor_ids)}
    checked = 0
    for a, n, band in picks:
        if b.positive_langs(a) == {"en" if b.lang(a) == "ko" else "ko"}:
            assert n in ref.members[position[a]][BAND_NAMES.index(band)]
            checked += 1
    assert checked > 0
    assert pools.kind(pools.KO, pools.EN) == "cross"
    summary = mine.summary(wh.last_ok_run("mine")["counts"], 1.0).render()
    assert "cross-language" in summary and "same-language" in summary


def test_any_with_calibration_keeps_the_single_set_of_bands(wh: Warehouse) -> None:
    Bilingual(wh, "rare_easy_sparse_hard")
    mine.run(wh, settings(mine_calibrate=True))
    assert "pool_bands" not in wh.last_ok_run("mine")["counts"]["config"]


def test_etl_run_takes_the_policy_and_re_mines_when_it_changes(etl: Etl, warehouse_path: Path, tmp_path: Path) -> None:
    etl("run", "--example", "--out", str(tmp_path / "out"))
    etl("run", "--example", "--out", str(tmp_path / "out"), "--language", "anchor")
    with Warehouse.open(warehouse_path) as wh:
        runs = wh.execute(
            "SELECT params, counts FROM runs WHERE step = 'mine' AND status = 'ok' ORDER BY run_id"
        ).fetchall()
    assert [json.loads(p)["mine_language"] for p, _ in runs] == ["any", "anchor"]
    shares = json.loads(runs[-1][1])["language_shares"]["all"]
    assert shares["ko→en"] == shares["en→ko"] == 0.0 and shares["ko→ko"] > 0


@pytest.mark.usefixtures("plotly")
def test_etl_report_shows_each_bands_language_pairs(wh: Warehouse) -> None:
    from etl.steps import report
    from etl.steps.report import figures

    b = Bilingual(wh, "rare_easy_sparse_hard")
    mine.run(wh, settings(mine_language="positive"))
    section = figures.bands(report.collect(wh))
    header, *rows = section.table
    assert header == ["band", "negatives", "ko→ko", "ko→en", "en→ko", "en→en"]
    landed = wh.execute("SELECT anchor_id, negative_id, band FROM negatives").fetchall()
    for row in rows:
        band = [(a, n) for a, n, name in landed if name == row[0]]
        assert row[1] == f"{len(band):,}"
        if band:
            same = sum(1 for a, n in band if b.lang(a) == b.lang(n) == "ko")
            assert row[2] == f"{same / len(band):.1%}"
    assert "mine_language positive" in section.note
