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


def policy(digest, now, *, lang="pt-BR", approvers=(), run_identities=(), separation_of_duties=False, validity="7d",
           signers=(), require_signatures=False, accounts=None, environment="ws", extra_var_approvals=False,
           root=True):
    """A controller Policy as a change builds it, from a trust root (``signers``: parsed allowed-signers lines) and
    the SSOT's hitl rules - without reading any file."""
    from ansible_collections.ssot.governance.plugins.plugin_utils import _policy, _trust
    hitl = {"approvers": list(approvers), "approval_validity": validity, "separation_of_duties": separation_of_duties,
            "extra_var_approvals": extra_var_approvals}
    trust = _trust.Root("/etc/ssot-governance/trust.yml", list(signers), require_signatures, False,
                        dict(accounts or {})) if root else None
    rules = _trust.Rules(trust, {"hitl": hitl}, "/nonexistent", lang)
    if not root:
        rules.error = "no root"
    built = _policy.Policy(rules, digest, environment, lang, run_identities=list(run_identities), now=now)
    return built


def resolve(decision, entries, now, host="localhost", **kw):
    """``decision`` resolved against ``entries`` by a policy made with ``policy(**kw)``."""
    built = policy(decision["ssot_digest"], now, **kw)
    built.approvals = list(entries)
    return built.resolve(decision, host)
