# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The governance of one environment as a controller action reads it, at the moment it acts (docs/security.md).

PRIVATE: internal to ssot.governance; its API may change at any time (controller side).

Every controller action of the collection that settles a decision or makes a change starts here: the launcher's
extra vars checked, the workspace and the SSOT in force (confined to it) read from disk, the trust root loaded and
narrowed by the SSOT, the approvals read, the run's identities taken from the operating system. Nothing here comes
from a fact or a variable a task, an inventory or a play could have set - only the workspace a host is mapped to
(``ssot_workspace``) and the launcher inputs the guard allows.
"""

from __future__ import annotations

import os

from ansible_collections.ssot.governance.plugins.module_utils import _decisions, _ssot
from ansible_collections.ssot.governance.plugins.module_utils._text import message, operator_language
from ansible_collections.ssot.governance.plugins.plugin_utils import _card, _guard, _policy, _runctx, _store, _trust


class Refused(Exception):
    """The action cannot go on; the message says why and what to do."""


def environment_of(workspace):
    """The environment's name: the workspace folder's name (the postgresql store's namespace too)."""
    return _store.namespace_of(workspace)


class Context(object):
    """One environment's SSOT, trust rules and approvals, read by the controller now."""

    def __init__(self, action, task_vars, language=None):
        task_vars = task_vars or {}
        self.extra = _guard.launcher_vars(action._loader)
        lang = operator_language(language)
        refusal = _guard.refusal(self.extra, lang)
        if refusal:
            raise Refused(refusal)
        self.host = str(task_vars.get("inventory_hostname") or "localhost")
        workspace = task_vars.get("ssot_workspace")
        if workspace is not None and action._templar is not None:
            workspace = action._templar.template(workspace)
        if not isinstance(workspace, str) or not workspace:
            raise Refused(message(lang, "role.ssot.no_workspace"))
        self.workspace = os.path.realpath(os.path.expanduser(workspace))
        ssot_file = task_vars.get("ssot_file")
        if ssot_file is not None and action._templar is not None:
            ssot_file = action._templar.template(ssot_file)
        path, why = _guard.ssot_path(self.workspace, ssot_file)
        if why:
            raise Refused(message(lang, why[0], workspace=self.workspace, **why[1]))
        self.ssot_path = path
        try:
            loaded = _ssot.load_valid(path)
        except _ssot.SSOTError as exc:
            raise Refused(exc.render())
        self.ssot = loaded["ssot"]
        self.digest = loaded["digest"]
        self.lang = operator_language(language or loaded["language"])
        self.base_dir = os.path.dirname(path)
        self.environment = environment_of(self.workspace)
        self.rules = _trust.rules_for(self.ssot, self.base_dir, self.workspace, self.lang)
        self.identities = _guard.run_identities(self.extra)
        try:
            self.policy = _policy.Policy(self.rules, self.digest, self.environment, self.lang,
                                         os.path.join(self.workspace, "approvals.yml"),
                                         self.extra.get("ssot_approvals"), self.identities)
        except _decisions.ApprovalError as exc:
            raise Refused(str(exc))

    # --- decisions ---------------------------------------------------------------------------------------------
    def settle(self, decision):
        """A decision a module raised, as the controller knows it: its own digest, environment and host; None when
        it is not what its id says (a refused record)."""
        if not _decisions.consistent(decision):
            return None
        # Its words and phase from its kind and facts, never the text the module sent (a target could word a card
        # to mislead the approver).
        own = dict(_decisions.rendered_again(decision, self.lang), ssot_digest=self.digest,
                   environment=self.environment, host=self.host)
        return self.policy.resolve(own, self.host)

    def card(self, decision):
        return _card.render(decision, self.environment, self.host, self.lang)

    def require_recording(self):
        """A change acts only on a host whose environment this run is recording, in this play."""
        recorded = _runctx.recording(self.host)
        if recorded is None or os.path.realpath(recorded) != self.workspace:
            raise Refused(message(self.lang, "change.not_recorded", host=self.host, workspace=self.workspace))


def ask(ctx, resolved, retries=5):
    """Answers typed at a real terminal for the pending decisions among ``resolved``, as approvals dated now; None
    when no human is there. With signatures required, each answer is signed with the operator's ssh-agent key (or the
    operator is told to use the approve playbook). The answers count for this run only (approvals.yml is not
    written)."""
    from ansible_collections.ssot.governance.plugins.plugin_utils import _approvals, _terminal
    from ansible_collections.ssot.governance.plugins.module_utils import _sshsig
    from ansible.utils.display import Display
    interactive, dummy = _terminal.terminal_state()
    if not interactive:
        return None
    lang = ctx.lang
    answers = []
    waiting = [d for d in resolved if d["status"] not in (_decisions.APPROVED, _decisions.REJECTED)]
    for n, d in enumerate(waiting, 1):
        option = _terminal.prompt(ctx.card(d) + "\n> ", retries, lambda typed, d=d: _card.parse_answer(typed, d, lang))
        if option is False:
            return None
        if option is None:
            continue
        entry_base = {"decision": d["id"], "option": option, "environment": ctx.environment,
                      "card": _card.digest(d, ctx.environment, ctx.host, lang), "ssot_digest": d["ssot_digest"]}
        if ctx.policy.require_signatures:
            how = message(lang, "hitl.sign.use_approve", id=d["id"], workspace=ctx.workspace)
            try:
                identities = _approvals.signing_identities(ctx.rules.signers, now=ctx.policy.now)
            except _sshsig.SignatureError as exc:
                Display().warning("%s\n%s" % (exc.render(lang), how))
                continue
            if not identities:
                Display().warning(message(lang, "hitl.sign.no_agent_key") + "\n" + how)
                continue
            chosen = _approvals.choose(identities, lang, retries)
            if not chosen:
                continue
            principal, blob, key_file = chosen
            entry = _approvals.new_entry(entry_base, principal, message(lang, "hitl.terminal_reason"),
                                         ctx.rules.validity, ctx.policy.now)
            try:
                entry = _approvals.sign(entry, blob, key_file)
            except _sshsig.SignatureError as exc:
                Display().warning("%s\n%s" % (exc.render(lang), how))
                continue
        else:
            who = _terminal.prompt(message(lang, "hitl.ask.name") + "\n> ", retries,
                                   lambda typed: typed.strip() if _decisions.identity_problem(typed) is None else None)
            if not who:
                continue
            entry = dict(entry_base, approved_by=who, approved_at=_decisions.iso(_decisions.utc_now()),
                         reason=message(lang, "hitl.terminal_reason"))
        answers.append(dict(entry, source="terminal #%d" % n, channel="terminal"))
    return answers


def decide(ctx, decisions, proceed_options, interactive="auto", retries=5):
    """Resolve ``decisions`` (already settled by ``ctx``), ask at a terminal when one waits and a human is there,
    and return the gate's outcome (``proceed``, ``declined``, ``pending``, ``msg`` ...)."""
    resolved = list(decisions)
    asked = False
    if str(interactive).lower() not in ("false", "no", "0") and any(
            d["status"] not in (_decisions.APPROVED, _decisions.REJECTED) for d in resolved):
        answers = ask(ctx, resolved, retries)
        if answers is not None:
            asked = True
            ctx.policy.add(answers)
            resolved = [ctx.policy.resolve(dict((k, v) for k, v in d.items() if k != "how_to_approve"), ctx.host)
                        for d in resolved]
    return _policy.outcome(resolved, ctx.policy, proceed_options, ctx.host, asked, ctx.workspace)
