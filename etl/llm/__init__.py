"""The LLM chat and embedding client over the Ollama native and OpenAI-compatible APIs."""

from etl.llm.client import (
    API_KEY_ENV,
    BACKOFF_CAP,
    CHAT_PATH,
    EMBED_PATH,
    JSON_FORMS,
    MODELS_PATH,
    RETRY_STATUS,
    ChatRequest,
    ChatResult,
    Client,
    base_url,
    extract_json,
    forget_json_forms,
    json_form,
)

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
