# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: attested
short_description: Whether a registered result was made by a controller action of this collection in this run
version_added: 1.2.0
description:
  - True only for the registered result of a collection action that ran on the controller in this very run for this
    host (its records and the outputs named in O(require) carry the run's attestation, an HMAC with a key that exists
    only in the controller's memory while the recorder runs).
  - A value given as an inventory or play variable, a fact from elsewhere, or a result from another run is never
    attested - a step that relies on an earlier step's output checks it with this test (docs/security.md).
options:
  _input:
    description: The registered result.
    type: dict
    required: true
  host:
    description: The inventory host the result is for (C(inventory_hostname)).
    type: str
    required: true
  require:
    description: Outputs the attestation must cover (for instance C(artifacts)).
    type: list
    elements: str
    default: []
'''

EXAMPLES = r'''
- name: Provisioning relies on this run's inventory only
  ansible.builtin.assert:
    that:
      - __inventory_result is ssot.governance.attested(inventory_hostname, ['artifacts'])
'''

RETURN = r'''
_value:
  description: Whether the result is attested.
  type: bool
'''

from ansible_collections.ssot.governance.plugins.plugin_utils import _runctx


def attested(result, host, require=()):
    return isinstance(result, dict) and _runctx.attested(result, str(host), list(require or []))


class TestModule(object):

    def tests(self):
        return {"attested": attested}
