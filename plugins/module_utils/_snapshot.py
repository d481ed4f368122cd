# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replicable snapshots: streamed capture, manifest, verification.

PRIVATE: internal to ssot.governance; its API may change at any time. Stdlib only (it
runs where the Docker CLI is, through the engine adapter).

Large outputs (pg_dumpall, docker save) go from the command's stdout to disk in fixed
blocks, hashed (and optionally gzip-compressed) on the way: memory stays constant and
nothing large passes through a module result.
"""

from __future__ import annotations

import difflib
import errno
import gzip
import hashlib
import json
import os
import re
import shutil

from ansible_collections.ssot.governance.plugins.module_utils._engine import BLOCK, dbname, psql_argv
from ansible_collections.ssot.governance.plugins.module_utils import _findings
from ansible_collections.ssot.governance.plugins.module_utils._text import Coded, message

MANIFEST = "manifest.json"
MASK = "********"
# Container environment entries that are never secrets; every other value is masked.
HARMLESS_ENV = frozenset(("PATH", "PGDATA", "LANG", "LC_ALL", "TZ", "HOME", "HOSTNAME", "TERM", "PGPORT",
                          "PGHOST", "PGUSER", "PGDATABASE", "POSTGRES_USER", "POSTGRES_DB",
                          "POSTGRES_HOST_AUTH_METHOD"))


class SnapshotError(Coded):
    """A capture step failed; the message says which and why."""


class _HashingFile(object):
    """A write-only file object that hashes and counts what reaches the disk."""

    def __init__(self, fh):
        self.fh = fh
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self.sha.update(data)
        self.size += len(data)
        return self.fh.write(data)

    def flush(self):
        self.fh.flush()


def mask_env(entries):
    """["NAME=value", ...] with every value but the harmless ones masked."""
    out = []
    for entry in entries or []:
        name, sep, dummy = str(entry).partition("=")
        out.append(entry if not sep or name in HARMLESS_ENV else "%s=%s" % (name, MASK))
    return out


def mask_values(text, secrets):
    for secret in sorted((s for s in secrets or [] if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


# How pg_dumpall's sessions read the server, whatever a database's owner set on it (ALTER DATABASE ... SET
# client_encoding / standard_conforming_strings): a client's options outrank a database's, so every section is written
# in UTF8 with standard-conforming literals - the text the lexer (top_level) and every replay read (review 18: a
# database set to standard_conforming_strings = off had its comment written with doubled backslashes, replayed
# with them).
DUMP_SESSION = ["-e", "PGCLIENTENCODING=UTF8", "-e", "PGOPTIONS=-c standard_conforming_strings=on"]


def stream(engine, args, path, compress=False, reader=None):
    """Stream the stdout of ``docker <args>`` into ``path`` (gzip when ``compress``), through ``reader(write)`` when
    given (a DumpReader: what reaches the file is what it hands on). Returns (size, sha256)."""
    tmp = path + ".part"
    try:
        with open(tmp, "wb") as raw:
            sink = _HashingFile(raw)
            writer = gzip.GzipFile(fileobj=sink, mode="wb", mtime=0, compresslevel=6) if compress else sink
            through = reader(writer.write) if reader else writer
            rc, err = engine.stream(args, through.write)
            if reader and rc == 0:
                through.close()
            if compress:
                writer.close()
        if rc != 0:
            raise SnapshotError("engine.exited", command=" ".join(args[:3]), rc=rc, error=err.strip()[-500:])
        os.replace(tmp, path)
        return sink.size, sink.sha.hexdigest()
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def sha256_file(path):
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(BLOCK), b""):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def write_json(path, data):
    body = (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n").encode("utf-8")
    with open(path, "wb") as fh:
        fh.write(body)
    return len(body), hashlib.sha256(body).hexdigest()


def write_text(path, text):
    body = text.encode("utf-8")
    with open(path, "wb") as fh:
        fh.write(body)
    return len(body), hashlib.sha256(body).hexdigest()


def _inspect(engine, name, kind="container"):
    found = engine.inspect(name, kind)
    if found is None:
        raise SnapshotError("engine.no_object", kind=kind, name=name)
    return found


def capture(engine, container, folder, capture_list, compression, user="postgres", secrets=(), image_tag=None):
    """Capture what ``capture_list`` names into ``folder``. Returns (files, facts)."""
    os.makedirs(folder, exist_ok=True)
    files = []
    inspect = _inspect(engine, container)
    image_id = inspect.get("Image")
    facts = {"container": container, "container_id": inspect.get("Id"), "image": inspect.get("Config", {}).get("Image"),
             "image_id": image_id}

    def add(name, size_digest, kind):
        size, digest = size_digest
        files.append({"name": name, "size": size, "sha256": digest, "kind": kind})

    if "container_inspect" in capture_list:
        cfg = inspect.get("Config") or {}
        cfg["Env"] = mask_env(cfg.get("Env"))
        text = mask_values(json.dumps(inspect, indent=2, sort_keys=True), secrets)
        add("container-inspect.json", write_text(os.path.join(folder, "container-inspect.json"), text + "\n"),
            "inspect")
    if "image_inspect" in capture_list:
        image = _inspect(engine, image_id, "image")
        image.get("Config", {})["Env"] = mask_env((image.get("Config") or {}).get("Env"))
        add("image-inspect.json", write_json(os.path.join(folder, "image-inspect.json"), image), "inspect")
    if "logs" in capture_list:
        dummy, out, err = engine.run(["logs", "--tail", "500", container])
        text = mask_values(out + err, secrets)
        add("container-logs-tail500.log", write_text(os.path.join(folder, "container-logs-tail500.log"), text),
            "logs")
    if "pg_dumpall" in capture_list:
        name = DUMP_NAMES[0] if compression == "gzip" else DUMP_NAMES[1]
        facts["pg_dumpall_version"] = engine.exec(container, ["pg_dumpall", "--version"])[1].strip()
        rc, out, err = engine.exec(container, psql_argv(user, "postgres", "-X", "-At", "-c", "SHOW server_version_num"))
        if rc != 0 or not out.strip().isdigit():
            raise SnapshotError("engine.exited", command="psql SHOW server_version_num", rc=rc,
                                error=(err or out).strip()[-300:])
        facts["server_version_num"] = int(out.strip())
        readers = []

        def reader(write):
            readers.append(DumpReader(write, facts["server_version_num"], user))
            return readers[-1]
        # No role's password (its hash logs in with md5 as well as the password: review 19): set them on the replica.
        dumpall = ["exec"] + DUMP_SESSION + [container, "pg_dumpall", "--no-role-passwords", "-U", user]
        add(name, stream(engine, dumpall, os.path.join(folder, name), compress=compression == "gzip", reader=reader),
            "dump")
        read = readers[0]
        counts = source_agrees(engine, container, user, read)
        facts["adapted"] = read.adapted
        facts["restore_check"] = {"user": user, "databases": read.databases, "tables": read.tables()}
        add(ROW_COUNTS_QUERY, write_text(os.path.join(folder, ROW_COUNTS_QUERY), ROW_COUNTS_SQL), "check")
        add(ROW_COUNTS, write_text(os.path.join(folder, ROW_COUNTS), counts), "check")
    if "image_save" in capture_list and image_tag:
        rc, out, err = engine.run(["commit", container, image_tag])
        if rc != 0:
            raise SnapshotError("engine.exited", command="commit", rc=rc, error=err.strip()[-300:])
        facts["committed_image"] = {"tag": image_tag, "id": out.strip()}
        add("snapshot-image.tar", stream(engine, ["save", image_tag], os.path.join(folder, "snapshot-image.tar")),
            "image")
    return files, facts


# Every database of the source, and whether pg_dumpall could dump it (it never dumps template0: one made to allow
# connections, holding a table, was silently left out - review 20).
DUMPED_SQL = ("SELECT coalesce(json_agg(json_build_array(datname, datallowconn) ORDER BY datname), '[]') "
              "FROM pg_database")


def source_agrees(engine, container, user, read):
    """The dump holds what the source holds, or SnapshotError saying what differs: every database (pg_dumpall leaves
    out one that does not allow connections - review 19: a database and its rows missing, the restore test passed)
    and every table's rows as the source counts them by the recipe's own query (never only what this reader counted:
    a text it reads out of step with psql would count another dump - review 19)."""
    rc, out, err = engine.exec(container, psql_argv(user, "postgres", "-X", "-At", "-c", DUMPED_SQL))
    try:
        rows = json.loads(out) if rc == 0 else None
    except ValueError:
        rows = None
    if not isinstance(rows, list):
        raise SnapshotError("engine.exited", command="psql pg_database", rc=rc, error=(err or out).strip()[-300:])
    closed = sorted(str(r[0]) for r in rows if not r[1] and r[0] != "template0")
    if closed:
        raise SnapshotError("snapshot.error.left_out", names=", ".join(closed))
    differ = sorted(set(str(r[0]) for r in rows if r[1]) ^ set(read.databases))
    if differ:
        raise SnapshotError("snapshot.error.databases_differ", names=", ".join(differ))
    counted = []
    for db in read.databases:
        rc, out, err = engine.exec(container, psql_argv(user, db, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-F",
                                                        "\t"), data=ROW_COUNTS_SQL, env={"PGCLIENTENCODING": "UTF8"})
        if rc != 0:
            raise SnapshotError("engine.exited", command="psql row-counts.sql", rc=rc, error=(err or out).strip()[-300:])
        counted.append(out)
    # What the dump's COPY data holds against the source: every line but those the dump cannot hold as they are (an
    # extension's tables, the large objects) - the recipe's check compares those with the restored server.
    source = "".join(counted)
    expected = row_counts_text(read.databases, read.tables())
    comparable = "".join(line for line in source.splitlines(True) if not line.rstrip("\n").endswith(NOT_IN_COPY))
    if comparable != expected:
        lines = [line for line in difflib.unified_diff(expected.splitlines(), comparable.splitlines(),
                                                       "dump", "source", lineterm="", n=0)
                 if line[:1] in "+-" and line[:3] not in ("---", "+++")]
        raise SnapshotError("snapshot.error.counts_differ", lines="; ".join(lines[:6]))
    return source


def write_manifest(folder, files, facts, extra):
    facts = dict(facts)
    check = facts.pop("restore_check", None)
    adapted = facts.pop("adapted", [])
    manifest = dict(extra, files=files, source=facts, adapted=adapted)
    if check is not None:
        manifest["restore_check"] = check
    manifest["restore"] = recipe(manifest) or []
    write_json(os.path.join(folder, MANIFEST), manifest)
    write_text(os.path.join(folder, "SHA256SUMS"), sums_text(files))
    return manifest


def sums_text(files):
    return "".join("%s  %s\n" % (f["sha256"], f["name"]) for f in files)


def verify(folder, manifest_sha256=None):
    """Re-hash every file of the manifest. Returns {ok, checked, missing, extra, altered}.

    ``manifest_sha256`` (what the journal recorded when the snapshot was taken) also
    protects the manifest itself; SHA256SUMS must say what the manifest says.
    """
    path = os.path.join(folder, MANIFEST)
    report = {"checked": 0, "missing": [], "altered": [], "extra": []}
    if manifest_sha256:
        try:
            found = sha256_file(path)[1]
        except OSError as exc:
            raise SnapshotError("snapshot.error.manifest", path=path, error=exc)
        if found != manifest_sha256:
            report["altered"].append({"name": MANIFEST, "expected": manifest_sha256, "found": found})
    try:
        with open(path, "rb") as fh:
            manifest = json.load(fh)
    except (OSError, ValueError) as exc:
        raise SnapshotError("snapshot.error.manifest", path=path, error=exc)
    listed = dict((f["name"], f) for f in manifest.get("files") or [])
    for name, entry in sorted(listed.items()):
        full = os.path.join(folder, name)
        if os.path.islink(full):
            # A link is read where it points (a host file fed to the restore's psql, review 19): never a snapshot's.
            report["altered"].append({"name": name, "expected": entry.get("sha256"), "found": "link"})
            continue
        if not os.path.isfile(full):
            report["missing"].append(name)
            continue
        size, digest = sha256_file(full)
        report["checked"] += 1
        if digest != entry.get("sha256") or size != entry.get("size"):
            report["altered"].append({"name": name, "expected": entry.get("sha256"), "found": digest})
    sums = os.path.join(folder, "SHA256SUMS")
    if not os.path.isfile(sums):
        report["missing"].append("SHA256SUMS")
    else:
        with open(sums, "rb") as fh:
            if fh.read().decode("utf-8", "replace") != sums_text(manifest.get("files") or []):
                report["altered"].append({"name": "SHA256SUMS", "expected": "as manifest.json", "found": "differs"})
    known = set(listed) | {MANIFEST, "SHA256SUMS"}
    for name in sorted(os.listdir(folder)):
        if name not in known and not re.match(r"^\.", name):
            report["extra"].append(name)
    report["ok"] = not (report["missing"] or report["altered"] or report["extra"])
    report["manifest"] = manifest
    return report


# CREATE DATABASE as pg_dump writes it: the name (bare or double-quoted), then WITH and KEY = value options, each value
# a literal (doubled quotes inside) or a bare word. Read as tokens, never searched: review 20 named a database
# "x LOCALE_PROVIDER = y" and a search rewrote its name.
_CREATE_DATABASE = re.compile(rb'^CREATE DATABASE ("(?:[^"]|"")+"|[A-Za-z0-9_$\x80-\xff]+) WITH'
                              rb"((?: [A-Z_]+ = (?:'(?:[^']|'')*'|\"(?:[^\"]|\"\")+\"|[A-Za-z0-9_.$\x80-\xff-]+))+);(\r?\n?)$")
_OPTION = re.compile(rb" ([A-Z_]+) = ('(?:[^']|'')*'|\"(?:[^\"]|\"\")+\"|[A-Za-z0-9_.$\x80-\xff-]+)")


def compat_rewrite(line, target_num):
    """A CREATE DATABASE line of a newer pg_dump made acceptable to an older target server.

    pg_dump 15 and later always write LOCALE_PROVIDER (servers before 15 refuse it; it only
    restates the default, libc, there) and LOCALE (servers before 13 know LC_COLLATE and
    LC_CTYPE, which it stands for). A line not of that exact shape is left as it is.
    """
    found = _CREATE_DATABASE.match(line)
    if not found:
        return line
    options = []
    for key, value in _OPTION.findall(found.group(2)):
        if key == b"LOCALE_PROVIDER" and target_num < 150000:
            continue
        if key == b"LOCALE" and target_num < 130000:
            options += [(b"LC_COLLATE", value), (b"LC_CTYPE", value)]
            continue
        options.append((key, value))
    return (b"CREATE DATABASE " + found.group(1) + b" WITH" + b"".join(b" %s = %s" % kv for kv in options) + b";"
            + found.group(3))


_DB_HEADER = b'-- Database "'
_CLUSTER_END = b"-- PostgreSQL database cluster dump complete"


_DOLLAR = re.compile(rb"\$(?:[A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]*)?\$")
# A character an identifier goes on with: a $ after one is part of the name (t$a$), never a dollar quote's start.
_NAME_BYTE = re.compile(rb"[A-Za-z0-9_$\x80-\xff]")


def _in_name(line, i):
    """Whether the $ at ``i`` goes on a name (t$a$, t1$a$) rather than a number (1$a$ opens a dollar quote)."""
    j = i
    while j and _NAME_BYTE.match(line[j - 1:j]):
        j -= 1
    return j < i and not line[j:j + 1].isdigit()


_ESCAPED = re.compile(rb"[\\']")
_COMMENT_MARK = re.compile(rb"/\*|\*/")
ESCAPE_QUOTE = b"E'"
COMMENT = b"/*"


def _open_after(line, state):
    """What is still open at the end of ``line`` of SQL text that began with ``state`` open: None (nothing), a quote
    (b"'" a literal, b"E'" an escape literal - a backslash escapes the next character, b'"' an identifier), a
    dollar-quote tag, or a block comment (b"/*" once per level: they nest). Doubled quotes stay inside; ``--`` outside
    ends the line. The rules are psql's own (review 19: an ``E'\\''`` that psql closes kept this reader inside a
    literal, and pg_dump's own lines after it were read as text). pg_dump writes text as it is stored - a comment, a
    function's body, a view's text - across lines."""
    i, n = 0, len(line)
    while i < n:
        if state is None:
            c = line[i:i + 1]
            if c == b"-" and line[i:i + 2] == b"--":
                return None
            if c == b"/" and line[i:i + 2] == COMMENT:
                state, i = COMMENT, i + 2
                continue
            if c == b"'" and i and line[i - 1:i] in (b"E", b"e") and not (i > 1 and _NAME_BYTE.match(line[i - 2:i - 1])):
                state, i = ESCAPE_QUOTE, i + 1
                continue
            if c in (b"'", b'"'):
                state, i = c, i + 1
                continue
            if c == b"$" and not _in_name(line, i):
                found = _DOLLAR.match(line, i)
                if found:
                    state, i = found.group(0), found.end()
                    continue
            i += 1
            continue
        if state == ESCAPE_QUOTE:
            found = _ESCAPED.search(line, i)
            if found is None:
                return state
            j = found.start()
            if line[j:j + 1] == b"\\" or line[j + 1:j + 2] == b"'":
                i = j + 2
                continue
            i, state = j + 1, None
            continue
        if state.startswith(COMMENT):
            found = _COMMENT_MARK.search(line, i)
            if found is None:
                return state
            i = found.end()
            state = state + COMMENT if found.group(0) == COMMENT else (state[2:] or None)
            continue
        j = line.find(state, i)
        if j < 0:
            return state
        if state in (b"'", b'"') and line[j + 1:j + 2] == state:
            i = j + 2
            continue
        i, state = j + len(state), None
    return state


class Lexer(object):
    """Where pg_dump's text stands, line by line: ``feed(line)`` says whether the line starts at the top level -
    outside any literal, quoted name, dollar-quoted body or COPY data - where pg_dump writes its own comments, commands
    and psql's backslash commands. Text a database holds (a table's comment reading ``-- Database "x" dump`` and
    ``\\connect x``) is never at the top level (review 14: a comment of one database, read as the start of another's
    section, ran as the superuser). A COPY statement is followed to its end (a table's name may hold a newline: its
    data rows then read as SQL, review 15); ``state`` is b"copy" while its data rows go by."""

    def __init__(self):
        self.state = None
        self.copying = False

    def feed(self, line):
        if self.state == b"copy":
            if line.rstrip(b"\r\n") == b"\\.":
                self.state = None
            return False
        top = self.state is None
        if top and line.startswith(b"COPY "):
            self.copying = True
        self.state = _open_after(line, self.state)
        if self.copying and self.state is None:
            self.copying = False
            if line.rstrip().endswith(b"FROM stdin;"):
                self.state = b"copy"
        return top

    def end(self):
        """A text that ends inside a quote, a body or COPY data is not pg_dump's: SnapshotError."""
        if self.state is not None:
            raise SnapshotError("snapshot.error.unbalanced", state=self.state.decode("ascii", "replace")[:20])


def top_level(lines):
    """(line, top) of a pg_dump text (see Lexer); SnapshotError when the text ends inside anything."""
    lexer = Lexer()
    for line in lines:
        yield line, lexer.feed(line)
    lexer.end()


_COPY_NAME = re.compile(rb'^COPY ("(?:[^"]|"")*"|[^\s."(]+)\.("(?:[^"]|"")*"|[^\s."(]+)[ (]')
_DB_TRAILER = b'" dump'


def _unquote(name):
    return name[1:-1].replace(b'""', b'"') if name.startswith(b'"') else name


def quote_ident(name):
    """``name`` as pg_dump writes an identifier: bare when it is lower case letters, digits and underscores (not
    starting with a digit), double-quoted otherwise. (Key words are quoted by pg_dump too; a role named like one
    is not adapted - its CREATE ROLE then runs as written.)"""
    return name if re.match(r"^[a-z_][a-z0-9_]*$", name) else '"%s"' % name.replace('"', '""')


class DumpReader(object):
    """A pg_dumpall stream read as it goes to disk (``write`` blocks, then ``close``), handing ``sink`` what the file
    holds: each database's section, the rows of every table's COPY (``counts``: (database, schema, table) -> rows, the
    values as the dump holds them - UTF8) and the few lines a fresh server of the source's own major needs adapted
    (``adapted``: [{"line", "original", "adapted", "why"}]), so the snapshot restores as it is stored:

    - ``CREATE DATABASE`` of a pg_dumpall newer than the server (``server_num``): pg_dump 15 and later write
      LOCALE_PROVIDER (servers before 15 refuse it; it restates the default there) and LOCALE (13+; LC_COLLATE and
      LC_CTYPE before), see compat_rewrite;
    - ``CREATE ROLE <superuser>;``: a fresh cluster of the image already has its superuser (initdb made it), so the
      statement runs in a block that lets that one error pass with a notice; every other error stops the recipe.

    Only lines at the top level of the text (Lexer) are read as pg_dump's; data and bodies pass untouched."""

    def __init__(self, sink, server_num=None, superuser="postgres"):
        self.sink = sink
        self.server_num = server_num
        self.role_line = ("CREATE ROLE %s;" % quote_ident(superuser)).encode("utf-8")
        self.role_block = ("DO $ssot$BEGIN %s EXCEPTION WHEN duplicate_object THEN RAISE NOTICE "
                           "'role %s already exists: the fresh cluster''s own superuser'; END$ssot$;"
                           % (self.role_line.decode("utf-8"), superuser.replace("'", "''"))).encode("utf-8")
        self.lexer = Lexer()
        self.rest = b""
        self.number = 0
        self.database = None
        self.connected = False     # past the section's \\connect (its head, where CREATE DATABASE is, is over)
        self.databases = []
        self.counts = {}
        self.adapted = []
        self.statement = None      # the COPY statement being read (its lines)
        self.table = None          # the table whose data rows go by

    def write(self, block):
        data, out, pos = self.rest + block, [], 0
        while pos < len(data):
            if self.table is not None:
                # A table's data rows (most of a dump): counted and handed on whole, up to the line \\. that ends them.
                if data.startswith(b"\\.\n", pos):
                    stop = pos
                else:
                    found = data.find(b"\n\\.\n", pos)
                    stop = found + 1 if found >= 0 else None
                upto = stop if stop is not None else data.rfind(b"\n", pos) + 1
                if upto > pos:
                    rows = data.count(b"\n", pos, upto)
                    self.counts[self.table] += rows
                    self.number += rows
                    out.append(data[pos:upto])
                    pos = upto
                if stop is None:
                    break
                out.append(b"\\.\n")
                pos += 3
                self.number += 1
                self.table = None
                self.lexer.state = None
                continue
            found = data.find(b"\n", pos)
            if found < 0:
                break
            out.append(self._line(data[pos:found + 1]))
            pos = found + 1
        self.rest = data[pos:]
        self.sink(b"".join(out))

    def close(self):
        if self.rest:
            self.sink(self._line(self.rest))
            self.rest = b""
        self.lexer.end()
        if self.statement is not None:
            raise SnapshotError("snapshot.error.unbalanced", state="COPY")

    def _line(self, line):
        self.number += 1
        if self.table is not None:
            if line.rstrip(b"\r\n") == b"\\.":
                self.table = None
            else:
                self.counts[self.table] += 1
            self.lexer.feed(line)
            return line
        top = self.lexer.feed(line)
        if self.statement is not None or (top and line.startswith(b"COPY ")):
            self.statement = (self.statement or []) + [line]
            if self.lexer.state == b"copy":
                self._copy(b"".join(self.statement))
                self.statement = None
            elif self.lexer.state is None and not self.lexer.copying:
                self.statement = None
            return line
        if not top:
            return line
        if line.startswith(_DB_HEADER) and line.rstrip(b"\r\n").endswith(_DB_TRAILER):
            self.database = line.rstrip(b"\r\n")[len(_DB_HEADER):-len(_DB_TRAILER)].decode("utf-8", "replace")
            self.databases.append(self.database)
            self.connected = False
            return line
        if line.startswith(b"\\connect "):
            self.connected = True
        new = line
        if self.database is None and line.rstrip(b"\r\n") == self.role_line:
            new = self.role_block + b"\n"
            why = "superuser"
        elif self.server_num is not None and self.database is not None and not self.connected \
                and line.startswith(b"CREATE DATABASE "):
            new = compat_rewrite(line, self.server_num)
            why = "create_database"
        if new != line:
            self.adapted.append({"line": self.number, "why": why, "original": line.decode("utf-8", "replace").strip(),
                                 "adapted": new.decode("utf-8", "replace").strip()})
        return new

    def _copy(self, statement):
        found = _COPY_NAME.match(statement)
        if not found or self.database is None:
            raise SnapshotError("snapshot.error.copy", line=self.number,
                                text=statement.decode("utf-8", "replace")[:120])
        self.table = (self.database, _unquote(found.group(1)).decode("utf-8", "replace"),
                      _unquote(found.group(2)).decode("utf-8", "replace"))
        self.counts.setdefault(self.table, 0)

    def tables(self):
        """[{database, schema, table, rows}] in the order the recipe's check prints them: databases in the dump's
        order, then schema and table by their UTF8 bytes (what ORDER BY convert_to(.., 'UTF8') gives)."""
        order = dict((d, n) for n, d in enumerate(self.databases))
        keys = sorted(self.counts, key=lambda k: (order.get(k[0], len(order)), k[1].encode("utf-8"),
                                                  k[2].encode("utf-8")))
        return [{"database": d, "schema": s, "table": t, "rows": self.counts[(d, s, t)]} for d, s, t in keys]


# The recipe's check, run in each database of the restored server: the database's name, then each table pg_dump writes
# the data of (plain and unlogged tables, partitions; not a partitioned parent, an extension's own or a temporary one;
# every table a user made, wherever it is: one in a schema named like pg_temp_1 or information_schema - which pg_dump
# leaves out - is counted on the source and fails the capture, review 20). An extension's own tables are counted too,
# marked "(extension)" (pg_dump writes their data only filtered, or not at all: CREATE EXTENSION makes them again - a
# table added to an extension was in no check, review 21), and the large objects (data pages or metadata, review 21).
# with its exact row count, ordered by the UTF8 bytes of its names - the lines of row-counts.txt. A temporary function
# counts (plpgsql is there from 9.0 on); nothing of it stays.
ROW_COUNTS_SQL = """SET search_path = pg_catalog, pg_temp;
SET client_min_messages = warning;
CREATE FUNCTION pg_temp.ssot_rows(s name, t name) RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE n bigint;
BEGIN
  EXECUTE 'SELECT count(*) FROM ONLY ' || quote_ident(s) || '.' || quote_ident(t) INTO n;
  RETURN n;
END $f$;
SELECT current_database();
SELECT current_database(), n.nspname, c.relname, pg_temp.ssot_rows(n.nspname, c.relname)::text
       || CASE WHEN EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                                        AND d.deptype = 'e') THEN E'\\t(extension)' ELSE '' END
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND c.oid >= 16384
 ORDER BY convert_to(n.nspname, 'UTF8'), convert_to(c.relname, 'UTF8');
SELECT current_database(), '-', '-', count(*)::text || E'\\t(large objects)'
  FROM (SELECT oid FROM pg_largeobject_metadata UNION SELECT loid FROM pg_largeobject) AS o;
"""
ROW_COUNTS = "row-counts.txt"
NOT_IN_COPY = ("\t(extension)", "\t(large objects)")
ROW_COUNTS_QUERY = "row-counts.sql"


def row_counts_text(databases, tables):
    """row-counts.txt: what the recipe's check prints on a server that holds exactly the dump - per database its
    name, then ``database<TAB>schema<TAB>table<TAB>rows`` per table."""
    out = []
    for db in databases:
        out.append(db + "\n")
        out.extend("%s\t%s\t%s\t%d\n" % (t["database"], t["schema"], t["table"], t["rows"])
                   for t in tables if t["database"] == db)
    return "".join(out)


# Line ends and control or invisible characters: never in a line a person pastes (nor in the checklist it is shown in).
_UNSAFE = re.compile(u"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def shell_word(value):
    """``value`` as one word of a POSIX shell, single-quoted (nothing in it is expanded); a name holding a line end or a
    control character cannot be pasted as one and is refused."""
    value = str(value)
    if _UNSAFE.search(value):
        raise SnapshotError("snapshot.error.name", name=value.encode("unicode_escape").decode("ascii")[:80])
    if re.match(r"^[A-Za-z0-9_./:@=+-]+$", value):
        return value
    return "'%s'" % value.replace("'", "'\\''")


DUMP_NAMES = ("pg_dumpall.sql.gz", "pg_dumpall.sql")
_IMAGE_ID = re.compile(r"^sha256:[0-9a-f]{64}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def psql_database(name):
    """A database name as psql's ``-d`` takes it: as it is, for a person to read, unless libpq would read it as a
    connection string (``=`` in it, or a URI's start) - then as the value of ``dbname=`` (_engine.dbname), so a database
    named ``dbname=postgres`` is only a name."""
    name = str(name)
    if "=" in name or name.startswith(("postgresql://", "postgres://")):
        return dbname(name)
    return name


# The recipe's container (a shell variable a person may set first; the restore test sets it, and the workspace label).
RESTORED = 'RESTORED="${RESTORED:-restored}"'
WAIT_SECONDS = 120


def recipe(manifest):
    """The commands, in order, that rebuild the snapshot on a fresh container of the source's image, from inside the
    snapshot folder, each a line a person pastes into a POSIX shell (the restore test runs these lines and nothing
    else): start the container (no network: the dump's own code runs there as the superuser), wait for it, check the
    files (right before they are read), replay the dump with psql stopping at the first error, then print each database's tables and row counts
    against row-counts.txt (diff: any difference is printed and fails). Built only from the manifest's facts, every
    value quoted: the restore test rebuilds it and refuses a manifest whose recipe differs."""
    files = manifest.get("files") or []
    dump = next((f.get("name") for f in files if f.get("kind") == "dump"), None)
    source = manifest.get("source") or {}
    image = source.get("image_id")
    user = (manifest.get("restore_check") or {}).get("user") or "postgres"
    databases = (manifest.get("restore_check") or {}).get("databases")
    # Only what a capture writes: its dump's own name, an image by id (never a name docker could read as an option or
    # as another image), a list of names.
    if dump not in DUMP_NAMES or not isinstance(image, str) or not _IMAGE_ID.match(image) \
            or not isinstance(databases, list) or not isinstance(user, str):
        return None
    # The files the recipe reads, checked against the hashes the manifest records - in the recipe itself, never
    # against SHA256SUMS, which lies in the same folder as what it checks (review 20: a dump, row-counts.txt and
    # SHA256SUMS edited together printed OK).
    sums = dict((f.get("name"), f.get("sha256")) for f in files)
    read = [dump, ROW_COUNTS_QUERY, ROW_COUNTS]
    if not all(isinstance(sums.get(n), str) and _SHA256.match(sums[n]) for n in read):
        return None
    check = "printf '%%s  %%s\\n' %s | sha256sum -c -" % " ".join("%s %s" % (sums[n], n) for n in read)
    exec_i = 'docker exec -i -e PGCLIENTENCODING=UTF8 "$RESTORED" psql -X -q -v ON_ERROR_STOP=1 -U %s' % (
        shell_word(user))
    reader = ("gunzip -c %s |" % shell_word(dump)) if dump.endswith(".gz") else None
    replay = "%s -o /dev/null -d postgres" % exec_i
    replay = ("%s %s" % (reader, replay)) if reader else ("%s < %s" % (replay, shell_word(dump)))
    return [
        RESTORED,
        'docker run -d --name "$RESTORED" --network none --label io.ssot-governance.restore-test=true '
        '--label "io.ssot-governance.workspace=${SSOT_WORKSPACE:-}" '
        '-e POSTGRES_PASSWORD="$(od -An -N18 -tx1 /dev/urandom | tr -d \' \\n\')" %s' % shell_word(image),
        'for i in $(seq %d); do docker exec "$RESTORED" pg_isready -q -h 127.0.0.1 -U %s && break; sleep 1; done'
        % (WAIT_SECONDS, shell_word(user)),
        check,
        replay,
        "for db in %s; do %s -At -F \"$(printf '\\t')\" -d \"$db\" < %s; done | diff %s - && echo %s" % (
            " ".join(shell_word(psql_database(d)) for d in databases), exec_i, ROW_COUNTS_QUERY, ROW_COUNTS,
            shell_word("OK: every table of %s restored with its rows" % ROW_COUNTS)),
    ]


def version_checks(manifest, psql_version, lang):
    """Deviations with the versions and the risk: the dump written by another major than the server it was taken
    from (the lines the capture adapted are in the manifest; any other statement that major lacks stops the recipe), an
    image psql older than the pg_dumpall that wrote the dump (a psql command it lacks stops the recipe)."""
    source = manifest.get("source") or {}
    dump = _findings.tool_major(source.get("pg_dumpall_version"))
    num = source.get("server_version_num")
    server = _findings.server_major_tuple(num) if isinstance(num, int) else None
    psql = _findings.tool_major(psql_version)
    out = []
    if dump and server and dump != server:
        out.append(("dump_major", message(lang, "snapshot.versions.dump", dump=_findings.major_text(dump),
                                          server=_findings.major_text(server),
                                          adapted=len(manifest.get("adapted") or []))))
    if dump and psql and psql < dump:
        out.append(("psql_old", message(lang, "snapshot.versions.psql", psql=_findings.major_text(psql),
                                        dump=_findings.major_text(dump))))
    return [{"id": "snapshot.versions.%s" % code, "status": "deviation", "severity": "medium",
             "description": message(lang, "snapshot.versions.check"), "expected": message(lang, "snapshot.versions.expected"),
             "actual": what} for code, what in out]


def open_dump(path):
    """A pg_dumpall file for reading, plain or gzip (by its name)."""
    return (gzip.open if path.endswith(".gz") else open)(path, "rb")


def section_header(database):
    """The line pg_dumpall opens ``database``'s section with (without its line end)."""
    return _DB_HEADER + database.encode("utf-8") + b'" dump'


def database_section(lines, database, marked=False):
    """The lines of one database's section of a pg_dumpall file (from its ``-- Database "x" dump`` header to the
    next one, each found where pg_dump writes, never inside what a database holds); None: every line. ``marked``:
    (line, top) pairs (top_level)."""
    header = None if database is None else section_header(database)
    inside = database is None
    for line, top in top_level(lines):
        if header is not None and top and (line.startswith(_DB_HEADER) or line.startswith(_CLUSTER_END)):
            if inside:
                return
            inside = line.rstrip(b"\r\n") == header
        if inside:
            yield (line, top) if marked else line


def container_labels(engine, name):
    """The labels of the container ``name`` (a dict), or None when no container has that name."""
    found = engine.inspect(name, fmt="{{json .Config.Labels}}")
    if found is None:
        return None
    try:
        return json.loads(found or "null") or {}
    except ValueError:
        return {}


PARTIAL = ".partial"


def staging_folder(dest):
    """<dest>.partial, emptied of what a killed capture left there (only ever written by a capture)."""
    staging = dest.rstrip("/") + PARTIAL
    discard(staging)
    return staging


def discard(folder):
    if folder.endswith(PARTIAL) and os.path.isdir(folder) and not os.path.islink(folder):
        shutil.rmtree(folder, ignore_errors=True)


def disk_error(exc, dest, lang):
    """An OSError while writing a snapshot, in the operator's words, with what to do next."""
    code = {errno.ENOSPC: "no_space", errno.EDQUOT: "no_space", errno.EROFS: "read_only",
            errno.EACCES: "denied", errno.EPERM: "denied"}.get(exc.errno, "io")
    return message(lang, "snapshot.capture.disk." + code, dest=dest, error=exc.strerror or exc.__class__.__name__)
