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

import errno
import gzip
import hashlib
import json
import os
import re
import shutil

from ansible_collections.ssot.governance.plugins.module_utils._engine import BLOCK, psql_argv
from ansible_collections.ssot.governance.plugins.module_utils._text import Coded

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


def stream(engine, args, path, compress=False):
    """Stream the stdout of ``docker <args>`` into ``path`` (gzip when ``compress``). Returns (size, sha256)."""
    tmp = path + ".part"
    try:
        with open(tmp, "wb") as raw:
            sink = _HashingFile(raw)
            writer = gzip.GzipFile(fileobj=sink, mode="wb", mtime=0, compresslevel=6) if compress else sink
            rc, err = engine.stream(args, writer.write)
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
        name = "pg_dumpall.sql.gz" if compression == "gzip" else "pg_dumpall.sql"
        add(name, stream(engine, ["exec"] + DUMP_SESSION + [container, "pg_dumpall", "-U", user],
                         os.path.join(folder, name), compress=compression == "gzip"), "dump")
        facts["pg_dumpall_version"] = engine.exec(container, ["pg_dumpall", "--version"])[1].strip()
    if "image_save" in capture_list and image_tag:
        rc, out, err = engine.run(["commit", container, image_tag])
        if rc != 0:
            raise SnapshotError("engine.exited", command="commit", rc=rc, error=err.strip()[-300:])
        facts["committed_image"] = {"tag": image_tag, "id": out.strip()}
        add("snapshot-image.tar", stream(engine, ["save", image_tag], os.path.join(folder, "snapshot-image.tar")),
            "image")
    return files, facts


def restore_commands(files, facts, compression):
    dump = next((f["name"] for f in files if f["kind"] == "dump"), None)
    image = facts.get("committed_image", {}).get("tag") or facts.get("image")
    cmds = []
    if any(f["name"] == "snapshot-image.tar" for f in files):
        cmds.append("docker load -i snapshot-image.tar")
    cmds.append("docker run -d --name restored -e POSTGRES_PASSWORD=<senha> %s" % image)
    if dump:
        reader = "gunzip -c %s" % dump if dump.endswith(".gz") else "cat %s" % dump
        cmds.append("%s | docker exec -i restored psql -U postgres -d postgres -q" % reader)
    cmds.append("sha256sum -c SHA256SUMS  # or: ansible-playbook ssot.governance.snapshot --tags snapshot_verify")
    return cmds


def write_manifest(folder, files, facts, extra):
    manifest = dict(extra, files=files, source=facts,
                    restore=restore_commands(files, facts, extra.get("compression")))
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


_LOCALE_PROVIDER = re.compile(rb" LOCALE_PROVIDER = '?\w+'?")
_LOCALE = re.compile(rb" LOCALE = ('(?:[^']|'')*')")


def compat_rewrite(line, target_num):
    """A CREATE DATABASE line of a newer pg_dump made acceptable to an older target server.

    pg_dump 15 and later always write LOCALE_PROVIDER (servers before 15 refuse it; it only
    restates the default, libc, there) and LOCALE (servers before 13 know LC_COLLATE and
    LC_CTYPE, which it stands for).
    """
    if not line.startswith(b"CREATE DATABASE "):
        return line
    if target_num < 150000:
        line = _LOCALE_PROVIDER.sub(b"", line)
    if target_num < 130000:
        line = _LOCALE.sub(lambda m: b" LC_COLLATE = " + m.group(1) + b" LC_CTYPE = " + m.group(1), line)
    return line


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


def _open_after(line, state):
    """What is still open at the end of ``line`` of SQL text that began with ``state`` open: None (nothing), a quote
    (b"'" a literal, b'"' an identifier) or a dollar-quote tag. Doubled quotes stay inside; ``--`` outside ends the
    line. pg_dump writes text as it is stored - a comment, a function's body, a view's text - across lines."""
    i, n = 0, len(line)
    while i < n:
        if state is None:
            c = line[i:i + 1]
            if c == b"-" and line[i:i + 2] == b"--":
                return None
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
        j = line.find(state, i)
        if j < 0:
            return state
        if state in (b"'", b'"') and line[j + 1:j + 2] == state:
            i = j + 2
            continue
        i, state = j + len(state), None
    return state


def top_level(lines):
    """(line, top) of a pg_dump text: ``top`` when the line starts outside any literal, quoted name, dollar-quoted body
    or COPY data - where pg_dump writes its own comments, commands and psql's backslash commands. Text a database
    holds (a table's comment reading ``-- Database "x" dump`` and ``\\connect x``) is never ``top`` (review 14: a
    comment of one database, read as the start of another's section, ran as the superuser). A COPY statement is
    followed to its end (a table's name may hold a newline: its data rows then read as SQL, review 15). A text that
    ends inside a quote, a body or COPY data is not pg_dump's: SnapshotError when it ends."""
    state, copying = None, False
    for line in lines:
        if state == b"copy":
            if line.rstrip(b"\r\n") == b"\\.":
                state = None
            yield line, False
            continue
        top = state is None
        if top and line.startswith(b"COPY "):
            copying = True
        state = _open_after(line, state)
        if copying and state is None:
            copying = False
            if line.rstrip().endswith(b"FROM stdin;"):
                state = b"copy"
        yield line, top
    if state is not None:
        raise SnapshotError("snapshot.error.unbalanced", state=state.decode("ascii", "replace")[:20])


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


def restore(engine, dump_path, container, user="postgres", target_num=None, database=None):
    """Stream a pg_dumpall file (plain or gzip) into psql inside ``container``; only ``database``'s section when
    given (its CREATE DATABASE included).

    Returns (ERROR lines, rewritten lines): a dump written by a newer pg_dumpall gets the
    known compatibility rewrites for an older target (see compat_rewrite), counted.
    """
    rewritten = []

    def produce(stdin):
        with open_dump(dump_path) as fh:
            for line in database_section(fh, database):      # COPY data rows stay unchanged
                if target_num is not None and line.startswith(b"CREATE DATABASE "):
                    new = compat_rewrite(line, target_num)
                    if new != line:
                        rewritten.append(new.decode("utf-8", "replace").strip())
                    line = new
                stdin.write(line)
    rc, lines = engine.feed(["exec", "-i", container] + psql_argv(user, "postgres", "-q", "-v", "ON_ERROR_STOP=0"),
                            produce, keep=lambda line: "ERROR:" in line)
    errors = lines
    if rc not in (0, 3):
        raise SnapshotError("snapshot.error.restore", rc=rc, errors="; ".join(errors[-3:]))
    return errors, rewritten


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
    from ansible_collections.ssot.governance.plugins.module_utils._text import message
    code = {errno.ENOSPC: "no_space", errno.EDQUOT: "no_space", errno.EROFS: "read_only",
            errno.EACCES: "denied", errno.EPERM: "denied"}.get(exc.errno, "io")
    return message(lang, "snapshot.capture.disk." + code, dest=dest, error=exc.strerror or exc.__class__.__name__)
