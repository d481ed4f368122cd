"""What a collection maintainer checks before a release: the tarball holds runtime content only, galaxy.yml points into
the repository's own pages, and the changelog has the release galaxy.yml names, with CHANGELOG.rst generated from it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile

import pytest
import yaml

from ansible_collections.ssot.governance.tests.unit._tools import ROOT, tool

GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text())
# Top-level entries of the tarball: what runs, what users read, the schemas they check an SSOT with.
RUNTIME = {"MANIFEST.json", "FILES.json", "README.md", "LICENSE", "CHANGELOG.rst", "bindep.txt", "changelogs", "docs",
           "examples", "meta", "playbooks", "plugins", "roles", "schemas", "agent", "skills"}
DEVELOPMENT = re.compile(r"(^|/)(tests|bench|scripts|messages|demo-workspace|__pycache__|\.[a-z].*)(/|$)|\.pyc$|"
                         r"^(Makefile|pytest\.ini|CONTRIBUTING\.md|requirements-dev\..*)$|^changelogs/(?!changelog\.yaml$)")


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    out = tmp_path_factory.mktemp("tarball")
    env = {k: v for k, v in os.environ.items() if k != "ANSIBLE_COLLECTIONS_PATH"}
    proc = subprocess.run([tool("ansible-galaxy"), "collection", "build", "--force", "--output-path", str(out), str(ROOT)],
                          capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    (tarball,) = out.glob("ssot-governance-*.tar.gz")
    with tarfile.open(tarball) as tar:
        return [m.name for m in tar.getmembers()]


def test_the_tarball_holds_runtime_content_only(members):
    assert {name.split("/")[0] for name in members} <= RUNTIME
    assert [name for name in members if DEVELOPMENT.search(name)] == []
    # ... and what the collection needs to run is there.
    for needed in ("plugins/module_utils/_messages.py", "plugins/module_utils/_schemas.py", "meta/runtime.yml",
                   "meta/ee-requirements.txt", "playbooks/validate.yml", "roles/ssot/vars/main.yml", "LICENSE",
                   "CHANGELOG.rst", "changelogs/changelog.yaml", "agent/server.py", "skills/ssot-governance/SKILL.md"):
        assert needed in members, needed


def test_the_development_check_catches_a_development_file():
    for name in ("tests/unit/test_x.py", "plugins/modules/__pycache__/a.cpython-311.pyc", "Makefile", "bench/a.py",
                 "changelogs/fragments/20-x.yml", "requirements-dev.txt", ".gitignore", "scripts/generate.py"):
        assert DEVELOPMENT.search(name), name
    assert not DEVELOPMENT.search("plugins/modules/pg_check.py")


def test_galaxy_points_into_the_repository_pages():
    repository = GALAXY["repository"].rstrip("/")
    assert repository.startswith("https://") and "example" not in repository
    assert GALAXY["issues"] == repository + "/issues"
    for key in ("documentation", "homepage"):
        url = GALAXY[key]
        assert url.startswith(repository + "/"), key
        path = re.sub(r"^(tree|blob)/main/", "", url[len(repository) + 1:])
        assert (ROOT / path).exists(), f"galaxy.yml {key} names {path}, not in the repository"
    assert GALAXY["license"] == ["GPL-3.0-or-later"] and "GNU GENERAL PUBLIC LICENSE" in (ROOT / "LICENSE").read_text()
    for name, requirement in GALAXY["dependencies"].items():
        assert ">=" in requirement and "<" in requirement.replace("<=", ""), f"{name}: {requirement} has no upper bound"


def test_the_changelog_has_the_release_galaxy_names():
    changes = yaml.safe_load((ROOT / "changelogs" / "changelog.yaml").read_text())
    release = changes["releases"][GALAXY["version"]]
    assert release["changes"]["release_summary"].strip()
    assert release["release_date"]


def test_changelog_rst_is_generated_from_the_changelog(tmp_path):
    copy = tmp_path / "ansible_collections" / "ssot" / "governance"
    copy.mkdir(parents=True)
    for name in ("galaxy.yml", "changelogs", "CHANGELOG.rst"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, copy / name)
    proc = subprocess.run([tool("antsibull-changelog"), "generate"], cwd=copy, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert (copy / "CHANGELOG.rst").read_text() == (ROOT / "CHANGELOG.rst").read_text(), \
        "CHANGELOG.rst is not what antsibull-changelog generates: run antsibull-changelog generate"
