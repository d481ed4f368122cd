# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssot.governance.hitl_gate runs here, on the controller, and trusts no variable for its verdict.

It reads the SSOT file itself (its digest and HITL rules), the workspace's approvals.yml itself,
works out who runs the play from the operating system, and asks at the terminal itself - only
when ansible-playbook's own stdin is a terminal in the foreground and nothing marks the run as
automated. A run whose launcher set a variable the collection owns is refused here too, so
skipping the ssot role's tasks does not skip the check.
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.ssot.governance.plugins.module_utils import _decisions, _sshsig, _ssot
from ansible_collections.ssot.governance.plugins.module_utils._text import message, operator_language
from ansible_collections.ssot.governance.plugins.plugin_utils import _approvals, _guard, _terminal


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("decisions", "proceed_options", "interactive", "prompt_retries", "workspace",
                             "ssot_file", "language"))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        lang = operator_language(args.get("language"))
        extra = _guard.launcher_vars(self._loader)
        refusal = _guard.refusal(extra, lang)
        if refusal:
            result.update(failed=True, refused_variables=_guard.refused(extra), msg=refusal)
            return result
        workspace = args.get("workspace")
        if not isinstance(workspace, str) or not workspace:
            result.update(failed=True, msg=message(lang, "role.ssot.no_workspace"))
            return result
        workspace = os.path.realpath(os.path.expanduser(workspace))
        ssot_path = os.path.realpath(os.path.join(workspace, str(args.get("ssot_file") or "ssot.yml")))
        try:
            loaded = _ssot.load_valid(ssot_path)
        except _ssot.SSOTError as exc:
            result.update(failed=True, msg=exc.render())
            return result
        lang = operator_language(args.get("language") or loaded["language"])
        approvals_file = os.path.join(workspace, "approvals.yml")
        params = {"language": lang, "ssot_digest": loaded["digest"], "hitl": dict(
            _ssot.hitl_rules(loaded["ssot"], os.path.dirname(ssot_path)), approvals_file=approvals_file,
            approvals=extra.get("ssot_approvals") or [], run_identities=_guard.run_identities(extra))}
        try:
            policy = _decisions.Policy(params)
        except _decisions.ApprovalError as exc:
            result.update(failed=True, msg=str(exc))
            return result
        decisions = self._decisions(args.get("decisions"), loaded["digest"], lang)
        proceed_options = [str(o) for o in args.get("proceed_options") or []]
        resolved = [policy.resolve(d) for d in decisions]
        asked = False
        if str(args.get("interactive", "auto")).lower() != "false" and any(
                d["status"] not in (_decisions.APPROVED, _decisions.REJECTED) for d in resolved):
            answers = self._ask(resolved, lang, int(args.get("prompt_retries") or 5), policy, workspace)
            if answers is not None:
                asked = True
                policy.approvals = policy.approvals + answers
                resolved = [policy.resolve(d) for d in decisions]
        result.update(_decisions.outcome(resolved, policy.approvals, proceed_options, asked, approvals_file, lang,
                                         policy.require_signatures))
        return result

    @staticmethod
    def _decisions(given, digest, lang):
        """The decisions to resolve. One raised under another SSOT than the file's stays pending, whatever it claims."""
        out = []
        for d in given if isinstance(given, list) else []:
            if not isinstance(d, dict) or not isinstance(d.get("id"), str):
                raise AnsibleError(message(lang, "hitl.bad_decision"))
            d = dict(d, status=_decisions.PENDING)
            d.pop("answer", None)
            if d.get("ssot_digest") != digest:
                d["ssot_digest"] = digest
                d["refusals"] = [message(lang, "hitl.stale_decision", id=d["id"])]
                d["stale"] = True
            out.append(d)
        return out

    def _ask(self, resolved, lang, retries, policy, workspace):
        """Answers typed at a real terminal, as approvals dated now; None when no human is there. When the SSOT
        requires signatures, each answer is signed with the operator's ssh-agent key (or the operator is told to
        use the approve playbook)."""
        interactive, _why = _terminal.terminal_state()
        if not interactive:
            return None
        answers = []
        for n, d in enumerate([d for d in resolved if d["status"] not in (_decisions.APPROVED, _decisions.REJECTED)
                               and not d.get("stale")], 1):
            option = _terminal.prompt(_decisions.card(d, lang) + "\n> ", retries,
                                      lambda typed, d=d: _decisions.parse_answer(typed, d, lang))
            if option is False:
                return None
            if option is None:
                continue
            if policy.require_signatures:
                signed = self._signed(d, option, policy, lang, retries, workspace)
                if signed:
                    answers.append(dict(signed, source="terminal #%d" % n, channel="terminal"))
                continue
            who = _terminal.prompt(message(lang, "hitl.ask.name") + "\n> ", retries,
                                   lambda typed: typed.strip() if _decisions.identity_problem(typed) is None else None)
            if not who:
                continue
            answers.append({"decision": d["id"], "option": option, "approved_by": who,
                            "approved_at": _decisions.iso(_decisions.utc_now()),
                            "reason": message(lang, "hitl.terminal_reason"), "ssot_digest": d["ssot_digest"],
                            "source": "terminal #%d" % n, "channel": "terminal"})
        return answers

    @staticmethod
    def _signed(decision, option, policy, lang, retries, workspace):
        """The operator's answer signed with a key of their ssh-agent that the allowed signers list for approvals;
        None (the decision stays pending) when there is none - the operator is told to use the approve playbook."""
        from ansible.utils.display import Display
        display = Display()
        how = message(lang, "hitl.sign.use_approve", id=decision["id"], workspace=workspace)
        try:
            identities = _approvals.signing_identities(policy.allowed_signers, now=policy.now) \
                if policy.allowed_signers else []
        except _sshsig.SignatureError as exc:
            display.warning("%s\n%s" % (exc.render(lang), how))
            return None
        if not identities:
            display.warning(message(lang, "hitl.sign.no_agent_key") + "\n" + how)
            return None
        chosen = _approvals.choose(identities, lang, retries)
        if not chosen:
            return None
        principal, blob, key_file = chosen
        entry = _approvals.new_entry(decision, option, principal, message(lang, "hitl.terminal_reason"),
                                     policy.validity, policy.now)
        try:
            return _approvals.sign(entry, blob, key_file)
        except _sshsig.SignatureError as exc:
            display.warning("%s\n%s" % (exc.render(lang), how))
            return None
