#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: pg_check
short_description: Check a PostgreSQL server against the SSOT in one read-only session
version_added: 1.0.0
description:
  - Opens one session with C(default_transaction_read_only=on), runs the reference evidence
    queries C(SELECT version\(\);) and C(SHOW server_version_num;), then one C(SHOW <name>;) per
    expected setting, and compares each answer with the SSOT.
  - Each check reports its id, what was expected, what the server said, a status
    (C(match), C(deviation) or C(error)) and the SQL it ran. A deviation is a finding, not a
    module failure; the module fails only when it cannot connect or is called wrongly.
  - Returns the psql-like transcript and the checks as RV(evidence), which the C(ssot.governance.runbook)
    callback writes into the workspace.
options:
  expected_major:
    description:
      - Expected server major version as PostgreSQL names it (C(9.4), C(10), C(15)).
      - Omit to skip the version check.
    type: str
  evidence_name:
    description:
      - Base name of the evidence this module returns (C(<name>.log) and C(<name>.json)).
    type: str
    default: pg_check
  settings:
    description:
      - Expected settings, name to expectation.
      - An expectation is a plain value (compared for equality, booleans as C(on)/C(off)) or a
        mapping with exactly one operator key, C(equals), C(in) (a list), C(regex),
        C(not_empty) (any value) or C(contains) (items of a comma-separated setting such as
        C(shared_preload_libraries)).
    type: dict
    default: {}
extends_documentation_fragment:
  - ssot.governance.connection
  - ssot.governance.attributes
  - ssot.governance.attributes.READ_ONLY
author:
  - ssot.governance contributors
'''

EXAMPLES = r'''
- name: Check the legacy server against the SSOT
  ssot.governance.pg_check:
    login_host: 127.0.0.1
    login_port: 55432
    login_password: "{{ lookup('ansible.builtin.env', 'SSOT_PG_PASSWORD') }}"
    expected_major: "10"
    settings:
      wal_level: replica
      shared_preload_libraries:
        contains: pg_stat_statements
  register: checked

- name: Fail when something deviates
  ansible.builtin.assert:
    that: checked.deviations | length == 0
'''

RETURN = r'''
server_version:
  description: Output of C(SELECT version\(\);).
  returned: success
  type: str
  sample: PostgreSQL 10.23 on x86_64-pc-linux-gnu, compiled by gcc 4.4.7, 64-bit
server_major:
  description: Major version derived from C(server_version_num).
  returned: success
  type: str
  sample: "10"
read_only_session:
  description: Whether the server confirmed C(transaction_read_only=on) for the session.
  returned: success
  type: bool
  sample: true
checks:
  description: One entry per check, in the order run.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: C(postgres.major) or C(setting.<name>).
      type: str
    description:
      description: What was checked, in words.
      type: str
    sql:
      description: The statement that produced RV(checks[].actual).
      type: str
    expected:
      description: The expectation, in words.
      type: str
    actual:
      description: What the server answered (null on error).
      type: str
    status:
      description: C(match), C(deviation) or C(error).
      type: str
    message:
      description: Why the check could not run (only on C(error)).
      type: str
      returned: when status is error
  sample: [{"id": "setting.wal_level", "sql": "SHOW wal_level;", "expected": "replica",
            "actual": "replica", "status": "match", "description": "setting wal_level"}]
deviations:
  description: Ids of the checks whose status is not C(match).
  returned: success
  type: list
  elements: str
  sample: ["setting.wal_level"]
matched:
  description: How many checks matched.
  returned: success
  type: int
  sample: 3
queries:
  description: Every statement executed, in order (audit trail).
  returned: always
  type: list
  elements: str
  sample: ["SELECT version();", "SHOW server_version_num;", "SHOW wal_level;"]
evidence:
  description:
    - The evidence produced, for the C(ssot.governance.runbook) callback to write - the psql-like transcript
      plus verdicts (C(<evidence_name>.log), C(text)) and the checks as JSON (C(<evidence_name>.json), C(content)).
  returned: success
  type: list
  elements: dict
  sample: [{"name": "pg_check.log", "text": "=> SELECT version();\n version\n---..."},
           {"name": "pg_check.json", "content": {"checks": []}}]
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.ssot.governance.plugins.module_utils import _pg


def main():
    argument_spec = _pg.connection_argument_spec()
    argument_spec.update(
        expected_major=dict(type="str"),
        settings=dict(type="dict", default={}),
        evidence_name=dict(type="str", default="pg_check"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not _pg.HAS_PSYCOPG2:
        module.fail_json(msg=missing_required_lib("psycopg2-binary"), exception=str(_pg.PSYCOPG2_IMPORT_ERROR))
    p = module.params
    try:
        session = _pg.ReadOnlySession(p["login_host"], p["login_port"], p["login_user"], p["login_password"],
                                      p["login_db"], p["connect_timeout"])
    except _pg.CheckError as exc:
        module.fail_json(msg=str(exc), queries=[])
    try:
        result = _pg.run_checks(session, p["expected_major"], p["settings"])
        result["transcript"] = session.transcript
        text = _pg.report_text(result, session.dsn_text)
    except _pg.CheckError as exc:
        module.fail_json(msg=str(exc), queries=session.queries)
    finally:
        session.close()
    del result["transcript"]
    name = p["evidence_name"]
    content = dict(result, endpoint=session.dsn_text, queries=session.queries)
    evidence = [{"name": name + ".log", "text": text}, {"name": name + ".json", "content": content}]
    module.exit_json(changed=False, queries=session.queries, evidence=evidence, **result)


if __name__ == "__main__":
    main()
