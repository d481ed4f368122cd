#!/usr/bin/env python3
"""Demo only: record, in <workspace>/approvals.yml, the approval a named human would give.

Reads the pending decisions about settings from runbook.json and appends one entry per
decision choosing option A (fix: bring the server to the SSOT). In real work the approver
writes this entry (the failed run prints it ready to paste) or answers at the terminal.

Usage: demo_approve.py WORKSPACE [--by NAME]
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import yaml


def approve(workspace: Path, by: str) -> list[str]:
    runbook = json.loads((workspace / "runbook.json").read_text(encoding="utf-8"))
    pending = [d for d in runbook.get("decisions", [])
               if d.get("status") == "pending" and d["id"].startswith("validate.setting.")]
    path = workspace / "approvals.yml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    doc = doc if isinstance(doc, dict) else {"approvals": []}
    doc.setdefault("approvals", [])
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for d in pending:
        doc["approvals"].append({"decision": d["id"], "option": "fix", "approved_by": by, "approved_at": now,
                                 "reason": "demonstração: trazer o servidor ao SSOT", "ssot_digest": d["ssot_digest"]})
    if pending:
        path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return [d["id"] for d in pending]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--by", default="Operador da demonstração")
    args = ap.parse_args(argv)
    ids = approve(args.workspace.resolve(), args.by)
    for i in ids:
        print(f"demo: aprovação registrada em approvals.yml por '{args.by}': {i} -> opção A (fix)")
    if not ids:
        print("demo: nenhuma decisão de parâmetro pendente")
    return 0


if __name__ == "__main__":
    sys.exit(main())
