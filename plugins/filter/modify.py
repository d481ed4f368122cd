# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.ssot.governance.plugins.plugin_utils._plan import (
    hba_without_trust, image_not_accepted, settings_plan)


class FilterModule(object):

    def filters(self):
        return {"settings_plan": settings_plan, "hba_without_trust": hba_without_trust,
                "image_not_accepted": image_not_accepted}
