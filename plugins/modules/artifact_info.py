#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: artifact_info
short_description: Inventory the delivered artifacts and compare them with the SSOT
version_added: 1.0.0
description:
  - Phase 1 of the reference workflow. For each SSOT artifact, reads the file once
    (streamed sha256, constant memory), detects its format (docker-archive with
    C(manifest.json), OCI image layout with C(index.json) + C(oci-layout), Dockerfile,
    plain SQL dump, custom-format dump) and, for image tars, the image references,
    config digest, layer count and layer diff_ids.
  - A missing file, another format, another sha256 or another image reference is a
    deviation and opens a decision with the reference skill's options (A use the
    delivered artifact, B rebuild per the SSOT). An image tar the engine cannot load
    (an OCI layout on the classic Docker store) opens a decision to convert it with
    skopeo or rebuild.
  - Decision ids are derived from what they are about, so the same divergence gets the
    same id on every run. The module raises it pending; its action settles it on the controller.
  - Changes nothing.
options:
  artifacts:
    description:
      - The SSOT's C(artifacts) list (id, path, format, and optionally sha256 and image).
    type: list
    elements: dict
    required: true
  base_dir:
    description:
      - Folder that relative artifact paths are relative to (the SSOT's folder).
    type: path
    required: true
  engine:
    description:
      - What the container engine can load. C(version) is the server version,
        C(containerd_store) whether it uses the containerd image store.
      - Omit to skip the loadability check.
    type: dict
  sha256_required:
    description:
      - Whether an artifact without C(sha256) is a decision of its own (any file carrying the expected tag would
        get in). Off only for a file this collection made from an approved one (the converted tar, whose config
        digest provisioning then checks).
    type: bool
    default: true
  evidence_name:
    description:
      - Base name of the evidence returned (C(<name>.log) and C(<name>.json)).
    type: str
    default: inventory
  milestone:
    description:
      - Return the inventory milestone. Off for the first of two inspections (artifacts on the controller and on the
        target host are inspected where they are, in two calls); the second says the phase's status for both.
    type: bool
    default: true
  pending_elsewhere:
    description:
      - Ids of decisions about artifacts inspected by another call that are still pending; they block the milestone
        as this call's own do.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - ssot.governance.decisions
  - ssot.governance.attributes
  - ssot.governance.attributes.READ_ONLY
author:
  - ssot.governance maintainers (@ssot-governance)
'''

EXAMPLES = r'''
- name: Inventory the delivered artifacts
  ssot.governance.artifact_info:
    artifacts: "{{ ssot_doc.artifacts }}"
    base_dir: "{{ ssot_base_dir }}"
    engine:
      version: "{{ engine.host_info.ServerVersion }}"
      containerd_store: false
    ssot_digest: "{{ ssot_digest }}"
  register: inventory

- name: Stop when a decision is pending
  ansible.builtin.assert:
    that: inventory.pending | length == 0
'''

RETURN = r'''
artifacts:
  description: One entry per SSOT artifact, in SSOT order.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The SSOT artifact id.
      type: str
    path:
      description: Absolute path of the file.
      type: str
    exists:
      description: Whether the file is there.
      type: bool
    size:
      description: Size in bytes.
      type: int
    sha256:
      description: sha256 of the file (hex).
      type: str
    format:
      description: Detected format (docker-archive, oci-layout, dockerfile, sql-dump, custom-dump, unknown).
      type: str
    image_refs:
      description: Image references the tar carries (normalized name:tag).
      type: list
      elements: str
    config_digest:
      description: Digest of the image config (the image id on the classic Docker store).
      type: str
    layers:
      description: Number of layers.
      type: int
    images:
      description: Per image in the tar - refs, config_digest, layers, diff_ids, architecture.
      type: list
      elements: dict
    engine_loads:
      description: Whether the engine can load the format (image tars only, when O(engine) is given).
      type: bool
    decisions:
      description: Ids of the decisions raised about this artifact.
      type: list
      elements: str
    path_choice:
      description:
        - The provisioning path the decisions allow - C(delivered) (no divergence, or A approved),
          C(convert), C(rebuild), or C(blocked) (a decision is pending, rejected or expired).
      type: str
  sample: [{"id": "legacy-image", "exists": true, "format": "docker-archive", "layers": 1,
            "image_refs": ["legacy-pg:10.23"], "path_choice": "delivered", "decisions": []}]
checks:
  description: One entry per comparison (presence, format, sha256, image), with pg_check's shape.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "artifact.legacy-image.sha256", "expected": "3f0c...", "actual": "3f0c...", "status": "match"}]
deviations:
  description: Ids of the comparisons that deviate.
  returned: always
  type: list
  elements: str
  sample: ["artifact.legacy-image.sha256"]
decisions:
  description: The decisions raised, with status (pending, approved, rejected, expired) and answer.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "inventory.legacy-image.sha256.1a2b3c4d", "status": "pending", "phase": 1,
            "options": [{"id": "use_delivered", "label": "A: usar o artefato entregue"},
                        {"id": "rebuild", "label": "B: reconstruir conforme o SSOT"}]}]
pending:
  description: Ids of the decisions not approved (pending, rejected or expired).
  returned: always
  type: list
  elements: str
  sample: []
milestone:
  description: Phase 1 milestone for the runbook callback (blocked while a decision is pending).
  returned: always
  type: dict
  sample: {"phase": 1, "status": "clear", "next_steps": []}
evidence:
  description: The inventory as a text log and as JSON, for the runbook callback to write.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "inventory.log", "text": "..."}, {"name": "inventory.json", "content": {}}]
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ssot.governance.plugins.module_utils import _artifacts


def main():
    module = AnsibleModule(argument_spec=_artifacts.argument_spec(), supports_check_mode=True)
    try:
        result = _artifacts.inventory(module.params)
    except (_artifacts.ArtifactError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
