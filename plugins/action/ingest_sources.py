# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssot.governance.ingest_sources: the module finds the sources and plans where the target is; the load and reload
decisions it raises are settled here, on the controller (plugin_utils/_observe.py)."""

from __future__ import annotations

from ansible_collections.ssot.governance.plugins.plugin_utils._observe import ObservingAction


class ActionModule(ObservingAction):

    MODULE = "ssot.governance.ingest_sources"

    def settle(self, ctx, result, decisions):
        todo = []
        for item in result.get("plan") or []:
            if not isinstance(item, dict) or not isinstance(item.get("decision"), dict):
                continue
            settled = decisions.get(item["decision"].get("id"))
            if settled is None:
                item.pop("decision")
                continue
            item["decision"] = settled
            todo.append("%s %s: %s (%s)" % (item.get("source"), item.get("database"), item.get("action"),
                                            settled["status"]))
        if todo:
            result["msg"] = "; ".join(todo)
        return None
