"""The errors `etl` raises on purpose; the CLI prints their message as one line."""


class EtlError(Exception):
    """A failure the user can act on; the message says what was wrong and what to do."""

    exit_code = 1


class ConfigError(EtlError):
    """A setting, option or config file is invalid."""

    exit_code = 2


class InputError(EtlError):
    """An input file is missing or malformed (the message names file, line and reason)."""


class WarehouseError(EtlError):
    """The warehouse cannot be opened or used."""


class WarehouseBusy(WarehouseError):
    """Another process holds the warehouse lock."""


class ReadOnlyViolation(EtlError):
    """An ad-hoc query tried to change the warehouse."""


class CheckFailed(EtlError):
    """A data-quality check in sql/checks returned rows."""


class ServiceError(EtlError):
    """An LLM or embedding server is unreachable, lacks the model, or keeps failing."""
