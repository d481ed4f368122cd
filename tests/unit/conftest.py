from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def new_ssh_key():
    """Make an ed25519 key pair without a passphrase at ``path`` (``path.pub`` beside it), with real ssh-keygen."""
    def make(path: Path) -> Path:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)], check=True)
        return path
    return make


def pytest_configure(config):
    # Named here, in the test process itself: under ansible-test units every test runs in a forked child, which
    # sets up (and ends) session fixtures of its own. The children attach to one server; this process removes it.
    config.ssot_store = {"name": f"ssot-store-{secrets.token_hex(4)}", "password": secrets.token_urlsafe(16)}


def pytest_unconfigure(config):
    store = getattr(config, "ssot_store", None)
    if store:
        subprocess.run(["docker", "rm", "-f", "-v", store["name"]], capture_output=True, check=False)


@pytest.fixture(scope="session")
def store_server(pytestconfig):
    """A real PostgreSQL 15 server (the collection's test image) for the postgresql journal store, one per test
    process (removed when the process ends)."""
    from ansible_collections.ssot.governance.tests.images.store_server import StoreServer

    server = StoreServer(**pytestconfig.ssot_store)
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    return server
