"""The LLM call ledger: answers served from `llm_calls` first, then calls recorded as they finish.

HTTP runs on the client's worker threads; every write happens here, on the calling thread, as
results come back. A finished call's `llm_calls` row is committed as soon as the call returns (with
any others that finished at the same moment) and before its answer is parsed, so a run killed at
any moment loses only the calls still in flight. The parsed rows of answers are landed by the
step's `land` callback, idempotently (keyed by the call or what it was about), so an answer parsed
twice, by a resumed or repeated run, lands once. Synthesis and the judge of mined negatives both
talk to the LLM through `execute`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, fields

from etl.errors import ServiceError
from etl.llm.client import Client
from etl.llm.wire import ChatRequest, ChatResult
from etl.output import Progress
from etl.warehouse import Run, Warehouse


@dataclass(frozen=True)
class Reject:
    """One refused answer, or one refused item inside an answer."""

    rule: str
    reason: str
    payload: str


# Consecutive failed calls after which a stage stops instead of burning hours of retries.
MIN_FAILURE_STREAK = 8

# Cached answers are landed this many at a time: one transaction each, small enough to stay quick.
CACHED_CHUNK = 256

Answers = list[tuple[str, str]]
Land = Callable[[Answers], int]
"""land([(call_hash, answer_text), ...]) lands the parsed rows of some answers in one transaction
and returns how many parts it refused. Landing is idempotent: the same answer lands once."""


@dataclass
class Tally:
    """What a stage's calls cost and yielded."""

    calls: int = 0
    cached: int = 0
    failed: int = 0
    rejected: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, other: Tally) -> None:
        """Add another tally's counts to this one."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def counts(self) -> dict[str, int]:
        """The counts as a dict, for `runs.counts`."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def execute(
    wh: Warehouse,
    client: Client,
    run: Run,
    label: str,
    requests: Sequence[ChatRequest],
    refresh: bool,
    land: Land,
    atomic: bool = False,
) -> Tally:
    """Answer every distinct request, from `llm_calls` when cached (unless `refresh`), else over HTTP.

    Results that finish together are committed together (group commit): their `llm_calls` rows in
    one transaction, then their parsed rows in another. No result ever waits for a call in flight.
    With `atomic`, both go in one transaction (recorded first, then landed; `land` must not open a
    transaction of its own): a killed run then never holds a recorded answer whose rows are missing,
    which a step needs when what it asks next depends on what has landed (the judge's batches).
    """
    tally = Tally()
    unique = {client.call_hash(r): r for r in requests}
    cached = {} if refresh or not unique else cached_answers(wh, list(unique))
    pending = [r for h, r in unique.items() if h not in cached]
    streak, limit = 0, max(MIN_FAILURE_STREAK, 2 * client.concurrency)
    with Progress(label, len(unique)) as progress:
        answers = list(cached.items())
        for start in range(0, len(answers), CACHED_CHUNK):
            chunk = answers[start : start + CACHED_CHUNK]
            tally.cached += len(chunk)
            with wh.transaction() if atomic else nullcontext():
                tally.rejected += land(chunk)
            progress.advance(len(chunk))
        for ready in client.chat_ready(pending):
            answered = [(r.call_hash, r.content or "") for r in ready if r.ok]
            with wh.transaction() if atomic else nullcontext():
                record_calls(wh, client, ready, run.run_id)
                if answered:
                    tally.rejected += land(answered)
            tally.calls += len(ready)
            tally.prompt_tokens += sum(r.prompt_tokens or 0 for r in ready)
            tally.completion_tokens += sum(r.completion_tokens or 0 for r in ready)
            failed = [r for r in ready if not r.ok]
            tally.failed += len(failed)
            progress.advance(len(ready), failed=len(failed))
            for result in ready:
                streak = 0 if result.ok else streak + 1
            if streak >= limit:
                raise ServiceError(
                    f"the last {streak} {label} calls all failed (last: {failed[-1].error}); check the server "
                    "and run the same command again: finished calls are kept and will not be repeated"
                )
    return tally


def check_if_due(wh: Warehouse, client: Client, requests: Sequence[ChatRequest], refresh: bool) -> None:
    """Health-check the servers (once per client) when any of these requests will be sent.

    Called before a stage writes its run row: a stage with calls to make fails on a dead server or
    a missing model with the warehouse untouched, and a stage answered entirely from `llm_calls`
    needs no server at all.
    """
    if client.checked or not requests:
        return
    hashes = list({client.call_hash(r) for r in requests})
    if refresh or len(cached_answers(wh, hashes)) < len(hashes):
        client.check()


def cached_answers(wh: Warehouse, hashes: list[str]) -> dict[str, str]:
    """call_hash → the newest successful answer, for the hashes that have one."""
    rows = wh.sql_file("llm_cached_calls", {"hashes": hashes}).fetchall()
    return {call_hash: response or "" for call_hash, response in rows}


def record_calls(wh: Warehouse, client: Client, results: Sequence[ChatResult], run_id: int) -> None:
    """Commit finished calls, successful or not, with their answers verbatim (one transaction)."""
    wh.sql_file(
        "llm_record_calls",
        {
            "api": client.api,
            "model": client.model,
            "run_id": run_id,
            "call_hash": [r.call_hash for r in results],
            "task": [r.request.task for r in results],
            "url": [r.url for r in results],
            "request": [json.dumps(r.sent, ensure_ascii=False, sort_keys=True) for r in results],
            "response": [r.content for r in results],
            "thinking": [r.thinking for r in results],
            "done_reason": [r.done_reason for r in results],
            "prompt_tokens": [r.prompt_tokens for r in results],
            "completion_tokens": [r.completion_tokens for r in results],
            "duration_s": [round(r.duration_s, 4) for r in results],
            "attempts": [r.attempts for r in results],
            "status": [r.status for r in results],
            "error": [r.error for r in results],
        },
    )


def replace_rejects(
    wh: Warehouse, run_id: int, step: str, call_hashes: Sequence[str], found: Sequence[tuple[str, str, Reject]]
) -> None:
    """Make `found` (call_hash, source, reject) the refusals of these answers; call inside a transaction."""
    wh.execute(
        "DELETE FROM rejects WHERE step = ? AND call_hash IN (SELECT unnest(?::VARCHAR[]))", [step, list(call_hashes)]
    )
    if found:
        wh.sql_file(
            "llm_land_rejects",
            {
                "run_id": run_id,
                "step": step,
                "call_hashes": [h for h, _, _ in found],
                "sources": [source for _, source, _ in found],
                "rules": [r.rule for _, _, r in found],
                "reasons": [r.reason for _, _, r in found],
                "payloads": [r.payload for _, _, r in found],
            },
        )
