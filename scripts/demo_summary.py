#!/usr/bin/env python3
"""Print the short operator summary of the latest validation in a workspace.

Language: the SSOT's metadata.language (pt-BR by default), texts from messages/.
Usage: demo_summary.py WORKSPACE
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def catalog(language: str) -> dict:
    path = ROOT / "messages" / f"{language}.yml"
    if not path.exists():
        path = ROOT / "messages" / "pt-BR.yml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def latest_evidence(workspace: Path, container: str):
    found = sorted(workspace.glob(f"evidence/*/*-validate-{container}.json"), key=lambda p: (p.parent.name, p.name))
    return found[-1] if found else None


def summary(workspace: Path) -> str:
    ssot = yaml.safe_load((workspace / "ssot.yml").read_text(encoding="utf-8")) or {}
    msg = catalog(ssot.get("metadata", {}).get("language", "pt-BR"))
    target = ssot.get("target", {})
    ev = latest_evidence(workspace, target.get("container", ""))
    if ev is None:
        return msg["demo.summary.no_evidence"].format(workspace=workspace)
    data = json.loads(ev.read_text(encoding="utf-8"))
    runbook_path = workspace / "runbook.json"
    runbook = json.loads(runbook_path.read_text(encoding="utf-8")) if runbook_path.exists() else {}
    digest = (runbook.get("ssot") or {}).get("digest") or "?"
    port = (target.get("ports") or [{}])[0]
    endpoint = f"{port.get('bind', '127.0.0.1')}:{port.get('host', '?')}"

    def rel(p: Path) -> str:
        return str(p.relative_to(workspace.parent)) if p.is_relative_to(workspace.parent) else str(p)

    lines = [
        "== " + msg["demo.summary.title"] + " ==",
        msg["demo.summary.ssot"].format(path=rel(workspace / "ssot.yml"), digest=digest),
        msg["demo.summary.server"].format(container=target.get("container"), endpoint=endpoint,
                                          version=data["server_version"]),
        msg["demo.summary.read_only"].format(
            value=msg["word.yes"] if data["read_only_session"] else msg["word.no"]),
        msg["demo.summary.counts"].format(total=len(data["checks"]), matched=data["matched"],
                                          deviations=len(data["deviations"])),
    ]
    for c in data["checks"]:
        mark = "OK" if c["status"] == "match" else c["status"].upper()
        lines.append(msg["demo.summary.check"].format(mark=mark, id=c["id"], expected=c["expected"],
                                                      actual=c["actual"]))
    lines.append(msg["demo.summary.evidence"].format(log=rel(ev.with_suffix(".log")), json=rel(ev)))
    lines.append(msg["demo.summary.records"].format(runbook=rel(runbook_path),
                                                    panel=rel(workspace / "project-panel.json"),
                                                    journal=rel(workspace / "journal.jsonl")))
    lines.append(msg["demo.summary.deviations"] if data["deviations"] else msg["demo.summary.ok"])
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    print(summary(Path(sys.argv[1]).resolve()))
