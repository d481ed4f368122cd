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
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.ssot.governance.plugins.module_utils._text import message  # noqa: E402


class Catalog:
    """msg["key"] -> the text; msg.format("key", **params) fills its placeholders (shared helper)."""

    def __init__(self, language):
        self.language = language

    def __getitem__(self, code):
        return message(self.language, code)

    def format(self, code, **params):
        return message(self.language, code, **params)


def catalog(language: str) -> Catalog:
    return Catalog(language)


def latest_evidence(workspace: Path, container: str):
    found = sorted(workspace.glob(f"evidence/*/*-validate-{container}.json"), key=lambda p: (p.parent.name, p.name))
    return found[-1] if found else None


def summary(workspace: Path) -> str:
    ssot = yaml.safe_load((workspace / "ssot.yml").read_text(encoding="utf-8")) or {}
    msg = catalog(ssot.get("metadata", {}).get("language", "pt-BR"))
    target = ssot.get("target", {})
    ev = latest_evidence(workspace, target.get("container", ""))
    if ev is None:
        return msg.format("demo.summary.no_evidence", workspace=workspace)
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
        msg.format("demo.summary.ssot", path=rel(workspace / "ssot.yml"), digest=digest),
        msg.format("demo.summary.server", container=target.get("container"), endpoint=endpoint,
                   version=data["server_version"]),
        msg.format("demo.summary.read_only",
                   value=msg["word.yes"] if data["read_only_session"] else msg["word.no"]),
        msg.format("demo.summary.counts", total=len(data["checks"]), matched=data["matched"],
                   deviations=len(data["deviations"])),
    ]
    for c in data["checks"]:
        mark = "OK" if c["status"] == "match" else c["status"].upper()
        lines.append(msg.format("demo.summary.check", mark=mark, id=c["id"], expected=c["expected"],
                                actual=c["actual"]))
    lines.append(msg.format("demo.summary.evidence", log=rel(ev.with_suffix(".log")), json=rel(ev)))
    lines.append(msg.format("demo.summary.records", runbook=rel(runbook_path),
                            panel=rel(workspace / "project-panel.json"),
                            journal=rel(workspace / "journal.jsonl")))
    logs = sorted((workspace / "logs").glob("*.log"))
    if (workspace / "project-panel.html").exists() and logs:
        lines.append(msg.format("demo.summary.people", page=rel(workspace / "project-panel.html"),
                                checklist=rel(workspace / "homologacao-conectividade-ssot.md"), log=rel(logs[-1])))
    lines.extend(phases(workspace, runbook, msg))
    lines.extend(ingest_lines(workspace, msg, rel))
    lines.extend(snapshot_lines(workspace, msg, rel))
    findings = [f for f in data.get("findings", []) if f["severity"] != "info"]
    if findings:
        lines.append(msg.format("demo.summary.findings", count=len(findings)))
        lines.extend("  [%s] %s" % (f["severity"].upper(), f["title"]) for f in findings)
    for d in runbook.get("decisions", []):
        if d.get("answer"):
            lines.append(msg.format("demo.summary.decision", id=d["id"], status=msg["decision.status." + d["status"]],
                                    by=d["answer"]["by"], option=d["answer"]["option"],
                                    signature=msg.format("decision.signed", key=d["answer"]["key"])
                                    if d["answer"].get("key") else msg["decision.unsigned"]))
    pending = [d["id"] for d in runbook.get("decisions", []) if d.get("status") != "approved"]
    if pending:
        lines.append(msg.format("demo.summary.pending", ids=", ".join(pending)))
    lines.append(msg["demo.summary.deviations"] if data["deviations"] else msg["demo.summary.ok"])
    return "\n".join(lines)


def snapshot_lines(workspace: Path, msg: Catalog, rel) -> list[str]:
    """The newest snapshot and the newest restore test, when the demo took them."""
    manifests = sorted(workspace.glob("snapshots/*/manifest.json"))
    if not manifests:
        return []
    manifest = json.loads(manifests[-1].read_text(encoding="utf-8"))
    lines = [msg.format("demo.summary.snapshot", path=rel(manifests[-1].parent), files=len(manifest["files"]))]
    tests = sorted(workspace.glob("evidence/*/*-restore-test.json"), key=lambda p: (p.parent.name, p.name))
    if tests:
        result = json.loads(tests[-1].read_text(encoding="utf-8"))
        lines.append(msg.format("demo.summary.restore", tables=len(result["comparisons"]),
                                mismatches=len(result["mismatches"])))
    return lines


def ingest_lines(workspace: Path, msg: Catalog, rel) -> list[str]:
    """The newest ingestion: each database loaded and how its tables compare with the source."""
    loads = sorted(workspace.glob("evidence/*/*-ingest-load.json"), key=lambda p: (p.parent.name, p.name))
    if not loads:
        return []
    result = json.loads(loads[-1].read_text(encoding="utf-8"))
    lines = []
    for d in result.get("loaded", []):
        lines.append(msg.format("demo.summary.ingest", database=d["database"], source=d["source"], method=d["method"],
                                tables=len(d["comparisons"]) - len(d["mismatches"]), what=d["compared"],
                                log=rel(loads[-1].with_suffix(".log"))))
    return lines


def phases(workspace: Path, runbook: dict, msg: Catalog) -> list[str]:
    """One line per phase the panel shows as started: its status and how many evidence files back it."""
    panel_path = workspace / "project-panel.json"
    if not panel_path.exists():
        return []
    panel = json.loads(panel_path.read_text(encoding="utf-8"))
    evidence: dict = {}
    for step in runbook.get("steps", []):
        if step.get("phase") is not None:
            evidence[step["phase"]] = evidence.get(step["phase"], 0) + len(step.get("evidence") or [])
    lines = [msg["demo.summary.milestones"]]
    for m in panel["milestones"]:
        if m["status"] != "pending":
            lines.append(msg.format("demo.summary.milestone", phase=m["phase"], title=m["title"],
                                    status=msg["status." + m["status"]], evidence=evidence.get(m["phase"], 0)))
    return lines


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    print(summary(Path(sys.argv[1]).resolve()))
