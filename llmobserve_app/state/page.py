"""The verify-then-fetch step every analytics page's ``load`` handler shares."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from llmobserve_app.services.analytics import Scope
from llmobserve_app.state.filters import FilterState
from llmobserve_app.state.session import CurrentUser

logger = logging.getLogger(__name__)
LOAD_FAILED = "Could not load this page. Try reloading; if it keeps failing, check the server log."


async def load_page(state: FilterState, fetch: Callable[[CurrentUser, Scope], Awaitable[None]]):  # noqa: ANN201
    """Verify the session and read the filter, then fetch; sets the page's ``loading``/``error`` vars.

    Returns a redirect to /login when the session is not valid: no data is fetched before that check.
    """
    state.loading, state.error = True, ""
    found = await state._load_scope()
    if found is None:
        return state._to_login()
    try:
        await fetch(*found)
    except Exception:  # noqa: BLE001 — the page shows a message instead of dying
        logger.exception("loading %s failed", type(state).__name__)
        state.error = LOAD_FAILED
    state.loading = False
    return None
