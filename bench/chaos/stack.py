"""The drills' private world: a throwaway PostgreSQL cluster, a private redis-server, the controllable upstream
and qlaud under uvicorn with real workers. Every process here is ours; the drills stop, freeze and kill only
these PIDs, never the machine's shared PostgreSQL (5432) or Redis (6379)."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.servers import PYTHON, RESULTS, ROOT, base_env, free_port

PG_BIN = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]) if glob.glob("/usr/lib/postgresql/*/bin") else None
PG_DB = "chaos_test"
# Short enough for a drill: a dead worker's lease expires in 4 s, stalls end in 3 s / 2 s.
QLAUD_SETTINGS = {
    "DEBUG": "0",
    "WALLET_LEASE_TTL_SECONDS": "4",
    "GATEWAY_FIRST_BYTE_TIMEOUT": "3",
    "GATEWAY_IDLE_TIMEOUT": "2",
    "DB_CONN_HEALTH_CHECKS": "1",
}


def _as_postgres(*cmd: str) -> list[str]:
    """initdb and pg_ctl refuse root: run them as the postgres user when we are root."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else list(cmd)


class Postgres:
    """A throwaway cluster in a temp dir, on its own port and socket dir."""

    def __init__(self, port: int = 5441) -> None:
        if PG_BIN is None:
            raise RuntimeError("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="qlaud-chaos-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{PG_DB}"

    def init(self, template: Path | None = None) -> Postgres:
        """A new cluster, or a copy of `template` (a stopped cluster's data dir, already migrated)."""
        if template is not None:
            shutil.copytree(template, self.data)
            if os.geteuid() == 0:
                subprocess.run(["chown", "-R", "postgres:postgres", str(self.data)], check=True)
            self.start()
            return self
        initdb = str(PG_BIN / "initdb")
        subprocess.run(
            _as_postgres(initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"),
            check=True,
            capture_output=True,
        )
        self.start()
        subprocess.run(
            [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", PG_DB],
            check=True,
            capture_output=True,
        )
        return self

    def start(self) -> None:
        # fsync=off loses nothing when only the server process dies (the OS keeps its writes); asynchronous
        # commit would: an `immediate` stop would then drop commits qlaud was told had landed.
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        cmd = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"), "-o", options, "-w", "start"]
        subprocess.run(_as_postgres(*cmd), check=True, capture_output=True)

    def stop(self, mode: str = "immediate") -> None:
        cmd = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]
        subprocess.run(_as_postgres(*cmd), capture_output=True)

    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def destroy(self) -> None:
        if self.pid():
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    """A private redis-server: no persistence, its own port."""

    def __init__(self, port: int = 6391) -> None:
        self.port = port
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> Redis:
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port, 10)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a frozen server cannot handle SIGTERM
            self.proc.terminate()
            self.proc.wait(10)

    def freeze(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)


def _wait_port(port: int, timeout: float) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


def _wait_http(url: str, timeout: float, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited: see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 300:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout}s: see {log}")


class Proc:
    """A server process of ours with its log file."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], port: int, health: str, logdir: Path) -> None:
        self.name, self.port = name, port
        self.log = logdir / f"{name}.log"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_http(f"http://127.0.0.1:{port}{health}", 60, self.proc, self.log)
        except RuntimeError:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        """uvicorn's worker processes (children of the supervisor)."""
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True)
        pids = [int(p) for p in out.stdout.split()]
        return [p for p in pids if b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def _migrations_key() -> str:
    digest = hashlib.sha1()
    for path in sorted(ROOT.glob("*/migrations/*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


class World:
    """PostgreSQL + Redis (private), the upstream, and qlaud on demand."""

    def __init__(self, logdir: Path, pg_port: int = 5441, redis_port: int = 6391) -> None:
        self.logdir = logdir
        logdir.mkdir(parents=True, exist_ok=True)
        self.pg = Postgres(pg_port)
        self.redis = Redis(redis_port)
        self.upstream: Proc | None = None
        self.qlaud: Proc | None = None

    def env(self) -> dict[str, str]:
        return base_env(
            DJANGO_SETTINGS_MODULE="qlaud.settings",
            DATABASE_URL=self.pg.url,
            REDIS_URL=self.redis.url,
            CACHE_PREFIX="chaos",
            **QLAUD_SETTINGS,
        )

    def up(self) -> World:
        # Migrating a new database takes 40 s or more: keep a migrated cluster per migration set and copy it.
        template = RESULTS / f"chaos-pg-{_migrations_key()}"
        self.pg.init(template if template.exists() else None)
        self.redis.start()
        port = free_port()
        cmd = [
            PYTHON,
            "-m",
            "uvicorn",
            "bench.chaos.upstream:app",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        self.upstream = Proc("upstream", cmd, base_env(), port, "/_stats", self.logdir)
        self.world("setup", "--upstream", self.upstream.url)
        if not template.exists():
            self.pg.stop("fast")
            shutil.copytree(self.pg.data, template)
            self.pg.start()
        return self

    def world(self, *args: str) -> dict:
        out = subprocess.run(
            [PYTHON, "-m", "bench.chaos.world", *args],
            env=self.env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if out.returncode:
            raise RuntimeError(f"bench.chaos.world {args[0]} failed: {out.stderr[-2000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    def start_qlaud(self, workers: int = 2) -> Proc:
        port = free_port()
        cmd = [
            PYTHON,
            "-m",
            "uvicorn",
            "qlaud.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--lifespan",
            "on",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        self.qlaud = Proc("qlaud", cmd, self.env(), port, "/v1/status", self.logdir)
        return self.qlaud

    def control(self, host: str, **conf: object) -> None:
        assert self.upstream is not None
        query = "&".join(f"{k}={v}" for k, v in conf.items())
        urllib.request.urlopen(urllib.request.Request(f"{self.upstream.url}/_control/{host}?{query}", method="POST"))

    def upstream_calls(self) -> dict[str, dict[str, int]]:
        assert self.upstream is not None
        with urllib.request.urlopen(f"{self.upstream.url}/_stats") as response:
            return json.loads(response.read())

    def down(self) -> None:
        for proc in (self.qlaud, self.upstream):
            if proc is not None:
                proc.stop()
        self.redis.stop()
        self.pg.destroy()
