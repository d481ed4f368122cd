# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.ssot.governance.plugins.plugin_utils import _card


def hitl_answer(answer, decision, language="pt-BR"):
    """An explicit terminal answer ('aprovar A', 'rejeitar') -> option id or 'reject'; anything else -> ''. The
    letters follow the decision kind's own order of options."""
    return _card.parse_answer(answer, decision, language) or ""


class FilterModule(object):

    def filters(self):
        return {"hitl_answer": hitl_answer}
