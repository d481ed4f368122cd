# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the recorder keeps an environment's records: the workspace folder (``files``) or a PostgreSQL database.

PRIVATE: internal to ssot.governance; its API may change at any time (controller side).

A store holds the same records either way - the hash-chained journal lines, the evidence files and the views,
each file with its sha256 named by a journal line - and gives the recorder the same guarantees:

- one run at a time per environment: an flock on ``.recorder.lock`` (files), a session advisory lock (postgresql;
  held across machines, released by the server when the connection dies, even after kill -9);
- no torn record: whole lines written with one write() and a torn tail moved aside (files), transactions
  (postgresql: a journal line and the file it names are committed together or not at all);
- readers (verify, export, the lookups) see the records in the same shapes: journal lines as bytes, files by name.

The ``postgresql`` store keeps one namespace per environment (the workspace folder's name) in three tables
(``ssot_journal``, ``ssot_file``, ``ssot_holder``) it creates when missing, in the schema the DSN's search_path
names first. Its DSN is read from an environment variable whose name is configured, never from a file.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import hashlib
import json
import os
import re
import tempfile
import time

from ansible_collections.ssot.governance.plugins.module_utils import _chain
from ansible_collections.ssot.governance.plugins.plugin_utils import _heads
from ansible_collections.ssot.governance.plugins.plugin_utils._workspace import Folder, write_all
from ansible_collections.ssot.governance.plugins.plugin_utils._views import text

KINDS = ("files", "postgresql")
DEFAULT_DSN_ENV = "SSOT_STORE_DSN"
LOCK = ".recorder.lock"
# Leftovers of a write that a crash interrupted: evidence staged as <name>.part, views as <name>.tmp-<pid>.
STAGED = re.compile(r"^(?P<final>.+?)(?:\.part|\.tmp-\d+)$")
# Longest line line_at reads (a seal lists a short hash of every line of its run).
MAX_LINE_AT = 1 << 26
# The advisory lock's first key: this collection's (the second is the namespace's hashtext).
LOCK_CLASS = 0x550700


class StoreError(Exception):
    """The store cannot be used; the message says why and what to fix."""


class StoreBusy(StoreError):
    def __init__(self, holder):
        super(StoreBusy, self).__init__(holder)
        self.holder = holder


class StoreLost(StoreError):
    """The store failed in the middle of a run (connection lost): the run must stop."""


def configured():
    """(kind, dsn_env): the callback's (handed over in the run's context, plugin_utils/_runctx.py, before Ansible forks
    its workers: the lookups and actions cannot see the callback's options), or else the environment's (SSOT_STORE,
    SSOT_STORE_DSN_ENV)."""
    from ansible_collections.ssot.governance.plugins.plugin_utils import _runctx
    given = _runctx.store()
    if given:
        return given[0], given[1] or DEFAULT_DSN_ENV
    return (os.environ.get("SSOT_STORE") or "files",
            os.environ.get("SSOT_STORE_DSN_ENV") or DEFAULT_DSN_ENV)


def namespace_of(workspace):
    """The environment's name in a shared store: the workspace folder's name."""
    return os.path.basename(os.path.normpath(str(workspace))) or "workspace"


def open_store(workspace, lang, kind=None, dsn_env=None, session=None):
    """A connected store for ``workspace`` (files: the folder, created when missing; postgresql: the database, on
    ``session``'s connection when given)."""
    if kind is None:
        kind, dsn_env = configured()
    if kind not in KINDS:
        raise StoreError(text(lang, "store.unknown", kind=kind, kinds=", ".join(KINDS)))
    if kind == "files":
        return FileStore(workspace)
    return PgStore(workspace, dsn_env or DEFAULT_DSN_ENV, lang, session=session)


# --- files -----------------------------------------------------------------------------------------------------------
class FileStore(object):
    """The workspace folder: journal.jsonl, evidence/, logs/, the views (plugin_utils/_workspace.py's safe paths)."""

    kind = "files"
    pending_since = None  # every line is written at once

    def __init__(self, workspace):
        self.workspace = os.path.abspath(workspace)
        self.fs = Folder(self.workspace)
        self._journal = None
        self._size = 0
        self._lock = None

    def lock(self):
        fd = self.fs.open(LOCK, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                os.close(fd)
                raise
            holder = os.read(fd, 500).decode("utf-8", "replace").strip() or "unknown"
            os.close(fd)
            raise StoreBusy(holder)
        self._lock = fd

    def hold(self, holder):
        os.ftruncate(self._lock, 0)
        os.pwrite(self._lock, holder.encode("utf-8", "replace"), 0)

    def load(self, after=None):
        """(the journal's whole lines as bytes - those after ``after`` = (seq, byte offset) when given -, the torn
        tail moved aside as {path, bytes, sha256} or None); opens the journal for appending."""
        torn = None
        if self._journal is not None:
            os.close(self._journal)
            self._journal = None
        start = after[1] if after else 0
        try:
            raw = self._read_from(start)
        except FileNotFoundError:
            raw = b""
        good = raw.rfind(b"\n") + 1
        if good < len(raw):
            name = aside(_chain.JOURNAL, "torn")
            temp = name + ".part"
            self.fs.stage(name, raw[good:], temp)
            self.fs.commit(temp, name)
            fd = self.fs.open(_chain.JOURNAL, os.O_WRONLY)
            try:
                os.ftruncate(fd, start + good)
                os.fsync(fd)
            finally:
                os.close(fd)
            torn = {"path": name, "bytes": len(raw) - good, "sha256": hashlib.sha256(raw[good:]).hexdigest()}
        self._journal = self.fs.open(_chain.JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        self._size = os.fstat(self._journal).st_size
        return raw[:good], torn

    def _read_from(self, offset):
        fd = self.fs.open(_chain.JOURNAL, os.O_RDONLY, create_dirs=False)
        try:
            size = os.fstat(fd).st_size
            chunks, at = [], offset
            while at < size:
                chunk = os.pread(fd, min(size - at, 1 << 24), at)
                if not chunk:
                    break
                chunks.append(chunk)
                at += len(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def line_at(self, seq, offset):
        """The journal's line ``seq`` as bytes, read at ``offset`` (where the line before it ends); None when the
        journal does not have a line beginning there."""
        try:
            fd = self.fs.open(_chain.JOURNAL, os.O_RDONLY, create_dirs=False)
        except FileNotFoundError:
            return None
        try:
            if offset > 0 and os.pread(fd, 1, offset - 1) != b"\n":
                return None
            chunks, at = [], offset
            while True:
                chunk = os.pread(fd, 1 << 16, at)
                if not chunk:
                    return None  # no whole line there
                end = chunk.find(b"\n")
                if end >= 0:
                    chunks.append(chunk[:end])
                    return b"".join(chunks)
                chunks.append(chunk)
                at += len(chunk)
                if at - offset > MAX_LINE_AT:
                    return None
        finally:
            os.close(fd)

    def size(self):
        """Where the next line goes (bytes of journal written so far)."""
        return self._size

    def read(self, rel):
        return self.fs.read(rel)

    def repair(self, recorded):
        """Finish or remove what a crash left half done: (completed, removed) relative paths.

        A staged file whose final name the journal records (``recorded``: path -> sha256) with the same sha256 was
        interrupted between the journal line and the rename: the rename is completed. Any other staged file never
        reached the journal: it is removed. Nothing the journal names is ever removed."""
        completed, removed = [], []
        candidates = self.fs.walk(_chain.EVIDENCE_DIR) + self.fs.walk(_chain.LOG_DIR) + [
            name for name in sorted(os.listdir(self.fs.fd)) if STAGED.match(name)]
        for rel in candidates:
            m = STAGED.match(rel)
            if not m:
                continue
            final = m.group("final")
            want = recorded.get(final)
            if want is not None and self.fs.sha256(rel) == want:
                self.fs.commit(rel, final)
                completed.append(final)
            else:
                self.fs.remove(rel)
                removed.append(rel)
        return completed, removed

    def append(self, seq, raw, attach=None):
        """Write journal line ``seq`` (``raw``, ending in a newline); with ``attach`` = (rel, data, durable), the file
        (``durable``: True - the file and its folder fsync'd; "file" - the file only, its folder by sync_folders once
        for several files; False - neither)
        the line names: staged first, renamed into place once the line is written (a crash in between is repaired by
        the next run), removed when the line cannot be written. OSError/WorkspaceUnsafe as they come."""
        staged = None
        if attach is not None:
            rel, data, durable = attach
            staged = rel + (".tmp-%d" % os.getpid() if durable else ".part")
            self.fs.stage(rel, data, staged, durable=bool(durable))
        try:
            write_all(self._journal, raw)
        except OSError:
            # A full disk, a short write: cut back to the last whole line, so that when space returns the next line
            # does not glue onto a torn one and break the chain for good.
            try:
                os.ftruncate(self._journal, self._size)
            except OSError:
                pass  # the next run moves the torn tail aside
            if staged is not None:
                self.fs.remove(staged)
            raise
        self._size += len(raw)
        if staged is not None:
            self.fs.commit(staged, attach[0], durable=attach[2] is True)

    def flush(self):
        pass

    def sync_folders(self, rels):
        """fsync each folder holding one of ``rels`` once (files written with durable "file")."""
        for folder in sorted(set(os.path.dirname(rel) for rel in rels)):
            self.fs.sync_folder(folder)

    def watch(self):
        return None

    def exists(self, rel):
        return self.fs.exists(rel)

    def sha256(self, rel):
        return self.fs.sha256(rel)

    def rename(self, rel, new_rel):
        self.fs.rename(rel, new_rel)

    def close(self):
        """End of the run: the journal made durable, the lock released."""
        try:
            if self._journal is not None:
                try:
                    os.fsync(self._journal)
                finally:
                    os.close(self._journal)
                    self._journal = None
        finally:
            self.release()

    def release(self):
        if self._lock is not None:
            try:
                os.ftruncate(self._lock, 0)
            except OSError:
                pass
            try:
                fcntl.flock(self._lock, fcntl.LOCK_UN)
            finally:
                os.close(self._lock)
                self._lock = None
        self.fs.close()


def aside(rel, what):
    """Name for a file moved aside (torn journal tail, altered view)."""
    return "%s.%s-%s" % (rel, what, datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ"))


# --- postgresql ------------------------------------------------------------------------------------------------------
SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS ssot_journal (
  namespace text NOT NULL, seq bigint NOT NULL, line text NOT NULL, PRIMARY KEY (namespace, seq));
CREATE TABLE IF NOT EXISTS ssot_file (
  namespace text NOT NULL, path text NOT NULL, content bytea NOT NULL, sha256 text NOT NULL,
  PRIMARY KEY (namespace, path));
CREATE TABLE IF NOT EXISTS ssot_holder (namespace text PRIMARY KEY, holder text NOT NULL);
-- Evidence and views are stored as they are: compressing them on every rewrite of a view costs the server CPU
-- for little space.
ALTER TABLE ssot_file ALTER COLUMN content SET STORAGE EXTERNAL;
"""


# Per-team isolation in a shared records database (docs/awx.md), run once by the database's administrator (the
# owner of the tables, never a job template's credential): each team's role sees and writes only the namespaces
# ssot_grant gives it (row-level security), and may only add journal lines - none can rewrite or delete one, its own
# included. ssot_grant is the administrator's alone. The recorder finds the tables there and creates nothing.
ISOLATION_SQL = """
CREATE TABLE IF NOT EXISTS ssot_grant (namespace text NOT NULL, role name NOT NULL, PRIMARY KEY (namespace, role));
ALTER TABLE ssot_journal ENABLE ROW LEVEL SECURITY;
ALTER TABLE ssot_file ENABLE ROW LEVEL SECURITY;
ALTER TABLE ssot_holder ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS ssot_team ON ssot_journal;
DROP POLICY IF EXISTS ssot_team ON ssot_file;
DROP POLICY IF EXISTS ssot_team ON ssot_holder;
CREATE POLICY ssot_team ON ssot_journal USING (EXISTS (SELECT 1 FROM ssot_grant g
  WHERE g.namespace = ssot_journal.namespace AND pg_has_role(current_user, g.role, 'MEMBER')));
CREATE POLICY ssot_team ON ssot_file USING (EXISTS (SELECT 1 FROM ssot_grant g
  WHERE g.namespace = ssot_file.namespace AND pg_has_role(current_user, g.role, 'MEMBER')));
CREATE POLICY ssot_team ON ssot_holder USING (EXISTS (SELECT 1 FROM ssot_grant g
  WHERE g.namespace = ssot_holder.namespace AND pg_has_role(current_user, g.role, 'MEMBER')));
REVOKE ALL ON ssot_journal, ssot_file, ssot_holder, ssot_grant FROM PUBLIC;
"""
# What one team's role is granted (after ISOLATION_SQL); {role} is the team's role, quoted as an identifier.
TEAM_GRANT_SQL = """
GRANT SELECT, INSERT ON ssot_journal TO {role};
GRANT SELECT, INSERT, UPDATE ON ssot_file, ssot_holder TO {role};
GRANT SELECT ON ssot_grant TO {role};
"""


def _psycopg2(lang):
    try:
        import psycopg2
    except ImportError:
        raise StoreError(text(lang, "store.no_driver"))
    return psycopg2


def dsn_from(dsn_env, lang):
    dsn = os.environ.get(dsn_env or DEFAULT_DSN_ENV)
    if not dsn:
        raise StoreError(text(lang, "store.no_dsn", env=dsn_env or DEFAULT_DSN_ENV))
    return dsn


def dsn_secrets(dsn_env):
    """What of the store's DSN must never be written: the DSN itself and its password (masked like any secret)."""
    dsn = os.environ.get(dsn_env or DEFAULT_DSN_ENV) or ""
    if not dsn:
        return []
    out = [dsn]
    try:
        from psycopg2.extensions import parse_dsn
        password = parse_dsn(dsn).get("password")
    except Exception:  # not parseable (the connection will say why) or no driver
        password = None
    if password:
        out.append(password)
    return out


# Longest a statement waits for a lock held in the database, and longest any statement runs (milliseconds): a table
# locked by someone else, or a server that stops answering mid-query, ends the run with a message, never a hang.
# SSOT_STORE_LOCK_TIMEOUT / SSOT_STORE_STATEMENT_TIMEOUT (seconds) change them.
LOCK_TIMEOUT_MS = 10 * 1000
STATEMENT_TIMEOUT_MS = 300 * 1000
# SQLSTATEs of a statement stopped by those limits: lock_not_available, query_canceled.
TIMEOUT_CODES = ("55P03", "57014")


def _timeout_ms(env, default):
    try:
        value = float(os.environ.get(env) or 0)
    except ValueError:
        value = 0
    return int(value * 1000) if value > 0 else default


def journal_row(namespace, seq=None):
    """How a problem names a journal row of the database (or the environment's journal, without ``seq``)."""
    return "ssot_journal namespace=%s" % namespace + (" seq=%d" % seq if seq is not None else "")


def file_row(namespace, rel):
    """How a problem names a file row of the database (a path someone else may have written, made visible)."""
    return "ssot_file namespace=%s path=%s" % (namespace, _visible(rel))


def _visible(text_value, limit=200):
    """A text someone else wrote (a lock holder's word), shown on one line, without control characters."""
    flat = "".join(c if c.isprintable() else "\\x%02x" % ord(c) if ord(c) < 256 else "?" for c in str(text_value))
    return flat[:limit] + ("..." if len(flat) > limit else "")


class PgSession(object):
    """One connection to the records database, shared by the environments one writer process records (the
    environments' advisory locks are held by its session): a run opens as many connections as it has writers, whatever
    the number of its environments. Made on first use; closed when the last of its environments lets go."""

    def __init__(self, dsn_env, lang="pt-BR"):
        self.dsn_env, self.lang = dsn_env, lang
        self.conn = None
        self.driver, self.limits = None, None
        self.held = set()   # the namespaces whose lock this session holds
        self.users = 0
        # A writer ending many runs at once makes them durable together: each run's last commit is left to
        # make_durable (one synchronous commit waits for every commit before it to reach the server's disk).
        self.defer_durable = False
        self.needs_durable = False

    def connect(self, driver, limits):
        if self.conn is None or self.conn.closed:
            self.conn = _connect(driver, self.dsn_env, self.lang, limits, "-")
            self.driver, self.limits = driver, limits
        self.users += 1
        return self.conn

    def let_go(self):
        self.users -= 1
        if self.users <= 0 and self.conn is not None and not self.conn.closed:
            try:
                self.make_durable()
            finally:
                self.conn.close()

    def make_durable(self):
        """Every commit made on this session so far on the server's disk: one transaction that writes its commit
        record synchronously (its xid assigned), which the server flushes with all that came before it."""
        if not self.needs_durable or self.conn is None or self.conn.closed:
            return
        try:
            with self.conn.cursor() as cur:
                cur.execute("SET LOCAL synchronous_commit = on")
                cur.execute("SELECT txid_current()")
            self.conn.commit()
        except self.driver.Error as exc:
            try:
                self.conn.rollback()
            except self.driver.Error:
                pass
            raise _lost(exc, self.lang, "-", self.limits)
        self.needs_durable = False

    def watch(self):
        """The socket to watch while idle: the server writes on it only to end the session."""
        return None if self.conn is None or self.conn.closed else self.conn.fileno()


def _timed_out(exc, lang, namespace, limits):
    """What a statement stopped by one of the limits says (which, and what to check); None for another error."""
    if getattr(exc, "pgcode", None) not in TIMEOUT_CODES:
        return None
    which = "lock" if exc.pgcode == "55P03" else "statement"
    return text(lang, "store.timeout.%s" % which, namespace=namespace, error=_first_line(exc),
                seconds=limits[which] // 1000)


def _lost(exc, lang, namespace, limits):
    """The store's failure mid-run as the run's (StoreLost)."""
    return StoreLost(_timed_out(exc, lang, namespace, limits)
                     or text(lang, "store.lost", namespace=namespace, error=_first_line(exc)))


def _connect(driver, dsn_env, lang, limits, namespace):
    dsn = dsn_from(dsn_env, lang)
    try:
        conn = driver.connect(dsn, application_name="ssot.governance recorder", connect_timeout=10)
        # Like the file store's journal (not fsync'd line by line, made durable at the end of the run): a commit
        # does not wait for the server's disk; the last one of the run does (close).
        with conn.cursor() as cur:
            cur.execute("SET synchronous_commit = off")
            cur.execute("SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', %s, false)",
                        ("%dms" % limits["lock"], "%dms" % limits["statement"]))
            cur.execute("SELECT to_regclass('ssot_journal') IS NULL OR to_regclass('ssot_file') IS NULL "
                        "OR to_regclass('ssot_holder') IS NULL")
            if cur.fetchone()[0]:
                # The first use of this database (or schema): the tables, created by one run at a time.
                cur.execute("SELECT pg_advisory_xact_lock(%s, 0)", (LOCK_CLASS,))
                cur.execute(SCHEMA_SQL)
        conn.commit()
        return conn
    except driver.Error as exc:
        raise StoreError(_timed_out(exc, lang, namespace, limits)
                         or text(lang, "store.unreachable", env=dsn_env, error=_first_line(exc)))


class PgStore(object):
    """An environment's records in a PostgreSQL database: one namespace, three tables, transactions."""

    kind = "postgresql"

    def __init__(self, workspace, dsn_env, lang="pt-BR", session=None):
        """``session``: a PgSession shared with other environments (a writer process's); else a connection of its
        own."""
        self.workspace = os.path.abspath(workspace)
        self.namespace = namespace_of(self.workspace)
        self.lang = lang
        self.dsn_env = dsn_env
        self.batching = False  # the writer process commits once per batch of events (flush)
        self.pending_since = None  # monotonic time of the oldest line not committed yet
        self._pending_lines = []
        self._pending_files = []
        self._locked = False
        self._driver = _psycopg2(lang)
        self._limits = {"lock": _timeout_ms("SSOT_STORE_LOCK_TIMEOUT", LOCK_TIMEOUT_MS),
                        "statement": _timeout_ms("SSOT_STORE_STATEMENT_TIMEOUT", STATEMENT_TIMEOUT_MS)}
        self._session = session
        self._released = False
        if session is not None:
            self.conn = session.connect(self._driver, self._limits)
        else:
            self.conn = _connect(self._driver, dsn_env, lang, self._limits, self.namespace)

    def _lost(self, exc):
        return _lost(exc, self.lang, self.namespace, self._limits)

    def _sql(self, query, args=None, fetch=False, commit=False):
        try:
            with self.conn.cursor() as cur:
                cur.execute(query, args)
                rows = cur.fetchall() if fetch else None
            if commit:
                self.conn.commit()
            return rows
        except self._driver.Error as exc:
            self._rollback()
            raise self._lost(exc)

    def _rollback(self):
        try:
            self.conn.rollback()
        except self._driver.Error:
            pass

    def lock(self):
        # A session may take an advisory lock it holds again: two environments of one name recorded by one writer
        # are told apart here, as two sessions would be by the server.
        shared = self._session.held if self._session is not None else set()
        got = self.namespace not in shared and self._sql(
            "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (LOCK_CLASS, self.namespace), fetch=True,
            commit=True)[0][0]
        if not got:
            # Who holds it, in the server's own words (its session: pid, role, since when); what that session wrote
            # of itself is only a claim anyone who can write the table could have made, shown as such.
            server = self._sql(
                "SELECT a.pid, a.usename, a.application_name, to_char(a.backend_start AT TIME ZONE 'UTC', "
                "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = %s "
                "AND l.objid::bigint = (hashtext(%s)::bigint & 4294967295) AND l.objsubid = 2",
                (LOCK_CLASS, self.namespace), fetch=True, commit=True)
            rows = self._sql("SELECT holder FROM ssot_holder WHERE namespace = %s", (self.namespace,), fetch=True,
                             commit=True)
            claim = _visible(rows[0][0]) if rows and rows[0][0] else "-"
            if server:
                pid, role, app, since = server[0]
                raise StoreBusy(text(self.lang, "store.held_by", pid=pid, role=_visible(role or "-"),
                                     app=_visible(app or "-"), since=since or "-", claim=claim))
            raise StoreBusy(text(self.lang, "store.held_unknown", claim=claim))
        self._locked = True
        shared.add(self.namespace)

    def hold(self, holder):
        self._sql("INSERT INTO ssot_holder (namespace, holder) VALUES (%s, %s) ON CONFLICT (namespace) "
                  "DO UPDATE SET holder = EXCLUDED.holder", (self.namespace, holder), commit=True)

    def load(self, after=None):
        """(the journal's lines as bytes - those after line ``after[0]`` when given -, None)."""
        rows = self._sql("SELECT line FROM ssot_journal WHERE namespace = %s AND seq > %s ORDER BY seq",
                         (self.namespace, after[0] if after else 0), fetch=True, commit=True)
        return b"".join(r[0].encode("utf-8") + b"\n" for r in rows), None

    def line_at(self, seq, offset=None):
        rows = self._sql("SELECT line FROM ssot_journal WHERE namespace = %s AND seq = %s", (self.namespace, seq),
                         fetch=True, commit=True)
        return rows[0][0].encode("utf-8") if rows else None

    def size(self):
        return 0

    def repair(self, recorded):
        return [], []  # a transaction leaves nothing half done

    def append(self, seq, raw, attach=None):
        if self.pending_since is None:
            self.pending_since = time.monotonic()
        self._pending_lines.append((self.namespace, seq, raw.decode("utf-8").rstrip("\n")))
        if attach is not None:
            rel, data, _durable = attach
            self._pending_files.append((self.namespace, rel, data, hashlib.sha256(data).hexdigest()))
        if not self.batching:
            self.flush()

    def flush(self, durable=False):
        """Commit what is pending, lines and files together."""
        if not self._pending_lines and not self._pending_files and not durable:
            return
        commit_together([self], durable)

    def _write_pending(self, cur):
        lines, files = self._pending_lines, self._pending_files
        self._pending_lines, self._pending_files, self.pending_since = [], [], None
        for ns, rel, data, digest in files:
            cur.execute("INSERT INTO ssot_file (namespace, path, content, sha256) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT (namespace, path) DO UPDATE SET content = EXCLUDED.content, "
                        "sha256 = EXCLUDED.sha256", (ns, rel, self._driver.Binary(data), digest))
        if lines:
            cur.execute("INSERT INTO ssot_journal (namespace, seq, line) VALUES " +
                        ",".join(["(%s, %s, %s)"] * len(lines)), [v for row in lines for v in row])

    def watch(self):
        """The socket to watch while idle: the server writes on it only to end the session."""
        return None if self.conn.closed else self.conn.fileno()

    def ping(self):
        self._sql("SELECT 1", commit=True)

    def pending(self):
        return bool(self._pending_lines or self._pending_files)

    def sync_folders(self, rels):
        pass  # a transaction: committed whole (durably at the run's end)

    def exists(self, rel):
        self.flush()
        return bool(self._sql("SELECT 1 FROM ssot_file WHERE namespace = %s AND path = %s", (self.namespace, rel),
                              fetch=True, commit=True))

    def read(self, rel):
        self.flush()
        rows = self._sql("SELECT content FROM ssot_file WHERE namespace = %s AND path = %s", (self.namespace, rel),
                         fetch=True, commit=True)
        if not rows:
            raise FileNotFoundError(errno.ENOENT, "not in the store", rel)
        return bytes(rows[0][0])

    def sha256(self, rel):
        # Of the content, not the sha256 column: a content altered in the database is found like an altered file.
        # Computed by the server: the content does not travel back for it.
        self.flush()
        rows = self._sql("SELECT encode(sha256(content), 'hex') FROM ssot_file WHERE namespace = %s AND path = %s",
                         (self.namespace, rel), fetch=True, commit=True)
        if not rows:
            raise FileNotFoundError(errno.ENOENT, "not in the store", rel)
        return rows[0][0]

    def rename(self, rel, new_rel):
        self.flush()
        self._sql("UPDATE ssot_file SET path = %s WHERE namespace = %s AND path = %s", (new_rel, self.namespace, rel),
                  commit=True)

    def snapshot(self):
        """(the journal as bytes, every file as [(path, content)]) as of one moment: read in one repeatable-read
        transaction, so that a view committed meanwhile with its journal line is either in both or in neither."""
        self.flush()
        try:
            with self.conn.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute("SELECT line FROM ssot_journal WHERE namespace = %s ORDER BY seq", (self.namespace,))
                journal = b"".join(r[0].encode("utf-8") + b"\n" for r in cur.fetchall())
                cur.execute("SELECT path, content FROM ssot_file WHERE namespace = %s ORDER BY path",
                            (self.namespace,))
                files = [(r[0], bytes(r[1])) for r in cur.fetchall()]
        except self._driver.Error as exc:
            raise self._lost(exc)
        finally:
            self._rollback()
        return journal, files

    def seqs(self):
        return [r[0] for r in self._sql("SELECT seq FROM ssot_journal WHERE namespace = %s ORDER BY seq",
                                        (self.namespace,), fetch=True, commit=True)]

    def close(self):
        deferred = self._session is not None and self._session.defer_durable
        try:
            self.flush(durable=not deferred)
            if deferred:
                self._session.needs_durable = True  # made durable with the others ending now (PgSession)
        finally:
            self.release()

    def release(self):
        if self._released:
            return
        self._released = True
        if self.conn.closed:
            return
        try:
            if self._locked:
                self._sql("SELECT pg_advisory_unlock(%s, hashtext(%s))", (LOCK_CLASS, self.namespace), commit=True)
        except StoreLost:
            pass  # the server ends the session, and its lock, anyway
        finally:
            if self._locked and self._session is not None:
                self._session.held.discard(self.namespace)
            self._locked = False
            if self._session is not None:
                self._session.let_go()
            else:
                self.conn.close()


def commit_together(stores, durable=False):
    """Commit the pending lines and files of ``stores`` (PgStores on one connection) in one transaction: a writer
    serving many environments pays one round trip per batch, not one per environment. StoreLost on failure (the
    connection's failure is every one of them's)."""
    if not stores:
        return
    first = stores[0]
    try:
        with first.conn.cursor() as cur:
            if durable:
                cur.execute("SET LOCAL synchronous_commit = on")
            for store in stores:
                store._write_pending(cur)
        first.conn.commit()
    except first._driver.Error as exc:
        first._rollback()
        raise first._lost(exc)


def _first_line(exc):
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# --- readers ---------------------------------------------------------------------------------------------------------
def journal_lines(workspace, lang="pt-BR"):
    """The journal's lines (bytes, with their newline) from the configured store, oldest first."""
    kind, dsn_env = configured()
    if kind == "files":
        try:
            with open(os.path.join(workspace, _chain.JOURNAL), "rb") as fh:
                yield from fh
        except OSError:
            return
        return
    store = PgStore(workspace, dsn_env, lang)
    try:
        raw, dummy = store.load()
    finally:
        store.release()
    yield from raw.splitlines(True)


def read_file(workspace, rel, lang="pt-BR"):
    """One recorded file (a view, evidence) from the configured store; FileNotFoundError when absent. In the folder it
    is a regular file reached without following a link (WorkspaceUnsafe otherwise), as the recorder writes it."""
    kind, dsn_env = configured()
    if kind == "files":
        folder = Folder(workspace, create=False)
        try:
            return folder.read(rel)
        finally:
            folder.close()
    store = PgStore(workspace, dsn_env, lang)
    try:
        return store.read(rel)
    finally:
        store.release()


# What the recorder writes, and so all an export may write: the views, the pages for people, the logs, the evidence
# (and the copies of altered views it kept aside). Never ssot.yml, approvals.yml, a signers file or anything else a
# run reads to decide.
RECORD_FILES = ("runbook.json", "project-panel.json", "project-panel.html", "homologacao-conectividade-ssot.md",
                "checkpoint.json")
RECORD_FOLDERS = ("evidence/", "logs/")
_ASIDE = re.compile(r"^(?P<rel>[^/]+)\.(altered|torn)-\d{8}T\d{12}Z$")


def is_record(rel):
    """Whether ``rel`` is a file the recorder writes (an export writes nothing else)."""
    if not isinstance(rel, str) or "\x00" in rel or rel.startswith("/") or ".." in rel.split("/"):
        return False
    m = _ASIDE.match(rel)
    base = m.group("rel") if m else rel
    return base in RECORD_FILES or base == _chain.JOURNAL or rel.startswith(RECORD_FOLDERS)


def named_files(journal):
    """The files a journal names (evidence, views, the copies of altered views it kept aside, a torn tail moved
    aside): the only rows of a store that are records."""
    out = set()
    for raw in journal.splitlines():
        try:
            line = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
        except (ValueError, RecursionError):
            continue
        data = line.get("data") if isinstance(line, dict) and isinstance(line.get("data"), dict) else {}
        kind = line.get("kind") if isinstance(line, dict) else None
        if kind in ("evidence", "view") and isinstance(data.get("path"), str):
            out.add(data["path"])
        elif kind == "seal" and isinstance(data.get("checkpoint"), str):
            out.add("checkpoint.json")
        elif kind == "view_altered" and isinstance(data.get("kept_as"), str):
            out.add(data["kept_as"])
        elif kind == "repaired" and isinstance(data.get("torn_tail"), dict) and isinstance(
                data["torn_tail"].get("path"), str):
            out.add(data["torn_tail"]["path"])
    return out


def export(store, folder):
    """Write a PostgreSQL store's namespace into ``folder`` (safe paths, each file replaced atomically): the
    journal and the files the recorder writes that a journal line names, nothing else (any other row - a path outside
    the records, a file no line names - is skipped and named).

    Refuses (StoreError) when the folder holds a journal that is not the beginning of the store's: it would be
    records of another history, which an export must not overwrite. Returns {lines, files, skipped}."""
    journal, files = store.snapshot()
    named = named_files(journal)

    def kept(rel):
        return is_record(rel) and rel != _chain.JOURNAL and rel in named
    skipped = sorted(rel for rel, dummy in files if not kept(rel))
    files = [(rel, data) for rel, data in files if kept(rel)]
    fs = Folder(folder)
    try:
        try:
            present = fs.read(_chain.JOURNAL)
        except FileNotFoundError:
            present = b""
        if not journal.startswith(present):
            raise StoreError(text(store.lang, "store.export_diverges", folder=folder, namespace=store.namespace))
        for rel, data in files + [(_chain.JOURNAL, journal)]:
            staged = "%s.tmp-%d" % (rel, os.getpid())
            fs.stage(rel, data, staged)
            fs.commit(staged, rel)
        return {"lines": journal.count(b"\n"), "files": len(files), "skipped": skipped}
    finally:
        fs.close()


def verify(store, allowed_signers=None, require_seals=False, lang="pt-BR", open_run=None, expect_heads=(),
           expect_env=None):
    """_chain.verify over a PostgreSQL store: its records exported to a private folder, re-walked there, and each
    problem named by the row it comes from (ssot_journal seq N, ssot_file path)."""
    seqs = store.seqs()
    with tempfile.TemporaryDirectory(prefix="ssot-verify-") as tmp:
        done = export(store, tmp)
        # Its environment line must name this namespace: rows relabelled from another one were not written for it.
        report = _chain.verify(tmp, allowed_signers, require_seals, lang=lang, open_run=open_run,
                               expect_heads=expect_heads, place=_heads.identity(store.workspace, store.kind, store.namespace),
                               expect_env=expect_env)
    prefix = _chain.JOURNAL + ":"

    def row(where):
        if where.startswith(prefix) and where[len(prefix):].isdigit():
            number = int(where[len(prefix):])
            return journal_row(store.namespace, seqs[number - 1] if 0 < number <= len(seqs) else number)
        return file_row(store.namespace, where)

    for problem in report["problems"]:
        problem["where"] = row(problem["where"])
    if not seqs:
        # No line at all: nothing was ever recorded here, or this role sees none of it, or it was all deleted.
        report["problems"].insert(0, {"kind": "journal_missing", "where": journal_row(store.namespace),
                                      "detail": text(lang, "verify.detail.no_rows")})
    # Rows no journal line names (or outside the records) were never written by the recorder: named, never exported.
    for rel in done["skipped"]:
        report["problems"].append({"kind": "row_unnamed", "where": file_row(store.namespace, rel),
                                   "detail": text(lang, "verify.detail.row_unnamed")})
    report["ok"] = not report["problems"]
    return report
