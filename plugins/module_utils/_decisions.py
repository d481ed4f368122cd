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


def _validity(text_value):
    """'7d', '12h', '30m', '2w' -> timedelta (the SSOT's hitl.approval_validity)."""
    m = re.match(r"^(\d+)([mhdw])$", str(text_value or ""))
    if not m:
        return None
    unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
    return datetime.timedelta(**{unit: int(m.group(1))})


def check_entries(entries, source, lang="pt-BR"):
    """Schema-check approval entries; each kept entry gets ``source`` (where it came from, for messages)."""
    from ansible_collections.ssot.governance.plugins.module_utils import _schemas
    import jsonschema
    validator = jsonschema.Draft202012Validator(_schemas.SCHEMAS["approvals"]["$defs"]["approval"])
    if not isinstance(entries, list):
        raise ApprovalError(text(lang, "approval.not_a_list", source=source))
    out = []
    for n, entry in enumerate(entries, 1):
        errors = sorted(validator.iter_errors(entry), key=lambda e: list(e.absolute_path))
        if errors:
            raise ApprovalError(text(lang, "approval.invalid", source=source, n=n, detail="; ".join(
                "%s: %s" % ("/".join(str(x) for x in e.absolute_path) or "-", e.message) for e in errors[:3])))
        for key in ("approved_at", "expires_at"):
            if entry.get(key):
                try:
                    parse_time(entry[key])
                except ApprovalError as exc:
                    raise ApprovalError("%s #%d %s: %s" % (source, n, key, exc))
        out.append(dict(entry, source="%s #%d" % (source, n)))
    return out


def load_approvals(path, lang="pt-BR"):
    """The approvals of ``path`` (a missing file means none), schema-checked (schemas/approvals.schema.json)."""
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
    if not isinstance(doc, dict) or "approvals" not in doc:
        raise ApprovalError(text(lang, "approval.not_a_list", source=path))
    return check_entries(doc["approvals"] or [], os.path.basename(path), lang)


def resolve(decision, approvals, now=None, approvers=(), run_user=None, separation_of_duties=False,
            validity="7d", lang="pt-BR"):
    """The decision with its status and answer from the approvals that count for it.

    Approvals that name this decision but do not count leave a reason in ``refusals``
    (another SSOT digest, an option not offered, expired, an approver not allowed, the
    runner approving its own run under separation of duties). The last approval that
    counts wins. Other decisions' approvals are not this decision's business.
    """
    now = now or utc_now()
    resolved = dict(decision)
    resolved.pop("refusals", None)
    refusals = []
    offered = set(o["id"] for o in decision.get("options") or [])
    for entry in approvals:
        if entry.get("decision") != decision["id"]:
            continue
        where = entry.get("source", "approvals")
        by = str(entry.get("approved_by", ""))
        if entry.get("ssot_digest") != decision.get("ssot_digest"):
            refusals.append(text(lang, "approval.refused.digest", source=where, got=entry.get("ssot_digest"),
                                 want=decision.get("ssot_digest")))
            continue
        chosen = str(entry.get("option"))
        if chosen not in offered and chosen != REJECT_OPTION:
            refusals.append(text(lang, "approval.refused.option", source=where, option=chosen,
                                 options=", ".join(sorted(offered)) + ", " + REJECT_OPTION))
            continue
        if approvers and by not in approvers:
            refusals.append(text(lang, "approval.refused.approver", source=where, by=by,
                                 approvers=", ".join(approvers)))
            continue
        if separation_of_duties and run_user and by.strip().lower() == str(run_user).strip().lower():
            refusals.append(text(lang, "approval.refused.self", source=where, by=by))
            continue
        at = parse_time(entry["approved_at"])
        until = parse_time(entry["expires_at"]) if entry.get("expires_at") else (
            at + _validity(validity) if _validity(validity) else None)
        answer = {"option": chosen, "by": by, "at": iso(at)}
        if entry.get("reason"):
            answer["reason"] = str(entry["reason"])
        if until is not None:
            answer["until"] = iso(until)
        if until is not None and until <= now:
            refusals.append(text(lang, "approval.refused.expired", source=where, until=iso(until)))
            resolved.update(status=EXPIRED, answer=answer)
            continue
        resolved.update(status=REJECTED if chosen == REJECT_OPTION else APPROVED, answer=answer)
    if refusals:
        resolved["refusals"] = refusals
    return resolved


def iso(moment):
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
        hitl=dict(type="dict", default={}, options=dict(
            approvals_file=dict(type="path"),
            approvals=dict(type="list", elements="dict", default=[]),
            approvers=dict(type="list", elements="str", default=[]),
            approval_validity=dict(type="str", default="7d"),
            separation_of_duties=dict(type="bool", default=False),
            run_user=dict(type="str"),
        )),
        language=dict(type="str", choices=["pt-BR", "en"], default="pt-BR"),
    )


class Policy(object):
    """The approvals in force and the SSOT's rules for them, from a module's parameters."""

    def __init__(self, params, now=None):
        self.lang = params.get("language") or "pt-BR"
        self.digest = params["ssot_digest"]
        hitl = params.get("hitl") or {}
        self.approvals = load_approvals(hitl.get("approvals_file"), self.lang) + check_entries(
            hitl.get("approvals") or [], "ssot_approvals", self.lang)
        self.approvers = hitl.get("approvers") or []
        self.validity = hitl.get("approval_validity") or "7d"
        self.separation = bool(hitl.get("separation_of_duties"))
        self.run_user = hitl.get("run_user")
        self.now = now or utc_now()

    def resolve(self, decision):
        resolved = resolve(decision, self.approvals, self.now, self.approvers, self.run_user, self.separation,
                           self.validity, self.lang)
        resolved["how_to_approve"] = how_to_approve(self.lang, resolved)
        return resolved


def unapproved(decisions):
    return [d for d in decisions if d["status"] != APPROVED]


LETTERS = "ABCDEFGHIJ"
_ANSWER = {
    "pt-BR": (re.compile(r"^\s*aprovar\s+([a-j])\s*$", re.I), re.compile(r"^\s*rejeitar\s*$", re.I)),
    "en": (re.compile(r"^\s*approve\s+([a-j])\s*$", re.I), re.compile(r"^\s*reject\s*$", re.I)),
}


def letters(decision):
    """Option letter -> option id, in the decision's order (A is the first option)."""
    return dict(zip(LETTERS, [o["id"] for o in decision.get("options") or []]))


def parse_answer(answer, decision, lang="pt-BR"):
    """An explicit terminal answer -> the option id, ``reject``, or None (anything else: ask again)."""
    approve, reject = _ANSWER.get(lang, _ANSWER["pt-BR"])
    text_value = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer or "")
    if reject.match(text_value):
        return REJECT_OPTION
    m = approve.match(text_value)
    if m:
        return letters(decision).get(m.group(1).upper())
    return None


def card(decision, lang="pt-BR"):
    """The decision card an operator reads before answering."""
    lines = [text(lang, "hitl.card.title", id=decision["id"], title=decision.get("title", ""))]
    if decision.get("context"):
        lines.append(text(lang, "hitl.card.context", context=decision["context"]))
    lines.append(text(lang, "hitl.card.options"))
    for letter, option in zip(LETTERS, decision.get("options") or []):
        label = re.sub(r"^[A-J]: ", "", option.get("label", option["id"]))
        lines.append("  %s) %s [%s]" % (letter, label, option["id"]))
    if decision.get("risk"):
        lines.append(text(lang, "hitl.card.risk", risk=decision["risk"]))
    if decision.get("rollback"):
        lines.append(text(lang, "hitl.card.rollback", rollback=decision["rollback"]))
    choices = ", ".join('"%s"' % text(lang, "hitl.answer.approve", letter=letter) for letter in letters(decision))
    lines.append(text(lang, "hitl.card.answer", choices=choices, reject=text(lang, "hitl.answer.reject")))
    return "\n".join(lines)


def paste_entry(decision, option=None, lang="pt-BR"):
    """A ready-to-paste approvals.yml entry (YAML text) for ``decision``."""
    opts = [o["id"] for o in decision.get("options") or []]
    return ("  - decision: %s\n    option: %s   # %s\n    approved_by: %s\n"
            "    approved_at: \"%s\"\n    reason: %s\n    ssot_digest: %s\n"
            % (decision["id"], option if option in opts else (opts[0] if opts else "?"),
               " | ".join(opts + [REJECT_OPTION]), text(lang, "hitl.paste.by"), iso(utc_now()),
               text(lang, "hitl.paste.reason"), decision.get("ssot_digest")))
