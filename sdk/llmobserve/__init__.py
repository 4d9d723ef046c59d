"""llmobserve: capture the cost of every LLM / vector-DB call in two lines.

    import llmobserve
    llmobserve.observe("https://observe.example.com", api_key="lo_...")

Standard library only. Never raises into the host (except ``BudgetExceededError`` when a
cap blocks a call, which is the point) and never blocks a host call on the network.
"""

from __future__ import annotations

from ._version import __version__
from .client import flush, observe, shutdown, stats
from .context import agent, customer, run, section, set_customer_id, tool, wrap_all_tools
from .errors import BudgetExceededError

__all__ = [
    "BudgetExceededError",
    "__version__",
    "agent",
    "customer",
    "flush",
    "observe",
    "run",
    "section",
    "set_customer_id",
    "shutdown",
    "stats",
    "tool",
    "wrap_all_tools",
]
