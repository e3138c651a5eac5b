"""The `ollama` and `openai` embedders: a thin adapter over the embedding client in `etl.llm`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from etl.config import Settings
from etl.output import Progress

if TYPE_CHECKING:
    import numpy as np

    from etl.llm import Client


def connect(settings: Settings) -> Client:
    """The embedding client, once every server answers and serves `embed_model`.

    Checked before the first request, so a typo fails in one line instead of after the retries.
    """
    from etl.llm import Client

    client = Client.for_embeddings(settings)
    client.check()
    return client


def embed(client: Client, settings: Settings, texts: list[str], progress: Progress) -> list[np.ndarray]:
    """One float32 vector per text, in order; raises ServiceError when the server cannot deliver.

    Batches of `embed_batch` texts go `llm_concurrency` at a time.
    """
    import numpy as np

    vectors: list[np.ndarray] = [np.empty(0, dtype=np.float32)] * len(texts)
    for offset, batch in client.embed_batches(texts, settings.embed_batch):
        # Each batch becomes float32 rows at once: 150k x 1024 Python floats would need ~5 GB.
        for i, vector in enumerate(batch):
            vectors[offset + i] = np.asarray(vector, dtype=np.float32)
        progress.advance(len(batch))
    return vectors
