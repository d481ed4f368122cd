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
  - Then runs the SSOT's named checks (O(checks)) in the same session (or a read-only session on the check's
    database), and the findings the reference skill says always to watch whatever the SSOT says - client tool
    versions against the server (O(client_tools), O(client_versions)), public exposure (O(published_ports),
    C(listen_addresses)), every other listener inside the container (O(listeners)), C(trust) in pg_hba (C(pg_hba_file_rules) on 10+, the file itself before),
    superusers without a password, SSL off while exposed, database and artifact sizes. Each finding has a
    severity and an explanation in the operator's language.
  - Every deviation, check error and finding of severity high or critical opens a decision with a stable id;
    its action settles it on the controller (pending until an approval of the workspace counts for it).
  - Returns the psql-like transcript, verdicts and findings, and the JSON, as RV(evidence), which the
    C(ssot.governance.runbook) callback writes into the workspace.
options:
  checks:
    description:
      - "The SSOT's named checks - C(id), C(sql) (one read-only statement), C(expect) (an expectation on the
        first value, or C({rows: N})), optional C(database), C(description), C(severity)."
    type: list
    elements: dict
    default: []
  client_tools:
    description:
      - Client tools to run with C(--version) on the target host; each major is compared with the server's
        (C(pg_dump), C(pg_dumpall) and C(pg_restore) must be at least the server major).
    type: list
    elements: str
    default: [pg_dump, pg_dumpall, pg_restore, psql]
  client_versions:
    description:
      - More client versions, already asked elsewhere, as C(<tool>@<where>) to the C(--version) output
        (for example the tools inside the container, C(pg_dump@container:legacy-pg-demo)).
    type: dict
    default: {}
  container:
    description:
      - "The server's container on this host. The module asks the engine for it itself (C(docker inspect), then two
        reads inside it with its own shell) - where it publishes the server (as O(published_ports)), the version of
        each of O(container_tools) inside it (as O(client_versions), C(<tool>@container:<name>)) and what listens
        in it (as O(listeners)). Values given in those options win."
    type: str
  container_tools:
    description:
      - Client tools inside O(container) whose version is compared with the server's.
    type: list
    elements: str
    default: [pg_dump, pg_dumpall, pg_restore, psql]
  published_ports:
    description:
      - Where the server is published - Docker's C(NetworkSettings.Ports) mapping of the container, or a list
        of C({bind, port}). Omit when the server is not in a container.
    type: raw
  listeners:
    description:
      - What listens inside the server's container, as the container's kernel says it (the output of
        C(ssot.governance) validate's read of C(/proc/net/tcp), C(tcp6), C(udp), C(udp6) - lines of
        C(<file> <local address> <state>)). Every TCP listener besides the server's own port, and every unbound UDP
        socket, is a finding - C(listener_extra) (high) when reachable from the container's network,
        C(listener_extra_local) (medium) on its loopback. Omit when the server is not in a container.
    type: str
  expected_ports:
    description:
      - What the SSOT says is published (C(target.ports)) as C(bind:port) strings; with O(published_ports) it
        becomes the check C(exposure.published), a deviation when they differ.
    type: list
    elements: str
  exposure:
    description:
      - The SSOT's C(exposure) (C(allowed_binds), C(ssl_required)).
    type: dict
    default: {}
  size_limit:
    description:
      - Size above which the databases are a finding (the SSOT's C(snapshot.size_limit), e.g. C(10GiB)).
    type: raw
  artifact_sizes:
    description:
      - Delivered artifact sizes in bytes, artifact id to size, reported with the database sizes.
    type: dict
    default: {}
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
  - ssot.governance.decisions
  - ssot.governance.attributes
  - ssot.governance.attributes.READ_ONLY
author:
  - ssot.governance maintainers (@ssot-governance)
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
    checks:
      - id: shop-customers
        sql: SELECT count(*) FROM shop.customers
        database: legacy_shop
        expect: 500
    ssot_digest: "{{ ssot_digest }}"
  register: checked

- name: Fail when a decision is pending
  ansible.builtin.assert:
    that: checked.pending | length == 0
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
      description: C(postgres.major), C(setting.<name>), C(check.<id>) or C(exposure.published).
      type: str
    decision:
      description: Id of the decision a deviation opened.
      type: str
      returned: when status is not match
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
client_versions:
  description: The C(--version) answer of every client tool compared, C(<tool>[@<where>]) to text.
  returned: success
  type: dict
  sample: {"pg_dump": "pg_dump (PostgreSQL) 15.18", "pg_dump@container:legacy-pg-demo": "pg_dump (PostgreSQL) 15.18"}
server_version_num:
  description: C(server_version_num) as a number.
  returned: success
  type: int
  sample: 102300
findings:
  description: What the reference skill always watches, whatever the SSOT says.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Stable id (C(finding.<code>[.<subject>])).
      type: str
    code:
      description: Kind of finding (client_old, exposure_public, listen_all, trust, superuser_nopass, ssl_off_exposed, ...).
      type: str
    severity:
      description: info, low, medium, high or critical.
      type: str
    title:
      description: One line, in the operator's language.
      type: str
    explanation:
      description: Why it matters and what to do, in the operator's language.
      type: str
    sql:
      description: The statement that found it, when one did.
      type: str
    actual:
      description: What was found.
      type: raw
    decision:
      description: Id of the decision a high or critical finding opened.
      type: str
  sample: [{"id": "finding.trust", "severity": "high", "title": "Entrada trust no pg_hba (2)"}]
decisions:
  description: The decisions raised (deviations, check errors, high and critical findings) with their status.
  returned: success
  type: list
  elements: dict
  sample: [{"id": "validate.setting.wal_level.1a2b3c4d", "status": "pending", "phase": 3}]
pending:
  description: Ids of the decisions not approved.
  returned: success
  type: list
  elements: str
  sample: []
milestone:
  description: Phase 3 milestone for the runbook callback (blocked while a decision is pending).
  returned: success
  type: dict
  sample: {"phase": 3, "status": "clear", "next_steps": []}
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
from ansible_collections.ssot.governance.plugins.module_utils import _decisions, _engine, _findings, _pg, _result, _validate
from ansible_collections.ssot.governance.plugins.module_utils._text import rendered


def main():
    argument_spec = _pg.connection_argument_spec()
    argument_spec.update(_decisions.argument_spec())
    argument_spec.update(
        expected_major=dict(type="str"),
        settings=dict(type="dict", default={}),
        checks=dict(type="list", elements="dict", default=[]),
        client_tools=dict(type="list", elements="str", default=["pg_dump", "pg_dumpall", "pg_restore", "psql"]),
        client_versions=dict(type="dict", default={}),
        published_ports=dict(type="raw"), listeners=dict(type="str"),
        container=dict(type="str"),
        container_tools=dict(type="list", elements="str", default=["pg_dump", "pg_dumpall", "pg_restore", "psql"]),
        expected_ports=dict(type="list", elements="str"),
        exposure=dict(type="dict", default={}),
        size_limit=dict(type="raw"),
        artifact_sizes=dict(type="dict", default={}),
        evidence_name=dict(type="str", default="pg_check"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not _pg.HAS_PSYCOPG2:
        module.fail_json(msg=missing_required_lib("psycopg2-binary"), exception=str(_pg.PSYCOPG2_IMPORT_ERROR))
    p = module.params
    lang = p["language"]
    try:
        limit = _findings.size_bytes(p["size_limit"]) if p["size_limit"] not in (None, "") else None
    except ValueError as exc:
        module.fail_json(msg=rendered(exc, lang), queries=[])
    container = {}
    if p["container"]:
        try:
            container = _findings.container_observations(_engine.Engine(module), p["container"], p["container_tools"])
        except _engine.EngineError as exc:
            module.fail_json(msg=rendered(exc, lang), queries=[])
        for key in ("published_ports", "listeners"):
            if p[key] is None:
                p[key] = container[key]
    published = p["published_ports"]
    published = _findings.published_from_docker(published) if isinstance(published, dict) else (published or [])

    def open_session(dbname):
        return _pg.ReadOnlySession(p["login_host"], p["login_port"], p["login_user"], p["login_password"],
                                   dbname, p["connect_timeout"], language=lang)

    try:
        session = open_session(p["login_db"])
    except _pg.CheckError as exc:
        module.fail_json(msg=rendered(exc, lang), queries=[])
    try:
        result = _pg.run_checks(session, p["expected_major"], p["settings"])
        result["checks"].extend(_validate.run_named(session, p["checks"], open_session))
        if p["expected_ports"] is not None and p["published_ports"] is not None:
            result["checks"].append(_validate.exposure_check(published, p["expected_ports"], lang))
        versions = _findings.local_tool_versions(p["client_tools"])
        versions.update(container.get("client_versions") or {})
        versions.update(p["client_versions"])
        found = _validate.findings(session, result["server_version_num"], lang, versions, published,
                                   p["exposure"], limit, p["artifact_sizes"], p["listeners"])
        result["transcript"] = session.transcript
        text_log = _pg.report_text(result, session.dsn_text) + _validate.findings_text(found)
    except (_pg.CheckError,) + _pg.PG_ERRORS as exc:
        module.fail_json(msg=rendered(exc, lang).strip(), queries=session.queries)
    finally:
        session.close()
    del result["transcript"]
    checks = result["checks"]
    result.update(deviations=[c["id"] for c in checks if c["status"] != _pg.MATCH],
                  matched=sum(1 for c in checks if c["status"] == _pg.MATCH))
    # Raised here, settled on the controller (its action): whether one is approved is not this host's to say.
    decisions = _validate.decide(checks, found, p["ssot_digest"], lang)
    pending = [d["id"] for d in decisions]
    if decisions:
        text_log += "-- decisions raised\n" + "".join("%s  %s\n" % (d["id"], d["title"]) for d in decisions)
    name = p["evidence_name"]
    content = dict(result, findings=found, decisions=decisions, client_versions=versions, endpoint=session.dsn_text,
                   queries=session.queries)
    evidence = [_result.evidence(name + ".log", text=text_log), _result.evidence(name + ".json", content=content)]
    module.exit_json(changed=False, queries=session.queries, evidence=evidence, findings=found, decisions=decisions,
                     pending=pending, client_versions=versions,
                     milestone=_result.milestone("validate", "blocked" if pending else "clear"),
                     **result)


if __name__ == "__main__":
    main()
