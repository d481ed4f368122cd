from __future__ import annotations

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


@pytest.fixture(scope="session")
def store_server():
    """A real PostgreSQL 15 server (the collection's test image) for the postgresql journal store."""
    from ansible_collections.ssot.governance.tests.images.store_server import StoreServer

    server = StoreServer()
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()
