"""Demo only: sign, with the demo approver's SSH key, the approval a named human would give, and add
it to <workspace>/approvals.yml.

Reads the pending decisions about settings from runbook.json and appends one signed entry per
decision choosing option A (fix: bring the server to the SSOT), through the same code as the
approve playbook (plugin_utils/_approvals.py), so the file keeps its comments and other entries.
In real work the approver runs `ansible-playbook ssot.governance.approve -e ssot_workspace=<dir>
-e decision=<id>` at a terminal, which shows the decision card and asks for an explicit answer.

Usage: demo_approve.py WORKSPACE --key APPROVER_PRIVATE_KEY [--by PRINCIPAL]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.ssot.governance.plugins.module_utils import _sshsig  # noqa: E402
from ansible_collections.ssot.governance.plugins.plugin_utils import _approvals  # noqa: E402


def approve(workspace: Path, key: Path, by: str) -> list[str]:
    runbook = json.loads((workspace / "runbook.json").read_text(encoding="utf-8"))
    pending = [d for d in runbook.get("decisions", [])
               if d.get("status") == "pending" and d["id"].startswith("validate.setting.")]
    blob = _sshsig.key_file_blob(str(key))
    for d in pending:
        entry = _approvals.new_entry(d, "fix", by, "demonstração: trazer o servidor ao SSOT", "7d")
        _approvals.append(str(workspace / "approvals.yml"), _approvals.sign(entry, blob, str(key)))
    return [d["id"] for d in pending]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--key", type=Path, required=True)
    ap.add_argument("--by", default="ana.souza@demo.invalid")
    args = ap.parse_args(argv)
    ids = approve(args.workspace.resolve(), args.key, args.by)
    for i in ids:
        print(f"demo: aprovação assinada por '{args.by}' registrada em approvals.yml: {i} -> opção A (fix)")
    if not ids:
        print("demo: nenhuma decisão de parâmetro pendente")
    return 0


if __name__ == "__main__":
    sys.exit(main())
