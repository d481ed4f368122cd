#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: container_rename
short_description: Keep a container aside under another name, committing its filesystem to an image first if asked
version_added: 1.2.0
description:
  - C(docker commit) (with O(commit_as)) then C(docker rename) of one container, through the collection's engine
    adapter - the two steps no module of community.docker offers. M(ssot.governance.change) calls it when it
    republishes a container (the old one kept aside, its data committed) and when it undoes that.
  - The container must be stopped for a commit that captures its data consistently; the change stops it first.
options:
  name:
    description: The container.
    type: str
    required: true
  new_name:
    description: Its name from now on.
    type: str
    required: true
  commit_as:
    description: Commit the container's filesystem to this image reference (C(repository:tag)) before renaming it.
    type: str
extends_documentation_fragment:
  - ssot.governance.language
  - ssot.governance.attributes
attributes:
  check_mode:
    support: none
    details: It renames (and commits); the change that calls it plans in check mode and never calls it there.
  diff_mode:
    support: none
  idempotent:
    support: none
author:
  - ssot.governance maintainers (@ssot-governance)
'''

EXAMPLES = r'''
- name: Keep the old container aside with its data committed
  ssot.governance.container_rename:
    name: legacy-pg-demo
    new_name: legacy-pg-demo-antes-20261206T101500Z
    commit_as: legacy-pg-demo-dados:20261206t101500z
'''

RETURN = r'''
image:
  description: The id of the committed image (with O(commit_as)).
  returned: when O(commit_as) was given
  type: str
  sample: sha256:9f2c...
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ssot.governance.plugins.module_utils import _engine
from ansible_collections.ssot.governance.plugins.module_utils._text import message as text


def main():
    module = AnsibleModule(argument_spec=dict(
        name=dict(type="str", required=True), new_name=dict(type="str", required=True),
        commit_as=dict(type="str"), language=dict(type="str", default="pt-BR")), supports_check_mode=False)
    p = module.params
    engine = _engine.Engine(module)
    result = {"changed": False}
    if p["commit_as"]:
        rc, out, err = engine.run(["commit", p["name"], p["commit_as"]])
        if rc != 0:
            module.fail_json(msg=text(p["language"], "engine.failed", command="commit", error=err.strip()[:500]),
                             **result)
        result.update(changed=True, image=out.strip())
    rc, dummy, err = engine.run(["rename", p["name"], p["new_name"]])
    if rc != 0:
        module.fail_json(msg=text(p["language"], "engine.failed", command="rename", error=err.strip()[:500]),
                         **result)
    result["changed"] = True
    module.exit_json(**result)


if __name__ == "__main__":
    main()
