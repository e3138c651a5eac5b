"""Reading precomputed term vectors: the notebook's .npy + term list, or a Parquet file.

Files are checked whole before anything is written: a bad row stops the import with its number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl.errors import InputError
from etl.vocab import normalize

if TYPE_CHECKING:
    import numpy as np

TERM_LIST = "term_list.json"
MATRIX = "term_embeddings.npy"
# Rows checked at a time: keeps the float64 scratch space small for a 150k x 1024 matrix.
CHUNK = 16_384


@dataclass(frozen=True)
class ImportSource:
    """Where precomputed vectors come from and how to read them."""

    path: Path
    term_list: Path | None = None
    term_column: str = "term"
    vector_column: str | None = None


@dataclass
class Imported:
    """Checked input: one normalised term per row of an L2-normalised float32 matrix."""

    texts: list[str]  # as written in the file
    normalized: list[str]
    matrix: np.ndarray
    terms_file: Path  # the file the terms came from (the term list, or the Parquet file)
    vectors_file: Path


def read(source: ImportSource, expected_dim: int | None, model: str) -> Imported:
    """Read and check the input; raises InputError naming the first offending row."""
    # Absolute paths: imported_terms.file names the source the way the other import steps do.
    path = source.path.resolve()
    if path.is_dir():
        path = path / MATRIX
    if not path.exists():
        raise InputError(f"{path} does not exist; pass a .npy matrix, a directory holding {MATRIX}, or a .parquet file")
    if path.suffix == ".parquet":
        texts, matrix = _read_parquet(path, source.term_column, source.vector_column)
        terms_file = path
    elif path.suffix == ".npy":
        terms_file = source.term_list.resolve() if source.term_list else path.with_name(TERM_LIST)
        texts, matrix = _read_npy(path, terms_file)
    else:
        raise InputError(f"{path}: expected a .npy matrix (with a {TERM_LIST} term list) or a .parquet file")
    where = f"{terms_file}" if terms_file == path else f"{path} / {terms_file}"
    if expected_dim is not None and matrix.shape[1] != expected_dim:
        raise InputError(
            f"{path} holds {matrix.shape[1]}-d vectors but model {model!r} already has {expected_dim}-d vectors "
            "in the warehouse; import under another --model name"
        )
    normalized = _check_terms(texts, where)
    return Imported(texts, normalized, normalize_rows(matrix, texts, where), terms_file, path)


def _read_npy(path: Path, terms_file: Path) -> tuple[list[str], np.ndarray]:
    import numpy as np

    try:
        matrix = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path} as a numpy matrix: {exc}") from exc
    if matrix.ndim != 2 or matrix.dtype.kind not in "fiu" or matrix.shape[1] == 0:
        raise InputError(f"{path} must hold a 2-D numeric matrix (terms x dims), not {matrix.dtype} {matrix.shape}")
    if not terms_file.exists():
        raise InputError(f"{terms_file} does not exist; pass the term list with --term-list")
    try:
        texts = json.loads(terms_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read {terms_file} as a JSON list of terms: {exc}") from exc
    if not isinstance(texts, list):
        raise InputError(f"{terms_file} must hold a JSON list of terms, not a {type(texts).__name__}")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"{terms_file} row {i + 1}: expected a string, got {json.dumps(text)[:60]}")
    if len(texts) != matrix.shape[0]:
        raise InputError(
            f"{terms_file} lists {len(texts):,} terms but {path} has {matrix.shape[0]:,} rows; "
            "they must be the same length, in the same order"
        )
    return texts, matrix


def _read_parquet(path: Path, term_column: str, vector_column: str | None) -> tuple[list[str], np.ndarray]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"cannot read {path} as Parquet: {exc}") from exc
    lists = [f.name for f in schema if _is_float_list(f.type)]
    column = vector_column or (lists[0] if len(lists) == 1 else None)
    if column is None or column not in schema.names or not _is_float_list(schema.field(column).type):
        found = ", ".join(lists) or "none"
        raise InputError(f"{path}: pick the vector column with --vector-column (float list columns: {found})")
    if term_column not in schema.names:
        raise InputError(f"{path} has no {term_column!r} column; name the term column with --term-column")
    table = pq.read_table(path, columns=[term_column, column])
    texts = table.column(term_column).to_pylist()
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"{path} row {i + 1}: the {term_column!r} value is {text!r}, not a string")
    vectors = table.column(column).combine_chunks()
    lengths = vectors.value_lengths().fill_null(-1).to_numpy(zero_copy_only=False)
    if len(lengths) == 0:
        return texts, np.zeros((0, 1), dtype=np.float32)
    bad = np.flatnonzero(lengths != lengths[0])
    if bad.size or lengths[0] <= 0:
        row = int(bad[0]) if bad.size else 0
        raise InputError(
            f"{path} row {row + 1} ({texts[row]!r}): its vector has {max(int(lengths[row]), 0)} values where "
            f"row 1 has {int(lengths[0])}; every vector must have the same dimension"
        )
    flat = vectors.flatten().to_numpy(zero_copy_only=False)
    return texts, flat.reshape(len(texts), int(lengths[0]))


def _is_float_list(kind: Any) -> bool:
    import pyarrow as pa

    listy = pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)
    return listy and pa.types.is_floating(kind.value_type)


def _check_terms(texts: list[str], where: str) -> list[str]:
    """Normalised terms; blank and duplicate terms are errors (a term gets one vector)."""
    normalized = [normalize(t) for t in texts]
    first_row: dict[str, int] = {}
    for i, text in enumerate(normalized):
        if not text:
            raise InputError(f"{where} row {i + 1}: the term is blank; remove it together with its vector")
        seen = first_row.setdefault(text, i)
        if seen != i:
            raise InputError(
                f"{where} row {i + 1}: term {texts[i]!r} repeats row {seen + 1} ({texts[seen]!r}); "
                "keep one row per term"
            )
    return normalized


def normalize_rows(matrix: np.ndarray, texts: list[str], where: str) -> np.ndarray:
    """float32 copy with unit rows; NaN/inf or all-zero rows are errors naming the row."""
    import numpy as np

    out = np.empty(matrix.shape, dtype=np.float32)
    for start in range(0, matrix.shape[0], CHUNK):
        block = np.asarray(matrix[start : start + CHUNK], dtype=np.float64)
        found = problems(block)
        if found:
            row, _, reason = found[0]
            row += start
            raise InputError(f"{where} row {row + 1} ({texts[row]!r}): {reason}; fix or drop that row and import again")
        out[start : start + CHUNK] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def problems(block: np.ndarray) -> list[tuple[int, str, str]]:
    """(row, rule, reason) for every row that is not finite or is all zeros."""
    import numpy as np

    finite = np.isfinite(block).all(axis=1)
    zero = finite & ~block.any(axis=1)
    found = [(int(i), "not_finite", "the vector has NaN or infinite values") for i in np.flatnonzero(~finite)]
    found += [(int(i), "zero_vector", "the vector is all zeros") for i in np.flatnonzero(zero)]
    return sorted(found)
