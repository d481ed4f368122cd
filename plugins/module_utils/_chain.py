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

Every line from the ``environment`` line on also carries ``env``: the environment's identity (minted when its
first run opens, or the one its SSOT pins in ``metadata.id``), so each line hash - and each seal, which signs it
too - binds the environment the line belongs to. The ``environment`` line names the place the records were
written for (``postgresql:<namespace>`` or ``files:<folder>``). Lines older than it (journals begun before
identities) carry none.
"""

from __future__ import annotations

import hashlib
import json
import os
import re

from ansible_collections.ssot.governance.plugins.module_utils import _snapshot, _sshsig
from ansible_collections.ssot.governance.plugins.module_utils._text import DEFAULT_LANGUAGE, message, rendered, shown

GENESIS = "0" * 64
ENVIRONMENT = "environment"  # the line kind that names the environment its journal belongs to
# What an environment identity may be - in the journal and in the SSOT's metadata.id (schemas/ssot.schema.json
# says the same; a test checks it): a minted one is 32 hex digits, a pinned one e.g. a uuid.
ENVIRONMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,63}\Z")
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


def _problem(lang, kind, where, code, **params):
    return {"kind": kind, "where": where, "detail": message(lang, "verify.detail." + code, **params)}


def verify(workspace, allowed_signers=None, require_seals=False, now=None, lang=DEFAULT_LANGUAGE, open_run=None,
           expect_heads=(), place=None, expect_env=None):
    """Re-walk the chain, check its seals against ``allowed_signers``, and re-hash every file it names.

    ``open_run``: the run that is verifying, whose own lines at the end of the journal are not sealed yet (no other
    line is ever "the open tail"). ``expect_heads``: [(where it was kept, head)], each head (``seq:sha256``) one an
    earlier run printed, kept outside the workspace: a journal that does not hold it was rolled back or replaced.
    ``place``: the records database namespace the journal was read from (its environment line must name it).
    ``expect_env``: [(where it was kept, the environment identity)] - a heads log's, the SSOT's ``metadata.id``.

    Returns dict(ok, problems, lines, evidence_checked, views_checked, last_hash, head, seals);
    each problem is dict(kind, where, detail), the first one being the earliest, the detail in ``lang``.
    """
    journal = os.path.join(workspace, JOURNAL)
    problems = []

    def add(kind, where, code, **params):
        problems.append(_problem(lang, kind, where, code, **params))
    evidence = {}
    views = {}
    snapshots = {}
    lines = 0
    prev = GENESIS
    hashes = []          # every line's hash, in order
    runs = []            # every line's run
    seals = []           # (line number, seal data)
    env = None           # the environment the journal belongs to, from its environment line on
    if not os.path.exists(journal):
        return {"ok": False, "lines": 0, "evidence_checked": 0, "views_checked": 0, "last_hash": None,
                "problems": [_problem(lang, "journal_missing", JOURNAL, "no_journal")]}
    with open(journal, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            lines = number
            where = "%s:%d" % (JOURNAL, number)
            if not raw.endswith(b"\n"):
                add("journal_torn", where, "torn")
                break
            line, problem = chained(raw, number, prev, lang)
            if problem is None:
                env, problem = belongs(line, number, env, place, lang)
            if problem is not None:
                problems.append(problem)
                break
            prev = line["hash"]
            hashes.append(prev)
            runs.append(line.get("run"))
            data = line.get("data") if isinstance(line.get("data"), dict) else {}
            if line.get("kind") == "seal":
                seals.append((number, data))
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
                add("view_altered", str(data.get("path")), "view_kept", at=where, kept=data.get("kept_as"))
            elif line.get("kind") == "view_missing":
                # Found missing by a later run, which rebuilt it.
                add("view_missing", str(data.get("path")), "view_rebuilt", at=where)
    seal_report = _seal_problems(hashes, seals, runs, open_run, allowed_signers, require_seals, now, lang)
    problems.extend(seal_report.pop("problems"))
    for rel, (digest, number) in sorted(evidence.items()):
        path = os.path.join(workspace, rel)
        if not os.path.isfile(path):
            add("evidence_missing", rel, "named_at", at="%s:%d" % (JOURNAL, number))
        elif sha256_file(path) != digest:
            add("evidence_altered", rel, "sha_differs", at="%s:%d" % (JOURNAL, number))
    root = os.path.join(workspace, EVIDENCE_DIR)
    for base, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            rel = os.path.relpath(os.path.join(base, name), workspace)
            if rel not in evidence:
                add("evidence_added", rel, "not_named")
    for rel, (digest, number) in sorted(views.items()):
        path = os.path.join(workspace, rel)
        if not os.path.isfile(path):
            add("view_missing", rel, "named_at", at="%s:%d" % (JOURNAL, number))
        elif sha256_file(path) != digest:
            add("view_altered", rel, "view_differs", at="%s:%d" % (JOURNAL, number))
    logs = os.path.join(workspace, LOG_DIR)
    for name in sorted(os.listdir(logs)) if os.path.isdir(logs) else []:
        rel = "%s/%s" % (LOG_DIR, name)
        if rel not in views and not name.startswith("."):
            add("view_added", rel, "not_named")
    problems.extend(_snapshot_problems(workspace, snapshots, lang))
    head = {"seq": len(hashes), "hash": prev} if hashes else None
    for source, expected in reversed(list(expect_env or ())):
        if env != expected:
            problems.insert(0, _problem(lang, "environment_replaced", JOURNAL, "env_expected",
                                        expected=shown(expected), source=source, found=shown(env)))
    # The first kept head the journal no longer holds (one is enough to say it was rolled back).
    for source, expected in expect_heads:
        found = head_problems(hashes, expected, lang)
        if found:
            found[0]["detail"] = "%s [%s]" % (found[0]["detail"], source)
            problems[:0] = found[:1]
            break
    return {"ok": not problems, "problems": problems, "lines": lines, "evidence_checked": len(evidence),
            "views_checked": len(views), "snapshots_checked": len(snapshots), "last_hash": prev, "head": head,
            "seals": seal_report, "environment": env}


def parse_head(value):
    """(seq, sha256) of a head given as ``seq:sha256`` (the form a run prints) or a dict; ValueError otherwise."""
    if isinstance(value, dict):
        seq, digest = value.get("seq"), value.get("hash")
    else:
        seq, dummy, digest = str(value).strip().partition(":")
    try:
        seq = int(seq)
    except (TypeError, ValueError):
        raise ValueError("seq")
    digest = str(digest or "").strip().lower()
    if seq < 1 or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError("hash")
    return seq, digest


def format_head(seq, digest):
    return "%d:%s" % (seq, digest)


def head_problems(hashes, expect_head, lang=DEFAULT_LANGUAGE):
    """Whether the journal still holds a head kept outside it: the line at that seq with that hash. A journal that
    does not was rolled back (an older copy put back, its newest lines dropped) or replaced."""
    found = format_head(len(hashes), hashes[-1]) if hashes else "0:-"
    try:
        seq, digest = parse_head(expect_head)
    except ValueError:
        return [_problem(lang, "head_unreadable", JOURNAL, "head_unreadable", expected=expect_head)]
    if seq > len(hashes):
        return [_problem(lang, "journal_rolled_back", JOURNAL, "head_beyond", expected=format_head(seq, digest),
                         found=found)]
    if hashes[seq - 1] != digest:
        return [_problem(lang, "journal_rolled_back", "%s:%d" % (JOURNAL, seq), "head_differs",
                         expected=format_head(seq, digest), found=found)]
    return []


def chained(raw, number, prev, lang=DEFAULT_LANGUAGE):
    """(the line, None) when ``raw`` is line ``number`` of a chain whose previous hash is ``prev``, with its own hash
    recomputed; else (None, the problem verify names). What the recorder checks each line against when a run
    opens, too: a stored hash is never taken on its word."""
    where = "%s:%d" % (JOURNAL, number)
    try:
        line = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except (ValueError, RecursionError) as exc:
        return None, _problem(lang, "journal_altered", where, "not_json", error=exc)
    if not isinstance(line, dict):
        return None, _problem(lang, "journal_altered", where, "not_object")
    if line.get("seq") != number:
        return None, _problem(lang, "journal_altered", where, "sequence", found=line.get("seq"), due=number)
    if line.get("prev") != prev:
        return None, _problem(lang, "journal_altered", where, "prev", line=number - 1)
    if line.get("hash") != line_hash(line):
        return None, _problem(lang, "journal_altered", where, "hash")
    return line, None


def belongs(line, number, env, place=None, lang=DEFAULT_LANGUAGE):
    """(the environment the journal belongs to after line ``number``, None) when the line belongs to ``env`` (None:
    no line has named one yet); else (None, the problem verify names). From the ``environment`` line on every line
    must carry that identity (a line moved in from another environment's journal, even re-chained, carries its
    own), a seal must sign it, and, when ``place`` is given (a records database's namespace), the environment line
    must have been written for that place (rows relabelled from another namespace were not)."""
    where = "%s:%d" % (JOURNAL, number)
    data = line.get("data") if isinstance(line.get("data"), dict) else {}
    mine = line.get("env")
    if env is None:
        if line.get("kind") != ENVIRONMENT:
            if mine is not None:
                return None, _problem(lang, "journal_foreign", where, "env_before", found=shown(mine))
            return None, None
        if not isinstance(mine, str) or not ENVIRONMENT_ID.match(mine) or data.get("id") != mine:
            return None, _problem(lang, "journal_foreign", where, "env_unnamed")
        if place is not None and data.get("place") != place:
            return None, _problem(lang, "records_moved", where, "env_place", found=shown(data.get("place")),
                                  place=place)
        return mine, None
    if mine != env:
        return None, _problem(lang, "journal_foreign", where, "env_other", found=shown(mine), env=env)
    if line.get("kind") == ENVIRONMENT:
        return None, _problem(lang, "journal_foreign", where, "env_twice", env=env)
    if line.get("kind") == "seal" and data.get("env") != env:
        return None, _problem(lang, "journal_foreign", where, "env_seal", found=shown(data.get("env")), env=env)
    return env, None


def problem_message(report, lang=DEFAULT_LANGUAGE):
    """The operator's message for a verify report with problems: the first one, and how many more."""
    first = report["problems"][0]
    more = message(lang, "verify.more", count=len(report["problems"]) - 1) if len(report["problems"]) > 1 else ""
    return message(lang, "verify.altered", kind=first["kind"], where=first["where"], detail=first["detail"],
                   more=more)


def _ranges(numbers):
    """[1, 2, 3, 7] -> [[1, 3], [7, 7]]."""
    out = []
    for n in numbers:
        if out and out[-1][1] == n - 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return out


def _seal_range(seal, number):
    """(from, upto, the line hashes it lists) of a seal at line ``number`` shaped as the recorder writes one - right
    after the head it signs, one hash per line it covers - or None."""
    first, upto, signed = seal.get("from"), seal.get("upto"), seal.get("lines")
    if (isinstance(first, int) and isinstance(upto, int) and isinstance(signed, list)
            and 1 <= first <= upto == number - 1 and len(signed) == upto - first + 1):
        return first, upto, signed
    return None


def seal_shape_holds(hashes, number, seal):
    """Whether a seal at line ``number`` has the shape of one the recorder writes for these lines (right after the
    head it signs, listing their hashes) - its signature unchecked."""
    found = _seal_range(seal, number)
    if found is None or number - 1 > len(hashes):
        return False
    first, upto, signed = found
    return [h[:16] for h in hashes[first - 1:upto]] == signed and hashes[upto - 1] == seal.get("head")


def seal_results(hashes, seals, allowed_signers, now=None):
    """Each seal checked: (line number, principal or None, problem or None, the line numbers it proves).

    A seal signs the hashes of the lines it covers and the chain head, and comes right after that head (a seal copied
    elsewhere proves nothing). A seal whose signature holds but whose lines
    differ from the journal's proves the history was rewritten (even when every later hash was recomputed): it
    proves only the lines before the first that differs. ``problem`` is (kind, code, params) or, when the seal
    cannot be checked at all, the SignatureError (and no later seal is checked)."""
    out = []
    for number, seal in seals:
        try:
            verdict = _sshsig.verify_signer(_sshsig.seal_payload(seal), seal.get("signature"),
                                            _sshsig.SEAL_NAMESPACE, allowed_signers, now)
        except _sshsig.SignatureError as exc:
            out.append((number, None, exc, set()))
            break
        if not verdict.ok:
            kind = "seal_unknown_key" if verdict.code == "sig.refused.unknown_key" else "seal_invalid"
            out.append((number, None, (kind, "seal_unproven", {"key": verdict.key or "-", "code": verdict.code,
                                                               "params": verdict.params}), set()))
            continue
        found = _seal_range(seal, number)
        if found is None:
            out.append((number, None, ("seal_invalid", "seal_malformed", {}), set()))
            continue
        first, upto, signed = found
        actual = [h[:16] for h in hashes[first - 1:upto]]
        changed = next((i for i, (a, b) in enumerate(zip(actual, signed)) if a != b), None)
        if changed is None and hashes[upto - 1] != seal.get("head"):
            changed = upto - first
        principal = verdict.params.get("principal")
        if changed is not None:
            out.append((number, principal, ("journal_rewritten", "seal_rewritten",
                                            {"first": first + changed, "line": number, "key": principal}),
                        set(range(first, first + changed))))
            continue
        out.append((number, principal, None, set(range(first, upto + 1)) | set([number])))
    return out


def witnessed(proved, seal_number, runs):
    """The lines of ``proved`` a seal vouches for: those of the run (or note) that wrote the seal. A seal never
    vouches for a line another run wrote, whatever range it names (a line appended by someone else after a seal and
    sealed by a later run's seal stays unproven)."""
    run = runs[seal_number - 1]
    return set(n for n in proved if runs[n - 1] == run)


def open_tail(runs, open_run):
    """The first line of the verifying run's own lines at the end of the journal (not sealed yet), or None."""
    if open_run is None or not runs or runs[-1] != open_run:
        return None
    first = len(runs)
    while first > 1 and runs[first - 2] == open_run:
        first -= 1
    return first


def _seal_problems(hashes, seals, runs, open_run, allowed_signers, require_seals, now=None, lang=DEFAULT_LANGUAGE):
    """Which lines a valid seal proves, and where the seals and the chain disagree. Lines no valid seal covers are
    named too, when seals are required, except the verifying run's own lines at the end (``open_run``)."""
    problems = []
    report = {"checked": 0, "valid": 0, "signers": [], "unsealed": [], "open_from": None}
    if not seals and not require_seals:
        return dict(report, problems=problems)
    covered = set()
    if seals and not allowed_signers:
        problems.append(_problem(lang, "seal_unchecked", "%s:%d" % (JOURNAL, seals[0][0]), "no_signers"))
        return dict(report, problems=problems)
    for number, principal, problem, proved in seal_results(hashes, seals, allowed_signers, now):
        report["checked"] += 1
        covered.update(witnessed(proved, number, runs))
        where = "%s:%d" % (JOURNAL, number)
        if isinstance(problem, _sshsig.SignatureError):
            problems.append({"kind": "seal_unverifiable", "where": where, "detail": problem.render(lang)})
            break
        if problem is not None:
            kind, code, params = problem
            if kind == "journal_rewritten":
                problems.append(_problem(lang, kind, "%s:%d" % (JOURNAL, params["first"]), code, line=params["line"],
                                         key=params["key"]))
            elif code == "seal_unproven":
                problems.append(_problem(lang, kind, where, code, key=params["key"],
                                         why=message(lang, params["code"], **params["params"])))
            else:
                problems.append(_problem(lang, kind, where, code))
            continue
        report["valid"] += 1
        if principal not in report["signers"]:
            report["signers"].append(principal)
    # Only the verifying run's own last lines are not sealed yet: every other line needs a seal of its own run.
    report["open_from"] = open_tail(runs, open_run)
    upto = (report["open_from"] or len(hashes) + 1) - 1
    unsealed = _ranges(n for n in range(1, upto + 1) if n not in covered)
    report["unsealed"] = unsealed
    if require_seals:
        for a, b in unsealed:
            problems.append(_problem(lang, "journal_unsealed", "%s:%d" % (JOURNAL, a), "unsealed",
                                     lines="%d-%d" % (a, b)))
    problems.sort(key=lambda p: (int(p["where"].rsplit(":", 1)[1]), p["kind"] == "journal_unsealed"))
    return dict(report, problems=problems)


def walk(raw_lines):
    """The journal's lines while the chain holds and they belong to one environment: (parsed lines, their hashes, the seal lines as (number, data), the
    number of the first line that breaks the chain or None)."""
    parsed, hashes, seals = [], [], []
    prev, env = GENESIS, None
    for number, raw in enumerate(raw_lines, 1):
        line, problem = chained(raw, number, prev)
        if problem is None:
            env, problem = belongs(line, number, env)
        if problem is not None:
            return parsed, hashes, seals, number
        prev = line["hash"]
        parsed.append(line)
        hashes.append(prev)
        if line.get("kind") == "seal" and isinstance(line.get("data"), dict):
            seals.append((number, line["data"]))
    return parsed, hashes, seals, None


def _snapshot_problems(workspace, snapshots, lang=DEFAULT_LANGUAGE):
    """Every snapshot the journal recorded, re-hashed against its manifest and the manifest against the journal."""
    out = []
    for folder, (digest, number) in sorted(snapshots.items()):
        where = os.path.relpath(folder, workspace) if os.path.isabs(folder) else folder
        if not os.path.isdir(folder):
            out.append(_problem(lang, "snapshot_missing", where, "snapshot_taken", at="%s:%d" % (JOURNAL, number)))
            continue
        try:
            report = _snapshot.verify(folder, digest)
        except _snapshot.SnapshotError as exc:
            out.append(_problem(lang, "snapshot_altered", where, "snapshot_unreadable", error=rendered(exc, lang)))
            continue
        for name in report["missing"]:
            out.append(_problem(lang, "snapshot_missing", "%s/%s" % (where, name), "snapshot_listed"))
        for item in report["altered"]:
            out.append(_problem(lang, "snapshot_altered", "%s/%s" % (where, item["name"]), "snapshot_altered",
                                at="%s:%d" % (JOURNAL, number)))
        for name in report["extra"]:
            out.append(_problem(lang, "snapshot_added", "%s/%s" % (where, name), "snapshot_extra"))
    return out
