# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssot.governance.pg_check: the module reads the server where its host is; the decisions it raises are settled here,
on the controller (plugin_utils/_observe.py)."""

from __future__ import annotations

from ansible_collections.ssot.governance.plugins.plugin_utils._observe import ObservingAction


class ActionModule(ObservingAction):

    MODULE = "ssot.governance.pg_check"
