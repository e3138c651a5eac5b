"""The named SQL transforms and checks, installed as the package data of `etl.sql` (see pyproject.toml)."""
