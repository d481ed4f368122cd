# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The records a module returns to the recorder, built one way (the contract: schemas/result.schema.json).

PRIVATE: internal to ssot.governance; its API may change at any time. Stdlib only.

A module's result is its own output plus these records; the ssot.governance.runbook callback
takes them out, validates them against the schema and keeps them (evidence files, decisions,
milestones, snapshots' verdicts, rollback data, the SSOT in force). Build them here and the
shape is right by construction: the phase comes from the model, a status from its list.
"""

from __future__ import annotations

from ansible_collections.ssot.governance.plugins.module_utils import _model, _schemas

_CONTRACT = _schemas.SCHEMAS["result"]["properties"]
# Keys of a result that are records for the recorder, not the module's output (taken out before the result is
# journaled). checks and findings are records too, but stay in the result: roles read them.
KEPT_IN_RESULT = ("checks", "findings")
RECORD_KEYS = tuple(k for k in _CONTRACT if k not in KEPT_IN_RESULT)
ROLLBACK_EVENTS = tuple(_CONTRACT["rollback"]["properties"]["event"]["enum"])
ROLLBACK_SUBJECTS = tuple(_CONTRACT["rollback"]["properties"]["subject"]["enum"])


def evidence(name, text=None, content=None):
    """One evidence file: ``text`` kept as it is, or ``content`` kept as JSON."""
    if (text is None) == (content is None):
        raise _model.ModelError("evidence %r: give text or content, one of them" % (name,))
    return {"name": name, "text": text} if text is not None else {"name": name, "content": content}


def milestone(role, status, next_steps=None, title=None):
    """A status set on the milestone of ``role``'s phase: blocked / failed stick until a later clear."""
    if status not in _model.MILESTONE_SETS:
        raise _model.ModelError("milestone status %r is not one of %s" % (status, ", ".join(_model.MILESTONE_SETS)))
    out = {"phase": _model.phase(role).number, "status": status, "next_steps": list(next_steps or [])}
    if title:
        out["title"] = title
    return out


def snapshot(path, status=None, restore=None, files=None, recipe=None):
    """A snapshot's verdict: its verification (status, files) or its restore test (restore, and the recipe it ran)."""
    out = {"path": path.rstrip("/") or path}
    for key, value, allowed in (("status", status, _model.statuses("snapshot_status")),
                                ("restore", restore, _model.statuses("restore_status"))):
        if value is not None:
            if value not in allowed:
                raise _model.ModelError("snapshot %s %r is not one of %s" % (key, value, ", ".join(allowed)))
            out[key] = value
    if files is not None:
        out["files"] = int(files)
    if recipe is not None:
        out["recipe"] = [str(line) for line in recipe]
    return out


def rollback(subject, event, data=None):
    """Rollback data as its own journal record: ``point`` (before a change), ``fingerprint`` (the tables right
    after it) or ``done`` (it was undone)."""
    if event not in ROLLBACK_EVENTS or subject not in ROLLBACK_SUBJECTS:
        raise _model.ModelError("rollback %r %r: subject one of %s, event one of %s" % (
            subject, event, ", ".join(ROLLBACK_SUBJECTS), ", ".join(ROLLBACK_EVENTS)))
    return {"subject": subject, "event": event, "data": dict(data or {})}


def ssot_loaded(path, digest, language):
    """The SSOT the result carries (its ``ssot`` and ``ssot_full_map``) is the one in force from now on."""
    return {"path": path, "digest": digest, "language": language}
