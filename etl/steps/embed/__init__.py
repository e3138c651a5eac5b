"""`etl embed`: give every term in `terms` a vector for one model.

Write mode: merge on (model, term_id), insert-only. Only terms without a vector for the chosen model
are embedded, so a rerun with nothing new makes no request and writes nothing. Vectors are
L2-normalised once, on landing. Computed vectors (and their rejects) commit every `COMMIT_CHUNK`
terms, so an embedding server failing at term 149,000 of 150,000 costs one chunk, not the run: the
next run embeds only what is still missing. Imported vectors commit together.

Embedders: `hash` (built in, lexical, offline), `e5` (multilingual-e5-small in this process, semantic,
offline), `ollama` / `openai` (an embedding server, through `etl.llm`), `import` (precomputed vectors
from a file; unknown terms are added to `terms`).

The input convention of the model embedders: `embed_prefix` is text put before every term, and
`embed_input_type` the role for models that add their own instruction (e5's "query: "/"passage: ",
in-process or as the OpenAI request's `input_type`). Vectors of another convention are other
vectors, so a non-default one is part of the model name they are stored under (`model_name`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from etl import vocab
from etl.config import Settings
from etl.errors import CheckFailed, InputError
from etl.model_names import model_name
from etl.output import Progress, StepResult
from etl.steps.embed import e5, hashing
from etl.steps.embed.files import ImportSource, problems, read
from etl.warehouse import Warehouse

if TYPE_CHECKING:
    import numpy as np

STEP = "embed"
# Terms the hash embedder takes at a time: bounds its scratch memory (terms x dim float64 counts).
HASH_CHUNK = 8_192
# Terms embedded per commit: small enough that a failure loses little, big enough to keep servers busy.
COMMIT_CHUNK = 8_192


def convention(settings: Settings) -> dict[str, str | None]:
    """The input convention an embed run records: the prefix, and the role (None: the server's default)."""
    if settings.embedder == "e5":
        return {"prefix": settings.embed_prefix, "input_type": settings.embed_input_type or "query"}
    return {"prefix": settings.embed_prefix, "input_type": settings.embed_input_type or None}


def stored_dim(wh: Warehouse, model: str) -> int | None:
    """The dimension of the model's vectors already in the warehouse, or None."""
    return wh.scalar("SELECT min(dim) FROM term_embeddings WHERE model = ?", [model])


def run(wh: Warehouse, settings: Settings, source: ImportSource | None = None) -> StepResult:
    """Embed the terms that lack a vector for the chosen model, or import vectors from `source`."""
    model = model_name(settings)
    if settings.embedder == "import":
        if source is None:
            raise InputError("the import embedder needs a file: pass --input term_embeddings.npy or a .parquet file")
        return _import(wh, settings, model, source)
    return _compute(wh, settings, model)


def _compute(wh: Warehouse, settings: Settings, model: str) -> StepResult:
    import numpy as np

    params: dict[str, Any] = {"embedder": settings.embedder, "model": model}
    if settings.embedder != "hash":
        params.update(convention(settings))
    if settings.embedder in ("ollama", "openai"):
        params.update(urls=settings.embed_urls(), batch=settings.embed_batch)
    with wh.record(STEP, params) as run:
        missing = wh.sql_file("embed_missing", {"model": model}).fetchall()
        ids = np.array([row[0] for row in missing], dtype=np.int64)
        texts = [row[1] for row in missing]
        summary = StepResult.of(run, f"embed: {settings.embedder} -> {model}").add("terms without a vector", len(texts))
        if not texts:
            run.counts.update(embedded=0, rejected=0)
            return summary.add("embedded", 0).add("nothing to do", "every term has a vector")
        embedder = _embedder(settings)
        landed = rejected = 0
        dim = stored_dim(wh, model)
        with Progress("embed", len(texts)) as progress:
            for start in range(0, len(texts), COMMIT_CHUNK):
                chunk = texts[start : start + COMMIT_CHUNK]
                inputs = [settings.embed_prefix + text for text in chunk] if settings.embedder != "hash" else chunk
                matrix, keep, rejects = _screen(embedder(inputs, progress), chunk, dim)
                with wh.transaction():
                    landed += store(wh, ids[start : start + len(chunk)][keep], matrix, model, run.run_id)
                    _reject(wh, rejects, model, run.run_id)
                    _check(wh)
                rejected += len(rejects)
                run.counts.update(embedded=landed, rejected=rejected)  # kept even if a later chunk fails
                dim = dim or (int(matrix.shape[1]) if len(matrix) else None)
        rate = landed / max(run.seconds, 1e-9)
        summary.add("embedded", landed).add("rejected", rejected)
        return summary.add("dim", dim).add("seconds", run.seconds).add("terms/s", rate)


def _embedder(settings: Settings) -> Callable[[list[str], Progress], np.ndarray | list[np.ndarray]]:
    """texts → vectors for the configured embedder; a server is checked once, before the first chunk."""
    if settings.embedder == "hash":
        return lambda chunk, progress: _hash_vectors(chunk, settings.embed_dim, progress)
    if settings.embedder == "e5":
        e5.model()  # loaded before the first chunk, so a missing package fails at once
        return lambda chunk, progress: e5.embed(chunk, settings.embed_input_type, progress)
    from etl.steps.embed import remote

    client = remote.connect(settings)
    return lambda chunk, progress: remote.embed(client, settings, chunk, progress)


def _hash_vectors(texts: list[str], dim: int, progress: Progress) -> np.ndarray:
    import numpy as np

    out = np.empty((len(texts), dim), dtype=np.float32)
    for start in range(0, len(texts), HASH_CHUNK):
        chunk = texts[start : start + HASH_CHUNK]
        out[start : start + len(chunk)] = hashing.embed(chunk, dim)
        progress.advance(len(chunk))
    return out


def _screen(
    vectors: np.ndarray | Sequence[np.ndarray], texts: list[str], dim: int | None
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str, str, Any]]]:
    """Split per-term vectors into landable unit rows and rejects (wrong dimension, NaN/inf, zeros).

    Returns (unit float32 matrix of the kept rows, boolean mask of kept rows, rejects as
    (term, rule, reason, payload)).
    """
    import numpy as np

    if isinstance(vectors, np.ndarray):
        lengths = np.full(len(texts), vectors.shape[1], dtype=np.int64)
    else:
        lengths = np.fromiter((len(v) for v in vectors), dtype=np.int64, count=len(vectors))
    # The model's stored dimension wins; on a first run the most common length does.
    want = dim if dim is not None else int(np.bincount(lengths).argmax())
    keep = lengths == want
    if isinstance(vectors, np.ndarray):
        matrix = vectors[keep].astype(np.float32, copy=False)
    elif keep.any():
        matrix = np.stack([v for v, ok in zip(vectors, keep) if ok]).astype(np.float32, copy=False)
    else:
        matrix = np.zeros((0, want), dtype=np.float32)
    rejects: list[tuple[str, str, str, Any]] = [
        (texts[i], "wrong_dim", f"the vector has {lengths[i]} values; the model's vectors have {want}", None)
        for i in np.flatnonzero(~keep)
    ]
    kept_rows = np.flatnonzero(keep)
    bad = problems(matrix)
    if bad:
        drop = np.zeros(len(matrix), dtype=bool)
        for row, rule, reason in bad:
            drop[row] = True
            rejects.append((texts[kept_rows[row]], rule, reason, matrix[row].tolist()))
        keep[kept_rows[drop]] = False
        matrix = matrix[~drop]
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix, dtype=np.float64))
    matrix /= norms[:, None].astype(np.float32)
    return matrix, keep, rejects


def store(wh: Warehouse, ids: np.ndarray, matrix: np.ndarray, model: str, run_id: int) -> int:
    """Insert unit vectors for terms that have none for `model`; returns how many were inserted."""
    import numpy as np
    import pyarrow as pa

    if len(ids) == 0:
        return 0
    flat = pa.array(np.ascontiguousarray(matrix, dtype=np.float32).reshape(-1))
    frame = pa.table(
        {
            "term_id": pa.array(ids, type=pa.int64()),
            "vec": pa.FixedSizeListArray.from_arrays(flat, matrix.shape[1]),
        }
    )
    with wh.staged("new_vectors", frame):
        params = {"model": model, "dim": int(matrix.shape[1]), "run_id": run_id}
        row = wh.sql_file("embed_store", params).fetchone()
    return int(row[0]) if row else 0


def _refused_rows(refused: Any, terms_file: str) -> list[tuple[str, str, str, Any]]:
    """Rejects for term-list texts `etl clean` would refuse: the text, its rule and line (payload capped)."""
    reasons = {
        "empty": "empty after normalisation",
        "null_like": "a placeholder, not a term",
        "too_long": "longer than clean_max_length",
    }
    return [
        (raw[:1000], rule, f"{reasons[rule]} ({terms_file}:{line})", None)
        for raw, rule, line in refused.select("raw", "rule", "line").iter_rows()
    ]


def _reject(wh: Warehouse, rejects: list[tuple[str, str, str, Any]], model: str, run_id: int) -> None:
    if rejects:
        wh.con.executemany(
            "INSERT INTO rejects (run_id, step, rule, reason, source, payload) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (run_id, STEP, rule, f"{model}: {reason}", term, None if payload is None else json.dumps(payload))
                for term, rule, reason, payload in rejects
            ],
        )


def _check(wh: Warehouse) -> None:
    broken = wh.run_checks("embed_")
    if broken:
        listed = ", ".join(f"{name} ({n} rows)" for name, n in broken.items())
        raise CheckFailed(f"term_embeddings breaks {listed}; see sql/checks/ (this batch of vectors was not written)")


def _import(wh: Warehouse, settings: Settings, model: str, source: ImportSource) -> StepResult:
    import numpy as np
    import polars as pl

    params = {"embedder": "import", "model": model, "input": source.path, "term_list": source.term_list}
    with wh.record(STEP, params) as run:
        data = read(source, stored_dim(wh, model), model)
        frame = pl.DataFrame(
            {
                "text": data.normalized,
                "raw": data.texts,
                "line": np.arange(1, len(data.texts) + 1, dtype=np.int64),
            }
        ).with_columns(vocab.term_rule(pl.col("text"), settings.clean_max_length).alias("rule"))
        # What `etl clean` would refuse as a term is refused here too, so the order of the steps
        # never decides the vocabulary.
        keep = frame["rule"].is_null().to_numpy()
        refused = frame.filter(pl.col("rule").is_not_null())
        frame = frame.filter(pl.col("rule").is_null())
        with wh.transaction():
            with wh.staged("import_terms", frame):
                new_terms = wh.sql_file("embed_land_terms", {"file": str(data.terms_file), "run_id": run.run_id})
                added = int(wh.one(new_terms)[0])
            kept_texts = frame["text"].to_list()
            id_of = vocab.ensure_terms(wh, kept_texts, "import", run.run_id)
            ids = np.array([id_of[t] for t in kept_texts], dtype=np.int64)
            landed = store(wh, ids, data.matrix[keep], model, run.run_id)
            _reject(wh, _refused_rows(refused, str(data.terms_file)), model, run.run_id)
            _check(wh)
        run.counts.update(
            rows=len(ids), new_terms=added, embedded=landed, kept=len(ids) - landed, refused=refused.height
        )
        summary = (
            StepResult.of(run, f"embed: import -> {model}")
            .add("file", data.vectors_file)
            .add("rows", len(ids))
            .add("dim", int(data.matrix.shape[1]))
            .add("new terms", added)
            .add("embedded", landed)
            .add("already had a vector", len(ids) - landed)
        )
        if refused.height:
            summary.add("refused as terms (rejects)", refused.height)
        return summary.add("seconds", run.seconds)
