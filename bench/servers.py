"""What every benchmark mode starts: paths, the server processes (`Server`) and qlaud's environment and
database. bench/run.py (the throughput modes) and bench/streams.py (the open-streams mode) both build on it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = str(ROOT / ".venv" / "bin" / "python")
PG_DB = "h_bedrock_bench"
REDIS_URL = "redis://127.0.0.1:6379"
UVICORN = ["-m", "uvicorn", "--host", "127.0.0.1", "--no-access-log", "--log-level", "warning"]
UVICORN_FAST = ["--loop", "uvloop", "--http", "httptools"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    name: str
    cmd: list[str]
    env: dict[str, str]
    health: str = ""  # a GET path answering 2xx once the server is up
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    headers: list[str] = field(default_factory=list)
    log: Path | None = None
    cwd: Path = ROOT  # another checkout for the baseline target (`--baseline`)
    db_name: str = PG_DB  # whose PostgreSQL backends count as this server's +PG

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> Server:
        cmd = [c.replace("{port}", str(self.port)) for c in self.cmd]
        self.log = RESULTS / f"{self.name}.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: see {self.log}")
            if self._up():
                return self
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start in {timeout}s: see {self.log}")

    def _up(self) -> bool:
        try:
            if not self.health:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return True
            with urllib.request.urlopen(self.url + self.health, timeout=2) as response:
                return response.status < 300
        except OSError:
            return False

    def headers_args(self) -> list[str]:
        return [arg for header in self.headers for arg in ("--header", header)]

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def minimal_server(upstream: str) -> Server:
    """bench/minimal_proxy.py: an HTTP pass-through on qlaud's stack (uvicorn, httpx over aiohttp), nothing else."""
    cmd = [PYTHON, *UVICORN, *UVICORN_FAST, "--port", "{port}", "bench.minimal_proxy:app"]
    return Server("minimal", cmd, base_env(BENCH_UPSTREAM=upstream))


def tcp_relay_server(upstream_port: int) -> Server:
    """bench/tcp_relay.py: bytes relayed on uvloop, no HTTP at all."""
    cmd = [PYTHON, "-m", "bench.tcp_relay", "--port", "{port}", "--upstream-port", str(upstream_port)]
    return Server("tcp-relay", cmd, base_env())


def base_env(root: Path = ROOT, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "LITELLM"))}
    env.update(PYTHONPATH=str(root), **extra)
    return env


def db_name(root: Path = ROOT) -> str:
    """The baseline checkout gets a database of its own: its migrations are not this tree's."""
    return PG_DB if root == ROOT else f"{PG_DB}_base"


def qlaud_env(db: str, transport: str, root: Path = ROOT) -> dict[str, str]:
    env = base_env(root, DJANGO_SETTINGS_MODULE="qlaud.settings", DEBUG="0", GATEWAY_HTTP_TRANSPORT=transport)
    name = db_name(root)
    if db == "postgres":
        env.update(DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{name}", REDIS_URL=REDIS_URL, CACHE_PREFIX=name)
    else:
        env["DATABASE_URL"] = f"sqlite:///{RESULTS / name}.sqlite3"
    return env


def qlaud_server(
    name: str, db: str, transport: str, key: str, root: Path = ROOT, probe: dict[str, str] | None = None
) -> Server:
    """qlaud from this tree or, for `--baseline`, from another checkout run on this tree's venv.

    `probe` (QLAUD_MEMPROBE_DIR, QLAUD_TRACEMALLOC): the same server under bench.memprobe, which dumps what the
    worker holds on SIGUSR2 (the open-streams mode's `--stream-memory`)."""
    uvicorn = ["-m", "bench.memprobe", *UVICORN[2:]] if probe else UVICORN
    cmd = [PYTHON, *uvicorn, *UVICORN_FAST, "--lifespan", "on", "--port", "{port}", "qlaud.asgi:application"]
    env = qlaud_env(db, transport, root)
    if probe:
        env.update(probe, PYTHONPATH=f"{root}{os.pathsep}{ROOT}")  # bench.memprobe comes from this tree
    server = Server(name, cmd, env, health="/v1/status", cwd=root, db_name=db_name(root))
    server.headers = [f"authorization: Bearer {key}"]
    return server


def postgres_ready() -> bool:
    try:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            for name in (PG_DB, f"{PG_DB}_base"):
                if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                    conn.execute(f'CREATE DATABASE "{name}"')
        return True
    except Exception as exc:  # no server, no psycopg: fall back to SQLite
        print(f"PostgreSQL unavailable ({exc}); qlaud runs on SQLite", file=sys.stderr)
        return False
