# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller half of every module that observes a target and may raise decisions (docs/security.md).

PRIVATE: internal to ssot.governance; its API may change at any time (controller side).

A target reports observations; the controller decides. The module runs where its host is and returns what it saw
(checks, findings, evidence, facts, pending decisions with their facts); its action, here on the controller, then:

- refuses every record the module had no right to make (a status or answer on a decision, a snapshot verdict, a
  rollback record, the SSOT in force ...), keeping only what its kind of module may propose, and names each
  refusal in the result (``refused_records``) - the recorder journals it;
- refuses a decision that is not what its id says (its facts, its kind's options);
- settles every decision with the controller's policy (approvals and signers never leave the controller),
  derives what depends on them (pending ids, the milestone, an artifact's provisioning path);
- attests the records with the run's key, so the recorder keeps them.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible_collections.ssot.governance.plugins.module_utils import _decisions
from ansible_collections.ssot.governance.plugins.module_utils._text import message, operator_language
from ansible_collections.ssot.governance.plugins.plugin_utils import _gate, _runctx


def refuse_claims(result, allowed, lang):
    """Remove from ``result`` the controller records a module may not make; returns what was refused."""
    refused = []
    for key in _runctx.CONTROLLER_RECORDS:
        if key in result and key not in allowed:
            result.pop(key)
            refused.append({"record": key, "why": message(lang, "refused.not_controller", record=key)})
    return refused


def settle_decisions(ctx, result, lang):
    """Every decision of ``result`` settled by the controller (or refused); pending ids and the milestone follow."""
    refused = []
    given = list(result.pop("decisions", None) or []) + ([result.pop("decision")] if result.get("decision") else [])
    by_id = {}
    for d in given:
        settled = ctx.settle(d)
        if settled is None:
            refused.append({"record": "decision", "id": str((d or {}).get("id") if isinstance(d, dict) else d)[:200],
                            "why": message(lang, "refused.inconsistent_decision")})
            continue
        by_id[settled["id"]] = settled
    decisions = list(by_id.values())
    result["decisions"] = decisions
    pending = [d for d in decisions if d["status"] != _decisions.APPROVED]
    result["pending"] = [d["id"] for d in pending]
    milestone = result.get("milestone")
    if isinstance(milestone, dict):
        steps = [s for s in milestone.get("next_steps") or [] if isinstance(s, str)]
        steps += [message(lang, "next.pending_decision", id=d["id"], title=d.get("title", "")) for d in pending]
        milestone["next_steps"] = steps
        if pending:
            milestone["status"] = "blocked"
    return by_id, refused


class ObservingAction(ActionBase):
    """Run the module of the same name on its host; settle what it reports on the controller."""

    TRANSFERS_FILES = False
    MODULE = None
    # Controller records this module may propose (checked by ``settle``); decisions are always settled here.
    MAY_PROPOSE = ("decision", "decisions", "milestone")
    # Whether the module raises decisions (the governance context is read to settle them).
    DECIDES = True
    # Outputs a later step relies on, attested with the records (an inventory's artifacts and their paths).
    ATTESTS = ()

    def run(self, tmp=None, task_vars=None):
        result = super(ObservingAction, self).run(tmp, task_vars)
        args = dict(self._task.args)
        lang = operator_language(args.get("language"))
        ctx = None
        host = str((task_vars or {}).get("inventory_hostname") or "localhost")
        if self.DECIDES:
            try:
                ctx = _gate.Context(self, task_vars, args.get("language"))
            except _gate.Refused as exc:
                result.update(failed=True, msg=str(exc))
                return result
            lang = ctx.lang
            host = ctx.host
            # The SSOT in force is the one the controller read, whatever a variable says.
            args["ssot_digest"] = ctx.digest
        args.setdefault("language", lang)
        try:
            args = self.module_args(args, task_vars, lang)
        except _gate.Refused as exc:
            result.update(failed=True, msg=str(exc))
            return result
        out = self.observe(args, task_vars)
        refused = refuse_claims(out, self.MAY_PROPOSE, lang)
        if ctx is not None:
            by_id, more = settle_decisions(ctx, out, lang)
            refused += more
            self.settle(ctx, out, by_id)
        else:
            refused += self.settle(None, out, {}) or []
        if refused:
            out["refused_records"] = refused
            self._display.warning(message(lang, "refused.warning", module=self.MODULE, host=host, records=", ".join(
                r["record"] for r in refused)))
        _runctx.attest(out, host, self.ATTESTS)
        result.update(out)
        return result

    def observe(self, args, task_vars):
        """What the module reports: run where its host is (a subclass may observe the controller itself in-process
        when that is where its host is)."""
        return self._execute_module(module_name=self.MODULE, module_args=args, task_vars=task_vars)

    def module_args(self, args, task_vars, lang):
        """The module's arguments as the controller sends them (a subclass may add what only it can know)."""
        return args

    def settle(self, ctx, result, decisions):
        """What depends on the settled ``decisions`` (a module's own outputs); returns more refusals, if any."""
        return None


class SnapshotVerdict(ObservingAction):
    """A snapshot's verification or restore test: the verdict is a controller record, kept only for the snapshot
    the task asked about and, for a verification, only when the manifest the module read is the one expected."""

    DECIDES = False
    MAY_PROPOSE = ("snapshot",)

    def recorded_manifest(self, args, task_vars):
        """``args`` with ``manifest_sha256`` the one a trusted (sealed) journal line recorded when the snapshot at
        ``path`` was taken, read here on the controller (Refused when the task gives another); without a record, the
        task's own value and a warning."""
        import os
        from ansible_collections.ssot.governance.plugins.plugin_utils import _verified
        ctx = _gate.Context(self, task_vars, args.get("language"))
        journal = _verified.Journal(ctx.workspace, ctx.rules, ctx.lang)
        if journal.refusal(ctx.workspace, ctx.lang):
            raise _gate.Refused(journal.refusal(ctx.workspace, ctx.lang))
        recorded = journal.manifest(os.path.normpath(str(args.get("path") or "")).rstrip("/"))
        given = args.get("manifest_sha256")
        if recorded and given and given != recorded:
            raise _gate.Refused(message(ctx.lang, "snapshot.verify.not_recorded", path=args.get("path"),
                                        given=given, recorded=recorded))
        if recorded:
            args["manifest_sha256"] = recorded
        elif not given:
            self._display.warning(message(ctx.lang, "snapshot.verify.no_record", workspace=ctx.workspace,
                                          path=args.get("path")) + (" " + message(
                                              ctx.lang, "change.untrusted_lines", count=journal.untrusted)
                                              if journal.untrusted else ""))
        return args

    def settle(self, ctx, result, decisions):
        import os
        lang = operator_language(self._task.args.get("language"))
        asked = os.path.normpath(str(self._task.args.get("path") or ""))
        record = result.get("snapshot")
        if not isinstance(record, dict):
            return None
        expected = self._task.args.get("manifest_sha256")
        seen = result.get("manifest_sha256")
        if os.path.normpath(str(record.get("path") or "")) != asked:
            result.pop("snapshot")
            return [{"record": "snapshot", "why": message(lang, "refused.other_snapshot", path=asked)}]
        if expected and seen and seen != expected and record.get("status") == "verified":
            record["status"] = "failed"
        if expected and seen != expected and record.get("restore") == "passed":
            record["restore"] = "failed"
        return None
