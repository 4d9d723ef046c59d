"""HTML form posts from our own pages (sign-in, billing): the same-site check and the form body, shared by
``browser_auth.py`` and ``billing_forms.py``."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi import Request
from fastapi.responses import JSONResponse

from ingest_api.body import BodyError, read_body
from ingest_api.deps import error_reply
from llmobserve_app.settings import get_settings

MAX_FORM_BYTES = 16 * 1024


def same_origin(request: Request) -> bool:
    """A form post from our own pages. Browsers send Origin on every POST; a client that sends none (curl, a
    script) cannot be a forged cross-site request, so it is let through to the credential check."""
    origin = request.headers.get("origin")
    if origin is None:
        return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")
    if origin in get_settings().allowed_origins:  # cached; cors_origins() re-reads the environment
        return True
    netloc = urlsplit(origin).netloc
    return bool(netloc) and netloc == request.headers.get("host", "")


def cross_origin_refusal() -> JSONResponse:
    """The reply to a form post from another site."""
    return error_reply(403, "cross_origin_form", "this form must be posted from this site")


async def read_form(request: Request) -> dict[str, str]:
    """The first value of each field of a url-encoded form (nothing for a body over ``MAX_FORM_BYTES``)."""
    try:
        body = await read_body(request, MAX_FORM_BYTES)  # stops reading past the limit: never held whole
    except BodyError:
        return {}
    parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=10)
    return {name: values[0] for name, values in parsed.items()}
