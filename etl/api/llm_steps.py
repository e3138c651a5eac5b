"""The steps that ask the chat model: `etl synth` (and its trial) and `etl judge`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Unpack

from etl import config
from etl import warehouse as store
from etl.api.keywords import JudgeSettings, SynthSettings
from etl.api.resolve import PathLike, as_path, step_settings
from etl.config import Settings
from etl.errors import ConfigError
from etl.output import StepResult

if TYPE_CHECKING:
    from etl.llm import Client
    from etl.steps.synth.trial import Trial


def synth(
    wh: store.Warehouse,
    stages: Sequence[str] = ("expand", "translate", "sentences"),
    *,
    seeds: PathLike | None = None,
    refresh: bool = False,
    client: Client | None = None,
    **settings: Unpack[SynthSettings],
) -> StepResult:
    """Synthesise term data with the LLM (url, model, api, concurrency, think, expand_ask, ...).

    `client` is an LLM client whose servers were already checked (the command checks them before
    it creates a new warehouse file: see synth_client).
    """
    from etl.steps import synth as step

    resolved = step_settings(wh, "synth", settings, ("synth_", "llm_"), ("stages", "seeds", "refresh", "client"))
    return step.run(wh, resolved, tuple(stages), seeds_path=as_path(seeds), refresh=refresh, client=client)


def synth_trial(
    wh: store.Warehouse,
    term: str | None = None,
    *,
    category: str | None = None,
    seeds: PathLike | None = None,
    refresh: bool = False,
    client: Client | None = None,
    **settings: Unpack[SynthSettings],
) -> Trial:
    """Send the three synthesis prompts for one Korean term and/or one seed category; the plan is untouched.

    A term alone also expands the first seed category that lists it; a category alone translates its
    first seed. The calls land in llm_calls (and are reused), nothing else is written.
    """
    from etl.steps.synth import trial

    own = ("term", "category", "seeds", "refresh", "client")
    resolved = step_settings(wh, "synth_trial", settings, ("synth_", "llm_"), own)
    return trial.run(wh, resolved, term, category, seeds_path=as_path(seeds), refresh=refresh, client=client)


def synth_client(settings: Settings) -> Client | None:
    """A checked LLM client when the warehouse the settings name does not exist yet, else None.

    A new warehouse has nothing cached: its server is checked before the file is even created. An
    existing one is checked by the first stage with a request to send, before that stage writes
    anything, so a rerun answered entirely from llm_calls needs no server.
    """
    from etl.steps import synth as step

    return None if Path(settings.warehouse).exists() else step.connect(settings)


def judge(
    wh: store.Warehouse,
    *,
    refresh: bool = False,
    retry_rejects: bool = False,
    client: Client | None = None,
    **settings: Unpack[JudgeSettings],
) -> StepResult:
    """Have the chat model judge the mined negatives; those it finds to mean the same as their anchor are replaced.

    Takes the judge_* settings (bands, batch, rounds, temperature, consistency, promote, prompt)
    and the LLM's (url, model, api, concurrency, think, ...). Replacing mines again with the
    settings of the last mine run. `refresh` sends requests again instead of reusing stored
    answers; `retry_rejects` asks again about pairs whose answer was refused.
    """
    from etl.steps import judge as step

    own = ("refresh", "retry_rejects", "client")
    resolved = step_settings(wh, "judge", settings, ("judge_", "llm_"), own)
    return step.run(
        wh, resolved, lambda: remine(wh, resolved), client=client, refresh=refresh, retry_rejects=retry_rejects
    )


def judge_prompt(wh: store.Warehouse, **settings: Unpack[JudgeSettings]) -> str:
    """The prompt of the first request `judge` would send now (or the template, when no pair waits); sends nothing."""
    from etl.steps import judge as step

    return step.first_prompt(wh, step_settings(wh, "judge", settings, ("judge_", "llm_")))


def judge_default_prompt() -> str:
    """The built-in judge prompt template (`{items}` takes the numbered pairs)."""
    from etl.steps.judge.tasks import DEFAULT_PROMPT

    return DEFAULT_PROMPT


def remine(wh: store.Warehouse, settings: Settings) -> StepResult:
    """Mine again with the settings the last successful mine run recorded (its model, bands, search, split)."""
    import json

    from etl.settings_check import coerce
    from etl.steps import mine as step

    row = wh.execute("SELECT params FROM runs WHERE step = 'mine' AND status = 'ok' ORDER BY run_id DESC LIMIT 1")
    found = row.fetchone()
    if found is None:
        raise ConfigError("no successful `etl mine` run is recorded; run `etl mine` first")
    recorded = json.loads(found[0])
    mined = {
        key: coerce(config.SPECS[key], key, value, origin="the last mine run")
        for key, value in recorded.items()
        if key in config.SPECS
    }
    return step.run(wh, dataclasses.replace(settings, **mined), model=recorded.get("model"))
