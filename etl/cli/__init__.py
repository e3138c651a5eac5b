"""The `etl` command line: parse options, open the warehouse, call one step of etl.api, print its summary."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from etl import DISTRIBUTION, config
from etl.errors import EtlError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class App:
    """What every command needs: the settings as resolved so far, and a way to open the warehouse."""

    def __init__(self, config_path: Path | None, warehouse: Path | None) -> None:
        self.config_path = config_path
        self.base_overrides: dict[str, Any] = {"warehouse": str(warehouse) if warehouse else None}

    def loaded(self, **overrides: Any) -> config.Loaded:
        """Settings with this command's options applied on top."""
        return config.load(self.config_path, overrides={**self.base_overrides, **overrides})

    def settings(self, **overrides: Any) -> config.Settings:
        """Effective settings for this command."""
        return self.loaded(**overrides).settings

    def path(self) -> Path:
        """Where the warehouse file is (or will be)."""
        return Path(self.settings().warehouse)

    @contextmanager
    def warehouse(self, read_only: bool = False) -> Iterator[Any]:
        """The open warehouse (an etl.api.Warehouse), closed (lock released) when the command ends."""
        from etl import api

        wh = api.open(self.path(), config=self.config_path, read_only=read_only)
        try:
            yield wh
        finally:
            wh.close()


class EtlGroup(click.Group):
    """Turns an EtlError into one line on stderr and an exit code; `--debug` shows the traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EtlError as exc:
            if ctx.params.get("debug"):
                raise
            click.secho(f"error: {exc}", err=True, fg="red")
            ctx.exit(exc.exit_code)


@click.group(cls=EtlGroup, context_settings=CONTEXT)
@click.option(
    "--warehouse",
    type=click.Path(dir_okay=False, path_type=Path),
    help="DuckDB warehouse file.  [env ETL_WAREHOUSE; default warehouse/etl.duckdb]",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Settings file.  [env ETL_CONFIG; default ./etl.toml when present]",
)
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.version_option(package_name=DISTRIBUTION, prog_name="etl")
@click.pass_context
def cli(ctx: click.Context, warehouse: Path | None, config_path: Path | None, debug: bool) -> None:
    """Manufacture Korean-English synonym pairs and hard-negative triplets for retrieval models.

    Each step lands its output in a DuckDB warehouse; every row carries the run_id of the step
    that wrote it (see the `runs` table).

    \b
    Example:
      etl status
      etl sql "SELECT step, status FROM runs ORDER BY run_id DESC LIMIT 5"
    """
    ctx.obj = App(config_path, warehouse)


# -- inspection ----------------------------------------------------------------------------------


@cli.command("config")
@click.pass_obj
def config_cmd(app: App) -> None:
    """Show every setting's effective value and where it came from.

    Settings resolve in this order, later winning: defaults, etl.toml (or --config),
    ETL_<NAME> environment variables, command options.

    \b
    Example:
      ETL_LLM_MODEL=qwen3:8b etl config
    """
    from etl.output import format_table

    loaded = app.loaded()
    rows = []
    for key in config.keys():  # noqa: SIM118 -- etl.config is a module; keys() names its settings
        value = getattr(loaded.settings, key)
        shown = ",".join(str(v) for v in value) if isinstance(value, tuple) else value
        rows.append((key, shown, loaded.sources[key]))
    click.echo(format_table(["setting", "value", "source"], rows, max_width=80))


@cli.command()
@click.option("--runs", "last_runs", default=10, show_default=True, help="How many recent runs to list.")
@click.pass_obj
def status(app: App, last_runs: int) -> None:
    """Show the warehouse: its path and size, each table's row count, and the last runs.

    \b
    Example:
      etl status --runs 20
    """
    from etl.steps import inspect

    with app.warehouse(read_only=True) as wh:
        click.echo(inspect.status(wh, last_runs))


@cli.command("report")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="HTML file to (re)write.  [default exports/report.html beside the warehouse]",
)
@click.pass_obj
def report_cmd(app: App, out: Path | None) -> None:
    """Write one self-contained HTML page with plots of the warehouse (needs the `report` extra).

    Negatives' similarity with the band edges, band shares per split, positives per anchor,
    population per band, rejects, LLM calls with latency and token percentiles, the last runs.
    The page embeds plotly.js, so it opens without a network.

    \b
    Example:
      pip install -e ".[report]" && etl report --out report.html && xdg-open report.html
    """
    from etl import api

    with app.warehouse(read_only=True) as wh:
        click.echo(api.report(wh, out).render())


@cli.command()
@click.argument("query", required=False)
@click.option("--file", "query_file", type=click.File("r", encoding="utf-8"), help="Read the query from a file.")
@click.option("--csv", "as_csv", is_flag=True, help="Output CSV with a header row.")
@click.option("--json", "as_json", is_flag=True, help="Output a JSON array of row objects.")
@click.option("--max-rows", default=100, show_default=True, help="Rows shown in table output.")
@click.pass_obj
def sql(app: App, query: str | None, query_file: Any, as_csv: bool, as_json: bool, max_rows: int) -> None:
    """Run a read-only query against the warehouse (statements that write are refused).

    \b
    Examples:
      etl sql "SELECT rule, count(*) FROM rejects GROUP BY rule"
      etl sql --csv --file report.sql > report.csv
    """
    from etl.output import format_table
    from etl.steps import inspect

    if (query is None) == (query_file is None):
        raise click.UsageError("give a query or --file, not both and not neither")
    if as_csv and as_json:
        raise click.UsageError("choose one of --csv and --json")
    text = query if query is not None else query_file.read()
    with app.warehouse(read_only=True) as wh:
        result = inspect.query(wh, text)
    if as_json:
        click.echo(inspect.to_json(result))
    elif as_csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(result.rows)
        click.echo(buffer.getvalue(), nl=False)
    else:
        click.echo(format_table(result.columns, result.rows[:max_rows]))
        hidden = len(result.rows) - max_rows
        noun = "row" if len(result.rows) == 1 else "rows"
        more = f", {hidden:,} not shown; use --csv or --json" if hidden > 0 else ""
        footer = f"({len(result.rows):,} {noun}{more})"
        click.echo(footer, err=sys.stdout.isatty())


# -- landing input -------------------------------------------------------------------------------


@cli.group("import")
def import_group() -> None:
    """Land existing data files (synonym pairs, vocabularies) in the warehouse."""


# -- exports -------------------------------------------------------------------------------------


@cli.group("export")
def export_group() -> None:
    """Write files for training jobs and for the notebooks' consumers."""


# -- synthesis -----------------------------------------------------------------------------------

SYNTH_STAGES = ("expand", "translate", "sentences")
_LLM_OPTIONS = {
    "llm_url": "llm_url",
    "llm_api": "llm_api",
    "llm_model": "llm_model",
    "concurrency": "llm_concurrency",
    "think": "llm_think",
}


def _synth_options(fn: Any) -> Any:
    """The options every `etl synth` command takes: where the LLM is, how hard to push it, --refresh."""
    options = [
        click.option(
            "--llm-url",
            multiple=True,
            help="LLM server base URL; repeat the option to spread requests over several servers.",
        ),
        click.option(
            "--llm-api",
            type=click.Choice(["ollama", "openai"]),
            help="Wire format: Ollama native (/api/chat) or OpenAI-compatible (/v1/chat/completions).",
        ),
        click.option("--llm-model", help="Chat model, e.g. gpt-oss:20b."),
        click.option("--concurrency", type=click.IntRange(min=1), help="Requests in flight across all servers."),
        click.option(
            "--think",
            type=click.Choice(["low", "medium", "high", "none"]),
            help="Reasoning effort for thinking models; 'none' sends no thinking setting.",
        ),
        click.option("--refresh", is_flag=True, help="Send every request again instead of reusing stored answers."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _seeds_option(fn: Any) -> Any:
    return click.option(
        "--seeds",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Seed terms file (TOML or JSON: category = [terms]) instead of the built-in 69 terms.",
    )(fn)


def _synth(ctx: click.Context, stages: tuple[str, ...], options: dict[str, Any]) -> None:
    """Run synthesis stages with this command's options over those given to `etl synth` itself."""
    from etl import api
    from etl.steps import synth

    given = dict(ctx.parent.params) if ctx.parent is not None and ctx.parent.command is synth_group else {}
    for key, value in options.items():
        if value not in (None, (), False) or key not in given:
            given[key] = value
    app: App = ctx.obj
    llm = {setting: given.get(option) for option, setting in _LLM_OPTIONS.items()}
    settings = app.settings(**llm)
    # A new warehouse has nothing cached: check the server before the file is even created. An
    # existing one is checked by the first stage with a request to send, before that stage writes
    # anything, so a rerun answered entirely from llm_calls needs no server.
    client = None if Path(settings.warehouse).exists() else synth.connect(settings)
    with app.warehouse() as wh:
        summary = api.synth(
            wh, stages, seeds=given.get("seeds"), refresh=bool(given.get("refresh")), client=client, **llm
        )
    click.echo(summary.render())


@cli.group("synth", invoke_without_command=True)
@_synth_options
@_seeds_option
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
@_synth_options
@_seeds_option
@click.pass_context
def synth_expand(ctx: click.Context, **options: Any) -> None:
    """Land the seed terms and ask the LLM for more terms in each category (category_terms).

    \b
    Example:
      etl synth expand --seeds my_terms.toml
    """
    _synth(ctx, ("expand",), options)


@synth_group.command("translate")
@_synth_options
@click.pass_context
def synth_translate(ctx: click.Context, **options: Any) -> None:
    """Translate every planned Korean term once: primary, alternatives, abbreviation (translations).

    \b
    Example:
      etl synth translate --concurrency 8 --llm-url http://gpu1:11434 --llm-url http://gpu2:11434
    """
    _synth(ctx, ("translate",), options)


@synth_group.command("sentences")
@_synth_options
@click.pass_context
def synth_sentences(ctx: click.Context, **options: Any) -> None:
    """Write Korean/English parallel sentences for a seeded sample of translated terms (parallel_sentences).

    \b
    Example:
      ETL_SYNTH_SENTENCES_SAMPLE=1.0 etl synth sentences
    """
    _synth(ctx, ("sentences",), options)


@export_group.command("synth")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for ko_en_terms.jsonl, ko_en_parallel.jsonl, cross_lingual_pairs.jsonl, metadata.json.",
)
@click.pass_obj
def export_synth(app: App, out: Path) -> None:
    """Write the synthesis results as the seed notebook's files (JSONL and metadata.json).

    \b
    Example:
      etl export synth --out dataset/synonyms
    """
    from etl import api

    with app.warehouse() as wh:
        summary = api.export_synth(wh, out)
    click.echo(summary.render())


# -- clean: imports, cleaning and dedupe ---------------------------------------------------------

_PAIR_FORMATS = click.Choice(["jsonl", "csv", "tsv", "parquet"])
_TERM_FORMATS = click.Choice(["txt", "json", "jsonl", "csv", "tsv", "parquet"])


@import_group.command("pairs")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=_PAIR_FORMATS, help="File format.  [default: from the extension]")
@click.option(
    "--skip-bad-lines", is_flag=True, help="Send bad lines to `rejects` and land the rest, instead of failing."
)
@click.pass_obj
def import_pairs(app: App, file: Path, fmt: str | None, skip_bad_lines: bool) -> None:
    """Land synonym pairs: columns source, target and optional similarity (others kept in `extra`).

    Reads JSONL (the notebook's filtered_synonym_pairs.jsonl), CSV, TSV or Parquet. Importing the
    same file again replaces what it landed before. A bad line fails the import with file:line and
    the reason, and nothing is written; `etl clean` turns landed pairs into synonym_pairs.

    \b
    Example:
      etl import pairs filtered_synonym_pairs.jsonl
      etl import pairs pairs.csv --skip-bad-lines
    """
    from etl import api

    with app.warehouse() as wh:
        click.echo(api.import_pairs(wh, file, format=fmt, skip_bad_lines=skip_bad_lines).render())


@import_group.command("terms")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=_TERM_FORMATS, help="File format.  [default: from the extension]")
@click.option(
    "--column",
    help="Column holding the terms (CSV, TSV, Parquet, JSONL objects).  [default: text, term, or the only one]",
)
@click.option(
    "--skip-bad-lines", is_flag=True, help="Send bad lines to `rejects` and land the rest, instead of failing."
)
@click.pass_obj
def import_terms(app: App, file: Path, fmt: str | None, column: str | None, skip_bad_lines: bool) -> None:
    """Land a vocabulary: terms in no pair that must still be candidates for negatives.

    Reads one term per line (.txt), a JSON list (the notebook's term_list.json), JSONL, or a
    CSV/TSV/Parquet column. Importing the same file again replaces what it landed before.

    \b
    Example:
      etl import terms term_list.json
      etl import terms vocabulary.parquet --column word
    """
    from etl import api

    with app.warehouse() as wh:
        summary = api.import_terms(wh, file, format=fmt, column=column, skip_bad_lines=skip_bad_lines)
        click.echo(summary.render())


@cli.command()
@click.option("--max-length", type=int, help="Longest term kept, in characters.  [setting clean_max_length]")
@click.option(
    "--ignore-spaces/--keep-spaces",
    default=None,
    help="Compare Korean terms without their spaces (배치 정규화 = 배치정규화).  [setting clean_ignore_spaces]",
)
@click.pass_obj
def clean(app: App, max_length: int | None, ignore_spaces: bool | None) -> None:
    """Rebuild terms, synonym_pairs and synonym_groups from everything landed.

    Reads imported pairs, translations and imported vocabularies; applies the cleaning rules in
    order and prints rows in/out per rule; refused rows go to `rejects` (step clean, replacing the
    previous clean's). Running it twice changes nothing. Fails, replacing nothing, if a check in
    sql/checks/clean_*.sql finds rows.

    \b
    Example:
      etl import pairs filtered_synonym_pairs.jsonl && etl clean
      etl clean --max-length 40 --keep-spaces
    """
    from etl import api

    with app.warehouse() as wh:
        click.echo(api.clean(wh, clean_max_length=max_length, clean_ignore_spaces=ignore_spaces).render())


# -- embeddings and the ANN index ----------------------------------------------------------------


@cli.command()
@click.option(
    "--embedder",
    type=click.Choice(["hash", "ollama", "openai", "import"]),
    help="hash: built-in, offline and lexical (spelling, not meaning); ollama/openai: an embedding "
    "server; import: precomputed vectors from --input.  [embedder]",
)
@click.option("--model", help="Model name for ollama/openai/import vectors.  [embed_model]")
@click.option("--dim", type=int, help="Dimension of hash vectors (stored as model hash-<dim>).  [embed_dim]")
@click.option("--url", "urls", multiple=True, help="Embedding server URL (repeatable).  [embed_url, else llm_url]")
@click.option("--batch", type=int, help="Terms per embedding request.  [embed_batch]")
@click.option(
    "--input",
    "source",
    type=click.Path(exists=True, path_type=Path),
    help="For import: term_embeddings.npy, a directory holding it and term_list.json, or a .parquet file.",
)
@click.option(
    "--term-list",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="For import of a .npy: the JSON list of terms, row by row (default: term_list.json beside it).",
)
@click.option("--term-column", default="term", show_default=True, help="For import of Parquet: the term column.")
@click.option("--vector-column", help="For import of Parquet: the float list column (default: the only one there is).")
@click.pass_obj
def embed(
    app: App,
    embedder: str | None,
    model: str | None,
    dim: int | None,
    urls: tuple[str, ...],
    batch: int | None,
    source: Path | None,
    term_list: Path | None,
    term_column: str,
    vector_column: str | None,
) -> None:
    """Give every term in `terms` a vector for one model (only terms that lack one).

    Vectors land L2-normalised in term_embeddings (term_id, model, dim, vec). The hash embedder
    hashes character n-grams (Hangul split into jamo) into --dim dimensions: it needs no server and
    is lexical, not semantic. Import adds terms it does not know yet.

    \b
    Example:
      etl embed --embedder hash
      etl embed --embedder ollama --model bge-m3 --url http://localhost:11434
      etl embed --embedder import --input data/term_embeddings.npy --model bge-m3
    """
    from etl import api

    with app.warehouse() as wh:
        summary = api.embed(
            wh,
            vectors=source,
            term_list=term_list,
            term_column=term_column,
            vector_column=vector_column,
            embedder=embedder,
            embed_model=model,
            embed_dim=dim,
            embed_url=urls,
            embed_batch=batch,
        )
        click.echo(summary.render())


@cli.command()
@click.option(
    "--model", help="Whose vectors to index.  [default: the model `etl embed` would write, else the only one]"
)
@click.option(
    "--dtype",
    type=click.Choice(["auto", "f32", "f16", "bf16", "i8"]),
    help="Scalar type stored in the index; auto builds with the fastest of f16/bf16/f32 measured here.  [index_dtype]",
)
@click.option("--connectivity", type=int, help="HNSW edges per node (M).  [index_connectivity]")
@click.option(
    "--expansion-add", type=int, help="HNSW search depth while adding (efConstruction).  [index_expansion_add]"
)
@click.option("--expansion-search", type=int, help="HNSW search depth per query (ef).  [index_expansion_search]")
@click.option("--force", is_flag=True, help="Rebuild even when the saved index is up to date.")
@click.pass_obj
def index(
    app: App,
    model: str | None,
    dtype: str | None,
    connectivity: int | None,
    expansion_add: int | None,
    expansion_search: int | None,
    force: bool,
) -> None:
    """Build the usearch (HNSW, cosine) index over one model's term vectors, keyed by term_id.

    The index is saved under <warehouse dir>/index/ with a fingerprint (model, count, a hash of
    ids and vectors, settings); an up-to-date index is reused, a stale one rebuilt.

    \b
    Example:
      etl index --dtype f16
      etl index --model bge-m3 --connectivity 32 --force
    """
    from etl import api

    with app.warehouse() as wh:
        summary = api.index(
            wh,
            model=model,
            force=force,
            index_dtype=dtype,
            index_connectivity=connectivity,
            index_expansion_add=expansion_add,
            index_expansion_search=expansion_search,
        )
        click.echo(summary.render())


# -- mining, split and triplet export ------------------------------------------------------------


@cli.command()
@click.option("--model", help="Embedding model whose vectors to mine.  [default: the only model with vectors]")
@click.option(
    "--search",
    type=click.Choice(["auto", "exact", "ann"]),
    help="How bands are searched: an exact scan of the vocabulary, the usearch index (scanning what it cannot show), or auto: the cheaper, estimated on this machine.  [default auto]",
)
@click.option(
    "--top-k",
    type=int,
    help="ANN shortlist per anchor (plus margins); bands below its last score are walked or scanned.  [default 100]",
)
@click.option("--negatives", type=int, help="Negatives per anchor.  [default 5]")
@click.option("--easy", help="Easy band as LOW,HIGH cosines ([low, high)).  [default 0.3,0.5]")
@click.option("--medium", help="Medium band as LOW,HIGH.  [default 0.5,0.7]")
@click.option("--hard", help="Hard band as LOW,HIGH.  [default 0.7,0.9]")
@click.option("--ratios", help="Shares of easy,medium,hard negatives.  [default 0.33,0.33,0.34]")
@click.option(
    "--max-neg-ratio",
    type=float,
    help="Cap: a negative scores at most this x the anchor's lowest positive cosine (0 = off).  [default 0]",
)
@click.option(
    "--calibrate/--no-calibrate",
    default=None,
    help="Place the bands at percentiles of this model's anchor-to-term cosines (see --percentiles).",
)
@click.option(
    "--percentiles",
    help="With --calibrate: four band edges as fractions (easy low, medium low, hard low, hard high).  [default 0.5,0.999,0.9999,0.99999]",
)
@click.option("--seed", type=int, help="Seed for sampling, picks and the split.  [default 42]")
@click.option(
    "--split-by",
    type=click.Choice(["group", "triplet"]),
    help="Split by synonym group (no leaks) or by triplet (the notebook's leaky split).  [default group]",
)
@click.option("--train-ratio", type=float, help="Share of triplets for train.  [default 0.9]")
@click.option(
    "--shard",
    metavar="I/N",
    help="Mine only shard I of N (I from 0) and write its part under --out; the warehouse is only read. Needs --search exact or ann.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --shard: the directory the parts go to (one subdirectory per shard).",
)
@click.option(
    "--merge",
    "merge_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Land the parts of every shard under this directory as one mine run (refused if one is missing, stale or foreign).",
)
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="local",
    default=None,
    metavar="[ADDRESS]",
    help="Run the shards as Ray tasks: on a local Ray, or on the cluster at ADDRESS (e.g. auto, ray://head:10001). Needs the ray extra.",
)
@click.option("--ray-shards", type=int, help="With --ray: how many shards.  [default: the cluster's CPUs]")
@click.option(
    "--ray-vectors",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --ray: share the inputs as .npy files in this directory (storage every node mounts) instead of the object store.",
)
@click.pass_obj
def mine(app: App, model: str | None, search: str | None, top_k: int | None, negatives: int | None, easy: str | None,
         medium: str | None, hard: str | None, ratios: str | None, max_neg_ratio: float | None, calibrate: bool | None,
         percentiles: str | None, seed: int | None, split_by: str | None, train_ratio: float | None, shard: str | None,
         out: Path | None, merge_dir: Path | None, ray_address: str | None, ray_shards: int | None,
         ray_vectors: Path | None) -> None:  # fmt: skip
    """Mine negatives by cosine band for every anchor, build triplets and split them train/validation.

    Anchors are both sides of every synonym pair with vectors; negatives never come from the
    anchor's synonym group or share a normalised text with the anchor or a positive. Each band's
    picks are a seeded uniform sample of every term whose exact cosine lies in it; a band is filled
    from the others only when it has fewer members than its quota. Replaces `negatives`, `triplets`
    and `anchor_bands` (each anchor's band sizes); anchors left without any negative are listed in
    `rejects`, and a run where no anchor gets one fails with the model's cosine range.

    Beyond one machine: `--shard I/N --out DIR` mines a deterministic share of the anchors (run
    every I from 0 to N-1, anywhere the warehouse is), `--merge DIR` lands the parts; `--ray` does
    both on a Ray cluster. Either way the rows equal a plain `etl mine`'s (see docs/scale.md).

    \b
    Example:
      etl mine
      etl mine --model bge-m3 --search exact --max-neg-ratio 0.95
      etl mine --calibrate --split-by triplet
      etl mine --search exact --shard 0/4 --out parts && etl mine --merge parts
      etl mine --ray --ray-shards 8
    """
    from etl import api

    settings = {
        "mine_search": search, "mine_top_k": top_k, "mine_negatives": negatives, "mine_easy": easy, "mine_medium": medium,
        "mine_hard": hard, "mine_ratios": ratios, "mine_max_neg_ratio": max_neg_ratio, "mine_calibrate": calibrate,
        "mine_percentiles": percentiles, "seed": seed, "split_by": split_by, "split_train_ratio": train_ratio,
    }  # fmt: skip
    ray: str | bool | None = True if ray_address == "local" else ray_address
    if ray is not None:
        from etl.steps.mine import on_ray as mine_ray

        mine_ray.import_ray()  # before the warehouse is opened: say what to install
    # A shard only reads the warehouse, so shards of one warehouse can run side by side.
    with app.warehouse(read_only=shard is not None) as wh:
        click.echo(api.mine(wh, model=model, shard=shard, out=out, merge=merge_dir, ray=ray, ray_shards=ray_shards,
                            ray_vectors=ray_vectors, **settings).render())  # fmt: skip


@cli.command("split")
@click.option(
    "--split-by",
    type=click.Choice(["group", "triplet"]),
    help="By synonym group (no leaks) or by triplet (the notebook's leaky split).  [default group]",
)
@click.option("--train-ratio", type=float, help="Share of triplets for train.  [default 0.9]")
@click.option("--seed", type=int, help="Seed for the order of groups or triplets.  [default 42]")
@click.pass_obj
def split_cmd(app: App, split_by: str | None, train_ratio: float | None, seed: int | None) -> None:
    """Re-split the existing triplets into train and validation (`etl mine` already splits).

    \b
    Example:
      etl split --split-by triplet     # the notebook's split, to measure its leak
      etl split --train-ratio 0.8
    """
    from etl import api

    with app.warehouse() as wh:
        click.echo(api.split(wh, split_by=split_by, split_train_ratio=train_ratio, seed=seed).render())


@export_group.command("triplets")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to (re)write.  [default exports/triplets beside the warehouse]",
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(["triplet", "n-tuple", "labeled-pair", "labeled-list"]),
    help="Training layout to write; repeat for several (each beside the others).  [export_formats; default triplet]",
)
@click.option(
    "--with-scores/--without-scores",
    "scores",
    default=None,
    help="Add the mining model's exact cosine of every positive and negative (scores / score columns).  [export_scores]",
)
@click.option(
    "--license",
    "license_id",
    help="License field of the dataset card, e.g. cc-by-4.0.  [export_license; default unknown]",
)
@click.pass_obj
def export_triplets_cmd(
    app: App, out_dir: Path | None, formats: tuple[str, ...], scores: bool | None, license_id: str | None
) -> None:
    """Write the triplets as Parquet, JSONL, a Hugging Face DatasetDict with its card, and a stats file.

    Files for the default triplet layout: train.parquet, validation.parquet, triplet_dataset/
    (with README.md, its dataset card), train_triplets.jsonl, val_triplets.jsonl,
    data_preparation_stats.json. Each other layout goes to DIR/<layout>/: train.parquet,
    validation.parquet, train.jsonl, validation.jsonl, dataset/. The directory is replaced as a whole.

    \b
    Example:
      etl export triplets --out dataset/v21.3
      etl export triplets --format triplet --format n-tuple --format labeled-list --with-scores
      python -c "import datasets; print(datasets.load_from_disk('dataset/v21.3/triplet_dataset'))"
    """
    from etl import api

    with app.warehouse() as wh:
        summary = api.export_triplets(wh, out_dir, export_formats=formats, export_scores=scores,
                                      export_license=license_id)  # fmt: skip
        click.echo(summary.render())


@export_group.command("synonyms")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to (re)write.  [default exports/synonyms.txt beside the warehouse]",
)
@click.option(
    "--explicit",
    is_flag=True,
    help="Write mappings (머신러닝 => machine learning, ML): Korean and mixed-script terms to the group's English terms.",
)
@click.option("--max-group-size", type=int, default=20, show_default=True, help="Largest group written as one line.")
@click.option(
    "--oversize",
    type=click.Choice(["split", "skip"]),
    default="split",
    show_default=True,
    help="What to do with a larger group: write its synonym pairs, one per line, or leave it out.",
)
@click.option(
    "--category",
    "categories",
    multiple=True,
    help="Only groups with a term synthesised under this category (repeatable); imported-only groups have none.",
)
@click.pass_obj
def export_synonyms_cmd(app: App, out: Path | None, explicit: bool, max_group_size: int, oversize: str,
                        categories: tuple[str, ...]) -> None:  # fmt: skip
    """Write the synonym groups as a Solr-format synonym file for OpenSearch / Elasticsearch.

    One line per group of equivalent terms (머신러닝, machine learning, ML), for the `synonym` and
    `synonym_graph` token filters' synonyms_path. Terms are escaped as the format requires; terms it
    cannot hold and groups left out are counted in the summary.

    \b
    Example:
      etl export synonyms --out config/analysis/ko_en_synonyms.txt
      etl export synonyms --explicit --category machine_learning --max-group-size 10 --oversize skip
    """
    from etl import api

    with app.warehouse() as wh:
        summary = api.export_synonyms(wh, out, explicit=explicit, max_group_size=max_group_size, oversize=oversize,
                                      categories=categories)  # fmt: skip
    click.echo(summary.render())


# -- the whole pipeline --------------------------------------------------------------------------

STAGES_OF_RUN = ("synth", "import", "clean", "embed", "index", "mine", "split", "export")


@cli.command("run")
@click.option(
    "--pairs",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Synonym pairs to import (JSONL/CSV/TSV/Parquet) instead of synthesising them with an LLM.",
)
@click.option(
    "--terms",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Extra vocabulary to import: terms in no pair that may still be negatives.",
)
@click.option(
    "--vectors",
    type=click.Path(exists=True, path_type=Path),
    help="Precomputed vectors (term_embeddings.npy, its directory, or .parquet); implies --embedder import.",
)
@click.option(
    "--example",
    is_flag=True,
    help="Use the bundled example pairs and vocabulary with the hash embedder: no model server needed.",
)
@click.option(
    "--embedder",
    type=click.Choice(["ollama", "openai", "hash", "import"]),
    help="How terms get vectors (hash is offline and lexical).  [embedder]",
)
@click.option("--embed-model", help="Embedding model for ollama/openai/import vectors, e.g. bge-m3.  [embed_model]")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Export directory (triplets/, synonyms.txt and, after synthesis, synonyms/ inside).  [default: exports/ beside the warehouse]",
)
@click.option(
    "--from",
    "start",
    type=click.Choice(STAGES_OF_RUN),
    help="Run this step and every step after it, even when their inputs are unchanged.",
)
@click.option(
    "--only", type=click.Choice(STAGES_OF_RUN), help="Run just this step, even when its inputs are unchanged."
)
@click.option("--skip-bad-lines", is_flag=True, help="Send bad lines of --pairs/--terms to rejects instead of failing.")
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="local",
    default=None,
    metavar="[ADDRESS]",
    help="Mine as shards on Ray: a local Ray, or the cluster at ADDRESS (same rows as without). Needs the ray extra.",
)
@click.option("--ray-shards", type=int, help="With --ray: how many mining shards.  [default: the cluster's CPUs]")
@_synth_options
@_seeds_option
@click.pass_obj
def run_cmd(app: App, **options: Any) -> None:
    """Run the whole pipeline: synth (or import) → clean → embed → index → mine → split → export.

    Steps whose inputs have not changed since they last succeeded are skipped, so a second run
    with nothing new finishes in seconds and sends no request. Without --pairs/--terms/--example
    the pairs come from an LLM (Ollama on localhost by default), which must answer first.

    \b
    Example:
      etl run --example
      etl run --pairs pairs.jsonl --terms vocabulary.txt --embedder hash
      etl run --concurrency 8 --embedder ollama
      etl run --from mine
      etl run --example --ray
    """
    from etl import api
    from etl.steps import pipeline

    inputs = {
        key: options[key]
        for key in ("example", "pairs", "terms", "vectors", "out", "skip_bad_lines", "seeds", "refresh")
    }
    llm = {setting: options[option] for option, setting in _LLM_OPTIONS.items()}
    settings = {"embedder": options["embedder"], "embed_model": options["embed_model"], **llm}
    path, start, only = app.path(), options["start"], options["only"]
    client = None
    if not path.exists() and pipeline.needs_llm(api.run_inputs(path, **inputs), start, only):
        client = pipeline.check_llm(app.settings(**llm))  # before the warehouse file is even created
    ray = True if options["ray_address"] == "local" else options["ray_address"]
    if ray is not None:
        from etl.steps.mine import on_ray as mine_ray

        mine_ray.import_ray()  # before the warehouse is opened: say what to install
    with app.warehouse() as wh:
        result = api.run(
            wh,
            start=start,
            only=only,
            notify=lambda line: click.echo(line, err=True),
            client=client,
            ray=ray,
            ray_shards=options["ray_shards"],
            **inputs,
            **settings,
        )
    click.echo(result.render())


def main() -> None:
    """Entry point for `python -m etl`."""
    cli()
