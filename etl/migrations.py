"""Numbered, append-only schema changes, applied on every connect.

Each migration runs in one transaction with the row recording it in `schema_migrations`, so a warehouse is
never left half-migrated. Never edit a shipped migration: add the next number (m008 was never used).
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

Migration = Callable[[duckdb.DuckDBPyConnection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    """Register a migration; its function name (m001_...) is its identity and order."""
    MIGRATIONS.append((fn.__name__, fn))
    return fn


def apply(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply every migration not yet recorded; returns the names applied now."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
    )
    done = {row[0] for row in con.execute("SELECT name FROM schema_migrations").fetchall()}
    applied = []
    for name, fn in sorted(MIGRATIONS):
        if name in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            fn(con)
            con.execute("INSERT INTO schema_migrations VALUES (?, now() AT TIME ZONE 'UTC')", [name])
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        applied.append(name)
    return applied


@migration
def m001_runs_and_rejects(con: duckdb.DuckDBPyConnection) -> None:
    """Lineage for every step, and the one place where refused input is kept with its reason."""
    # Timestamps are UTC TIMESTAMPs: TIMESTAMP values need pytz to reach Python.
    con.execute("CREATE MACRO utc_now() AS now() AT TIME ZONE 'UTC'")
    con.execute("CREATE SEQUENCE run_id_seq START 1")
    con.execute(
        """
        CREATE TABLE runs (
            run_id      BIGINT PRIMARY KEY,
            step        VARCHAR NOT NULL,
            params      JSON,
            started_at  TIMESTAMP NOT NULL,
            finished_at TIMESTAMP,
            status      VARCHAR NOT NULL,   -- running | ok | failed
            counts      JSON,
            error       VARCHAR
        )
        """
    )
    con.execute("CREATE SEQUENCE reject_id_seq START 1")
    con.execute(
        """
        CREATE TABLE rejects (
            reject_id  BIGINT DEFAULT nextval('reject_id_seq'),
            run_id     BIGINT NOT NULL,
            step       VARCHAR NOT NULL,    -- the step that refused it (synth.translate, import.pairs, clean, ...)
            rule       VARCHAR NOT NULL,    -- a short, stable rule name (not_json, wrong_shape, no_hangul, ...)
            reason     VARCHAR NOT NULL,    -- one human sentence
            source     VARCHAR,             -- input file path, or the term/category it was about
            line       BIGINT,              -- 1-based line number in `source`, for file input
            call_hash  VARCHAR,             -- the llm_calls row whose answer was refused
            payload    VARCHAR,             -- the refused value, verbatim
            created_at TIMESTAMP DEFAULT utc_now()
        )
        """
    )


@migration
def m002_synthesis(con: duckdb.DuckDBPyConnection) -> None:
    """LLM calls, stored before they are parsed, and what synthesis parsed out of them.

    One DDL script, long because it creates a family of tables at once; shipped, so its SQL never changes.
    """
    con.execute(
        """
        CREATE TABLE llm_calls (
            call_hash         VARCHAR NOT NULL, -- sha256 of the canonical request JSON
            task              VARCHAR NOT NULL, -- expand | translate | sentences | embed
            api               VARCHAR NOT NULL, -- ollama | openai
            model             VARCHAR NOT NULL,
            url               VARCHAR NOT NULL,
            request           JSON NOT NULL,
            response          VARCHAR,          -- the answer text, verbatim
            thinking          VARCHAR,
            done_reason       VARCHAR,
            prompt_tokens     INTEGER,
            completion_tokens INTEGER,
            duration_s        DOUBLE,
            attempts          INTEGER NOT NULL,
            status            VARCHAR NOT NULL, -- ok | failed
            error             VARCHAR,
            run_id            BIGINT NOT NULL,
            created_at        TIMESTAMP NOT NULL DEFAULT utc_now()
        )
        """
    )
    con.execute(
        """
        CREATE TABLE category_terms (
            category VARCHAR NOT NULL,
            term     VARCHAR NOT NULL,
            origin   VARCHAR NOT NULL,          -- seed | expanded
            call_hash VARCHAR,                  -- the expansion call, for expanded terms
            run_id   BIGINT NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE translations (
            ko              VARCHAR NOT NULL,   -- one row per distinct Korean term
            en_primary      VARCHAR NOT NULL,
            en_alternatives VARCHAR[] NOT NULL,
            abbreviation    VARCHAR,
            category        VARCHAR NOT NULL,   -- the first category that listed the term
            call_hash       VARCHAR NOT NULL,
            run_id          BIGINT NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE parallel_sentences (
            ko        VARCHAR NOT NULL,
            en        VARCHAR NOT NULL,
            term_ko   VARCHAR NOT NULL,
            term_en   VARCHAR NOT NULL,
            category  VARCHAR NOT NULL,
            call_hash VARCHAR NOT NULL,
            run_id    BIGINT NOT NULL
        )
        """
    )


@migration
def m003_vocabulary_and_pairs(con: duckdb.DuckDBPyConnection) -> None:
    """Imported pairs and terms as landed, and the clean vocabulary, pairs and groups built from them.

    One DDL script, long because it creates a family of tables at once; shipped, so its SQL never changes.
    """
    con.execute(
        """
        CREATE TABLE imported_pairs (
            source     VARCHAR NOT NULL,
            target     VARCHAR NOT NULL,
            similarity DOUBLE,
            extra      JSON,                    -- every other column of the input row
            file       VARCHAR NOT NULL,
            line       BIGINT NOT NULL,
            run_id     BIGINT NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE imported_terms (
            text   VARCHAR NOT NULL,
            file   VARCHAR NOT NULL,
            line   BIGINT NOT NULL,
            run_id BIGINT NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE term_ids (
            term_id BIGINT NOT NULL,            -- append-only: a text never changes id, even if it leaves `terms`
            text    VARCHAR NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE terms (
            term_id      BIGINT NOT NULL,       -- stable: the same text keeps its id across runs
            text         VARCHAR NOT NULL,      -- NFC, trimmed, whitespace collapsed
            norm         VARCHAR NOT NULL,      -- comparison key
            lang         VARCHAR NOT NULL,      -- ko | en | mixed
            origins      VARCHAR[] NOT NULL,
            first_run_id BIGINT NOT NULL,
            last_run_id  BIGINT NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE synonym_pairs (
            term_a     BIGINT NOT NULL,         -- term_a < term_b: one row per undirected pair
            term_b     BIGINT NOT NULL,
            similarity DOUBLE,
            origins    VARCHAR[] NOT NULL,
            run_ids    BIGINT[] NOT NULL,
            run_id     BIGINT NOT NULL          -- the clean run that built this row
        )
        """
    )
    con.execute(
        """
        CREATE TABLE synonym_groups (
            term_id  BIGINT NOT NULL,
            group_id BIGINT NOT NULL,           -- smallest term_id of the connected component
            run_id   BIGINT NOT NULL
        )
        """
    )


@migration
def m004_embeddings(con: duckdb.DuckDBPyConnection) -> None:
    """One L2-normalised vector per term and embedding model."""
    con.execute(
        """
        CREATE TABLE term_embeddings (
            term_id BIGINT NOT NULL,
            model   VARCHAR NOT NULL,
            dim     INTEGER NOT NULL,
            vec     FLOAT[] NOT NULL,
            run_id  BIGINT NOT NULL
        )
        """
    )


@migration
def m005_negatives_and_triplets(con: duckdb.DuckDBPyConnection) -> None:
    """Mined negatives per anchor and the (anchor, positive, negative) triplets built from them."""
    con.execute(
        """
        CREATE TABLE negatives (
            anchor_id   BIGINT NOT NULL,
            negative_id BIGINT NOT NULL,
            similarity  FLOAT NOT NULL,
            band        VARCHAR NOT NULL,       -- easy | medium | hard | other (outside every band)
            run_id      BIGINT NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE triplets (
            anchor              VARCHAR NOT NULL,
            positive            VARCHAR NOT NULL,
            negative            VARCHAR NOT NULL,
            negative_similarity FLOAT NOT NULL,
            difficulty          VARCHAR NOT NULL,
            group_id            BIGINT NOT NULL,
            split               VARCHAR NOT NULL, -- train | validation
            anchor_id           BIGINT NOT NULL,
            positive_id         BIGINT NOT NULL,
            negative_id         BIGINT NOT NULL,
            run_id              BIGINT NOT NULL
        )
        """
    )


@migration
def m006_synthesis_term_order(con: duckdb.DuckDBPyConnection) -> None:
    """Keep the order terms were listed in: a term in two categories is translated under the first."""
    con.execute("ALTER TABLE category_terms ADD COLUMN position INTEGER")


@migration
def m007_clean_kinds(con: duckdb.DuckDBPyConnection) -> None:
    """Typed forms: a term or pair can be an abbreviation (ML ↔ machine learning), kept, not dropped."""
    con.execute("ALTER TABLE terms ADD COLUMN kind VARCHAR DEFAULT 'term'")  # term | abbreviation
    con.execute("ALTER TABLE synonym_pairs ADD COLUMN kind VARCHAR DEFAULT 'synonym'")  # synonym | abbreviation


@migration
def m009_mining_pick_details(con: duckdb.DuckDBPyConnection) -> None:
    """How each negative was picked: by its band's quota or by the fallback fill, from search or sampling."""
    con.execute("ALTER TABLE negatives ADD COLUMN filled BOOLEAN NOT NULL DEFAULT false")
    con.execute("ALTER TABLE negatives ADD COLUMN source VARCHAR NOT NULL DEFAULT 'search'")  # search | sample


@migration
def m010_pipeline_state(con: duckdb.DuckDBPyConnection) -> None:
    """What each `etl run` stage last succeeded on, so an unchanged stage can be skipped."""
    con.execute(
        """
        CREATE TABLE pipeline_state (
            stage       VARCHAR PRIMARY KEY,    -- synth | import | clean | embed | index | mine | split | export
            fingerprint VARCHAR NOT NULL,       -- sha256 of the settings, files and table states it read
            run_id      BIGINT NOT NULL,        -- the `etl run` that recorded it
            updated_at  TIMESTAMP NOT NULL
        )
        """
    )


@migration
def m011_anchor_bands(con: duckdb.DuckDBPyConnection) -> None:
    """Per anchor and band, how many members the band had and how many negatives it was asked for."""
    con.execute(
        """
        CREATE TABLE anchor_bands (
            anchor_id  BIGINT NOT NULL,
            band       VARCHAR NOT NULL,        -- easy | medium | hard
            population BIGINT NOT NULL,         -- eligible vocabulary terms whose cosine lies in the band
            estimated  BOOLEAN NOT NULL,        -- population estimated from random draws (ANN), not counted
            quota      INTEGER NOT NULL,        -- negatives the band was asked for
            picked     INTEGER NOT NULL,        -- negatives taken from the band by its quota
            run_id     BIGINT NOT NULL
        )
        """
    )


@migration
def m012_probe_results(con: duckdb.DuckDBPyConnection) -> None:
    """The downstream probe's figures: per arm and pool, how well an adapter trained on the triplets retrieves."""
    con.execute(
        """
        CREATE TABLE probe_results (
            run_id       BIGINT NOT NULL,       -- the probe run (its settings are in runs.params)
            mine_run_id  BIGINT NOT NULL,       -- the mine run whose triplets it trained and evaluated on
            split_run_id BIGINT,                -- the `etl split` run that last re-split them, NULL for the mine run's split
            arm          VARCHAR NOT NULL,      -- untrained | mined | random
            pool         VARCHAR NOT NULL,      -- target | mixed
            metric       VARCHAR NOT NULL,      -- mrr@10 | recall@1 | recall@10
            value        DOUBLE NOT NULL
        )
        """
    )


@migration
def m013_anchor_bands_pool(con: duckdb.DuckDBPyConnection) -> None:
    """The language pool an anchor_bands row counts (mine_language): one row per anchor, band and pool."""
    # any (every term) | ko | en | ko+en (both pools, the `positive` policy's bilingual anchors)
    con.execute("ALTER TABLE anchor_bands ADD COLUMN pool VARCHAR NOT NULL DEFAULT 'any'")
