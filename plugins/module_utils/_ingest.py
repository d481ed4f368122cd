# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Data ingestion: find the sources, plan per database, stream the data, copy the globals.

PRIVATE: internal to ssot.governance; its API may change at any time. Stdlib only (it
runs where the Docker CLI is, through the engine adapter).

Data moves between processes through OS pipes (``pg_dump`` in the source container
straight into ``pg_restore`` in the target), never through this process's memory or a
module result. Role definitions (``pg_dumpall --globals-only``) may hold password
hashes: they go to psql's stdin and nowhere else; results name roles only.
"""

from __future__ import annotations

import binascii
import datetime
import hashlib
import io
import json
import os
import re
import socket

from ansible_collections.ssot.governance.plugins.module_utils import _pgdata
from ansible_collections.ssot.governance.plugins.module_utils._engine import dbname, passed, psql_argv
from ansible_collections.ssot.governance.plugins.module_utils._text import (
    DEFAULT_LANGUAGE, Coded, message, rendered, shown)

TMP_PREFIX = "/tmp/ssot-ingest-"


class IngestError(Coded):
    """An ingest step failed; the message says which and why."""


def major_num(num):
    """server_version_num of the major: 100023 -> 100000, 90424 -> 90400."""
    return num // 10000 * 10000 if num >= 100000 else num // 100 * 100


def major_text(num):
    return str(num // 10000) if num >= 100000 else "%d.%d" % (num // 10000, (num // 100) % 100)


def tool_version(engine, container, tool, lang=DEFAULT_LANGUAGE):
    """(major as server_version_num, 'x.y') of a client tool inside a container, or (None, why: the tool's words)."""
    rc, out, err = engine.exec(container, [tool, "--version"])
    m = re.search(r"\(PostgreSQL\) (\d+)(?:\.(\d+))?(?:\.(\d+))?", out or "")
    if rc != 0 or not m:
        return None, (shown((err or out).strip()[-200:], 200) if (err or out).strip() else
                      message(lang, "ingest.reason.tool_missing", tool=tool))
    return tool_major_num("%s.%s" % (m.group(1), m.group(2) or 0)), shown(m.group(0).split(") ", 1)[1], 40)


def tool_major_num(version):
    """'10.23' or '15.18 (Debian 15.18-0+deb12u1)' -> the major as server_version_num (100000, 150000); '9.6.24' ->
    90600; None when it is not a version."""
    m = re.match(r"\s*(\d+)(?:\.(\d+))?", version or "")
    if not m:
        return None
    first, second = int(m.group(1)), int(m.group(2) or 0)
    return first * 10000 if first >= 10 else first * 10000 + second * 100


def server_info(engine, container, user):
    rows = _pgdata.psql(engine, container,
                        "SELECT current_setting('server_version_num'), current_setting('server_version')", user=user)
    try:
        num, version = int(rows[0][0]), shown(rows[0][1].split()[0], 40)
    except (IndexError, ValueError):
        raise _pgdata.PgDataError("pgdata.psql_failed", container=container, database="postgres",
                                  error=shown(rows, 200))
    return {"version_num": num, "major_num": major_num(num), "major": major_text(num), "version": version}


DATABASES_INFO_SQL = (
    "SELECT coalesce(json_agg(json_build_object('name', datname, 'bytes', pg_database_size(oid), "
    "'encoding', pg_encoding_to_char(encoding), 'collate', datcollate, 'ctype', datctype, "
    "'owner', pg_get_userbyid(datdba)) ORDER BY datname), '[]') FROM pg_database "
    "WHERE datallowconn AND NOT datistemplate")


def databases(engine, container, user, wanted=None):
    """{name: {bytes, encoding, collate, ctype, owner}} of the databases that accept connections, read as JSON (a
    name is a value: it may hold anything). A name with a control character is refused (PgDataError, the name
    escaped) when it is one of ``wanted`` (every one when None), else left out: it never reaches a tool."""
    found = dict((d["name"], dict((k, v) for k, v in d.items() if k != "name"))
                 for d in _pgdata.psql_json(engine, container, DATABASES_INFO_SQL, user=user)
                 if isinstance(d, dict) and isinstance(d.get("name"), str))
    return dict((n, found[n]) for n in _pgdata.usable_names(list(found), container, wanted))


def detect_dump(path):
    """'custom-dump', 'directory' or 'sql-dump' from the file's first bytes (or the folder's toc.dat)."""
    if os.path.isdir(path):
        return "directory" if os.path.isfile(os.path.join(path, "toc.dat")) else None
    with open(path, "rb") as fh:
        head = fh.read(5)
    return "custom-dump" if head == b"PGDMP" else "sql-dump"


def archive_versions(path):
    """(server version, pg_dump version) a custom or directory archive's header records (its file, or the folder's
    toc.dat) - what ``pg_restore -l`` prints as "Dumped from database version" / "Dumped by pg_dump version" - or None
    when the header is not one this reader knows (read bounded: a header is a few hundred bytes)."""
    name = os.path.join(path, "toc.dat") if os.path.isdir(path) else path
    try:
        with open(name, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return None
    if not head.startswith(b"PGDMP") or len(head) < 11:
        return None
    vmaj, vmin = head[5], head[6]
    pos = 8 if (vmaj, vmin) >= (1, 0) else 7
    int_size = head[pos]
    pos += 2 if (vmaj, vmin) >= (1, 7) else 1         # intSize, offSize
    pos += 1                                          # format

    def read_int():
        nonlocal pos
        if pos + 1 + int_size > len(head):
            raise ValueError()
        sign, value = head[pos], int.from_bytes(head[pos + 1:pos + 1 + int_size], "little")
        pos += 1 + int_size
        return -value if sign else value

    def read_str():
        nonlocal pos
        size = read_int()
        if size < 0 or size > 200 or pos + size > len(head):
            raise ValueError()
        pos += size
        return head[pos - size:pos].decode("utf-8", "replace")
    try:
        if not 1 <= int_size <= 8 or (vmaj, vmin) < (1, 10):
            return None
        if (vmaj, vmin) >= (1, 15):
            pos += 1                                  # compression algorithm (16 and later)
        else:
            read_int()                                # compression level
        for dummy in range(7):                        # creation time
            read_int()
        read_str()                                    # database name
        return read_str(), read_str()
    except ValueError:
        return None


def unsafe_entries(path):
    """What a dump source holds that is not a regular file: the path itself when it is a symbolic link, and in a
    folder every entry that is a link, a folder or anything else, and a large objects' list (blobs.toc) naming a file
    outside the folder. A link in a pg_dump -Fd folder is followed by pg_restore in the target's container: a blob
    "file" pointing at /proc/1/environ loaded the target's environment into a large object (review 11); so was a
    blobs.toc line naming ../../proc/1/environ (review 12)."""
    if os.path.islink(path):
        return [os.path.basename(path)]
    if not os.path.isdir(path):
        return []
    found = []
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if os.path.islink(full) or not os.path.isfile(full):
            found.append(name)
        elif BLOBS_TOC.match(name):
            with open(full, "rb") as fh:
                if any(not blob_line_safe(line) for line in fh):
                    found.append(name)
    return found


# A large objects' list of a directory archive (blobs.toc; blobs_<id>.toc from pg_dump 16): "<oid> <file name>" per
# line, the name opened by pg_restore relative to the folder. A plain name of a file in the folder, nothing else.
BLOBS_TOC = re.compile(r"\Ablobs(_[0-9]+)?\.toc\Z")
BLOB_LINE = re.compile(rb"\A[0-9]+ (?!\.\.?\r?\n?\Z)[A-Za-z0-9_.-]+\r?\n?\Z")


def blob_line_safe(line):
    return not line.strip() or bool(BLOB_LINE.match(line))


class CheckedLines(object):
    """A file object that reads ``size`` bytes of ``raw`` and raises ``error`` at the first line ``safe`` refuses:
    what a tar stream carries, checked on its way (the last line, without a newline, when the last byte passed)."""

    def __init__(self, raw, size, safe, error):
        self.raw, self.left, self.safe, self.error, self.rest = raw, size, safe, error, b""

    def read(self, size=-1):
        chunk = self.raw.read(size)
        self.left -= len(chunk)
        lines = (self.rest + chunk).split(b"\n")
        self.rest = lines.pop()
        if len(self.rest) > 1 << 16:
            raise self.error
        if self.left <= 0 or not chunk:
            lines.append(self.rest)
            self.rest = b""
        if any(not self.safe(line) for line in lines):
            raise self.error
        return chunk


def dump_digest(path):
    """sha256 of a dump file, or of a pg_dump -Fd folder (each regular file's name and content, in name order): what
    the card of a dump source binds, checked again when it is loaded."""
    digest = hashlib.sha256()
    names = [None] if os.path.isfile(path) else sorted(os.listdir(path))
    for name in names:
        full = path if name is None else os.path.join(path, name)
        if name is not None:
            if not os.path.isfile(full) or os.path.islink(full):
                continue
            digest.update(("%s\0" % name).encode("utf-8", "surrogateescape"))
        with open(full, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def check_source(engine, src, workspace, user, target, lang=DEFAULT_LANGUAGE):
    """One source of the SSOT: found or missing, with what was seen (in ``lang``). Never raises for a missing
    source."""
    def missing(out, code, **params):
        return dict(out, status="missing", reason=message(lang, "ingest.reason." + code, **params))

    out = {"id": src["id"], "kind": src["kind"], "databases": list(src.get("databases") or [])}
    try:
        if src["kind"] == "container":
            name = src.get("container") or ""
            out["container"] = name
            running = engine.running(name) if name else None
            if running is None:
                return missing(out, "no_container", name=name)
            if not running:
                return missing(out, "not_running", name=name)
            out["server"] = server_info(engine, name, user)
            found = databases(engine, name, user, out["databases"] or None)
            wanted = out["databases"] or sorted(d for d in found if d != "postgres")
            lacking = [d for d in wanted if d not in found]
            out["databases"] = [d for d in wanted if d in found]
            out["database_info"] = dict((d, found[d]) for d in out["databases"])
            dump_major, dump_version = tool_version(engine, name, "pg_dump", lang)
            restore_major, restore_version = tool_version(engine, target, "pg_restore", lang)
            out["tools"] = {"pg_dump": "%s (in %s)" % (dump_version, name),
                            "pg_restore": "%s (in %s)" % (restore_version, target)}
            problems = []
            if lacking:
                problems.append(message(lang, "ingest.reason.no_database", container=name, names=", ".join(lacking)))
            if dump_major is None or dump_major < out["server"]["major_num"]:
                problems.append(message(lang, "ingest.reason.old_pg_dump", container=name, version=dump_version,
                                        server=out["server"]["version"], major=out["server"]["major"]))
            if restore_major is None or (dump_major is not None and restore_major < dump_major):
                problems.append(message(lang, "ingest.reason.old_pg_restore", container=target,
                                        version=restore_version, dump=dump_version))
            if problems:
                return dict(out, status="missing", reason="; ".join(problems))
            # Tools of another major than the server they talk to: a finding with its risk (not a stop).
            target_server = server_info(engine, target, user)
            out["tool_findings"] = [
                message(lang, "ingest.tools.mismatch", tool=tool, version=version, container=where,
                        server=server["version"])
                for tool, major, version, where, server in (
                    ("pg_dump", dump_major, dump_version, name, out["server"]),
                    ("pg_restore", restore_major, restore_version, target, target_server))
                if major is not None and major_num(major) != server["major_num"]]
            return dict(out, status="found")
        if src["kind"] == "dump":
            path = src.get("path") or ""
            full = path if os.path.isabs(path) else os.path.join(workspace, path)
            out["path"] = full
            if not path or not os.path.exists(full):
                return missing(out, "no_file", path=full)
            fmt = detect_dump(full)
            if fmt is None:
                return missing(out, "folder_not_dump", path=full)
            out["format"] = src.get("format") or fmt
            if out["format"] != fmt:
                return missing(out, "format_differs", expected=out["format"], found=fmt)
            if len(out["databases"]) != 1:
                return missing(out, "one_database")
            unsafe = unsafe_entries(full)
            if unsafe:
                return missing(out, "dump_unsafe", path=full, names=", ".join(shown(n) for n in unsafe[:10]))
            if out["format"] == "sql-dump":
                # A plain SQL file is a psql script: its backslash commands (\! a shell, \copy ... program,
                # \connect) run in the target's container with its environment (the superuser's password among it),
                # whatever role the SQL itself runs as. Never run.
                return missing(out, "sql_dump_refused", path=full)
            out["bytes"] = os.path.getsize(full) if os.path.isfile(full) else sum(
                os.path.getsize(os.path.join(full, f)) for f in os.listdir(full))
            out["dump_sha256"] = dump_digest(full)
            # The versions the archive records against the target's: another major is a finding with its risk.
            versions = archive_versions(full)
            if versions:
                target_server = server_info(engine, target, user)
                out["tool_findings"] = [
                    message(lang, "ingest.tools.archive_" + what, version=shown(version, 40),
                            server=target_server["version"])
                    for version, what in ((versions[0], "server"), (versions[1], "pg_dump"))
                    if tool_major_num(version) not in (None, target_server["major_num"])]
            return dict(out, status="found")
        conn = src.get("connection") or {}
        out["connection"] = {"host": conn.get("host"), "port": conn.get("port", 5432)}
        try:
            with socket.create_connection((conn.get("host"), int(conn.get("port", 5432))), timeout=3):
                pass
        except (OSError, ValueError) as exc:
            return missing(out, "no_answer", host=conn.get("host"), port=conn.get("port", 5432), error=exc)
        return dict(out, status="found", note=message(lang, "ingest.note.connection"))
    except (_pgdata.PgDataError, OSError) as exc:
        return missing(out, "unreadable", error=rendered(exc, lang))


def plan(engine, sources, target, user, checksums=True, lang=DEFAULT_LANGUAGE):
    """Per found source and database: what the target holds. Returns a list of items.

    action: ``load`` (absent in the target), ``present`` (the target matches the source: nothing to do),
    ``reload`` (the target has the database and it differs), ``unsupported``.
    """
    target_dbs = databases(engine, target, user)
    target_major = server_info(engine, target, user)["major_num"]
    items = []
    for src in sources:
        if src["status"] != "found":
            continue
        if src["kind"] == "connection":
            items.append({"source": src["id"], "database": None, "action": "unsupported", "reason": src.get("note")})
            continue
        for db in src["databases"]:
            item = {"source": src["id"], "kind": src["kind"], "database": db}
            if src["kind"] == "container":
                same_major = src["server"]["major_num"] == target_major
                item["checksums"] = bool(checksums and same_major)
                if checksums and not same_major:
                    item["note"] = message(lang, "ingest.note.rows_only", source=src["server"]["major"],
                                           target=major_text(target_major))
            if db not in target_dbs:
                item["action"] = "load"
            elif src["kind"] == "container":
                source_stats, target_stats = _pgdata.table_stats_both(engine, src["container"], target, user,
                                                                      item["checksums"], [db])
                comparisons, mismatches = _pgdata.compare(source_stats, target_stats, "target")
                item.update(comparisons=comparisons, mismatches=mismatches,
                            action="reload" if mismatches else "present",
                            fingerprint=fingerprint(source_stats, target_stats))
            else:
                item.update(action="present", note=message(lang, "ingest.note.dump_present"))
            items.append(item)
    return items


def fingerprint(*stats):
    return hashlib.sha256(json.dumps(stats, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def _quote_ident(name):
    return '"%s"' % name.replace('"', '""')


def _quote_literal(value):
    return "'%s'" % str(value).replace("'", "''")


def create_database(engine, target, db, info, user, owner):
    """Database ``db`` with the source's encoding and collation, owned by ``owner`` (load_owner)."""
    sql = "CREATE DATABASE %s TEMPLATE template0 ENCODING %s LC_COLLATE %s LC_CTYPE %s OWNER %s" % (
        _quote_ident(db), _quote_literal(info.get("encoding", "UTF8")), _quote_literal(info.get("collate", "C")),
        _quote_literal(info.get("ctype", "C")), _quote_ident(owner))
    _pgdata.psql(engine, target, sql, user=user)


def drop_database(engine, target, db, user):
    _pgdata.psql(engine, target, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND "
                                 "pid <> pg_backend_pid()" % _quote_literal(db), user=user)
    _pgdata.psql(engine, target, "DROP DATABASE IF EXISTS %s" % _quote_ident(db), user=user)


def stream_custom(engine, source, target, db, user, loader, compression=1):
    """pg_dump -Fc -Z<compression> in the source container into pg_restore, as ``loader``, in the target container."""
    return engine.pipe(["exec", source, "pg_dump", "-U", user, "-Fc", "-Z", str(compression), "-d", dbname(db)],
                       ["exec", "-i"] + loader.flags() + [target] + loader.restore(db), secrets=loader.secrets)


def _remove(engine, containers, folder):
    for c in containers:
        engine.exec(c, ["rm", "-rf", folder])


SANDBOX_LABEL = "io.ssot-governance.restore-for"
SANDBOX_MEMORY = "1g"


class Sandbox(object):
    """Where a pg_dump -Fd folder is restored: a container of the target's own image made for that one restore, in
    the target's network namespace (pg_restore reaches the server at 127.0.0.1, as the loader) and with nothing else
    of the target's - not its files, its processes or its environment.

    pg_restore opens the files a directory archive names - toc.dat names each table's data file, blobs.toc each
    large object's - relative to the folder and with ``..`` allowed. Run inside the target, those names reached the
    target's /proc/1/environ and its data directory, loaded as rows and large objects (review 12). In the sandbox
    they reach the folder, the image's own files and the sandbox's environment (the image's, and the loader's
    password, void once the load ends). It runs as the user docker exec runs as in the target, every capability
    dropped, no new privileges, pids and memory limits, nothing of the image's but its files and environment (its
    entrypoint replaced by a shell waiting on its input, its healthcheck off: review 13 ran one beside pg_restore, able
    to read its password), and is removed with its volumes whatever happened.
    """

    def __init__(self, engine, target):
        self.engine, self.target = engine, target
        self.name = "%s-restore-%s" % (target, binascii.hexlify(os.urandom(4)).decode("ascii"))
        self.made, self.uid = False, None

    def __enter__(self):
        image = (self.engine.inspect(self.target) or {}).get("Image")
        if not image:
            raise IngestError("ingest.target_not_running", container=self.target)
        self.uid = container_uid(self.engine, self.target)
        rc, dummy, err = self.engine.run([
            "run", "-d", "-i", "--name", self.name, "--label", "%s=%s" % (SANDBOX_LABEL, self.target),
            "--network", "container:%s" % self.target, "--user", str(self.uid), "--cap-drop", "ALL",
            "--security-opt", "no-new-privileges", "--pids-limit", "256", "--memory", SANDBOX_MEMORY,
            "--no-healthcheck", "--entrypoint", "sh", image])
        self.made = True
        if rc != 0:
            raise IngestError("ingest.error.sandbox", target=self.target, error=shown(err.strip(), 300))
        return self

    def __exit__(self, *exc):
        if self.made:
            self.engine.run(["rm", "-f", "-v", self.name])
        return False


def directory_jobs(engine, source, target, db, user, loader, jobs, compression=1):
    """pg_dump -Fd -j in the source container, the folder carried as a tar stream kept to regular files into a
    Sandbox of the target, pg_restore -j there.

    The source's tools are its preparer's: what its pg_dump leaves in the folder - a link (pg_restore follows it), a
    large objects' list naming a file outside the folder - is checked on its way and stops the carry; whatever names
    toc.dat holds lead only inside the sandbox. The files are given to the user docker exec runs as (the minimal
    legacy images have no chown).
    """
    folder = TMP_PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", db)
    where = "%s:%s" % (source, folder)
    try:
        _remove(engine, (source,), folder)
        rc, dummy, err = engine.exec(source, ["pg_dump", "-U", user, "-Fd", "-j", str(jobs), "-Z", str(compression),
                                              "-f", folder, "-d", dbname(db)])
        if rc != 0:
            return rc, 0, err.strip().splitlines()[-20:]
        with Sandbox(engine, target) as box:
            check = files_only(os.path.basename(folder), box.uid, where)

            def carry(tar_in, tar_out):
                import tarfile
                with tarfile.open(fileobj=tar_in, mode="r|") as inp, tarfile.open(fileobj=tar_out, mode="w|") as out:
                    for info in inp:
                        check(info)
                        data = inp.extractfile(info) if info.isfile() else None
                        if data is not None and BLOBS_TOC.match(info.name.rsplit("/", 1)[-1]):
                            data = CheckedLines(data, info.size, blob_line_safe, IngestError(
                                "ingest.error.dump_unsafe", path=shown(where), names=shown(info.name)))
                        out.addfile(info, data)
            rc1, rc2, errors = engine.relay(["cp", where, "-"], ["cp", "-", "%s:/tmp/" % box.name], carry)
            if rc1 or rc2:
                return rc1, rc2, errors
            rc, dummy, err = engine.exec(box.name, loader.restore(db, "-j", str(jobs), folder),
                                         secrets=loader.secrets)
        return 0, rc, err.strip().splitlines()[-50:]
    finally:
        _remove(engine, (source,), folder)


def container_uid(engine, container):
    """The uid docker exec runs as in ``container`` (read from /proc with shell builtins only)."""
    rc, out, err = engine.exec(container, ["sh", "-c", 'while read k v r; do [ "$k" = "Uid:" ] && echo "$v"; done '
                                           '< /proc/self/status'])
    try:
        return int(out.split()[0])
    except (IndexError, ValueError):
        raise IngestError("ingest.error.uid", container=container, error=err.strip()[-200:])


def files_only(top, uid, where):
    """A check of each entry of a tar that carries a dump folder into the target: the folder ``top`` itself and the
    regular files directly in it, given to ``uid``; anything else - a link (pg_restore in the target follows it: a
    blob "file" linked to /proc/1/environ loaded the target's environment), a subfolder, a device, a name outside
    the folder - refuses ``where`` and nothing more is carried."""
    def check(info):
        name = info.name.rstrip("/")
        if not ((info.isdir() and name == top) or (info.isfile() and "/" in name and name.rsplit("/", 1)[0] == top
                                                   and name.rsplit("/", 1)[1] not in ("", ".", ".."))):
            raise IngestError("ingest.error.dump_unsafe", path=shown(where), names=shown(info.name))
        info.uid, info.gid, info.uname, info.gname = uid, uid, "", ""
        return info
    return check


def copy_folder_in(engine, path, container, dest, uid):
    """A host folder into ``container`` at ``dest`` as a tar stream owned by ``uid`` (files streamed, not loaded)."""
    import tarfile
    check = files_only(os.path.basename(dest), uid, path)

    def produce(stdin):
        with tarfile.open(fileobj=stdin, mode="w|") as tar:
            tar.add(path, arcname=os.path.basename(dest), filter=check)
    rc, errors = engine.feed(["cp", "-", "%s:%s" % (container, os.path.dirname(dest))], produce)
    if rc != 0:
        raise IngestError("ingest.error.copy", path=path, container=container, error=" ".join(errors)[-300:])


def load_dump(engine, path, fmt, target, db, loader, jobs=1):
    """A custom-format dump file (streamed into pg_restore in the target) or a pg_dump -Fd folder (restored in a
    Sandbox of the target: the files its toc names are read there) into database ``db`` of the target, as
    ``loader``."""
    if fmt not in ("custom-dump", "directory"):
        # A plain SQL file is never given to psql (check_source refuses it: its backslash commands run a shell).
        raise IngestError("ingest.error.dump_format", path=path, format=str(fmt))
    if fmt == "custom-dump":
        return engine.pipe(None, ["exec", "-i"] + loader.flags() + [target] + loader.restore(db), stdin_path=path,
                           secrets=loader.secrets)
    folder = TMP_PREFIX + "dir"
    with Sandbox(engine, target) as box:
        copy_folder_in(engine, path, box.name, folder, box.uid)
        rc, dummy, err = engine.exec(box.name, loader.restore(db, "-j", str(max(1, jobs)), folder),
                                     secrets=loader.secrets)
    return 0, rc, err.strip().splitlines()[-50:]


# --- least privilege: what a dump holds runs as a role made for the load, never as a superuser ---------------------
# A dump's code (a CHECK constraint's function, an index expression, a default) runs while it is restored, as the
# role restoring it. That role is made for one load: no attribute (not a superuser, no CREATEDB, CREATEROLE,
# REPLICATION or BYPASSRLS, no membership), a random password that expires, and it connects as itself (over TCP to
# 127.0.0.1 inside the target's container): a session a superuser opened and then narrowed with SET ROLE could be
# widened back by the code it runs (RESET ROLE). Once restored, what it made goes to the owner the card showed
# (load_owner) and the role is dropped, whether the restore went well or not.
LOADER_PREFIX = "ssot_loader_"
LOADER_HOST = "127.0.0.1"
LOADER_HOURS = 12
# The names of the roles a condition holds for, one JSON list (role_names).
_ROLES_WHERE = "SELECT coalesce(json_agg(r.rolname ORDER BY r.rolname), '[]') FROM pg_roles r WHERE "
# A superuser, or a member of one (it can SET ROLE to it).
SUPERUSERS_SQL = _ROLES_WHERE + ("r.rolsuper OR EXISTS (SELECT 1 FROM pg_roles s WHERE s.rolsuper AND s.oid <> r.oid "
                                 "AND pg_has_role(r.oid, s.oid, 'MEMBER'))")
LOGINS_SQL = _ROLES_WHERE + "r.rolcanlogin"
# The roles of loads that died before their cleanup (disarm_stale_loaders).
STALE_LOADERS_SQL = _ROLES_WHERE + "r.rolcanlogin AND r.rolname LIKE 'ssot\\_loader\\_%'"
# The schema a new database has, by its oid (what the restore does to it - a rename - does not lose it).
PUBLIC_SQL = ("SELECT coalesce((SELECT json_build_array(oid::bigint, pg_get_userbyid(nspowner)) FROM pg_namespace "
              "WHERE nspname = 'public'), 'null'::json)")
SCHEMA_NAME_SQL = "SELECT coalesce((SELECT to_json(nspname) FROM pg_namespace WHERE oid = %d), 'null'::json)"
ROLE_EXISTS_SQL = "SELECT to_json(count(*)) FROM pg_roles WHERE rolname = %s"


def role_names(engine, container, user, sql):
    """The role names one of the *_SQL queries above returns from ``container``'s server, as a set."""
    return set(n for n in _pgdata.psql_json(engine, container, sql, user=user) if isinstance(n, str))


def superusers(engine, container, user):
    """The superusers of ``container``'s server and the roles that are members of one, by name."""
    return role_names(engine, container, user, SUPERUSERS_SQL)


def source_owner(src, database):
    """The owner of ``database`` in source ``src``, as the source's check read it (None for a dump file)."""
    return ((src.get("database_info") or {}).get(database) or {}).get("owner")


def made_super(name, allowed, supers):
    """Whether a role the load creates would be a superuser or a member of one, as the SSOT's ``ingest.roles``
    allows it."""
    grant = allowed.get(name) or {}
    return "SUPERUSER" in (grant.get("attributes") or []) or bool(set(grant.get("member_of") or []) & supers)


def load_owner(named, source_owner, roles, supers, database):
    """Who owns what a load restores, and how the card says it: (role, how).

    ``named`` (the SSOT's ``ingest.owner``) whatever it is: "named", "named_super" (a superuser: the SSOT's word) or
    "create" (the target lacks it: the load makes it NOLOGIN, without attributes). Otherwise the source database's
    owner when the target has that role (``roles``, with those the load creates) and it is no superuser there:
    "source". Otherwise IngestError naming what to set: objects from the source never go to a superuser unless the
    SSOT names one."""
    if named:
        return named, "named_super" if named in supers else "named" if named in roles else "create"
    if source_owner and source_owner in roles and source_owner not in supers:
        return source_owner, "source"
    raise IngestError("ingest.error.owner_superuser" if source_owner in supers else "ingest.error.owner_missing",
                      database=shown(database), owner=shown(source_owner or "-"))


def create_owner(engine, target, user, owner):
    """The owner the SSOT names, made when the target lacks it: NOLOGIN, without attributes."""
    _script(engine, target, "postgres", user, ["CREATE ROLE %s NOLOGIN;" % _quote_ident(owner)], "ingest.error.roles",
            database="-")


def _script(engine, container, db, user, statements, code, **params):
    """``statements`` in one psql session on ``db`` (stdin only: they may hold a password), stopping at the first
    error (IngestError ``code`` with the server's first error line)."""
    script = ["SET standard_conforming_strings = on;"] + list(statements)
    rc, dummy, err = engine.exec(container, psql_argv(user, db, "-qX", "-v", "ON_ERROR_STOP=1"),
                                 data="\n".join(script) + "\n", env=_pgdata.PINNED)
    if rc != 0:
        lines = [line for line in err.strip().splitlines() if line.startswith(("ERROR", "FATAL", "psql:"))]
        raise IngestError(code, container=container, error=shown((lines or err.strip().splitlines() or [""])[0], 300),
                          **params)


def disarm_stale_loaders(engine, target, user):
    """The roles of loads that died before their cleanup (a kill -9 of the run): no login, no password (their
    objects stay for the rollback, which drops the roles an ingestion added). Returns their names."""
    stale = sorted(role_names(engine, target, user, STALE_LOADERS_SQL))
    if stale:
        _script(engine, target, "postgres", user, ["ALTER ROLE %s NOLOGIN PASSWORD NULL;" % _quote_ident(n)
                                                   for n in stale], "ingest.error.loader_close", database="-",
                role=", ".join(stale))
    return stale


class Loader(object):
    """The role one load restores as (see above): ``open`` makes it, ``restore`` / ``psql`` are its tools' argv,
    ``close`` hands what it made to the owner and drops it."""

    def __init__(self, engine, target, db, user):
        self.engine, self.target, self.db, self.user = engine, target, db, user
        self.name = LOADER_PREFIX + binascii.hexlify(os.urandom(6)).decode()
        self.secrets = {"PGPASSWORD": binascii.hexlify(os.urandom(24)).decode()}
        self.public = None          # (oid, owner) of the new database's public schema
        self.made = False

    def flags(self):
        """``docker exec`` flags handing the password in by name (never on a command line)."""
        return passed(self.secrets)

    def _conn(self, db):
        return ["-h", LOADER_HOST, "-U", self.name, "-d", dbname(db)]

    def restore(self, db, *extra):
        """pg_restore as the loader; owners left out (what it makes is the loader's, then the owner's)."""
        return ["pg_restore", "--no-owner"] + self._conn(db) + list(extra)

    def psql(self, db, *extra):
        return ["psql", "-X"] + self._conn(db) + list(extra)

    def open(self):
        until = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=LOADER_HOURS)).strftime(
            "%Y-%m-%d %H:%M:%S+00")
        name = _quote_ident(self.name)
        _script(self.engine, self.target, "postgres", self.user, [
            "CREATE ROLE %s LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION CONNECTION LIMIT 64 "
            "VALID UNTIL %s PASSWORD %s;" % (name, _quote_literal(until), _quote_literal(self.secrets["PGPASSWORD"])),
            "GRANT CONNECT, CREATE, TEMPORARY ON DATABASE %s TO %s;" % (_quote_ident(self.db), name)],
            "ingest.error.loader", database=shown(self.db))
        self.made = True
        # The schema a new database has (public) is the loader's while it restores (what the source says of it - its
        # comment, its privileges - applies), then its owner's again.
        found = _pgdata.psql_json(self.engine, self.target, PUBLIC_SQL, db=self.db, user=self.user)
        if isinstance(found, list) and len(found) == 2 and isinstance(found[0], int):
            self.public = (found[0], str(found[1]))
            _script(self.engine, self.target, self.db, self.user, ["ALTER SCHEMA public OWNER TO %s;" % name],
                    "ingest.error.loader", database=shown(self.db))
        rc, dummy, err = self.engine.exec(self.target, self.psql(self.db, "-qAt", "-c", "SELECT 1"),
                                          secrets=self.secrets)
        if rc != 0:
            raise IngestError("ingest.error.loader_connect", container=self.target, host=LOADER_HOST,
                              error=shown(" ".join(err.strip().splitlines()[-2:]), 300))
        return self

    def close(self, owner):
        """What the loader made goes to ``owner``, then the role goes; the server does it (none of it runs code of the
        dump's). Fail-safe: the role can no longer log in nor keeps a session before anything else (the dump's code
        ran as it: it may have changed its own password, renamed its schema), each step runs whatever the others
        did, and the role is read back gone - otherwise IngestError naming what failed (it stays NOLOGIN, without
        a password)."""
        if not self.made:
            return
        name = _quote_ident(self.name)
        steps = [("postgres", ["ALTER ROLE %s NOLOGIN PASSWORD NULL;" % name,
                               "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s;"
                               % _quote_literal(self.name)])]
        if self.public:
            # By its oid: the name "public" is whatever the restore left (the loader owned the schema).
            schema = _pgdata.psql_json(self.engine, self.target, SCHEMA_NAME_SQL % self.public[0], db=self.db,
                                       user=self.user)
            if isinstance(schema, str):
                steps.append((self.db, ["ALTER SCHEMA %s OWNER TO %s;" % (_quote_ident(schema),
                                                                          _quote_ident(self.public[1]))]))
        steps += [(self.db, ["REASSIGN OWNED BY %s TO %s;" % (name, _quote_ident(owner))]),
                  (self.db, ["DROP OWNED BY %s;" % name]), ("postgres", ["DROP ROLE %s;" % name])]
        errors = []
        for db, statements in steps:
            try:
                _script(self.engine, self.target, db, self.user, statements, "ingest.error.loader_close",
                        database=shown(self.db), role=self.name)
            except IngestError as exc:
                errors.append(exc.params.get("error") or "-")
        left = _pgdata.psql_json(self.engine, self.target, ROLE_EXISTS_SQL % _quote_literal(self.name),
                                 user=self.user)
        if left != 0:
            raise IngestError("ingest.error.loader_close", container=self.target, database=shown(self.db),
                              role=self.name, error="; ".join(errors) or "-")
        self.made = False
        if self.public and schema != "public":
            # The restore renamed the database's schema (pg_dump never does): what it restored is not the source's.
            raise IngestError("ingest.error.loader_tampered", database=shown(self.db), found=shown(str(schema)))


# --- a database's copy replayed (an ingestion's rollback): as a role made for it, never as a superuser -------------
# A pg_dumpall section replayed by a superuser runs the database's own code as one: a CHECK constraint calling
# lo_import('/proc/1/environ') as the rows are copied in, lo_export over a file of the data directory (review 13 -
# built-in functions, no CREATE FUNCTION anywhere). The section's head (up to its \connect: CREATE DATABASE and its
# owner) is the superuser's; the rest runs as a Loader, without the statements that give objects to their owners
# (what the role made goes to the database's owner afterwards, as a load's does).
_OWNER_LINE = re.compile(rb'\AALTER [A-Z ]+ .+ OWNER TO (?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*);\r?\n?\Z')
DB_OWNER_SQL = ("SELECT coalesce((SELECT to_json(pg_get_userbyid(datdba)) FROM pg_database WHERE datname = %s), "
                "'null'::json)")


def section_parts(marked):
    """(part, text) of a database's pg_dumpall section, given as (line, top) pairs (_snapshot.top_level): "head" up to
    its \\connect (included), then "owner" for the statements giving an object to its owner, "database" for each
    statement about the database itself (its comment, settings, privileges: only its owner or a superuser may run
    them, so the loader cannot - review 17 - and _DB_STATEMENT checks them whole) and "body" for the rest, a line at a
    time; "meta" for pg_dump's own \\restrict / \\unrestrict / \\encoding lines (the replay brings its own). Only lines
    pg_dump wrote at the top level count, never text inside a literal, a body or COPY data."""
    head, statement, held, granting = True, None, None, False
    for line, top in marked:
        if statement is not None and top:
            yield "database", b"".join(statement)
            statement = None
        if held is not None and top:
            # A SET SESSION AUTHORIZATION goes with the statement after it: the database's when it is one.
            database = _DB_LEVEL.match(line) is not None
            yield ("database" if database else "body"), held
            held, granting = None, database
        if statement is not None:
            statement.append(line)
        elif top and _META_LINE.match(line):
            yield "meta", line
        elif head:
            head = not (top and line.startswith(b"\\connect"))
            yield "head", line
        elif top and _DB_LEVEL.match(line):
            statement = [line]
        elif top and _AS_GRANTOR.match(line):
            held = line
        elif top and granting and _AS_ITSELF.match(line):
            granting = False
            yield "database", line
        else:
            yield ("owner" if top and _OWNER_LINE.match(line) else "body"), line
    if held is not None:
        yield "body", held
    if statement is not None:
        yield "database", b"".join(statement)


# What pg_dump writes before a database's \\connect: comments, its session settings, CREATE DATABASE and its owner.
# Anything else there is refused before a superuser's psql reads it (review 15: data rows read as SQL).
_NAME = rb'(?:"(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)'
# Values as pg_dump writes them there: a word or a plain quoted one - no comment, dollar or other quote to hide in.
_VALUE = rb"(?:'[A-Za-z0-9_.@ -]*'|[A-Za-z0-9_]+)"
_HEAD_LINE = re.compile(
    rb"\A(?:|--[^\r\n]*|SET [a-z_]+ = " + _VALUE + rb";|SELECT pg_catalog\.set_config\('search_path', '', false\);|"
    rb"CREATE DATABASE (?P<create>" + _NAME + rb") WITH(?: [A-Z_]+ = " + _VALUE + rb")+;|ALTER DATABASE (?P<alter>"
    + _NAME + rb") OWNER TO " + _NAME + rb";|\\connect [^\r\n]*|\\(?:un)?restrict [A-Za-z0-9]+|"
    rb"\\encoding [A-Za-z0-9_]+)\r?\n?\Z")
# pg_dump's own backslash lines besides \connect: left out of what a replaying psql reads (it brings its own).
_META_LINE = re.compile(rb"\A\\(?:(?:un)?restrict [A-Za-z0-9]+|encoding [A-Za-z0-9_]+)\r?\n?\Z")

# Statements about the database itself, as pg_dump writes them after its \connect (its DATABASE PROPERTIES entry:
# connection limit, template flag, settings; its comment and privileges): recognised by how they start,
# then accepted whole only in these shapes, for that database (a literal is a literal: the replay sets
# standard_conforming_strings first).
_DB_LEVEL = re.compile(rb"\A(?:COMMENT ON DATABASE |ALTER DATABASE |ALTER ROLE .* IN DATABASE |"
                       rb"(?:GRANT|REVOKE) [A-Z, ]+ ON DATABASE )")
_LITERAL = rb"'(?:[^']|'')*'"
_SETTING_VALUE = rb"(?:" + _LITERAL + rb"|[A-Za-z0-9_.+-]+)"
_SETTING = rb" SET " + _NAME + rb" TO " + _SETTING_VALUE + rb"(?:, " + _SETTING_VALUE + rb")*"
_DB_PRIVILEGES = rb"(?:ALL|CREATE|CONNECT|TEMPORARY)(?:,(?:CREATE|CONNECT|TEMPORARY))*"
_GRANTEE = rb"(?:PUBLIC|" + _NAME + rb")"
_DB_STATEMENT = re.compile(
    rb"\A(?:COMMENT ON DATABASE (?P<comment>" + _NAME + rb") IS " + _LITERAL
    + rb"|ALTER DATABASE (?P<alter>" + _NAME + rb")" + _SETTING
    + rb"|ALTER DATABASE (?P<limit>" + _NAME + rb") CONNECTION LIMIT = -?[0-9]+"
    + rb"|ALTER DATABASE (?P<template>" + _NAME + rb") IS_TEMPLATE = (?:true|false)"
    + rb"|ALTER ROLE " + _NAME + rb" IN DATABASE (?P<role>" + _NAME + rb")" + _SETTING
    + rb"|GRANT " + _DB_PRIVILEGES + rb" ON DATABASE (?P<grant>" + _NAME + rb") TO " + _GRANTEE
    + rb"(?: WITH GRANT OPTION)?|REVOKE " + _DB_PRIVILEGES + rb" ON DATABASE (?P<revoke>" + _NAME + rb") FROM "
    + _GRANTEE + rb");\r?\n?\Z", re.S)

# The session settings a section is written in: only UTF8 and standard-conforming literals are replayed
# (_snapshot.DUMP_SESSION writes every copy so).
_SESSION_LINE = re.compile(rb"\ASET (?:client_encoding|standard_conforming_strings) ")
_SESSION_AS_WRITTEN = re.compile(rb"\ASET (?:client_encoding = 'UTF8'|standard_conforming_strings = on);\r?\n?\Z")
# A grant made by another role than the database's owner: pg_dump wraps it in SET / RESET SESSION AUTHORIZATION
# (the grant then runs as that role, never with more than it has: review 18 found the grantor changed).
_AS_GRANTOR = re.compile(rb"\ASET SESSION AUTHORIZATION " + _NAME + rb";\r?\n?\Z")
_AS_ITSELF = re.compile(rb"\ARESET SESSION AUTHORIZATION;\r?\n?\Z")


def _quoted_names(db):
    raw = db.encode("utf-8")
    return (raw, b'"' + raw.replace(b'"', b'""') + b'"')


def database_statement(statement, db, dump_path):
    """``statement`` (a "database" part of section_parts) as _DB_STATEMENT accepts it, about database ``db``; else
    IngestError naming it."""
    if _AS_GRANTOR.match(statement) or _AS_ITSELF.match(statement):
        return statement
    match = _DB_STATEMENT.match(statement)
    if match is None or next(g for g in match.groups() if g is not None) not in _quoted_names(db):
        raise IngestError("ingest.rollback.copy_unexpected", database=shown(db), folder=dump_path,
                          line=shown(statement.decode("utf-8", "replace"), 120))
    return statement


def check_section(dump_path, db):
    """Database ``db``'s section of a pg_dumpall file is one pg_dump wrote: its header once at the top level, the
    whole text balanced (_snapshot.top_level), and before its \\connect only what pg_dump writes there, for that
    database (_HEAD_LINE). IngestError naming what is not, before anything is dropped or replayed."""
    from ansible_collections.ssot.governance.plugins.module_utils import _snapshot
    header = _snapshot.section_header(db)
    names = _quoted_names(db)
    found, inside, head = 0, False, True
    try:
        with _snapshot.open_dump(dump_path) as fh:
            for line, top in _snapshot.top_level(fh):
                if top and (line.startswith(_snapshot._DB_HEADER) or line.startswith(_snapshot._CLUSTER_END)):
                    inside = line.rstrip(b"\r\n") == header
                    found += inside
                if inside and top and _SESSION_LINE.match(line) and not _SESSION_AS_WRITTEN.match(line):
                    # Written in another encoding or with backslash escapes (a copy taken before DUMP_SESSION): the
                    # literals the lexer and the superuser's psql read would not be the ones pg_dump meant.
                    raise IngestError("ingest.rollback.copy_unexpected", database=shown(db), folder=dump_path,
                                      line=shown(line.decode("utf-8", "replace"), 120))
                if not (inside and head):
                    continue
                match = _HEAD_LINE.match(line) if top else None
                if match is None or (match.group("create") or match.group("alter") or names[0]) not in names:
                    raise IngestError("ingest.rollback.copy_unexpected", database=shown(db), folder=dump_path,
                                      line=shown(line.decode("utf-8", "replace"), 120))
                head = not line.startswith(b"\\connect")
    except _snapshot.SnapshotError as exc:
        raise IngestError("ingest.rollback.copy_unexpected", database=shown(db), folder=dump_path, line=exc)
    if found != 1:
        raise IngestError("ingest.rollback.copy_unexpected", database=shown(db), folder=dump_path,
                          line=IngestError("ingest.rollback.headers", count=found))
    with _snapshot.open_dump(dump_path) as fh:
        for kind, text in section_parts(_snapshot.database_section(fh, db, marked=True)):
            if kind == "database":
                database_statement(text, db, dump_path)


# The first minor of each major whose psql knows \restrict (older majors: none).
_RESTRICT_SINCE = {13: 22, 14: 19, 15: 14, 16: 10, 17: 6}


def restricted(engine, target):
    """A random key for psql's \\restrict (from the August 2025 releases: 13.22, 14.19, 15.14, 16.10, 17.6 and
    later): no backslash command - \\! a shell, \\copy ... program, \\connect - runs after it but \\unrestrict with that
    key. The target's psql lacks it: IngestError (dump text is never replayed by a psql that would run them)."""
    rc, out, err = engine.exec(target, ["psql", "--version"])
    found = re.search(r"\(PostgreSQL\) (\d+)(?:\.(\d+))?", out or "")
    major, minor = (int(found.group(1)), int(found.group(2) or 0)) if found else (0, 0)
    if not (major >= 18 or minor >= _RESTRICT_SINCE.get(major, float("inf"))):
        raise IngestError("ingest.rollback.psql_unrestricted", target=target,
                          found=shown((out or err).strip(), 60) or "-")
    return binascii.hexlify(os.urandom(16)).decode("ascii")


def replay_database(engine, dump_path, target, db, user, target_num=None):
    """Database ``db``'s section of a pg_dumpall file back into the target: its head (CREATE DATABASE, its owner) as
    ``user``, the rest as a Loader; what the loader made then goes to the database's owner. Each psql runs
    \\restrict'ed with a key of its own (no backslash command of the text runs), and the section is found where
    pg_dump writes, never inside what a database holds. Returns (ERROR lines, facts: restored_by, owner statements
    left out)."""
    from ansible_collections.ssot.governance.plugins.module_utils import _snapshot
    left_out, statements = [], []
    key = restricted(engine, target)

    def part(wanted):
        def produce(stdin):
            stdin.write(b"\\restrict " + key.encode("ascii") + b"\n")
            with _snapshot.open_dump(dump_path) as fh:
                for kind, line in section_parts(_snapshot.database_section(fh, db, marked=True)):
                    if kind == "owner" and wanted == "body":
                        left_out.append(line)
                    if kind == "database" and wanted == "body":
                        statements.append(line)
                    if kind != wanted or (kind == "head" and line.startswith(b"\\connect")):
                        continue
                    if target_num is not None and line.startswith(b"CREATE DATABASE "):
                        line = _snapshot.compat_rewrite(line, target_num)
                    stdin.write(line)
        return produce

    def keep(line):
        return "ERROR:" in line
    rc, errors = engine.feed(["exec", "-i", target] + psql_argv(user, "postgres", "-qX", "-v", "ON_ERROR_STOP=1"),
                             part("head"), keep=keep)
    if rc != 0:
        raise IngestError("ingest.rollback.head_failed", database=shown(db), target=target,
                          errors=first_errors(errors) or "-")
    loader = Loader(engine, target, db, user)
    try:
        loader.open()
        argv = ["exec", "-i"] + loader.flags() + [target] + loader.psql(db, "-q", "-v", "ON_ERROR_STOP=0")
        rc, more = engine.feed(argv, part("body"), keep=keep, secrets=loader.secrets)
        errors += more
    finally:
        owner = _pgdata.psql_json(engine, target, DB_OWNER_SQL % _quote_literal(db), user=user)
        loader.close(owner if isinstance(owner, str) else user)
    # The database's own comment, settings and privileges (taken out of the body as it was read), each checked whole
    # (database_statement), as ``user`` in one transaction: all of them or none (review 17: replayed by the loader
    # they failed or did nothing, and PUBLIC had CONNECT back).
    statements = [database_statement(text, db, dump_path) for text in statements]
    facts = {"restored_by": loader.name, "owner_statements_left_out": len(left_out),
             "database_statements": len(statements), "database_errors": []}
    if statements:
        def produce(stdin):
            stdin.write(b"\\restrict " + key.encode("ascii") + b"\nSET client_encoding = 'UTF8';\n"
                        b"SET standard_conforming_strings = on;\n")
            for statement in statements:
                stdin.write(statement if statement.endswith(b"\n") else statement + b"\n")
        argv = ["exec", "-i", target] + psql_argv(user, "postgres", "-qX", "-1", "-v", "ON_ERROR_STOP=1")
        rc, failed = engine.feed(argv, produce, keep=keep)
        if rc != 0:
            facts["database_errors"] = [shown(e, 300) for e in failed][:10] or ["psql rc %d" % rc]
    return [shown(e, 300) for e in errors][:50], facts


# --- roles: built from the source's catalog, never copied as SQL text ---------------------------------------------
# What a created role may carry beyond LOGIN, INHERIT and its password hash: each attribute only where the SSOT names
# that role and that attribute (ingest.roles), never because the source's role had it.
ATTRIBUTES = ("SUPERUSER", "CREATEDB", "CREATEROLE", "REPLICATION", "BYPASSRLS")
_FLAG = {"SUPERUSER": "super", "CREATEDB": "createdb", "CREATEROLE": "createrole", "REPLICATION": "replication",
         "BYPASSRLS": "bypassrls"}
# A password as the catalog keeps it hashed: copied as a literal. A clear-text one (servers before 10 could keep
# them so) is never copied.
_HASH = re.compile(r"^(md5[0-9a-f]{32}|SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+)\Z")
# A role name a server holds may contain anything; the ones this collection creates hold no control character.
_CONTROL = _pgdata.CONTROL


def catalog_sql(major_num):
    """One JSON document of the source's catalog: roles (pg_authid, with their password hashes), memberships
    (pg_auth_members) and the names of role settings (pg_db_role_setting). Read as data, never as SQL to replay."""
    bypass = "a.rolbypassrls" if major_num >= 90500 else "false"
    return (
        "SELECT json_build_object("
        "'roles', (SELECT coalesce(json_agg(json_build_object('name', a.rolname, 'super', a.rolsuper, "
        "'inherit', a.rolinherit, 'createrole', a.rolcreaterole, 'createdb', a.rolcreatedb, 'login', a.rolcanlogin, "
        "'replication', a.rolreplication, 'bypassrls', %s, 'connlimit', a.rolconnlimit, "
        "'valid_until', a.rolvaliduntil, 'password', a.rolpassword) ORDER BY a.rolname), '[]') "
        "FROM pg_authid a WHERE a.rolname !~ '^pg_'), "
        "'members', (SELECT coalesce(json_agg(json_build_object('role', r.rolname, 'member', m.rolname, "
        "'admin', am.admin_option) ORDER BY r.rolname, m.rolname), '[]') FROM pg_auth_members am "
        "JOIN pg_roles r ON r.oid = am.roleid JOIN pg_roles m ON m.oid = am.member), "
        "'settings', (SELECT coalesce(json_agg(json_build_object('role', r.rolname, 'database', d.datname, "
        "'names', (SELECT array_agg(split_part(c, '=', 1)) FROM unnest(s.setconfig) c)) ORDER BY r.rolname), '[]') "
        "FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
        "LEFT JOIN pg_database d ON d.oid = s.setdatabase))" % bypass)


def target_roles(engine, target, user):
    return set(r[0] for r in _pgdata.psql(engine, target, "SELECT rolname FROM pg_roles", user=user))


def roles_catalog(engine, source, user):
    """The source's roles, memberships and role settings, as data (catalog_sql)."""
    major = server_info(engine, source, user)["major_num"]
    rc, out, err = engine.exec(source, psql_argv(user, "postgres", "-AtX", "-c", catalog_sql(major)),
                               env=_pgdata.PINNED)
    if rc != 0:
        raise IngestError("ingest.error.globals", container=source, error=err.strip()[-300:])
    try:
        doc = json.loads(out)
    except ValueError as exc:
        raise IngestError("ingest.error.globals", container=source, error=str(exc)[:200])
    if not isinstance(doc, dict):
        raise IngestError("ingest.error.globals", container=source, error=out.strip()[:200])
    return doc


def globals_plan(engine, source, target, user, allowed=None):
    """Roles of the source the target lacks, built (build_roles) from the source's catalog for a target that has
    the roles it has. Returns (plan, statements) as build_roles."""
    catalog = roles_catalog(engine, source, user)
    bypassrls = server_info(engine, target, user)["major_num"] >= 90500
    return build_roles(catalog, target_roles(engine, target, user), allowed or {}, bypassrls)


def _names(value):
    return [x for x in value or [] if isinstance(x, str)]


def _granted(allowed, role, key):
    """What the SSOT's ingest.roles grants ``role`` under ``key`` (attributes, member_of)."""
    entry = allowed.get(role) if isinstance(allowed, dict) else None
    return _names(entry.get(key)) if isinstance(entry, dict) else []


def build_roles(catalog, have, allowed, bypassrls=True):
    """(plan, statements) to create the source's roles the target lacks - ``have`` its roles, ``allowed`` the SSOT's
    ingest.roles - from the catalog's data, every name a quoted identifier and every value a literal:

    - each created role: LOGIN or NOLOGIN, INHERIT or NOINHERIT, its password hash (md5 or SCRAM; clear text is
      never copied), its connection limit and expiry; every attribute of ATTRIBUTES off unless the SSOT names that
      role and that attribute (and the source's role has it);
    - memberships only among the roles created, or in an existing role the SSOT lists in that role's
      ``member_of``; never WITH ADMIN OPTION; an existing role is never altered, by construction (only CREATE ROLE
      for absent names and GRANT to created roles are ever built);
    - no role setting (ALTER ROLE ... SET), no comment, no tablespace.

    What the source holds that is left out is listed (``dropped``) for the card. ``plan`` names roles only;
    ``statements`` (which may hold password hashes) must go only to psql's stdin. A role name with a control
    character refuses the whole (IngestError): nothing of such a source is run in the target."""
    roles = [r for r in catalog.get("roles") or [] if isinstance(r, dict) and isinstance(r.get("name"), str)]
    members = [m for m in catalog.get("members") or [] if isinstance(m, dict)]
    for name in [r["name"] for r in roles] + [x for m in members for x in _names([m.get("role"), m.get("member")])]:
        if _CONTROL.search(name):
            raise IngestError("ingest.error.role_name", name=repr(name)[:80])
    created, described, statements, dropped = [], [], [], []
    for role in roles:
        name = role["name"]
        if name in have:
            continue
        wanted = set(_granted(allowed, name, "attributes"))
        opts = ["LOGIN" if role.get("login") else "NOLOGIN", "INHERIT" if role.get("inherit", True) else "NOINHERIT"]
        granted, left = [], []
        for attr in ATTRIBUTES:
            has = bool(role.get(_FLAG[attr]))
            if attr == "BYPASSRLS" and not bypassrls:
                if has:
                    left.append(attr)
                continue
            if has and attr in wanted:
                granted.append(attr)
                opts.append(attr)
            else:
                if has:
                    left.append(attr)
                opts.append("NO" + attr)
        limit = role.get("connlimit")
        if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0:
            opts.append("CONNECTION LIMIT %d" % limit)
        if isinstance(role.get("valid_until"), str) and role["valid_until"]:
            opts.append("VALID UNTIL %s" % _quote_literal(role["valid_until"]))
        password = role.get("password")
        if isinstance(password, str) and _HASH.match(password):
            opts.append("PASSWORD %s" % _quote_literal(password))
            kept = "hash"
        else:
            kept = "none" if password is None else "dropped"
            if password is not None:
                dropped.append({"role": name, "what": "password", "why": "not_hashed"})
        if left:
            dropped.append({"role": name, "what": "attributes", "names": left, "why": "not_in_ssot"})
        created.append(name)
        described.append({"name": name, "login": bool(role.get("login")), "attributes": granted,
                          "password": kept})
        statements.append("CREATE ROLE %s WITH %s;" % (_quote_ident(name), " ".join(opts)))
    grants = []
    for m in members:
        group, member = m.get("role"), m.get("member")
        if not (isinstance(group, str) and isinstance(member, str)):
            continue
        if member not in created:
            if member in have and group in created:
                dropped.append({"role": member, "what": "membership", "of": group, "why": "existing_role"})
            continue
        listed = group in _granted(allowed, member, "member_of")
        if group in created or (listed and group in have):
            grants.append({"role": member, "of": group})
            statements.append("GRANT %s TO %s;" % (_quote_ident(group), _quote_ident(member)))
            if m.get("admin"):
                dropped.append({"role": member, "what": "admin_option", "of": group, "why": "never"})
        else:
            dropped.append({"role": member, "what": "membership", "of": group, "why": "not_in_ssot"})
    for s in catalog.get("settings") or []:
        if isinstance(s, dict) and s.get("role") in created:
            dropped.append({"role": s["role"], "what": "settings", "names": _names(s.get("names")),
                            "database": s.get("database") if isinstance(s.get("database"), str) else None,
                            "why": "not_in_ssot"})
    plan = {"create": created, "roles": described, "memberships": grants, "dropped": dropped,
            "conflicts": sorted(r["name"] for r in roles if r["name"] in have), "skipped": [],
            "statements": [_PASSWORD.sub("PASSWORD '***'", x) for x in statements],
            "sha256": hashlib.sha256("\n".join(statements).encode("utf-8")).hexdigest()}
    return plan, statements


_PASSWORD = re.compile(r"PASSWORD '(?:[^']|'')*'")


def apply_globals(engine, target, user, statements):
    """Run the role statements in the target (stdin only: they may hold password hashes)."""
    if not statements:
        return
    # One transaction: a failure creates nothing (the server's first error line, never the statement it quotes).
    _script(engine, target, "postgres", user, ["BEGIN;"] + list(statements) + ["COMMIT;"], "ingest.error.roles")


# --- the code a source database holds: what a load would bring into the target, on the card -------------------------
def _listed(select):
    return "(SELECT coalesce(json_agg(s ORDER BY s), '[]') FROM (%s) AS q (s))" % select


_USER_NS = "n.nspname NOT IN ('pg_catalog', 'information_schema')"
# Per kind, one sorted list of texts (valid from 9.4 on; event triggers from 9.3). Read with search_path pinned
# (_pgdata.PINNED): regclass/regproc names come out schema-qualified.
CODE_KINDS = ("security_definer", "untrusted_functions", "foreign_tables", "foreign_servers", "user_mappings",
              "event_triggers", "triggers", "casts", "extensions", "languages", "settings", "grants", "large_objects")
CODE_SQL = (
    "SELECT json_build_object("
    "'security_definer', " + _listed(
        "SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') owner ' || "
        "pg_get_userbyid(p.proowner) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE p.prosecdef AND " + _USER_NS) + ", "
    "'untrusted_functions', " + _listed(
        "SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') ' || "
        "l.lanname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l "
        "ON l.oid = p.prolang WHERE NOT l.lanpltrusted AND " + _USER_NS) + ", "
    "'foreign_tables', " + _listed(
        "SELECT ft.ftrelid::regclass::text || ' SERVER ' || s.srvname || coalesce(' OPTIONS ' || "
        "array_to_string(ft.ftoptions, ', '), '') FROM pg_foreign_table ft JOIN pg_foreign_server s "
        "ON s.oid = ft.ftserver") + ", "
    "'foreign_servers', " + _listed(
        "SELECT s.srvname || ' (' || w.fdwname || ')' || coalesce(' OPTIONS ' || array_to_string(s.srvoptions, ', '), "
        "'') FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw") + ", "
    "'user_mappings', " + _listed(
        "SELECT coalesce(pg_get_userbyid(nullif(um.umuser, 0)), 'PUBLIC') || ' @ ' || s.srvname || coalesce(' (' || "
        "(SELECT string_agg(split_part(o, '=', 1), ', ') FROM unnest(um.umoptions) o) || ')', '') "
        "FROM pg_user_mapping um JOIN pg_foreign_server s ON s.oid = um.umserver") + ", "
    "'triggers', " + _listed(
        "SELECT t.tgrelid::regclass::text || ': ' || t.tgname || ' -> ' || t.tgfoid::regproc::text "
        "FROM pg_trigger t WHERE NOT t.tgisinternal") + ", "
    "'event_triggers', " + _listed(
        "SELECT evtname || ' ON ' || evtevent || ' -> ' || evtfoid::regproc::text FROM pg_event_trigger") + ", "
    "'casts', " + _listed(
        "SELECT format_type(castsource, NULL) || ' AS ' || format_type(casttarget, NULL) || "
        "coalesce(' WITH ' || nullif(castfunc, 0)::regproc::text, '') FROM pg_cast WHERE oid >= 16384") + ", "
    "'extensions', " + _listed("SELECT extname || ' ' || extversion FROM pg_extension") + ", "
    "'languages', " + _listed(
        "SELECT lanname || CASE WHEN lanpltrusted THEN '' ELSE ' (untrusted)' END FROM pg_language "
        "WHERE lanispl") + ", "
    "'settings', " + _listed(
        "SELECT coalesce(pg_get_userbyid(nullif(s.setrole, 0)), '*') || ': ' || split_part(c, '=', 1) "
        "FROM pg_db_role_setting s, unnest(s.setconfig) c WHERE s.setdatabase = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())") + ", "
    # Privileges given to others than an object's owner (PUBLIC among them): code the dump ran while restoring
    # granted PUBLIC a table's writes and made a large object readable by all.
    "'grants', " + _listed(
        "SELECT x.k || ' ' || x.o || ' -> ' || CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE "
        "pg_get_userbyid(a.grantee) END || ': ' || a.privilege_type FROM ("
        "SELECT 'relation' AS k, c.oid::regclass::text AS o, c.relacl AS acl, c.relowner AS owner FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE " + _USER_NS + " AND n.nspname !~ '^pg_toast' "
        "UNION ALL SELECT 'schema', quote_ident(n.nspname), n.nspacl, n.nspowner FROM pg_namespace n WHERE "
        + _USER_NS + " AND n.nspname !~ '^pg_' "
        "UNION ALL SELECT 'function', p.oid::regprocedure::text, p.proacl, p.proowner FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE " + _USER_NS + " "
        "UNION ALL SELECT 'large object', l.oid::text, l.lomacl, l.lomowner FROM pg_largeobject_metadata l"
        ") AS x, aclexplode(x.acl) AS a WHERE a.grantee <> x.owner") + ", "
    "'large_objects', " + _listed(
        "SELECT count(*)::text FROM pg_largeobject_metadata HAVING count(*) > 0") + ", "
    "'functions', (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE "
    + _USER_NS + "))")


def code_inventory(engine, container, db, user):
    """What database ``db`` of a source holds that runs code or changes how the server behaves, as its catalog says:
    SECURITY DEFINER functions (and their owners), functions in untrusted languages, triggers, event triggers, casts,
    extensions, procedural languages, database settings (names only), how many functions. Each text escaped (it
    is the source owner's), with ``sha256`` over the whole - the decision to load binds it."""
    out = catalog_inventory(engine, container, db, user)
    # The catalog's answers are the source's (a superuser there can make them lie): the digest also covers the
    # schema as pg_dump writes it - every function body, default, constraint, view, rule, policy and option the
    # restore would create - so a body swapped after the approval is another card.
    out["schema_sha256"] = schema_digest(engine, container, db, user)
    out["restorable_sha256"] = restorable_digest(out)
    # What a restore of it into another server must give: its schema without owners and privileges, with the tool
    # and the server that wrote it (the target's pg_dump of the loaded database is compared with it, verify_restored).
    out["schema_portable"] = schema_portable(engine, container, db, user)
    out["sha256"] = hashlib.sha256(json.dumps(out, sort_keys=True).encode("utf-8")).hexdigest()
    return out


def catalog_inventory(engine, container, db, user):
    """The kinds of code_inventory and how many functions, as database ``db``'s catalog says them (each text
    escaped)."""
    found = _pgdata.psql_json(engine, container, CODE_SQL, db=db, user=user)
    found = found if isinstance(found, dict) else {}
    out = dict((k, [shown(x, 300) for x in found.get(k) or [] if isinstance(x, str)]) for k in CODE_KINDS)
    out["functions"] = found.get("functions") if isinstance(found.get("functions"), int) else 0
    return out


def schema_portable(engine, container, db, user):
    """Database ``db``'s schema without owners and privileges (its sha256), with the pg_dump and the server major
    that wrote it: what a restore of it into another server must give."""
    return {"sha256": schema_digest(engine, container, db, user, portable=True),
            "pg_dump": tool_version(engine, container, "pg_dump")[1],
            "server": server_info(engine, container, user)["major_num"]}


def restorable_digest(inventory):
    """sha256 of what of a code inventory a restore recreates, the same read in the source and in the target after
    the load: every kind but the database settings (a restore into a database it did not create does not bring
    them), SECURITY DEFINER functions without their owner (the load hands them to the approved one), and how many
    functions. The target's server is not the source's: what it holds after the load is checked against the card."""
    kinds = dict((k, sorted(x.rsplit(" owner ", 1)[0] if k == "security_definer" else x
                            for x in inventory.get(k) or [])) for k in CODE_KINDS if k != "settings")
    kinds["functions"] = inventory.get("functions")
    return hashlib.sha256(json.dumps(kinds, sort_keys=True).encode("utf-8")).hexdigest()


def verify_restored(engine, target, db, user, approved, portable):
    """What the target holds after the load against what the card showed, read from the target's own catalog and
    with the target's own pg_dump - never the source's again (its server and its tools are its preparer's: they may
    describe one database and dump another). ``approved``: the card's restorable_sha256; ``portable``: the card's
    schema_portable (the source's schema without owners and privileges, the pg_dump and the server major that wrote
    it). The schema is compared when the target's pg_dump and server major are those; servers of two majors write
    two texts ("not compared", said in the evidence); the same major with another pg_dump refuses (a tool that
    reports another version must not make the check go away). IngestError when something differs."""
    found = restorable_digest(catalog_inventory(engine, target, db, user))
    if found != approved:
        raise IngestError("ingest.load.code_differs", database=shown(db), target=target, found=found[:16],
                          approved=str(approved)[:16])
    portable = portable if isinstance(portable, dict) else {}
    mine = schema_portable(engine, target, db, user)
    out = {"code": "match", "pg_dump": [portable.get("pg_dump"), mine["pg_dump"]],
           "servers": [portable.get("server"), mine["server"]]}
    if portable.get("server") != mine["server"]:
        return dict(out, schema="not compared")
    if portable.get("pg_dump") != mine["pg_dump"] or portable.get("sha256") != mine["sha256"]:
        raise IngestError("ingest.load.schema_differs", database=shown(db), target=target,
                          tools="%s / %s" % (shown(str(portable.get("pg_dump"))), shown(str(mine["pg_dump"]))))
    return dict(out, schema="match")


# pg_dump since the August 2025 releases brackets its output with \restrict / \unrestrict and a random key.
_RANDOM_LINE = re.compile(rb"^\\(un)?restrict [A-Za-z0-9]+$")
# Debian's PostgreSQL 15 (15.20-0+deb12u1) gives every column it creates a ``pg_attver=<number>`` attribute option of
# its own drawing (the same columns on two servers carry two numbers; a restore does not carry the source's), which
# pg_dump writes as ``ALTER TABLE ONLY t ALTER COLUMN c SET (pg_attver=N[, other options]);``. Only that option, only
# on a line pg_dump wrote at the top level (never inside a function's body or a literal: review 17 hid a swapped body
# behind such a line) and only on a statement of exactly that shape, is left out; every other option stays.
_IDENT = rb'(?:"(?:[^"\r\n]|"")+"|[a-z_\x80-\xff][a-z0-9_$\x80-\xff]*)'
_COLUMN_OPTIONS = re.compile(rb"\A(ALTER (?:FOREIGN )?TABLE (?:ONLY )?" + _IDENT + rb"\." + _IDENT + rb" ALTER COLUMN "
                             + _IDENT + rb" SET \()([a-z_]+=[^,()\s]+(?:, [a-z_]+=[^,()\s]+)*)(\);)\Z")
_DRAWN_OPTION = re.compile(rb"\Apg_attver=[0-9]+\Z")


def schema_text(dump):
    """A ``pg_dump --schema-only`` text without what the server or pg_dump draws - the \\restrict key, Debian's
    pg_attver column option - where pg_dump writes them (lines at the top level, _snapshot.top_level): the same
    schema on two servers gives the same text. A text that does not lex as pg_dump's is returned as it is (its
    digest then matches nothing)."""
    from ansible_collections.ssot.governance.plugins.module_utils import _snapshot
    out = []
    try:
        for line, top in _snapshot.top_level(io.BytesIO(dump)):
            bare = line.rstrip(b"\n")
            if top and _RANDOM_LINE.match(bare):
                continue
            options = _COLUMN_OPTIONS.match(bare) if top else None
            if options:
                kept = [x for x in options.group(2).split(b", ") if not _DRAWN_OPTION.match(x)]
                if not kept:
                    continue
                line = options.group(1) + b", ".join(kept) + options.group(3) + line[len(bare):]
            out.append(line)
    except _snapshot.SnapshotError:
        return dump
    return b"".join(out)


def schema_digest(engine, container, db, user, portable=False):
    """sha256 of ``pg_dump --schema-only`` of database ``db`` in ``container`` (as schema_text reads it: the same
    schema has the same digest); ``portable``: without owners and privileges (what a restore into another server
    keeps)."""
    extra = ["--no-owner", "--no-privileges"] if portable else []
    rc, out, err = engine.exec(container, ["pg_dump", "-U", user, "--schema-only"] + extra + ["-d", dbname(db)],
                               text=False)
    if rc != 0:
        raise _pgdata.PgDataError("pgdata.psql_failed", container=container, database=shown(db),
                                  error=shown(err.decode("utf-8", "replace").strip(), 300))
    return hashlib.sha256(schema_text(out)).hexdigest()


def code_lines(inventory, lang, limit=40):
    """The inventory as the card says it: one line per object (at most ``limit``, then how many more)."""
    lines = [message(lang, "ingest.code." + kind, what=x) for kind in CODE_KINDS for x in inventory.get(kind) or []]
    if len(lines) > limit:
        lines = lines[:limit] + [message(lang, "ingest.code.more", count=len(lines) - limit)]
    return lines


def restore_errors(lines):
    """The error lines of pg_restore / psql output (warnings and notices dropped), control characters escaped."""
    return [shown(line, 300) for line in lines if "error" in line.lower()][:50]


def first_errors(errors, count=3):
    """What a message quotes of restore errors: the server's own ERROR lines first."""
    said = [e.split("ERROR:", 1)[1].strip() for e in errors if "ERROR:" in e]
    return "; ".join((said or errors)[:count])


READ_BACK_SQL = (
    "SELECT json_build_object('owner', (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = "
    "current_database()), 'tables', (SELECT coalesce(json_object_agg(quote_ident(n.nspname) || '.' || quote_ident(c.relname), "
    "pg_get_userbyid(c.relowner)), '{}') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname !~ '^pg_toast'), 'functions', (SELECT count(*) FROM pg_proc p JOIN pg_namespace n "
    "ON n.oid = p.pronamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')))")


def read_back(engine, target, db, user):
    """What database ``db`` of the target holds after a load, as its server says: the owner, each table with its
    owner and rows, how many functions. The evidence of a load, whether it ended well or not."""
    found = _pgdata.psql_json(engine, target, READ_BACK_SQL, db=db, user=user)
    rows = dict(_pgdata.psql_json(engine, target, _pgdata.ROWCOUNT_SQL, db=db, user=user))
    tables = found.get("tables") or {}
    return {"owner": found.get("owner"), "functions": found.get("functions"),
            "tables": dict((name, {"owner": owner, "rows": int(rows[name]) if name in rows else None})
                           for name, owner in sorted(tables.items()))}
