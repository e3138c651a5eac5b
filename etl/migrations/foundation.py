"""The first schema: runs and rejects, synthesis, vocabulary and pairs, embeddings, negatives and triplets."""

from __future__ import annotations

import duckdb

from etl.migrations import migration


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
