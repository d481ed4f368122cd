# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssot.governance.approve runs here, on the approver's machine: show a decision's card at the terminal - built from
sealed journal lines, never from a view file - accept only an explicit answer, sign it (binding the card and the
environment) with the approver's SSH key and add it to approvals.yml (docs/hitl.md, docs/security.md)."""

from __future__ import annotations

import os

from ansible.plugins.action import ActionBase
from ansible_collections.ssot.governance.plugins.module_utils import _decisions, _sshsig
from ansible_collections.ssot.governance.plugins.module_utils._text import message, operator_language
from ansible_collections.ssot.governance.plugins.plugin_utils import (
    _approvals, _card, _gate, _store, _terminal, _verified)


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("workspace", "ssot_file", "decision", "key", "prompt_retries", "language"))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        try:
            result.update(self._approve(self._task.args, task_vars))
        except _Refused as exc:
            result.update(failed=True, msg=exc.args[0])
        return result

    def _approve(self, args, task_vars):
        lang = operator_language(args.get("language"))
        wanted = args.get("decision")
        if not isinstance(wanted, str) or not wanted:
            raise _Refused(message(lang, "approve.usage"))
        try:
            ctx = _gate.Context(self, dict(task_vars or {}, ssot_workspace=args.get("workspace")),
                                args.get("language"))
        except _gate.Refused as exc:
            raise _Refused(str(exc))
        lang = ctx.lang
        if not ctx.rules.usable:
            raise _Refused(ctx.rules.error)
        if not ctx.rules.signers:
            raise _Refused(message(lang, "approve.no_signers"))
        interactive, why = _terminal.terminal_state()
        if not interactive:
            raise _Refused(message(lang, "approve.no_terminal", why=why))
        decision, host = self._decision(ctx, wanted)
        try:
            identities = _approvals.signing_identities(ctx.rules.signers, args.get("key"))
        except _sshsig.SignatureError as exc:
            raise _Refused(exc.render(lang))
        card = _card.render(decision, ctx.environment, host, lang)
        if not identities:
            # The approver still sees what was asked (and can hand it to someone whose key the root holds).
            self._display.display(card)
            raise _Refused(message(lang, "approve.no_key", file=ctx.rules.root.path))
        retries = int(args.get("prompt_retries") or 5)
        option = _terminal.prompt(card + "\n> ", retries,
                                  lambda typed: _card.parse_answer(typed, decision, lang))
        if not option:
            raise _Refused(message(lang, "approve.no_answer", id=decision["id"]))
        chosen = _approvals.choose(identities, lang, retries)
        if not chosen:
            raise _Refused(message(lang, "approve.no_answer", id=decision["id"]))
        principal, blob, key_file = chosen
        reason = _terminal.prompt(message(lang, "approve.ask.reason") + "\n> ", retries,
                                  lambda typed: typed.strip() if _decisions.identity_problem(typed) is None else None)
        if not reason:
            raise _Refused(message(lang, "approve.no_answer", id=decision["id"]))
        base = {"decision": decision["id"], "option": option, "environment": ctx.environment,
                "card": _card.digest(decision, ctx.environment, host, lang), "ssot_digest": decision["ssot_digest"]}
        entry = _approvals.new_entry(base, principal, reason, ctx.rules.validity)
        try:
            entry = _approvals.sign(entry, blob, key_file)
        except _sshsig.SignatureError as exc:
            raise _Refused(exc.render(lang))
        # The entry must count as the gate will count it (or be refused for the same reason) before it is kept.
        ctx.policy.approvals = [dict(entry, source="approve")]
        resolved = ctx.policy.resolve(decision, host)
        if resolved["status"] not in (_decisions.APPROVED, _decisions.REJECTED):
            raise _Refused("\n".join(resolved.get("refusals") or [message(lang, "approve.no_answer", id=decision["id"])]))
        path = os.path.join(ctx.workspace, "approvals.yml")
        try:
            _approvals.append(path, entry, lang)
        except _approvals.ApproveError as exc:
            raise _Refused(exc.render(lang) + "\n" + _approvals.entry_text(entry))
        except _decisions.ApprovalError as exc:
            raise _Refused(str(exc) + "\n" + _approvals.entry_text(entry))
        key = (resolved.get("answer") or {}).get("key")
        return dict(changed=True, approval=entry, key=key, path=path,
                    msg=message(lang, "approve.done", id=decision["id"], option=option, by=principal, key=key,
                                path=path))

    @staticmethod
    def _decision(ctx, wanted):
        """The decision as the journal recorded it - only a line whose chain holds and that a valid seal covers, never
        a view file - raised under the SSOT in force, in this environment, and what its id says it is."""
        try:
            journal = _verified.Journal(ctx.workspace, ctx.rules, ctx.lang)
        except _store.StoreError as exc:
            raise _Refused(str(exc))
        if journal.refusal(ctx.workspace, ctx.lang):
            raise _Refused(journal.refusal(ctx.workspace, ctx.lang))
        found = journal.decision(wanted)
        if found is None:
            hint = " " + message(ctx.lang, "change.untrusted_lines", count=journal.untrusted) if journal.untrusted else ""
            raise _Refused(message(ctx.lang, "approve.unknown_decision", id=wanted) + hint)
        dropped = ("status", "answer", "refusals", "how_to_approve", "raised_at", "run_id")
        decision = dict((k, v) for k, v in found.items() if k not in dropped)
        if not _decisions.consistent(decision):
            raise _Refused(message(ctx.lang, "approve.malformed_decision", id=wanted))
        if decision.get("ssot_digest") != ctx.digest:
            raise _Refused(message(ctx.lang, "approve.stale_decision", id=wanted))
        if decision.get("environment") not in (None, ctx.environment):
            raise _Refused(message(ctx.lang, "approval.refused.environment", source=wanted,
                                   got=decision.get("environment"), want=ctx.environment))
        return decision, str(decision.get("host") or ctx.host)


class _Refused(Exception):
    """The approval cannot be given; the message says why and what to do."""
