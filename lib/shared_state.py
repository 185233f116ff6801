"""State shared by every worker: in Redis when REDIS_URL is set, else in this process's memory
or, for what other processes must see, in files.

Without Redis one server process serves every request, so a dict in memory is shared by everyone
who needs to see it (host health, rate limits). But `manage.py` commands run beside it (`make run`
plus `setprovider`, `loadcatalog`, a key revoked from a shell): what they change must reach the
server too. Those few values (the API-key epoch, the catalog version) live in small files under
`settings.SHARED_STATE_DIR` (`FileValue`: atomic replace on write; a read is one `os.stat` while
the file is unchanged), which every process of one checkout shares as it shares the database.

Each user supplies its stores; `choose_store` makes the one choice between them, on the cache's
Redis database, under the cache's key prefix.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from django.conf import settings

from lib.redis_client import redis_db

L = TypeVar("L")
S = TypeVar("S")

SHARED_STATE_DB = 2  # the cache's database: flushing the cache forgets shared state too


def key_prefix() -> str:
    return settings.CACHES["default"].get("KEY_PREFIX") or "qlaud"


def redis_url() -> str:
    """The shared-state Redis URL, or "" when there is no Redis."""
    return redis_db(settings.REDIS_URL, SHARED_STATE_DB) if settings.REDIS_URL else ""


def choose_store(local: Callable[[], L], shared: Callable[[str, str], S]) -> L | S:
    """`shared(redis_url, key_prefix)` when REDIS_URL is set, else `local()`."""
    url = redis_url()
    return shared(url, key_prefix()) if url else local()


# --- embedded mode: small values in files every process of the checkout shares ------------------


def shared_dir() -> Path:
    return Path(settings.SHARED_STATE_DIR)


class FileValue:
    """One short string in a file, shared by every process that names the same file.

    `read()` costs one `os.stat` while the file is unchanged (its content is kept with the stat it
    was read under); `write()` replaces the file atomically, so a reader sees the old value or the
    new one, never half of one.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int, int] | None = None  # (inode, mtime_ns, size) of the content held
        self._value: str | None = None
        self._lock = threading.Lock()

    def read(self) -> str | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        seen = (st.st_ino, st.st_mtime_ns, st.st_size)
        if seen != self._seen:
            try:
                value = self.path.read_text()
            except FileNotFoundError:
                return None
            with self._lock:
                self._seen, self._value = seen, value
        return self._value

    def write(self, value: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        tmp.write_text(value)
        os.replace(tmp, self.path)  # atomic; a new inode, so readers notice even within one mtime tick

    def read_or_start(self, first: Callable[[], str]) -> str:
        """The value, or `first()` written if there is none yet (a lost race reads the winner's)."""
        value = self.read()
        if value is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as f:
                    f.write(first())
            value = self.read()
        return value or ""


_files: dict[Path, FileValue] = {}


def file_value(name: str) -> FileValue:
    """The shared file for `name` under this deployment's key prefix (tests get their own); one
    FileValue per file per process, so its memo of the last read is kept."""
    path = shared_dir() / re.sub(r"[^A-Za-z0-9_.-]", "_", f"{key_prefix()}.{name}")
    found = _files.get(path)
    if found is None:
        found = _files[path] = FileValue(path)
    return found
