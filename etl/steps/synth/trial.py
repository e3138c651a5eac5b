"""`etl synth trial`: the three prompts for one term or category, before the long run (the seed notebook's cell 6).

It expands one category (from its seed terms), translates one Korean term and asks for sentences with
the translation, exactly as the stages would, so its answers are the stages' cache: every call lands
in `llm_calls` (append, under a `synth.trial` run) and a later trial or `etl synth` reuses it. It
writes nothing else: the plan's tables (`category_terms`, `translations`, `parallel_sentences`) and
`rejects` are left as they are; the parsed answers and any refusal are returned to be printed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from etl.config import Settings
from etl.errors import ConfigError
from etl.llm import ChatRequest, Client
from etl.llm.ledger import Tally, check_if_due, execute
from etl.steps.synth.tasks import (
    expansion_request,
    load_seeds,
    parse_expansion,
    parse_sentences,
    parse_translation,
    sentences_request,
    translation_request,
)
from etl.vocab import normalize
from etl.warehouse import Run, Warehouse


@dataclass
class Trial:
    """What the model answered to one term's and one category's prompts, parsed as the stages parse them."""

    model: str
    term: str
    category: str | None
    seeds: list[str] = field(default_factory=list)  # the category's seed terms, as the expansion shows them
    expanded: list[str] | None = None  # new terms the expand stage would keep; None: not asked or no answer
    primary: str | None = None
    alternatives: list[str] = field(default_factory=list)
    abbreviation: str | None = None
    sentences: list[tuple[str, str]] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)  # task, rule, reason
    failed: list[dict[str, str]] = field(default_factory=list)  # task, error
    notes: list[str] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)

    def as_dict(self) -> dict[str, Any]:
        """Everything as plain values (`etl synth trial --json`)."""
        return asdict(self)

    def render(self) -> str:
        """The notebook's test cell output: expansion, translation, sentences, then refusals and failures."""
        t = self.tally
        lines = [f"synth trial: {self.model} ({t.calls} calls made, {t.cached} served from cache)", ""]
        if self.category is not None:
            lines.append(f"expand {self.category} (seeds: {', '.join(self.seeds[:5])})")
            kept = "no answer" if self.expanded is None else f"{len(self.expanded)} new terms kept"
            lines.append(f"  {kept}: {', '.join(self.expanded or [])}".rstrip(": "))
        lines.append(f"translate {self.term}")
        if self.primary is None:
            lines.append("  no translation")
        else:
            lines.append(f"  primary       {self.primary}")
            lines.append(f"  alternatives  {', '.join(self.alternatives)}")
            lines.append(f"  abbreviation  {self.abbreviation or ''}".rstrip())
            lines.append(f"sentences {self.term} / {self.primary}")
            lines += [line for ko, en in self.sentences for line in (f"  KO: {ko}", f"  EN: {en}")]
            if not self.sentences:
                lines.append("  no sentences")
        for item in self.refused:
            lines.append(f"refused   {item['task']}: {item['rule']}: {item['reason']}")
        for item in self.failed:
            lines.append(f"failed    {item['task']}: {item['error']}")
        lines += [f"note      {note}" for note in self.notes]
        return "\n".join(lines)


def run(
    wh: Warehouse,
    settings: Settings,
    term: str | None = None,
    category: str | None = None,
    seeds_path: Path | None = None,
    refresh: bool = False,
    client: Client | None = None,
) -> Trial:
    """Ask the model about `term` and `category` (either may be left out: see `choose`) and parse its answers."""
    seeds = load_seeds(seeds_path)
    term, category = choose(seeds, term, category, seeds_path)
    client = client or Client.for_chat(settings)
    trial = Trial(client.model, term, category, seeds=seeds.get(category or "", []))
    ask, keep = settings.synth_expand_ask, settings.synth_expand_keep
    first: dict[str, ChatRequest] = {"translate": translation_request(term, settings.synth_translate_temperature)}
    if category is not None and ask > 0 and keep > 0:
        first["expand"] = expansion_request(category, trial.seeds, ask, settings.synth_expand_temperature)
    elif category is not None:
        trial.notes.append("synth_expand_ask or synth_expand_keep is 0, so the expand stage asks nothing")
    else:
        trial.notes.append(f"no seed category lists {term!r}, so nothing was expanded; give --category to try one")
    check_if_due(wh, client, list(first.values()), refresh)
    params = {"model": client.model, "urls": list(client.urls), "term": term, "category": category, "refresh": refresh}
    with wh.record("synth.trial", params) as record:
        answers = _ask(wh, client, record, first, refresh, trial)
        if "expand" in answers:
            trial.expanded, rejects = parse_expansion(answers["expand"], trial.seeds, keep)
            trial.refused += [{"task": "expand", "rule": r.rule, "reason": r.reason} for r in rejects]
        if "translate" in answers:
            translation, rejects = parse_translation(answers["translate"], term)
            trial.refused += [{"task": "translate", "rule": r.rule, "reason": r.reason} for r in rejects]
            if translation is not None:
                trial.primary, trial.alternatives = translation.en_primary, translation.en_alternatives
                trial.abbreviation = translation.abbreviation
        if trial.primary is not None:
            per_term, temperature = settings.synth_sentences_per_term, settings.synth_sentences_temperature
            request = {"sentences": sentences_request(term, trial.primary, per_term, temperature)}
            answers = _ask(wh, client, record, request, refresh, trial)
            if "sentences" in answers:
                trial.sentences, rejects = parse_sentences(answers["sentences"], term)
                trial.refused += [{"task": "sentences", "rule": r.rule, "reason": r.reason} for r in rejects]
        trial.tally.rejected = len(trial.refused)
        record.counts = trial.tally.counts()
    return trial


def choose(
    seeds: dict[str, list[str]], term: str | None, category: str | None, seeds_path: Path | None
) -> tuple[str, str | None]:
    """The term and category to try: a term alone expands the first category listing it (if any), a
    category alone translates its first seed term."""
    if term is None and category is None:
        raise ConfigError("give a Korean term to try, --category, or both")
    if category is not None and category not in seeds:
        where = seeds_path or "the built-in seed terms"
        raise ConfigError(f"there is no category {category!r} in {where}; its categories are {', '.join(seeds)}")
    if term is None:
        assert category is not None
        return seeds[category][0], category
    term = normalize(term)
    if not term:
        raise ConfigError("the term to try is empty")
    if category is None:
        category = next((name for name, terms in seeds.items() if term in terms), None)
    return term, category


def _ask(
    wh: Warehouse, client: Client, record: Run, requests: dict[str, ChatRequest], refresh: bool, trial: Trial
) -> dict[str, str]:
    """Task → answer text for these requests, from `llm_calls` or the model; a failed call is noted on the trial."""
    check_if_due(wh, client, list(requests.values()), refresh)
    task_of = {client.call_hash(r): task for task, r in requests.items()}
    answers: dict[str, str] = {}

    def land(batch: list[tuple[str, str]]) -> int:
        answers.update((task_of[h], text) for h, text in batch)
        return 0

    trial.tally.add(execute(wh, client, record, "trial", list(requests.values()), refresh, land))
    for call_hash, task in task_of.items():
        if task not in answers:
            error = wh.scalar(
                "SELECT error FROM llm_calls WHERE call_hash = ? ORDER BY created_at DESC LIMIT 1", [call_hash]
            )
            trial.failed.append({"task": task, "error": str(error or "no answer")})
    return answers
