"""Wallet, ledger and holds. All amounts are integer micro-dollars (see wallet/money.py).

Only wallet/ledger.py writes Wallet balances, LedgerEntry rows and Holds.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property

from lib import jsonio


def _default_low_balance() -> int:
    return settings.LOW_BALANCE_DEFAULT_USD * 1_000_000


class Wallet(models.Model):
    """One per org. `balance` == sum of the org's ledger entries; `held` == sum of open holds."""

    org = models.OneToOneField("accounts.Org", models.CASCADE, related_name="wallet")
    balance = models.BigIntegerField(default=0)  # micro-dollars
    held = models.BigIntegerField(default=0)  # micro-dollars reserved by open holds
    low_balance_threshold = models.BigIntegerField(default=_default_low_balance)  # micro-dollars; 0 = off
    # Set when the balance crosses below the threshold, cleared when it rises above: one email per crossing.
    low_balance_notified = models.BooleanField(default=False)
    auto_topup_enabled = models.BooleanField(default=False)
    auto_topup_threshold = models.BigIntegerField(default=0)  # micro-dollars
    auto_topup_amount = models.BigIntegerField(default=0)  # micro-dollars
    # Set when an auto top-up is started for this crossing, cleared when the balance rises above.
    auto_topup_triggered = models.BooleanField(default=False)
    auto_topup_last_error = models.CharField(max_length=300, blank=True)
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    stripe_payment_method_id = models.CharField(max_length=255, blank=True)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"wallet of org {self.org_id}"

    @property
    def available(self) -> int:
        """What no hold or lease has reserved: what a new lease or hold may take."""
        return self.balance - self.held

    @cached_property
    def on_hold(self) -> int:
        """What customers see on hold: the holds of requests in flight (per-request holds, and what
        each lease's requests in flight had reserved at its last flush), never a lease's unused rest."""
        rows = self.holds.filter(status=Hold.Status.OPEN).values_list("lease", "amount", "in_flight")
        return sum(min(in_flight, amount) if lease else amount for lease, amount, in_flight in rows)

    @property
    def spendable(self) -> int:
        """What customers see as available: the settled balance less the holds of requests in flight."""
        return self.balance - self.on_hold


class LedgerQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("ledger entries are append-only")

    def delete(self):
        raise PermissionError("ledger entries are append-only")


class LedgerEntry(models.Model):
    """An append-only money movement. Signed: credits positive, debits negative."""

    class Kind(models.TextChoices):
        TOPUP = "topup", "Top-up"
        AUTO_TOPUP = "auto_topup", "Auto top-up"
        USAGE = "usage", "Usage"
        REFUND = "refund", "Refund"
        DISPUTE = "dispute", "Dispute"
        ADJUSTMENT = "adjustment", "Adjustment"
        PROBE = "probe", "Live-board probe (house)"

    wallet = models.ForeignKey(Wallet, models.CASCADE, related_name="entries", db_index=False)  # (wallet, -created)
    amount = models.BigIntegerField()  # micro-dollars, signed
    balance_after = models.BigIntegerField()  # micro-dollars
    kind = models.CharField(max_length=12, choices=Kind.choices)
    # Unique (Meta.constraints): a replayed webhook, a double settle or a retried task is a no-op.
    idempotency_key = models.CharField(max_length=200)
    reference = models.CharField(max_length=200, blank=True)  # session id, request id, charge id; indexed in Meta
    receipt = models.JSONField(default=dict, blank=True)
    api_key = models.ForeignKey(
        "accounts.ApiKey", models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )  # indexed by (api_key, kind, created)
    created = models.DateTimeField(default=timezone.now, db_index=True)

    objects = LedgerQuerySet.as_manager()

    class Meta:
        # A usage entry per request: only the indexes readers use. Constraints and Meta indexes
        # instead of unique=True / db_index=True, which on PostgreSQL add a LIKE index to each.
        indexes = [
            models.Index(fields=["wallet", "-created"]),
            models.Index(fields=["api_key", "kind", "created"]),
            models.Index(fields=["reference"], name="ledgerentry_reference"),
        ]
        constraints = [models.UniqueConstraint(fields=["idempotency_key"], name="ledgerentry_idempotency_key_unique")]
        verbose_name_plural = "ledger entries"

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.idempotency_key})"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not self._state.adding:
            raise PermissionError("ledger entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("ledger entries are append-only")


class Hold(models.Model):
    """Money reserved for one in-flight request, settled or released when it ends; or, with
    `lease`, money one worker process reserved in bulk for its requests (wallet/leases.py)."""

    class Status(models.TextChoices):
        OPEN = "open"
        SETTLED = "settled"
        RELEASED = "released"

    wallet = models.ForeignKey(Wallet, models.CASCADE, related_name="holds")
    api_key = models.ForeignKey("accounts.ApiKey", models.SET_NULL, null=True, blank=True, related_name="+")
    request_id = models.CharField(max_length=64, unique=True)
    amount = models.BigIntegerField()  # micro-dollars reserved
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    charged = models.BigIntegerField(null=True, blank=True)  # micro-dollars finally charged
    # What a stream had delivered at its last checkpoint (micro-dollars): if the worker dies
    # mid-stream, the reconciler charges this rather than losing the charge.
    metered_charge = models.BigIntegerField(default=0)
    metered_upstream_cost = models.BigIntegerField(default=0)
    metered_receipt = models.JSONField(default=dict, blank=True, encoder=jsonio.Encoder)  # large on a lease
    # A lease: `amount` is what is still reserved; `metered_receipt` maps each of its streams in
    # flight to its last checkpoint; `expires` is pushed forward on every flush while its worker lives.
    lease = models.BooleanField(default=False)
    expires = models.DateTimeField(null=True, blank=True)
    # A lease: what its requests in flight had reserved at its last flush (micro-dollars). Customers
    # see this as on hold, never the lease's unused rest (wallet.ledger.on_hold).
    in_flight = models.BigIntegerField(default=0)
    created = models.DateTimeField(default=timezone.now)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "created"]),
            models.Index(fields=["api_key", "status"]),
        ]

    def __str__(self) -> str:
        return f"hold {self.request_id} {self.amount} {self.status}"


class LedgerDrift(models.Model):
    """Found by verify_ledgers: a wallet whose stored numbers disagree with its entries. Never auto-fixed."""

    wallet = models.ForeignKey(Wallet, models.CASCADE, related_name="drifts")
    stored_balance = models.BigIntegerField()
    entries_sum = models.BigIntegerField()
    stored_held = models.BigIntegerField()
    open_holds_sum = models.BigIntegerField()
    detected = models.DateTimeField(default=timezone.now)
    resolved = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"drift on wallet {self.wallet_id} at {self.detected:%Y-%m-%d %H:%M}"


class UsageRollup(models.Model):
    """Hourly and daily aggregates of RequestLog, rebuilt idempotently by rollup_usage."""

    class Granularity(models.TextChoices):
        HOUR = "hour"
        DAY = "day"

    org = models.ForeignKey("accounts.Org", models.CASCADE, related_name="+")
    api_key = models.ForeignKey("accounts.ApiKey", models.SET_NULL, null=True, blank=True, related_name="+")
    model = models.CharField(max_length=200)
    granularity = models.CharField(max_length=4, choices=Granularity.choices)
    period_start = models.DateTimeField()
    requests = models.PositiveIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    cache_read_tokens = models.BigIntegerField(default=0)
    cache_write_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    reasoning_tokens = models.BigIntegerField(default=0)
    upstream_cost = models.BigIntegerField(default=0)  # micro-dollars
    cost = models.BigIntegerField(default=0)  # micro-dollars

    class Meta:
        indexes = [models.Index(fields=["org", "granularity", "period_start"])]

    def __str__(self) -> str:
        return f"{self.granularity} {self.period_start:%Y-%m-%d %H:00} {self.model}"
