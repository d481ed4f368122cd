# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions a human must take, with stable ids, and the approvals that settle them.

PRIVATE: internal to ssot.governance; its API may change at any time. Stdlib + PyYAML
(it runs on the target).

A decision id is derived from what it is about (the phase, the subject, the facts that
make it a divergence), so the same deviation raises the same id on every run and an
approval recorded once keeps counting; a different divergence (another sha256, another
value) gets another id and needs its own approval.

An approval counts only for the decision id it names, an option the decision offers,
the SSOT digest the decision was raised under, before its ``expires_at``, and, when the SSOT
lists approvers, from one of them. Anything else leaves the decision pending.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re

from ansible_collections.ssot.governance.plugins.module_utils._text import message as text

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
EXPIRED = "expired"
REJECT_OPTION = "reject"

_SAFE = re.compile(r"[^a-z0-9_.-]+")
APPROVAL_REQUIRED = ("decision", "option", "approved_by", "approved_at", "ssot_digest")


class ApprovalError(Exception):
    """approvals.yml cannot be read; the message says what to fix."""


def stable_id(kind, subject, *facts):
    """``<kind>.<subject>.<8 hex>``: the hex part is a digest of the facts (expected, actual ...)."""
    digest = hashlib.sha256(json.dumps(list(facts), sort_keys=True, default=str).encode("utf-8")).hexdigest()[:8]
    subject = _SAFE.sub("-", str(subject).lower()).strip("-.") or "x"
    return "%s.%s.%s" % (kind, subject[:60], digest)


def option(lang, code, option_id):
    return {"id": option_id, "label": text(lang, "decision.option.%s" % code)}


def build(decision_id, phase, title, context, options, ssot_digest, risk="", rollback=""):
    decision = {"id": decision_id, "phase": phase, "title": title, "context": context, "options": options,
                "ssot_digest": ssot_digest, "status": PENDING}
    if risk:
        decision["risk"] = risk
    if rollback:
        decision["rollback"] = rollback
    return decision


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def parse_time(value):
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    text_value = str(value).strip()
    if text_value.endswith("Z"):
        text_value = text_value[:-1] + "+00:00"
    try:
        parsed = datetime.datetime.fromisoformat(text_value)
    except ValueError:
        raise ApprovalError("%r is not an ISO 8601 time (use 2026-11-24T10:00:00Z)" % (value,))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def load_approvals(path):
    """The approvals of ``path`` (a missing file means none). Each: decision, option, approved_by,
    approved_at, ssot_digest, and optionally reason and expires_at."""
    if not path or not os.path.exists(path):
        return []
    import yaml
    try:
        with open(path, "rb") as fh:
            doc = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as exc:
        raise ApprovalError("%s: %s" % (path, exc))
    if doc is None:
        return []
    entries = doc.get("approvals") if isinstance(doc, dict) else doc
    if not isinstance(entries, list):
        raise ApprovalError("%s: expected `approvals:` with a list of entries" % path)
    out = []
    for n, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise ApprovalError("%s: approval %d is not a mapping" % (path, n))
        missing = [k for k in APPROVAL_REQUIRED if not entry.get(k)]
        if missing:
            raise ApprovalError("%s: approval %d lacks %s" % (path, n, ", ".join(missing)))
        out.append(entry)
    return out


def resolve(decision, approvals, now=None, approvers=()):
    """The decision with its status and answer from the approvals that count for it."""
    now = now or utc_now()
    resolved = dict(decision)
    offered = set(o["id"] for o in decision.get("options") or [])
    for entry in approvals:
        if entry.get("decision") != decision["id"]:
            continue
        if entry.get("ssot_digest") != decision.get("ssot_digest"):
            continue
        if approvers and entry.get("approved_by") not in approvers:
            continue
        chosen = str(entry.get("option"))
        if chosen not in offered and chosen != REJECT_OPTION:
            continue
        answer = {"option": chosen, "by": str(entry["approved_by"]), "at": _iso(parse_time(entry["approved_at"]))}
        if entry.get("reason"):
            answer["reason"] = str(entry["reason"])
        status = REJECTED if chosen == REJECT_OPTION else APPROVED
        if entry.get("expires_at"):
            until = parse_time(entry["expires_at"])
            answer["until"] = _iso(until)
            if until <= now:
                status = EXPIRED
        resolved.update(status=status, answer=answer)
    return resolved


def _iso(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def how_to_approve(lang, decision, approvals_path="approvals.yml"):
    return text(lang, "decision.how_to_approve", id=decision["id"], path=approvals_path,
                options="|".join(o["id"] for o in decision.get("options") or []),
                digest=decision.get("ssot_digest") or "")


def argument_spec():
    """Options of the modules that raise decisions; documented by the ssot.governance.decisions
    doc fragment (a unit test keeps the two equal)."""
    return dict(
        ssot_digest=dict(type="str", required=True),
        approvals_file=dict(type="path"),
        approvers=dict(type="list", elements="str", default=[]),
        language=dict(type="str", choices=["pt-BR", "en"], default="pt-BR"),
    )
