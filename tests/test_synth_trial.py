"""`etl synth trial` against the loopback LLM server, and the per-category lines of `etl synth`'s summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from etl.warehouse import Warehouse
from tests.fakeserver import FakeLLMServer
from tests.llm_answers import answer, english
from tests.test_synth import _fast  # noqa: F401 - the autouse fixture: test-sized synthesis settings

CHAT = "/api/chat"
PLAN = ("category_terms", "translations", "parallel_sentences", "rejects")


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with Warehouse.open(path, read_only=True) as wh:
        return wh.execute(sql).fetchall()


def plan(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the plan's tables (and rejects), to compare before and after a trial."""
    return {table: sorted(rows(path, f"SELECT * EXCLUDE (run_id) FROM {table}"), key=repr) for table in PLAN}


def calls(path: Path) -> list[tuple[str, str]]:
    return rows(path, "SELECT task, status FROM llm_calls ORDER BY task, created_at")


def test_trial_prints_the_three_answers_and_lands_only_llm_calls(etl, server, seeds, warehouse_path) -> None:
    etl("synth", "--llm-url", server.url, "--seeds", str(seeds))
    before, sent = plan(warehouse_path), server.count(CHAT)
    calls_before = len(calls(warehouse_path))
    # A term the plan does not have: its translation and sentences are new calls, the expansion of ml is
    # the one `etl synth` made; the plan stays as it was.
    out = etl("synth", "trial", "트랜스포머", "--category", "ml", "--seeds", str(seeds), "--llm-url", server.url).output
    assert "(2 calls made, 1 served from cache)" in out
    assert "expand ml (seeds: 딥러닝, 신경망, 컨테이너)" in out and "2 new terms kept: ml확장0, ml확장1" in out
    assert f"  primary       {english('트랜스포머')}" in out
    assert f"  alternatives  {english('트랜스포머')} alt" in out
    assert "  KO: 트랜스포머 예문 0" in out and f"  EN: Example 2 with {english('트랜스포머')}." in out
    assert server.count(CHAT) == sent + 2
    assert plan(warehouse_path) == before
    assert len(calls(warehouse_path)) == calls_before + 2
    assert rows(
        warehouse_path, "SELECT DISTINCT step FROM runs WHERE run_id IN (SELECT max(run_id) FROM llm_calls)"
    ) == [("synth.trial",)]
    # Again: everything from llm_calls, nothing sent, nothing landed.
    again = etl("synth", "trial", "트랜스포머", "--category", "ml", "--seeds", str(seeds), "--llm-url", server.url)
    assert "(0 calls made, 3 served from cache)" in again.output
    assert server.count(CHAT) == sent + 2 and len(calls(warehouse_path)) == calls_before + 2
    assert plan(warehouse_path) == before


def test_the_stages_reuse_what_a_trial_asked(etl, server, seeds, warehouse_path) -> None:
    # A term alone expands the first seed category listing it (ml for 컨테이너).
    out = etl("synth", "trial", "컨테이너", "--seeds", str(seeds), "--llm-url", server.url).output
    assert "expand ml" in out and "(3 calls made" in out
    assert plan(warehouse_path) == {table: [] for table in PLAN}
    synth = etl("synth", "--seeds", str(seeds), "--llm-url", server.url).output
    # 2 expansions + 8 translations + 8 sentence calls, three of them already asked by the trial.
    assert _summary(synth)["served from cache"] == "3"
    assert _summary(synth)["calls made"] == "15"


def test_a_category_alone_tries_its_first_seed(etl, server, seeds) -> None:
    # Options given to `etl synth` itself apply to the trial, as they do to the stages.
    out = etl("synth", "--seeds", str(seeds), "--llm-url", server.url, "trial", "--category", "infra").output
    assert "expand infra (seeds: 컨테이너, 도커)" in out and "translate 컨테이너" in out


def test_refusals_are_printed_not_landed(etl, server, seeds, warehouse_path) -> None:
    def refuse_translations(kind: str, body: dict[str, Any]) -> str:
        if body["messages"][0]["content"].startswith("Translate"):
            return '{"primary": "", "alternatives": [], "abbreviation": null}'
        return answer(kind, body)

    server.responder = refuse_translations
    out = etl("synth", "trial", "도커", "--seeds", str(seeds), "--llm-url", server.url).output
    assert "refused   translate: empty_primary: the primary translation of '도커' is empty" in out
    assert "no translation" in out and "sentences" not in out  # no translation, so no sentences asked
    assert "2 new terms kept" in out
    assert rows(warehouse_path, "SELECT count(*) FROM rejects") == [(0,)]
    assert sorted(task for task, _ in calls(warehouse_path)) == ["expand", "translate"]


def test_a_failed_call_is_printed_with_its_error(etl, server, seeds, warehouse_path) -> None:
    def fail_translations(kind: str, body: dict[str, Any]) -> str:
        if body["messages"][0]["content"].startswith("Translate"):
            raise RuntimeError("the model fell over")
        return answer(kind, body)

    server.responder = fail_translations
    out = etl("synth", "trial", "도커", "--seeds", str(seeds), "--llm-url", server.url).output
    assert "failed    translate: " in out and "no translation" in out and "2 new terms kept" in out
    assert calls(warehouse_path) == [("expand", "ok"), ("translate", "failed")]


def test_trial_json_and_its_errors(etl, server, seeds) -> None:
    out = etl("synth", "trial", "도커", "--seeds", str(seeds), "--llm-url", server.url, "--json").output
    data = json.loads(out)
    assert data["term"] == "도커" and data["category"] == "infra" and data["primary"] == english("도커")
    assert len(data["sentences"]) == 3 and data["tally"]["calls"] == 3
    missing = etl("synth", "trial", "--category", "nope", "--seeds", str(seeds), "--llm-url", server.url, ok=False)
    assert missing.exit_code == 2 and "no category 'nope'" in missing.output and "ml, infra" in missing.output
    neither = etl("synth", "trial", "--llm-url", server.url, ok=False)
    assert neither.exit_code == 2 and "give a Korean term" in neither.output


def test_synth_summary_has_a_line_per_category(etl, server, seeds) -> None:
    out = etl("synth", "--llm-url", server.url, "--seeds", str(seeds)).output
    lines = _summary(out)
    # ml: 3 seeds + 2 expanded, all translated, 3 sentences each; 컨테이너 counts in both categories.
    assert lines["ml"] == "3 seeds + 2 expanded, 5 translated, 15 sentences"
    assert lines["infra"] == "2 seeds + 2 expanded, 4 translated, 12 sentences"


def _summary(output: str) -> dict[str, str]:
    """The label → value lines of a printed summary (labels stripped)."""
    found = {}
    for line in output.splitlines():
        if line.startswith("  ") and "  " in line.strip():
            label, value = line.strip().split("  ", 1)
            found[label] = value.strip()
    return found


def test_trial_leaves_a_new_warehouse_with_only_its_calls(etl, server, warehouse_path) -> None:
    out = etl("synth", "trial", "머신러닝", "--llm-url", server.url).output
    assert "expand machine_learning" in out and "translate 머신러닝" in out
    assert plan(warehouse_path) == {table: [] for table in PLAN}
    assert sorted({task for task, _ in calls(warehouse_path)}) == ["expand", "sentences", "translate"]


def test_a_term_in_no_seed_category_is_translated_without_an_expansion(etl, server, seeds, warehouse_path) -> None:
    out = etl("synth", "trial", "트랜스포머", "--seeds", str(seeds), "--llm-url", server.url).output
    assert "(2 calls made, 0 served from cache)" in out and "expand" not in out.split("note")[0]
    assert "note      no seed category lists '트랜스포머', so nothing was expanded; give --category" in out
    assert sorted(task for task, _ in calls(warehouse_path)) == ["sentences", "translate"]


def test_a_dead_server_fails_in_one_line_and_writes_nothing(etl, server, seeds, warehouse_path) -> None:
    with FakeLLMServer() as gone:
        url = gone.url
    fresh = etl("synth", "trial", "도커", "--seeds", str(seeds), "--llm-url", url, ok=False)
    assert fresh.exit_code == 1 and "`ollama serve`" in fresh.output and not warehouse_path.exists()
    etl("synth", "trial", "도커", "--seeds", str(seeds), "--llm-url", server.url)
    runs = rows(warehouse_path, "SELECT count(*) FROM runs")
    # Another term has nothing cached: the server is checked before the trial records a run.
    again = etl("synth", "trial", "컨테이너", "--seeds", str(seeds), "--llm-url", url, ok=False)
    assert again.exit_code == 1 and "`ollama serve`" in again.output
    assert rows(warehouse_path, "SELECT count(*) FROM runs") == runs
