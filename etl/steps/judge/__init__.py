"""`etl judge`: the chat model checks mined negatives, and the ones it finds to mean the same as their anchor go.

Cosine bands cannot tell a near-synonym from a hard negative. The judge asks the LLM, several pairs
per request, whether each negative of the judged bands (default hard) means the same as its anchor
or one of the anchor's synonyms: `same`, `related` or `different`, with a short reason.

Write modes:
- `llm_calls`: append, as synthesis (etl/llm/ledger.py), in its atomic mode: a call is recorded and
  its verdicts landed in one transaction, so a killed run resumes with exactly the pairs that have
  no verdict and repeats no answered call. Answers are cached by request.
- `negative_judgements`: merge on (anchor_id, negative_id, trial). Trial 0 is the verdict of record;
  trial 1 is the self-consistency re-ask of a seeded sample (its own run, `judge.consistency`).
- `rejects` (step `judge`): replace per answer; a pair whose verdict is missing or unreadable is
  refused alone, and is not asked again unless `retry_rejects` (which sends afresh, past the cache).
- `negatives`, `triplets`, `anchor_bands`: mining leaves out every pair judged `same`
  (etl/steps/mine/loading.py), so after a round with such verdicts the judge has the anchors
  mined again (`remine`, a recorded `mine` run with the last mine run's settings). The band's
  next member in the anchor's seeded order takes the place of the one judged out: the band stays a
  uniform sample of its population less the judged-out terms. Replacements are judged in the next
  round, for `judge_rounds` rounds; a band left with fewer members than its quota is counted (dry).
- With `judge_promote`, verdicts `same` are marked `promoted`: `etl clean` lands them as synonym
  pairs (source `judge`), which grows the groups, and the next mine excludes them as synonyms.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from etl import negatives
from etl.config import Settings
from etl.errors import EtlError
from etl.llm import ChatRequest, Client
from etl.llm.ledger import Answers, Tally, check_if_due, execute
from etl.output import StepResult
from etl.steps.judge import store, tasks
from etl.steps.judge.report import summary
from etl.steps.judge.tasks import Pair
from etl.warehouse import Run, Warehouse

Remine = Callable[[], StepResult]


def run(
    wh: Warehouse,
    settings: Settings,
    remine: Remine,
    client: Client | None = None,
    refresh: bool = False,
    retry_rejects: bool = False,
) -> StepResult:
    """Judge the pending negatives in rounds, have the judged-out ones replaced, then measure self-consistency.

    `remine` mines again with the last mine run's settings (the API layer passes it: steps do not
    call each other). A server that fails before the first call leaves the warehouse untouched.
    """
    if not wh.scalar("SELECT count(*) FROM negatives"):
        raise EtlError("there are no mined negatives to judge; run `etl mine` first")
    client = client or Client.for_chat(settings)
    judging = Judging(wh, settings, client, tasks.load_prompt(settings.judge_prompt), refresh, retry_rejects)
    first = store.pending(wh, settings.judge_bands, retry_rejects)
    check_if_due(wh, client, judging.requests(first), refresh or retry_rejects)
    with wh.record(store.STEP, judging.params()) as run:
        try:
            judging.rounds(run, remine, first)
        finally:
            # Whatever stopped the rounds, no negative judged `same` stays in the triplets.
            judging.replace(remine)
        promoted = store.promote(wh) if settings.judge_promote else 0
        run.counts.update(judging.tally.counts())
        run.counts.update(
            bands=negatives.verdict_counts(wh, run.run_id),
            all_runs=negatives.verdict_counts(wh),
            replaced=judging.replaced,
            rounds=judging.round,
            mine_runs=judging.mine_runs,
            dry=negatives.dry_bands(wh),
            unjudged=len(store.pending(wh, settings.judge_bands, retry_rejects)),
            promoted=promoted,
            consistency=judging.consistency(),
        )
    return summary(run, client)


def first_prompt(wh: Warehouse, settings: Settings) -> str:
    """The prompt of the first request a judge run would send now; the bare template when no pair waits."""
    template = tasks.load_prompt(settings.judge_prompt)
    pending = store.pending(wh, settings.judge_bands, retry_rejects=False)
    if not pending:
        return template
    return tasks.request(pending[: settings.judge_batch], template, settings.judge_temperature).messages[0]["content"]


@dataclass
class Judging:
    """One `etl judge`: what it asks with, and what its rounds have done so far."""

    wh: Warehouse
    settings: Settings
    client: Client
    template: str
    refresh: bool
    retry_rejects: bool
    tally: Tally = field(default_factory=Tally)
    round: int = 0  # rounds of questions asked
    replaced: int = 0  # negatives judged `same` that mining replaced
    mine_runs: int = 0

    def rounds(self, run: Run, remine: Remine, pending: list[Pair]) -> None:
        """Judge, have the judged-out replaced, judge the replacements: until nothing is pending or rounds run out."""
        while True:
            if self.replace(remine):
                pending = store.pending(self.wh, self.settings.judge_bands, self.retry_rejects)
            if not pending or self.round == self.settings.judge_rounds:
                return
            self.round += 1
            label = "judge" if self.round == 1 else f"judge round {self.round}"
            # A refused pair asked again must not get its cached answer back: retrying sends afresh.
            self.tally.add(self.ask(run, label, pending, trial=0, refresh=self.refresh or self.retry_rejects))
            pending = []

    def replace(self, remine: Remine) -> bool:
        """Mine again when a negative carries a `same` verdict; True when it did."""
        removed = store.same_in_negatives(self.wh)
        if removed:
            remine()
            self.replaced += removed
            self.mine_runs += 1
        return bool(removed)

    def ask(self, run: Run, label: str, pairs: Sequence[Pair], trial: int, refresh: bool) -> Tally:
        """Ask about `pairs` in batches of judge_batch; every answer lands with its call, in one transaction."""
        batches = self.batches(pairs)
        requests = self.requests(pairs)
        batch_of = {self.client.call_hash(r): batch for r, batch in zip(requests, batches, strict=True)}

        def land(answers: Answers) -> int:
            parsed = [(h, *tasks.parse(text, batch_of[h])) for h, text in answers]
            return store.land(self.wh, run.run_id, trial, parsed)

        return execute(self.wh, self.client, run, label, requests, refresh, land, atomic=True)

    def consistency(self) -> dict[str, Any]:
        """Ask a seeded sample of verdicts of record again (in other batches, never from the cache); their agreement.

        The re-asks are a run of their own (`judge.consistency`): a request may be the very one
        trial 0 sent, and one run records a request once.
        """
        if not self.settings.judge_consistency:
            return {**negatives.agreement(self.wh, 0), "off": True}
        todo, size = store.consistency_sample(self.wh, self.settings.judge_consistency, self.settings.seed)
        if todo:
            check_if_due(self.wh, self.client, self.requests(todo), refresh=True)
            with self.wh.record("judge.consistency", self.params()) as run:
                run.counts.update(self.ask(run, "judge again", todo, trial=1, refresh=True).counts())
                run.counts["agreement"] = negatives.agreement(self.wh, size)
        return negatives.agreement(self.wh, size)

    def batches(self, pairs: Sequence[Pair]) -> list[list[Pair]]:
        """`pairs` cut into requests of judge_batch pairs, in order."""
        size = self.settings.judge_batch
        return [list(pairs[i : i + size]) for i in range(0, len(pairs), size)]

    def requests(self, pairs: Sequence[Pair]) -> list[ChatRequest]:
        """One request per batch of `pairs`."""
        return [tasks.request(b, self.template, self.settings.judge_temperature) for b in self.batches(pairs)]

    def params(self) -> dict[str, Any]:
        """What a judge run records: the client, the flags and the judge settings."""
        return {
            "api": self.client.api,
            "model": self.client.model,
            "urls": list(self.client.urls),
            "think": self.client.think,
            "concurrency": self.client.concurrency,
            "refresh": self.refresh,
            "retry_rejects": self.retry_rejects,
            "seed": self.settings.seed,
            **{key: getattr(self.settings, key) for key in SETTINGS},
        }


SETTINGS = (
    "judge_bands",
    "judge_batch",
    "judge_rounds",
    "judge_temperature",
    "judge_consistency",
    "judge_promote",
    "judge_prompt",
)
