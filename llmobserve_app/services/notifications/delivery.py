"""Sending what the outbox holds: due rows are claimed one at a time, sent, and their outcome recorded.

Claiming is one UPDATE of the next due row (PostgreSQL picks it ``FOR UPDATE SKIP LOCKED``; SQLite runs one
writer at a time) that stamps it with a random token and a lease: any number of processes may run
``deliver_due`` together and never send one row at the same time. The outcome is written only while the token
is still the row's. A process that dies mid-send leaves the row claimed until the lease ends; another process
then sends it again — delivery is at least once, and webhooks carry a stable ``X-LLMObserve-Delivery`` id so a
receiver can drop a repeat.

429, 5xx, connection errors and timeouts are retried with exponential backoff and jitter until 24 hours after
the row was enqueued, then the row fails; any other answer that is not 2xx fails it at once with its status.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import Session

from llmobserve_app.services.notifications.config import DeliveryConfig, email_configured
from llmobserve_app.services.notifications.email import send_email
from llmobserve_app.services.notifications.http_post import new_client
from llmobserve_app.services.notifications.message import message_text
from llmobserve_app.services.notifications.outbox import NOTIFICATIONS
from llmobserve_app.services.notifications.outcome import MAX_ERROR_LENGTH, SendOutcome, permanent_failure
from llmobserve_app.services.notifications.signing_secrets import secret_for_signing
from llmobserve_app.services.notifications.slack import send_slack
from llmobserve_app.services.notifications.webhook import send_webhook, webhook_body

logger = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=2)  # far longer than one send (each HTTP request times out after ~10 s)
MAX_AGE = timedelta(hours=24)  # retried until this long after enqueueing, then failed
FIRST_RETRY_DELAY = timedelta(seconds=30)
MAX_RETRY_DELAY = timedelta(hours=1)
EMAIL_NOT_CONFIGURED = "email not configured (SENDGRID_API_KEY / SENDGRID_FROM unset)"
NO_SIGNING_SECRET = "the account has no webhook signing secret (create one in Settings)"


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retrying + self.failed + self.skipped


@dataclass(frozen=True)
class _Claimed:
    id: int
    tenant_id: int
    source_kind: str
    source_id: int
    channel: str
    target: str
    subject: str
    payload: dict[str, Any]
    attempts: int  # including this one
    created_at: datetime
    token: str


def deliver_due(engine: sa.Engine, config: DeliveryConfig, now: datetime, *, max_rows: int = 200,
                budget_seconds: float = 30.0, concurrency: int = 4, rng: random.Random | None = None) -> DeliveryReport:
    """Send the rows due at ``now``: at most ``max_rows``, claiming no new one after ``budget_seconds``, with
    ``concurrency`` sends in flight (receivers answer in hundreds of milliseconds; one at a time would make a
    burst of alerts wait in line)."""
    rng = rng or random.Random()
    started = time.monotonic()

    def clock() -> datetime:  # ``now`` moved on by the time this run has taken, so leases stay honest
        return now + timedelta(seconds=time.monotonic() - started)

    report = DeliveryReport()
    if not _anything_due(engine, now):  # a read: the idle job never takes SQLite's write lock
        return report
    lock = threading.Lock()
    claims_left = [max_rows]

    def take_turn() -> bool:
        with lock:
            if claims_left[0] <= 0 or time.monotonic() - started >= budget_seconds:
                return False
            claims_left[0] -= 1
            return True

    def work(http: httpx.Client) -> None:
        while take_turn():
            claimed = _claim_next(engine, clock())
            if claimed is None:
                return
            try:
                outcome = _send(engine, config, http, claimed, clock())
            except Exception as error:  # a bug must not stop the other rows; the row is retried
                logger.exception("notification %s: sending raised", claimed.id)
                outcome = SendOutcome(delivered=False, error=f"internal error: {type(error).__name__}", retryable=True)
            status = _record(engine, claimed, outcome, clock(), rng)
            with lock:
                setattr(report, status, getattr(report, status) + 1)

    with new_client(config.timeout_seconds) as http:
        if concurrency <= 1:
            work(http)
        else:
            with ThreadPoolExecutor(concurrency, thread_name_prefix="deliver") as pool:
                for future in [pool.submit(work, http) for _ in range(concurrency)]:
                    future.result()  # a database error of any sender is raised here, after the others stop
    return report


def _due(now: datetime) -> sa.Select:
    return (sa.select(NOTIFICATIONS.c.id)
            .where(NOTIFICATIONS.c.status == "pending", NOTIFICATIONS.c.next_attempt_at <= now,
                   sa.or_(NOTIFICATIONS.c.claimed_until.is_(None), NOTIFICATIONS.c.claimed_until <= now)))


def _anything_due(engine: sa.Engine, now: datetime) -> bool:
    with engine.connect() as connection:
        return connection.execute(_due(now).limit(1)).first() is not None


def _claim_next(engine: sa.Engine, now: datetime) -> _Claimed | None:
    token = secrets.token_hex(8)
    due = (_due(now)
           .order_by(NOTIFICATIONS.c.next_attempt_at, NOTIFICATIONS.c.id)
           .limit(1)
           .with_for_update(skip_locked=True)  # PostgreSQL; SQLite renders nothing and writes one at a time
           .scalar_subquery())
    claim = (sa.update(NOTIFICATIONS).where(NOTIFICATIONS.c.id == due)
             .values(claim_token=token, claimed_until=now + CLAIM_LEASE, attempts=NOTIFICATIONS.c.attempts + 1)
             .returning(NOTIFICATIONS.c.id, NOTIFICATIONS.c.tenant_id, NOTIFICATIONS.c.source_kind,
                        NOTIFICATIONS.c.source_id, NOTIFICATIONS.c.channel, NOTIFICATIONS.c.target,
                        NOTIFICATIONS.c.subject, NOTIFICATIONS.c.payload, NOTIFICATIONS.c.attempts,
                        NOTIFICATIONS.c.created_at))
    with engine.begin() as connection:
        row = connection.execute(claim).first()
    return None if row is None else _Claimed(**row._asdict(), token=token)


def _send(engine: sa.Engine, config: DeliveryConfig, http: httpx.Client, row: _Claimed,
          now: datetime) -> SendOutcome | None:
    """The attempt's outcome; None for an e-mail that cannot be sent because e-mail is not configured."""
    if row.channel == "email":
        if not email_configured(config):
            return None
        return send_email(config, row.target, row.subject, message_text(row.subject, row.payload))
    if row.channel == "slack":
        return send_slack(http, row.target, message_text(row.subject, row.payload))
    with Session(engine) as session:
        secret = secret_for_signing(session, row.tenant_id)
    if secret is None:
        return permanent_failure(NO_SIGNING_SECRET)
    delivery_id = f"ntf_{row.id}"
    body = webhook_body(delivery_id=delivery_id, source_kind=row.source_kind, source_id=row.source_id,
                        subject=row.subject, created_at=row.created_at, payload=row.payload)
    return send_webhook(http, row.target, body, secret=secret, delivery_id=delivery_id,
                        timestamp=int(now.timestamp()))


def retry_delay(attempts: int, retry_after_seconds: float | None, rng: random.Random) -> timedelta:
    """30 s, 1 min, 2 min … capped at 1 h, each between half and all of that (jitter spreads a burst of
    retries to one receiver); never sooner than the receiver's Retry-After (itself capped at 1 h)."""
    ceiling = min(MAX_RETRY_DELAY, FIRST_RETRY_DELAY * 2 ** min(attempts - 1, 20))
    delay = ceiling * (0.5 + rng.random() / 2)
    if retry_after_seconds is not None:
        delay = max(delay, min(MAX_RETRY_DELAY, timedelta(seconds=retry_after_seconds)))
    return delay


def _record(engine: sa.Engine, row: _Claimed, outcome: SendOutcome | None, now: datetime,
            rng: random.Random) -> str:
    """Write the attempt's outcome (if the claim is still ours); returns the report field it counts as."""
    values: dict[str, Any] = {"claim_token": None, "claimed_until": None}
    deadline = row.created_at + MAX_AGE
    if outcome is None:
        counted = "skipped"
        values.update(status="skipped", last_error=EMAIL_NOT_CONFIGURED)
    elif outcome.delivered:
        counted = "sent"
        values.update(status="sent", sent_at=now, last_status_code=outcome.status_code, last_error=None)
    elif outcome.retryable and now < deadline:
        counted = "retrying"
        next_attempt = min(now + retry_delay(row.attempts, outcome.retry_after_seconds, rng), deadline)
        values.update(status="pending", next_attempt_at=next_attempt, last_status_code=outcome.status_code,
                      last_error=outcome.error)
    else:
        counted = "failed"
        error = outcome.error or "failed"
        if outcome.retryable:
            error = f"gave up after {MAX_AGE.total_seconds() / 3600:g} h of retries: {error}"
        values.update(status="failed", last_status_code=outcome.status_code, last_error=error[:MAX_ERROR_LENGTH])
    with engine.begin() as connection:
        connection.execute(sa.update(NOTIFICATIONS)
                           .where(NOTIFICATIONS.c.id == row.id, NOTIFICATIONS.c.claim_token == row.token)
                           .values(**values))
    if counted in ("retrying", "failed"):
        logger.info("notification %s (%s) %s: %s", row.id, row.channel, counted, values["last_error"])
    return counted
