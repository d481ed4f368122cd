# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssot.governance.hitl_gate runs here, on the controller, and trusts no variable for its verdict.

It takes only decisions a controller action of this run settled (each carries that action's attestation: a decision
given as a variable, a fact or an inventory value is refused), reads the SSOT file, the trust root and the
workspace's approvals.yml itself (plugin_utils/_gate.py), works out who runs the play from the operating system,
and asks at the terminal itself - only when ansible-playbook's own stdin is a terminal in the foreground and nothing
marks the run as automated. Changes do not rest on its verdict: each change checks its own approval
(ssot.governance.change).
"""

from __future__ import annotations

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.ssot.governance.plugins.module_utils._text import message, operator_language
from ansible_collections.ssot.governance.plugins.plugin_utils import _gate, _runctx


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("decisions", "proceed_options", "interactive", "prompt_retries", "workspace",
                             "ssot_file", "language"))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        try:
            ctx = _gate.Context(self, task_vars, args.get("language"))
        except _gate.Refused as exc:
            result.update(failed=True, msg=str(exc))
            return result
        given = args.get("decisions")
        if not isinstance(given, list):
            raise AnsibleError(message(operator_language(args.get("language")), "hitl.bad_decision"))
        settled, refused = [], []
        for d in given:
            # Only what this run's controller settled for this host: a record from anywhere else proves nothing.
            if not _runctx.decision_attested(d, ctx.host):
                refused.append({"record": "decision", "id": str(d.get("id") if isinstance(d, dict) else d)[:200],
                                "why": message(ctx.lang, "hitl.unattested")})
                continue
            decision = ctx.settle(dict((k, v) for k, v in d.items() if k not in (
                _runctx.DECISION_ATTESTATION, "status", "answer", "refusals", "how_to_approve")))
            if decision is not None:
                settled.append(decision)
        proceed_options = [str(o) for o in args.get("proceed_options") or []]
        out = _gate.decide(ctx, settled, proceed_options, args.get("interactive", "auto"),
                           int(args.get("prompt_retries") or 5))
        if refused:
            out["refused_records"] = refused
            out["pending"] = list(out["pending"]) + [r["id"] for r in refused]
            out["msg"] = "\n".join([message(ctx.lang, "hitl.unattested_count", count=len(refused))] + [
                "  [%s]" % r["id"] for r in refused] + ([out["msg"]] if out["msg"] else []))
        _runctx.attest(out, ctx.host)
        result.update(out)
        return result
