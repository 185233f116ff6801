"""API keys: mint, verify (the gateway's hot path), revoke.

A key is `ak_` + 40 characters of [A-Za-z0-9]. Only `prefix` (its first 12 characters after
`ak_`, unique and indexed) and `hashed` = HMAC-SHA256(API_KEY_SECRET, key) are stored.

Verification keeps a per-process cache (prefix -> context and hash) so a hit costs one dict
lookup, one HMAC and one read of a shared *epoch* token. Every revocation (and every change to
a key) replaces the epoch with a fresh random token; a worker whose cached entries carry another
epoch drops them and reads the database again. The epoch lives in Redis when REDIS_URL is set
(read with a native `redis.asyncio` client: no thread hop; at most once per KEY_EPOCH_MAX_AGE_MS,
so a revocation reaches every other worker within that, 50 ms by default, and the revoking
process at once) and otherwise in a file shared by the server and `manage.py` commands
(`lib.shared_state.FileValue`, read with one `os.stat` at most once per KEY_EPOCH_MAX_AGE_MS). If
the shared epoch is lost (Redis restarted) a new random one is created, which also invalidates
every cache: the design fails closed.

The database is the truth; the epoch only says "re-read it". So a revocation is durable when Redis
is down: a bump that fails is remembered and retried (by a retry thread, the renewer thread and
the next request of the process, and by the Celery task `accounts.tasks.land_key_changes`, which
bumps whenever a key was revoked after the epoch's last bump), and a worker that cannot read the
epoch (Redis unreachable for longer than KEY_EPOCH_MAX_AGE_MS) stops trusting its cache: it checks
every key against the database on every request until it reads the epoch again, and then starts
with an empty cache.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import string
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings
from django.core.signals import setting_changed
from django.db import transaction
from django.db.models import Max
from django.dispatch import receiver
from django.utils import timezone

from lib import shared_state
from lib.redis_client import async_redis
from lib.threads import in_pool

if TYPE_CHECKING:
    from accounts.models import ApiKey, Org, User

log = logging.getLogger(__name__)

KEY_PREFIX = "ak_"
MANAGEMENT_KEY_PREFIX = "mk_"  # management keys (accounts.management_keys): never valid on the model API
KEY_BODY_LENGTH = 40
PREFIX_LENGTH = 12
KEY_LENGTH = len(KEY_PREFIX) + KEY_BODY_LENGTH
ALPHABET = string.ascii_letters + string.digits
_ALPHABET_SET = frozenset(ALPHABET)
# Cached entries are re-read after this long even without an epoch change (belt and braces).
ENTRY_TTL_SECONDS = 300.0
MAX_ENTRIES = 20_000
USAGE_FLUSH_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class KeyContext:
    key_id: int
    org_id: int
    user_id: int | None
    name: str
    prefix: str
    spend_limit: int | None  # micro-dollars per period
    limit_period: str  # day | week | month | never
    allowed_models: tuple[str, ...]  # empty = all
    rpm_limit: int | None
    concurrency_limit: int | None
    expires_at: datetime | None
    auto_cache: bool = True  # the org lets qlaud place prompt-cache breakpoints for Claude hosts


MANAGEMENT_KEY_ON_MODEL_API = (
    "This is a management key (mk_...): it works only on the management API at /api/v1/ and cannot call models. "
    "Use an API key (ak_...)."
)


class KeyRefused(Exception):
    """The key is missing, malformed, unknown, wrong, revoked or expired (-> 401)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- Minting and hashing ---------------------------------------------------------------


def generate_raw_key() -> str:
    return KEY_PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(KEY_BODY_LENGTH))


def hash_key(raw: str) -> str:
    # hmac.digest: OpenSSL's one-shot HMAC, several times cheaper than building an hmac object.
    return hmac.digest(settings.API_KEY_SECRET.encode(), raw.encode(), "sha256").hex()


def prefix_of(raw: str) -> str:
    return raw[len(KEY_PREFIX) : len(KEY_PREFIX) + PREFIX_LENGTH]


def mint_key(org: Org, user: User | None, name: str, **limits: Any) -> tuple[ApiKey, str]:
    """Create a key and return it with the raw secret, which is never stored nor shown again."""
    from accounts.models import ApiKey

    raw = generate_raw_key()
    key = ApiKey.objects.create(
        org=org, created_by=user, name=name, prefix=prefix_of(raw), hashed=hash_key(raw), **limits
    )
    return key, raw


PLAYGROUND_KEY_NAME = "playground"
PLAYGROUND_KEY_TTL = timedelta(hours=2)
# A key this close to its expiry is not handed out again: a conversation should not die mid-way.
PLAYGROUND_KEY_MIN_LEFT = timedelta(minutes=15)


def mint_playground_key(org: Org, user: User) -> tuple[ApiKey, str]:
    """A short-lived key for the dashboard's playground, named so that it reads as one in the key list."""
    name = f"{PLAYGROUND_KEY_NAME} ({user.email})"[:100]
    return mint_key(org, user, name, expires_at=timezone.now() + PLAYGROUND_KEY_TTL)


def playground_key_usable(key_id: int, raw: str, org: Org, user: User) -> bool:
    """Whether a playground key remembered in the session may be reused: same org and user, not revoked,
    not near its expiry, and the raw secret still the one minted for it."""
    from accounts.models import ApiKey

    fresh_until = timezone.now() + PLAYGROUND_KEY_MIN_LEFT
    return ApiKey.objects.filter(
        pk=key_id, org=org, created_by=user, prefix=prefix_of(raw), revoked_at__isnull=True, expires_at__gt=fresh_until
    ).exists()


def update_key(key: ApiKey, **fields: Any) -> ApiKey:
    """Change a key's name, limits or expiry; every worker drops its cached copy."""
    from accounts.models import ApiKey

    allowed = {"name", "spend_limit", "limit_period", "allowed_models", "rpm_limit", "concurrency_limit", "expires_at"}
    if not set(fields) <= allowed:
        raise ValueError(f"not an editable key field: {sorted(set(fields) - allowed)}")
    for name, value in fields.items():
        setattr(key, name, value)
    ApiKey.objects.filter(pk=key.pk).update(**fields)
    keys_changed()
    return key


def revoke_key(key: ApiKey) -> None:
    """Revoke now, on every worker: the row is marked and the shared epoch replaced."""
    from accounts.models import ApiKey

    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=key.revoked_at)
    keys_changed()


def keys_changed() -> None:
    """Invalidate every worker's key cache (after any change to keys, e.g. limits edited). Never
    fails: a bump that cannot land now is retried until it does (the database is the truth)."""
    _epoch_store().bump()
    # Inside a transaction a worker could re-cache the old row before the commit; bump again after it.
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _epoch_store().bump())


# --- Reading the key from a request ------------------------------------------------------


def raw_key_from_headers(headers: Mapping[str, str]) -> str | None:
    """`x-api-key: K` or `Authorization: Bearer K`; header names in any case."""
    api_key = bearer = None
    for name, value in headers.items():
        lowered = name.lower()
        if lowered == "x-api-key":
            api_key = value.strip()
        elif lowered == "authorization":
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() == "bearer":
                bearer = token.strip()
    return api_key or bearer or None


# --- The shared epoch -------------------------------------------------------------------


class EpochStore(Protocol):
    async def current(self) -> str:
        """The shared epoch; raises when it cannot be read (the verifier then fails closed)."""
        ...

    def bump(self) -> None: ...


class FileEpochStore:
    """The epoch in a file shared by every process of an embedded deployment (no Redis): the server
    of `make run` sees a key revoked by a `manage.py` command within KEY_EPOCH_MAX_AGE_MS."""

    def __init__(self, file: shared_state.FileValue) -> None:
        self.file = file
        self._value = ""
        self._read_at = -1e9

    async def current(self) -> str:
        now = time.monotonic()
        if now - self._read_at >= settings.KEY_EPOCH_MAX_AGE_MS / 1000:
            self._value = self.file.read_or_start(lambda: secrets.token_hex(8))
            self._read_at = now
        return self._value

    def bump(self) -> None:
        self.file.write(secrets.token_hex(8))
        self._read_at = -1e9  # this process sees its own change at once


class LocalEpochStore:
    """The epoch for a single process (no Redis): a plain attribute."""

    def __init__(self) -> None:
        self.value = secrets.token_hex(8)

    async def current(self) -> str:
        return self.value

    def bump(self) -> None:
        self.value = secrets.token_hex(8)


class RedisEpochStore:
    """The epoch in Redis, shared by every worker. One async client per event loop for the reads a
    request waits for; under traffic a renewer thread keeps the copy fresh so that none waits."""

    # The renewer thread stops after this long without a request (and starts again on the next one).
    RENEWER_IDLE_SECONDS = 5.0

    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.name = name
        self._sync: Any = None
        self._value = ""
        self._read_at = -1e9
        self._lock = threading.Lock()  # a renewal and a bump never interleave
        self._bumps = 0
        self._renewer: threading.Thread | None = None
        self._wanted = 0.0  # when a request last asked
        self.pending_bump = False  # a bump that has not reached Redis yet: retried until it does
        self._retrier: threading.Thread | None = None

    def _client(self) -> Any:
        return async_redis(self.url)

    def sync_client(self) -> Any:
        if self._sync is None:
            import redis

            self._sync = redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)
        return self._sync

    async def current(self) -> str:
        now = time.monotonic()
        self._wanted = now
        max_age = settings.KEY_EPOCH_MAX_AGE_MS / 1000
        if self.pending_bump:
            self._keep_retrying()  # the request that finds one waiting makes sure a retrier runs
        if self._value and now - self._read_at < max_age:
            self._keep_renewing()
            return self._value
        # One read at a time: requests arriving meanwhile keep the current value until it lands.
        read_at, self._read_at = self._read_at, now
        try:
            client = self._client()
            value = await client.get(self.name)
            if value is None:
                # Lost (Redis restarted or evicted): start a new epoch so every cache is dropped.
                await client.set(self.name, secrets.token_hex(8), nx=True)
                value = await client.get(self.name)
        except BaseException:
            self._read_at = read_at
            raise
        self._value = value.decode() if value is not None else ""
        return self._value

    def _keep_renewing(self) -> None:
        """Under traffic a thread renews the copy every quarter of its max age, so it never expires
        and no request waits for Redis. A request that found it expired used to wait for the read:
        every 50 ms, behind a saturated event loop (several turns for one redis-py read), that was
        most of the gateway's slowest 1% of requests. The thread's blocking reads release the GIL
        and need no turn of the loop. Without traffic it stops; the next request reads itself."""
        renewer = self._renewer
        if renewer is None or not renewer.is_alive():
            with self._lock:
                if self._renewer is renewer:
                    self._renewer = threading.Thread(target=self._renew_while_wanted, name="qlaud-epoch", daemon=True)
                    self._renewer.start()

    def _renew_while_wanted(self) -> None:
        while time.monotonic() - self._wanted < self.RENEWER_IDLE_SECONDS:
            self.renew()
            time.sleep(settings.KEY_EPOCH_MAX_AGE_MS / 4000)

    def renew(self) -> None:
        """Read the epoch into the copy (the renewer thread's step); land a pending bump first."""
        if self.pending_bump and not self.land_pending_bump():
            return
        started, bumps = time.monotonic(), self._bumps
        try:
            value = self.sync_client().get(self.name)
        except Exception:  # the copy expires and the next request reads (and reports) it itself
            log.warning("could not renew the key epoch", exc_info=True)
            return
        with self._lock:
            # Dropped if this process bumped the epoch meanwhile (the read may predate the bump), if
            # a newer read landed, or if the epoch is gone (the next request starts a new one).
            if value is not None and bumps == self._bumps and self._read_at < started:
                self._value = value.decode()
                self._read_at = started  # after the value: a reader never sees a new time on an old value

    def bump(self) -> None:
        """Replace the epoch. If Redis cannot be reached the bump is kept pending and retried (by a
        retry thread, the renewer and this process's next request) until it lands."""
        with self._lock:
            self._bumps += 1
            self._read_at = -1e9  # this process sees its own change at once
        self.pending_bump = True
        if not self.land_pending_bump():
            self._keep_retrying()

    def land_pending_bump(self) -> bool:
        """Try the pending bump once; True when there is none left."""
        if not self.pending_bump:
            return True
        try:
            with self.sync_client().pipeline(transaction=True) as pipe:
                pipe.set(self.name, secrets.token_hex(8))
                pipe.set(self.name + ":bumped-at", repr(time.time()))
                pipe.execute()
        except Exception:
            log.warning("could not bump the key epoch; retrying until it lands", exc_info=True)
            return False
        self.pending_bump = False
        with self._lock:
            self._read_at = -1e9
        return True

    RETRY_SECONDS = 0.2

    def _keep_retrying(self) -> None:
        retrier = self._retrier
        if retrier is None or not retrier.is_alive():
            self._retrier = threading.Thread(target=self._retry_until_landed, name="qlaud-epoch-bump", daemon=True)
            self._retrier.start()

    def _retry_until_landed(self) -> None:
        while not self.land_pending_bump():
            time.sleep(self.RETRY_SECONDS)

    def bumped_at(self) -> float | None:
        """When the epoch was last bumped (wall clock), if known."""
        value = self.sync_client().get(self.name + ":bumped-at")
        return float(value) if value is not None else None


# --- Verification -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    context: KeyContext | None  # None: no such prefix (negative cache)
    hashed: str
    revoked: bool
    epoch: str
    loaded_at: float


class KeyVerifier:
    """A per-process cache of keys, validated against the shared epoch on every call."""

    def __init__(self, store: EpochStore, *, ttl: float = ENTRY_TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self.store = store
        self.ttl = ttl
        self.max_entries = max_entries
        self.entries: dict[str, _Entry] = {}
        self.epoch = ""

    async def verify(self, raw: str) -> KeyContext:
        if isinstance(raw, str) and raw.startswith(MANAGEMENT_KEY_PREFIX):
            raise KeyRefused(MANAGEMENT_KEY_ON_MODEL_API)
        if not _well_formed(raw):
            raise KeyRefused("Invalid API key.")
        try:
            epoch = await self.store.current()
        except Exception:
            # The epoch cannot be read, so a revocation could be missed: trust no cached key. Every
            # request is checked against the database (the truth) until the epoch is back, and the
            # cache starts empty then ("" is never an epoch).
            log.warning("key epoch unreachable: checking keys against the database", exc_info=True)
            self.entries.clear()
            self.epoch = ""
            return _check(await in_pool(_entry_from_db)(prefix_of(raw), ""), raw)
        if epoch != self.epoch:
            self.entries.clear()
            self.epoch = epoch
        prefix = prefix_of(raw)
        entry = self.entries.get(prefix)
        if entry is None or time.monotonic() - entry.loaded_at > self.ttl:
            entry = await self._load(prefix, epoch)
        return _check(entry, raw)

    async def _load(self, prefix: str, epoch: str) -> _Entry:
        entry = await in_pool(_entry_from_db)(prefix, epoch)
        if len(self.entries) >= self.max_entries:
            self.entries.clear()
        # The epoch read before the database read tags the entry, so a revocation committed
        # meanwhile still invalidates it on the next call.
        if epoch == self.epoch:
            self.entries[prefix] = entry
        return entry


def _well_formed(raw: str) -> bool:
    return (
        isinstance(raw, str)
        and len(raw) == KEY_LENGTH
        and raw.startswith(KEY_PREFIX)
        and _ALPHABET_SET.issuperset(raw[len(KEY_PREFIX) :])
    )


def _entry_from_db(prefix: str, epoch: str) -> _Entry:
    from accounts.models import ApiKey

    key = ApiKey.objects.select_related("org").filter(prefix=prefix).first()
    now = time.monotonic()
    if key is None:
        return _Entry(context=None, hashed="", revoked=False, epoch=epoch, loaded_at=now)
    return _Entry(
        context=context_of(key), hashed=key.hashed, revoked=key.revoked_at is not None, epoch=epoch, loaded_at=now
    )


def context_of(key: ApiKey) -> KeyContext:
    return KeyContext(
        key_id=key.pk,
        org_id=key.org_id,
        user_id=key.created_by_id,
        name=key.name,
        prefix=key.prefix,
        spend_limit=key.spend_limit,
        limit_period=key.limit_period,
        allowed_models=tuple(key.allowed_models or ()),
        rpm_limit=key.rpm_limit,
        concurrency_limit=key.concurrency_limit,
        expires_at=key.expires_at,
        auto_cache=key.org.auto_cache,
    )


def _check(entry: _Entry, raw: str) -> KeyContext:
    # Hash even for an unknown prefix so timing does not tell the two apart.
    digest = hash_key(raw)
    if entry.context is None or not hmac.compare_digest(digest, entry.hashed):
        raise KeyRefused("Invalid API key.")
    if entry.revoked:
        raise KeyRefused("This API key has been revoked.")
    expires_at = entry.context.expires_at
    if expires_at is not None and expires_at <= timezone.now():
        raise KeyRefused("This API key has expired.")
    note_used(entry.context.key_id)
    return entry.context


_verifier: KeyVerifier | None = None
_store: EpochStore | None = None


def _epoch_store() -> EpochStore:
    global _store
    if _store is None:
        _store = shared_state.choose_store(
            lambda: FileEpochStore(shared_state.file_value("key-epoch")),
            lambda url, prefix: RedisEpochStore(url, f"{prefix}:accounts:key-epoch"),
        )
    return _store


def _get_verifier() -> KeyVerifier:
    global _verifier
    if _verifier is None:
        _verifier = KeyVerifier(_epoch_store())
    return _verifier


def land_key_changes() -> bool:
    """Bump the epoch if a key was revoked after its last bump (a bump lost with the process that
    failed to make it). The Celery task `accounts.tasks.land_key_changes` runs this every minute."""
    from accounts.models import ApiKey

    store = _epoch_store()
    if not isinstance(store, RedisEpochStore):
        return False  # a file epoch is bumped with the revocation itself, or the command fails
    latest = ApiKey.objects.aggregate(latest=Max("revoked_at"))["latest"]
    if latest is None:
        return False
    bumped = store.bumped_at()
    if bumped is not None and bumped >= latest.timestamp():
        return False
    store.bump()
    return True


async def verify_key(raw: str) -> KeyContext:
    """The KeyContext of a valid key, or KeyRefused. No database write; no query on a cache hit."""
    return await _get_verifier().verify(raw)


@receiver(setting_changed)
def _reset_on_settings_change(*, setting: str, **kwargs: Any) -> None:
    global _verifier, _store
    if setting in ("REDIS_URL", "CACHES", "API_KEY_SECRET", "SHARED_STATE_DIR"):
        _verifier = _store = None


# --- last_used_at, batched off the hot path ------------------------------------------------

_used: set[int] = set()
_last_flush = time.monotonic()
_flush_tasks: set[asyncio.Task[None]] = set()


def note_used(key_id: int) -> None:
    """Remember a use; at most every USAGE_FLUSH_SECONDS one UPDATE writes them all, in the background."""
    global _last_flush
    _used.add(key_id)
    if time.monotonic() - _last_flush < USAGE_FLUSH_SECONDS:
        return
    _last_flush = time.monotonic()
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        flush_usage()
        return
    task = loop.create_task(in_pool(flush_usage)())
    _flush_tasks.add(task)
    task.add_done_callback(_flush_tasks.discard)


def flush_usage() -> int:
    """Write last_used_at for every key noted since the last flush; returns how many keys."""
    from accounts.models import ApiKey

    ids = list(_used)
    _used.difference_update(ids)
    if not ids:
        return 0
    try:
        return ApiKey.objects.filter(pk__in=ids).update(last_used_at=timezone.now())
    except Exception:  # a failed bookkeeping write must never fail a request
        log.exception("could not record API key use")
        return 0
