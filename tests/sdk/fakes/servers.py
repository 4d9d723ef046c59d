"""Loopback fake provider servers and a fake collector (threads, 127.0.0.1 only)."""

from __future__ import annotations

import gzip
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import wire


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up on a slow fake are expected in fault-injection tests

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class ProviderHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else header/body writes wait 40 ms for delayed ACKs
    server: ProviderServer

    def log_message(self, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status: int, body: bytes, ctype: str = "application/json", extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, chunks: list[bytes], abort_after: int | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i, c in enumerate(chunks):
            if abort_after is not None and i >= abort_after:
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(f"{len(c):x}\r\n".encode() + c + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def do_GET(self) -> None:
        self.do_POST()

    def do_POST(self) -> None:
        body = self._body()
        self.server.requests.append((self.command, self.path, body))
        path = self.path.split("?", 1)[0]
        forced = self.headers.get("X-Fake-Status")
        abort = self.headers.get("X-Fake-Abort")
        abort_after = int(abort) if abort else None
        try:
            req = json.loads(body) if body and body[:1] == b"{" else {}
        except ValueError:
            req = {}
        stream = bool(req.get("stream"))
        n = self.server.stream_tokens
        if forced:
            status = int(forced)
            err = {429: wire.OPENAI_ERROR_429, 500: wire.OPENAI_ERROR_500, 529: wire.ANTHROPIC_ERROR_529}
            self._send(
                status,
                err.get(status, wire.OPENAI_ERROR_400),
                extra={"Retry-After": "0", "x-should-retry": "true" if self.headers.get("X-Fake-Retry") else "false"},
            )
            return
        if path.endswith("/chat/completions"):
            if stream:
                include = bool((req.get("stream_options") or {}).get("include_usage"))
                self._stream(wire.openai_chat_stream(n, include), abort_after)
            elif self.server.echo_model and req.get("model"):  # a gateway answers with the model asked for
                model = json.dumps(req["model"]).encode()
                self._send(200, wire.OPENAI_CHAT.replace(b'"gpt-4o-mini-2024-07-18"', model))
            else:
                self._send(200, self.server.chat_body or (
                    wire.OPENROUTER_CHAT if self.server.flavour == "openrouter" else wire.OPENAI_CHAT))
        elif path.endswith("/responses"):
            self._send(200, wire.OPENAI_RESPONSES)
        elif path.endswith("/embeddings"):
            self._send(200, wire.OPENAI_EMBEDDINGS)
        elif path.endswith("/audio/speech"):
            self._send(200, b"ID3\x04\x00fake-mp3-bytes" * 100, ctype="audio/mpeg")
        elif path.endswith("/audio/transcriptions"):
            self._send(200, wire.OPENAI_TRANSCRIPTION)
        elif path.endswith("/v1/messages"):
            if stream:
                self._stream(wire.anthropic_stream(n), abort_after)
            else:
                self._send(200, wire.ANTHROPIC_MESSAGE)
        elif path.endswith(":generateContent"):
            self._send(200, wire.GEMINI_GENERATE)
        elif path.endswith(":streamGenerateContent"):
            self._stream(wire.gemini_stream(n), abort_after)
        elif path == "/v2/chat":
            self._send(200, wire.COHERE_CHAT)
        elif path == "/v2/rerank":
            self._send(200, wire.COHERE_RERANK)
        elif path == "/query":
            self._send(200, wire.PINECONE_QUERY)
        elif path == "/vectors/upsert":
            self._send(200, wire.PINECONE_UPSERT)
        else:
            self._send(404, b'{"error":"not found"}')


class ProviderServer(_Server):
    def __init__(self, flavour: str = "openai", stream_tokens: int = 3, echo_model: bool = False,
                 chat_body: bytes | None = None) -> None:
        self.flavour = flavour
        self.echo_model = echo_model
        self.chat_body = chat_body  # the non-streamed chat reply, instead of the flavour's canned one
        self.stream_tokens = stream_tokens
        self.requests: list[tuple[str, str, bytes]] = []
        super().__init__(ProviderHandler)


class CollectorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: FakeCollector

    def log_message(self, *args: Any) -> None:
        pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        return self.server.date_header or super().date_time_string(timestamp)

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        srv = self.server
        srv.caps_polls += 1
        if self.path == "/v1/caps/status" and srv.caps_status is not None:
            self._reply(200, json.dumps({"blocked": srv.caps_status}).encode())
        else:
            self._reply(404, b'{"detail":"Not Found"}')

    def do_POST(self) -> None:
        srv = self.server
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        srv.attempts += 1
        if srv.delay:
            time.sleep(srv.delay)
        if srv.mode == "error500":
            self._reply(500, b"oops")
            return
        if srv.mode == "retry_after" and srv.attempts == 1:
            self._reply(429, b"{}", {"Retry-After": "1"})
            return
        if self.headers.get("Authorization") != f"Bearer {srv.api_key}":
            self._reply(401, b'{"detail":"bad key"}')
            return
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
            srv.gzipped += 1
        payload = json.loads(raw)
        if srv.max_events is not None and len(payload["events"]) > srv.max_events:
            self._reply(413, b'{"detail":"too large"}')
            return
        with srv.lock:
            srv.batches.append(payload["events"])
            srv.events.extend(payload["events"])
        if srv.mode == "garbage":
            self._reply(200, b"<html>definitely not json")
            return
        self._reply(
            200,
            json.dumps(
                {"accepted": len(payload["events"]), "duplicates": 0, "rejected": [], "blocked": srv.blocked}
            ).encode(),
        )


class FakeCollector(_Server):
    def __init__(self, api_key: str = "test-key") -> None:
        self.api_key = api_key
        self.events: list[dict[str, Any]] = []
        self.batches: list[list[dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.mode = "ok"
        self.delay = 0.0
        self.attempts = 0
        self.caps_polls = 0
        self.gzipped = 0
        self.max_events: int | None = None
        self.blocked: list[dict[str, Any]] = []
        self.caps_status: list[dict[str, Any]] | None = None  # None -> 404 like a server without caps
        self.date_header: str | None = None
        super().__init__(CollectorHandler)

    def reset(self) -> None:
        """Forget everything; a new key per test, so an upload a previous test's client still had in flight
        is refused (401) instead of landing among this test's events."""
        with self.lock:
            self.api_key = f"test-key-{uuid.uuid4().hex[:8]}"
            self.events.clear()
            self.batches.clear()
        self.mode = "ok"
        self.delay = 0.0
        self.attempts = 0
        self.blocked = []
        self.caps_status = None
        self.date_header = None
        self.max_events = None

    def wait_for(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.events) >= n:
                break
            time.sleep(0.01)
        return list(self.events)
