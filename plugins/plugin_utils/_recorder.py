# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The workspace's records: journal, evidence files, runbook.json and project-panel.json.

PRIVATE: internal to ssot.governance; its API may change at any time (controller side).

Written through a store (plugin_utils/_store.py): the workspace folder, or a PostgreSQL database with the same
records and guarantees. What is said below of files holds for the database with a transaction in place of the
staging and the rename.

- journal.jsonl is append-only and hash-chained (module_utils/_chain.py); each event is one
  write() of one line, so a killed process leaves at most a torn last line, which the next
  run moves aside (journal.torn-<ts>) before continuing the chain.
- Evidence files are redacted, written to a temp name and renamed, and named in the journal
  with their sha256.
- Views are rendered from the folded state (plugin_utils/_views.py) only at boundaries and
  replaced atomically (temp file, fsync, rename, fsync of the folder): a reader sees the old
  or the new file, never half of one. Cost per event stays constant as a run grows.
- One run per workspace at a time: an flock on .recorder.lock (a session advisory lock in the database), released
  even after kill -9; a run that finds the previous one unterminated marks it interrupted.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import hashlib
import json
import os
import re
import secrets
import time

from ansible_collections.ssot.governance.plugins.module_utils import _chain, _sshsig
from ansible_collections.ssot.governance.plugins.plugin_utils import _events, _heads, _human, _store, _trust
from ansible_collections.ssot.governance.plugins.plugin_utils._workspace import WorkspaceUnsafe, write_all
from ansible_collections.ssot.governance.plugins.plugin_utils._redact import Redactor
from ansible_collections.ssot.governance.plugins.plugin_utils._views import State, text

LOCK = _store.LOCK
# Strings longer than this are cut in the journal; evidence files keep them whole.
RESULT_TEXT_LIMIT = 4000
VIEWS = ("runbook.json", "project-panel.json")
# The folded state at the head a run's seal signs (docs/recorder.md, "Opening from a checkpoint").
CHECKPOINT = "checkpoint.json"
CHECKPOINT_VERSION = 1


class _Rewind(Exception):
    """Opening from the checkpoint cannot answer what the open must check: read the whole journal instead."""


# Why a run was not all recorded, each with its own message and fix (recorder.cause.<cause>): the first one found
# is the one the operator is told. A writer process reports it by its exit status (CAUSE_EXIT + index).
CAUSES = ("contract", "disk_full", "read_only", "unsafe_path", "too_many_files", "store_lost", "seal", "other")
CAUSE_EXIT = 20


class RecorderError(Exception):
    """``cause``: one of CAUSES when the records are incomplete for a known reason."""

    def __init__(self, msg="", cause=None):
        super(RecorderError, self).__init__(msg)
        self.cause = cause


def cause_of(exc):
    """Which of CAUSES an exception met while recording stands for."""
    if isinstance(exc, RecorderError) and exc.cause:
        return exc.cause
    if isinstance(exc, (StoreLost, _store.StoreLost)):
        return "store_lost"
    if isinstance(exc, WorkspaceUnsafe):
        return "unsafe_path"
    err = getattr(exc, "errno", None)
    if err in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return "disk_full"
    if err in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "read_only"
    if err in (errno.EMFILE, errno.ENFILE):
        return "too_many_files"
    cause = getattr(exc, "__cause__", None) or getattr(exc, "__context__", None)
    if cause is not None and cause is not exc:
        found = cause_of(cause)
        if found != "other":
            return found
    return "other"


def incomplete(lang, cause):
    """The operator's message for a run not all recorded: its cause and what to do."""
    cause = cause if cause in CAUSES else "other"
    return text(lang, "recorder.incomplete", cause=text(lang, "recorder.cause." + cause),
                fix=text(lang, "recorder.fix." + cause))


class WorkspaceBusy(RecorderError):
    pass


class StoreLost(RecorderError):
    """The store failed mid-run (its database went away): the run stops."""


@contextlib.contextmanager
def _store_lost(recorder):
    """The store's failure mid-run, as the recorder's: counted, and raised as StoreLost (the run stops)."""
    try:
        yield
    except _store.StoreLost as exc:
        recorder.failed("store_lost")
        raise StoreLost(str(exc))


def utc_now():
    now = time.time()
    return "%s.%06dZ" % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)), int((now % 1) * 1e6))


def new_run_id():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)


def safe_name(name, limit=80):
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", str(name)).strip("-.") or "evidence"
    return base[:limit]


def _unsafe(lang, exc):
    return RecorderError(text(lang, "recorder.unsafe_path", path=exc.rel, kind=text(lang, "recorder.kind." + exc.what)),
                         "unsafe_path")


class _SignalSafe(object):
    """Writes one whole unit (a journal line, a pipe message) before a signal handler may write another."""

    _busy = False
    _deferred = None

    @contextlib.contextmanager
    def _writing(self):
        self._busy = True
        try:
            yield
        finally:
            self._busy = False
        if self._deferred is not None:
            deferred, self._deferred = self._deferred, None
            deferred()

    def defer(self, fn):
        """Run fn now, or right after the unit being written."""
        if self._busy:
            self._deferred = fn
        else:
            fn()


class Recorder(_SignalSafe):

    def __init__(self, workspace, language="pt-BR", redactor=None, seal_key=None, store=None, dsn_env=None,
                 announce_fd=None, environment=None):
        self.workspace = os.path.abspath(workspace)
        # The environment identity its SSOT pins (metadata.id), as _guard.environment_pin reads it: (the SSOT, the
        # id) - the records must belong to it, a new journal is begun under it; (the SSOT, None) or None: no pin, a
        # new journal is begun under a minted one; (None, None): no SSOT to read yet, no identity is given now.
        self.pin = environment if environment is not None else (None, "")
        self.env = None  # the identity the records belong to (their environment line), once read or minted
        self._env_line = None  # the number of the line that names it, as found
        # Where the run's head is said when it ends (ansible-playbook's stdout), or nowhere.
        self.announce_fd = announce_fd
        # Where the records go: "files" (the workspace folder) or "postgresql" (plugin_utils/_store.py).
        self.store_kind = store or "files"
        self.dsn_env = dsn_env
        # A database connection shared with the other environments of the same writer process (_store.PgSession).
        self.session = None
        # The views as last written (runbook.json, project-panel.json): the fleet view's row is read from them.
        self.last_views = None
        # The key that signs the chain head at the end of the run (a private key file, or a .pub of an agent key).
        self.seal_key = seal_key or None
        self._unsealed = []  # hashes of this run's lines no seal covers yet
        self._found_hashes = []  # the hash of every line found when the run opened, in order (line n at n - 1)
        self._found_runs = []  # the run of each of those lines
        self._found_seals = []  # (line number, seal data) of the seal lines found
        self._base = 0  # the lines a verified checkpoint stood for when the run opened (0: the whole journal read)
        self._root = None  # the trust root as this process loaded it (None: not configured or not loadable)
        self.redactor = redactor or Redactor()
        self.state = State(self.workspace, language)
        self.run_id = None
        self.closed = False
        self.store = None
        self.failures = 0
        self.causes = []   # why records were lost (CAUSES), first first
        self._torn = None
        self._seq = 0
        self._prev = _chain.GENESIS
        self._play = None
        self._play_artifacts = []
        self._open_step = None
        self._open_hosts = {}
        self._checkpoints = 0
        self._result_seq = None
        self.warnings = []

    def failed(self, cause_or_exc):
        """Count one record lost, and why (a cause of CAUSES or the exception met)."""
        self.failures += 1
        cause = cause_or_exc if isinstance(cause_or_exc, str) else cause_of(cause_or_exc)
        if cause not in self.causes:
            self.causes.append(cause)

    @property
    def cause(self):
        return self.causes[0] if self.causes else ("other" if self.failures else None)

    # --- life cycle ------------------------------------------------------------
    def open(self, playbook="", user="", extra=None):
        """Lock the workspace, replay the journal, repair what a crash left, mark a dead run, start this run."""
        repaired = self._take(playbook)
        self.run_id = new_run_id()
        self._write_lock_info(playbook)
        dead = self.state.unterminated_run()
        previous = self.state.workspace_seen
        self._name_environment()
        data = {"playbook": playbook, "user": user, "pid": os.getpid(), "workspace": self.workspace}
        data.update(extra or {})
        self.append("run_start", data)
        if self.store_kind == "postgresql" and previous and previous != self.workspace:
            # The database names an environment by its folder's name: another folder of that name (or this one,
            # moved) is writing the same history. Said and recorded; rename one of them if they are not the same.
            self.append("records_elsewhere", {"previous": previous, "now": self.workspace,
                                              "namespace": _store.namespace_of(self.workspace)})
            self.warnings.append(text(self.state.language, "recorder.records_elsewhere", previous=previous,
                                      now=self.workspace, namespace=_store.namespace_of(self.workspace)))
        self._found_on_opening()
        if dead:
            # What it was doing when it died: the next operator must know which change may be half done.
            during = [{"step": sid, "name": st.get("name", ""), "play": st.get("play", ""), "role": st.get("role")}
                      for sid, st in self.state.steps.items()
                      if st.get("status") == "in_progress" and st.get("run_id") == dead]
            run = self.state.runs.get(dead) or {}
            self.append("run_interrupted", {"interrupted_run": dead, "during": during,
                                            "reason": text(self.state.language, "recorder.unterminated",
                                                           run=self.run_id)})
            self.warnings.append(text(self.state.language, "recorder.dead_run", run=dead,
                                      playbook=run.get("playbook") or "-",
                                      during="; ".join("%s (%s)" % (d["name"], d["play"]) for d in during) or "-"))
        if repaired:
            self.append("repaired", repaired)
        return self.run_id

    def note(self, kind, data, holder="agent"):
        """Record one line outside any run (an agent's tool call, agent_call): take the workspace's lock, replay,
        repair, append the line, rebuild the views, seal when a key is set, let go. WorkspaceBusy while a run (or
        another note) holds the workspace; nothing is written then."""
        repaired = self._take(holder)
        try:
            self.store.hold("pid %d, %s, since %s" % (os.getpid(), holder, utc_now()))
            self._name_environment()
            self._found_on_opening()
            if repaired:
                self.append("repaired", repaired)
            line = self.append(kind, self.redactor.value(data))
        except WorkspaceUnsafe as exc:
            self.store.release()
            raise _unsafe(self.state.language, exc)
        except Exception:
            self.store.release()
            raise
        self._finish()
        return line

    def _take(self, holder):
        """Open the store, take the environment's lock, replay the journal and repair what a crash left; returns what
        was repaired. The store is let go again on any failure (WorkspaceBusy when another run holds it)."""
        lang = self.state.language
        try:
            self.store = _store.open_store(self.workspace, lang, self.store_kind, self.dsn_env, self.session)
        except WorkspaceUnsafe as exc:
            raise _unsafe(lang, exc)
        except _store.StoreError as exc:
            raise RecorderError(str(exc))
        except OSError as exc:
            raise RecorderError(text(lang, "recorder.cannot_create", workspace=self.workspace, error=exc))
        if self.store_kind == "postgresql":
            self.learn(_store.dsn_secrets(self.dsn_env))  # the records store's own password is never recorded
        try:
            self._acquire_lock(holder)
            self._load_root()
            try:
                self._replay(checkpoint=True)
                self._check_pin()
                self._check_head()
            except _Rewind:
                self._forget_replay()
                self._replay(checkpoint=False)
                self._check_pin()
                self._check_head()
            # What this process seals is only what it writes from now on: the lines it found after the last seal
            # are reported (_report_unsealed), never vouched for (docs/recorder.md).
            self._unsealed = []
            repaired = self._repair()
        except WorkspaceUnsafe as exc:
            self.store.release()
            raise _unsafe(lang, exc)
        except RecorderError:  # busy
            self.store.release()
            raise
        except (_store.StoreError, OSError) as exc:
            self.store.release()
            raise RecorderError(str(exc))
        return repaired

    def _acquire_lock(self, playbook):
        try:
            self.store.lock()
        except _store.StoreBusy as exc:
            raise WorkspaceBusy(text(self.state.language, "recorder.busy", workspace=self.workspace,
                                     holder=exc.holder))

    def _write_lock_info(self, playbook):
        self.store.hold("pid %d, run %s, playbook %s, since %s" % (os.getpid(), self.run_id, playbook, utc_now()))

    def _release_lock(self):
        """What the end of the process does: the store let go without writing more (tests of a dead run)."""
        if self.store is not None:
            self.store.release()

    def _replay(self, checkpoint=True):
        """Read the journal back, every line checked against the chain with its hash recomputed (a stored hash is
        never taken on its word): a journal broken anywhere is refused - this run writes nothing on it, signs no
        head of it - with the line and the reason verify would give. A chained line the views cannot read is kept
        in the chain (and so never hides the lines after it) and said.

        With ``checkpoint``, from the last verified checkpoint on (_from_checkpoint): its state stands for the lines
        it covers, and only the lines after it are read and checked (verify keeps walking all of them)."""
        base = self._from_checkpoint() if checkpoint else None
        raw, torn = self.store.load((base["seq"], base["offset"]) if base else None)
        lang = self.state.language
        if torn:
            self.warnings.append(text(lang, "recorder.torn", bytes=torn["bytes"], path=torn["path"]))
            self._torn = torn
        start = 1
        if base:
            self.state = base["state"]
            self.env, self._env_line = base["env"], base["env_line"]
            self._seq, self._prev, self._base = base["seq"], base["hash"], base["seq"]
            # The lines before stand in the lists by their count alone (and the checkpoint's head by its hash).
            self._found_hashes = [None] * (base["seq"] - 1) + [base["hash"]]
            self._found_runs = [None] * base["seq"]
            start = base["seq"] + 1
        place = self.identity if self.store_kind == "postgresql" else None
        for number, chunk in enumerate(raw.splitlines(), start):
            line, problem = _chain.chained(chunk, number, self._prev, lang)
            if problem is None:
                self.env, problem = _chain.belongs(line, number, self.env, place, lang)
                if self.env is not None and self._env_line is None:
                    self._env_line = number
            if problem is not None:
                where = problem["where"] if self.store_kind == "files" else _store.journal_row(
                    _store.namespace_of(self.workspace), number)
                raise RecorderError(text(lang, "recorder.chain_broken", workspace=self.workspace, kind=problem["kind"],
                                         where=where, detail=problem["detail"]))
            try:
                self.state.apply(line)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                self.warnings.append(text(lang, "recorder.unreadable_line", line=number, error=exc))
            self._seq, self._prev = number, line["hash"]
            self._found_hashes.append(line["hash"])
            self._found_runs.append(line.get("run"))
            if line.get("kind") == "seal" and isinstance(line.get("data"), dict):
                self._found_seals.append((number, line["data"]))

    def _forget_replay(self):
        """Back to nothing read (the lock, the store and what a load moved aside are kept)."""
        self.state = State(self.workspace, self.state.language)
        self.env, self._env_line, self._seq, self._prev, self._base = None, None, 0, _chain.GENESIS, 0
        self._found_hashes, self._found_runs, self._found_seals = [], [], []

    def _from_checkpoint(self):
        """The last checkpoint, when it holds: {seq, hash, offset, state, env, env_line}; else None.

        It holds when the journal's next line after its head is the seal that names it - that seal chained to the
        head (its own hash recomputed), naming the checkpoint's sha256 and head, signed by a signer of the trust
        root (checked here, now: a checkpoint is never taken from the workspace on its word). Without a trust root
        with signers nothing can vouch for one: the whole journal is read. One that is there but does not hold is
        said, and the whole journal is read."""
        if self._root is None or not self._root.signers:
            return None
        try:
            data = self.store.read(CHECKPOINT)
        except (FileNotFoundError, WorkspaceUnsafe, OSError, _store.StoreError):
            return None
        lang = self.state.language
        try:
            found = json.loads(data.decode("utf-8"))
            seq, head, offset = int(found["seq"]), found["hash"], int(found.get("offset") or 0)
            env_line = found.get("env_line")
            if (found.get("version") != CHECKPOINT_VERSION or seq < 1 or offset < 0 or not found.get("env")
                    or not isinstance(env_line, int) or isinstance(env_line, bool) or not 1 <= env_line <= seq):
                raise ValueError("version")
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError, RecursionError):
            return self._checkpoint_unused("unreadable")
        line, problem = _chain.chained(self.store.line_at(seq + 1, offset) or b"", seq + 1, head, lang)
        seal = line.get("data") if line is not None and line.get("kind") == "seal" else None
        if problem is not None or not isinstance(seal, dict) or line.get("env") != found["env"]:
            return self._checkpoint_unused("no_seal")
        if (seal.get("checkpoint") != hashlib.sha256(data).hexdigest() or seal.get("head") != head
                or seal.get("upto") != seq or seal.get("env") != found["env"]):
            return self._checkpoint_unused("other_seal")
        try:
            verdict = _sshsig.verify_signer(_sshsig.seal_payload(seal), seal.get("signature"), _sshsig.SEAL_NAMESPACE,
                                            self._root.signers)
        except _sshsig.SignatureError:
            return self._checkpoint_unused("unsigned")
        if not verdict.ok:
            return self._checkpoint_unused("unsigned")
        try:
            state = State.load(found["state"], self.workspace, lang)
        except (ValueError, TypeError, AttributeError):
            return self._checkpoint_unused("unreadable")
        return {"seq": seq, "hash": head, "offset": offset, "state": state, "env": found["env"], "env_line": env_line}

    def _checkpoint_unused(self, why):
        self.warnings.append(text(self.state.language, "recorder.checkpoint_unused", path=CHECKPOINT,
                                  why=text(self.state.language, "recorder.checkpoint_why." + why)))
        return None

    def _checkpoint_bytes(self):
        """The checkpoint of the state at the head the seal about to be written signs, as bytes."""
        doc = {"version": CHECKPOINT_VERSION, "seq": self._seq, "hash": self._prev, "offset": self.store.size(),
               "env": self.env, "env_line": self._env_line, "state": self.state.dump()}
        return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")

    def _check_pin(self):
        """Records of another environment than the one the SSOT pins are refused before anything is written; so are
        records that name none (begun before identities, or their identity stripped): a pin never adopts lines."""
        source, pinned = self.pin
        if not pinned:
            return
        if self.env is None and self._seq and not self._adoptable():
            raise RecorderError(text(self.state.language, "recorder.environment_unnamed", workspace=self.workspace,
                                     lines=self._seq, expected=pinned, ssot=source))
        if self.env is not None and self.env != pinned:
            raise RecorderError(text(self.state.language, "recorder.environment_mismatch", workspace=self.workspace,
                                     found=self.env, expected=pinned, ssot=source))
        if (self._env_line and self._env_line > 1 and self.seal_key and self._env_line > self._base
                and self._env_line not in self._witnessed()):
            # (A line before a verified checkpoint was vouched for when the signed checkpoint was made.)
            # Named after lines that name none: only a seal that holds tells the recorder named them (a line that
            # names the environment can be appended by anyone who can write the records).
            raise RecorderError(text(self.state.language, "recorder.environment_unproven", workspace=self.workspace,
                                     line=self._env_line, expected=pinned, ssot=source))

    def _witnessed(self):
        """The numbers of the lines found that a seal of their own run vouches for, the seal holding against the
        trust root's signers when there is a root, else by its shape."""
        hashes, runs, seals = self._found_hashes, self._found_runs, self._tail_seals(self._found_seals)
        signers = self._root.signers if self._root is not None and self._root.signers else None
        out = set()
        if signers:
            try:
                results = _chain.seal_results(hashes, seals, signers)
            except _sshsig.SignatureError:
                return out
            for at, dummy, problem, proved in results:
                if problem is None:
                    out.update(_chain.witnessed(proved, at, runs))
            return out
        for at, seal in seals:
            if _chain.seal_shape_holds(hashes, at, seal):
                out.update(_chain.witnessed(range(seal["from"], seal["upto"] + 1), at, runs))
        return out

    def _adoptable(self):
        """Whether lines that name no environment may be named with the SSOT's pin: every run among them started
        from this workspace (a run whose recorder could not read the SSOT yet), and, when this recorder seals, every
        one of them is vouched for by a seal of its own run. Another workspace's records copied here (or rows of
        another folder of this name) are not."""
        started = self.state.run_workspaces
        if any(run is not None and started.get(run) != self.workspace for run in set(self._found_runs)):
            return False
        return not self.seal_key or len(self._witnessed()) == len(self._found_hashes)

    def _name_environment(self):
        """A journal that names no environment yet (a new one, or, unpinned, one begun before identities) is given
        one: the SSOT's pin, or a new random identity. From this line on every line and every seal carries it. Not
        while there is no SSOT to read (its first run fails on it): the identity waits for the one it pins."""
        source, pinned = self.pin
        if self.env is not None or (source is None and pinned is None):
            return
        self.env = pinned or secrets.token_hex(16)
        self.append(_chain.ENVIRONMENT, {"id": self.env, "place": self.identity, "workspace": self.workspace,
                                         "pinned_by": source if pinned else None})
        self._env_line = self._seq

    def _repair(self):
        """Finish or remove what a crash left half done; returns what was repaired (for the journal), or None.

        A staged file whose final name the journal already records with the same sha256 was interrupted between
        the journal line and the rename: the rename is completed. Any other staged file never reached the
        journal: it is removed. Nothing the journal names is ever removed."""
        torn, self._torn = self._torn, None
        # What the journal names: every evidence file, and the last version of every view.
        recorded = dict((e["path"], e["sha256"]) for e in self.state.evidences)
        recorded.update(self.state.view_sha)
        completed, removed = self.store.repair(recorded)
        if not completed and not removed and not torn:
            return None
        self.warnings.append(text(self.state.language, "recorder.repaired", completed=len(completed),
                                  removed=len(removed)))
        out = {"completed": completed, "removed": removed}
        if torn:
            out["torn_tail"] = torn  # moved aside, kept: the bytes a killed run left half written
        return out

    def close(self, status, stats=None):
        if self.closed:
            return
        self._close_play(views=False)  # the run's end writes them, once
        self.append("run_end", {"status": status, "stats": stats or {}})
        self._finish()
        self._announce_head()

    def interrupt(self, reason):
        """Record that this run stops now (signal), leaving valid views behind."""
        if self.closed or self.store is None:
            return
        self.append("run_interrupted", {"interrupted_run": self.run_id, "reason": reason})
        self._checkpoint()
        self._finish()
        self._announce_head()

    def _finish(self):
        unsealed = None
        try:
            self.write_views(durable=True)
            unsealed = self._seal()
        finally:
            self.closed = True
            self.store.close()
        if unsealed:
            raise RecorderError(unsealed, "seal")

    @property
    def head(self):
        """The journal's head as this run left it: ``seq:sha256``."""
        return _chain.format_head(self._seq, self._prev) if self._seq else None

    def _announce_head(self):
        """Say the head the run ended on (the operator or the AWX workflow keeps it outside the workspace) and, when
        the trust root names a heads log, append it there, signed by the seal key (plugin_utils/_heads.py)."""
        if not self._seq:
            return
        lang = self.state.language
        if self.announce_fd is not None:
            said = text(lang, "recorder.head", workspace=self.workspace, head=self.head, env=self.env or "-")
            try:
                write_all(self.announce_fd, ("ssot.governance: %s\n" % said).encode("utf-8", "replace"))
            except OSError:
                pass  # the head is in the journal and its views; stdout gone is not a lost record
        root = self._root
        if root is None or not root.heads_log:
            return
        try:
            _heads.append(root.heads_log, _heads.entry(self.identity, self._seq, self._prev, self.run_id, utc_now(),
                                                       self.seal_key, env=self.env))
        except (OSError, _sshsig.SignatureError) as exc:
            why = text(lang, "recorder.heads_log_failed", path=root.heads_log,
                       error=exc.render(lang) if isinstance(exc, _sshsig.SignatureError) else exc)
            self.warnings.append(why)
            os.write(2, ("[WARNING]: %s\n" % why).encode("utf-8", "replace"))

    @property
    def identity(self):
        """This environment's records, as a heads log names them."""
        return _heads.identity(self.workspace, self.store_kind, _store.namespace_of(self.workspace))

    def _note_line(self, line):
        """Keep the hashes the next seal covers (this process's own lines since its last seal)."""
        self._unsealed.append(line.get("hash"))
        if line.get("kind") == "seal":
            self._unsealed = [line.get("hash")]

    def _found_on_opening(self):
        self._report_unsealed()
        self._check_views()

    def _check_views(self):
        """A view the journal recorded that is gone was deleted: recorded (view_missing) and said before this run
        rebuilds it, so verify keeps naming it. (One that differs is kept aside when rewritten: _keep_altered_view.)"""
        for name in sorted(self.state.view_sha):
            try:
                there = self.store.exists(name)
            except (OSError, WorkspaceUnsafe, _store.StoreError):
                continue  # cannot tell: the rewrite will say why
            if not there:
                self.append("view_missing", {"path": name, "expected_sha256": self.state.view_sha[name]})
                self.warnings.append(text(self.state.language, "recorder.view_missing", name=name))

    def _report_unsealed(self):
        """Lines found after the last seal, when this recorder seals: a run killed outright, a run whose seal was
        dropped, or lines someone appended. Recorded by range with the head they had (journal_unsealed) and said in
        the run's output; never adopted by this run's seal - verify keeps naming them."""
        hashes, runs, seals = self._found_hashes, self._found_runs, self._found_seals
        self._found_hashes, self._found_runs, self._found_seals = [], [], []
        if not hashes or not self.seal_key:
            return
        first = self._last_good_seal(hashes, seals) + 1
        if first > len(hashes):
            return
        data = {"from": first, "upto": len(hashes), "head": hashes[-1],
                "runs": [r for r in dict.fromkeys(runs[first - 1:]) if isinstance(r, str)]}
        self.append("journal_unsealed", data)
        self.warnings.append(text(self.state.language, "recorder.found_unsealed", first=data["from"],
                                  last=data["upto"], runs=", ".join(data["runs"]) or "-"))

    def _last_good_seal(self, hashes, seals):
        """The line of the last seal that holds (0 when none does): its signature checked against the trust root's
        signers when there is a root, else its shape (right after the head it signs, the hashes it lists those of
        the lines). A line shaped like a seal that does not hold hides nothing."""
        signers = self._root.signers if self._root is not None and self._root.signers else None
        # After a checkpoint, its own seal (the line after the head it stands for) was checked when the run opened.
        floor = self._base + 1 if self._base else 0
        for number, seal in reversed(self._tail_seals(seals)):
            if number <= floor:
                break
            if signers:
                try:
                    results = _chain.seal_results(hashes, [(number, seal)], signers)
                except _sshsig.SignatureError:
                    results = []
                if results and results[0][2] is None:
                    return number
            elif _chain.seal_shape_holds(hashes, number, seal):
                return number
        return floor

    def _tail_seals(self, seals):
        """The seals found that speak of lines this open read: after a checkpoint, a seal reaching before it cannot be
        checked against lines not read (it holds for nothing here; verify walks them all)."""
        if not self._base:
            return seals
        return [(number, seal) for number, seal in seals
                if isinstance(seal.get("from"), int) and not isinstance(seal.get("from"), bool)
                and seal["from"] > self._base]

    def _load_root(self):
        """The trust root, once per process; None (and a warning) when it does not load."""
        try:
            self._root = _trust.load([self.workspace])
        except _trust.TrustError as exc:
            self._root = None
            self.warnings.append(exc.render(self.state.language))

    def _check_head(self):
        """With a heads log in the trust root, the journal must still hold the newest head logged for this
        environment: a workspace (or database) put back to an older copy, or cut short, is refused before this run
        writes a line on it - or signs a head of it."""
        if self._root is None or not self._root.heads_log:
            return
        lang = self.state.language
        try:
            logged, dummy = _heads.latest(self._root.heads_log, self.identity, self._root.signers or None, lang=lang)
        except (_heads.HeadsError, OSError) as exc:
            raise RecorderError(text(lang, "recorder.heads_unreadable", path=self._root.heads_log, error=exc))
        if logged is None:
            return
        if logged.get("env") and logged["env"] != self.env:
            raise RecorderError(text(lang, "recorder.environment_replaced", workspace=self.workspace,
                                     path=self._root.heads_log, found=self.env or "-",
                                     expected=_chain.shown(logged["env"])))
        if self._base and logged["seq"] < self._base:
            raise _Rewind()  # a head before the checkpoint: only the whole journal can say whether it is still there
        problems = _chain.head_problems(self._found_hashes, _chain.format_head(logged["seq"], logged["hash"]), lang)
        if problems:
            raise RecorderError(text(lang, "recorder.rolled_back", workspace=self.workspace,
                                     path=self._root.heads_log, detail=problems[0]["detail"]))

    def _seal(self):
        """Append a seal: the chain head and every line hash since the last seal, signed with the seal key.

        Returns why the run could not be sealed (the run is then a recorder failure), or None."""
        lang = self.state.language
        if not self.seal_key:
            if self.state.ssot.get("require_seals"):
                self.warnings.append(text(lang, "recorder.unsealed"))
                os.write(2, ("[WARNING]: %s\n" % text(lang, "recorder.unsealed")).encode("utf-8", "replace"))
            return None
        seal = {"from": self._seq - len(self._unsealed) + 1, "upto": self._seq, "head": self._prev,
                "lines": [h[:16] for h in self._unsealed]}
        checkpoint = None
        if self.env is not None:
            seal["env"] = self.env
            # The folded state at the head this seal signs: the next run opens from it (after checking this seal).
            try:
                checkpoint = self._checkpoint_bytes()
                seal["checkpoint"] = hashlib.sha256(checkpoint).hexdigest()
            except ValueError:
                checkpoint = None
        try:
            seal["signature"] = _sshsig.sign(_sshsig.seal_payload(seal), _sshsig.SEAL_NAMESPACE, key_file=self.seal_key)
        except _sshsig.SignatureError as exc:
            self.failed("seal")
            return text(lang, "recorder.seal_failed", error=exc.render(lang))
        self.append("seal", seal, attach=(CHECKPOINT, checkpoint, True) if checkpoint is not None else None)
        return None

    # --- journal ---------------------------------------------------------------
    def append(self, kind, data, attach=None):
        """Write one journal line; with ``attach`` = (rel, bytes, durable), the file it names, together."""
        with self._writing():
            line = {"seq": self._seq + 1, "ts": utc_now(), "run": self.run_id, "kind": kind, "data": data,
                    "prev": self._prev}
            if self.env is not None:
                line["env"] = self.env
            # One serialization: the hash covers the canonical body, the line is that body plus the hash.
            body = _chain.canonical(line)
            line["hash"] = hashlib.sha256(body.encode("utf-8")).hexdigest()
            raw = ('%s,"hash":"%s"}\n' % (body[:-1], line["hash"])).encode("utf-8")
            try:
                with _store_lost(self):
                    self.store.append(line["seq"], raw, attach)
            except WorkspaceUnsafe as exc:
                self.failed(exc)
                raise
            except OSError as exc:
                self.failed(exc)
                raise RecorderError(text(self.state.language, "recorder.journal_failed", kind=kind, error=exc),
                                    cause_of(exc))
            self._seq, self._prev = line["seq"], line["hash"]
            self._note_line(line)
            self.state.apply(line)
        return line

    # --- plays and tasks -------------------------------------------------------
    def start_play(self, name, plan):
        self._close_play()
        self._play = name
        self._play_artifacts = []
        self.append("play_start", {"play": name, "plan": plan})
        # The plan is visible before anything runs.
        self.write_views()

    def start_task(self, step):
        self._close_step()
        self._open_step = step["id"]
        self._open_hosts = {}
        self.append("task_start", {"step": step["id"], "name": step["name"], "role": step.get("role"),
                                   "phase": step.get("phase"), "play": self._play or ""})

    def result(self, data):
        """data: step, host, status, [ignored, msg, result, censored]. Redacted here."""
        safe = self.redactor.value(data, limit=RESULT_TEXT_LIMIT)
        if safe.get("step") == self._open_step:
            self._open_hosts[safe["host"]] = (safe["status"], bool(safe.get("ignored")))
        self._result_seq = self.append("result", safe)["seq"]

    def _close_step(self):
        if self._open_step is None:
            return
        outcomes = list(self._open_hosts.values())
        if any(s in ("failed", "unreachable") and not ignored for s, ignored in outcomes):
            status = "failed"
        elif outcomes and all(s == "skipped" for s, dummy in outcomes):
            status = "skipped"
        else:
            status = "done"
        self.append("step_end", {"step": self._open_step, "status": status})
        self._open_step = None

    def _close_play(self, views=True):
        if self._play is None:
            return
        self._close_step()
        self.append("play_end", {"play": self._play})
        self._checkpoint()
        self._play = None
        if views:
            self.write_views()

    def _checkpoint(self):
        """Where the next operator resumes: what this play produced, and what is left to do."""
        self._checkpoints += 1
        self.append("checkpoint", {"id": "%s-%d" % (self.run_id, self._checkpoints), "play": self._play or "",
                                   "artifacts": self._play_artifacts, "next_steps": self.state.next_steps()})
        self._play_artifacts = []

    # --- records modules return ------------------------------------------------
    def evidence(self, name, content, step=None, host="", task=""):
        """Write one evidence file (redacted) and name it in the journal. Returns its relative path.

        Staged whole as <name>.part, then named in the journal, then renamed: a crash at any point leaves either
        nothing the journal names, or a staged file the next run finishes renaming (_repair)."""
        if isinstance(content, (bytes, bytearray)):
            content = content.decode("utf-8", errors="replace")
        if isinstance(content, str):
            data = self.redactor.text(content).encode("utf-8")
        else:
            data = (json.dumps(self.redactor.value(content), indent=2, ensure_ascii=False, default=str)
                    + "\n").encode("utf-8")
        # Named after the result that carried it, so the pieces of one result sort together.
        rel = "%s/%s/%05d-%s-%s" % (_chain.EVIDENCE_DIR, self.run_id, self._result_seq or self._seq + 1,
                                    safe_name(host, 40), safe_name(name))
        digest = hashlib.sha256(data).hexdigest()
        try:
            # Like the journal lines, evidence is not fsync'd one by one (a killed process loses nothing the
            # kernel has; the journal is fsync'd at the end of the run); views are, being replaced in place.
            self.append("evidence", {"path": rel, "sha256": digest, "size": len(data), "name": str(name),
                                     "step": step, "host": host, "task": task}, attach=(rel, data, False))
        except WorkspaceUnsafe as exc:
            raise _unsafe(self.state.language, exc)
        self._play_artifacts.append({"path": rel, "sha256": digest, "kind": "evidence"})
        return rel

    def learn(self, values):
        """Secret values known to the caller (literals of a no_log task): masked wherever they appear."""
        for value in values:
            self.redactor.learn(value)

    def ssot_loaded(self, result):
        # Whatever their names, the values the SSOT references as secrets are masked from now on.
        self.redactor.learn_references(result.get("ssot") or {})
        ssot = self.redactor.value(result.get("ssot") or {})
        lang = result.get("language") or self.state.language
        self.state.language = lang
        self.append("ssot", {"path": result.get("path"), "digest": result.get("digest"), "language": lang,
                             "map": ssot, "full_map": result.get("ssot_full_map") or [],
                             "constraints": constraints(ssot, result.get("path") or "", lang)})

    def decision(self, decision):
        self.append("decision", self.redactor.value(decision))

    def milestone(self, milestone):
        self.append("milestone", self.redactor.value(milestone))

    def snapshot(self, snapshot):
        self.append("snapshot", self.redactor.value(snapshot))

    def rollback(self, record, step=None, host=""):
        """Rollback data as its own journal line (the ssot.governance.rollback lookup reads it back)."""
        self.append("rollback", self.redactor.value(dict(record, step=step, host=host)))

    def refused(self, refusal, step=None, host=""):
        """What was refused and why (a target's claim of a controller record ...): its own journal line."""
        self.append("refused", self.redactor.value(dict(refusal, step=step, host=host)))

    def deviations(self, checks):
        """Deviations of a checks list (open or cleared), then what changed since the previous results (drift)."""
        observed = []
        for check in checks:
            if not isinstance(check, dict) or "id" not in check:
                continue
            if check.get("status") in ("deviation", "error"):
                deviation = {"id": check["id"], "title": check.get("description", check["id"]),
                             "severity": check.get("severity", "medium"), "expected": check.get("expected"),
                             "actual": check.get("actual")}
                if check.get("decision"):
                    deviation["decision"] = check["decision"]
                self.append("deviation", self.redactor.value(deviation))
            elif check["id"] in self.state.deviations:
                self.append("deviation_cleared", {"id": check["id"]})
            observed.append({"id": check["id"], "status": check.get("status"), "actual": check.get("actual")})
        self._observe(observed)

    def findings(self, findings):
        """The findings of one validation replace the previous ones; appeared/resolved ones are drift."""
        keep = ("id", "code", "severity", "title", "explanation", "actual", "decision")
        items = [dict((k, f[k]) for k in keep if k in f) for f in findings if isinstance(f, dict) and "id" in f]
        self.append("findings", {"findings": self.redactor.value(items)})
        self._observe([{"id": f["id"], "status": "present", "actual": f.get("severity")} for f in items],
                      group="finding.")

    def _observe(self, observed, group=None):
        """Compare with the last values the journal holds; record the new ones and the drift."""
        redacted = self.redactor.value(observed)
        changes, compared = self.state.drift_against(redacted, group)
        self.append("observed", {"values": redacted, "group": group})
        if compared:
            self.append("drift", {"changes": changes})

    # --- views -----------------------------------------------------------------
    def _keep_altered_view(self, name):
        """A view that is not what the journal last recorded was altered: never overwrite it silently."""
        expected = self.state.view_sha.get(name)
        if expected is None or not self.store.exists(name):
            return
        found = self.store.sha256(name)
        if found != expected:
            kept = _store.aside(name, "altered")
            self.store.rename(name, kept)
            self.append("view_altered", {"path": name, "expected_sha256": expected, "found_sha256": found,
                                         "kept_as": os.path.basename(kept)})
            self.warnings.append(text(self.state.language, "recorder.view_altered", name=name,
                                      kept=os.path.basename(kept)))

    def write_views(self, durable=False):
        """The views, from the folded state. ``durable``: each file fsync'd with its folder - at the run's end; the
        views of a play's boundaries are written as they come (a crash then leaves the old or the new file, or a
        view the next run finds altered and rewrites: they are made from the journal)."""
        now = utc_now()
        docs = {"runbook.json": self.state.runbook(now), "project-panel.json": self.state.panel(now)}
        self.last_views = docs
        files = dict((name, json.dumps(docs[name], indent=2, ensure_ascii=False, default=str) + "\n") for name in VIEWS)
        # The views for people, from the same state: the panel page, the checklist, this run's log.
        files.update(_human.render(self.state, now, docs["runbook.json"], docs["project-panel.json"], self.run_id,
                                   self._evidence_exists))
        failed = None
        written = []
        for name, content in files.items():
            # The JSON views are built from redacted records; the pages for people get a last pass on their text.
            data = content.encode("utf-8") if name in VIEWS else self.redactor.text(content).encode("utf-8")
            try:
                self._keep_altered_view(name)
                # Files: staged, recorded, then renamed - a crash in between leaves the staged file, which the next
                # run renames (its sha256 is the one recorded); a failed record leaves the old view and its record.
                self.append("view", {"path": name, "sha256": hashlib.sha256(data).hexdigest()},
                            attach=(name, data, "file" if durable else False))
                written.append(name)
            except StoreLost:
                raise
            except WorkspaceUnsafe as exc:
                self.failed(exc)
                failed = failed or _unsafe(self.state.language, exc)
            except (OSError, RecorderError) as exc:
                self.failed(exc)
                failed = failed or exc
        if durable and written:
            try:
                self.store.sync_folders(written)  # each folder's renames made durable once, not once per file
            except (OSError, WorkspaceUnsafe) as exc:
                self.failed(exc)
                failed = failed or exc
        with _store_lost(self):
            self.store.flush()  # a database store: the views committed now, at the boundary they mark
        if failed is not None:
            raise failed

    def _evidence_exists(self, rel):
        try:
            return self.store.exists(rel)
        except (WorkspaceUnsafe, OSError, _store.StoreError):
            return False


def constraints(ssot, path, lang):
    exposure = ssot.get("exposure") or {}
    extra = (ssot.get("hitl") or {}).get("require_approval_for") or []
    return [
        {"id": "ssot-first", "text": text(lang, "constraint.ssot_first", path=path), "source": "ssot"},
        {"id": "hitl", "source": "hitl",
         "text": text(lang, "constraint.hitl", extra=(", " + ", ".join(extra)) if extra else "")},
        {"id": "validate-read-only", "text": text(lang, "constraint.validate_read_only"), "source": "ssot.governance"},
        {"id": "exposure", "source": "ssot", "text": text(
            lang, "constraint.exposure", binds=", ".join(exposure.get("allowed_binds") or []),
            auth=", ".join(exposure.get("allowed_auth_methods") or []),
            ssl=text(lang, "word.yes") if exposure.get("ssl_required") else text(lang, "word.no"))},
    ]


def profile_dump(path, costs):
    """Per-event costs (seconds) for the benchmarks."""
    with open(path, "w") as fh:
        json.dump({"events": len(costs), "costs": costs, "written_at": time.time()}, fh)


HANDLERS = {
    _events.StartPlay: Recorder.start_play, _events.StartTask: Recorder.start_task, _events.Learn: Recorder.learn,
    _events.Result: Recorder.result, _events.SsotLoaded: Recorder.ssot_loaded, _events.Checks: Recorder.deviations,
    _events.Findings: Recorder.findings, _events.Evidence: Recorder.evidence, _events.Decision: Recorder.decision,
    _events.Milestone: Recorder.milestone, _events.Snapshot: Recorder.snapshot, _events.Rollback: Recorder.rollback,
    _events.Refused: Recorder.refused,
    _events.Close: Recorder.close, _events.Interrupt: Recorder.interrupt,
}


def dispatch(recorder, event):
    """Hand ``event`` to the recorder method of its type; a TypeError for anything that is not an event."""
    handler = HANDLERS.get(type(event))
    if handler is None:
        raise TypeError("not a recorder event: %s" % type(event).__name__)
    handler(recorder, *event)
