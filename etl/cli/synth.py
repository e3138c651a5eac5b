"""`etl synth`, its stages (expand, translate, sentences) and its trial, and the LLM options `etl run` shares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from etl.cli.app import App
from etl.cli.options import setting

SYNTH_STAGES = ("expand", "translate", "sentences")
LLM_SETTINGS = ("llm_url", "llm_api", "llm_model", "llm_concurrency", "llm_think")


def synth_options(fn: Any) -> Any:
    """The options every `etl synth` command takes: where the LLM is, how hard to push it, --refresh."""
    options = [
        setting("llm_url", "--llm-url"),
        setting("llm_api", "--llm-api"),
        setting("llm_model", "--llm-model"),
        # below 1 is click's range error, as it always was; above 1024 the declaration's
        setting("llm_concurrency", "--concurrency", type=click.IntRange(min=1)),
        setting("llm_think", "--think"),
        click.option("--refresh", is_flag=True, help="Send every request again instead of reusing stored answers."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def seeds_option(fn: Any) -> Any:
    """The --seeds option of `etl synth`, `etl synth expand` and `etl run`."""
    return click.option(
        "--seeds",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Seed terms file (TOML or JSON: category = [terms]) instead of the built-in 69 terms.",
    )(fn)


def _given(ctx: click.Context, options: dict[str, Any]) -> dict[str, Any]:
    """This command's options over those given to `etl synth` itself."""
    given = dict(ctx.parent.params) if ctx.parent is not None and ctx.parent.command is synth_group else {}
    for key, value in options.items():
        if value not in (None, (), False) or key not in given:
            given[key] = value
    return given


def _synth(ctx: click.Context, stages: tuple[str, ...], options: dict[str, Any]) -> None:
    """Run synthesis stages with this command's options over those given to `etl synth` itself."""
    from etl import api
    from etl.api.llm_steps import synth_client

    given = _given(ctx, options)
    app: App = ctx.obj
    llm: dict[str, Any] = {key: given.get(key) for key in LLM_SETTINGS}
    # Before the warehouse is opened: a new one has nothing cached, so the LLM server must answer first.
    client = synth_client(app.settings(**llm))
    with app.warehouse() as wh:
        summary = api.synth(
            wh, stages, seeds=given.get("seeds"), refresh=bool(given.get("refresh")), client=client, **llm
        )
    click.echo(summary.render())


@click.group("synth", invoke_without_command=True)
@synth_options
@seeds_option
@click.pass_context
def synth_group(ctx: click.Context, **options: Any) -> None:
    """Synthesise Korean-English term data with an LLM: expand, translate, sentences.

    Without a subcommand, runs all three stages in order. Every request and answer is stored in
    llm_calls before it is parsed; a rerun (even after kill -9) sends only what has no answer yet.

    \b
    Example:
      etl synth --concurrency 8
      etl synth --llm-api openai --llm-url http://gpu-box:8000/v1 --llm-model openai/gpt-oss-20b
    """
    if ctx.invoked_subcommand is None:
        _synth(ctx, SYNTH_STAGES, options)


@synth_group.command("expand")
@synth_options
@seeds_option
@click.pass_context
def synth_expand(ctx: click.Context, **options: Any) -> None:
    """Land the seed terms and ask the LLM for more terms in each category (category_terms).

    \b
    Example:
      etl synth expand --seeds my_terms.toml
    """
    _synth(ctx, ("expand",), options)


@synth_group.command("translate")
@synth_options
@click.pass_context
def synth_translate(ctx: click.Context, **options: Any) -> None:
    """Translate every planned Korean term once: primary, alternatives, abbreviation (translations).

    \b
    Example:
      etl synth translate --concurrency 8 --llm-url http://gpu1:11434 --llm-url http://gpu2:11434
    """
    _synth(ctx, ("translate",), options)


@synth_group.command("sentences")
@synth_options
@click.pass_context
def synth_sentences(ctx: click.Context, **options: Any) -> None:
    """Write Korean/English parallel sentences for a seeded sample of translated terms (parallel_sentences).

    \b
    Example:
      ETL_SYNTH_SENTENCES_SAMPLE=1.0 etl synth sentences
    """
    _synth(ctx, ("sentences",), options)


@synth_group.command("trial")
@click.argument("term", required=False)
@click.option("--category", help="Seed category to expand.  [default: the first that lists TERM]")
@synth_options
@seeds_option
@click.option("--json", "as_json", is_flag=True, help="Output the parsed answers as a JSON object.")
@click.pass_context
def synth_trial(ctx: click.Context, term: str | None, category: str | None, as_json: bool, **options: Any) -> None:
    """Try the three prompts on one term before the long run, and print what the model answered.

    Expands one category from its seed terms, translates TERM and asks for sentences with the
    translation, parsed as the stages parse them, with any refusal. TERM alone expands the first
    seed category that lists it; --category alone tries its first seed. The calls land in llm_calls
    and are reused by `etl synth`; the plan's tables are not touched.

    \b
    Example:
      etl synth trial 머신러닝
      etl synth trial --category machine_learning --llm-model qwen3:8b
    """
    import json

    from etl import api
    from etl.api.llm_steps import synth_client

    app: App = ctx.obj
    given = _given(ctx, options)
    llm: dict[str, Any] = {key: given.get(key) for key in LLM_SETTINGS}
    # Before the warehouse is opened: a new one has nothing cached, so the LLM server must answer first.
    client = synth_client(app.settings(**llm))
    with app.warehouse() as wh:
        trial = api.synth_trial(
            wh,
            term,
            category=category,
            seeds=given.get("seeds"),
            refresh=bool(given.get("refresh")),
            client=client,
            **llm,
        )
    click.echo(json.dumps(trial.as_dict(), ensure_ascii=False, indent=2) if as_json else trial.render())
