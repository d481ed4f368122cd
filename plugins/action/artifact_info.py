# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssot.governance.artifact_info: the module inspects the artifacts where they are; the decisions it raises, and the
provisioning path each artifact may take, are settled here, on the controller (plugin_utils/_observe.py).

Artifacts on the controller (the task delegated to ``localhost``, reached by the ``local`` connection, no privilege
escalation) are inspected here, in-process, with the module's own code and argument spec: no module round trip, and
no interpreter an inventory may choose for ``localhost``."""

from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.ssot.governance.plugins.module_utils import _artifacts
from ansible_collections.ssot.governance.plugins.plugin_utils._observe import ObservingAction


class ActionModule(ObservingAction):

    MODULE = "ssot.governance.artifact_info"
    # Provisioning loads what these say (path, format, image id, path choice): only this run's, checked here.
    ATTESTS = ("artifacts", "pending")

    def observe(self, args, task_vars):
        if getattr(self._connection, "transport", None) != "local" or self._play_context.become:
            return super(ActionModule, self).observe(args, task_vars)
        checked = ArgumentSpecValidator(_artifacts.argument_spec()).validate(args)
        if checked.error_messages:
            return {"failed": True, "msg": "; ".join(checked.error_messages)}
        try:
            return _artifacts.inventory(checked.validated_parameters)
        except (_artifacts.ArtifactError, OSError) as exc:
            return {"failed": True, "msg": str(exc)}

    def settle(self, ctx, result, decisions):
        settled = list(decisions.values())
        for artifact in result.get("artifacts") or []:
            if not isinstance(artifact, dict):
                continue
            ids = [i for i in artifact.get("decisions") or [] if isinstance(i, str)]
            # A decision the controller refused leaves its artifact blocked, never delivered.
            artifact["path_choice"] = "blocked" if any(i not in decisions for i in ids) else \
                _artifacts.path_choice(ids, settled)
        return None
