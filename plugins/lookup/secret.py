# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: secret
short_description: Resolve the secret references of an SSOT
version_added: 1.0.0
description:
  - "An SSOT never holds a literal password; it names where the value lives, as a one-key mapping:
    C({env: NAME}) for an environment variable of the controller, or C({var: NAME}) for an Ansible
    variable (for instance from a vault file or an AWX credential)."
  - Given one reference, returns its value. Given a mapping (for example a container environment),
    returns the same mapping with every reference replaced by its value and other values unchanged.
  - A reference that cannot be resolved is an error naming the reference and how to provide it;
    the value itself never appears in a message. Use the result only in C(no_log) tasks.
options:
  _terms:
    description: A reference, or a mapping whose values may be references.
    required: true
'''

EXAMPLES = r'''
- name: Container environment with its secrets resolved
  ansible.builtin.set_fact:
    __env: "{{ lookup('ssot.governance.secret', ssot_doc.target.env) }}"
  no_log: true
'''

RETURN = r'''
_raw:
  description: The resolved value or mapping.
  type: raw
'''

import os

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase
from ansible_collections.ssot.governance.plugins.module_utils._text import message, operator_language

REFERENCE_KEYS = ("env", "var")


def _language(variables):
    return operator_language(variables.get("ssot_language"))


def is_reference(value):
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in REFERENCE_KEYS


class LookupModule(LookupBase):

    def _resolve(self, ref, variables, where):
        kind, name = next(iter(ref.items()))
        if kind == "env":
            if name not in os.environ:
                raise AnsibleError(message(_language(variables), "secret.env_missing", where=where, name=name))
            return os.environ[name]
        if name not in variables:
            raise AnsibleError(message(_language(variables), "secret.var_missing", where=where, name=name))
        return self._templar.template(variables[name])

    def run(self, terms, variables=None, **kwargs):
        variables = variables or {}
        results = []
        for term in terms:
            if is_reference(term):
                results.append(self._resolve(term, variables, "value"))
            elif isinstance(term, dict):
                results.append({k: self._resolve(v, variables, k) if is_reference(v) else v for k, v in term.items()})
            else:
                raise AnsibleError(message(_language(variables), "secret.bad_reference", type=type(term).__name__))
        return results
