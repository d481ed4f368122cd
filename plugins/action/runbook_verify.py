# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssot.governance.runbook_verify runs here, on the controller, in ansible-playbook's own process: the records of a
workspace folder or of the postgresql store re-walked, their seals checked against the trust root (as the SSOT
narrows it) unless the auditor gives their own allowed-signers file (plugin_utils/_store.py, docs/security.md)."""

from __future__ import annotations

import os

from ansible.plugins.action import ActionBase
from ansible_collections.ssot.governance.plugins.module_utils import _chain, _ssot, _sshsig
from ansible_collections.ssot.governance.plugins.module_utils._text import operator_language
from ansible_collections.ssot.governance.plugins.plugin_utils import _guard, _store, _trust


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("workspace", "allowed_signers", "require_seals", "fail_on_problem", "language",
                             "ssot_file"))

    def _rules(self, workspace, ssot_file, lang):
        """The signers and whether seals are required: the trust root as the workspace's SSOT narrows it (an SSOT that
        does not load leaves the root as it is)."""
        path, why = _guard.ssot_path(workspace, ssot_file)
        ssot = {}
        if not why:
            try:
                ssot = _ssot.load_valid(path)["ssot"]
            except _ssot.SSOTError:
                ssot = {}
        return _trust.rules_for(ssot, os.path.dirname(path) if path else workspace, workspace, lang)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        lang = operator_language(args.get("language"))
        workspace = os.path.realpath(os.path.expanduser(str(args.get("workspace") or "")))
        given = args.get("allowed_signers")
        require = str(args.get("require_seals", False)).lower() in ("true", "yes", "1")
        if given:
            # The auditor's own copy of the root, kept outside the workspace: seals are then required.
            signers, require = given, True
        else:
            rules = self._rules(workspace, args.get("ssot_file"), lang)
            signers, require = (rules.signers or None), require or rules.require_seals
            if rules.root is None and rules.error:
                result.setdefault("notes", []).append(rules.error)
        kind, dsn_env = _store.configured()
        try:
            if kind == "files":
                report = _chain.verify(workspace, signers, require, lang=lang)
            else:
                store = _store.PgStore(workspace, dsn_env, lang)
                try:
                    report = _store.verify(store, signers, require, lang)
                finally:
                    store.release()
        except (_store.StoreError, OSError, _sshsig.SignatureError) as exc:
            return dict(result, failed=True, msg=exc.render(lang) if isinstance(exc, _sshsig.SignatureError)
                        else str(exc))
        result.update(report, changed=False)
        fail = args.get("fail_on_problem", True)
        if report["problems"] and fail not in (False, "false", "no", "False"):
            result.update(failed=True, msg=_chain.problem_message(report, lang))
        return result
