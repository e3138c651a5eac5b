"""HTTP clients for LLM chat and embeddings over the Ollama native and OpenAI-compatible APIs.

The public surface, importable from `etl.llm`: `Client` (one model on one or more servers:
`for_chat`/`for_embeddings` from the settings, `check`, `chat`, `chat_ready`,
`embed`, `embed_batches`, `embed_batch`, `call_hash`, `json_fallbacks`), the `ChatRequest` it is
given and the `ChatResult` it returns, `extract_json` for reading the JSON out of an answer,
`json_form`/`forget_json_forms` for the structured-output form remembered per server, `base_url`,
and the constants for paths, forms, retries and the API key's variable. Its parts:

- `wire`: the two wire formats, request bodies and paths, reply parsing;
- `transport`: sessions, retries with backoff, round-robin, the worker pool, the health check;
- `structured`: the structured-output forms, the fallback between them, JSON extraction;
- `client`: the `Client` built from the three.

The API key for OpenAI-compatible servers comes from `ETL_LLM_API_KEY` only and travels only in the
Authorization header: never in a request body, a result, an error message or a log line.
"""

from etl.llm.client import Client
from etl.llm.structured import JSON_FORMS, extract_json, forget_json_forms, json_form
from etl.llm.transport import API_KEY_ENV, BACKOFF_CAP, RETRY_STATUS
from etl.llm.wire import CHAT_PATH, EMBED_PATH, MODELS_PATH, ChatRequest, ChatResult, base_url

__all__ = [
    "API_KEY_ENV",
    "BACKOFF_CAP",
    "CHAT_PATH",
    "EMBED_PATH",
    "JSON_FORMS",
    "MODELS_PATH",
    "RETRY_STATUS",
    "ChatRequest",
    "ChatResult",
    "Client",
    "base_url",
    "extract_json",
    "forget_json_forms",
    "json_form",
]
