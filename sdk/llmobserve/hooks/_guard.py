"""Per-thread flag so urllib3 does not capture what requests (or urllib3 itself) already does."""

from __future__ import annotations

import threading

local = threading.local()
