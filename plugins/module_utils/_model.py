# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The domain model: phases, severities and statuses, each defined here and nowhere else.

PRIVATE: internal to ssot.governance; its API may change at any time. Stdlib only (modules
and controller plugins both read it).

Everything else derives from this file: the schema enums (``scripts/generate.py`` writes
them into ``schemas/*.schema.json``), the milestones of the views, the order and badge of a
severity on the panel, the phase a role's tasks count for, and the command the checklist
gives a person for each phase. Adding a phase or a severity is an edit here plus its labels
in ``messages/*.yml`` (the catalog test names any label that is missing).
"""

from __future__ import annotations

from collections import namedtuple

COLLECTION = "ssot.governance"


class ModelError(Exception):
    """Code asked the model for something it does not define (a programming error, named)."""


# number: the reference skill's phase; role: the collection role whose tasks count for it; playbook: the
# collection playbook that runs that role; manual: the read-only command a person runs to check the phase by
# hand (argv words; @workspace@ and @container@ are filled in and every word is shell-quoted by the renderer).
Phase = namedtuple("Phase", "number role playbook manual")
_PLAY = ("ansible-playbook", "@playbook@", "-e", "ssot_workspace=@workspace@")

PHASES = (
    Phase(0, "ssot", "validate", ("ansible-playbook", COLLECTION + ".verify", "-e", "ssot_workspace=@workspace@")),
    Phase(1, "inventory", "validate", _PLAY + ("--tags", "inventory")),
    Phase(2, "provision", "provision",
          ("docker", "inspect", "--format", "{{.State.Status}} {{.Config.Image}} {{json .HostConfig.PortBindings}}",
           "@container@")),
    Phase(3, "validate", "validate", _PLAY),
    Phase(4, "expose", "modify", ("docker", "port", "@container@")),
    Phase(5, "ingest", "ingest", _PLAY),
    Phase(6, "snapshot", "snapshot", _PLAY + ("--tags", "restore_test")),
)
PHASE_NUMBERS = tuple(p.number for p in PHASES)
# Roles that serve several phases (a gate, a change of what validation found): their tasks count for no one
# phase. Every role of the collection is either a phase's role or listed here (a test walks roles/).
SHARED_ROLES = ("hitl_gate", "modify")
_BY_ROLE = dict((p.role, p) for p in PHASES)
_BY_NUMBER = dict((p.number, p) for p in PHASES)


def phase(key):
    """The Phase of a number or of a collection role's short name; ModelError for anything else."""
    found = _BY_NUMBER.get(key) if isinstance(key, int) else _BY_ROLE.get(key)
    if found is None:
        raise ModelError("no phase %r in the model (plugins/module_utils/_model.py)" % (key,))
    return found


def milestone_key(number):
    """The catalog key of a phase's title."""
    return "milestone.%d" % phase(number).number


def manual_command(number, playbook_of=None, **values):
    """The argv of a phase's manual check with @name@ placeholders filled (``values``: workspace, container)."""
    words = []
    for word in phase(number).manual:
        word = word.replace("@playbook@", COLLECTION + "." + (playbook_of or phase(number).playbook))
        for name, value in values.items():
            word = word.replace("@%s@" % name, str(value))
        words.append(word)
    return words


def role_phase(role):
    """The phase number of a role's tasks, or None (no role, a shared role, or a role from outside).

    ``role`` as Ansible names it: ``validate`` or ``ssot.governance.validate``. A role of this
    collection that the model does not know is an error: it would silently get no milestone.
    """
    if not role:
        return None
    namespace, dummy, short = role.rpartition(".")
    if short in _BY_ROLE:
        return _BY_ROLE[short].number
    if short in SHARED_ROLES or (namespace and namespace != COLLECTION):
        return None
    if namespace == COLLECTION:
        raise ModelError("role %s has no phase in the model: add it to PHASES or SHARED_ROLES" % role)
    return None


# Ordered from the most to the least severe; badge: the panel's background for its label.
Severity = namedtuple("Severity", "name badge")
SEVERITIES = (
    Severity("critical", "#f4a6a1"),
    Severity("high", "#f9d7d5"),
    Severity("medium", "#fde8c8"),
    Severity("low", "#e3eefc"),
    Severity("info", "#eceff1"),
)
SEVERITY_NAMES = tuple(s.name for s in SEVERITIES)
# Findings at or above this severity open a decision.
DECIDE_AT = "high"


def severity_rank(name):
    """0 for the most severe; unknown names after every known one."""
    return SEVERITY_NAMES.index(name) if name in SEVERITY_NAMES else len(SEVERITY_NAMES)


def decides(severity):
    return severity in SEVERITY_NAMES and severity_rank(severity) <= severity_rank(DECIDE_AT)


# Statuses: name -> (values, catalog prefix of their labels or None when no person reads them).
STATUSES = {
    "milestone_status": (("pending", "in_progress", "done", "blocked", "failed"), "status"),
    "step_status": (("pending", "in_progress", "done", "failed", "skipped"), "status"),
    "host_status": (("ok", "changed", "failed", "skipped", "unreachable"), None),
    "run_status": (("running", "ok", "failed", "interrupted"), "run.status"),
    "decision_status": (("pending", "approved", "rejected", "expired"), "decision.status"),
    "check_status": (("match", "deviation", "pending", "present", "missing", "error"), "check.status"),
    "snapshot_status": (("verified", "failed"), "snapshot.status"),
    "restore_status": (("passed", "failed"), "snapshot.restore"),
}
# What a module may set a milestone to: a status that sticks until ``clear`` (the phase's plays decide again).
MILESTONE_SETS = ("blocked", "failed", "clear")


def statuses(name):
    return STATUSES[name][0]


# Decision kinds: the first word of a decision id, and the options a decision of that kind may offer, in the
# kind's own order - the letters an approver answers with (A, B ...) follow it, whatever order a decision lists its
# options in. An option's label is the catalog's ``decision.option.<code>`` (OPTION_CODES where the code differs).
DECISION_KINDS = dict((
    ("validate", ("fix", "accept")),
    ("finding", ("remediate", "accept_risk")),
    ("inventory", ("use_delivered", "convert", "rebuild")),
    ("ingest", ("ingest", "reload", "skip_ingest", "keep_target")),
    ("snapshot", ("proceed", "save", "skip_image")),
    ("rollback", ("rollback", "keep")),
))
OPTION_CODES = {"rollback": "rollback_anyway", "keep": "rollback_keep"}


def decision_kind(decision_id):
    """The kind of a decision id (its first word); ModelError for one the model does not define."""
    kind = str(decision_id).split(".", 1)[0]
    if kind not in DECISION_KINDS:
        raise ModelError("decision kind %r is not in the model (plugins/module_utils/_model.py)" % (kind,))
    return kind


def option_label_key(option_id):
    return "decision.option.%s" % OPTION_CODES.get(option_id, option_id)


def schema_defs():
    """The $defs every schema that names a phase, a severity or a status takes from the model."""
    defs = {"phase": {"description": "A phase of the reference skill (plugins/module_utils/_model.py).",
                      "enum": list(PHASE_NUMBERS)},
            "severity": {"description": "From the most to the least severe: %s." % ", ".join(SEVERITY_NAMES),
                         "enum": list(SEVERITY_NAMES)}}
    for name, (values, dummy) in sorted(STATUSES.items()):
        defs[name] = {"enum": list(values)}
    defs["milestone_set"] = {"enum": list(MILESTONE_SETS)}
    return defs


def catalog_keys():
    """Every catalog key the model needs a label for, in every language."""
    keys = [milestone_key(n) for n in PHASE_NUMBERS] + ["severity.%s" % s for s in SEVERITY_NAMES]
    keys += [option_label_key(o) for options in DECISION_KINDS.values() for o in options]
    for values, prefix in STATUSES.values():
        if prefix:
            keys.extend("%s.%s" % (prefix, v) for v in values)
    return sorted(set(keys))
