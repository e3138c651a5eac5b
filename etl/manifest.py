"""An export's manifest: the entries it wrote, so that the next export replaces those and nothing else.

`etl export triplets` replaces its directory whole, so it refuses one holding any entry its manifest
does not list; `etl export synth` writes four files among others, so it refuses to overwrite one of
those names that it did not write.
"""

from __future__ import annotations

import json
from collections.abc import Sequence, Set
from pathlib import Path

from etl.errors import EtlError

MANIFEST = ".etl-export.json"


TRIPLETS = "etl export triplets"
SYNTH = "etl export synth"


def check_target(out: Path, legacy: Set[str], marker: str) -> None:
    """Refuse a directory holding anything an earlier export did not write, naming it.

    An export from before manifests is recognised by `marker` and owns the names in `legacy`.
    """
    if not out.is_dir():
        return
    foreign = sorted({p.name for p in out.iterdir()} - _own_entries(out, TRIPLETS, legacy, marker))
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise EtlError(
            f"{out} holds files no earlier triplet export wrote ({shown}); "
            "an export replaces its directory, so choose a new or empty one"
        )


def check_files(out: Path, names: Sequence[str]) -> None:
    """Refuse to overwrite any of `names` in `out` that an earlier synth export did not write.

    A directory holding all of them and no manifest is an earlier export from before manifests.
    """
    present = [name for name in names if (out / name).exists()]
    legacy = set(names) if len(present) == len(names) else set()
    foreign = sorted(set(present) - _own_entries(out, SYNTH, legacy, names[0]))
    if foreign:
        raise EtlError(
            f"{out} holds {', '.join(foreign)}, which no earlier synth export wrote; "
            "move it away or choose another --out"
        )


def _own_entries(out: Path, writer: str, legacy: Set[str], marker: str) -> set[str]:
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        listed = manifest["entries"] if manifest.get("written_by") == writer else []
    except FileNotFoundError:
        return set(legacy) if (out / marker).is_file() else set()
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set()
    return {MANIFEST, *(str(name) for name in listed)} if isinstance(listed, list) else set()


def write(folder: Path, writer: str = TRIPLETS, entries: Sequence[str] | None = None) -> None:
    """List the entries `writer` wrote in `folder` (all of them unless named), in its manifest."""
    names = sorted(entries if entries is not None else (p.name for p in folder.iterdir() if p.name != MANIFEST))
    text = json.dumps({"written_by": writer, "entries": names}, indent=2) + "\n"
    (folder / MANIFEST).write_text(text, encoding="utf-8")
