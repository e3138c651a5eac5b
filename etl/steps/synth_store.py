"""How synthesis stages talk to the LLM and the warehouse: cache first, then calls recorded one by one.

HTTP runs on the client's worker threads; every write happens here, on the calling thread, as
results come back. Each finished call's `llm_calls` row is committed on its own before its answer
is parsed, so a run killed at any moment loses at most the calls in flight. The parsed rows of an
answer are landed by the stage's `land` callback, idempotently (keyed by the call or its term), so
an answer parsed twice, from a resumed or repeated run, lands once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

from etl.errors import CheckFailed, ServiceError
from etl.llm import ChatRequest, ChatResult, Client
from etl.report import Progress
from etl.steps.synth_tasks import Reject
from etl.warehouse import Run, Warehouse

# Consecutive failed calls after which a stage stops instead of burning hours of retries.
MIN_FAILURE_STREAK = 8

Land = Callable[[str, str], int]
"""land(call_hash, answer_text) lands the parsed rows of one answer and returns how many parts it refused."""


@dataclass
class Tally:
    """What a stage's calls cost and yielded."""

    calls: int = 0
    cached: int = 0
    failed: int = 0
    rejected: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, other: "Tally") -> None:
        """Add another tally's counts to this one."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def counts(self) -> dict[str, int]:
        """The counts as a dict, for `runs.counts`."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def execute(
    wh: Warehouse, client: Client, run: Run, label: str, requests: Sequence[ChatRequest], refresh: bool, land: Land
) -> Tally:
    """Answer every distinct request, from `llm_calls` when cached (unless `refresh`), else over HTTP."""
    tally = Tally()
    unique = {client.call_hash(r): r for r in requests}
    cached = {} if refresh or not unique else cached_answers(wh, list(unique))
    pending = [r for h, r in unique.items() if h not in cached]
    streak, limit = 0, max(MIN_FAILURE_STREAK, 2 * client.concurrency)
    with Progress(label, len(unique)) as progress:
        for call_hash, answer in cached.items():
            tally.cached += 1
            tally.rejected += land(call_hash, answer)
            progress.advance()
        for result in client.chat_many(pending):
            record_call(wh, client, result, run.run_id)
            tally.calls += 1
            tally.prompt_tokens += result.prompt_tokens or 0
            tally.completion_tokens += result.completion_tokens or 0
            if result.ok:
                streak = 0
                tally.rejected += land(result.call_hash, result.content or "")
            else:
                streak += 1
                tally.failed += 1
                if streak >= limit:
                    raise ServiceError(
                        f"the last {streak} {label} calls all failed (last: {result.error}); check the server "
                        "and run the same command again: finished calls are kept and will not be repeated"
                    )
            progress.advance(failed=0 if result.ok else 1)
    return tally


def cached_answers(wh: Warehouse, hashes: list[str]) -> dict[str, str]:
    """call_hash → the newest successful answer, for the hashes that have one."""
    rows = wh.sql_file("synth_cached_calls", {"hashes": hashes}).fetchall()
    return {call_hash: response or "" for call_hash, response in rows}


def record_call(wh: Warehouse, client: Client, result: ChatResult, run_id: int) -> None:
    """Commit one finished call, successful or not, with its answer verbatim."""
    wh.sql_file("synth_record_call", {
        "call_hash": result.call_hash,
        "task": result.request.task,
        "api": client.api,
        "model": client.model,
        "url": result.url,
        "request": json.dumps(result.sent, ensure_ascii=False, sort_keys=True),
        "response": result.content,
        "thinking": result.thinking,
        "done_reason": result.done_reason,
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "duration_s": round(result.duration_s, 4),
        "attempts": result.attempts,
        "status": result.status,
        "error": result.error,
        "run_id": run_id,
    })


def replace_rejects(
    wh: Warehouse, run_id: int, step: str, call_hash: str, source: str, rejects: Sequence[Reject]
) -> None:
    """Make `rejects` the refusals of one answer (call inside the caller's transaction)."""
    wh.execute("DELETE FROM rejects WHERE step = ? AND call_hash = ?", [step, call_hash])
    if rejects:
        wh.sql_file("synth_land_rejects", {
            "run_id": run_id, "step": step, "call_hash": call_hash, "source": source,
            "rules": [r.rule for r in rejects],
            "reasons": [r.reason for r in rejects],
            "payloads": [r.payload for r in rejects],
        })


def check(wh: Warehouse) -> None:
    """Fail the stage when a synthesis table breaks one of its rules (sql/checks/synth_*.sql)."""
    broken = wh.run_checks("synth_")
    if broken:
        listed = ", ".join(f"{name} ({n} rows)" for name, n in broken.items())
        raise CheckFailed(f"synthesis checks failed: {listed}; see sql/checks/ for the rules")
