"""Tables and columns added after the first schema, in order."""

from __future__ import annotations

import duckdb

from etl.migrations import migration


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


@migration
def m014_negative_judgements(con: duckdb.DuckDBPyConnection) -> None:
    """The LLM's verdicts on mined negatives (`etl judge`): one row per (anchor, negative) and trial."""
    con.execute(
        """
        CREATE TABLE negative_judgements (
            anchor_id   BIGINT NOT NULL,
            negative_id BIGINT NOT NULL,
            trial       SMALLINT NOT NULL,      -- 0: the verdict mining obeys; 1: the self-consistency re-ask
            band        VARCHAR NOT NULL,       -- the negative's band when it was judged
            similarity  FLOAT NOT NULL,         -- its cosine then (embedding model: the mine run's)
            verdict     VARCHAR NOT NULL,       -- same | related | different
            reason      VARCHAR NOT NULL,       -- the model's short reason, verbatim
            promoted    BOOLEAN NOT NULL DEFAULT false, -- a `same` pair clean lands as a synonym pair
            call_hash   VARCHAR NOT NULL,       -- the llm_calls row that answered it
            run_id      BIGINT NOT NULL,        -- the judge run that landed it
            created_at  TIMESTAMP DEFAULT utc_now(),
            PRIMARY KEY (anchor_id, negative_id, trial)
        )
        """
    )
