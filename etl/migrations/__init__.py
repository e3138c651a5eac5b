"""Numbered, append-only schema changes, applied on every connect.

The first tables every step writes are in foundation.py (m001-m005); later tables and columns in
additions.py.

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


# The migrations themselves; importing them registers them (after `migration` exists).
from etl.migrations import additions, foundation  # noqa: E402,F401
