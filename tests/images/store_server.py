"""The PostgreSQL journal store's server in tests and benchmarks: the collection's PostgreSQL 15 test image.

One container per test session (or benchmark run), its port published on 127.0.0.1 only; each test gets a
database of its own (``new_database``), so records of different tests never meet.
"""

from __future__ import annotations

import secrets
import subprocess
import time

IMAGE = "ssot-pg:15"


def _docker(*args, check=True):
    return subprocess.run(["docker", *args], check=check, text=True, capture_output=True)


class StoreServer:
    def __init__(self, name: str | None = None, password: str | None = None):
        self.name = name or f"ssot-store-{secrets.token_hex(4)}"
        self.password = password or f"Store-{secrets.token_urlsafe(12)}"
        self.port = None

    def start(self) -> "StoreServer":
        """Start the container, or attach to the one of this name already running (started by an earlier process
        of the same test session: ansible-test units runs each test in a forked child)."""
        running = _docker("inspect", "-f", "{{.State.Running}}", self.name, check=False)
        if running.returncode == 0 and running.stdout.strip() == "true":
            proc = running
        else:
            proc = _docker("run", "-d", "--name", self.name, "-p", "127.0.0.1::5432", "-e",
                           f"POSTGRES_PASSWORD={self.password}", IMAGE, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"cannot start the store's server ({IMAGE}): {proc.stderr.strip()}. "
                               "Build the image with `make image`.")
        self.port = int(_docker("port", self.name, "5432/tcp").stdout.split(":")[-1])
        deadline = time.time() + 60
        while time.time() < deadline:
            ready = _docker("exec", self.name, "pg_isready", "-h", "127.0.0.1", "-U", "postgres", "-q", check=False)
            if ready.returncode == 0:
                return self
            time.sleep(0.5)
        raise RuntimeError(f"the store's server {self.name} did not start: {_docker('logs', self.name).stderr[-2000:]}")

    def dsn(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} dbname={database} user=postgres password={self.password}"

    def sql(self, query: str, database: str = "postgres") -> str:
        """Run SQL as the image's superuser, inside the container (the test's own hand, not the recorder's)."""
        return _docker("exec", self.name, "psql", "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1",
                       "-Atc", query).stdout.strip()

    def new_database(self) -> str:
        name = f"store_{secrets.token_hex(4)}"
        self.sql(f"CREATE DATABASE {name}")
        return name

    def stop(self) -> None:
        _docker("rm", "-f", "-v", self.name, check=False)
