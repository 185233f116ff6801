from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone


class EmailUserManager(UserManager):
    def create_user(self, email: str, password: str | None = None, **extra):  # type: ignore[override]
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra):  # type: ignore[override]
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractUser):
    """A person. Signs in with an email address; belongs to one or more orgs."""

    username = None  # type: ignore[assignment]
    email = models.EmailField(unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []
    objects = EmailUserManager()  # type: ignore[misc]

    def __str__(self) -> str:
        return self.email


class Org(models.Model):
    """The tenant. Owns the wallet, the API keys and the usage."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60, unique=True)
    personal = models.BooleanField(default=False)
    created = models.DateTimeField(default=timezone.now)
    # Let qlaud mark prompt-cache breakpoints for Claude hosts when a request sets none (docs/prompt-caching.md).
    auto_cache = models.BooleanField(
        "automatic prompt caching",
        default=True,
        help_text="Mark the stable prefix of Claude requests that set no cache_control, so repeated prompts are "
        "read from the cache at a tenth of the input price.",
    )

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"
        ADMIN = "admin"
        MEMBER = "member"

    org = models.ForeignKey(Org, models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "user"], name="one_membership_per_user_and_org")]

    @property
    def is_manager(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.ADMIN)


class ApiKeyQuerySet(models.QuerySet):
    def visible_to(self, membership: Membership) -> ApiKeyQuerySet:
        """Owners and admins see every key of the org, members only the keys they created."""
        keys = self.filter(org_id=membership.org_id)
        return keys if membership.is_manager else keys.filter(created_by_id=membership.user_id)


class ApiKey(models.Model):
    """An `ak_...` key. Only a lookup prefix and an HMAC of the whole key are stored."""

    class Period(models.TextChoices):
        DAY = "day"
        WEEK = "week"
        MONTH = "month"
        NEVER = "never"

    org = models.ForeignKey(Org, models.CASCADE, related_name="api_keys")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    hashed = models.CharField(max_length=64)
    # Spend limit in micro-dollars per period; null means no limit.
    spend_limit = models.BigIntegerField(null=True, blank=True)
    limit_period = models.CharField(max_length=5, choices=Period.choices, default=Period.NEVER)
    allowed_models = models.JSONField(default=list, blank=True)
    rpm_limit = models.PositiveIntegerField(null=True, blank=True)
    concurrency_limit = models.PositiveIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    objects = ApiKeyQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def display_prefix(self) -> str:
        return f"ak_{self.prefix}…"

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"

    @property
    def is_active(self) -> bool:
        return self.status == "active"


class ManagementKey(models.Model):
    """An `mk_...` key for the management API (/api/v1/): one org, read or read-write, never models.

    Stored like ApiKey (prefix + HMAC). It acts with its creator's current role in the org, so a
    creator who is demoted or leaves takes the key's powers down with them.
    """

    class Scope(models.TextChoices):
        READ = "read"
        WRITE = "write"

    org = models.ForeignKey(Org, models.CASCADE, related_name="management_keys")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    hashed = models.CharField(max_length=64)
    scope = models.CharField(max_length=5, choices=Scope.choices, default=Scope.READ)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name} (mk_{self.prefix}…)"

    @property
    def display_prefix(self) -> str:
        return f"mk_{self.prefix}…"

    @property
    def status(self) -> str:
        return "revoked" if self.revoked_at is not None else "active"


class Invitation(models.Model):
    """An emailed invitation to join an org. The link carries a signed token (see accounts.orgs)."""

    org = models.ForeignKey(Org, models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Membership.Role.choices, default=Membership.Role.MEMBER)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["org", "email"])]

    def __str__(self) -> str:
        return f"{self.email} -> {self.org}"
