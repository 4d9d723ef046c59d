"""Form bodies of sign-in and billing posts: parsed when small, refused without being held whole when large."""

from __future__ import annotations

import asyncio

from starlette.requests import Request

from ingest_api.form_posts import MAX_FORM_BYTES, read_form


def _request(chunks: list[bytes], headers: dict[str, str] | None = None) -> tuple[Request, list[int]]:
    """A request whose body arrives in ``chunks``; the list returned counts the chunks read."""
    read = [0]
    pending = list(chunks)

    async def receive() -> dict:
        read[0] += 1
        body = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    raw_headers = [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    scope = {"type": "http", "method": "POST", "path": "/login", "headers": raw_headers, "query_string": b""}
    return Request(scope, receive), read


def test_a_small_form_is_parsed_first_value_each() -> None:
    request, _ = _request([b"email=a%40b.example&password=p&email=second"])
    assert asyncio.run(read_form(request)) == {"email": "a@b.example", "password": "p"}


def test_a_large_form_is_refused_before_it_is_read_whole() -> None:
    chunk = b"x" * 4096
    chunks = [chunk] * (4 * MAX_FORM_BYTES // len(chunk))  # no Content-Length: read until over the limit
    request, read = _request(chunks)
    assert asyncio.run(read_form(request)) == {}
    assert read[0] <= MAX_FORM_BYTES // len(chunk) + 1 < len(chunks)
    declared, read_declared = _request([chunk], {"content-length": str(10 * MAX_FORM_BYTES)})
    assert asyncio.run(read_form(declared)) == {} and read_declared[0] == 0
