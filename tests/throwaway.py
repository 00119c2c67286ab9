"""Servers of a test's own, on free ports: a PostgreSQL cluster, a Redis, and the site
under gunicorn. The shared servers on 127.0.0.1 (5432, 6379) serve other runs too and are
never stopped; a test that restarts a server restarts one of these."""

import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, *, timeout: float, every: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise TimeoutError(f"{what} not reached within {timeout} s")


def checked(command: list, *, input: str | None = None) -> subprocess.CompletedProcess:
    """Run ``command``; if it fails, the error says what it printed."""
    done = subprocess.run(
        [str(part) for part in command], input=input, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, command))} exited {done.returncode}: {done.stderr[-2000:]}"
        )
    return done


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries installed (Debian's layout), if any."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    return Path(found[-1]).parent if found else None


class Postgres:
    """A PostgreSQL cluster in a temporary directory: trust auth, one free port.

    initdb refuses to run as root, so as root the cluster belongs to the ``postgres``
    system user (Debian's package creates it)."""

    def __init__(self, bin_dir: Path):
        self.bin = bin_dir
        self.port = free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="prm-pg-"))
        self.data = self.tmp / "data"
        self.as_user = []
        if os.geteuid() == 0:
            shutil.chown(self.tmp, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run(
            "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"
        )
        # No fsync: the data dies with the test; a fast shutdown is what is tested.
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.tmp}'\nfsync = off\n"
                "synchronous_commit = off\nfull_page_writes = off\n"
            )

    def _run(self, tool: str, *args):
        return checked([*self.as_user, self.bin / tool, *map(str, args)])

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/prm"

    def start(self):
        self._run("pg_ctl", "-D", self.data, "-l", self.tmp / "log", "-w", "-t", "120", "start")

    def stop(self):
        """A fast shutdown: open sessions are cut and their transactions rolled back."""
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "120", "stop")

    def load_from(self, source_url: str):
        """The source database (schema and rows) copied into a new database ``prm``."""
        self._run("createdb", "-h", "127.0.0.1", "-p", self.port, "-U", "postgres", "prm")
        dump = checked([self.bin / "pg_dump", "--no-owner", "--no-privileges", source_url])
        checked([self.bin / "psql", "-q", "-v", "ON_ERROR_STOP=1", self.url], input=dump.stdout)

    def destroy(self):
        with contextlib.suppress(RuntimeError):  # already down
            self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


class Redis:
    """redis-server on a free port, in memory only."""

    def __init__(self):
        self.port = free_port()
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.ping, timeout=20, what="redis-server up")

    def ping(self) -> bool:
        import redis

        try:
            return redis.Redis(port=self.port, socket_connect_timeout=0.5).ping()
        except redis.exceptions.ConnectionError:
            return False

    def stop(self):
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)
            self.process = None


class Site:
    """The site under gunicorn (development settings with DEBUG off), on a free port."""

    def __init__(self, env: dict, *, workers: int = 2, threads: int = 4):
        self.port = free_port()
        fd, self.log_path = tempfile.mkstemp(prefix="prm-site-", suffix=".log")
        self.log = os.fdopen(fd, "w")
        environment = {k: v for k, v in os.environ.items() if not k.startswith("TEST_")}
        environment.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        environment.update(
            DJANGO_SETTINGS_MODULE="prm.settings.local",
            DEBUG="0",
            ALLOWED_HOSTS="127.0.0.1",
            LOG_LEVEL="ERROR",
            **env,
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "prm.wsgi:application"]
            + ["--bind", f"127.0.0.1:{self.port}", "--workers", str(workers)]
            + ["--threads", str(threads), "--timeout", "60", "--graceful-timeout", "5"],
            cwd=ROOT,
            env=environment,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self._up, timeout=120, what="gunicorn answering /healthz/")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _up(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(Path(self.log_path).read_text())
        try:
            return self.request("GET", "/healthz/")[0] == 200
        except OSError:
            return False

    def request(self, method: str, path: str, *, body=None, token=None, timeout: float = 30):
        """(status, parsed JSON or text, seconds taken)."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Token {token}"
        request = urllib.request.Request(
            self.base + path, data=data, headers=headers, method=method
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        text = raw.decode(errors="replace")
        try:
            payload = json.loads(text)
        except ValueError:
            payload = text
        return status, payload, time.monotonic() - started

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        Path(self.log_path).unlink(missing_ok=True)
