"""A small fake Stripe on loopback, spoken to by the real ``stripe`` client (``STRIPE_API_BASE``).

It keeps customers, Checkout sessions, billing portal sessions and subscriptions in memory and, like Stripe,
sends signed webhooks (``Stripe-Signature: t=<unix>,v1=HMAC_SHA256(secret, "<t>.<body>")``) to the app.
``localstripe`` has no Checkout, Prices, promotion codes or portal, hence this one.

Test controls: ``complete_checkout`` (what paying on Checkout does: a subscription, then webhooks),
``cancel_at_period_end`` / ``end_period`` (what cancelling in the portal does, then the period ending),
``set_status``, ``send_event`` (any event, e.g. a replay or a stale one), ``deliver_webhooks`` (off: webhooks are
"missed"). The browser pages ``/checkout/<id>`` and ``/portal/<id>`` have buttons that do the same.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

PERIOD_SECONDS = 30 * 24 * 3600


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header value for ``payload``, as Stripe computes it."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _decode_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (``a[b][0][c]=v``) into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        node: Any = root
        for part, following in zip(parts, parts[1:], strict=False):
            node = _slot(node, part, [] if following.isdigit() else {})
        _slot(node, parts[-1], value, replace=True)
    return root


def _slot(node: Any, part: str, default: Any, replace: bool = False) -> Any:
    if isinstance(node, list):
        index = int(part)
        node.extend([None] * (index + 1 - len(node)))
        if replace or node[index] is None:
            node[index] = default
        return node[index]
    if replace or part not in node:
        node[part] = default
    return node[part]


class FakeStripe:
    def __init__(self, secret_key: str = "sk_test_fake", webhook_secret: str = "whsec_fake",
                 price_id: str = "price_pro_monthly") -> None:
        self.secret_key, self.webhook_secret, self.price_id = secret_key, webhook_secret, price_id
        self.webhook_url: str | None = None
        self.webhook_client: Any = httpx  # anything with httpx's ``post`` (tests may pass a TestClient)
        self.deliver_webhooks = True
        self.customers: dict[str, dict[str, Any]] = {}
        self.checkout_sessions: dict[str, dict[str, Any]] = {}
        self.portal_sessions: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.deliveries: list[tuple[str, int]] = []  # (event id, the app's status code)
        self.requests: list[tuple[str, str]] = []
        self._idempotent: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._server = _Server(self)

    # --- lifecycle ---------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- objects -----------------------------------------------------------------------------------------
    @staticmethod
    def _id(prefix: str) -> str:
        return f"{prefix}_{secrets.token_hex(8)}"

    def create_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = {"id": self._id("cus"), "object": "customer", "email": params.get("email"),
                    "metadata": params.get("metadata", {}), "created": int(time.time())}
        self.customers[customer["id"]] = customer
        return customer

    def create_checkout_session(self, params: dict[str, Any]) -> dict[str, Any]:
        session_id = self._id("cs_test")
        session = {"id": session_id, "object": "checkout.session", "mode": params.get("mode"),
                   "customer": params.get("customer"), "client_reference_id": params.get("client_reference_id"),
                   "allow_promotion_codes": params.get("allow_promotion_codes") == "true",
                   "line_items": params.get("line_items", []), "success_url": params.get("success_url"),
                   "cancel_url": params.get("cancel_url"), "status": "open", "subscription": None,
                   "url": f"{self.url}/checkout/{session_id}"}
        self.checkout_sessions[session_id] = session
        return session

    def create_portal_session(self, params: dict[str, Any]) -> dict[str, Any]:
        session_id = self._id("bps")
        session = {"id": session_id, "object": "billing_portal.session", "customer": params.get("customer"),
                   "return_url": params.get("return_url"), "url": f"{self.url}/portal/{session_id}"}
        self.portal_sessions[session_id] = session
        return session

    def _new_subscription(self, customer: str, status: str = "active") -> dict[str, Any]:
        now = int(time.time())
        subscription_id = self._id("sub")
        subscription = {
            "id": subscription_id, "object": "subscription", "customer": customer, "status": status,
            "created": now + len(self.subscriptions),  # strictly increasing, as ordering relies on it
            "cancel_at_period_end": False, "canceled_at": None, "ended_at": None,
            "items": {"object": "list", "data": [{
                "id": self._id("si"), "object": "subscription_item", "price": {"id": self.price_id},
                "quantity": 1, "current_period_start": now, "current_period_end": now + PERIOD_SECONDS}]},
        }
        self.subscriptions[subscription_id] = subscription
        return subscription

    # --- test controls -----------------------------------------------------------------------------------
    def complete_checkout(self, session_id: str) -> dict[str, Any]:
        """Pay a Checkout session: its subscription is created, then Stripe's webhooks are sent (in a realistic
        order: subscription created, checkout completed, invoice paid)."""
        with self._lock:
            session = self.checkout_sessions[session_id]
            subscription = self._new_subscription(session["customer"])
            session.update(status="complete", subscription=subscription["id"])
            invoice = {"id": self._id("in"), "object": "invoice", "customer": session["customer"],
                       "subscription": subscription["id"], "status": "paid"}
            events = [self.event("customer.subscription.created", subscription),
                      self.event("checkout.session.completed", session), self.event("invoice.paid", invoice)]
        for event in events:
            self.deliver(event)
        return subscription

    def cancel_at_period_end(self, subscription_id: str) -> None:
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            subscription.update(cancel_at_period_end=True, canceled_at=int(time.time()))
            event = self.event("customer.subscription.updated", subscription)
        self.deliver(event)

    def end_period(self, subscription_id: str) -> None:
        """The period ends: a subscription set to cancel at period end is now canceled (``...deleted``)."""
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            assert subscription["cancel_at_period_end"], "only a subscription set to cancel ends here"
            subscription.update(status="canceled", ended_at=int(time.time()))
            event = self.event("customer.subscription.deleted", subscription)
        self.deliver(event)

    def set_status(self, subscription_id: str, status: str, event_type: str | None = None) -> dict[str, Any] | None:
        """Change a subscription's status; with ``event_type``, send that event about it."""
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            subscription["status"] = status
            event = self.event(event_type, subscription) if event_type else None
        if event:
            self.deliver(event)
        return event

    def event(self, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
        """A Stripe event holding a snapshot of ``obj`` now (not sent)."""
        event = {"id": self._id("evt"), "object": "event", "api_version": "2025-09-30.clover",
                 "created": int(time.time()), "type": event_type, "livemode": False,
                 "data": {"object": json.loads(json.dumps(obj))}}
        self.events.append(event)
        return event

    def deliver(self, event: dict[str, Any], secret: str | None = None, force: bool = False) -> int | None:
        """POST the event to the app, signed (with ``secret`` if given); the app's status, None if not sent."""
        if not (self.deliver_webhooks or force) or self.webhook_url is None:
            return None
        body = json.dumps(event).encode()
        timeout = {"timeout": 30} if self.webhook_client is httpx else {}  # TestClient takes none
        reply = self.webhook_client.post(self.webhook_url, content=body, **timeout, headers={
            "Content-Type": "application/json", "Stripe-Signature": sign(body, secret or self.webhook_secret)})
        self.deliveries.append((event["id"], reply.status_code))
        return reply.status_code

    # --- API ---------------------------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, str], form: dict[str, Any],
               headers: Any) -> tuple[int, Any, str | None]:
        """(status, JSON object or HTML text, redirect location)."""
        with self._lock:
            self.requests.append((method, path))
            if path.startswith("/v1/"):
                if headers.get("Authorization") != f"Bearer {self.secret_key}":
                    return 401, _error("Invalid API Key provided", "invalid_request_error"), None
                key = headers.get("Idempotency-Key")
                if method == "POST" and key and key in self._idempotent:
                    return 200, self._idempotent[key], None
                status, obj = self._api(method, path, query, form)
                if method == "POST" and key and status == 200:
                    self._idempotent[key] = obj
                return status, obj, None
        return self._pages(method, path)

    def _api(self, method: str, path: str, query: dict[str, str], form: dict[str, Any]) -> tuple[int, Any]:
        parts = path.strip("/").split("/")[1:]
        if method == "POST" and parts == ["customers"]:
            return 200, self.create_customer(form)
        if method == "POST" and parts == ["checkout", "sessions"]:
            if form.get("customer") not in self.customers:
                return 400, _error("No such customer", "invalid_request_error")
            return 200, self.create_checkout_session(form)
        if method == "POST" and parts == ["billing_portal", "sessions"]:
            if form.get("customer") not in self.customers:
                return 400, _error("No such customer", "invalid_request_error")
            return 200, self.create_portal_session(form)
        if parts == ["subscriptions"] and method == "GET":
            found = [subscription for subscription in self.subscriptions.values()
                     if subscription["customer"] == query.get("customer", subscription["customer"])
                     and (query.get("status", "all") == "all" or subscription["status"] == query.get("status"))]
            found.sort(key=lambda subscription: -subscription["created"])
            return 200, {"object": "list", "data": found, "has_more": False, "url": "/v1/subscriptions"}
        if len(parts) == 2 and parts[0] == "subscriptions":
            subscription = self.subscriptions.get(parts[1])
            if subscription is None:
                return 404, _error(f"No such subscription: '{parts[1]}'", "invalid_request_error")
            if method == "POST" and "cancel_at_period_end" in form:
                subscription["cancel_at_period_end"] = form["cancel_at_period_end"] == "true"
            if method == "DELETE":
                subscription.update(status="canceled", ended_at=int(time.time()))
            return 200, subscription
        return 404, _error(f"Unrecognized request URL ({method}: {path})", "invalid_request_error")

    def _pages(self, method: str, path: str) -> tuple[int, Any, str | None]:
        """The browser side: a Checkout page with a Pay button, a portal page with a Cancel button."""
        parts = path.strip("/").split("/")
        if len(parts) >= 2 and parts[0] == "checkout" and parts[1] in self.checkout_sessions:
            session = self.checkout_sessions[parts[1]]
            if method == "POST" and parts[2:] == ["complete"]:
                threading.Thread(target=self.complete_checkout, args=(session["id"],), daemon=True).start()
                return 303, None, session["success_url"]
            return 200, _page("Fake Checkout", f"Subscribe to {html.escape(self.price_id)}",
                              f"/checkout/{session['id']}/complete", "Pay and subscribe"), None
        if len(parts) >= 2 and parts[0] == "portal" and parts[1] in self.portal_sessions:
            session = self.portal_sessions[parts[1]]
            live = [subscription for subscription in self.subscriptions.values()
                    if subscription["customer"] == session["customer"] and subscription["status"] != "canceled"]
            if method == "POST" and parts[2:] == ["cancel"]:
                for subscription in live:  # Stripe's state changes before the browser is sent back
                    self.cancel_at_period_end(subscription["id"])
                return 303, None, session["return_url"]
            return 200, _page("Fake customer portal", f"{len(live)} subscription(s)",
                              f"/portal/{session['id']}/cancel", "Cancel subscription"), None
        return 404, _error("no such page", "invalid_request_error"), None


def _error(message: str, error_type: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type}}


def _page(title: str, text: str, action: str, button: str) -> str:
    return (f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p>"
            f"<form method='post' action='{action}'><button type='submit'>{button}</button></form></body></html>")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeStripe) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                status, payload, location = fake.handle(self.command, parts.path, dict(parse_qsl(parts.query)),
                                                        _decode_form(body), self.headers)
                if location:
                    self.send_response(status)
                    self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                is_html = isinstance(payload, str)
                data = payload.encode() if is_html else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html" if is_html else "application/json")
                self.send_header("Request-Id", "req_" + secrets.token_hex(6))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _serve

        super().__init__(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
