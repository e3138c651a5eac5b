"""Korean-English synonym and hard-negative triplet ETL: the `etl` command and its Python API.

    import etl
    with etl.open("warehouse/etl.duckdb") as wh:
        etl.run(wh, example=True)
        triplets = wh.table("triplets")

The API (etl.api) is imported on first use, so `import etl` and `etl --help` stay instant.
"""

from __future__ import annotations

import os as _os
from typing import TYPE_CHECKING, Any

DISTRIBUTION = "ko-synonym-etl"

# The exact mining scan alternates threaded BLAS products with numpy passes of its own on the same
# cores, and OpenBLAS's idle threads spin for about 2**28 cycles after each product, holding those
# cores (bench/mine.py measured the scan at 1.24-1.29x the bare product, 1.12-1.16x with them put to
# sleep at once). This only takes effect when numpy is imported after etl; a value already set wins.
_os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

_API = (
    "open",
    "Warehouse",
    "import_pairs",
    "import_terms",
    "import_sources",
    "drop_import",
    "clean",
    "embed",
    "index",
    "mine",
    "judge",
    "split",
    "probe",
    "export_triplets",
    "export_synth",
    "export_synonyms",
    "report",
    "synth",
    "synth_trial",
    "show",
    "run",
)
_ERRORS = ("EtlError", "ConfigError", "InputError", "WarehouseError", "CheckFailed", "ServiceError")
__all__ = [*_API, *_ERRORS, "__version__"]

if TYPE_CHECKING:
    from etl.api import (
        Warehouse,
        clean,
        drop_import,
        embed,
        export_synonyms,
        export_synth,
        export_triplets,
        import_pairs,
        import_sources,
        import_terms,
        index,
        judge,
        mine,
        open,
        probe,
        report,
        run,
        show,
        split,
        synth,
        synth_trial,
    )
    from etl.errors import CheckFailed, ConfigError, EtlError, InputError, ServiceError, WarehouseError

    __version__: str


def __getattr__(name: str) -> Any:
    if name in _API:
        from etl import api

        return getattr(api, name)
    if name in _ERRORS:
        from etl import errors

        return getattr(errors, name)
    if name == "__version__":
        return version()
    raise AttributeError(f"module 'etl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def version() -> str:
    """The installed distribution's version (pyproject.toml's, via the package metadata)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed(DISTRIBUTION)
    except PackageNotFoundError:
        return "0+unknown"  # imported from a checkout that was never installed


def install_hint(extra: str) -> str:
    """The pip command that adds an extra to this installation: `-e ".[x]"` in an editable checkout, else by name.

    Every metadata directory of the distribution on sys.path is read, not only the first: running from
    the checkout puts its own `ko_synonym_etl.egg-info` (which `pip install -e` leaves there, without
    a direct_url.json) ahead of the installed one."""
    import json
    from importlib.metadata import distributions

    found = list(distributions(name=DISTRIBUTION))
    if not found:  # a checkout on sys.path that was never installed
        return f'pip install -e ".[{extra}]"'
    for dist in found:
        direct = dist.read_text("direct_url.json")
        if direct and json.loads(direct).get("dir_info", {}).get("editable", False):
            return f'pip install -e ".[{extra}]"'
    return f'pip install "{DISTRIBUTION}[{extra}]"'
