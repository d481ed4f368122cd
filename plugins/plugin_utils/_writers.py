# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The recorder's plumbing: the writer processes that hold the environments' recorders (controller side).

PRIVATE: internal to ssot.governance; its API may change at any time.

ansible-playbook forks a worker per host per task; any work done in its own process pays copy-on-write faults that
grow with its heap (docs/benchmarks.md). So the callback only pickles each event down a pipe; writer processes,
forked when a play first names its environments (while that heap is still small), open the recorders there and do
the redaction, hashing, writing and views (plugin_utils/_recorder.py: the journal's life cycle).

A run of many environments is served by a small pool (docs/architecture.md, "Many environments"): as few writers as
the descriptors each environment holds allow (a file store keeps its lock, journal and folder open for the whole run;
a database store none: its environments share their writer's one connection, whose session holds their locks), so
the processes, pipes and connections of a run stay bounded whatever the number of its environments. Each writer has
one event pipe (the callback's events, each for one or several of its environments, in order) and one status pipe
(JSON lines: each environment's opening, then its end and exit status, and the fleet view's row); both ends are
watched with ``selectors`` (``poll``: never ``select()``, which fails on descriptor numbers above 1023).

Guarantees kept per environment: its own lock, chain, seal, views and repair; a record it cannot write fails that
environment alone (its exit status says why); a store whose connection is lost stops the run (all environments of
that connection); a parent killed outright leaves every run unterminated, to be marked interrupted by the next one.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import selectors
import signal
import struct
import time

from ansible_collections.ssot.governance.plugins.plugin_utils import _events, _fleet, _store
from ansible_collections.ssot.governance.plugins.plugin_utils._recorder import (
    CAUSE_EXIT, CAUSES, RecorderError, StoreLost, WorkspaceBusy, _SignalSafe, _store_lost, dispatch, incomplete)
from ansible_collections.ssot.governance.plugins.plugin_utils._views import text
from ansible_collections.ssot.governance.plugins.plugin_utils._workspace import write_all

# Exit status of a writer process that stopped because its store failed.
LOST = 4
# Longest a line waits in a database store's batch before it is committed (seconds).
FLUSH_EVERY = 0.5
# The event pipe's size (bytes): what the playbook may run ahead of its writer.
PIPE_SIZE = 1 << 20
# Writers a run starts at least (when it has that many environments): the writers' work goes on side by side.
MIN_WRITERS = 2
# Descriptors one environment holds open in its writer for the whole run, per store (files: the lock, the journal,
# the folder, and one more while a file is written), and those a writer keeps for itself.
FDS_PER_ENVIRONMENT = {"files": 4, "postgresql": 0}
FDS_RESERVED = 64
HEADER = struct.Struct("!I")
# Every pipe end the callback's process holds: a process forked from it (Ansible's workers, another writer) must
# not keep one, or a writer would never see the end of its events when that process dies.
_PARENT_FDS = set()


def _close_parent_fds():
    for fd in list(_PARENT_FDS):
        try:
            os.close(fd)
        except OSError:
            pass
    _PARENT_FDS.clear()


os.register_at_fork(after_in_child=_close_parent_fds)


def descriptor_limit():
    """The most descriptors a writer may hold (the hard limit: each writer raises its soft limit to it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    return max(limit, 256)


def pool_size(environments, kind, limit=None):
    """How many writers serve ``environments`` environments: MIN_WRITERS, or more when their descriptors would not
    fit in fewer (never more than the environments)."""
    if environments <= 0:
        return 0
    per_env = FDS_PER_ENVIRONMENT.get(kind, FDS_PER_ENVIRONMENT["files"])
    size = MIN_WRITERS
    if per_env:
        each = max(1, ((limit or descriptor_limit()) - FDS_RESERVED) // per_env)
        size = max(size, -(-environments // each))
    return min(environments, size)


class InProcess(object):
    """Calls the recorder directly (fallback when a writer process cannot be forked)."""

    def __init__(self, recorder):
        self.recorder = recorder
        self.run_id = recorder.run_id
        self.env = recorder.env
        self.language = recorder.state.language
        self.warnings = recorder.warnings

    def send(self, event):
        dispatch(self.recorder, event)

    def finish(self, event):
        dispatch(self.recorder, event)
        if self.recorder.failures:
            raise RecorderError(incomplete(self.recorder.state.language, self.recorder.cause), self.recorder.cause)

    end = finish

    def wait(self, timeout=None):
        pass

    def wait_open(self):
        pass

    def defer(self, fn):
        self.recorder.defer(fn)


class Pool(_SignalSafe):
    """The writer processes started for the environments a play named first; one Writer handle per environment."""

    def __init__(self, items, kind="files", size=None, timeout=120, limit=None):
        """``items``: [(recorder, opening)] - each recorder not opened yet, ``opening`` = (playbook, user, extra) to
        open it in its writer. OSError when no process can be forked (the caller records in its own process)."""
        self.timeout = timeout
        size = size or pool_size(len(items), kind, limit)
        self.children = []
        self.writers = []
        shares = [[] for dummy in range(size)]
        for key, (recorder, opening) in enumerate(items):
            shares[key % size].append((key, recorder, opening))
            self.writers.append(Writer(self, key, recorder))
        for share in shares:
            child = _Child.fork(share, self)
            self.children.append(child)
            for key, dummy, dummy in share:
                self.writers[key].child = child

    # --- events --------------------------------------------------------------
    def send(self, writers, event):
        """``event`` for each of ``writers`` (this pool's), one message per writer process."""
        by_child = {}
        for writer in writers:
            if not writer.ended:
                by_child.setdefault(writer.child, []).append(writer.key)
        for child, keys in by_child.items():
            with self._writing():
                child.send(tuple(keys), event)


class Writer(object):
    """One environment's recorder as the callback sees it: where its events go, and what its writer said of it."""

    def __init__(self, pool, key, recorder):
        self.pool, self.key = pool, key
        self.child = None
        self.language = recorder.state.language
        self.run_id = recorder.run_id
        self.env = recorder.env
        self.warnings = []
        self.ended = False
        self.summary = None   # the fleet view's row for it, once its run ended

    @property
    def _busy(self):
        return self.pool._busy

    @property
    def lost(self):
        """Its writer process is gone (a store lost, a crash): nothing more can be sent to it."""
        return self.child is not None and not self.child.alive

    def defer(self, fn):
        self.pool.defer(fn)

    def wait_open(self):
        """The writer's word on opening this environment's run: nothing (open), WorkspaceBusy or RecorderError."""
        status = self.child.report(self.key, "open", self.pool.timeout)
        if status and "run_id" in status:
            self.run_id, self.language, self.warnings = status["run_id"], status["language"], status["warnings"]
            self.env = status.get("env")
            return
        self.ended = True  # refused: its writer keeps nothing of it
        if status and "busy" in status:
            raise WorkspaceBusy(status["busy"])
        if status and "error" in status:
            raise RecorderError(status["error"])
        raise RecorderError(text(self.language, "recorder.writer_failed"))

    def send(self, event):
        if not self.ended:
            with self.pool._writing():
                self.child.send((self.key,), event)

    def end(self, event):
        """Send the last event (its writer closes the run on its own; wait() for it)."""
        if self.ended:
            return
        self.send(event)
        self.ended = True
        self.child.ending(self.key)

    def finish(self, event, timeout=60):
        """Last event, then wait until its run is all written."""
        self.end(event)
        self.wait(timeout)

    def wait(self, timeout=60):
        """Until the writer has closed this environment's run: nothing when all of it was recorded, else
        RecorderError (its cause) or StoreLost."""
        if not self.ended:
            return
        status = self.child.report(self.key, "end", timeout)
        if status is None:
            if self.child.alive:
                raise RecorderError(text(self.language, "recorder.writer_timeout", seconds=timeout))
            code = self.child.exit_code or 1
        else:
            code = status.get("code", 1)
            self.summary = status.get("summary")
        _exited(code, self.language)


def _exited(code, lang):
    """What an environment's exit status says: nothing when all of its run was recorded."""
    if code == 0:
        return
    if code == LOST:
        raise StoreLost(text(lang, "recorder.store_lost_run"))
    if CAUSE_EXIT <= code < CAUSE_EXIT + len(CAUSES):
        cause = CAUSES[code - CAUSE_EXIT]
        raise RecorderError(incomplete(lang, cause), cause)
    raise RecorderError(text(lang, "recorder.writer_failed"))


class _Child(object):
    """One writer process, from the callback's side: its event pipe, its status pipe, what it said so far."""

    def __init__(self, pid, events_fd, status_fd, keys, pool):
        self.pid, self.events_fd, self.status_fd = pid, events_fd, status_fd
        self.keys = set(keys)
        self.pool = pool
        self.reports = {"open": {}, "end": {}}
        self.ended = set()
        self.alive = True
        self.exit_code = None
        self._buffer = b""

    @classmethod
    def fork(cls, share, pool):
        events_r, events_w = os.pipe()
        status_r, status_w = os.pipe()
        try:
            # Room for the events of a moment when the writer waits (a database round trip, the CPU busy with
            # Ansible's forks): the playbook then does not wait for the writer.
            import fcntl
            fcntl.fcntl(events_w, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        except (OSError, AttributeError):
            pass  # the default size (64 KiB): slower, not wrong
        parent = os.getpid()
        try:
            pid = os.fork()
        except OSError:
            for fd in (events_r, events_w, status_r, status_w):
                os.close(fd)
            raise
        if pid == 0:  # the writer (the at-fork hook closed the other writers' pipe ends)
            code = 1
            try:
                os.close(events_w)
                os.close(status_r)
                for signum in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(signum, signal.SIG_IGN)
                code = _writer_main(share, events_r, status_w, parent)
            except StoreLost as exc:
                os.write(2, ("[ERROR]: %s\n" % exc).encode("utf-8", "replace"))
                code = LOST
            except BaseException:  # pragma: no cover - reported by its exit status, the parent goes on
                code = 1
            finally:
                os._exit(code)
        os.close(events_r)
        os.close(status_w)
        _PARENT_FDS.update((events_w, status_r))
        return cls(pid, events_w, status_r, [key for key, dummy, dummy in share], pool)

    def send(self, keys, event):
        if self.events_fd is None:
            return
        data = pickle.dumps((keys, event), protocol=pickle.HIGHEST_PROTOCOL)
        message = memoryview(HEADER.pack(len(data)) + data)
        try:
            while message:
                message = message[os.write(self.events_fd, message):]
        except BrokenPipeError:
            # The writer is gone: it stopped on a store failure (its message is above) or died.
            self._close_events()
            self._reap()
            _exited(self.exit_code or 1, self.pool.writers[keys[0]].language)  # gone early: never a success

    def ending(self, key):
        self.ended.add(key)
        if self.ended >= self.keys:
            self._close_events()  # its last events are sent: it ends when it has written them

    def _close_events(self):
        if self.events_fd is not None:
            _PARENT_FDS.discard(self.events_fd)
            os.close(self.events_fd)
            self.events_fd = None

    def report(self, key, what, timeout):
        """The writer's report ``what`` ("open" or "end") on environment ``key``, read as it comes; None when the
        writer ended without it or said nothing within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while key not in self.reports[what] and self.status_fd is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._read(left)
        if what == "end" and len(self.reports["end"]) + len(self._refused()) >= len(self.keys):
            # Its last environment ended: the writer exits now; its status pipe closes and it is reaped.
            while self.status_fd is not None and time.monotonic() < deadline:
                self._read(deadline - time.monotonic())
        return self.reports[what].get(key)

    def _refused(self):
        return [k for k, r in self.reports["open"].items() if "run_id" not in r]

    def _read(self, timeout):
        with selectors.DefaultSelector() as sel:
            sel.register(self.status_fd, selectors.EVENT_READ)
            if not sel.select(min(timeout, 1.0)):
                return
        chunk = os.read(self.status_fd, 1 << 16)
        if not chunk:
            _PARENT_FDS.discard(self.status_fd)
            os.close(self.status_fd)
            self.status_fd = None
            self._close_events()
            self._reap()
            return
        lines = (self._buffer + chunk).split(b"\n")
        self._buffer = lines.pop()
        for line in lines:
            try:
                msg = json.loads(line.decode("utf-8"))
            except ValueError:
                continue
            if isinstance(msg, dict) and msg.get("key") in self.keys and msg.get("what") in self.reports:
                self.reports[msg["what"]][msg["key"]] = msg

    def _reap(self):
        if not self.alive:
            return
        dummy, status = os.waitpid(self.pid, 0)
        self.alive = False
        self.exit_code = os.waitstatus_to_exitcode(status)


# --- in the writer process ----------------------------------------------------------------------------------------
def _raise_descriptor_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


def _say(fd, msg):
    write_all(fd, json.dumps(msg).encode("utf-8") + b"\n")


def _writer_main(share, events_fd, status_fd, parent):
    """Open this writer's environments, then record their events until each has ended (or the parent is gone)."""
    _raise_descriptor_limit()
    session = None
    live = {}
    for key, recorder, opening in share:
        if recorder.store_kind == "postgresql":
            session = session or _store.PgSession(recorder.dsn_env or _store.DEFAULT_DSN_ENV, recorder.state.language)
            recorder.session = session
        status = {"key": key, "what": "open"}
        try:
            recorder.open(*opening)
            status.update(run_id=recorder.run_id, language=recorder.state.language, warnings=recorder.warnings,
                          env=recorder.env)
            live[key] = recorder
        except WorkspaceBusy as exc:
            status["busy"] = str(exc)
        except RecorderError as exc:
            status["error"] = str(exc)
        _say(status_fd, status)
    if not live:
        return 0
    return _Serve(live, events_fd, status_fd, parent, session).run()


class _Serve(object):
    """A writer's loop: events in, records out, a database's batches committed on time."""

    def __init__(self, live, events_fd, status_fd, parent, session):
        self.live, self.events_fd, self.status_fd, self.parent = live, events_fd, status_fd, parent
        self.session = session
        self.pending = {}   # key -> recorder whose store has lines not committed yet
        self.ended = []     # the end reports of the runs closed by the events just read, said once durable
        self.lang = next(iter(live.values())).state.language
        self.buffer = bytearray()
        if session is not None:
            session.defer_durable = True
        for recorder in live.values():
            # A database store commits once per batch (a commit per event would cost a round trip each): what
            # arrives within FLUSH_EVERY of the oldest pending line, or less when the pipe falls quiet. Lines and
            # files of a batch are committed together; a batch is whole lines. Views, the end of a run and a parent
            # gone flush at once.
            recorder.store.batching = True

    def run(self):
        sel = selectors.DefaultSelector()
        sel.register(self.events_fd, selectors.EVENT_READ, "events")
        watched = None
        try:
            while self.live:
                watch = self.session.watch() if self.session is not None else None
                if watch != watched:
                    if watched is not None:
                        sel.unregister(watched)
                    if watch is not None:
                        sel.register(watch, selectors.EVENT_READ, "store")
                    watched = watch
                due = self._due()
                ready = [k.data for k, dummy in sel.select(max(0.0, min(1.0, due)) if due is not None else 1.0)]
                if "events" not in ready:
                    if "store" in ready:
                        # While idle, a database whose server ended the session has something to say on the socket.
                        self._guard(self._ping)
                    elif due is not None and due <= 0 or not ready:
                        self._flush(all_pending=not ready)
                    if not ready and os.getppid() != self.parent:
                        self._flush(all_pending=True)
                        return 0  # the parent is gone: the next run marks these runs interrupted
                    continue
                chunk = os.read(self.events_fd, 1 << 20)
                if not chunk:
                    self._flush(all_pending=True)
                    return 0  # the parent is gone
                self.buffer += chunk
                self._events()
        finally:
            sel.close()
        return 0

    def _due(self):
        """Seconds until the oldest pending batch is due (None: nothing pending)."""
        oldest = [r.store.pending_since for r in self.pending.values() if r.store.pending_since is not None]
        return min(oldest) + FLUSH_EVERY - time.monotonic() if oldest else None

    def _guard(self, fn, *args):
        first = next(iter(self.live.values()))
        with _store_lost(first):
            return fn(*args)

    def _ping(self):
        next(iter(self.live.values())).store.ping()

    def _flush(self, all_pending=False):
        now = time.monotonic()
        due = [k for k, r in self.pending.items() if all_pending or r.store.pending_since is None
               or r.store.pending_since + FLUSH_EVERY <= now]
        if not due:
            return
        # Only a database store has pending lines (the files store writes each at once), on this writer's session.
        stores = [s for s in (self.pending.pop(k).store for k in due) if s.pending()]
        if stores:
            self._guard(_store.commit_together, stores)

    def _events(self):
        view = self.buffer
        at = 0
        while len(view) - at >= HEADER.size:
            size = HEADER.unpack_from(view, at)[0]
            if len(view) - at - HEADER.size < size:
                break
            keys, event = pickle.loads(bytes(view[at + HEADER.size:at + HEADER.size + size]))
            at += HEADER.size + size
            for key in keys:
                recorder = self.live.get(key)
                if recorder is not None:
                    self._one(key, recorder, event)
        del self.buffer[:at]
        if self.ended:
            # The runs that ended: durable first (one synchronous commit for all of them), then said.
            if self.session is not None:
                self._guard_ended(self.session.make_durable)
            for report in self.ended:
                _say(self.status_fd, report)
            self.ended = []

    def _one(self, key, recorder, event):
        try:
            dispatch(recorder, event)
        except StoreLost:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            # Whatever one environment's records make its recorder raise fails that environment alone: the others
            # of this writer go on (a line a workspace writer shaped is not another environment's problem).
            recorder.failed(exc)
            lang = recorder.state.language
            warning = text(lang, "recorder.not_recorded", error=exc,
                           what=text(lang, "recorder.could_not_record", event=type(event).__name__))
            os.write(2, ("[WARNING]: %s\n" % warning).encode("utf-8", "replace"))
        if isinstance(event, (_events.Close, _events.Interrupt)):
            self._ended(key, recorder)
        elif recorder.store is not None and recorder.store.pending_since is not None:
            self.pending[key] = recorder

    def _ended(self, key, recorder):
        """The environment's run is over: its store let go (its descriptors and lock with it), its exit status and
        its fleet row said."""
        self.pending.pop(key, None)
        del self.live[key]
        if not recorder.closed:
            # Its end could not be written: the run stays unterminated (the next one marks it interrupted).
            recorder.failed("other")
            recorder.closed = True
            try:
                recorder.store.release()
            except (OSError, _store.StoreError):
                pass
        code = CAUSE_EXIT + CAUSES.index(recorder.cause) if recorder.failures else 0
        views = recorder.last_views or {}
        found = _fleet.summary(views.get("project-panel.json"), views.get("runbook.json"))
        recorder.last_views = None
        self.ended.append({"key": key, "what": "end", "code": code, "summary": found})

    def _guard_ended(self, fn):
        """A store lost while making the ended runs durable: their runs are not all recorded."""
        try:
            fn()
        except _store.StoreLost:
            for report in self.ended:
                report["code"] = LOST
            if self.live:
                raise StoreLost(text(self.lang, "recorder.store_lost_run"))
