# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssot.governance.export runs here, on the controller: an environment's records from the postgresql store into a
folder - the journal, evidence files and the views exactly as the recorder stored them (docs/awx.md)."""

from __future__ import annotations

import os

from ansible.plugins.action import ActionBase
from ansible_collections.ssot.governance.plugins.module_utils._text import message, operator_language
from ansible_collections.ssot.governance.plugins.plugin_utils import _store


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("workspace", "dest", "language"))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        lang = operator_language(self._task.args.get("language"))
        workspace = self._task.args.get("workspace")
        if not isinstance(workspace, str) or not workspace:
            return dict(result, failed=True, msg=message(lang, "role.ssot.no_workspace"))
        workspace = os.path.realpath(os.path.expanduser(workspace))
        dest = os.path.realpath(os.path.expanduser(self._task.args.get("dest") or workspace))
        kind, dsn_env = _store.configured()
        if kind != "postgresql":
            return dict(result, failed=True, msg=message(lang, "export.not_postgresql", kind=kind))
        try:
            store = _store.PgStore(workspace, dsn_env, lang)
        except _store.StoreError as exc:
            return dict(result, failed=True, msg=str(exc))
        try:
            # Under the environment's lock: never the middle of a run.
            store.lock()
            if self._task.check_mode:
                journal, files = store.snapshot()
                done = {"lines": journal.count(b"\n"), "files": len(files)}
            else:
                done = _store.export(store, dest)
        except _store.StoreBusy as exc:
            return dict(result, failed=True, msg=message(lang, "recorder.busy", workspace=workspace,
                                                         holder=exc.holder))
        except _store.StoreError as exc:
            return dict(result, failed=True, msg=str(exc))
        except OSError as exc:
            return dict(result, failed=True, msg=message(lang, "recorder.cannot_create", workspace=dest, error=exc))
        finally:
            store.release()
        msg = message(lang, "export.done", namespace=store.namespace, folder=dest, lines=done["lines"],
                      files=done["files"])
        if done.get("skipped"):
            # Rows that are not records (an approvals.yml, an allowed_signers ...) are never written out.
            msg += " " + message(lang, "export.skipped", files=", ".join(done["skipped"][:20]))
        return dict(result, changed=done["lines"] > 0, dest=dest, namespace=store.namespace, lines=done["lines"],
                    files=done["files"], skipped=done.get("skipped", []), msg=msg)
