# Copyright (c) ssot.governance maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run ``ansible-test`` on this collection from a machine that reaches only the package registries.

    scripts/ansible_test.py sanity --venv --python 3.11     # what `make sanity` runs
    scripts/ansible_test.py units --venv --requirements --python 3.11   # what `make units` runs
    scripts/ansible_test.py bootstrap                        # only write the pip bootstrap (make setup does)

ansible-test wants two things this checkout does not give as is:

1. The collection at ``.../ansible_collections/ssot/governance``. The repository's ``.collections`` link does not do:
   ansible-test finds the collection from the real working directory, which a symlink does not change. So the files
   git knows about (tracked, and new files not ignored) are copied to a temporary
   ``ansible_collections/ssot/governance``, ansible-test runs there, and its ``tests/output/`` comes back to this
   checkout's ``tests/output/``.
2. For ``--venv`` (and every sanity test, which always runs in a virtual environment ansible-test makes), a pip
   bootstrap script it downloads from ci-files.testing.ansible.com, which this machine cannot reach. ansible-test
   reads it from its cache first (``~/.ansible/test/cache/get_pip_<version>.py``, the path its error message names),
   so this writes one there made from pip's own wheel, taken from the package index. The packages ansible-test then
   installs into its virtual environments come from the package index as usual, at the versions ansible-test pins.

Anything after the command is passed to ansible-test unchanged; the exit status is ansible-test's. Once the bootstrap
is written (``make setup`` writes it), plain ``ansible-test ... --venv`` works too, from any copy of the collection at
``ansible_collections/ssot/governance``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What ansible-test writes under tests/output/ (the rest of that folder is this project's own test output).
ANSIBLE_TEST_OUTPUT = ("bot", "junit", "data", "coverage", "reports")

BOOTSTRAP = '''\
# Written by ssot.governance's scripts/ansible_test.py: ansible-test's pip bootstrap, made from pip's wheel.
# Takes the arguments get-pip.py takes (pip install options and requirements, --no-setuptools, --no-wheel).
import sys

sys.path.insert(0, {wheel!r})
from pip._internal.cli.main import main  # noqa: E402

args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install", "--upgrade", "--force-reinstall", {wheel!r}] + [arg for arg in args if not arg.startswith("pip==")]))
'''


def fail(text: str) -> None:
    print(f"ansible_test.py: {text}", file=sys.stderr)
    sys.exit(2)


def ansible_test_bin() -> Path:
    found = Path(sys.executable).parent / "ansible-test"
    if not found.exists():
        fail(f"no ansible-test beside {sys.executable}; run it with the project's virtualenv (make setup)")
    return found


def pip_version() -> str:
    """The pip version ansible-test bootstraps into its virtual environments (``get_venv_packages``)."""
    probe = (
        "from ansible_test._internal.python_requirements import get_venv_packages\n"
        "from ansible_test._internal.host_configs import NativePythonConfig\n"
        "import sys\n"
        "print(get_venv_packages(NativePythonConfig(version='%d.%d' % sys.version_info[:2], path=sys.executable))['pip'])"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        fail(f"could not ask ansible-test which pip it bootstraps: {done.stderr.strip()[-400:]}")
    return done.stdout.strip()


def ensure_bootstrap() -> None:
    version = pip_version()
    cache = Path.home() / ".ansible" / "test" / "cache"
    script = cache / f"get_pip_{version.replace('.', '_')}.py"
    wheels = cache / "pip-wheels"
    wheel = next(iter(sorted(wheels.glob(f"pip-{version}-*.whl"))), None)
    if wheel is None:
        wheels.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
             "--only-binary", ":all:", "-d", str(wheels), f"pip=={version}"],
            capture_output=True, text=True, check=False,
        )
        if done.returncode != 0:
            fail(f"could not download pip {version}'s wheel from the package index for ansible-test's bootstrap: "
                 f"{done.stderr.strip()[-400:]}")
        wheel = next(iter(sorted(wheels.glob(f"pip-{version}-*.whl"))), None)
        if wheel is None:
            fail(f"pip {version}'s wheel did not arrive in {wheels}")
    text = BOOTSTRAP.format(wheel=str(wheel))
    ours = not script.exists() or script.read_text().startswith(BOOTSTRAP.split("\n", maxsplit=1)[0])
    if ours and (not script.exists() or script.read_text() != text):
        script.write_text(text)  # one that ansible-test downloaded itself (where it can) is left as it is


def collection_files() -> list[str]:
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True, check=True,
    ).stdout.decode().split("\0")
    return [name for name in listed if name and (ROOT / name).is_file()]


def copy_collection(dest: Path) -> None:
    for name in collection_files():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target, follow_symlinks=False)


def main(argv: list[str]) -> int:
    if not argv:
        fail("usage: scripts/ansible_test.py <sanity|units|...> [ansible-test options]")
    binary = ansible_test_bin()
    if argv == ["bootstrap"]:
        ensure_bootstrap()
        return 0
    if "--venv" in argv or argv[0] == "sanity":
        ensure_bootstrap()
    with tempfile.TemporaryDirectory(prefix="ssot-ansible-test-") as tmp:
        copy = Path(tmp) / "ansible_collections" / "ssot" / "governance"
        copy_collection(copy)
        env = dict(os.environ)
        env.pop("ANSIBLE_COLLECTIONS_PATH", None)  # ansible-test sets its own: the copy's root
        code = subprocess.run([str(binary), *argv], cwd=copy, env=env, check=False).returncode
        produced = copy / "tests" / "output"
        for name in ANSIBLE_TEST_OUTPUT:  # this run's results only, never mixed with an earlier run's
            kept = ROOT / "tests" / "output" / name
            if kept.is_dir():
                shutil.rmtree(kept)
            if (produced / name).is_dir():
                shutil.copytree(produced / name, kept)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
