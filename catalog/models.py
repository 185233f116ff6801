"""The public model catalog: providers, models, hosts (model x provider), price versions, aliases.

Prices are integer micro-dollars per million tokens (micro-$/Mtok) and live in `PriceVersion`
rows, so a receipt that names a `price_version_id` keeps meaning after a price change.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone


class Capability(models.TextChoices):
    TOOLS = "tools", "Tools"
    VISION = "vision", "Vision"
    REASONING = "reasoning", "Reasoning"
    JSON_SCHEMA = "json_schema", "JSON schema"
    PROMPT_CACHING = "prompt_caching", "Prompt caching"


class Provider(models.Model):
    class Protocol(models.TextChoices):
        OPENAI = "openai", "OpenAI-compatible"
        ANTHROPIC = "anthropic", "Anthropic Messages"
        BEDROCK = "bedrock", "Bedrock Converse / InvokeModel"
        VERTEX_ANTHROPIC = "vertex-anthropic", "Claude on Vertex AI"
        VERTEX_OPENAI = "vertex-openai", "Vertex AI OpenAI-compatible"
        DEMO = "demo", "qlaud's built-in demo (in-process)"

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    protocol = models.CharField(max_length=30, choices=Protocol.choices)
    base_url = models.CharField(max_length=300)  # may hold {region} / {account_id} placeholders
    # Credentials: the name of an environment variable, or a Fernet token (see catalog.crypto).
    api_key_env = models.CharField(max_length=100, blank=True)
    api_key_encrypted = models.TextField(blank=True, editable=False)
    via_cloudflare = models.BooleanField(default=False)
    # With CLOUDFLARE_AIG_ACCOUNT_ID / CLOUDFLARE_AIG_GATEWAY set, every provider AI Gateway supports
    # goes through it unless opted out here (`setprovider SLUG --no-aig`); see Provider.through_aig.
    aig_opt_out = models.BooleanField("never through Cloudflare AI Gateway", default=False)
    cf_segment = models.CharField("Cloudflare AI Gateway path segment", max_length=40, blank=True)
    enabled = models.BooleanField(default=True)
    config = models.JSONField(default=dict, blank=True)  # region, project, account id...
    website = models.URLField(blank=True)
    pricing_url = models.URLField(blank=True)
    # The host the live-board probes call (gateway/probes.py): one per provider, named in catalog.yaml
    # (`probe: <model id>`), a cheap and quick model of this provider.
    probe_host = models.ForeignKey("Host", models.SET_NULL, null=True, blank=True, related_name="+")
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def through_aig(self, aig_on: bool) -> bool:
        """Whether calls go through Cloudflare AI Gateway: the one switch, unless opted out."""
        if self.aig_opt_out:
            return False
        return self.via_cloudflare or (aig_on and bool(self.cf_segment))


class Model(models.Model):
    public_id = models.CharField(max_length=100, unique=True)  # e.g. deepseek-flash, claude-sonnet-5
    name = models.CharField(max_length=200)
    family = models.CharField(max_length=60, blank=True)
    author = models.CharField(max_length=60, blank=True)  # who trained it: owned_by in /v1/models
    context_length = models.PositiveIntegerField()
    capabilities = models.JSONField(default=list, blank=True)  # list of Capability values
    description = models.TextField(blank=True)
    created = models.DateField(default=timezone.localdate)  # release date
    enabled = models.BooleanField(default=True)
    # Named in the error a client gets when every host of this model is retired.
    replacement = models.ForeignKey("self", models.SET_NULL, null=True, blank=True, related_name="+")
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["public_id"]

    def __str__(self) -> str:
        return self.public_id


class Host(models.Model):
    """One model served by one provider."""

    model = models.ForeignKey(Model, models.CASCADE, related_name="hosts")
    provider = models.ForeignKey(Provider, models.CASCADE, related_name="hosts")
    upstream_model = models.CharField(max_length=200)
    price = models.ForeignKey(
        "PriceVersion", models.SET_NULL, null=True, blank=True, related_name="+", help_text="current price"
    )
    max_output_tokens = models.PositiveIntegerField(null=True, blank=True)
    context_length = models.PositiveIntegerField(null=True, blank=True)  # null: the model's
    # Seconds a stream may wait for its first event / between events (null: GATEWAY_*_TIMEOUT).
    first_byte_timeout = models.FloatField(null=True, blank=True)
    idle_timeout = models.FloatField(null=True, blank=True)
    quantization = models.CharField(max_length=20, blank=True)
    # Lower is tried first.
    priority = models.IntegerField(default=100)
    # Measured by `manage.py fidelity` (catalog/fidelity.py): {"checked": ..., "cases": {case: {"ok", "detail"}}}.
    fidelity = models.JSONField(default=dict, blank=True, editable=False)
    # Empty: the model's capabilities. Otherwise what this host really supports.
    capabilities = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    # Set by the catalog sync when the provider's own model list no longer names upstream_model:
    # routing skips the host at once; cleared if the model comes back.
    retired_at = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model__public_id", "priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["model", "provider", "upstream_model"], name="one_host_per_upstream_model")
        ]

    def __str__(self) -> str:
        return f"{self.model.public_id} @ {self.provider.slug}"


class PriceVersion(models.Model):
    """Upstream prices of one host from `valid_from` on. Rows are never edited, only added."""

    host = models.ForeignKey(Host, models.CASCADE, related_name="price_versions")
    input = models.BigIntegerField()  # micro-dollars per million tokens
    output = models.BigIntegerField()  # micro-dollars per million tokens
    cache_read = models.BigIntegerField(default=0)  # micro-dollars per million tokens
    cache_write = models.BigIntegerField(default=0)  # micro-dollars per million tokens
    # What the four prices above are called when other rates exist ("peak" beside DeepSeek's "off-peak").
    rate_name = models.CharField(max_length=40, default="standard")
    # Rates that replace the prices above by prompt size or time of day, first match wins (catalog/rates.py):
    # [{name, above, windows: [{days, from, to}], input, output, cache_read, cache_write, source, as_of}].
    rates = models.JSONField(default=list, blank=True)
    valid_from = models.DateTimeField(default=timezone.now)
    source = models.URLField(max_length=300, blank=True)
    as_of = models.DateField(null=True, blank=True)  # when the source was read
    verified = models.BooleanField(default=True)
    note = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["host", "-valid_from"]

    def __str__(self) -> str:
        return f"{self.host} from {self.valid_from:%Y-%m-%d}"

    def same_prices(self, other: dict[str, Any]) -> bool:
        """`other`: the four prices, and optionally `rates` and `rate_name` (missing: none, "standard")."""
        if (self.rates or []) != other.get("rates", []) or self.rate_name != other.get("rate_name", "standard"):
            return False
        return all(getattr(self, k) == other.get(k, 0) for k in ("input", "output", "cache_read", "cache_write"))


class ModelAlias(models.Model):
    """A name one org uses for a catalog model (e.g. claude-opus-4-8 -> deepseek-flash)."""

    org = models.ForeignKey("accounts.Org", models.CASCADE, related_name="model_aliases")
    alias = models.CharField(max_length=100)
    model = models.ForeignKey(Model, models.CASCADE, related_name="aliases")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["alias"]
        constraints = [models.UniqueConstraint(fields=["org", "alias"], name="one_alias_name_per_org")]

    def __str__(self) -> str:
        return f"{self.alias} -> {self.model.public_id}"


class SyncReport(models.Model):
    """What one run of the catalog sync found for one provider (or the OpenRouter price check)."""

    class Status(models.TextChoices):
        OK = "ok", "OK"
        FAILED = "failed", "Failed (nothing changed)"
        SKIPPED = "skipped", "Skipped"

    PRICE_CHECK = "openrouter-prices"

    provider = models.ForeignKey(Provider, models.CASCADE, null=True, blank=True, related_name="sync_reports")
    kind = models.CharField(max_length=40, default="models")  # models | openrouter-prices
    status = models.CharField(max_length=10, choices=Status.choices)
    reason = models.TextField(blank=True)  # why it failed or was skipped
    upstream_count = models.PositiveIntegerField(default=0)
    retired = models.JSONField(default=list, blank=True)  # ["model @ provider (upstream id)", ...]
    restored = models.JSONField(default=list, blank=True)
    missing = models.JSONField(default=list, blank=True)  # upstream ids the catalog lacks, for staff to add
    price_diffs = models.JSONField(default=list, blank=True)  # [{host_id, host, ours, theirs, source}]
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.provider or self.kind} {self.status} {self.created:%Y-%m-%d %H:%M}"


class OrgCredential(models.Model):
    """An org's own key for one provider (BYOK), encrypted at rest like operator keys (catalog.crypto).

    Shown back only as its last four characters. Used only for requests of this org to this provider
    (catalog.byok, gateway.pipeline).
    """

    class Mode(models.TextChoices):
        MINE_FIRST = "mine_first", "Use mine first, fall back to qlaud's"
        ONLY_MINE = "only_mine", "Only mine"

    org = models.ForeignKey("accounts.Org", models.CASCADE, related_name="credentials")
    provider = models.ForeignKey(Provider, models.CASCADE, related_name="org_credentials")
    secret_encrypted = models.TextField(editable=False)
    mode = models.CharField(max_length=12, choices=Mode.choices, default=Mode.MINE_FIRST)
    last4 = models.CharField(max_length=4)
    # Not secret, shown beside last4: the region (Bedrock), or the service account's e-mail, project and region
    # (Vertex); empty for a plain key.
    label = models.CharField(max_length=300, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["provider__name"]
        constraints = [models.UniqueConstraint(fields=["org", "provider"], name="one_credential_per_org_provider")]

    def __str__(self) -> str:
        return f"{self.org_id} {self.provider_id} ...{self.last4}"


class ProbeSample(models.Model):
    """One probe of a provider's probe host (gateway/probes.py): a tiny streaming request qlaud sends itself,
    so the live board has figures without customer traffic. Kept apart from customer samples (RequestLog);
    its cost is paid by the house account (wallet.ledger.charge_probe), never by a customer.

    `probe_id` is `<host id>:<interval slot>`, claimed before the call: a second run in the same interval
    (a retried or overlapping task) finds it taken and sends nothing.
    """

    probe_id = models.CharField(max_length=64, unique=True)
    host = models.ForeignKey(Host, models.CASCADE, related_name="probes")
    provider = models.CharField(max_length=40)  # slug, as RequestLog.provider
    created = models.DateTimeField(default=timezone.now, db_index=True)
    ok = models.BooleanField(null=True)  # None: sent, no answer recorded yet
    ttft_ms = models.FloatField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(default=0)
    tokens_per_s = models.FloatField(null=True, blank=True)
    cost = models.BigIntegerField(default=0)  # micro-dollars, the upstream's price, charged to the house
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"probe {self.probe_id} {'ok' if self.ok else self.error or 'pending'}"
