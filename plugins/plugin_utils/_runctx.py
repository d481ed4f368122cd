# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the recorder callback tells the collection's actions of this run, and how the actions' records prove
they were made on the controller (docs/security.md).

PRIVATE: internal to ssot.governance; its API may change at any time (controller side).

The callback (in ansible-playbook's own process) starts a RunContext before any worker is forked: a random key
that exists only in the controller's memory, and the hosts whose environment is being recorded in the current
play. Ansible forks a worker per task, so an action sees the context as it was when its task started.

- **Attestation.** A controller action signs the records only the controller may make (decision statuses and
  answers, milestones, snapshot verdicts, rollback data, the SSOT in force) with an HMAC under the run's key; the
  callback accepts such records only with a valid attestation. A module result from a target host - whatever its
  Python returned - cannot carry one, so what it claims beyond its observations is refused.
- **Recording.** A change refuses to act on a host whose environment is not being recorded in this play: no
  variable, configuration or play var decides that, only whether the callback opened the host's journal.
- **Where the records are, and who was refused.** The store the callback was configured with (the lookups and
  actions read the records from the same one) and, per host, why its workspace could not be opened (the first task
  of the ``ssot`` role fails that host alone with the reason). One object, handed over by the callback: nothing
  else in the process holds a channel of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os

ATTESTATION = "ssot_attestation"
DECISION_ATTESTATION = "attestation"
# Records of a result that only a controller action of this collection may make.
CONTROLLER_RECORDS = ("decision", "decisions", "milestone", "snapshot", "rollback", "rollbacks", "ssot_loaded")


class RunContext(object):
    """One run of ansible-playbook as the recorder sees it."""

    def __init__(self):
        self.key = os.urandom(32)
        self.recorded = {}          # host -> workspace, for the hosts of the current play being recorded
        self.play_recorded = False
        self.runs = {}              # workspace -> the id of this run in its journal (its lines are the open tail)
        self.envs = {}              # workspace -> the environment identity its records were opened under (or None)
        self.store = None           # (kind, dsn_env) the callback was configured with, once set_options ran
        self.gate_active = False    # whether the callback opened (or refused) this run's environments
        self.refused = {}           # host -> why the recorder could not open its workspace

    def use_store(self, kind, dsn_env):
        self.store = (kind, dsn_env)

    def refuse(self, host, reason):
        self.gate_active = True
        self.refused[host] = reason

    def record_play(self, hosts_to_workspaces, recorded=True):
        self.recorded = dict(hosts_to_workspaces) if recorded else {}
        self.play_recorded = bool(recorded)


_CURRENT = []


def start():
    """The run's context, made once by the callback before any worker exists."""
    if not _CURRENT:
        _CURRENT.append(RunContext())
    return _CURRENT[0]


def current():
    """The run's context, or None when no recorder runs in this process (the callback is not enabled)."""
    return _CURRENT[0] if _CURRENT else None


def run_of(workspace):
    """The id this run has in ``workspace``'s journal, or None when this run does not record it."""
    ctx = current()
    return ctx.runs.get(os.path.realpath(workspace)) if ctx is not None else None


def env_of(workspace):
    """(True, the identity ``workspace``'s records were opened under, or None), or (False, None) when this run does
    not record it."""
    ctx = current()
    key = os.path.realpath(workspace)
    if ctx is None or key not in ctx.envs:
        return False, None
    return True, ctx.envs[key]


def store():
    """(kind, dsn_env) the callback records with, or None (no callback in this process, or not configured yet)."""
    ctx = current()
    return ctx.store if ctx is not None else None


def refusal_for(host):
    """Why the recorder could not open ``host``'s workspace, or None (recorded, or no recorder in this run)."""
    ctx = current()
    if ctx is None or not ctx.gate_active:
        return None
    return ctx.refused.get(host)


def recording(host):
    """The workspace the recorder keeps for ``host`` in the current play, or None when it is not recorded."""
    ctx = current()
    if ctx is None or not ctx.play_recorded:
        return None
    return ctx.recorded.get(host)


def _canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def _mac(ctx, host, what, value):
    body = ("%s\n%s\n%s" % (what, host, _canonical(value))).encode("utf-8")
    return hmac.new(ctx.key, body, hashlib.sha256).hexdigest()


def _bare(decision):
    return dict((k, v) for k, v in decision.items() if k != DECISION_ATTESTATION)


def _covered(result, keys):
    return dict((k, result[k]) for k in keys if k in result)


def attest(result, host, extra=()):
    """Sign ``result``'s controller records - and the ``extra`` outputs a later step relies on (an inventory's
    artifacts) - for ``host`` (each decision too, so a later gate can tell its decisions came from this run's
    controller). Without a run context nothing is signed, and nothing will be accepted."""
    ctx = current()
    if ctx is None:
        return result
    for key in ("decision", "decisions"):
        items = result.get(key)
        for d in (items if isinstance(items, list) else [items] if isinstance(items, dict) else []):
            if isinstance(d, dict):
                d[DECISION_ATTESTATION] = _mac(ctx, host, "decision", _bare(d))
    keys = sorted(set(k for k in CONTROLLER_RECORDS + tuple(extra) if k in result))
    result[ATTESTATION] = {"keys": keys, "mac": _mac(ctx, host, "result", [keys, _covered(result, keys)])}
    return result


def attested(result, host, require=()):
    """Whether ``result``'s controller records (and the outputs in ``require``) were signed for ``host`` by a
    controller action of this run."""
    ctx = current()
    given = result.get(ATTESTATION) if isinstance(result, dict) else None
    if ctx is None or not isinstance(given, dict) or not isinstance(given.get("mac"), str):
        return False
    keys = given.get("keys")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        return False
    present = set(k for k in CONTROLLER_RECORDS if k in result) | set(require)
    if not present <= set(keys):
        return False
    return hmac.compare_digest(given["mac"], _mac(ctx, host, "result", [keys, _covered(result, keys)]))


def decision_attested(decision, host):
    """Whether one decision was raised and settled by a controller action of this run for ``host``."""
    ctx = current()
    given = decision.get(DECISION_ATTESTATION) if isinstance(decision, dict) else None
    if ctx is None or not isinstance(given, str):
        return False
    return hmac.compare_digest(given, _mac(ctx, host, "decision", _bare(decision)))


def strip(result):
    """The result without its attestations (they mean nothing outside this run: never journaled)."""
    result.pop(ATTESTATION, None)
    for key in ("decision", "decisions"):
        items = result.get(key)
        for d in (items if isinstance(items, list) else [items] if isinstance(items, dict) else []):
            if isinstance(d, dict):
                d.pop(DECISION_ATTESTATION, None)
    return result
