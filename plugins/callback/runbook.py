# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: runbook
type: notification
short_description: Record every run in the SSOT workspace - journal, evidence, runbook.json, project-panel.json
version_added: 1.0.0
description:
  - Writes the memory of every run under the workspace (C(-e ssot_workspace=<dir>)), following the reference skill.
  - C(journal.jsonl), append-only, one hash-chained line per event (run, play, task, host result, SSOT loaded,
    evidence, decision, milestone, deviation, checkpoint, view, interruption). C(ssot.governance.verify) re-walks it.
  - C(evidence/<run>/...), one file per piece of evidence - what modules return under C(evidence)
    (C({name, text}) or C({name, content}), or a list of them), and the C(stdout) (else the result) of any task
    that sets the task variable C(ssot_evidence) to a name - with its sha256 in the journal.
  - C(runbook.json) and C(project-panel.json), views rebuilt from the journal, replaced atomically at play start
    (the plan - every task of the play as a pending step), at play end (a checkpoint with the artifacts and the
    next steps), at the end of the run and on interruption; valid against the collection's schemas at every moment.
  - A new run on the same workspace continues the same runbook; a second run while one is active is refused;
    SIGINT/SIGTERM mark the run interrupted, and a run killed outright is marked interrupted by the next one.
  - Secrets never reach a file - C(no_log) results are not written, values of secret-like keys, DSN passwords and
    container C(Env) values are masked, and every secret value seen is masked wherever it appears again.
  - A failure to write is a loud warning, never a silent loss.
requirements:
  - Enable it, for instance in ansible.cfg - C(callbacks_enabled = ssot.governance.runbook).
options:
  workspace:
    description:
      - Workspace folder, used when the playbook gets no C(ssot_workspace) extra var (or play var).
    type: path
    env:
      - name: SSOT_WORKSPACE
    ini:
      - section: ssot_governance
        key: workspace
  language:
    description:
      - Language of the texts in the views until the SSOT is loaded; then the SSOT's C(metadata.language) wins.
    type: str
    default: pt-BR
    choices: [pt-BR, en]
    env:
      - name: SSOT_LANGUAGE
    ini:
      - section: ssot_governance
        key: language
  redact_patterns:
    description:
      - Extra regular expressions for key names whose values are secrets (added to the built-in ones).
    type: list
    elements: str
    default: []
    env:
      - name: SSOT_REDACT_PATTERNS
    ini:
      - section: ssot_governance
        key: redact_patterns
  secret_vars:
    description:
      - "Names of extra vars whose values are secrets (masked in every file, whatever the name looks like). Extra
        vars with secret-like names, and the variables the SSOT references as C({var: NAME}) or C({env: NAME}),
        are masked anyway."
    type: list
    elements: str
    default: []
    env:
      - name: SSOT_SECRET_VARS
    ini:
      - section: ssot_governance
        key: secret_vars
  seal_key:
    description:
      - SSH key that seals the journal at the end of every run and on interruption - a private key file, or the
        C(.pub) of a key held by the ssh-agent (C(SSH_AUTH_SOCK)). The seal is a journal line signing the chain
        head and every line hash since the previous seal (C(ssh-keygen -Y sign), namespace
        C(seal@ssot.governance)); C(ssot.governance.verify) checks it against the SSOT's C(hitl.allowed_signers).
      - Keep the key outside the workspace. Without it runs are not sealed (a warning when the SSOT requires seals).
    type: path
    env:
      - name: SSOT_SEAL_KEY
    ini:
      - section: ssot_governance
        key: seal_key
  store:
    description:
      - Where the records are kept. C(files) - the workspace folder (journal.jsonl, evidence/, logs/, the views).
        C(postgresql) - a PostgreSQL database the team already runs, one namespace per environment (the workspace
        folder's name), with the same guarantees (docs/recorder.md); what an AWX job pod, which loses its disk,
        needs (docs/awx.md). C(ansible-playbook ssot.governance.export) writes its records into a folder.
    type: str
    default: files
    choices: [files, postgresql]
    env:
      - name: SSOT_STORE
    ini:
      - section: ssot_governance
        key: store
  store_dsn_env:
    description:
      - Name of the environment variable holding the DSN of the C(postgresql) store (libpq syntax, for instance
        C(host=db.example port=5432 dbname=ssot user=recorder password=...)). The DSN itself is never read from a
        file or a variable; under AWX a custom credential type injects it (docs/awx.md).
    type: str
    default: SSOT_STORE_DSN
    env:
      - name: SSOT_STORE_DSN_ENV
    ini:
      - section: ssot_governance
        key: store_dsn_env
  fleet_dir:
    description:
      - Folder for the fleet view (C(fleet-panel.json) and C(fleet-panel.html), one row per environment with a link to
        its own panel). By default the folder directly holding all the run's workspaces, when the run has several
        environments or a fleet view is already there (docs/fleet.md).
    type: path
    env:
      - name: SSOT_FLEET_DIR
    ini:
      - section: ssot_governance
        key: fleet_dir
  profile:
    description:
      - File to write the recorder's cost per event to (JSON, C([name, wall seconds, CPU seconds]) per event),
        for the benchmarks.
    type: path
    env:
      - name: SSOT_RECORDER_PROFILE
    ini:
      - section: ssot_governance
        key: profile
'''

import getpass
import hashlib
import os
import signal
import time

from ansible import context
from ansible.plugins.callback import CallbackBase
from ansible.playbook.block import Block
from ansible.utils.display import Display
from ansible_collections.ssot.governance.plugins.plugin_utils._recorder import (
    Recorder, RecorderError, StoreLost, WorkspaceBusy, cause_of, incomplete, profile_dump,
    utc_now as _recorder_now)
from ansible_collections.ssot.governance.plugins.plugin_utils import (
    _contract, _events, _fleet, _guard, _runctx, _writers)
from ansible_collections.ssot.governance.plugins.plugin_utils._redact import Redactor
from ansible_collections.ssot.governance.plugins.plugin_utils._workspace import WorkspaceUnsafe
from ansible_collections.ssot.governance.plugins.module_utils._model import role_phase
from ansible_collections.ssot.governance.plugins.plugin_utils._views import text

display = Display()


def _role_name(task):
    role = getattr(task, "_role", None)
    return role.get_name() if role is not None else None


def step_id(playbook, play, task):
    """Stable across runs of the same playbook, wherever the collection is installed."""
    path = task.get_path() or ""
    key = "|".join((playbook, play, _role_name(task) or "", os.path.basename(path), task.get_name()))
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def _tasks(blocks):
    for block in blocks:
        for part in (block.block, block.rescue, block.always):
            for item in part or []:
                if isinstance(item, Block):
                    yield from _tasks([item])
                else:
                    yield item


EXPORT_ACTION = "ssot.governance.export"


def _is_export(play):
    """A play that exports the records (it holds the collection's export task): not recorded, nothing changes."""
    return any(EXPORT_ACTION in (str(t.action), getattr(t, "resolved_action", None)) for t in _tasks(play.compile()))


def _literals(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _literals(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _literals(v)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "ssot.governance.runbook"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super(CallbackModule, self).__init__(display=display)
        self.fleet = _fleet.Writers()
        self._seen_hosts = set()
        self._play_hosts = []
        self._playbook = ""
        self._play_name = ""
        self._workspace_opt = None
        self._language = "pt-BR"
        self._patterns = []
        self._secret_vars = []
        self._profile = None
        self._costs = []
        self._refused_all = False
        self._play = None
        self._fleet_dir = None
        self._store = "files"
        self._dsn_env = None
        self._seal_key = None
        self._record_failed = None  # why this run was not all recorded (_recorder.CAUSES), once it happened
        self._pid = os.getpid()
        # The run's attestation key and who is being recorded: made here, in ansible-playbook's own process, before
        # any worker exists (plugin_utils/_runctx.py).
        self._run = _runctx.start()
        self._previous_handlers = {}
        self._step_ids = {}
        self._actions = {}

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super(CallbackModule, self).set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self._workspace_opt = self.get_option("workspace")
        self._language = self.get_option("language")
        self._patterns = self.get_option("redact_patterns") or []
        self._secret_vars = self.get_option("secret_vars") or []
        self._profile = self.get_option("profile")
        self._seal_key = self.get_option("seal_key")
        self._fleet_dir = self.get_option("fleet_dir")
        self._store = self.get_option("store")
        self._dsn_env = self.get_option("store_dsn_env")
        # The lookups and actions of this run read the records from the same store (handed over in the run's context).
        self._run.use_store(self._store, self._dsn_env)

    # --- helpers ---------------------------------------------------------------
    def _step_id(self, task):
        key = (self._play_name, task._uuid)
        sid = self._step_ids.get(key)
        if sid is None:
            sid = self._step_ids[key] = step_id(self._playbook, self._play_name, task)
        return sid

    def _action(self, task):
        """The task's action as an FQCN: a short name (``ssot_info`` under ``collections:``) is resolved by Ansible,
        once per task."""
        action = task.action
        if "." in action or "{" in action:
            return action
        key = task._uuid
        if key not in self._actions:
            self._actions[key] = getattr(task, "resolved_action", None) or action
        return self._actions[key]

    def _warn(self, what, exc):
        display.warning(text(self._language, "recorder.not_recorded", what=what, error=exc))

    def _timed(self, fn, *args):
        name = type(args[0]).__name__ if args and isinstance(args[0], tuple) else getattr(fn, "__name__", "?")
        start, cpu = time.perf_counter(), time.thread_time()
        try:
            fn(*args)
        except StoreLost as exc:
            self._lost(getattr(fn, "__self__", None), exc)
        except Exception as exc:  # pylint: disable=broad-except
            # (Recording in this process, a writer that could not be forked: one environment's failure is its own.)
            self._record_failed = self._record_failed or cause_of(exc)
            self._warn(text(self._language, "recorder.could_not_record", event=name), exc)
        finally:
            if self._profile:
                # Wall time, and CPU time of this thread (not inflated when workers compete for the cores).
                self._costs.append((name, time.perf_counter() - start, time.thread_time() - cpu))

    def _lost(self, writer, exc):
        """A store failed mid-run: the run stops now. The other environments record why; nothing is half written
        (transactions); the next run on the lost one marks this run interrupted."""
        display.error("ssot.governance.runbook: %s" % exc)
        for dummy, other in self.fleet.items():
            if other is not writer and not getattr(other, "lost", False):
                try:
                    other.finish(_events.Interrupt(str(exc)))
                except (OSError, RecorderError) as failure:
                    self._warn(text(self._language, "recorder.could_not_record", event="interrupt"), failure)
        raise SystemExit(3)

    def _open(self, play):
        """Open the workspace of every host of the play not seen yet: one recorder per environment."""
        try:
            extra = dict(play.get_variable_manager().extra_vars or {})
        except AttributeError:
            extra = {}
        # (A launcher that set a variable the collection owns was refused at v2_playbook_on_start, docs/hitl.md.)
        # The SSOT decides its environment's rules: a launcher's ssot_file is the workspace's own or nothing.
        if "ssot_file" in extra:
            for workspace in [extra.get("ssot_workspace")] if extra.get("ssot_workspace") else []:
                dummy, why = _guard.ssot_path(workspace, extra.get("ssot_file"))
                if why:
                    display.error("ssot.governance.runbook: %s" % text(self._language, why[0], workspace=workspace,
                                                                       **why[1]))
                    raise SystemExit(3)
        # Resuming in the middle of a play, or skipping the tasks that load the SSOT, would step around what the
        # later tasks rely on (each change checks its own approval; read-only tasks still need the SSOT in force).
        for flag, name in (("start_at_task", "--start-at-task"), ("step", "--step")):
            if context.CLIARGS.get(flag):
                display.error("ssot.governance.runbook: %s" % text(self._language, "guard.flag", flag=name))
                raise SystemExit(3)
        if "always" in (context.CLIARGS.get("skip_tags") or ()):
            display.error("ssot.governance.runbook: %s" % text(self._language, "guard.skip_always"))
            raise SystemExit(3)
        if not _contract.HAS_JSONSCHEMA:
            display.error("ssot.governance.runbook: %s" % text(self._language, "recorder.no_jsonschema",
                                                               error=_contract.JSONSCHEMA_IMPORT_ERROR))
            raise SystemExit(3)
        by_name = dict((h.get_name(), h) for h in _fleet.play_hosts(play))
        self._play_hosts = sorted(by_name)
        new = [h for h in self._play_hosts if h not in self._seen_hosts]
        if not new:
            return
        self._seen_hosts.update(new)
        self._run.gate_active = True
        assignment = {}
        refused = {}
        variables = {}  # host -> its variables, computed once (Ansible's get_vars is the dearest part of opening)
        for host in new:
            try:
                variables[host] = _fleet.host_vars(play, by_name[host])
                assignment[host] = _fleet.workspace_of(play, by_name[host], self._workspace_opt, variables[host])
            except Exception as exc:  # a host var that does not template: that host alone is refused
                refused[host] = text(self._language, "fleet.bad_workspace", host=host, error=exc)
                continue
            if assignment[host] is None:
                refused[host] = text(self._language, "recorder.no_workspace_host", host=host)
            elif assignment[host] in self.fleet.writers:
                refused[host] = text(self._language, "fleet.shared_workspace", workspace=assignment[host],
                                     hosts=", ".join(sorted([host] + self.fleet.hosts_of(assignment[host]))))
        for workspace, names in _fleet.shared(dict((h, w) for h, w in assignment.items() if h not in refused)).items():
            for host in names:
                refused[host] = text(self._language, "fleet.shared_workspace", workspace=workspace,
                                     hosts=", ".join(names))
        # Every environment's recorder is made, the writers are started for all of them at once, then each
        # environment is waited for: they open their runs side by side.
        started = []
        names_of = {}
        for host in new:
            if host not in refused:
                names_of.setdefault(assignment[host], []).append(host)
        for workspace in sorted(names_of):
            names = names_of[workspace]
            # The SSOT the plays load for that host (ssot_file: an extra var, or the inventory's), as they load it.
            try:
                ssot_file = _fleet.var_of(play, by_name[names[0]], "ssot_file", variables.get(names[0]))
            except Exception as exc:  # a host var that does not template: the play's SSOT load refuses it too
                ssot_file = exc
            started.append([workspace, names, self._make_recorder(workspace, extra, ssot_file)])
        self._start_writers(started)
        for workspace, names, writer in started:
            reason = self._open_workspace(workspace, writer, names)
            for host in names:
                if reason:
                    refused[host] = reason
        for host in sorted(refused):
            self._run.refuse(host, refused[host])
            display.error("ssot.governance.runbook: %s: %s" % (host, refused[host]))
        if refused and not self.fleet:
            # No environment of this run can be recorded: nothing runs (evidence always).
            self._refused_all = True
            raise SystemExit(3)

    def _make_recorder(self, workspace, extra, ssot_file=None):
        """One environment's recorder and how to open it, or the reason it cannot be opened."""
        if not os.path.lexists(workspace):
            # Never created by a run: a workspace that is not there is a mistyped ssot_workspace, not a place to
            # record (a link or a file there is the recorder's to refuse, with its reason).
            return text(self._language, "recorder.no_such_workspace", workspace=workspace)
        # The environment identity its SSOT pins (docs/recorder.md): the records must be that environment's.
        try:
            if isinstance(ssot_file, Exception):
                raise _guard.PinError("guard.ssot_file", {"file": str(ssot_file)[:200]})
            pin = _guard.environment_pin(workspace, ssot_file if isinstance(ssot_file, str) else None)
        except _guard.PinError as exc:
            return text(self._language, exc.key, workspace=workspace, **exc.params)
        recorder = Recorder(workspace, self._language, Redactor(self._patterns, extra_vars=extra,
                                                                secret_vars=self._secret_vars),
                            seal_key=self._seal_key, store=self._store, dsn_env=self._dsn_env, announce_fd=1,
                            environment=pin)
        opening = (self._playbook, getpass.getuser(), {
            "check_mode": bool(context.CLIARGS.get("check")),
            "tags": list(context.CLIARGS.get("tags") or []),
            "skip_tags": list(context.CLIARGS.get("skip_tags") or []),
        })
        return recorder, opening

    def _start_writers(self, started):
        """Replace each [workspace, names, (recorder, opening)] of ``started`` by its writer: the writer processes of
        a small pool (plugin_utils/_writers.py) open them - this process never holds a lock nor loads the store's
        driver - or, when no process can be forked, this process opens them itself."""
        todo = [entry for entry in started if isinstance(entry[2], tuple)]
        if not todo:
            return
        try:
            pool = _writers.Pool([entry[2] for entry in todo], kind=self._store)
        except OSError as exc:  # no process can be forked: record from this one
            display.warning(text(self._language, "recorder.no_writer", error=exc))
            for entry in todo:
                recorder, opening = entry[2]
                try:
                    recorder.open(*opening)
                    entry[2] = _writers.InProcess(recorder)
                except WorkspaceBusy as failure:
                    entry[2] = str(failure)
                except (OSError, RecorderError) as failure:
                    entry[2] = self._cannot_open(failure)
            return
        for entry, writer in zip(todo, pool.writers):
            entry[2] = writer

    def _cannot_open(self, exc):
        # Evidence always: a run whose records cannot be kept does not run there.
        return text(self._language, "recorder.not_recorded", what=text(self._language, "recorder.cannot_open"),
                    error=exc)

    def _open_workspace(self, workspace, writer, hosts):
        """Finish opening one environment's recorder; the reason it cannot be opened, or None."""
        if isinstance(writer, str):
            return writer
        try:
            writer.wait_open()
        except WorkspaceBusy as exc:
            return str(exc)
        except (OSError, RecorderError) as exc:
            return self._cannot_open(exc)
        warnings = writer.warnings
        if not self.fleet:
            self._language = writer.language      # the last SSOT's, once the journal is read
        for warning in warnings:
            display.warning("ssot.governance.runbook: %s" % warning)
        first = not self.fleet
        self.fleet.add(workspace, writer, hosts)
        self._run.runs[os.path.realpath(workspace)] = writer.run_id
        self._run.envs[os.path.realpath(workspace)] = writer.env
        if first:
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous_handlers[signum] = signal.getsignal(signum)
                signal.signal(signum, self._on_signal)
        return None

    def _on_signal(self, signum, frame):
        previous = self._previous_handlers.get(signum, signal.SIG_DFL)

        def handle():
            if os.getpid() == self._pid:
                for dummy, writer in self.fleet.items():
                    try:
                        writer.finish(_events.Interrupt("signal %s" % signal.Signals(signum).name))
                    except (OSError, RecorderError) as exc:
                        self._warn(text(self._language, "recorder.could_not_record", event="interrupt"), exc)
            signal.signal(signum, previous)
            if callable(previous):
                previous(signum, frame)
            elif previous == signal.SIG_DFL:
                os.kill(os.getpid(), signum)

        if os.getpid() == self._pid and self.fleet:
            # In the middle of a line or message: record, then let Ansible stop, once it is whole.
            self.fleet.defer(handle)
        else:
            handle()

    def _plan(self, play):
        only = set(context.CLIARGS.get("tags") or ["all"])
        skip = set(context.CLIARGS.get("skip_tags") or [])
        plan = []
        seen = set()
        for task in _tasks(play.compile()):
            if getattr(task, "implicit", False) or task.action in ("meta", "ansible.builtin.meta"):
                continue
            try:
                if not task.evaluate_tags(only, skip, all_vars={}):
                    continue
            except Exception:  # templated tags: cannot tell before the run, keep the task
                pass
            sid = self._step_id(task)
            if sid in seen:
                continue
            seen.add(sid)
            role = _role_name(task)
            plan.append({"id": sid, "name": task.get_name(), "role": role, "phase": role_phase(role)})
        return plan

    def _result(self, result, status, ignored=False):
        task = result.task
        host = result.host.get_name()
        rec = self.fleet.of(host)
        if rec is None:
            return
        # The raw copy ansible-core made for this callback (already cleaned and censored); the public
        # `result` property walks it again to convert types, which costs more than all our recording.
        data = getattr(result, "_return_data", None)
        if not isinstance(data, dict):
            data = result.result
        sid = self._step_id(task)
        if status == "ok" and data.get("changed"):
            status = "changed"
        entry = {"step": sid, "host": host, "status": status}
        if ignored:
            entry["ignored"] = True
        if "censored" in data:
            entry["censored"] = True
            rec.send(_events.Result(entry))
            return
        # Only this collection's modules speak the contract (schemas/result.schema.json); another module's keys
        # are its output, whatever their names.
        action = self._action(task)
        records, refusals = {}, []
        if _contract.speaks_contract(action):
            # Records only the controller may make count only with this run's attestation: a target host's module
            # (whatever its Python returned) claims them in vain, and the claim is recorded (docs/security.md).
            attested = _runctx.attested(data, host)
            _runctx.strip(data)
            records = _contract.split(data)
            refusals = [r for r in data.get("refused_records") or [] if isinstance(r, dict)]
            if not attested:
                for key in _runctx.CONTROLLER_RECORDS:
                    if key in records:
                        records.pop(key)
                        refusals.append({"record": key, "why": text(self._language, "refused.unattested",
                                                                    record=key)})
        if isinstance(data.get("msg"), str):
            entry["msg"] = data["msg"][:500]
        entry["result"] = data
        rec.send(_events.Result(entry))
        for refusal in refusals:
            rec.send(_events.Refused(dict(refusal, module=action), sid, host))
        if refusals:
            display.warning(text(self._language, "refused.warning", module=action, host=host, records=", ".join(
                str(r.get("record")) for r in refusals)))
        broken = _contract.problems(records) if records else []
        if broken:
            # Not kept, and the run's record is incomplete: a module drifting from the contract is loud.
            self._record_failed = self._record_failed or "contract"
            display.warning(text(self._language, "recorder.contract", module=action, task=task.get_name(),
                                 problems="; ".join(broken[:5])))
            records = {}
        for event in _contract.events(records, data, sid, host, task.get_name(), status):
            rec.send(event)
        marker = (task.vars or {}).get("ssot_evidence")
        if isinstance(marker, str) and marker and "{{" not in marker and status != "skipped":
            rec.send(_events.Evidence(marker, data["stdout"] if isinstance(data.get("stdout"), str) else data, sid,
                                      host, task.get_name()))

    def _fleet_view(self):
        """The fleet view beside the workspaces, from each environment's own views (written just before: its writer
        said what the row shows as it wrote them; read back only for an environment recorded in this process)."""
        if self._store != "files":
            return  # the environments' views are in the database (ssot.governance.export writes them out)
        workspaces = sorted(self.fleet.writers)
        where = _fleet.fleet_dir(workspaces, self._fleet_dir)
        if where is None:
            return
        rows = [r for r in (_fleet.row(host, ws, where, getattr(self.fleet.writers[ws], "summary", None))
                            for host, ws in sorted(self.fleet.by_host.items())) if r]
        try:
            _fleet.write_fleet(where, rows, self._language, _recorder_now())
        except WorkspaceUnsafe as exc:
            raise RecorderError(text(self._language, "recorder.unsafe_path", path=os.path.join(where, exc.rel),
                                     kind=text(self._language, "recorder.kind." + exc.what)))

    # --- events ----------------------------------------------------------------
    def v2_playbook_on_start(self, playbook):
        self._playbook = os.path.basename(getattr(playbook, "_file_name", "") or "")
        # The launcher's variables are judged before the first play is even templated (a play's hosts: may name a
        # launcher input, and a template there would run on the controller), once for the whole run: a variable the
        # collection owns, one choosing code, a template in an input (docs/hitl.md).
        loader = getattr(playbook, "_loader", None)
        refusal = _guard.refusal(_guard.launcher_vars(loader), self._language) if loader is not None else None
        if refusal:
            display.error(refusal)
            raise SystemExit(3)

    def v2_playbook_on_play_start(self, play):
        self._play_name = play.get_name()
        self._play = play
        self._run.record_play({}, recorded=False)
        if _is_export(play):
            # ssot.governance.export reads the store (under its lock): a run recorded there would change what it
            # exports. Such a play is recognised by what it runs - never by a variable - and, not being recorded,
            # nothing in it can make a change (the change actions refuse an unrecorded host).
            return
        if not self._refused_all:
            self._timed(self._open, play)
        writers = self.fleet.for_hosts(self._play_hosts)
        self._run.record_play(dict((h, w) for h, w in self.fleet.by_host.items() if h in self._play_hosts))
        if writers:
            self._timed(self._send_all, writers, _events.StartPlay(play.get_name(), self._plan(play)))

    def v2_playbook_on_no_hosts_matched(self):
        # A play of this collection names the environments by a group (ssot_hosts, default ssot_targets): an empty
        # or missing group is the operator's to fill, never a silent success. Other plays are not ours to judge.
        play = self._play
        if play is None or not any(str(t.action).startswith("ssot.governance.") or
                                   (_role_name(t) or "").startswith("ssot.governance.") for t in _tasks(play.compile())):
            return
        limit = context.CLIARGS.get("subset")
        pattern = play.hosts if isinstance(play.hosts, str) else ",".join(play.hosts or [])
        display.error("ssot.governance.runbook: %s" % text(
            self._language, "fleet.no_hosts_limit" if limit else "fleet.no_hosts", pattern=pattern,
            group=_fleet.DEFAULT_GROUP, limit=limit))
        raise SystemExit(3)

    def _task_start(self, task):
        writers = self.fleet.for_hosts(self._play_hosts)
        if not writers:
            return
        literals = []
        if task.no_log:
            # Literals a no_log task carries (a password typed in the play) may surface later in an error's
            # context or another task's output: the writer masks them everywhere from now on.
            literals = [v for v in _literals(task.args) if "{{" not in v and "{%" not in v]
        role = _role_name(task)
        step = {"id": self._step_id(task), "name": task.get_name(), "role": role, "phase": role_phase(role)}
        if literals:
            self._timed(self._send_all, writers, _events.Learn(literals))
        self._timed(self._send_all, writers, _events.StartTask(step))

    def _send_all(self, writers, event):
        """``event`` to each of ``writers`` ((workspace, writer) pairs): one message per writer process."""
        pools = {}
        for dummy, writer in writers:
            pool = getattr(writer, "pool", None)
            if pool is None:
                writer.send(event)
            else:
                pools.setdefault(id(pool), (pool, []))[1].append(writer)
        failed = None
        for pool, mine in pools.values():
            try:
                pool.send(mine, event)
            except StoreLost as exc:
                self._lost(pool, exc)
            except (OSError, RecorderError) as exc:
                failed = failed or exc
        if failed is not None:
            raise failed

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_start(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._task_start(task)

    def v2_runner_on_ok(self, result):
        self._timed(self._result, result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._timed(self._result, result, "failed", ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._timed(self._result, result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._timed(self._result, result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        if not self.fleet:
            return
        for workspace, writer in self.fleet.items():
            # Each environment's run: its own hosts' summary and status.
            summary = dict((h, stats.summarize(h)) for h in self.fleet.hosts_of(workspace) if h in stats.processed)
            failed = any(s.get("failures") or s.get("unreachable") for s in summary.values())
            self._timed(writer.end, _events.Close("failed" if failed else "ok", summary))
        for dummy, writer in self.fleet.items():
            self._timed(writer.wait)  # the writers close their runs side by side
        self._timed(self._fleet_view)
        for signum, previous in self._previous_handlers.items():
            if signal.getsignal(signum) == self._on_signal:
                signal.signal(signum, previous)
        if self._profile:
            try:
                profile_dump(self._profile, self._costs)
            except OSError as exc:
                self._warn(text(self._language, "recorder.could_not_record", event="profile"), exc)
        if self._record_failed:
            # Whatever the play did, its record is incomplete: the run must not look successful.
            display.error("ssot.governance.runbook: %s" % incomplete(self._language, self._record_failed))
            raise SystemExit(3)
