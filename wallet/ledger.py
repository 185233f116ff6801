"""The ONLY writer of money: Wallet balances, LedgerEntry rows and Holds.

Every write is one short `transaction.atomic(durable=True)` with the wallet row locked
(`select_for_update` on PostgreSQL; on SQLite the IMMEDIATE transaction mode serialises writers).
Idempotency is a unique `idempotency_key` (entries) or `request_id` (holds), checked under the lock,
so a replayed webhook, a double settle or a retried task is a no-op.

`Wallet.held` is the sum of open holds, kept on the row so the available-balance check is O(1).

Cost per async call (wallet/tests/test_ledger_cost.py, medians on the 2-core dev machine):
SQLite hold 1.4-1.8 ms, settle 3.0 ms, release 1.9 ms; PostgreSQL (local, fsync on) hold 8 ms,
settle 18 ms, release 12 ms when the machine is lightly loaded (about twice that at load 9). On
PostgreSQL the commit's WAL flush dominates (a bare one-row insert + commit costs ~4 ms here).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Model, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import ApiKey, Org
from accounts.periods import period_start
from lib.bulk import insert_rows
from lib.threads import close_pool_connections as threads_close_pool_connections
from lib.threads import in_pool, yielding
from wallet.models import Hold, LedgerEntry, Wallet
from wallet.money import format_usd
from wallet.signals import balance_crossed

M = TypeVar("M", bound=Model)

log = logging.getLogger(__name__)
Kind = LedgerEntry.Kind


class InsufficientFunds(Exception):
    """A hold was refused. `kind` is "balance" or "key_limit"; `message` tells the caller what to do.
    `reclaimable`: other workers' leases hold enough unused money to cover it (wallet/leases.py
    asks for it back and tries again)."""

    def __init__(self, kind: str, message: str, *, reclaimable: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.reclaimable = reclaimable


class LedgerError(Exception):
    """A ledger call that can never succeed (unknown hold, non-positive amount...)."""


@dataclass(frozen=True, slots=True)
class _After:
    """What to do once a write has committed (emails, auto top-up): never inside the transaction."""

    wallet_id: int
    low_balance: bool = False
    auto_topup: bool = False


# --- Wallets --------------------------------------------------------------------------------


def ensure_wallet(org_id: int) -> Wallet:
    """The org's wallet, created if missing. Safe against a concurrent creator."""
    wallet = Wallet.objects.filter(org_id=org_id).first()
    if wallet is not None:
        return wallet
    try:
        with transaction.atomic():
            return Wallet.objects.create(org_id=org_id)
    except IntegrityError:
        return Wallet.objects.get(org_id=org_id)


def _locked_wallet(org_id: int) -> Wallet:
    """Lock (and if needed create) the org's wallet. Call inside the durable transaction."""
    wallet = Wallet.objects.select_for_update().filter(org_id=org_id).first()
    if wallet is not None:
        return wallet
    with transaction.atomic():  # a savepoint: a concurrent creator only costs a retry
        try:
            Wallet.objects.create(org_id=org_id)
        except IntegrityError:
            pass
    return Wallet.objects.select_for_update().get(org_id=org_id)


def _save_wallet(wallet: Wallet, before: int) -> _After:
    """Persist balance/held/flags and decide which after-commit events this write crossed into."""
    low = auto = False
    if wallet.balance >= wallet.low_balance_threshold:
        wallet.low_balance_notified = False
    elif before >= wallet.low_balance_threshold > 0 and not wallet.low_balance_notified:
        wallet.low_balance_notified = low = True
    if wallet.balance >= wallet.auto_topup_threshold:
        wallet.auto_topup_triggered = False
    elif _auto_topup_ready(wallet):
        wallet.auto_topup_triggered = auto = True
    wallet.save(
        update_fields=[
            "balance",
            "held",
            "low_balance_notified",
            "auto_topup_triggered",
            "updated",
        ]
    )
    return _After(wallet.pk, low_balance=low, auto_topup=auto)


def _auto_topup_ready(wallet: Wallet) -> bool:
    return (
        wallet.auto_topup_enabled
        and not wallet.auto_topup_triggered
        and wallet.auto_topup_amount > 0
        and bool(wallet.stripe_customer_id and wallet.stripe_payment_method_id)
    )


def _write_entry(
    wallet: Wallet, *, amount: int, kind: str, key: str, known_new: bool = False, **fields: Any
) -> LedgerEntry | None:
    """Append one entry and move the balance, unless `key` was already written (then None).

    `known_new`: the caller holds a lock that proves the key is unused (the unique constraint
    still guards it), so the look-up is skipped."""
    if not known_new and LedgerEntry.objects.filter(idempotency_key=key).exists():
        return None
    wallet.balance += amount
    return LedgerEntry.objects.create(
        wallet=wallet, amount=amount, kind=kind, idempotency_key=key, balance_after=wallet.balance, **fields
    )


def _after_commit(after: _After) -> None:
    """Enqueue the crossing events. Runs after commit, outside any money transaction."""
    if not (after.low_balance or after.auto_topup):
        return
    # The money has moved: a broker outage or a failing email must not turn into a failed settle.
    try:
        balance_crossed.send(
            Wallet, wallet_id=after.wallet_id, low_balance=after.low_balance, auto_topup=after.auto_topup
        )
    except Exception:
        log.exception("could not start the balance follow-ups of wallet %s", after.wallet_id)


def create_wallet_for_org(sender: type, instance: Any, created: bool, **kwargs: Any) -> None:
    """Every org gets a wallet (post_save of Org); ensure_wallet makes one lazily too: a missed signal is harmless."""
    if created and not kwargs.get("raw"):
        ensure_wallet(instance.pk)


# --- Holds ----------------------------------------------------------------------------------


def place_hold(*, org_id: int, key_id: int | None, amount: int, request_id: str, key_limited: bool = True) -> int:
    """Reserve `amount` for one request; returns the hold id or raises InsufficientFunds.

    The reservation is one conditional UPDATE (it takes the wallet's row lock and re-checks the
    balance under it), so concurrent holds can never reserve more than is available. A key with
    a spend limit is checked in the same transaction; `key_limited=False` (the caller knows the
    key has none) skips that query.
    """
    if amount < 0:
        raise LedgerError("a hold cannot be negative")
    wallet_id = _wallet_id(org_id)
    with transaction.atomic(durable=True):
        reserved = Wallet.objects.filter(pk=wallet_id, balance__gte=F("held") + amount).update(
            held=F("held") + amount, updated=timezone.now()
        )
        if not reserved:
            wallet = Wallet.objects.get(pk=wallet_id)
            leased = _leases_unused(wallet_id)
            short = _short_balance_message(wallet, amount)
            raise InsufficientFunds("balance", short, reclaimable=bool(leased) and wallet.available + leased >= amount)
        if key_id is not None and key_limited:
            _check_key_limit(key_id, amount)  # raising rolls the reservation back
        hold = Hold.objects.create(wallet_id=wallet_id, api_key_id=key_id, request_id=request_id, amount=amount)
    return hold.pk


_wallet_ids: dict[int, int] = {}


def _wallet_id(org_id: int) -> int:
    """The org's wallet id (created if missing). A wallet is never re-parented, so it is memoised."""
    wallet_id = _wallet_ids.get(org_id)
    if wallet_id is None:
        wallet_id = _wallet_ids[org_id] = ensure_wallet(org_id).pk
    return wallet_id


def _short_balance_message(wallet: Wallet, amount: int) -> str:
    """`amount`: the request's own hold. What is available is what /v1/credits shows (the settled
    balance less the holds of requests in flight), not what the wallet row has left unleased."""
    available = wallet.balance - on_hold(wallet.pk)
    return (
        f"Insufficient balance: this request may cost up to {format_usd(amount)} but "
        f"{format_usd(max(available, 0))} is available. "
        f"Top up at {settings.SITE_URL}/dashboard/wallet/ or lower max_tokens."
    )


def on_hold(wallet_id: int) -> int:
    """What customers see as on hold (Wallet.on_hold): never a worker's unused lease."""
    return Wallet(pk=wallet_id).on_hold


def _leases_unused(wallet_id: int, but: int | None = None) -> int:
    """The unused part of the wallet's open leases (other than `but`) as of their last flushes."""
    rows = Hold.objects.filter(wallet_id=wallet_id, status=Hold.Status.OPEN, lease=True)
    if but is not None:
        rows = rows.exclude(pk=but)
    return sum(max(amount - in_flight, 0) for amount, in_flight in rows.values_list("amount", "in_flight"))


def _check_key_limit(key_id: int, amount: int) -> None:
    key = ApiKey.objects.filter(pk=key_id).values("spend_limit", "limit_period", "name").first()
    if key is None or key["spend_limit"] is None:
        return
    spent = key_period_spend(key_id, key["limit_period"])
    if spent + amount > key["spend_limit"]:
        raise InsufficientFunds(
            "key_limit",
            f"This API key's spend limit of {format_usd(key['spend_limit'])} per {key['limit_period']} "
            f"would be exceeded ({format_usd(spent)} used or on hold, this request may cost up to "
            f"{format_usd(amount)}). Raise the key's limit at {settings.SITE_URL}/dashboard/keys/ "
            "or wait for the next period.",
        )


def key_period_spend(key_id: int, period: str, now: datetime | None = None) -> int:
    """Micro-dollars used by a key in its current period: usage entries plus its open holds."""
    start = period_start(period, now or timezone.now())
    usage = LedgerEntry.objects.filter(api_key_id=key_id, kind=Kind.USAGE)
    if start is not None:
        usage = usage.filter(created__gte=start)
    used = -(usage.aggregate(s=Sum("amount"))["s"] or 0)
    on_hold = Hold.objects.filter(api_key_id=key_id, status=Hold.Status.OPEN).aggregate(s=Sum("amount"))["s"] or 0
    return used + on_hold


def settle(hold_id: int, *, charge: int, upstream_cost: int, receipt: dict) -> None:
    """Charge one request and close its hold. Idempotent (`usage:<request_id>`).

    The charge may exceed the hold (upstream ignored max_tokens): it is charged anyway, so the
    balance may dip below zero by at most that one request's overshoot. A hold the reconciler
    already released is still charged once, because the request did happen.
    """
    if charge < 0:
        raise LedgerError("a charge cannot be negative")
    with transaction.atomic(durable=True):
        hold, wallet = _locked_hold(hold_id)
        if hold.status == Hold.Status.SETTLED:
            return
        before = wallet.balance
        if hold.status == Hold.Status.OPEN:
            wallet.held -= hold.amount
        receipt = {**receipt, "upstream_cost": upstream_cost, "charge": charge, "hold": hold.amount}
        _write_entry(
            wallet,
            amount=-charge,
            kind=Kind.USAGE,
            key=f"usage:{hold.request_id}",
            reference=hold.request_id,
            receipt=receipt,
            api_key_id=hold.api_key_id,
            # Usage entries are written only here, with the hold locked and moving to SETTLED.
            known_new=True,
        )
        hold.status, hold.charged, hold.settled_at = Hold.Status.SETTLED, charge, timezone.now()
        hold.save(update_fields=["status", "charged", "settled_at"])
        after = _save_wallet(wallet, before)
    _after_commit(after)


def release(hold_id: int) -> None:
    """Give an unused hold back (the request failed before costing anything). Idempotent."""
    with transaction.atomic(durable=True):
        hold, wallet = _locked_hold(hold_id)
        if hold.status != Hold.Status.OPEN:
            return
        wallet.held -= hold.amount
        hold.status, hold.settled_at = Hold.Status.RELEASED, timezone.now()
        hold.save(update_fields=["status", "settled_at"])
        wallet.save(update_fields=["held", "updated"])


def checkpoint(hold_id: int, *, charge: int, upstream_cost: int, receipt: dict) -> None:
    """Note what an open hold's stream has delivered so far. Moves no money: the reconciler
    settles a hold from its last checkpoint when the worker serving it died mid-stream."""
    Hold.objects.filter(pk=hold_id, status=Hold.Status.OPEN).update(
        metered_charge=charge, metered_upstream_cost=upstream_cost, metered_receipt=receipt
    )


def checkpoint_many(points: dict[int, dict[str, Any]]) -> None:
    """`checkpoint` for several holds in one transaction ({hold id: {charge, upstream_cost, receipt}})."""
    with transaction.atomic(durable=True):
        for hold_id, point in points.items():
            Hold.objects.filter(pk=hold_id, status=Hold.Status.OPEN).update(
                metered_charge=point["charge"],
                metered_upstream_cost=point["upstream_cost"],
                metered_receipt=point["receipt"],
            )


def _locked_hold(hold_id: int) -> tuple[Hold, Wallet]:
    """Lock a hold, then its wallet. Holds are always locked before wallets, so no lock cycle.

    Two plain row locks by primary key: the ORM's select_for_update + select_related compiled a join
    for every lease flush (five times a second per worker), a millisecond or two of CPU holding the
    GIL against the event loop for the same two locks."""
    hold = _locked_row(Hold, hold_id, defer=("metered_receipt",))  # a lease's checkpoints: large, only ever written
    if hold is None:
        raise LedgerError(f"no hold {hold_id}")
    wallet = _locked_row(Wallet, hold.wallet_id)
    assert wallet is not None  # the foreign key guarantees it
    Hold._meta.get_field("wallet").set_cached_value(hold, wallet)  # hold.wallet is this locked row
    return hold, wallet


def _locked_row(model: type[M], pk: int, defer: tuple[str, ...] = ()) -> M | None:
    """The row, locked; the fields in `defer` are not read (loaded on access, written by a plain `save()`)."""
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in model._meta.concrete_fields if f.name not in defer)
    table, column = quote(model._meta.db_table), quote(str(model._meta.pk.column))
    query = f"SELECT {columns} FROM {table} WHERE {column} = %s{lock}"
    return next(iter(model._default_manager.raw(query, [pk])), None)


# --- Leases (wallet/leases.py keeps the in-process side) -----------------------------------------


@dataclass(frozen=True, slots=True)
class Spend:
    """One request's final charge, spent from a lease and waiting to be written."""

    request_id: str
    key_id: int | None
    charge: int
    upstream_cost: int
    receipt: dict


def lease_grow(wallet_id: int, hold_id: int | None, need: int, quote: int | None = None) -> tuple[int, int]:
    """Reserve at least `need` more for a worker's lease (a new lease if `hold_id` is None or was
    closed by the reconciler). Reserves more than needed when the wallet can spare it, so most
    requests never wait for the database. Returns (hold id, amount now reserved on it). Refused,
    the message quotes `quote` (the request's own hold), and says whether other leases could give
    enough back (`reclaimable`)."""
    with transaction.atomic(durable=True):
        wallet = Wallet.objects.select_for_update().get(pk=wallet_id)
        hold = None
        if hold_id is not None:
            hold = Hold.objects.select_for_update().filter(pk=hold_id, status=Hold.Status.OPEN).first()
        available = wallet.balance - wallet.held
        if available < need:
            leased = _leases_unused(wallet_id, but=hold_id)
            short = _short_balance_message(wallet, quote or need)
            raise InsufficientFunds("balance", short, reclaimable=bool(leased) and available + leased >= need)
        share = available // max(settings.WALLET_LEASE_SHARE, 1)
        size = min(max(need, min(settings.WALLET_LEASE_MAX_MICROS, share)), available)
        wallet.held += size
        wallet.save(update_fields=["held", "updated"])
        expires = timezone.now() + timedelta(seconds=settings.WALLET_LEASE_TTL_SECONDS)
        if hold is None:
            hold = Hold.objects.create(
                wallet=wallet, request_id=f"lease:{uuid.uuid4().hex}", amount=size, lease=True, expires=expires
            )
        else:
            hold.amount += size
            hold.expires = expires
            hold.save(update_fields=["amount", "expires"])
    return hold.pk, hold.amount


def lease_flush(
    wallet_id: int,
    hold_id: int | None,
    spends: list[Spend],
    metered: dict,
    *,
    release: bool = False,
    expired_before: datetime | None = None,
    in_flight: int = 0,
    keep: int | None = None,
) -> int | None:
    """Write a lease's settled requests (one usage entry each, idempotent per request) and renew it;
    with `release`, give what is left back to the wallet. Returns the amount still reserved, or None
    when the lease is closed (released here, or by the reconciler: its spends are still charged).
    `hold_id` None: the lease is gone already; only the spends are written. `expired_before` (the
    reconciler): do nothing unless the lease is still open and was last renewed for before then.
    `in_flight`: what the lease's requests in flight have reserved (shown as on hold); `keep`: give
    back all but this much (other workers asked for the wallet's money)."""
    with transaction.atomic(durable=True):
        if hold_id is None:
            hold, wallet = None, Wallet.objects.select_for_update().get(pk=wallet_id)
        else:
            hold, wallet = _locked_hold(hold_id)
            if expired_before is not None and not (
                hold.status == Hold.Status.OPEN and hold.expires is not None and hold.expires < expired_before
            ):
                return None
        before = wallet.balance
        try:
            with transaction.atomic():  # a savepoint, so a duplicate entry can be retried without it
                total = _write_spends(wallet, spends, charged=set())
        except IntegrityError:
            # Some of these requests were charged already (this batch's earlier write landed but its
            # commit was not seen, or the reconciler charged them): skip those, charge the rest.
            wallet.balance = before
            keys = [f"usage:{s.request_id}" for s in spends]
            charged = set(
                LedgerEntry.objects.filter(idempotency_key__in=keys).values_list("idempotency_key", flat=True)
            )
            total = _write_spends(wallet, spends, charged=charged)
        remaining = None
        if hold is not None and hold.status == Hold.Status.OPEN:
            left = max(hold.amount - total, 0)
            if keep is not None:
                left = min(left, keep)
            wallet.held -= hold.amount - left
            hold.amount, hold.charged = left, (hold.charged or 0) + total
            if release:
                wallet.held -= left
                hold.status, hold.settled_at = Hold.Status.RELEASED, timezone.now()
            else:
                remaining = left
                hold.expires = timezone.now() + timedelta(seconds=settings.WALLET_LEASE_TTL_SECONDS)
            hold.metered_charge = sum(m["charge"] for m in metered.values())
            hold.metered_upstream_cost = sum(m["upstream_cost"] for m in metered.values())
            hold.metered_receipt = {"requests": metered}
            hold.in_flight = in_flight
            hold.save()
        after = _save_wallet(wallet, before)
    _after_commit(after)
    return remaining


def _write_spends(wallet: Wallet, spends: list[Spend], *, charged: set[str]) -> int:
    """One usage entry per spend not in `charged` (idempotency keys), in one statement; debits
    `wallet` (not saved here) and returns the total. The unique idempotency key guards each row."""
    now = timezone.now()
    entries: list[dict[str, Any]] = []
    total, usage = 0, Kind.USAGE.value
    for spend in yielding(spends):
        key = f"usage:{spend.request_id}"
        if key in charged:
            continue
        charged.add(key)  # a request twice in one batch is charged once
        total += spend.charge
        wallet.balance -= spend.charge
        entries.append(
            {
                "wallet_id": wallet.pk,
                "amount": -spend.charge,
                "kind": usage,
                "idempotency_key": key,
                "reference": spend.request_id,
                "receipt": {**spend.receipt, "upstream_cost": spend.upstream_cost, "charge": spend.charge},
                "api_key_id": spend.key_id,
                "balance_after": wallet.balance,
                "created": now,
            }
        )
    insert_rows(LedgerEntry, entries)
    return total


# --- Credits and debits ---------------------------------------------------------------------


def _move(org_id: int, *, amount: int, kind: str, key: str, reference: str = "", receipt: dict | None = None) -> bool:
    """One entry in one durable transaction. True if written, False if `key` was already used."""
    with transaction.atomic(durable=True):
        wallet = _locked_wallet(org_id)
        before = wallet.balance
        entry = _write_entry(wallet, amount=amount, kind=kind, key=key, reference=reference, receipt=receipt or {})
        if entry is None:
            return False
        after = _save_wallet(wallet, before)
    _after_commit(after)
    return True


# --- The house account ------------------------------------------------------------------------
# qlaud's own upstream calls (the live board's probes, gateway/probes.py) are paid from the wallet of
# one org of its own, never from a customer's: an org with no members and no keys, so no customer can
# see or spend it. Its balance goes negative by what the house spent; staff read it in the admin.
HOUSE_ORG_NAME = "qlaud house account (live-board probes)"


def house_org_id() -> int:
    """The house org (settings.HOUSE_ORG_SLUG), created on first use with its balance alerts off."""
    org = Org.objects.filter(slug=settings.HOUSE_ORG_SLUG).first()
    if org is None:
        try:
            with transaction.atomic():
                org = Org.objects.create(slug=settings.HOUSE_ORG_SLUG, name=HOUSE_ORG_NAME)
        except IntegrityError:  # created by a concurrent caller
            org = Org.objects.get(slug=settings.HOUSE_ORG_SLUG)
        update_settings(org.pk, low_balance_threshold=0)
    return org.pk


def charge_probe(*, probe_id: str, amount: int, receipt: dict | None = None) -> bool:
    """Debit the house for one probe's upstream cost. Idempotent (`probe:<probe_id>`); nothing for a free probe."""
    if amount < 0:
        raise LedgerError("a probe cannot cost less than nothing")
    if amount == 0:
        return False
    key = f"probe:{probe_id}"
    return _move(house_org_id(), amount=-amount, kind=Kind.PROBE, key=key, reference=probe_id, receipt=receipt)


def probe_spend_since(since: datetime) -> int:
    """Micro-dollars the house spent on probes since `since` (the daily budget reads it)."""
    spent = LedgerEntry.objects.filter(
        wallet__org__slug=settings.HOUSE_ORG_SLUG, kind=Kind.PROBE, created__gte=since
    ).aggregate(s=Sum("amount"))["s"]
    return -(spent or 0)


def credit_topup(
    *, org_id: int, amount: int, reference: str, idempotency_key: str, receipt: dict | None = None, auto: bool = False
) -> bool:
    """Credit a paid top-up. The key is the Checkout Session (or PaymentIntent) id: credited once."""
    if amount <= 0:
        raise LedgerError("a top-up must be positive")
    kind = Kind.AUTO_TOPUP if auto else Kind.TOPUP
    return _move(org_id, amount=amount, kind=kind, key=idempotency_key, reference=reference, receipt=receipt)


def debit_refund(*, org_id: int, charge_id: str, refunded_total: int, receipt: dict | None = None) -> bool:
    """Take back refunded money. `refunded_total` is the charge's cumulative refunded amount
    (micro-dollars, as Stripe reports it): only the part not yet debited is written, under the lock,
    so out-of-order or repeated refund events debit each refunded cent once."""
    if refunded_total <= 0:
        raise LedgerError("a refund must be positive")
    with transaction.atomic(durable=True):
        wallet = _locked_wallet(org_id)
        done = LedgerEntry.objects.filter(wallet=wallet, kind=Kind.REFUND, reference=charge_id)
        delta = refunded_total + (done.aggregate(s=Sum("amount"))["s"] or 0)
        if delta <= 0:
            return False
        before = wallet.balance
        key = f"refund:{charge_id}:{refunded_total}"
        entry = _write_entry(
            wallet, amount=-delta, kind=Kind.REFUND, key=key, reference=charge_id, receipt=receipt or {}
        )
        if entry is None:
            return False
        after = _save_wallet(wallet, before)
    _after_commit(after)
    return True


def debit_dispute(
    *, org_id: int, amount: int, reference: str, idempotency_key: str, receipt: dict | None = None
) -> bool:
    """Take back disputed money (shown to the customer in the history)."""
    if amount <= 0:
        raise LedgerError("a dispute debit must be positive")
    return _move(org_id, amount=-amount, kind=Kind.DISPUTE, key=idempotency_key, reference=reference, receipt=receipt)


def adjust(*, org_id: int, amount: int, reason: str, idempotency_key: str | None = None) -> bool:
    """A manual credit (positive) or debit (negative) by staff, with its reason on the receipt."""
    if amount == 0 or not reason:
        raise LedgerError("an adjustment needs a non-zero amount and a reason")
    key = idempotency_key or f"adjustment:{uuid.uuid4()}"
    receipt = {"reason": reason}
    return _move(org_id, amount=amount, kind=Kind.ADJUSTMENT, key=key, reference=reason[:200], receipt=receipt)


def update_settings(org_id: int, **fields: Any) -> Wallet:
    """Change a wallet's non-money settings (thresholds, auto top-up, Stripe ids) under the lock."""
    allowed = {
        "low_balance_threshold",
        "auto_topup_enabled",
        "auto_topup_threshold",
        "auto_topup_amount",
        "auto_topup_last_error",
        "stripe_customer_id",
        "stripe_payment_method_id",
    }
    if not set(fields) <= allowed:
        raise LedgerError(f"not a wallet setting: {sorted(set(fields) - allowed)}")
    with transaction.atomic(durable=True):
        wallet = _locked_wallet(org_id)
        for name, value in fields.items():
            setattr(wallet, name, value)
        wallet.save(update_fields=[*fields, "updated"])
    return wallet


# --- Invariant ------------------------------------------------------------------------------


def ledger_drift() -> list[dict[str, int]]:
    """Every wallet whose balance != sum(entries) or held != sum(open holds).

    One statement, so one snapshot: read in three, a lease released between reading the holds and the wallets
    (a worker's flush) looked like drift."""
    entry_sum = LedgerEntry.objects.filter(wallet=OuterRef("pk")).values("wallet").annotate(s=Sum("amount"))
    hold_sum = (
        Hold.objects.filter(wallet=OuterRef("pk"), status=Hold.Status.OPEN).values("wallet").annotate(s=Sum("amount"))
    )
    rows = Wallet.objects.annotate(
        entry_total=Coalesce(Subquery(entry_sum.values("s")), Value(0)),
        hold_total=Coalesce(Subquery(hold_sum.values("s")), Value(0)),
    ).values_list("pk", "balance", "held", "entry_total", "hold_total")
    drifts = []
    for wallet_id, balance, held, entries, holds in rows:
        if balance != entries or held != holds:
            drifts.append(
                {"wallet_id": wallet_id, "balance": balance, "entries": entries, "held": held, "holds": holds}
            )
    return drifts


def assert_ledger_invariant() -> None:
    """Raise AssertionError if any wallet drifted (tests call this after moving money)."""
    drifts = ledger_drift()
    assert not drifts, f"ledger invariant broken: {drifts}"


# --- Async wrappers for the gateway ---------------------------------------------------------

# Money writes run on qlaud's small long-lived pool (warm connections, bounded count).
_in_pool = in_pool
close_pool_connections = threads_close_pool_connections


async def aplace_hold(
    *, org_id: int, key_id: int | None, amount: int, request_id: str, key_limited: bool = True
) -> int:
    return await _in_pool(place_hold)(
        org_id=org_id, key_id=key_id, amount=amount, request_id=request_id, key_limited=key_limited
    )


async def asettle(hold_id: int, *, charge: int, upstream_cost: int, receipt: dict) -> None:
    await _in_pool(settle)(hold_id, charge=charge, upstream_cost=upstream_cost, receipt=receipt)


async def arelease(hold_id: int) -> None:
    await _in_pool(release)(hold_id)
