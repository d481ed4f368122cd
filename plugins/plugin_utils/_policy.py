# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether an approval counts: decided on the controller, from what the controller read (docs/security.md).

PRIVATE: internal to ssot.governance; its API may change at any time (controller side).

An approval counts for a decision only when every rule holds: the same decision id, an option the decision offers
(or ``reject``), the same SSOT digest, the same environment and the same card (the facts and lettered options the
approver was shown), not a draft nor a template with placeholders, a signature by an allowed signer when the trust
root (or the SSOT) requires one, a name that identifies a person, an approver the SSOT allows, not the operator
running the play under separation of duties, dated no later than now and not expired. Each approval that names a
decision but does not count says why; the last one that counts wins.
"""

from __future__ import annotations

import os
import re

from ansible_collections.ssot.governance.plugins.module_utils import _decisions, _sshsig, _yaml
from ansible_collections.ssot.governance.plugins.module_utils._decisions import (
    APPROVED, EXPIRED, PENDING, REJECTED, REJECT_OPTION, ApprovalError, identity_key, identity_problem, iso,
    parse_time)
from ansible_collections.ssot.governance.plugins.module_utils._messages import MESSAGES
from ansible_collections.ssot.governance.plugins.module_utils._text import message as text
from ansible_collections.ssot.governance.plugins.plugin_utils import _card

EXTRA_VARS = "extra_vars"
_PLACEHOLDER = re.compile(r"^\s*<[^<>]*>\s*$")


def _placeholders():
    """The texts the collection itself writes where a person must fill in a value (ready-to-paste entries, the
    assistant's drafts), in every language."""
    out = set()
    for catalog in MESSAGES.values():
        for key in ("hitl.paste.by", "hitl.paste.reason", "agent.draft.by", "agent.draft.reason"):
            if key in catalog:
                out.add(identity_key(catalog[key]))
    return out


def draft_problem(entry):
    """Why ``entry`` is a draft or a template rather than an approval (a catalog key), or None."""
    if entry.get("draft") is True:
        return "approval.refused.draft"
    placeholders = _placeholders()
    for key in ("approved_by", "reason"):
        value = entry.get(key)
        if isinstance(value, str) and (_PLACEHOLDER.match(value) or identity_key(value) in placeholders):
            return "approval.refused.placeholder"
    return None


def launcher_approvals(value, lang="pt-BR"):
    """The extra var ssot_approvals as a list of entries: a list, one entry, ``{approvals: [...]}``, or any of
    those as YAML/JSON text (what an AWX survey's text area gives), read by the strict reader."""
    if value in (None, "", [], {}):
        return []
    if isinstance(value, str):
        if len(value.encode("utf-8", "replace")) > _decisions.APPROVALS_MAX_BYTES:
            raise ApprovalError(text(lang, "approval.invalid", source="ssot_approvals", n=0,
                                     detail=text(lang, "yaml.too_large", size=len(value),
                                                 limit=_decisions.APPROVALS_MAX_BYTES)))
        try:
            value = _yaml.parse(value)[0]
        except _yaml.LoadError as exc:
            raise ApprovalError(text(lang, "approvals.launcher_invalid", error=exc.render(lang)))
    if isinstance(value, dict):
        value = value["approvals"] if set(value) == {"approvals"} else [value]
    return value if isinstance(value, list) else [value]


def how_to_approve(lang, decision, approvals_path="approvals.yml"):
    return text(lang, "decision.how_to_approve", id=decision["id"], path=approvals_path,
                options="|".join(o["id"] for o in decision.get("options") or []),
                digest=decision.get("ssot_digest") or "")


class Policy(object):
    """The approvals in force and the rules for them in one environment, read on the controller."""

    def __init__(self, rules, digest, environment, lang="pt-BR", approvals_file=None, launcher=None,
                 run_identities=(), now=None):
        self.rules = rules
        self.digest = digest
        self.environment = environment
        self.lang = lang
        self.now = now or _decisions.utc_now()
        self.run_identities = list(run_identities)
        self.approvals_file = approvals_file
        self.file_error = None
        try:
            entries = _decisions.load_approvals(approvals_file, lang) if approvals_file else []
        except ApprovalError as exc:
            self.file_error, entries = str(exc), []
        self.approvals = [dict(e) for e in entries] + [
            dict(e, channel=EXTRA_VARS) for e in _decisions.check_entries(launcher_approvals(launcher, lang),
                                                                          "ssot_approvals", lang)]
        self._verdicts = {}

    @property
    def require_signatures(self):
        return self.rules.require_signatures

    def add(self, entries):
        self.approvals = self.approvals + list(entries)

    # --- one entry --------------------------------------------------------------------------------------------
    def _signature(self, entry, source):
        """(why ``entry`` cannot count for its signature, the signing key or None)."""
        lang = self.lang
        signature = entry.get("signature")
        if not signature:
            return (text(lang, "approval.refused.unsigned", source=source) if self.require_signatures else None), None
        if not self.rules.signers:
            return text(lang, "approval.refused.no_signers", source=source), None
        key = (source, signature)
        if key not in self._verdicts:
            try:
                verdict = _sshsig.verify(_sshsig.approval_payload(entry), signature, entry.get("approved_by"),
                                         _sshsig.APPROVAL_NAMESPACE, self.rules.signers, self.now)
            except _sshsig.SignatureError as exc:
                self._verdicts[key] = (text(lang, "approval.refused.unverifiable", source=source,
                                            why=exc.render(lang)), None)
            else:
                if verdict.ok:
                    self._verdicts[key] = (None, verdict.key)
                else:
                    self._verdicts[key] = (text(lang, "approval.refused.signature", source=source,
                                                why=text(lang, verdict.code, key=verdict.key, **verdict.params)), None)
        return self._verdicts[key]

    def _person(self, entry, source):
        """Why the approver or the reason cannot count (identity, approvers, separation of duties), or None."""
        lang = self.lang
        by = entry.get("approved_by")
        problem = identity_problem(by)
        if problem:
            return text(lang, "approval.refused.identity", source=source, why=text(lang, problem))
        if identity_problem(entry.get("reason")):
            return text(lang, "approval.refused.reason", source=source)
        approvers = self.rules.approvers
        if approvers and identity_key(by) not in set(identity_key(a) for a in approvers):
            return text(lang, "approval.refused.approver", source=source, by=_yaml.short(by),
                        approvers=", ".join(approvers))
        if self.rules.separation:
            if not self.run_identities:
                return text(lang, "approval.refused.no_identity", source=source)
            accounts = self.rules.accounts_of(by)
            if accounts is None:
                # Which accounts a principal is cannot be guessed from its name: without the mapping, nothing counts.
                return text(lang, "approval.refused.no_accounts", source=source, by=_yaml.short(by))
            mine = set(identity_key(a) for a in accounts + [by])
            for who in self.run_identities:
                if identity_key(who) in mine:
                    return text(lang, "approval.refused.self", source=source, by=_yaml.short(by))
        return None

    def _refusal(self, entry, decision, host):
        """(why ``entry`` cannot count for ``decision`` - a text - or None, the signing key or None)."""
        lang = self.lang
        source = entry.get("source", "approvals")
        if not self.rules.usable:
            return text(lang, "approval.refused.no_root", source=source, why=self.rules.error), None
        draft = draft_problem(entry)
        if draft:
            return text(lang, draft, source=source), None
        if entry.get("channel") == EXTRA_VARS and not self.rules.extra_var_approvals:
            return text(lang, "approval.refused.extra_var", source=source), None
        if entry.get("ssot_digest") != decision.get("ssot_digest"):
            return text(lang, "approval.refused.digest", source=source, got=entry.get("ssot_digest"),
                        want=decision.get("ssot_digest")), None
        offered = set(o["id"] for o in decision.get("options") or [])
        chosen = str(entry.get("option"))
        if chosen not in offered and chosen != REJECT_OPTION:
            return text(lang, "approval.refused.option", source=source, option=_yaml.short(chosen),
                        options=", ".join(sorted(offered)) + ", " + REJECT_OPTION), None
        signed = bool(entry.get("signature"))
        if entry.get("environment") not in (None, "") or signed:
            if entry.get("environment") != self.environment:
                return text(lang, "approval.refused.environment", source=source,
                            got=_yaml.short(entry.get("environment") or "-"), want=self.environment), None
        card = _card.digest(decision, self.environment, host, lang)
        if entry.get("card") not in (None, "") or signed:
            if entry.get("card") != card:
                return text(lang, "approval.refused.card", source=source, want=card), None
        why, key = self._signature(entry, source)
        if why:
            return why, None
        return self._person(entry, source), key

    # --- one decision -------------------------------------------------------------------------------------------
    def resolve(self, decision, host):
        """The decision with its status and answer from the approvals that count for it; ``refusals`` names each
        approval of it that does not count, and why."""
        lang = self.lang
        resolved = dict(decision, status=PENDING)
        for key in ("answer", "refusals"):
            resolved.pop(key, None)
        refusals = []
        span = _decisions._validity(self.rules.validity)
        for entry in self.approvals:
            if entry.get("decision") != decision["id"]:
                continue
            source = entry.get("source", "approvals")
            why, key = self._refusal(entry, decision, host)
            at = expires = None
            if not why:
                try:
                    at = parse_time(entry.get("approved_at"), lang, "%s approved_at" % source)
                    expires = parse_time(entry["expires_at"], lang, "%s expires_at" % source) \
                        if entry.get("expires_at") else None
                except ApprovalError as exc:
                    why = str(exc)
                else:
                    if at > self.now + _decisions.CLOCK_SKEW:
                        why = text(lang, "approval.refused.future", source=source, at=iso(at))
                    elif expires is not None and expires <= at:
                        why = text(lang, "approval.refused.expiry_before", source=source)
            if why:
                refusals.append(why)
                continue
            try:
                until = expires or (at + span if span else None)
            except OverflowError:
                until = None
            if until is None:
                refusals.append(text(lang, "approval.refused.no_expiry", source=source))
                continue
            chosen = str(entry["option"])
            answer = {"option": chosen, "by": " ".join(str(entry["approved_by"]).split()), "at": iso(at),
                      "until": iso(until), "signed": key is not None}
            if key:
                answer["key"] = key
            if str(source).startswith("approvals.yml "):
                # The entry as approvals.yml holds it: verify finds it edited or removed after it governed a change.
                answer["entry_sha256"] = _decisions.entry_digest(entry)
            if entry.get("reason"):
                answer["reason"] = str(entry["reason"])
            if until <= self.now:
                refusals.append(text(lang, "approval.refused.expired", source=source, until=iso(until)))
                resolved.update(status=EXPIRED, answer=answer)
                continue
            resolved.update(status=REJECTED if chosen == REJECT_OPTION else APPROVED, answer=answer)
        if refusals:
            resolved["refusals"] = refusals
        resolved["how_to_approve"] = how_to_approve(lang, resolved)
        return resolved


def paste_entry(decision, environment, host, option=None, lang="pt-BR"):
    """A ready-to-paste approvals.yml entry (YAML text) for ``decision``; its placeholders never count."""
    opts = [o for dummy, o, dummy in _card.options(decision, lang)]
    return ("  - decision: %s\n    option: %s   # %s\n    environment: %s\n    card: \"%s\"\n    approved_by: \"%s\"\n"
            "    approved_at: \"%s\"\n    reason: \"%s\"\n    ssot_digest: %s\n"
            % (decision["id"], option if option in opts else (opts[0] if opts else "?"),
               " | ".join(opts + [REJECT_OPTION]), environment, _card.digest(decision, environment, host, lang),
               text(lang, "hitl.paste.by"), iso(_decisions.utc_now()), text(lang, "hitl.paste.reason"),
               decision.get("ssot_digest")))


def outcome(resolved, policy, proceed_options, host, interactive=False, workspace=""):
    """The gate's verdict over resolved decisions: what may change, what is settled without it, what waits (with
    the message naming each, why approvals did not count, and ready-to-paste entries - or, when signatures are
    required, the approve playbook command for each)."""
    lang = policy.lang
    proceed, declined, pending, refusals = [], [], [], []
    for d in resolved:
        refusals.extend(d.get("refusals") or [])
        if d["status"] == APPROVED and d["answer"]["option"] in proceed_options:
            proceed.append(d["id"])
        elif d["status"] in (APPROVED, REJECTED):
            declined.append(d["id"])
        else:
            pending.append(d["id"])
    waiting = [d for d in resolved if d["id"] in pending]
    for d in waiting:
        # An approval of an earlier version of the same divergence (other facts, so another id) is named too.
        family = d["id"].rsplit(".", 1)[0]
        for entry in policy.approvals:
            other = str(entry.get("decision", ""))
            if other != d["id"] and other.rsplit(".", 1)[0] == family:
                refusals.append(text(lang, "approval.refused.other_version", source=entry.get("source", "-"),
                                     other=other, id=d["id"]))
    first_option = next(iter(proceed_options), None)
    paste = "approvals:\n" + "".join(paste_entry(d, policy.environment, host, first_option, lang)
                                     for d in waiting) if waiting else ""
    approvals_path = policy.approvals_file or os.path.join(workspace, "approvals.yml")
    if waiting:
        mode = text(lang, "hitl.mode.interactive" if interactive else "hitl.mode.noninteractive")
        signed = policy.require_signatures
        lines = [text(lang, "hitl.fail_closed_signed" if signed else "hitl.fail_closed", count=len(waiting),
                      mode=mode, path=approvals_path)]
        lines += ["  [%s] %s (%s)" % (d["id"], _card.neutral(d.get("title", ""), 200), d["status"]) for d in waiting]
        if policy.file_error:
            lines.append(policy.file_error)
        if not policy.rules.usable:
            lines.append(policy.rules.error)
        lines += policy.rules.notes
        if signed:
            lines += refusals + [""] + [text(lang, "hitl.sign.use_approve", id=d["id"], workspace=workspace)
                                        for d in waiting]
        else:
            lines += refusals + ["", paste]
        msg = "\n".join(lines)
    else:
        msg = "proceed: %s; declined: %s" % (", ".join(proceed) or "-", ", ".join(declined) or "-")
    return dict(changed=False, decisions=resolved, proceed=proceed, declined=declined, pending=pending,
                refusals=refusals, paste=paste, msg=msg)
