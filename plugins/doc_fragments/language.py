# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The operator's language, for modules whose messages come from the catalog."""

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  language:
    description:
      - Language of the module's messages (the SSOT's C(metadata.language); the roles pass C(ssot_language)), from
        the collection's message catalog. C(pt-BR) or C(en); another value falls back to C(pt-BR).
    type: str
    default: pt-BR
'''
