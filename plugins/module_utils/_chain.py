# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The journal's hash chain and its verification.

PRIVATE: internal to ssot.governance; its API may change at any time. Stdlib only:
the recorder (controller) writes with it, runbook_verify (target) checks with it.

A journal line is one JSON object: ``seq`` (1, 2, ...), ``ts``, ``run``, ``kind``,
``data``, ``prev`` (the previous line's ``hash``, 64 zeros for the first) and
``hash`` = sha256 of the canonical JSON of the line without ``hash``.
Evidence files are named by ``evidence`` events with their sha256; the views
(runbook.json, project-panel.json) by ``view`` events.
"""

from __future__ import annotations

import hashlib
import json
import os

from ansible_collections.ssot.governance.plugins.module_utils import _snapshot

GENESIS = "0" * 64
JOURNAL = "journal.jsonl"
EVIDENCE_DIR = "evidence"
LOG_DIR = "logs"


def canonical(obj):
    # ASCII only: any string (even one with lone surrogates from binary output) survives
    # a write/read round trip byte for byte, so the hash of a line is reproducible.
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def line_hash(line):
    body = dict((k, v) for k, v in line.items() if k != "hash")
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def sha256_file(path, block=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(block)
            if not chunk:
                break
            h.update(chunk)
    return h.hexdigest()


def verify(workspace):
    """Re-walk the chain and re-hash every file it names.

    Returns dict(ok, problems, lines, evidence_checked, views_checked, last_hash);
    each problem is dict(kind, where, detail), the first one being the earliest.
    """
    journal = os.path.join(workspace, JOURNAL)
    problems = []
    evidence = {}
    views = {}
    snapshots = {}
    lines = 0
    prev = GENESIS
    if not os.path.exists(journal):
        return {"ok": False, "lines": 0, "evidence_checked": 0, "views_checked": 0, "last_hash": None,
                "problems": [{"kind": "journal_missing", "where": JOURNAL, "detail": "no journal in the workspace"}]}
    with open(journal, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            lines = number
            where = "%s:%d" % (JOURNAL, number)
            if not raw.endswith(b"\n"):
                problems.append({"kind": "journal_torn", "where": where, "detail": "last line is incomplete"})
                break
            try:
                line = json.loads(raw.decode("utf-8"))
            except ValueError as exc:
                problems.append({"kind": "journal_altered", "where": where, "detail": "not JSON: %s" % exc})
                break
            if not isinstance(line, dict):
                problems.append({"kind": "journal_altered", "where": where, "detail": "not a JSON object"})
                break
            if line.get("seq") != number:
                problems.append({"kind": "journal_altered", "where": where,
                                 "detail": "sequence %r where %d was due (line removed or added)" % (line.get("seq"), number)})
                break
            if line.get("prev") != prev:
                problems.append({"kind": "journal_altered", "where": where,
                                 "detail": "does not follow line %d (line removed, added or altered)" % (number - 1)})
                break
            if line.get("hash") != line_hash(line):
                problems.append({"kind": "journal_altered", "where": where, "detail": "content does not match its hash"})
                break
            prev = line["hash"]
            data = line.get("data") or {}
            if line.get("kind") == "evidence" and isinstance(data.get("path"), str):
                evidence[data["path"]] = (data.get("sha256"), number)
            elif line.get("kind") == "view" and isinstance(data.get("path"), str):
                views[data["path"]] = (data.get("sha256"), number)
            elif line.get("kind") == "result" and isinstance(data.get("result"), dict):
                # A snapshot taken by snapshot_capture: its folder and the manifest's sha256 at that moment.
                made = data["result"]
                if isinstance(made.get("dest"), str) and isinstance(made.get("manifest_sha256"), str):
                    snapshots[made["dest"]] = (made["manifest_sha256"], number)
            elif line.get("kind") == "view_altered":
                # Found by a later run before it rewrote the view; the altered copy was kept.
                problems.append({"kind": "view_altered", "where": str(data.get("path")),
                                 "detail": "found altered at %s:%d, kept as %s" % (JOURNAL, number, data.get("kept_as"))})
    for rel, (digest, number) in sorted(evidence.items()):
        path = os.path.join(workspace, rel)
        if not os.path.isfile(path):
            problems.append({"kind": "evidence_missing", "where": rel, "detail": "named at %s:%d" % (JOURNAL, number)})
        elif sha256_file(path) != digest:
            problems.append({"kind": "evidence_altered", "where": rel,
                             "detail": "sha256 differs from %s:%d" % (JOURNAL, number)})
    root = os.path.join(workspace, EVIDENCE_DIR)
    for base, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            rel = os.path.relpath(os.path.join(base, name), workspace)
            if rel not in evidence:
                problems.append({"kind": "evidence_added", "where": rel, "detail": "not named by the journal"})
    for rel, (digest, number) in sorted(views.items()):
        path = os.path.join(workspace, rel)
        if not os.path.isfile(path):
            problems.append({"kind": "view_missing", "where": rel, "detail": "named at %s:%d" % (JOURNAL, number)})
        elif sha256_file(path) != digest:
            problems.append({"kind": "view_altered", "where": rel,
                             "detail": "differs from the version recorded at %s:%d" % (JOURNAL, number)})
    logs = os.path.join(workspace, LOG_DIR)
    for name in sorted(os.listdir(logs)) if os.path.isdir(logs) else []:
        rel = "%s/%s" % (LOG_DIR, name)
        if rel not in views and not name.startswith("."):
            problems.append({"kind": "view_added", "where": rel, "detail": "not named by the journal"})
    problems.extend(_snapshot_problems(workspace, snapshots))
    return {"ok": not problems, "problems": problems, "lines": lines, "evidence_checked": len(evidence),
            "views_checked": len(views), "snapshots_checked": len(snapshots), "last_hash": prev}


def _snapshot_problems(workspace, snapshots):
    """Every snapshot the journal recorded, re-hashed against its manifest and the manifest against the journal."""
    out = []
    for folder, (digest, number) in sorted(snapshots.items()):
        where = os.path.relpath(folder, workspace) if os.path.isabs(folder) else folder
        if not os.path.isdir(folder):
            out.append({"kind": "snapshot_missing", "where": where, "detail": "taken at %s:%d" % (JOURNAL, number)})
            continue
        try:
            report = _snapshot.verify(folder, digest)
        except _snapshot.SnapshotError as exc:
            out.append({"kind": "snapshot_altered", "where": where, "detail": str(exc)})
            continue
        for name in report["missing"]:
            out.append({"kind": "snapshot_missing", "where": "%s/%s" % (where, name),
                        "detail": "listed in its manifest"})
        for item in report["altered"]:
            out.append({"kind": "snapshot_altered", "where": "%s/%s" % (where, item["name"]),
                        "detail": "sha256 differs from its manifest (taken at %s:%d)" % (JOURNAL, number)})
        for name in report["extra"]:
            out.append({"kind": "snapshot_added", "where": "%s/%s" % (where, name), "detail": "not in its manifest"})
    return out
