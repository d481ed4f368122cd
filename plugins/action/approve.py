# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssot.governance.approve runs here, on the approver's machine: show a decision's card at the terminal, accept only
an explicit answer, sign it with the approver's SSH key and add it to approvals.yml (docs/hitl.md)."""

from __future__ import annotations

import json
import os
import stat

from ansible.plugins.action import ActionBase
from ansible_collections.ssot.governance.plugins.module_utils import _decisions, _sshsig, _ssot
from ansible_collections.ssot.governance.plugins.module_utils._text import message, operator_language
from ansible_collections.ssot.governance.plugins.plugin_utils import _approvals, _guard, _store, _terminal

RUNBOOK_MAX_BYTES = 64 * 1024 * 1024


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("workspace", "ssot_file", "decision", "key", "prompt_retries", "language"))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        try:
            result.update(self._approve(self._task.args))
        except _Refused as exc:
            result.update(failed=True, msg=exc.args[0])
        return result

    def _approve(self, args):
        lang = operator_language(args.get("language"))
        extra = _guard.launcher_vars(self._loader)
        refusal = _guard.refusal(extra, lang)
        if refusal:
            raise _Refused(refusal)
        workspace = args.get("workspace")
        wanted = args.get("decision")
        if not isinstance(workspace, str) or not workspace or not isinstance(wanted, str) or not wanted:
            raise _Refused(message(lang, "approve.usage"))
        workspace = os.path.realpath(os.path.expanduser(workspace))
        ssot_path = os.path.realpath(os.path.join(workspace, str(args.get("ssot_file") or "ssot.yml")))
        try:
            loaded = _ssot.load_valid(ssot_path)
        except _ssot.SSOTError as exc:
            raise _Refused(exc.render())
        lang = operator_language(args.get("language") or loaded["language"])
        rules = _ssot.hitl_rules(loaded["ssot"], os.path.dirname(ssot_path))
        signers = rules["allowed_signers"]
        if not signers:
            raise _Refused(message(lang, "approve.no_signers"))
        interactive, why = _terminal.terminal_state()
        if not interactive:
            raise _Refused(message(lang, "approve.no_terminal", why=why))
        decision = self._decision(workspace, wanted, loaded["digest"], lang)
        try:
            identities = _approvals.signing_identities(signers, args.get("key"))
        except _sshsig.SignatureError as exc:
            raise _Refused(exc.render(lang))
        if not identities:
            raise _Refused(message(lang, "approve.no_key", file=os.path.basename(signers)))
        retries = int(args.get("prompt_retries") or 5)
        option = _terminal.prompt(_decisions.card(decision, lang) + "\n> ", retries,
                                  lambda typed: _decisions.parse_answer(typed, decision, lang))
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
        entry = _approvals.new_entry(decision, option, principal, reason, rules["approval_validity"])
        try:
            entry = _approvals.sign(entry, blob, key_file)
        except _sshsig.SignatureError as exc:
            raise _Refused(exc.render(lang))
        # The entry must count as the gate will count it (or be refused for the same reason) before it is kept.
        policy = _decisions.Policy({"language": lang, "ssot_digest": loaded["digest"],
                                    "hitl": dict(rules, require_signatures=True)})
        why, key = policy.signature(dict(entry, source="approve"))
        if why:
            raise _Refused(why)
        path = os.path.join(workspace, "approvals.yml")
        try:
            _approvals.append(path, entry, lang)
        except _approvals.ApproveError as exc:
            raise _Refused(exc.render(lang) + "\n" + _approvals.entry_text(entry))
        except _decisions.ApprovalError as exc:
            raise _Refused(str(exc) + "\n" + _approvals.entry_text(entry))
        return dict(changed=True, approval=entry, key=key, path=path,
                    msg=message(lang, "approve.done", id=decision["id"], option=option, by=principal, key=key,
                                path=path))

    @staticmethod
    def _decision(workspace, wanted, digest, lang):
        """The decision as the last run recorded it (runbook.json), raised under the SSOT in force."""
        path = os.path.join(workspace, "runbook.json")
        try:
            if _store.configured()[0] != "files":
                # The recorder keeps its records in a database: the runbook the last run stored there.
                runbook = json.loads(_store.read_file(workspace, "runbook.json", lang)[:RUNBOOK_MAX_BYTES])
            else:
                # Never a link, never a FIFO or device (it would block): the recorder's regular file only.
                fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
                with os.fdopen(fd, "rb") as fh:
                    if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                        raise ValueError(message(lang, "yaml.not_regular"))
                    runbook = json.loads(fh.read(RUNBOOK_MAX_BYTES).decode("utf-8"))
        except _store.StoreError as exc:
            raise _Refused(str(exc))
        except (OSError, ValueError) as exc:
            raise _Refused(message(lang, "approve.no_runbook", path=path, error=getattr(exc, "strerror", "") or exc))
        decisions = runbook.get("decisions") if isinstance(runbook, dict) else None
        found = [d for d in decisions if isinstance(d, dict) and d.get("id") == wanted] \
            if isinstance(decisions, list) else []
        if not found:
            raise _Refused(message(lang, "approve.unknown_decision", id=wanted))
        decision = found[-1]
        options = decision.get("options")
        if not isinstance(options, list) or not all(isinstance(o, dict) and isinstance(o.get("id"), str)
                                                    for o in options):
            raise _Refused(message(lang, "approve.no_runbook", path=path,
                                   error=message(lang, "approve.malformed_decision", id=wanted)))
        if decision.get("ssot_digest") != digest:
            raise _Refused(message(lang, "approve.stale_decision", id=wanted))
        return decision


class _Refused(Exception):
    """The approval cannot be given; the message says why and what to do."""
