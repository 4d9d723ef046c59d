"""Local fake receivers on loopback for the notification tests: a SendGrid v3 API and a Slack/webhook endpoint.

Each records every request (path, headers, body) and answers from a script: ``answer(500, 500)`` makes the next
two requests get 500, after which the default status applies again. Real clients (``sendgrid``, httpx) talk
to them over TCP, so the tests exercise the real request and error handling.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # (socketserver's 5 refuses connections when many senders race)

    def handle_error(self, request, client_address) -> None:
        """A client that hung up (a sender's timeout test) is expected; anything else is still printed."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeReceiver:
    """Records POSTs to any path and answers ``default_status`` unless scripted otherwise."""

    accepted_path: str | None = None  # a path other than this one gets 404 (None: any path)

    def __init__(self, default_status: int = 200, delay_seconds: float = 0.0) -> None:
        self.default_status = default_status
        self.delay_seconds = delay_seconds
        self.retry_after: str | None = None
        self.requests: list[Recorded] = []
        self._script: deque[int] = deque()
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def answer(self, *statuses: int) -> None:
        """The statuses of the next requests, in order (then ``default_status``)."""
        with self._lock:
            self._script.extend(statuses)

    def _next_status(self, request: Recorded) -> int:
        with self._lock:
            self.requests.append(request)
            return self._script.popleft() if self._script else self.default_status

    def __enter__(self) -> FakeReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if fake.accepted_path is not None and self.path != fake.accepted_path:
                    self._reply(404, b'{"errors": [{"message": "not found"}]}')
                    return
                status = fake._next_status(
                    Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if fake.delay_seconds:
                    time.sleep(fake.delay_seconds)
                self._reply(status, b"" if status < 300 else f'{{"error": "status {status}"}}'.encode())

            def _reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if fake.retry_after is not None and status in (429, 503):
                    self.send_header("Retry-After", fake.retry_after)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        return Handler


class FakeSendGrid(FakeReceiver):
    """SendGrid's v3 mail endpoint: POST /v3/mail/send answers 202 Accepted (unless scripted)."""

    accepted_path = "/v3/mail/send"

    def __init__(self, delay_seconds: float = 0.0) -> None:
        super().__init__(default_status=202, delay_seconds=delay_seconds)

    @property
    def mails(self) -> list[dict[str, Any]]:
        return [request.json() for request in self.requests]
