# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: terminal
short_description: Whether a human is at a terminal for this run (never true for AWX, ansible-runner or CI)
version_added: 1.0.0
description:
  - Returns one boolean. True only when the stdin of C(ansible-playbook) is a terminal in the foreground and no
    marker of an automated run is set - C(AWX_ISOLATED_DATA_DIR) or C(ANSIBLE_STDOUT_CALLBACK=awx_display)
    (ansible-runner, which AWX uses, runs the playbook under a pseudo-terminal of its own), C(AWX_HOST), C(CI),
    C(SSOT_NONINTERACTIVE).
  - The C(ssot.governance.hitl_gate) role asks at the terminal only when this is true; otherwise it fails closed.
options:
  _terms:
    description: Not used.
    required: false
author:
  - ssot.governance maintainers (@ssot-governance)
'''

EXAMPLES = r'''
- name: Ask only when someone is there
  ansible.builtin.pause:
    prompt: Aprovar?
  when: lookup('ssot.governance.terminal')
'''

RETURN = r'''
_raw:
  description: One element, true when the run is interactive.
  type: list
  elements: bool
'''

from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.ssot.governance.plugins.plugin_utils._terminal import terminal_state

display = Display()


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        interactive, reason = terminal_state()
        display.vvv("ssot.governance.terminal: %s (%s)" % (interactive, reason))
        return [interactive]
