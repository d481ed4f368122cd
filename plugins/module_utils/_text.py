# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Operator texts from the message catalog, in the operator's language.

PRIVATE: internal to ssot.governance; its API may change at any time. Stdlib only.
"""

from __future__ import annotations

import re

from ansible_collections.ssot.governance.plugins.module_utils import _messages

DEFAULT_LANGUAGE = "pt-BR"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def message(lang, code, **params):
    """Catalog text with its {placeholders} filled; other braces (``{env: NAME}``) stay as written."""
    catalog = _messages.MESSAGES.get(lang) or _messages.MESSAGES[DEFAULT_LANGUAGE]
    return _PLACEHOLDER.sub(lambda m: str(params[m.group(1)]) if m.group(1) in params else m.group(0), catalog[code])
