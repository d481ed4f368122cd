# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssot.governance.artifact_info: the module inspects the artifacts where they are; the decisions it raises, and the
provisioning path each artifact may take, are settled here, on the controller (plugin_utils/_observe.py)."""

from __future__ import annotations

from ansible_collections.ssot.governance.plugins.module_utils import _artifacts
from ansible_collections.ssot.governance.plugins.plugin_utils._observe import ObservingAction


class ActionModule(ObservingAction):

    MODULE = "ssot.governance.artifact_info"
    # Provisioning loads what these say (path, format, image id, path choice): only this run's, checked here.
    ATTESTS = ("artifacts", "pending")

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
