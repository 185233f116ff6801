"""A small local fake of the Stripe API, for tests that must never touch the network.

A stdlib ThreadingHTTPServer on 127.0.0.1:<ephemeral> serving realistic objects from a dict. It
implements what Checkout, auto top-up and dj-stripe's re-fetches call: create/retrieve/list Checkout
Sessions, retrieve any stored object by id (customers, payment intents, charges, disputes, setup
intents, payment methods, balance transactions, refunds), the account, and create/confirm payment
intents off-session. Every request is recorded. Other helpers' tests import this module.

Usage (pytest): request the `fake_stripe` fixture; it points `stripe.api_base` at the server.
Webhooks: `fake.event(type, obj)` builds a real-shaped event; `sign(body, secret)` signs it.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import stripe

API_VERSION = "2024-04-10"
FAKE_SECRET_KEY = "sk_test_" + "qlaudFakeStripe" + "0" * 16
DECLINE_CARD = "pm_card_chargeDeclined"  # like Stripe's test card of the same name

_RESOURCES = {
    "customers": "customer",
    "payment_intents": "payment_intent",
    "charges": "charge",
    "disputes": "dispute",
    "setup_intents": "setup_intent",
    "payment_methods": "payment_method",
    "balance_transactions": "balance_transaction",
    "refunds": "refund",
    "events": "event",
}


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, Any]


def _nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=v`) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append({})
                if last:
                    node[index] = value
                else:
                    node = node[index]
                continue
            nxt = parts[i + 1] if not last else None
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, [] if nxt is not None and nxt.isdigit() else {})
    return _lists(root)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _lists(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_lists(v) for v in node]
    return node


@dataclass
class FakeStripe:
    """The server's state: objects by id, and every request received."""

    base_url: str = ""
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    # --- object factories -----------------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        return f"{prefix}_test_{next(self._ids):06d}"

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.objects[obj["id"]] = obj
        return obj

    def _base(self, prefix: str, kind: str, **fields: Any) -> dict[str, Any]:
        return {"id": self.new_id(prefix), "object": kind, "livemode": False, "created": int(time.time()), **fields}

    def account(self) -> dict[str, Any]:
        return {
            "id": "acct_test_qlaud",
            "object": "account",
            "type": "standard",
            "country": "US",
            "default_currency": "usd",
            "email": "billing@qlaud.test",
            "charges_enabled": True,
            "payouts_enabled": True,
            "details_submitted": True,
            "settings": {"dashboard": {"display_name": "qlaud"}, "branding": {}},
            "business_profile": {"name": "qlaud"},
            "metadata": {},
            "created": 1700000000,
        }

    def customer(self, **fields: Any) -> dict[str, Any]:
        base = self._base("cus", "customer", email=None, name=None, metadata={}, currency="usd", balance=0)
        base.update(delinquent=False, description=None, invoice_settings={"default_payment_method": None})
        return self.put({**base, **fields})

    def payment_method(self, customer: str | None) -> dict[str, Any]:
        card = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034, "country": "US"}
        return self.put(
            self._base("pm", "payment_method", type="card", card=card, customer=customer, billing_details={})
            | {"metadata": {}}
        )

    def charge(self, *, amount: int, customer: str | None, payment_intent: str, metadata: dict) -> dict[str, Any]:
        txn = self.put(
            self._base("txn", "balance_transaction", amount=amount, currency="usd", fee=0, net=amount, type="charge")
            | {
                "status": "available",
                "available_on": int(time.time()),
                "fee_details": [],
                "reporting_category": "charge",
            }
        )
        charge = self._base("ch", "charge", amount=amount, amount_captured=amount, amount_refunded=0, currency="usd")
        charge.update(
            customer=customer,
            payment_intent=payment_intent,
            balance_transaction=txn["id"],
            captured=True,
            paid=True,
            refunded=False,
            disputed=False,
            status="succeeded",
            metadata=metadata,
            description=None,
            failure_code=None,
            failure_message=None,
            receipt_url=f"{self.base_url}/receipts/{payment_intent}",
            payment_method=None,
            payment_method_details={"type": "card", "card": {"brand": "visa", "last4": "4242"}},
            billing_details={},
            outcome={"type": "authorized"},
            fraud_details={},
            refunds={"object": "list", "data": [], "has_more": False, "url": "/v1/refunds"},
            source=None,
            statement_descriptor=None,
            transfer_group=None,
        )
        return self.put(charge)

    def payment_intent(self, *, amount: int, customer: str | None, metadata: dict, pm: str | None) -> dict[str, Any]:
        intent = self._base("pi", "payment_intent", amount=amount, amount_received=0, currency="usd", metadata=metadata)
        intent.update(
            customer=customer,
            payment_method=pm,
            status="requires_confirmation",
            latest_charge=None,
            description=None,
            capture_method="automatic",
            confirmation_method="automatic",
            payment_method_types=["card"],
            last_payment_error=None,
            setup_future_usage=None,
        )
        return self.put(intent)

    def succeed(self, intent: dict[str, Any]) -> dict[str, Any]:
        charge = self.charge(
            amount=intent["amount"],
            customer=intent["customer"],
            payment_intent=intent["id"],
            metadata=intent["metadata"],
        )
        charge["payment_method"] = intent["payment_method"]
        intent.update(status="succeeded", amount_received=intent["amount"], latest_charge=charge["id"])
        return intent

    # --- Checkout -------------------------------------------------------------------------
    def create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        items = params.get("line_items", [])
        amount = sum(int(i["price_data"]["unit_amount"]) * int(i.get("quantity", 1)) for i in items)
        session = self._base("cs", "checkout.session", mode=params.get("mode", "payment"))
        session.update(
            amount_subtotal=amount if items else None,
            amount_total=amount if items else None,
            currency=params.get("currency", "usd"),
            status="open",
            payment_status="unpaid",
            metadata=params.get("metadata", {}),
            client_reference_id=params.get("client_reference_id"),
            customer=params.get("customer"),
            customer_email=params.get("customer_email"),
            customer_details=None,
            payment_intent=None,
            setup_intent=None,
            subscription=None,
            invoice=None,
            success_url=params.get("success_url"),
            cancel_url=params.get("cancel_url"),
            url=None,
            expires_at=int(time.time()) + 86400,
            payment_method_types=["card"],
            locale=None,
            submit_type=None,
            billing_address_collection=None,
        )
        session["url"] = f"{self.base_url}/pay/{session['id']}"
        return self.put(session)

    def complete_session(self, session_id: str) -> dict[str, Any]:
        """What Stripe does when the customer pays: a paid session with its intent and charge."""
        session = self.objects[session_id]
        customer = session["customer"] or self.customer(email=session.get("customer_email"))["id"]
        pm = self.payment_method(customer)["id"]
        session.update(status="complete", customer=customer, customer_details={"email": session.get("customer_email")})
        if session["mode"] == "setup":
            intent = self.put(
                self._base("seti", "setup_intent", customer=customer, payment_method=pm, status="succeeded")
                | {"usage": "off_session", "metadata": {}, "payment_method_types": ["card"]}
            )
            session["setup_intent"] = intent["id"]
            return session
        intent = self.payment_intent(amount=session["amount_total"], customer=customer, metadata={}, pm=pm)
        self.succeed(intent)
        session.update(payment_status="paid", payment_intent=intent["id"])
        return session

    def refund(self, charge_id: str, amount: int) -> dict[str, Any]:
        charge = self.objects[charge_id]
        refund = self.put(
            self._base("re", "refund", amount=amount, charge=charge_id, currency="usd", status="succeeded")
            | {"payment_intent": charge["payment_intent"], "metadata": {}, "reason": "requested_by_customer"}
        )
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        charge["refunds"]["data"].insert(0, refund)
        return charge

    def dispute(self, charge_id: str, amount: int | None = None) -> dict[str, Any]:
        charge = self.objects[charge_id]
        charge["disputed"] = True
        dispute = self._base("dp", "dispute", amount=amount or charge["amount"], charge=charge_id, currency="usd")
        dispute.update(
            payment_intent=charge["payment_intent"],
            reason="fraudulent",
            status="needs_response",
            is_charge_refundable=False,
            metadata={},
            balance_transactions=[],
            evidence={},
            evidence_details={"due_by": int(time.time()) + 7 * 86400, "has_evidence": False, "past_due": False},
        )
        return self.put(dispute)

    # --- Events ---------------------------------------------------------------------------
    def event(self, event_type: str, obj: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
        """A real-shaped event (also stored, so `GET /v1/events/<id>` works)."""
        event = {
            "id": event_id or self.new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "data": {"object": json.loads(json.dumps(obj))},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        return self.put(event)

    def calls(self, method: str, prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]


def sign(body: str, secret: str) -> str:
    """The Stripe-Signature header Stripe would send for this body."""
    return stripe.WebhookSignature.generate_signature_header(body, secret)  # type: ignore[attr-defined]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        return

    def _params(self) -> dict[str, Any]:
        query = urlsplit(self.path).query
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        return _nest(parse_qsl(query, keep_blank_values=True) + parse_qsl(body, keep_blank_values=True))

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", "req_fake")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        fake = self.server.fake
        path = urlsplit(self.path).path
        params = self._params()
        with fake.lock:
            fake.requests.append(Recorded(method, path, params))
        try:
            status, payload = _route(fake, method, path, params)
        except KeyError as missing:
            status, payload = 404, _error("invalid_request_error", f"No such object: {missing}", "resource_missing")
        self._reply(status, payload)


def _error(kind: str, message: str, code: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, "code": code, **extra}}


def _expand(fake: FakeStripe, obj: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Replace ids by objects along each `expand[]` path (`payment_intent.latest_charge`)."""
    obj = json.loads(json.dumps(obj))
    for path in params.get("expand", []):
        node = obj
        for name in path.split("."):
            if not isinstance(node, dict):
                break
            if isinstance(node.get(name), str) and node[name] in fake.objects:
                node[name] = json.loads(json.dumps(fake.objects[node[name]]))
            node = node.get(name)
    return obj


def _list(objects: list[dict[str, Any]], params: dict[str, Any], url: str) -> dict[str, Any]:
    objects = sorted(objects, key=lambda o: (o["created"], o["id"]), reverse=True)
    created = params.get("created") or {}
    if isinstance(created, dict) and created.get("gte"):
        objects = [o for o in objects if o["created"] >= int(created["gte"])]
    if params.get("status"):
        objects = [o for o in objects if o.get("status") == params["status"]]
    if params.get("starting_after"):
        ids = [o["id"] for o in objects]
        objects = objects[ids.index(params["starting_after"]) + 1 :]
    limit = int(params.get("limit") or 10)
    return {"object": "list", "url": url, "has_more": len(objects) > limit, "data": objects[:limit]}


def _route(fake: FakeStripe, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    parts = path.strip("/").split("/")[1:]  # drop "v1"
    if parts == ["account"]:
        return 200, fake.account()
    if parts[:2] == ["checkout", "sessions"]:
        return _route_sessions(fake, method, parts[2:], params)
    if parts == ["customers"] and method == "POST":
        return 200, fake.customer(
            email=params.get("email"), name=params.get("name"), metadata=params.get("metadata", {})
        )
    if parts[:1] == ["payment_intents"] and method == "POST":
        return _route_intents(fake, parts[1:], params)
    if len(parts) == 2 and parts[0] in _RESOURCES and method == "GET":
        obj = fake.objects[parts[1]]
        if obj["object"] != _RESOURCES[parts[0]]:
            raise KeyError(parts[1])
        return 200, _expand(fake, obj, params)
    if len(parts) == 1 and parts[0] in _RESOURCES and method == "GET":
        kind = _RESOURCES[parts[0]]
        return 200, _list([o for o in fake.objects.values() if o["object"] == kind], params, path)
    return 404, _error("invalid_request_error", f"Unrecognized request URL ({method}: {path})")


def _route_sessions(fake: FakeStripe, method: str, rest: list[str], params: dict) -> tuple[int, dict[str, Any]]:
    if not rest and method == "POST":
        return 200, fake.create_session(params)
    if not rest and method == "GET":
        sessions = [o for o in fake.objects.values() if o["object"] == "checkout.session"]
        return 200, _list(sessions, params, "/v1/checkout/sessions")
    obj = fake.objects[rest[0]]
    if obj["object"] != "checkout.session":
        raise KeyError(rest[0])
    return 200, _expand(fake, obj, params)


def _route_intents(fake: FakeStripe, rest: list[str], params: dict) -> tuple[int, dict[str, Any]]:
    if not rest:
        intent = fake.payment_intent(
            amount=int(params["amount"]),
            customer=params.get("customer"),
            metadata=params.get("metadata", {}),
            pm=params.get("payment_method"),
        )
        if params.get("confirm") != "true":
            return 200, intent
    else:
        intent = fake.objects[rest[0]]
    if intent["payment_method"] == DECLINE_CARD:
        intent.update(status="requires_payment_method", last_payment_error={"code": "card_declined"})
        message = "Your card was declined."
        return 402, _error(
            "card_error", message, "card_declined", decline_code="generic_decline", payment_intent=intent
        )
    return 200, fake.succeed(intent)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeStripe


def start() -> tuple[_Server, FakeStripe]:
    server = _Server(("127.0.0.1", 0), _Handler)
    fake = FakeStripe(base_url=f"http://127.0.0.1:{server.server_address[1]}")
    server.fake = fake
    threading.Thread(target=server.serve_forever, name="fake-stripe", daemon=True).start()
    return server, fake


@pytest.fixture
def fake_stripe(settings) -> Iterator[FakeStripe]:
    """A running fake Stripe with the official client pointed at it (no retries, no network)."""
    server, fake = start()
    saved = (stripe.api_base, stripe.max_network_retries, stripe.api_key)
    stripe.api_base = fake.base_url
    stripe.max_network_retries = 0
    settings.STRIPE_API_BASE = fake.base_url
    settings.STRIPE_TEST_SECRET_KEY = FAKE_SECRET_KEY  # dj-stripe insists on a well-formed key
    try:
        yield fake
    finally:
        stripe.api_base, stripe.max_network_retries, stripe.api_key = saved
        server.shutdown()
        server.server_close()
