"""Real servers for the event store's tests, on 127.0.0.1 in temp folders: PostgreSQL and a mosquitto broker.

with postgres_server() as server:          # initdb -A trust, pg_ctl start (as the postgres user when root)
    url = server.new_database("t1")         # postgresql+psycopg://postgres@127.0.0.1:PORT/t1
with mosquitto_broker() as port: ...        # mosquitto -p PORT

A missing server binary skips the test locally and fails it under CI=true (.ci/run installs both).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def missing(reason: str) -> None:
    """Skip, or fail under CI=true, for a server this machine lacks."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " (required when CI=true)")
    pytest.skip(reason)


def _wait_for_port(port: int, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {START_TIMEOUT_S} s")


@dataclass
class PostgresServer:
    port: int
    run_as: list[str]
    bin: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self, name: str) -> str:
        """A fresh, empty database on this server; its URL."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}"')
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of its own: `initdb -A trust` into a temp folder (not pytest's: the postgres user cannot
    enter a root-only folder) and `pg_ctl start` on 127.0.0.1 with its socket there; as the postgres user when this
    process is root (the server refuses root); stopped and removed after."""
    bin_ = _postgres_bin()
    if bin_ is None:
        missing("PostgreSQL is not installed (Debian's postgresql package: /usr/lib/postgresql/*/bin)")
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="vad-test-postgres-"))
    if run_as:
        shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "text": True, "timeout": START_TIMEOUT_S}
    user = ["-U", "postgres"]
    subprocess.run([*run_as, str(bin_ / "initdb"), "-A", "trust", *user, "-D", str(data)], check=True, **quiet)
    options = f"-h 127.0.0.1 -p {port} -k {folder}"
    ctl = [*run_as, str(bin_ / "pg_ctl"), "-D", str(data), "-l", str(folder / "log")]
    subprocess.run([*ctl, "-w", "-o", options, "start"], check=True, **quiet)
    try:
        _wait_for_port(port)
        yield PostgresServer(port, run_as, bin_)
    finally:
        subprocess.run([*ctl, "-m", "immediate", "-w", "stop"], check=False, **quiet)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def mosquitto_broker() -> Iterator[int]:
    """`mosquitto -p PORT` (Debian's mosquitto), stopped after; yields the port."""
    binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
    if binary is None:
        missing("mosquitto is not installed (Debian's mosquitto package)")
    port = free_port()
    process = subprocess.Popen([binary, "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, process)
        yield port
    finally:
        process.terminate()
        process.wait(10)
