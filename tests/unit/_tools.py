"""Where the unit tests find the collection and the ansible command-line tools, under `make unit` (pytest.ini) as under
`ansible-test units` (a copy placed at ansible_collections/ssot/governance, tools on ansible-test's PATH)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The folder holding ansible_collections/ssot/governance: the checkout's own .collections link, or the tree
# ansible-test runs in.
COLLECTIONS = ROOT.parents[2] if ROOT.parent.parent.name == "ansible_collections" else ROOT / ".collections"


def tool(name: str) -> str:
    """The path of an ansible command-line tool: beside this Python (the project's virtualenv), else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"{name} is neither beside {sys.executable} nor on PATH"
    return found
