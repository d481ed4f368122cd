"""The execution environment: what the collection declares for ansible-builder, and the build context that
`ansible-builder create` writes for the example EE definition (examples/awx). No image is built: no base image can be
pulled here (docs/awx.md)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from ansible_collections.ssot.governance.tests.unit._tools import ROOT, tool
AWX = ROOT / "examples" / "awx"


def run(*args, cwd=None):
    # Without the suite's collections path: ansible-galaxy would find this collection there and install nothing.
    env = {k: v for k, v in os.environ.items() if k != "ANSIBLE_COLLECTIONS_PATH"}
    proc = subprocess.run([str(a) for a in args], cwd=cwd, text=True, capture_output=True, env=env, check=False)
    assert proc.returncode == 0, f"{args[:3]}: {proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc.stdout


def declared(path: Path) -> list[str]:
    return [line.split("#")[0].strip() for line in path.read_text().splitlines() if line.split("#")[0].strip()]


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    run(tool("ansible-galaxy"), "collection", "build", "--force", "--output-path", out, ROOT)
    found = list(out.glob("ssot-governance-*.tar.gz"))
    assert len(found) == 1
    return found[0]


def test_the_collection_declares_ranges_and_system_packages_only():
    meta = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())
    assert meta["dependencies"] == {"python": "meta/ee-requirements.txt", "system": "bindep.txt"}
    python = declared(ROOT / "meta" / "ee-requirements.txt")
    assert {re.split(r"[<>=!]", p)[0] for p in python} == {"jsonschema", "psycopg2-binary", "requests"}
    for requirement in python:
        assert "==" not in requirement and ">=" in requirement and "<" in requirement, requirement
    system = declared(ROOT / "bindep.txt")
    assert "postgresql-client [platform:dpkg]" in system and "openssh-client [platform:dpkg]" in system
    # The development pins live out of the way of ansible-builder's defaults (requirements.txt at the root).
    assert not (ROOT / "requirements.txt").exists()
    assert "ansible-builder==" in (ROOT / "requirements-dev.txt").read_text()


def test_introspect_finds_the_collection_dependencies_and_nothing_of_development(tarball, tmp_path):
    """What an EE build's introspect step sees once the collection is installed from its tarball."""
    run(tool("ansible-galaxy"), "collection", "install", "--force", "--no-deps", "-p", tmp_path / "collections",
        tarball)
    assert (tmp_path / "collections" / "ansible_collections" / "ssot" / "governance" / "meta" /
            "ee-requirements.txt").is_file(), "the tarball was not installed"
    out = yaml.safe_load(run(tool("ansible-builder"), "introspect", "--sanitize", tmp_path / "collections"))
    python = sorted(p.split("#")[0].strip() for p in out["python"])
    assert python == sorted(declared(ROOT / "meta" / "ee-requirements.txt"))
    system = [s.split("#")[0].strip() for s in out["system"]]
    assert system == declared(ROOT / "bindep.txt")
    flat = " ".join(python + system)
    for dev in ("pytest", "ansible-lint", "hypothesis", "pexpect", "=="):
        assert dev not in flat


def test_ansible_builder_create_writes_a_context_that_installs_this_collection(tarball, tmp_path):
    for name in ("execution-environment.yml", "ee-collections.yml"):
        (tmp_path / name).write_bytes((AWX / name).read_bytes())
    (tmp_path / tarball.name).write_bytes(tarball.read_bytes())
    run(tool("ansible-builder"), "create", "-f", "execution-environment.yml", "-c", "context",
        "--output-filename", "Containerfile", cwd=tmp_path)
    context = tmp_path / "context"
    containerfile = (context / "Containerfile").read_text()
    definition = yaml.safe_load((AWX / "execution-environment.yml").read_text())
    assert f'ARG EE_BASE_IMAGE="{definition["images"]["base_image"]["name"]}"' in containerfile
    assert "ansible-core>=2.19,<2.20" in containerfile and "ansible-runner>=2.4,<3" in containerfile
    # The collection is installed from the context, then its declared dependencies are introspected and installed.
    assert "ansible-galaxy collection install" in containerfile and "-r requirements.yml" in containerfile
    assert "introspect.py introspect" in containerfile and "install-from-bindep" in containerfile
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    names = [c["name"] for c in galaxy["collections"]]
    assert f"collections/{tarball.name}" in names and {"community.docker", "community.postgresql"} <= set(names)
    copied = context / "_build" / "collections" / tarball.name
    assert copied.read_bytes() == tarball.read_bytes()
    assert (context / "_build" / "scripts" / "introspect.py").is_file()
