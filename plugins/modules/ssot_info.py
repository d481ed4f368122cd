#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: ssot_info
short_description: Load an SSOT (single source of truth), validate it, and return it with its digest
version_added: 1.0.0
description:
  - Reads the machine-readable specification of a legacy environment (C(ssot.yml), YAML or JSON),
    validates it against the collection's JSON Schema (C(schemas/ssot.schema.json), draft 2020-12) plus
    the rules a schema cannot express (unique ids, readable version ranges, valid regular expressions),
    and returns it normalized, with every default filled in.
  - The digest is the C(sha256) of a canonical serialization (sorted keys, no whitespace, UTF-8) of the
    document as written, so it does not change with key order, comments or formatting, and does change
    with any value. Every record of a run, decision and approval carries it.
  - Every problem is reported at once, each with the file, the line, the JSON path, what was expected
    and how to fix it, in the operator language (the SSOT's C(metadata.language), C(pt-BR) by default).
    Literal secrets are refused without being echoed. The module never changes anything.
  - Given a prose SSOT (C(book-run.txt) or Markdown) beside it, returns its section map for the panel.
  - Field reference and a guide to writing an SSOT from a prose runbook are in the collection's C(docs/ssot.md).
  - Runs on the controller, in ansible-playbook's own process (its action plugin). Given O(workspace) it loads the
    SSOT in force of that environment - O(file) inside it, never outside (no C(..), no link out) - and refuses a run
    whose launcher set a variable the collection owns, or whose host's environment the C(ssot.governance.runbook)
    callback is not recording (docs/security.md); that SSOT becomes the one the run's records carry. Given only
    O(path), it reads that file and returns it, and nothing more.
options:
  workspace:
    description:
      - The environment's workspace folder; its SSOT file O(file) is the SSOT in force.
    type: path
  file:
    description:
      - The SSOT file inside O(workspace) (a relative path).
    type: str
    default: ssot.yml
  path:
    description:
      - Path of any SSOT file to read (without O(workspace)). Relative paths inside the SSOT (artifacts, dumps) are
        relative to its folder, returned as RV(base_dir).
    type: path
  prose:
    description:
      - Prose SSOT to map into RV(ssot_full_map). Files ending in C(.md) are read as Markdown.
      - When omitted, C(book-run.txt) or C(book-run.md) beside O(path) is used if present. An empty string disables it.
    type: path
  language:
    description:
      - Language of the error messages. Defaults to the SSOT's C(metadata.language), else C(pt-BR).
    type: str
    choices: [pt-BR, en]
extends_documentation_fragment:
  - ssot.governance.attributes
  - ssot.governance.attributes.READ_ONLY
requirements:
  - jsonschema and PyYAML on the controller.
author:
  - ssot.governance maintainers (@ssot-governance)
'''

EXAMPLES = r'''
- name: Load the SSOT in force of the workspace
  ssot.governance.ssot_info:
    workspace: "{{ ssot_workspace }}"
  register: ssot_loaded

- name: Show which SSOT this run follows
  ansible.builtin.debug:
    msg: "SSOT {{ ssot_loaded.path }} digest {{ ssot_loaded.digest }}, {{ ssot_loaded.ssot_full_map | length }} prose sections"

- name: Errors in English, whatever the SSOT says
  ssot.governance.ssot_info:
    path: /srv/legacy/ssot.yml
    language: en
'''

RETURN = r'''
ssot:
  description: The SSOT, normalized (every default of the schema filled in).
  returned: success
  type: dict
  sample: {"schema_version": 1, "metadata": {"name": "legacy-pg-demo", "language": "pt-BR"},
           "target": {"container": "legacy-pg-demo", "engine": "docker"}}
digest:
  description: C(sha256:) digest of the canonical serialization of the SSOT as written.
  returned: success
  type: str
  sample: sha256:5f1d0c9e3b0e4c3f2f6f1b4a7b9a0d4e1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a69
schema_version:
  description: Version of the SSOT format.
  returned: success
  type: int
  sample: 1
language:
  description: Operator language in force (from the SSOT or O(language)).
  returned: success
  type: str
  sample: pt-BR
path:
  description: Absolute path of the SSOT file.
  returned: always
  type: str
  sample: /srv/legacy/ssot.yml
base_dir:
  description: Folder of the SSOT file; relative paths in the SSOT resolve against it.
  returned: success
  type: str
  sample: /srv/legacy
run_identities:
  description:
    - Who runs the play (added by the action on the controller) - the operating-system account running
      ansible-playbook and, under AWX, the user who launched the job; for separation of duties.
  returned: success
  type: list
  elements: str
  sample: [ana]
prose:
  description: Absolute path of the prose SSOT that was mapped, or null.
  returned: success
  type: str
  sample: /srv/legacy/book-run.txt
evidence:
  description:
    - The SSOT in force as evidence of phase 0 (C(ssot-loaded.json) - path, digest, normalized SSOT, map),
      for the C(ssot.governance.runbook) callback to write.
  returned: success
  type: list
  elements: dict
  sample: [{"name": "ssot-loaded.json", "content": {"digest": "sha256:3f8e..."}}]
ssot_full_map:
  description: Sections of the prose SSOT (empty without one).
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Stable id derived from the heading.
      type: str
    heading:
      description: The heading as written.
      type: str
    level:
      description: Heading level (0 for the preamble).
      type: int
    lines:
      description: First and last line of the section (1-based, inclusive).
      type: list
      elements: int
    digest:
      description: C(sha256:) of the section's text.
      type: str
  sample: [{"id": "1-artefato-entregue", "heading": "1. Artefato entregue", "level": 1, "lines": [3, 7],
            "digest": "sha256:0c1d..."}]
errors:
  description: On failure, every problem found, each with its JSON pointer, line, code and message.
  returned: failure
  type: list
  elements: dict
  sample: [{"pointer": "$.target.env.POSTGRES_PASSWORD", "line": 27, "code": "ssot.schema.secret_literal",
            "message": "ssot.yml, linha 27, em $.target.env.POSTGRES_PASSWORD: ..."}]
ssot_loaded:
  description:
    - For the recorder - this result carries the SSOT in force (path, digest, language); taken out of what the
      recorder journals as the result.
  returned: success
  type: dict
  sample: {"path": "/ws/ssot.yml", "digest": "sha256:9f2c...", "language": "pt-BR"}
'''

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.ssot.governance.plugins.module_utils import _prose, _result, _ssot, _yaml


def main():
    module = AnsibleModule(
        argument_spec=dict(
            workspace=dict(type="path"),
            file=dict(type="str", default="ssot.yml"),
            path=dict(type="path"),
            prose=dict(type="path"),
            language=dict(type="str", choices=["pt-BR", "en"]),
        ),
        required_one_of=[("workspace", "path")],
        supports_check_mode=True,
    )
    for ok, lib in ((_ssot.HAS_JSONSCHEMA, "jsonschema"), (_yaml.HAS_YAML, "PyYAML")):
        if not ok:
            module.fail_json(msg=missing_required_lib(lib))
    # The action plugin does the work on the controller; this runs only when the module is called without it.
    path = os.path.abspath(module.params["path"] or os.path.join(module.params["workspace"], module.params["file"]))
    try:
        loaded = _ssot.load_valid(path, module.params["language"])
    except _ssot.SSOTError as exc:
        module.fail_json(msg=exc.render(), path=path,
                         errors=[p.as_dict(exc.language, exc.file_name) for p in exc.problems])
    prose = _prose.find_prose(path, module.params["prose"])
    full_map = []
    if prose:
        try:
            with open(prose, "rb") as fh:
                text = fh.read(_ssot.MAX_SSOT_BYTES).decode("utf-8", errors="replace")
        except OSError as exc:
            module.fail_json(msg="%s: %s" % (prose, exc), path=path)
        full_map = _prose.section_map(text, markdown=prose.endswith(".md"))
    facts = dict(ssot=loaded["ssot"], digest=loaded["digest"], schema_version=loaded["schema_version"],
                 language=loaded["language"], path=path, base_dir=os.path.dirname(path), prose=prose,
                 ssot_full_map=full_map)
    # Phase 0's evidence: the SSOT in force (secrets are references in it, never values).
    module.exit_json(changed=False, evidence=[_result.evidence("ssot-loaded.json", content=dict(facts))],
                     ssot_loaded=_result.ssot_loaded(path, loaded["digest"], loaded["language"]), **facts)


if __name__ == "__main__":
    main()
