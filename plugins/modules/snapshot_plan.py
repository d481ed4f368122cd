#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: snapshot_plan
short_description: Estimate a snapshot's size against the SSOT's limit and the free space, before taking it
version_added: 1.0.0
description:
  - Adds up what the snapshot will hold (database sizes, the image when it is saved, logs) and compares it with the
    SSOT's C(snapshot.size_limit) and with the free space where the snapshot goes.
  - Above the limit or beyond the free space, and for saving the committed image, it returns decisions (stable ids)
    for the C(ssot.governance.hitl_gate) role, never a surprise halfway.
options:
  dest:
    description: Where the snapshot will be written (its parent must exist).
    type: path
    required: true
  database_bytes:
    description: Sum of C(pg_database_size) of the databases.
    type: int
    required: true
  image_bytes:
    description: Size of the image, counted when O(image_save).
    type: int
    default: 0
  image_save:
    description: Whether the SSOT asks for the committed image to be saved.
    type: bool
    default: false
  container:
    description: The source container (names the image_save decision).
    type: str
    required: true
  size_limit:
    description: The SSOT's C(snapshot.size_limit) (C(10GiB), C(500MB) or bytes).
    type: raw
    required: true
extends_documentation_fragment:
  - ssot.governance.decisions
  - ssot.governance.attributes
  - ssot.governance.attributes.READ_ONLY
author:
  - ssot.governance maintainers (@ssot-governance)
'''

EXAMPLES = r'''
- name: Estimate before the snapshot
  ssot.governance.snapshot_plan:
    dest: "{{ ssot_workspace_dir }}/snapshots"
    database_bytes: 15376010
    container: legacy-pg-demo
    size_limit: 10GiB
    ssot_digest: "{{ ssot_digest }}"
'''

RETURN = r'''
estimate:
  description: Estimated bytes of the snapshot (before compression).
  returned: always
  type: int
  sample: 15376010
free:
  description: Free bytes where the snapshot goes.
  returned: always
  type: int
  sample: 53687091200
limit:
  description: The SSOT's limit in bytes.
  returned: always
  type: int
  sample: 10737418240
decisions:
  description: Decisions the snapshot depends on (size over the limit or the free space; saving the image).
  returned: always
  type: list
  elements: dict
  sample: []
msg:
  description: The estimate in words.
  returned: always
  type: str
  sample: "Estimativa 14.7 MiB; limite 10.0 GiB; livre 50.0 GiB"
'''

import os
import shutil

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ssot.governance.plugins.module_utils import _decisions, _findings
from ansible_collections.ssot.governance.plugins.module_utils._text import human_size, message as text, rendered


def main():
    spec = _decisions.argument_spec()
    spec.update(dest=dict(type="path", required=True), database_bytes=dict(type="int", required=True),
                image_bytes=dict(type="int", default=0), image_save=dict(type="bool", default=False),
                container=dict(type="str", required=True), size_limit=dict(type="raw", required=True))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    lang = p["language"]
    try:
        limit = _findings.size_bytes(p["size_limit"])
    except ValueError as exc:
        module.fail_json(msg=rendered(exc, lang))
    where = p["dest"]
    while not os.path.isdir(where) and os.path.dirname(where) != where:
        where = os.path.dirname(where)
    free = shutil.disk_usage(where).free
    estimate = p["database_bytes"] + (p["image_bytes"] if p["image_save"] else 0) + (1 << 20)
    decisions = []
    words = dict(estimate=human_size(estimate), limit=human_size(limit), free=human_size(free))
    if estimate > limit or estimate > free:
        # The id follows the limit and the estimate in whole GiB: the same snapshot keeps its decision.
        decisions.append(_decisions.build(
            "snapshot", "size", {"limit": limit, "estimate_gib": estimate >> 30, "beyond_free": estimate > free},
            ("proceed",), p["ssot_digest"], lang))
    if p["image_save"]:
        decisions.append(_decisions.build(
            "snapshot", "image_save", {"container": p["container"], "size": _decisions.size_bound(p["image_bytes"])},
            ("save", "skip_image"), p["ssot_digest"], lang))
    module.exit_json(changed=False, estimate=estimate, free=free, limit=limit, decisions=decisions,
                     msg=text(lang, "snapshot.estimate", **words))


if __name__ == "__main__":
    main()
