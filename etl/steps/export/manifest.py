"""An export's manifest: the entries it wrote, so that the next export replaces those and nothing else."""

from __future__ import annotations

import json
from collections.abc import Set
from pathlib import Path

from etl.errors import EtlError

MANIFEST = ".etl-export.json"


def check_target(out: Path, legacy: Set[str], marker: str) -> None:
    """Refuse a directory holding anything an earlier export did not write, naming it.

    An export from before manifests is recognised by `marker` and owns the names in `legacy`.
    """
    if not out.is_dir():
        return
    foreign = sorted({p.name for p in out.iterdir()} - _own_entries(out, legacy, marker))
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise EtlError(
            f"{out} holds files no earlier triplet export wrote ({shown}); "
            "an export replaces its directory, so choose a new or empty one"
        )


def _own_entries(out: Path, legacy: Set[str], marker: str) -> set[str]:
    try:
        listed = json.loads((out / MANIFEST).read_text(encoding="utf-8"))["entries"]
    except FileNotFoundError:
        return set(legacy) if (out / marker).is_file() else set()
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    return {MANIFEST, *(str(name) for name in listed)} if isinstance(listed, list) else set()


def write(staging: Path) -> None:
    """List every entry of `staging` in its manifest (written last, so it names all of them)."""
    entries = sorted(p.name for p in staging.iterdir())
    text = json.dumps({"written_by": "etl export triplets", "entries": entries}, indent=2) + "\n"
    (staging / MANIFEST).write_text(text, encoding="utf-8")
