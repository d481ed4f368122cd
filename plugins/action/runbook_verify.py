# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssot.governance.runbook_verify: the module on a workspace folder (files store), or the same verification here, on
the controller, over the records of the postgresql store (plugin_utils/_store.py), problems named by their row."""

from __future__ import annotations

import os

from ansible.plugins.action import ActionBase
from ansible_collections.ssot.governance.plugins.module_utils import _chain
from ansible_collections.ssot.governance.plugins.plugin_utils import _store


class ActionModule(ActionBase):

    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        kind, dsn_env = _store.configured()
        if kind == "files":
            return self._execute_module(task_vars=task_vars)
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        lang = args.get("language") or "pt-BR"
        workspace = os.path.realpath(os.path.expanduser(str(args.get("workspace") or "")))
        try:
            store = _store.PgStore(workspace, dsn_env, lang)
        except _store.StoreError as exc:
            return dict(result, failed=True, msg=str(exc))
        try:
            report = _store.verify(store, args.get("allowed_signers"), bool(args.get("require_seals")), lang)
        except (_store.StoreError, OSError) as exc:
            return dict(result, failed=True, msg=str(exc))
        finally:
            store.release()
        result.update(report, changed=False)
        fail = args.get("fail_on_problem", True)
        if report["problems"] and fail not in (False, "false", "no", "False"):
            result.update(failed=True, msg=_chain.problem_message(report, lang))
        return result
