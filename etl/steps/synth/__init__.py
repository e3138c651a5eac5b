"""`etl synth`: seed terms → LLM expansion → translation → parallel sentences, landed in DuckDB.

Write modes (every stage is safe to run twice: a rerun is answered from `llm_calls` and lands
the same rows):
- `llm_calls`: append, one row per request actually sent, committed as soon as it finishes and
  before its answer is parsed. A request whose hash already has a successful answer is not sent
  again (unless `refresh`), so a run killed mid-way and started again repeats no finished call.
- expand → `category_terms`: replace. The seeds plus up to `synth_expand_keep` new terms per
  category, written together when the stage ends.
- translate → `translations`: merge on `ko`, answer by answer; when the stage ends, rows for terms
  no longer in `category_terms` are removed. A term listed in two categories is translated once,
  under the first category that lists it.
- sentences → `parallel_sentences`: merge on `term_ko`, answer by answer, for a seeded sample of
  the translated terms; rows for terms outside the sample are removed when the stage ends.
- `rejects`: replace per (step, call_hash): the refused parts of each answer, with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from etl.config import Settings
from etl.errors import ConfigError, EtlError
from etl.llm import ChatRequest, Client
from etl.llm.ledger import Answers, Tally, check_if_due, execute, replace_rejects
from etl.output import StepResult
from etl.steps.synth.store import check, per_category
from etl.steps.synth.tasks import (
    expansion_request,
    load_seeds,
    parse_expansion,
    parse_sentences,
    parse_translation,
    sample_terms,
    sentences_request,
    translation_request,
)
from etl.warehouse import Run, Warehouse

STAGES = ("expand", "translate", "sentences")
Lines = list[tuple[str, Any]]


def connect(settings: Settings) -> Client:
    """The chat client the settings describe, once its servers answer and list the model."""
    client = Client.for_chat(settings)
    client.check()
    return client


def run(
    wh: Warehouse,
    settings: Settings,
    stages: Sequence[str] = STAGES,
    seeds_path: Path | None = None,
    refresh: bool = False,
    client: Client | None = None,
) -> StepResult:
    """Run the given stages in order, with `client` (default: one built from the settings).

    The servers are checked lazily, before the first stage that has a request to send and before
    that stage writes anything; a client from `connect` is not checked again. A rerun answered
    entirely from `llm_calls` sends nothing, not even the health check.
    """
    unknown = [s for s in stages if s not in STAGES]
    if unknown or not stages:
        raise ConfigError(f"unknown synth stage(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(STAGES)}")
    seeds = load_seeds(seeds_path) if "expand" in stages else {}
    client = client or Client.for_chat(settings)
    started = time.monotonic()
    total, lines, runs = Tally(), [], []
    for stage in STAGES:
        if stage not in stages:
            continue
        if stage == "expand":
            tally, run, more = _expand(wh, settings, client, seeds, seeds_path, refresh)
        elif stage == "translate":
            tally, run, more = _translate(wh, settings, client, refresh)
        else:
            tally, run, more = _sentences(wh, settings, client, refresh, after_translate="translate" in stages)
        total.add(tally)
        runs.append(run)
        lines.extend(more)
    title = "synth" if len(stages) == len(STAGES) else "synth " + " + ".join(s for s in STAGES if s in stages)
    # The stages' own runs hold their figures; the result adds them up (run_id: the last stage's run).
    counts = {**total.counts(), "stages": {run.step: {"run_id": run.run_id, **run.counts} for run in runs}}
    summary = StepResult(title, step="synth", run_id=runs[-1].run_id, counts=counts)
    categories = per_category(wh)
    if categories:
        lines += [("per category", "(a term listed in two categories counts in both)"), *categories]
    for label, value in lines:
        summary.add(label, value)
    summary.add("calls made", total.calls).add("served from cache", total.cached)
    summary.add("failed", total.failed).add("rejected", total.rejected)
    summary.add("tokens (prompt / completion)", f"{total.prompt_tokens:,} / {total.completion_tokens:,}")
    summary.add("wall time", f"{time.monotonic() - started:.1f} s")
    if client.json_fallbacks():
        summary.add("structured output", "json_object + schema (the server refused OpenAI's json_schema form)")
    if total.failed:
        summary.warnings.append(f"{total.failed:,} calls failed; the next run retries them (finished ones are kept)")
        summary.add("next", "run the same command again to retry the failed calls (finished ones are kept)")
    return summary


def _params(settings: Settings, client: Client, refresh: bool, **extra: Any) -> dict[str, Any]:
    return {
        "api": client.api,
        "model": client.model,
        "urls": list(client.urls),
        "think": client.think,
        "concurrency": client.concurrency,
        "refresh": refresh,
        "seed": settings.seed,
        **extra,
    }


def _expand(
    wh: Warehouse,
    settings: Settings,
    client: Client,
    seeds: dict[str, list[str]],
    seeds_path: Path | None,
    refresh: bool,
) -> tuple[Tally, Run, Lines]:
    ask, keep = settings.synth_expand_ask, settings.synth_expand_keep
    params = _params(
        settings,
        client,
        refresh,
        seeds=str(seeds_path) if seeds_path else "default",
        ask=ask,
        keep=keep,
        temperature=settings.synth_expand_temperature,
    )
    requests: dict[str, ChatRequest] = {}
    if ask > 0 and keep > 0:
        requests = {
            cat: expansion_request(cat, terms, ask, settings.synth_expand_temperature) for cat, terms in seeds.items()
        }
    check_if_due(wh, client, list(requests.values()), refresh)
    with wh.record("synth.expand", params) as run:
        category_of = {client.call_hash(r): cat for cat, r in requests.items()}
        expanded: dict[str, tuple[str, list[str]]] = {}

        def land(answers: Answers) -> int:
            found = []
            for call_hash, answer in answers:
                category = category_of[call_hash]
                terms, rejects = parse_expansion(answer, seeds[category], keep)
                expanded[category] = (call_hash, terms)
                found += [(call_hash, category, r) for r in rejects]
            with wh.transaction():
                replace_rejects(wh, run.run_id, "synth.expand", [h for h, _ in answers], found)
            return len(found)

        tally = execute(wh, client, run, "expand", list(requests.values()), refresh, land)
        plan = _plan(seeds, expanded)
        with wh.transaction():
            wh.execute("DELETE FROM category_terms")
            wh.sql_file("synth_land_category_terms", {**plan, "run_id": run.run_id})
            check(wh)
        n_seeds = sum(len(terms) for terms in seeds.values())
        n_new = len(plan["terms"]) - n_seeds
        run.counts = {**tally.counts(), "categories": len(seeds), "seed_terms": n_seeds, "expanded_terms": n_new}
    return tally, run, [("categories", len(seeds)), ("seed terms", n_seeds), ("expanded terms", n_new)]


def _plan(seeds: dict[str, list[str]], expanded: dict[str, tuple[str, list[str]]]) -> dict[str, list[Any]]:
    """category_terms columns: each category's seeds, then its new terms, numbered in listing order."""
    plan: dict[str, list[Any]] = {"categories": [], "terms": [], "origins": [], "call_hashes": [], "positions": []}
    for category, terms in seeds.items():
        call_hash, new = expanded.get(category, (None, []))
        listed = [(t, "seed", None) for t in terms] + [(t, "expanded", call_hash) for t in new]
        for term, origin, source in listed:
            plan["categories"].append(category)
            plan["terms"].append(term)
            plan["origins"].append(origin)
            plan["call_hashes"].append(source)
            plan["positions"].append(len(plan["positions"]))
    return plan


def _translate(wh: Warehouse, settings: Settings, client: Client, refresh: bool) -> tuple[Tally, Run, Lines]:
    temperature = settings.synth_translate_temperature
    planned = wh.sql_file("synth_terms_to_translate").fetchall()
    if not planned:
        raise EtlError("there are no terms to translate; run `etl synth expand` first")
    requests = [translation_request(term, temperature) for term, _ in planned]
    check_if_due(wh, client, requests, refresh)
    with wh.record("synth.translate", _params(settings, client, refresh, temperature=temperature)) as run:
        term_of = {client.call_hash(r): row for r, row in zip(requests, planned)}

        def land(answers: Answers) -> int:
            columns: dict[str, list[Any]] = {
                k: [] for k in ("kos", "en_primaries", "en_alternatives", "abbreviations", "categories", "call_hashes")
            }
            found = []
            for call_hash, answer in answers:
                ko, category = term_of[call_hash]
                translation, rejects = parse_translation(answer, ko)
                found += [(call_hash, ko, r) for r in rejects]
                if translation is not None:
                    for key, value in zip(
                        columns,
                        (
                            ko,
                            translation.en_primary,
                            translation.en_alternatives,
                            translation.abbreviation,
                            category,
                            call_hash,
                        ),
                    ):
                        columns[key].append(value)
            with wh.transaction():
                # A refused answer also clears the term's old translation: it no longer matches the plan.
                wh.execute(
                    "DELETE FROM translations WHERE ko IN (SELECT unnest(?::VARCHAR[]))",
                    [[term_of[h][0] for h, _ in answers]],
                )
                wh.sql_file("synth_land_translations", {**columns, "run_id": run.run_id})
                replace_rejects(wh, run.run_id, "synth.translate", [h for h, _ in answers], found)
            return len(found)

        tally = execute(wh, client, run, "translate", requests, refresh, land)
        with wh.transaction():
            wh.execute("DELETE FROM translations WHERE ko NOT IN (SELECT term FROM category_terms)")
            check(wh)
        translated = int(wh.scalar("SELECT count(*) FROM translations"))
        run.counts = {**tally.counts(), "terms": len(planned), "translated": translated}
    return tally, run, [("terms translated", f"{translated:,} of {len(planned):,}")]


def _sentences(
    wh: Warehouse, settings: Settings, client: Client, refresh: bool, after_translate: bool = False
) -> tuple[Tally, Run, Lines]:
    rate, per_term = settings.synth_sentences_sample, settings.synth_sentences_per_term
    temperature = settings.synth_sentences_temperature
    params = _params(settings, client, refresh, sample=rate, per_term=per_term, temperature=temperature)
    rows = wh.sql_file("synth_translated_terms").fetchall()
    # Right after a translate stage, no translations means every answer was refused (its summary and
    # `rejects` say why): the stage then has nothing to sample, which is not a reason to fail the run.
    if not rows and not after_translate:
        raise EtlError("there are no translations to write sentences for; run `etl synth translate` first")
    english = {ko: (en, category) for ko, en, category in rows}
    sample = sample_terms(list(english), rate, settings.seed)
    requests = [sentences_request(ko, english[ko][0], per_term, temperature) for ko in sample]
    check_if_due(wh, client, requests, refresh)
    with wh.record("synth.sentences", params) as run:
        term_of = {client.call_hash(r): ko for r, ko in zip(requests, sample)}

        def land(answers: Answers) -> int:
            columns: dict[str, list[Any]] = {
                k: [] for k in ("kos", "ens", "term_kos", "term_ens", "categories", "call_hashes")
            }
            found = []
            for call_hash, answer in answers:
                term_ko = term_of[call_hash]
                term_en, category = english[term_ko]
                pairs, rejects = parse_sentences(answer, term_ko)
                found += [(call_hash, term_ko, r) for r in rejects]
                for ko, en in pairs:
                    for key, value in zip(columns, (ko, en, term_ko, term_en, category, call_hash)):
                        columns[key].append(value)
            with wh.transaction():
                wh.execute(
                    "DELETE FROM parallel_sentences WHERE term_ko IN (SELECT unnest(?::VARCHAR[]))",
                    [[term_of[h] for h, _ in answers]],
                )
                wh.sql_file("synth_land_sentences", {**columns, "run_id": run.run_id})
                replace_rejects(wh, run.run_id, "synth.sentences", [h for h, _ in answers], found)
            return len(found)

        tally = execute(wh, client, run, "sentences", requests, refresh, land)
        with wh.transaction():
            wh.execute("DELETE FROM parallel_sentences WHERE term_ko NOT IN (SELECT unnest(?::VARCHAR[]))", [sample])
            check(wh)
        written = int(wh.scalar("SELECT count(*) FROM parallel_sentences"))
        run.counts = {**tally.counts(), "terms": len(rows), "sampled": len(sample), "sentences": written}
    return tally, run, [("parallel sentences", f"{written:,} for {len(sample):,} sampled terms")]
