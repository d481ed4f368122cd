# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The callback's side of the module -> recorder contract (schemas/result.schema.json).

PRIVATE: internal to ssot.governance; its API may change at any time (controller side).

Only this collection's modules speak the contract: their records are taken out of the result,
validated, and turned into typed events for the writer. A record that does not match the schema
is not kept and is named (module, key, why), so a module that drifts from the contract fails its
run's record loudly instead of being skipped in silence.
"""

from __future__ import annotations

import functools

try:
    import jsonschema
    from referencing import Registry, Resource
    HAS_JSONSCHEMA = True
    JSONSCHEMA_IMPORT_ERROR = None
except ImportError as exc:  # the callback refuses the run, naming the library (runbook.py)
    HAS_JSONSCHEMA = False
    JSONSCHEMA_IMPORT_ERROR = exc

from ansible_collections.ssot.governance.plugins.module_utils import _result, _schemas
from ansible_collections.ssot.governance.plugins.plugin_utils import _events

COLLECTION_PREFIX = "ssot.governance."


@functools.lru_cache(maxsize=None)
def validator():
    """The contract's validator, built once (the schemas it refers to resolved from the generated copies)."""
    registry = Registry().with_resources([(s["$id"], Resource.from_contents(s)) for s in _schemas.SCHEMAS.values()])
    return jsonschema.Draft202012Validator(_schemas.SCHEMAS["result"], registry=registry)


def speaks_contract(action):
    """Whether a task's action is one of this collection's (FQCN, as the collection's roles write them)."""
    return isinstance(action, str) and action.startswith(COLLECTION_PREFIX)


def split(data):
    """The records of a result: the record keys taken out of ``data``; checks and findings stay there too."""
    records = dict((k, data.pop(k)) for k in _result.RECORD_KEYS if k in data)
    for key in _result.KEPT_IN_RESULT:
        if key in data:
            records[key] = data[key]
    return records


def problems(records):
    """Each way ``records`` break the contract, as 'key.path: what is wrong' (empty when they keep it)."""
    out = []
    for error in sorted(validator().iter_errors(records), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in error.absolute_path) or "(result)"
        out.append("%s: %s" % (where, error.message[:200]))
    return out


def events(records, data, step, host, task_name, status):
    """The writer events of valid records, in the order the recorder keeps them."""
    out = []
    if records.get("ssot_loaded") and status not in ("failed", "skipped"):
        out.append(_events.SsotLoaded(dict(data, **records["ssot_loaded"])))
    if records.get("checks"):
        out.append(_events.Checks(records["checks"]))
    if records.get("findings"):
        out.append(_events.Findings(records["findings"]))
    for item in records.get("evidence") or []:
        out.append(_events.Evidence(item["name"], item["text"] if "text" in item else item["content"], step, host,
                                    task_name))
    for decision in records.get("decisions") or ([records["decision"]] if records.get("decision") else []):
        out.append(_events.Decision(decision))
    if records.get("milestone"):
        out.append(_events.Milestone(records["milestone"]))
    if records.get("snapshot"):
        out.append(_events.Snapshot(records["snapshot"]))
    for record in ([records["rollback"]] if records.get("rollback") else []) + list(records.get("rollbacks") or []):
        out.append(_events.Rollback(record, step, host))
    return out
