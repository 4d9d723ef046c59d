"""Options accepted by ``observe()``, validated once."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_LIBRARIES = ("httpx", "httpx2", "requests", "urllib3")
# the collector takes up to INGEST_MAX_EVENTS (default 1,000) per POST; a smaller limit answers 413
# and the worker splits the batch
MAX_BATCH = 1000


@dataclass
class Config:
    collector_url: str
    api_key: str
    # delivery
    batch_size: int = 500  # events per POST (at most 1,000: the collector's INGEST_MAX_EVENTS default)
    flush_interval: float = 1.0  # seconds between uploads of a partial batch
    queue_size: int = 10_000  # pending calls kept in memory; beyond that we drop and count
    max_pending_bytes: int = 16 * 1024 * 1024  # raw response bytes held for the worker to parse
    max_retries: int = 6  # per batch, for 429/5xx/connection errors
    request_timeout: float = 5.0  # per upload
    shutdown_timeout: float = 2.0  # bounded flush at interpreter exit
    gzip: bool = True
    # what to capture
    libraries: tuple[str, ...] = DEFAULT_LIBRARIES
    capture_streams: bool = True
    provider_hosts: dict[str, str] = field(default_factory=dict)  # "host[:port]" -> provider name
    capture_unknown_hosts: bool = True  # path/body-shape fallback (vLLM, Ollama, LM Studio...)
    propagate_to_threads: bool = True  # carry context into ThreadPoolExecutor workers
    tags: dict[str, str] = field(default_factory=dict)
    # caps / hard block
    enforce_caps: bool = True
    caps_fail_open: bool = True  # collector unreachable -> let calls through
    caps_poll_interval: float = 30.0
    caps_stale_after: float = 120.0  # fail-closed only: block once no answer for this long
    # diagnostics
    clock_skew_warning: float = 300.0
    debug: bool = False

    def __post_init__(self) -> None:
        parts = urlsplit(self.collector_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"collector_url must be an http(s) URL, got {self.collector_url!r}")
        self.collector_url = self.collector_url.rstrip("/")
        self.batch_size = max(1, min(int(self.batch_size), MAX_BATCH))
        self.queue_size = max(1, int(self.queue_size))
        self.flush_interval = max(0.01, float(self.flush_interval))
        self.provider_hosts = {k.lower(): v for k, v in self.provider_hosts.items()}
        self.libraries = tuple(self.libraries)

    @property
    def collector_netloc(self) -> str:
        return urlsplit(self.collector_url).netloc.lower()
