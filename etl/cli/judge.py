"""`etl judge`: the chat model checks the mined negatives; the ones it finds to mean the same as their anchor go."""

from __future__ import annotations

from typing import Any

import click

from etl.cli import options
from etl.cli.app import App


def _prompt_epilog() -> str:
    from etl.api.llm_steps import judge_default_prompt

    shown = "\n".join(f"  {line}" if line else "" for line in judge_default_prompt().splitlines())
    return (
        f"\b\nThe built-in prompt ({{items}} takes the numbered pairs; replace it with --prompt FILE):\n\n\b\n{shown}"
    )


@click.command("judge", epilog=_prompt_epilog())
@options.setting("judge_bands", "--band", context="Repeat for several, e.g. --band hard --band medium.")
@options.setting("judge_batch", "--batch")
@options.setting("judge_rounds", "--rounds")
@options.setting("judge_temperature", "--temperature")
@options.setting("judge_consistency", "--consistency")
@options.setting("judge_promote", "--promote/--no-promote")
@options.setting("judge_prompt", "--prompt", type=click.Path(exists=True, dir_okay=False))
@options.setting("llm_url", "--llm-url")
@options.setting("llm_api", "--llm-api")
@options.setting("llm_model", "--llm-model")
@options.setting("llm_concurrency", "--concurrency", type=click.IntRange(min=1))
@options.setting("llm_think", "--think")
@options.setting("seed", "--seed", context="Here: the sample of verdicts asked a second time.")
@click.option("--refresh", is_flag=True, help="Send every request again instead of reusing stored answers.")
@click.option(
    "--retry-rejects",
    is_flag=True,
    help="Ask again, past the stored answers, about pairs whose answer was refused (see rejects).",
)
@click.option("--show-prompt", is_flag=True, help="Print the first request the judge would send, and stop.")
@click.pass_obj
def judge(app: App, refresh: bool, retry_rejects: bool, show_prompt: bool, **settings: Any) -> None:
    """Ask the chat model whether each mined negative means the same as its anchor, and replace those that do.

    For the negatives of the judged bands (default hard), several pairs per request, the model
    answers same, related or different with a short reason (table negative_judgements). A
    negative judged `same` leaves negatives and triplets: the anchors are mined again with the
    last mine run's settings, the band's next member in the anchor's seeded order takes its place,
    and the replacements are judged in the next round. A seeded sample of verdicts is asked a
    second time to report how often the judge agrees with itself.

    Every request and answer is stored in llm_calls with its verdicts; a rerun (even after kill -9)
    asks only about pairs without a verdict. Verdicts are kept across runs and mine runs: to judge
    again with another prompt or model, delete rows of negative_judgements first.

    \b
    Example:
      etl judge --concurrency 8
      etl judge --band hard --band medium --batch 32 --promote
    """
    from etl import api

    if show_prompt:
        from etl.api.llm_steps import judge_prompt

        with app.warehouse(read_only=True, create=False) as wh:
            click.echo(judge_prompt(wh, **settings))
        return
    with app.warehouse(create=False) as wh:
        click.echo(api.judge(wh, refresh=refresh, retry_rejects=retry_rejects, **settings).render())
