# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of ssot.governance.ssot_info: refuse a run whose launcher set variables the
collection owns, then load the SSOT (the module) and add who runs the play."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible_collections.ssot.governance.plugins.module_utils import _decisions, _sshsig
from ansible_collections.ssot.governance.plugins.module_utils._text import message, operator_language
from ansible_collections.ssot.governance.plugins.plugin_utils import _fleet, _guard


class ActionModule(ActionBase):

    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        extra = _guard.launcher_vars(self._loader)
        lang = operator_language(self._task.args.get("language"))
        refusal = _guard.refusal(extra, lang)
        if refusal:
            result.update(failed=True, refused_variables=_guard.refused(extra), msg=refusal)
            return result
        # This host's workspace could not be opened by the recorder (missing, busy, shared): it fails alone.
        why = _fleet.refusal_for((task_vars or {}).get("inventory_hostname"))
        if why:
            result.update(failed=True, host_refused=True, msg=message(lang, "fleet.refused", reason=why))
            return result
        args = dict(self._task.args)
        approvals_file = args.pop("approvals_file", None)
        result.update(self._execute_module(module_name="ssot.governance.ssot_info", module_args=args,
                                           task_vars=task_vars))
        if not result.get("failed"):
            result["run_identities"] = _guard.run_identities(extra)
            # The approvals a launcher gave (an AWX survey's text area gives text): checked here, once.
            try:
                result["launcher_approvals"] = _decisions.launcher_approvals(extra.get("ssot_approvals"),
                                                                             result.get("language") or "pt-BR")
                _decisions.check_entries(result["launcher_approvals"], "ssot_approvals", result.get("language"))
            except _decisions.ApprovalError as exc:
                result.update(failed=True, msg=str(exc))
            if approvals_file:
                self._workspace_files(result, approvals_file)
        return result

    @staticmethod
    def _workspace_files(result, approvals_file):
        """What the decision modules need from the workspace, read here on the controller for whichever host they
        run on: the approvals file's entries (checked; or why they cannot count) and the allowed-signers text."""
        lang = result.get("language") or "pt-BR"
        try:
            result["file_approvals"] = _decisions.load_approvals(approvals_file, lang)
            result["file_approvals_error"] = None
        except _decisions.ApprovalError as exc:
            result["file_approvals"], result["file_approvals_error"] = [], str(exc)
        signers = result.get("allowed_signers")
        result["allowed_signers_text"] = None
        if signers:
            try:
                result["allowed_signers_text"] = _sshsig.allowed_signers_text(signers)
            except _sshsig.SignatureError:
                pass  # the SSOT check already named an unreadable file
