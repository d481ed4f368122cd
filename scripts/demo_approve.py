"""Demo only: sign, with the demo approver's SSH key, the approvals a named human would give, and add them to
<workspace>/approvals.yml.

Reads the pending decisions of a kind from the journal - only lines whose chain holds and that a valid seal
covers, as the approve playbook does, never runbook.json - and appends one signed entry per decision choosing
the given option, through the same code as the approve playbook (the card digest and the environment bound into
the signature; plugin_utils/_approvals.py), so the file keeps its comments and other entries. In real work the
approver runs `ansible-playbook ssot.governance.approve -e ssot_workspace=<dir> -e decision=<id>` at a terminal,
which shows the decision card and asks for an explicit answer.

Usage: demo_approve.py WORKSPACE --key APPROVER_PRIVATE_KEY [--prefix validate.setting.] [--option fix] [--by P]
(the trust root is $SSOT_TRUST_ROOT, as for every run)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.ssot.governance.plugins.module_utils import _decisions, _sshsig, _ssot  # noqa: E402
from ansible_collections.ssot.governance.plugins.plugin_utils import (  # noqa: E402
    _approvals, _card, _store, _trust, _verified)


def approve(workspace: Path, key: Path, by: str, prefix: str, option: str, reason: str) -> list[str]:
    loaded = _ssot.load_valid(str(workspace / "ssot.yml"))
    lang = loaded["language"]
    rules = _trust.rules_for(loaded["ssot"], str(workspace), str(workspace), lang)
    if not rules.usable:
        raise SystemExit("demo_approve: %s" % rules.error)
    journal = _verified.Journal(str(workspace), rules, lang)
    latest = {}
    for line in journal.of_kind("decision"):
        if str(line["data"].get("id", "")).startswith(prefix):
            latest[line["data"]["id"]] = line["data"]
    environment = _store.namespace_of(str(workspace))
    blob = _sshsig.key_file_blob(str(key))
    done = []
    for d in latest.values():
        if d.get("status") != _decisions.PENDING or d.get("ssot_digest") != loaded["digest"]:
            continue
        host = d.get("host") or "localhost"
        base = {"decision": d["id"], "option": option, "environment": environment,
                "card": _card.digest(d, environment, host, lang), "ssot_digest": d["ssot_digest"]}
        entry = _approvals.new_entry(base, by, reason, rules.validity)
        _approvals.append(str(workspace / "approvals.yml"), _approvals.sign(entry, blob, str(key)), lang)
        done.append(d["id"])
    return done


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--key", type=Path, required=True)
    ap.add_argument("--by", default="ana.souza@demo.invalid")
    ap.add_argument("--prefix", default="validate.setting.")
    ap.add_argument("--option", default="fix")
    ap.add_argument("--reason", default="demonstração: trazer o servidor ao SSOT")
    args = ap.parse_args(argv)
    ids = approve(args.workspace.resolve(), args.key, args.by, args.prefix, args.option, args.reason)
    for i in ids:
        print(f"demo: aprovação assinada por '{args.by}' registrada em approvals.yml: {i} -> opção {args.option}")
    if not ids:
        print(f"demo: nenhuma decisão pendente {args.prefix}*")
    return 0


if __name__ == "__main__":
    sys.exit(main())
