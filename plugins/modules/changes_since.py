#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: changes_since
short_description: What changed in a server's tables since a change was made - the question every rollback asks first
version_added: 1.1.0
description:
  - Reads, in one pass per database, the row count (and, with O(checksums), a content checksum) of every table of the
    PostgreSQL server in O(container) (C(docker exec), the image's superuser on the local socket).
  - Without O(baseline) it only returns those figures as evidence (C(<subject>-fingerprint.json)) - what a change
    records right after it was verified.
  - With O(baseline) (the figures recorded after the change), it compares and returns each table that differs. A
    rollback destroys whatever happened since the change it undoes; the rollback's decision (raised on the
    controller by M(ssot.governance.change)) names each of these tables.
options:
  container:
    description: The container of the server.
    type: str
    required: true
  user:
    description: Database superuser (socket, peer) in the container.
    type: str
    default: postgres
  databases:
    description: Only these databases (all that accept connections when empty).
    type: list
    elements: str
    default: []
  checksums:
    description: Also compare a checksum of every table's content (one full read of every table).
    type: bool
    default: false
  baseline:
    description:
      - The figures recorded right after the change (RV(tables) of an earlier call). Without it nothing is compared.
    type: dict
  subject:
    description: What the rollback undoes; names the evidence.
    type: str
    required: true
    choices: [exposure, ingest]
extends_documentation_fragment:
  - ssot.governance.language
  - ssot.governance.attributes
  - ssot.governance.attributes.READ_ONLY
author:
  - ssot.governance maintainers (@ssot-governance)
'''

EXAMPLES = r'''
- name: Record the server's tables right after the change
  ssot.governance.changes_since:
    container: legacy-pg-demo
    subject: exposure

- name: Before the rollback, what changed since
  ssot.governance.changes_since:
    container: legacy-pg-demo
    subject: exposure
    baseline: "{{ recorded.tables }}"
  register: since
'''

RETURN = r'''
tables:
  description: Database -> table -> rows (and checksum) now.
  returned: always
  type: dict
  sample: {"legacy_shop": {"public.customers": {"rows": 500}}}
changes:
  description: Each table that differs from O(baseline) (appeared, disappeared, other rows or content).
  returned: always
  type: list
  elements: dict
  sample: [{"database": "app", "table": "public.guarda", "source": 1, "now": 251, "status": "mismatch"}]
msg:
  description: What changed since, or that nothing did, in the operator's language.
  returned: always
  type: str
fingerprint:
  description: Without O(baseline) - the figures as a later rollback compares with (the change's action records them).
  returned: when O(baseline) is not given
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ssot.governance.plugins.module_utils import _engine, _model, _pgdata, _result
from ansible_collections.ssot.governance.plugins.module_utils._text import message as text, rendered


PHASES = {"exposure": _model.phase("expose").number, "ingest": _model.phase("ingest").number}


def main():
    module = AnsibleModule(argument_spec=dict(
        container=dict(type="str", required=True), user=dict(type="str", default="postgres"),
        databases=dict(type="list", elements="str", default=[]), checksums=dict(type="bool", default=False),
        baseline=dict(type="dict"), subject=dict(type="str", required=True, choices=sorted(PHASES)),
        language=dict(type="str", default="pt-BR")), supports_check_mode=True)
    p = module.params
    try:
        tables = _pgdata.table_stats(_engine.Engine(module), p["container"], p["user"], p["checksums"],
                                     p["databases"] or None)
    except (_pgdata.PgDataError, OSError) as exc:
        module.fail_json(msg=rendered(exc, p["language"]), tables={}, changes=[])
    fingerprint = {"container": p["container"], "checksums": p["checksums"], "tables": tables}
    evidence = [_result.evidence("%s-fingerprint.json" % p["subject"], content=fingerprint)]
    if p["baseline"] is None:
        # Right after a change: the tables a later rollback compares with (the change's action records them).
        module.exit_json(changed=False, tables=tables, changes=[], evidence=evidence, fingerprint=fingerprint,
                         msg=text(p["language"], "rollback.recorded", subject=p["subject"]))
    _rows, changes = _pgdata.compare(p["baseline"], tables, "now")
    msg = (text(p["language"], "rollback.changed", subject=p["subject"], changes="; ".join(
        _pgdata.describe(c, "now", p["language"]) for c in changes)) if changes
        else text(p["language"], "rollback.unchanged", subject=p["subject"]))
    module.exit_json(changed=False, tables=tables, changes=changes, evidence=evidence, msg=msg)


if __name__ == "__main__":
    main()
