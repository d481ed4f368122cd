# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.ssot.governance.plugins.module_utils._text import catalog, message, operator_language


def text(key, language=None, **params):
    """The catalog's text for ``key`` in ``language`` (none or unknown: SSOT_LANGUAGE, else PT-BR), filled."""
    language = operator_language(language)
    if key not in catalog(language):
        raise AnsibleFilterError("ssot.governance.text: no message %r in the catalog (messages/*.yml)" % key)
    return message(language, key, **params)


class FilterModule(object):

    def filters(self):
        return {"text": text}
