"""What every analytics page State shares: ``loading``/``error`` vars and a ``load`` handler that verifies
the session, reads the filter, then fetches."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import reflex as rx

from llmobserve_app.services.analytics import Scope
from llmobserve_app.state.filters import FilterState
from llmobserve_app.state.session import CurrentUser

logger = logging.getLogger(__name__)
LOAD_FAILED = "Could not load this page. Try reloading; if it keeps failing, check the server log."


async def load_page(state: FilterState, fetch: Callable[[CurrentUser, Scope], Awaitable[None]]):
    """Verify the session and read the filter, then fetch; sets the page's ``loading``/``error`` vars.

    Returns a redirect to /login when the session is not valid: no data is fetched before that check.
    """
    state.loading, state.error = True, ""
    found = await state._load_scope()
    if found is None:
        return state._to_login()
    try:
        await fetch(*found)
    except Exception:  # the page shows a message instead of dying
        logger.exception("loading %s failed", type(state).__name__)
        state.error = LOAD_FAILED
    state.loading = False
    return None


class AnalyticsPageState(FilterState, mixin=True):
    """Base of the analytics page States: ``class XState(AnalyticsPageState, FilterState)``.

    A Reflex mixin, so each page gets its own copy of ``loading``, ``error`` and ``load`` (a parent state's
    vars would be one value shared by every page); naming FilterState again keeps it the page's parent state
    (a class whose state bases are all mixins is a mixin itself). A page implements ``_fetch``; its handlers
    that change what is shown end with ``return await self._reload()``.
    """

    loading: bool = True
    error: str = ""

    async def _fetch(self, user: CurrentUser, scope: Scope) -> None:
        raise NotImplementedError

    async def _reload(self):
        return await load_page(self, self._fetch)

    @rx.event
    async def load(self):
        return await self._reload()
