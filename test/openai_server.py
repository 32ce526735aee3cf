"""A small OpenAI-compatible chat server on loopback for tests: /v1/chat/completions answered by the packaged
SmolLM2 run in-process (not canned text; transformers by default), including the vision request format, plus
failure modes.

A ``vision`` function (PIL image -> reply text) answers requests that carry an image instead of the model: a
stand-in for a vision model, e.g. one that gives a recording's own captions back for its images.

Modes: "ok"; "slow" (sleeps ``delay_s``, then answers "too late"); "garbage" (a non-JSON body); "missing" (JSON without
choices); "error" (HTTP 500); "no_schema" (HTTP 400 when response_format is sent, like older servers).
A server that is down is a closed port: see ``closed_port``.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image

from embodied_rag.config import ModelConfig
from embodied_rag.models.llm import LocalLlamaLLM, LocalTransformersLLM, create_local_llm


@functools.lru_cache(maxsize=2)
def shared_local_llm(backend: str = "transformers") -> LocalTransformersLLM | LocalLlamaLLM:
    """The packaged SmolLM2, loaded once per test process and backend (transformers: the default set-up's)."""
    return create_local_llm(ModelConfig(name="smollm2", max_tokens=160, backend=backend))


class NoModel:
    """The model slot for modes that never reach the model (garbage, missing, error, slow): no load needed."""

    name = "no-model"

    @staticmethod
    def chat(messages, max_tokens=160, json_schema=None) -> str:
        raise AssertionError("this server mode never asks the model")


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_COLOURS = {"red": (200, 30, 30), "green": (30, 160, 40), "blue": (30, 50, 200), "white": (235, 235, 235),
            "black": (15, 15, 15), "grey": (128, 128, 128), "yellow": (230, 210, 40), "brown": (120, 80, 40)}


def describe_pixels(im: Image.Image) -> str:
    """What a text-only model is told about an image: size, dominant colour, brightness."""
    a = np.asarray(im.convert("RGB"), dtype=np.float32).reshape(-1, 3)
    mean = a.mean(axis=0)
    colour = min(_COLOURS, key=lambda c: float(np.sum((np.array(_COLOURS[c]) - mean) ** 2)))
    light = "bright" if mean.mean() > 150 else "dark" if mean.mean() < 70 else "evenly lit"
    return f"[a {light} photo, {im.width}x{im.height} pixels, mostly {colour}]"


@dataclass
class Recorded:
    path: str
    headers: dict
    body: dict | None
    images: list[tuple[int, int]] = field(default_factory=list)
    pixels: list[Image.Image] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: ChatServer

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
        try:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    def _error(self, code: int, message: str) -> None:
        self._send(code, json.dumps({"error": {"message": message, "type": "invalid_request_error"}}).encode())

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        srv = self.server
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        rec = Recorded(self.path, dict(self.headers), body)
        srv.requests.append(rec)
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._error(404, f"no route {self.path}")
        if srv.mode == "slow":
            # The client has given up by now: a short fixed reply, not a generation that could still be running
            # in this daemon thread when the test process exits (torch aborts then).
            time.sleep(srv.delay_s)
            return self._send(200, json.dumps({"choices": [{"index": 0, "message": {
                "role": "assistant", "content": "too late"}, "finish_reason": "stop"}]}).encode())
        if srv.mode == "garbage":
            return self._send(200, b"<html>this is not json", "text/html")
        if srv.mode == "missing":
            return self._send(200, json.dumps({"id": "x", "object": "chat.completion", "choices": []}).encode())
        if srv.mode == "error":
            return self._error(500, "model crashed")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body.get("model"):
            return self._error(400, "body must be JSON with model and messages")
        if srv.mode == "no_schema" and "response_format" in body:
            return self._error(400, "response_format is not supported")
        try:
            messages = self._text_messages(body["messages"], rec)
        except ValueError as exc:
            return self._error(400, str(exc))
        if srv.vision is not None and rec.pixels:
            time.sleep(srv.vision_delay_s)  # a model's time per image (kill tests need a run in progress)
            return self._reply(body["model"], srv.vision(rec.pixels[-1]))
        rf = body.get("response_format")
        schema = rf["json_schema"]["schema"] if isinstance(rf, dict) and rf.get("type") == "json_schema" else None
        # Greedy whatever the temperature: the local backends decode greedily.
        content = srv.llm.chat(messages, max_tokens=int(body.get("max_tokens", 64)), json_schema=schema)
        self._reply(body["model"], content)

    def _reply(self, model: str, content: str) -> None:
        reply = {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion", "created": int(time.time()),
                 "model": model, "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                              "finish_reason": "stop"}]}
        self._send(200, json.dumps(reply).encode())

    @staticmethod
    def _text_messages(messages: list, rec: Recorded) -> list[dict]:
        """Messages for the text-only local model: image parts are decoded (must be real images) and described."""
        out = []
        for m in messages:
            if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant"):
                raise ValueError("each message needs a role of system, user or assistant")
            content = m.get("content")
            if isinstance(content, str):
                out.append({"role": m["role"], "content": content})
                continue
            if not isinstance(content, list):
                raise ValueError("content must be a string or a list of parts")
            texts = []
            for part in content:
                if part.get("type") == "text":
                    texts.append(str(part["text"]))
                elif part.get("type") == "image_url":
                    url = part.get("image_url", {}).get("url", "")
                    if not url.startswith("data:image/") or ";base64," not in url:
                        raise ValueError("image_url must be a base64 data URL")
                    try:
                        im = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1], validate=True)))
                        im.load()
                    except Exception as exc:  # noqa: BLE001
                        raise ValueError(f"image_url does not decode to an image ({type(exc).__name__})") from None
                    rec.images.append(im.size)
                    rec.pixels.append(im.convert("RGB"))
                    texts.append(describe_pixels(im))
                else:
                    raise ValueError(f"unknown content part type {part.get('type')!r}")
            out.append({"role": m["role"], "content": "\n".join(texts)})
        return out


class ChatServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, llm: LocalTransformersLLM | LocalLlamaLLM | NoModel, mode: str = "ok", delay_s: float = 2.0,
                 vision: Callable[[Image.Image], str] | None = None, vision_delay_s: float = 0.0):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.llm = llm
        self.vision = vision
        self.vision_delay_s = vision_delay_s
        self.mode = mode
        self.delay_s = delay_s
        self.requests: list[Recorded] = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)
