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
    rollback destroys whatever happened since the change it undoes, so any difference is a decision
    (C(rollback.<subject>.<hex>), options C(rollback) and C(keep)) that only a named human's approval settles.
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
    description: What the rollback undoes; names the evidence, the rollback record and the decision.
    type: str
    required: true
    choices: [exposure, ingest]
  ssot_digest:
    description: Digest of the SSOT in force; the decision carries it.
    type: str
    required: true
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
    ssot_digest: "{{ ssot_digest }}"

- name: Before the rollback, what changed since
  ssot.governance.changes_since:
    container: legacy-pg-demo
    subject: exposure
    baseline: "{{ recorded.tables }}"
    ssot_digest: "{{ ssot_digest }}"
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
decisions:
  description: The rollback decision when anything changed since the baseline (empty otherwise).
  returned: always
  type: list
  elements: dict
msg:
  description: What changed since, or that nothing did, in the operator's language.
  returned: always
  type: str
rollback:
  description:
    - Without O(baseline), for the recorder - the figures as the C(fingerprint) rollback record of O(subject), read
      back by the C(ssot.governance.rollback) lookup when the change is undone.
  returned: when O(baseline) is not given
  type: dict
  sample: {"subject": "ingest", "event": "fingerprint", "data": {"tables": {}}}
'''

import hashlib
import json

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ssot.governance.plugins.module_utils import _decisions, _engine, _model, _pgdata, _result
from ansible_collections.ssot.governance.plugins.module_utils._text import message as text, rendered


PHASES = {"exposure": _model.phase("expose").number, "ingest": _model.phase("ingest").number}


def fingerprint(tables):
    return hashlib.sha256(json.dumps(tables, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def decision(p, changes, baseline, tables):
    lang = p["language"]
    lines = [_pgdata.describe(c, "now", lang) for c in changes]
    return _decisions.build(
        _decisions.stable_id("rollback", p["subject"], fingerprint(baseline), fingerprint(tables)),
        PHASES.get(p["subject"]),
        text(lang, "rollback.title", subject=p["subject"], count=len(changes)),
        text(lang, "rollback.context", subject=p["subject"], changes="; ".join(lines[:20])),
        [_decisions.option(lang, "rollback_anyway", "rollback"), _decisions.option(lang, "rollback_keep", "keep")],
        p["ssot_digest"], risk=text(lang, "rollback.risk"), rollback=text(lang, "rollback.after"))


def main():
    module = AnsibleModule(argument_spec=dict(
        container=dict(type="str", required=True), user=dict(type="str", default="postgres"),
        databases=dict(type="list", elements="str", default=[]), checksums=dict(type="bool", default=False),
        baseline=dict(type="dict"), subject=dict(type="str", required=True, choices=sorted(PHASES)),
        ssot_digest=dict(type="str", required=True),
        language=dict(type="str", default="pt-BR")), supports_check_mode=True)
    p = module.params
    try:
        tables = _pgdata.table_stats(_engine.Engine(module), p["container"], p["user"], p["checksums"],
                                     p["databases"] or None)
    except (_pgdata.PgDataError, OSError) as exc:
        module.fail_json(msg=rendered(exc, p["language"]), tables={}, changes=[], decisions=[])
    fingerprint = {"container": p["container"], "checksums": p["checksums"], "tables": tables}
    evidence = [_result.evidence("%s-fingerprint.json" % p["subject"], content=fingerprint)]
    if p["baseline"] is None:
        # Right after a change: the tables a later rollback compares with (read back by the rollback lookup).
        module.exit_json(changed=False, tables=tables, changes=[], decisions=[], evidence=evidence,
                         rollback=_result.rollback(p["subject"], "fingerprint", fingerprint),
                         msg=text(p["language"], "rollback.recorded", subject=p["subject"]))
    _rows, changes = _pgdata.compare(p["baseline"], tables, "now")
    decisions = [decision(p, changes, p["baseline"], tables)] if changes else []
    msg = (text(p["language"], "rollback.changed", subject=p["subject"], changes="; ".join(
        _pgdata.describe(c, "now", p["language"]) for c in changes)) if changes
        else text(p["language"], "rollback.unchanged", subject=p["subject"]))
    module.exit_json(changed=False, tables=tables, changes=changes, decisions=decisions, evidence=evidence, msg=msg)


if __name__ == "__main__":
    main()
