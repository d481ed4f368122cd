#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: ssot_info
short_description: Load an SSOT (single source of truth) and return it with its digest
version_added: 1.0.0
description:
  - Reads the machine-readable specification of a legacy environment (C(ssot.yml), YAML or JSON),
    checks that it holds what the playbooks need, and returns it with a digest that every record
    of the run carries.
  - The digest is the C(sha256) of a canonical serialization (sorted keys, no whitespace), so it
    does not change with key order, comments or formatting, and does change with any value.
  - Errors name the file, the line when known, and what to change; the module never changes anything.
options:
  path:
    description:
      - Path of the SSOT file. Relative paths inside the SSOT (artifacts) are relative to its folder,
        returned as RV(base_dir).
    type: path
    required: true
extends_documentation_fragment:
  - ssot.governance.attributes
  - ssot.governance.attributes.READ_ONLY
author:
  - ssot.governance contributors
'''

EXAMPLES = r'''
- name: Load the SSOT of the workspace
  ssot.governance.ssot_info:
    path: "{{ ssot_workspace }}/ssot.yml"
  register: ssot_loaded

- name: Show which SSOT this run follows
  ansible.builtin.debug:
    msg: "SSOT {{ ssot_loaded.path }} digest {{ ssot_loaded.digest }}"
'''

RETURN = r'''
ssot:
  description: The SSOT document as loaded.
  returned: success
  type: dict
  sample: {"metadata": {"name": "legacy-pg-demo"}, "target": {"container": "legacy-pg-demo"}}
digest:
  description: C(sha256:) digest of the canonical serialization of RV(ssot).
  returned: success
  type: str
  sample: sha256:5f1d0c9e3b0e4c3f2f6f1b4a7b9a0d4e1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a69
path:
  description: Absolute path of the SSOT file.
  returned: success
  type: str
  sample: /srv/legacy/ssot.yml
base_dir:
  description: Folder of the SSOT file; relative paths in the SSOT resolve against it.
  returned: success
  type: str
  sample: /srv/legacy
'''

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.ssot.governance.plugins.module_utils import _ssot


def main():
    module = AnsibleModule(
        argument_spec=dict(path=dict(type="path", required=True)),
        supports_check_mode=True,
    )
    if not _ssot.HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"))
    path = os.path.abspath(module.params["path"])
    try:
        doc = _ssot.load(path)
        _ssot.check_minimum(doc, path)
    except _ssot.SSOTError as exc:
        module.fail_json(msg="SSOT invalid: %s" % exc, path=path)
    module.exit_json(changed=False, ssot=doc, digest=_ssot.digest(doc), path=path,
                     base_dir=os.path.dirname(path))


if __name__ == "__main__":
    main()
