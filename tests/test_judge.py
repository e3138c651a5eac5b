"""`etl judge` against the loopback LLM server: verdicts, replacements by the seeded order, faults, resume, promotion."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import etl
from etl.errors import ConfigError, EtlError, ServiceError
from etl.steps.judge import tasks
from etl.warehouse import Warehouse
from tests import llm_answers, minedata
from tests.fakeserver import FakeLLMServer, Reply
from tests.test_mine_reference import EDGES, Reference, build, check, reference
from tests.test_report import plotly  # noqa: F401 - the fixture: skip (fail in CI) without the report extra

FAST = {"backoff": 0.01}


def mined(wh: Warehouse, **mine: Any) -> minedata.World:
    """A synthetic vocabulary (600 terms, 60 groups), mined by the exact scan."""
    world = minedata.build(wh)
    etl.mine(wh, search="exact", seed=42, **mine)
    return world


def pairs_in(wh: Warehouse, table: str, where: str = "") -> set[tuple[int, int]]:
    return {(a, n) for a, n in wh.execute(f"SELECT anchor_id, negative_id FROM {table} {where}").fetchall()}


def judged_same(wh: Warehouse) -> set[tuple[int, int]]:
    return pairs_in(wh, "negative_judgements", "WHERE trial = 0 AND verdict = 'same'")


def asked(server: FakeLLMServer, since: int = 0) -> list[tuple[str, str]]:
    """(anchor, candidate) of every pair the server was asked about, in order."""
    return [(a, c) for s in server.seen[since:] if s.path == "/api/chat" for _, a, c in llm_answers.judge_items(s.body)]


@pytest.fixture
def judge_server(llm_server: FakeLLMServer) -> FakeLLMServer:
    llm_server.responder = llm_answers.judge()
    return llm_server


def test_pairs_judged_same_leave_the_triplets_and_a_rerun_sends_nothing(wh, judge_server) -> None:
    mined(wh)
    hard_before = pairs_in(wh, "negatives", "WHERE band = 'hard'")
    result = etl.judge(wh, url=[judge_server.url], rounds=10, **FAST)
    same = judged_same(wh)
    assert same and same <= hard_before | pairs_in(wh, "negative_judgements")
    assert not same & pairs_in(wh, "negatives") and not same & pairs_in(wh, "triplets")
    assert wh.run_checks("mine_output_") == {}
    counts = result.counts
    assert counts["bands"]["hard"]["same"] == len(same) and counts["replaced"] == len(same)
    assert counts["rounds"] >= 2 and counts["unjudged"] == 0 and counts["failed"] == 0
    # Every current hard negative has a verdict; none of them is `same`.
    hard_now = pairs_in(wh, "negatives", "WHERE band = 'hard'")
    assert hard_now <= pairs_in(wh, "negative_judgements", "WHERE trial = 0 AND verdict <> 'same'")
    # Only hard negatives were asked about (the default band), each once.
    asked_pairs = asked(judge_server)
    sampled = counts["consistency"]["asked_twice"]
    assert len(asked_pairs) == counts["bands"]["hard"]["judged"] + sampled
    seen = judge_server.count()
    again = etl.judge(wh, url=[judge_server.url], rounds=10, **FAST)
    assert judge_server.count() == seen, "a rerun with nothing pending sent a request"
    assert (again.counts["calls"], again.counts["replaced"]) == (0, 0)
    # A plain `etl mine` afterwards obeys the verdicts: the same rows the judge left.
    before = wh.execute("SELECT anchor_id, negative_id, band FROM negatives ORDER BY ALL").fetchall()
    etl.mine(wh, search="exact", seed=42)
    assert wh.execute("SELECT anchor_id, negative_id, band FROM negatives ORDER BY ALL").fetchall() == before


def test_replacements_are_the_reference_sample_less_the_judged_out_terms(wh, judge_server) -> None:
    """The brute-force reference, its judged-out members removed: picks, counts, fills, populations, uniformity.

    By the exact scan: the ANN path is approximate (its index may miss a member), so it is held to
    the weaker rule every mine output is, that no negative judged `same` is picked (the check above)."""
    world = build(wh, "saturated_medium")
    etl.mine(wh, search="exact", seed=42)
    etl.judge(wh, url=[judge_server.url], bands=["medium", "hard"], rounds=50, consistency=0, **FAST)
    out = judged_same(wh)
    assert len(out) > 300
    ref = reference(world, edges=EDGES)
    position = {int(a): i for i, a in enumerate(ref.anchor_ids)}
    for a, n in out:
        for band in ref.members[position[a]]:
            band.pop(n, None)
    percentiles = check(wh, Reference(ref.anchor_ids, ref.members))
    assert percentiles["medium"] == pytest.approx(0.5, abs=0.03)


def test_a_malformed_answer_rejects_only_its_own_pairs(wh, judge_server) -> None:
    mined(wh)
    settings = {"url": [judge_server.url], "concurrency": 1, "batch": 4, "consistency": 0, "max_attempts": 1, **FAST}
    judge_server.script("/api/chat", Reply(content="I would say they differ."))
    result = etl.judge(wh, rounds=1, **settings)
    rejects = wh.execute("SELECT rule, source FROM rejects WHERE step = 'judge' ORDER BY source").fetchall()
    assert [rule for rule, _ in rejects] == ["not_json"] * 4
    assert result.counts["rejected"] == 4
    first = asked(judge_server)[:4]
    assert sorted(source for _, source in rejects) == sorted(f"{a} → {c}" for a, c in first)
    judged = result.counts["bands"]["hard"]["judged"]
    assert judged == len(asked(judge_server)) - 4 > 0, "the other answers still landed"
    # Refused pairs are not asked again, unless asked to (the replacements of round 1's removals are).
    etl.judge(wh, rounds=20, **settings)
    seen = judge_server.count()
    etl.judge(wh, rounds=20, **settings)
    assert judge_server.count() == seen
    etl.judge(wh, rounds=20, retry_rejects=True, **settings)
    assert sorted(asked(judge_server, seen)[:4]) == sorted(first)
    ids = {text: term_id for term_id, text in wh.execute("SELECT term_id, text FROM terms").fetchall()}
    assert {(ids[a], ids[c]) for a, c in first} <= pairs_in(wh, "negative_judgements")


def test_an_answer_missing_one_verdict_rejects_that_pair_alone(wh, llm_server) -> None:
    mined(wh)
    good = llm_answers.judge()

    def respond(kind: str, body: dict[str, Any]) -> str:
        answer = json.loads(good(kind, body))
        answer["verdicts"] = [v for v in answer["verdicts"] if v["item"] != 2]
        return json.dumps(answer)

    llm_server.responder = respond
    result = etl.judge(wh, url=[llm_server.url], batch=8, rounds=1, consistency=0, **FAST)
    rules = wh.execute("SELECT DISTINCT rule FROM rejects WHERE step = 'judge'").fetchall()
    assert rules == [("missing_verdict",)]
    requests = llm_server.count("/api/chat")
    assert result.counts["rejected"] == requests  # one pair per answer: its second
    assert result.counts["bands"]["hard"]["judged"] == len(asked(llm_server)) - requests


def test_parse_reads_verdicts_and_refuses_item_by_item() -> None:
    pairs = [tasks.Pair(i, 100 + i, f"a{i}", f"n{i}", ("s",), "hard", 0.8) for i in range(1, 5)]
    answer = {
        "verdicts": [
            {"item": 1, "verdict": "SAME", "reason": "  both  mean x "},
            {"item": 2, "verdict": "maybe", "reason": "?"},
            {"item": 3, "verdict": "related", "reason": "r"},
            {"item": 3, "verdict": "different", "reason": "d"},
            {"item": 9, "verdict": "same", "reason": "out of range"},
        ]
    }
    verdicts, rejects = tasks.parse("Sure! " + json.dumps(answer), pairs)
    assert [(v.pair.anchor_id, v.verdict, v.reason) for v in verdicts] == [(1, "same", "both mean x")]
    assert [(p.anchor_id, r.rule) for p, r in rejects] == [
        (2, "bad_verdict"),
        (3, "conflicting_verdicts"),
        (4, "missing_verdict"),
    ]
    bare = json.dumps([{"item": n, "verdict": "different", "reason": ""} for n in range(1, 5)])
    assert len(tasks.parse(bare, pairs)[0]) == 4  # a bare list, from a server that ignores the schema
    assert {r.rule for _, r in tasks.parse("", pairs)[1]} == {"empty_answer"}
    assert {r.rule for _, r in tasks.parse('{"answer": 1}', pairs)[1]} == {"wrong_shape"}


def test_self_consistency_is_measured_not_assumed(wh, llm_server) -> None:
    mined(wh)
    seen: dict[tuple[str, str], int] = {}

    def fickle(anchor: str, candidate: str) -> str:
        seen[(anchor, candidate)] = seen.get((anchor, candidate), 0) + 1
        return "different" if seen[(anchor, candidate)] == 1 else "related"  # changes its mind when asked again

    llm_server.responder = llm_answers.judge(fickle)
    result = etl.judge(wh, url=[llm_server.url], consistency=20, **FAST)
    consistency = result.counts["consistency"]
    assert (consistency["sample"], consistency["asked_twice"], consistency["agreed"]) == (20, 20, 0)
    assert "0 of 20 sampled verdicts agreed" in result.render()
    assert wh.scalar("SELECT count(*) FROM negative_judgements WHERE trial = 1 AND verdict = 'related'") == 20
    runs = wh.execute("SELECT step FROM runs WHERE step LIKE 'judge%' ORDER BY run_id").fetchall()
    assert runs == [("judge",), ("judge.consistency",)]


def test_a_dead_server_fails_before_anything_is_written(wh) -> None:
    mined(wh)
    before = wh.scalar("SELECT count(*) FROM runs")
    with pytest.raises(ServiceError):
        etl.judge(wh, url=["http://127.0.0.1:9"], **FAST)
    assert wh.scalar("SELECT count(*) FROM runs") == before
    assert wh.scalar("SELECT count(*) FROM llm_calls") == 0


def test_nothing_mined_is_a_clear_error(wh) -> None:
    with pytest.raises(EtlError, match="run `etl mine` first"):
        etl.judge(wh, url=["http://127.0.0.1:9"])


def test_kill_minus_nine_then_resume_repeats_no_answered_call(judge_server, warehouse_path) -> None:
    with Warehouse.open(warehouse_path) as wh:
        mined(wh)
        total = len(pairs_in(wh, "negatives", "WHERE band = 'hard'"))
    judge_server.latency = 0.15
    env = {**os.environ, "ETL_LLM_URL": judge_server.url, "ETL_LLM_CONCURRENCY": "2", "ETL_LLM_BACKOFF": "0.01"}
    # No self-consistency re-ask here: it asks answered pairs again by design.
    command = [
        sys.executable,
        "-m",
        "etl",
        "--warehouse",
        str(warehouse_path),
        "judge",
        "--batch",
        "4",
        "--consistency",
        "0",
    ]
    victim = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while judge_server.count("/api/chat") < 8 and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    with Warehouse.open(warehouse_path, read_only=True) as wh:
        before = pairs_in(wh, "negative_judgements")
        calls = wh.scalar("SELECT count(*) FROM llm_calls")
        texts = dict(wh.execute("SELECT text, term_id FROM terms").fetchall())
    assert calls > 0 and 0 < len(before) < total, "the kill should land mid-run"
    assert len(before) == 4 * calls, "every recorded call has its verdicts"
    seen = len(judge_server.seen)
    judge_server.latency = 0.0
    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    again = {(texts[a], texts[c]) for a, c in asked(judge_server, seen)}
    assert not again & before, "a pair answered before the kill was asked again"
    with Warehouse.open(warehouse_path, read_only=True) as wh:
        rows = wh.execute(
            "SELECT count(*), count(DISTINCT (anchor_id, negative_id)) FROM negative_judgements WHERE trial = 0"
        ).fetchone()
        assert rows[0] == rows[1] >= total
        assert not judged_same(wh) & pairs_in(wh, "triplets")


def test_promotion_grows_the_groups_and_the_next_mine_excludes_the_promoted(etl_cli, judge_server) -> None:
    etl_cli("run", "--example", "--no-probe")
    out = etl_cli("judge", "--llm-url", judge_server.url, "--band", "medium", "--band", "hard", "--promote").output
    assert "promoted" in out
    with Warehouse.open(etl_cli.warehouse_path, read_only=True) as wh:
        promoted = pairs_in(wh, "negative_judgements", "WHERE promoted")
        groups_before = wh.scalar("SELECT count(DISTINCT group_id) FROM synonym_groups")
    assert promoted
    clean = etl_cli("clean").output
    assert f"{len(promoted):,} promoted pairs (judge)" in clean
    assert "judge" in etl_cli("status").output
    etl_cli("embed", "--embedder", "hash")
    etl_cli("mine")
    with Warehouse.open(etl_cli.warehouse_path, read_only=True) as wh:
        group = dict(wh.execute("SELECT term_id, group_id FROM synonym_groups").fetchall())
        assert all(group.get(a) is not None and group.get(a) == group.get(n) for a, n in promoted)
        assert wh.scalar("SELECT count(DISTINCT group_id) FROM synonym_groups") < groups_before
        negatives = pairs_in(wh, "negatives")
        assert not negatives & (promoted | {(n, a) for a, n in promoted})


def test_show_prompt_sends_nothing_and_a_custom_prompt_needs_its_placeholder(etl_cli, judge_server, tmp_path) -> None:
    etl_cli("run", "--example", "--no-probe")
    shown = etl_cli("judge", "--show-prompt").output
    assert shown.startswith("You check training data") and "1. ANCHOR " in shown and judge_server.count() == 0
    bad = tmp_path / "bad.txt"
    bad.write_text("Judge these pairs.", encoding="utf-8")
    failed = etl_cli("judge", "--prompt", str(bad), "--llm-url", judge_server.url, ok=False)
    assert failed.exit_code != 0 and "{items}" in failed.output and judge_server.count() == 0
    mine = tmp_path / "mine.txt"
    mine.write_text("Pairs:\n{items}\nAnswer as JSON.", encoding="utf-8")
    etl_cli("judge", "--prompt", str(mine), "--llm-url", judge_server.url, "--consistency", "0")
    assert all(
        s.body["messages"][0]["content"].startswith("Pairs:\n1. ANCHOR")
        for s in judge_server.seen
        if s.path == "/api/chat"
    )
    assert "You check training data" in etl_cli("judge", "--help").output


def test_etl_run_judges_between_mine_and_split(etl_cli, judge_server) -> None:
    first = etl_cli("run", "--example", "--no-probe", "--judge", "--llm-url", judge_server.url).output
    assert "judge   ran" in first
    requests = judge_server.count("/api/chat")
    assert requests > 0
    second = etl_cli("run", "--example", "--no-probe", "--judge", "--llm-url", judge_server.url).output
    assert "judge   skipped" in second and judge_server.count("/api/chat") == requests
    with Warehouse.open(etl_cli.warehouse_path, read_only=True) as wh:
        assert not judged_same(wh) & pairs_in(wh, "triplets")
    off = etl_cli("run", "--example", "--no-probe", "--from", "judge", ok=False).output
    assert "there is no step 'judge' in this run" in off  # judge_enabled is off: no judge step


def test_a_band_that_runs_dry_is_counted(wh, llm_server) -> None:
    mined(wh)
    llm_server.responder = llm_answers.judge(lambda anchor, candidate: "same")  # every hard negative is a synonym
    result = etl.judge(wh, url=[llm_server.url], rounds=30, consistency=0, **FAST)
    assert result.counts["unjudged"] == 0
    assert not wh.scalar("SELECT count(*) FROM negatives WHERE band = 'hard'")
    # Every anchor that lost a hard member and was asked for one is dry: its hard band is empty now.
    losers = wh.scalar(
        "SELECT count(DISTINCT anchor_id) FROM anchor_bands WHERE band = 'hard' AND quota > 0 AND anchor_id IN "
        "(SELECT anchor_id FROM negative_judgements WHERE band = 'hard' AND verdict = 'same')"
    )
    assert result.counts["dry"]["hard"] == losers > 0


def test_a_prompt_file_that_cannot_be_read_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="cannot read the judge prompt"):
        tasks.load_prompt(str(tmp_path / "missing.txt"))
    assert tasks.load_prompt("") == tasks.DEFAULT_PROMPT


@pytest.fixture
def etl_cli(etl: Any, warehouse_path: Path) -> Any:
    """The CLI against the test warehouse, run from a temporary directory (exports land there)."""
    etl.warehouse_path = warehouse_path
    return etl


@pytest.mark.usefixtures("plotly")
def test_the_probe_stats_file_card_and_report_show_what_the_judge_did(etl_cli, judge_server, tmp_path) -> None:
    etl_cli("run", "--example", "--no-probe")
    plain = etl_cli("probe").output
    assert "unjudged" not in plain  # no judge yet: three arms, as always
    etl_cli("judge", "--llm-url", judge_server.url, "--band", "medium", "--band", "hard")
    probe = etl_cli("probe").output
    assert "probe: 4 arms" in probe and "mined vs unjudged" in probe
    etl_cli("export", "triplets", "--out", str(tmp_path / "out"))
    stats = json.loads((tmp_path / "out" / "data_preparation_stats.json").read_text(encoding="utf-8"))
    with Warehouse.open(etl_cli.warehouse_path, read_only=True) as wh:
        same = wh.scalar("SELECT count(*) FROM negative_judgements WHERE trial = 0 AND verdict = 'same'")
        hard = wh.scalar("SELECT count(*) FROM negative_judgements WHERE trial = 0 AND band = 'hard'")
    judge = stats["judge"]
    assert sum(b["same"] for b in judge["bands"].values()) == same > 0
    assert judge["bands"]["hard"]["judged"] == hard
    assert judge["consistency"]["asked_twice"] == 50 and judge["models"] == ["gpt-oss:20b"]
    assert "over_unjudged" in stats["probe"]["mrr@10_lift_of_mined"]
    assert set(stats["probe"]["arms"]) == {"untrained", "mined", "random", "unjudged"}
    card = (tmp_path / "out" / "triplet_dataset" / "README.md").read_text(encoding="utf-8")
    assert "## Negatives checked by an LLM" in card and f"| hard | {hard:,} |" in card
    report = etl_cli("report", "--out", str(tmp_path / "report.html")).output
    assert "LLM judge of the negatives" in report
