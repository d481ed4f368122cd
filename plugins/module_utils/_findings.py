# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the reference skill says always to watch, whatever the SSOT says.

PRIVATE: internal to ssot.governance; its API may change at any time. Stdlib + psycopg2
(it runs on the target).

Version compatibility of the client tools, public exposure, ``trust`` in pg_hba,
superusers without a password, SSL off while exposed, database and artifact sizes.
Every query runs in the caller's read-only session and is valid from PostgreSQL 9.4 on;
which query needs which version is in docs/validation.md.
"""

from __future__ import annotations

import ipaddress
import re
import subprocess

from ansible_collections.ssot.governance.plugins.module_utils._text import Coded, human_size, message as text

DUMP_TOOLS = ("pg_dump", "pg_dumpall", "pg_restore")
_TOOL_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B)?\s*$")
_UNITS = {None: 1, "KB": 10 ** 3, "MB": 10 ** 6, "GB": 10 ** 9, "TB": 10 ** 12,
          "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}

# pg_hba_file_rules exists from 10 on; before, the file itself is read (superuser only).
HBA_RULES_SQL = ("SELECT line_number, type, array_to_string(database, ','), array_to_string(user_name, ','), "
                 "coalesce(address, ''), auth_method FROM pg_hba_file_rules "
                 "WHERE auth_method = 'trust' ORDER BY line_number;")
HBA_FILE_SQL = "SELECT pg_read_file(current_setting('hba_file'));"
SUPERUSER_SQL = ("SELECT rolname FROM pg_authid WHERE rolsuper AND rolcanlogin AND rolpassword IS NULL "
                 "ORDER BY rolname;")
SIZES_SQL = "SELECT datname, pg_database_size(datname) FROM pg_database WHERE datallowconn ORDER BY datname;"


class SizeError(Coded, ValueError):
    """A size the SSOT gives that is not one."""


def size_bytes(value):
    """'10GiB', '500 MB', 1024 -> bytes."""
    if isinstance(value, int):
        return value
    m = _SIZE.match(str(value))
    if not m:
        raise SizeError("size.invalid", value=repr(value))
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def tool_major(version_text):
    """'pg_dump (PostgreSQL) 15.18 (Debian ...)' -> (15, 0); '... 9.6.24' -> (9, 6); unknown -> None."""
    m = _TOOL_VERSION.search(version_text or "")
    if not m:
        return None
    major = int(m.group(1))
    return (major, 0) if major >= 10 else (major, int(m.group(2) or 0))


def server_major_tuple(version_num):
    num = int(version_num)
    return (num // 10000, 0) if num >= 100000 else (num // 10000, (num // 100) % 100)


def major_text(t):
    return str(t[0]) if t[0] >= 10 else "%d.%d" % t


def local_tool_versions(tools):
    """``<tool> --version`` for each tool on this host; a missing tool is reported, not raised."""
    out = {}
    for tool in tools:
        try:
            proc = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=20, check=False)
            out[tool] = (proc.stdout or proc.stderr).strip()
        except (OSError, subprocess.SubprocessError) as exc:
            out[tool] = "error: %s" % exc
    return out


def hba_method_index(tokens):
    """Index of the auth method in the tokens of one pg_hba.conf line, or None (not a rule line).

    local DATABASE USER METHOD; host* DATABASE USER ADDRESS METHOD, where ADDRESS may be an
    IP address followed by a separate mask.
    """
    if not tokens:
        return None
    if tokens[0] == "local":
        return 3 if len(tokens) >= 4 else None
    if not tokens[0].startswith("host") or len(tokens) < 5:
        return None
    address = tokens[3]
    if ("/" not in address and len(tokens) >= 6 and re.match(r"^[0-9.:a-fA-F]+$", tokens[4])
            and re.match(r"^[0-9.:a-fA-F]+$", address)):
        return 5
    return 4


def parse_hba(content):
    """Lines of a pg_hba.conf with method trust: (line number, type, database, user, address)."""
    found = []
    for number, raw in enumerate(content.splitlines(), 1):
        tokens = raw.split("#", 1)[0].split()
        at = hba_method_index(tokens)
        if at is not None and tokens[at] == "trust":
            found.append((number, tokens[0], tokens[1], tokens[2], " ".join(tokens[3:at])))
    return found


def published_from_docker(ports):
    """Docker's NetworkSettings.Ports ({"5432/tcp": [{"HostIp": ..., "HostPort": ...}]}) -> [{bind, port}]."""
    out = []
    for container_port, binds in sorted((ports or {}).items()):
        for b in binds or []:
            out.append({"bind": b.get("HostIp") or "0.0.0.0", "port": int(b.get("HostPort") or 0),
                        "container_port": container_port})
    return out


def is_public(bind):
    host = str(bind).strip("[]")
    if host in ("", "localhost"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


# What a container's kernel says listens in its network namespace: the lines of /proc/net/{tcp,tcp6,udp,udp6} as
# "<file> <local address> <state>", read by LISTENERS_SCRIPT with shell builtins only (the legacy images have no cat,
# ss or netstat). A TCP socket in state 0A (LISTEN) or an unconnected UDP socket (07) is a listener.
LISTEN_STATES = {"tcp": "0A", "udp": "07"}
LISTENERS_SCRIPT = ('for f in /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6; do [ -r "$f" ] && '
                    'while read -r n a r s rest; do echo "$f $a $s"; done < "$f"; done; true')
# Each client tool inside a container, asked for its version with the container's own shell: "<tool>=<answer>".
TOOLS_SCRIPT = 'for t in "$@"; do echo "$t=$($t --version 2>&1)"; done'


def container_observations(engine, container, tools):
    """What the engine says of the server's container, in one place (docker inspect, then two reads inside it when
    it runs): {exists, running, published_ports (Docker's NetworkSettings.Ports), client_versions
    ({"<tool>@container:<name>": answer}), listeners (LISTENERS_SCRIPT's output, or None)}."""
    found = engine.inspect(container)
    out = {"exists": found is not None, "running": False, "published_ports": None, "client_versions": {},
           "listeners": None}
    if found is None:
        return out
    out["running"] = bool((found.get("State") or {}).get("Running"))
    out["published_ports"] = (found.get("NetworkSettings") or {}).get("Ports") or {}
    if not out["running"]:
        return out
    rc, stdout, dummy = engine.exec(container, ["sh", "-c", TOOLS_SCRIPT, "sh"] + list(tools))
    for line in stdout.splitlines() if rc == 0 else []:
        tool, sep, answer = line.partition("=")
        if sep and tool in tools:
            out["client_versions"]["%s@container:%s" % (tool, container)] = answer
    rc, stdout, dummy = engine.exec(container, ["sh", "-c", LISTENERS_SCRIPT])
    if rc == 0:
        out["listeners"] = stdout
    return out


def _address(hexaddr):
    """The kernel's hex form of an IPv4 or IPv6 address (32-bit words in host order, little-endian here)."""
    raw = bytes.fromhex(hexaddr)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))


def parse_listeners(output):
    """[{proto, bind, port}] of the listeners in LISTENERS_SCRIPT's output (lines it cannot read are left out)."""
    found = []
    for line in (output or "").splitlines():
        parts = line.split()
        if len(parts) != 3 or ":" not in parts[1]:
            continue
        path, local, state = parts
        proto = path.rsplit("/", 1)[-1]
        if LISTEN_STATES.get(proto.rstrip("6")) != state.upper():
            continue
        addr, dummy, port = local.rpartition(":")
        try:
            item = {"proto": proto.rstrip("6"), "bind": _address(addr), "port": int(port, 16)}
        except ValueError:
            continue
        if item not in found:
            found.append(item)
    return found


class Collector(object):
    """Runs the watch-always checks in ``session`` and keeps the findings in order."""

    def __init__(self, session, lang):
        self.session = session
        self.lang = lang
        self.findings = []

    def add(self, code, severity, subject="", params=None, sql=None, actual=None):
        params = params or {}
        finding = {"id": "finding.%s%s" % (code, "." + subject if subject else ""), "code": code,
                   "severity": severity, "title": text(self.lang, "finding.%s.title" % code, **params),
                   "explanation": text(self.lang, "finding.%s.explain" % code, **params), "actual": actual,
                   "params": params}
        if sql:
            finding["sql"] = sql
        self.findings.append(finding)
        return finding

    def query(self, sql):
        return self.session.query(sql)[1]

    def clients(self, server, versions):
        for name in sorted(versions):
            tool, dummy, where = name.partition("@")
            where = where or "controller"
            tool_name = tool.rsplit("/", 1)[-1]
            got = tool_major(versions[name])
            params = {"tool": tool_name, "where": where, "server": major_text(server),
                      "client": major_text(got) if got else "?", "detail": versions[name][:200]}
            subject = re.sub(r"[^A-Za-z0-9_.:-]+", "-", "%s.%s" % (tool_name, where))
            if got is None:
                self.add("client_unknown", "low", subject, params, actual=versions[name][:200])
            elif tool_name in DUMP_TOOLS and got < server:
                self.add("client_old", "high", subject, params, actual=versions[name][:200])
            elif tool_name in DUMP_TOOLS and server < (9, 2) and got >= (15, 0):
                self.add("client_unsupported", "high", subject, params, actual=versions[name][:200])
            elif tool_name == "psql" and got < server:
                self.add("client_psql_old", "low", subject, params, actual=versions[name][:200])

    def exposure(self, published, allowed_binds, ssl_required):
        public = [p for p in published if is_public(p.get("bind"))]
        for p in public:
            params = {"bind": p["bind"], "port": p.get("port"), "allowed": ", ".join(allowed_binds) or "-"}
            subject = "%s:%s" % (p["bind"], p.get("port"))
            if p["bind"] in allowed_binds:
                self.add("exposure_allowed", "medium", subject, params, actual=subject)
            else:
                self.add("exposure_public", "high", subject, params, actual=subject)
        listen = self.query("SHOW listen_addresses;")[0][0]
        if published and listen.strip() in ("*", "0.0.0.0", "::", "0.0.0.0,::"):
            binds = ", ".join("%s:%s" % (p["bind"], p.get("port")) for p in published)
            self.add("listen_all", "low", "", {"value": listen, "binds": binds}, "SHOW listen_addresses;", listen)
        ssl = self.query("SHOW ssl;")[0][0]
        if ssl != "on" and ssl_required:
            self.add("ssl_required", "high", "", {}, "SHOW ssl;", ssl)
        elif ssl != "on" and public:
            self.add("ssl_off_exposed", "high", "", {}, "SHOW ssl;", ssl)
        return bool(public)

    def listeners(self, output):
        """Every listener inside the container besides the server's own port: reachable from the container's network
        (high) or its loopback only (medium). None read (no container to read): nothing said."""
        if output is None:
            return
        port = int(self.query("SHOW port;")[0][0])
        for item in parse_listeners(output):
            if item["port"] == port and item["proto"] == "tcp":
                continue
            subject = re.sub(r"[^A-Za-z0-9_.]+", "-", "%s.%s.%s" % (item["proto"], item["bind"], item["port"]))
            loopback = ipaddress.ip_address(item["bind"]).is_loopback
            seen = "%s %s:%s" % (item["proto"], item["bind"], item["port"])
            self.add("listener_extra_local" if loopback else "listener_extra", "medium" if loopback else "high",
                     subject, dict(item, server_port=port), actual=seen)

    def hba(self, server, exposed, psycopg2_error):
        try:
            if server >= (10, 0):
                rows = self.query(HBA_RULES_SQL)
                lines = ["%s: %s %s %s %s trust" % (r[0], r[1], r[2], r[3], r[4]) for r in rows]
                sql = HBA_RULES_SQL
            else:
                content = self.query(HBA_FILE_SQL)[0][0]
                lines = ["%s: %s %s %s %s trust" % r for r in parse_hba(content)]
                sql = HBA_FILE_SQL
        except psycopg2_error as exc:
            self.add("hba_unreadable", "medium", "", {"detail": str(exc).strip().splitlines()[0]})
            return False
        if lines:
            self.add("trust", "critical" if exposed else "high", "", {"count": len(lines), "lines": "; ".join(lines)},
                     sql, lines)
        return bool(lines)

    def superusers(self, trust, psycopg2_error):
        try:
            roles = [r[0] for r in self.query(SUPERUSER_SQL)]
        except psycopg2_error as exc:
            self.add("hba_unreadable", "medium", "pg_authid", {"detail": str(exc).strip().splitlines()[0]})
            return
        if roles:
            self.add("superuser_nopass", "high" if trust else "medium", "", {"roles": ", ".join(roles)},
                     SUPERUSER_SQL, roles)

    def sizes(self, limit, artifact_sizes):
        rows = self.query(SIZES_SQL)
        total = sum(int(r[1]) for r in rows)
        detail = ", ".join("%s %s" % (r[0], human_size(r[1])) for r in rows)
        params = {"total": human_size(total), "detail": detail, "limit": human_size(limit) if limit else "-"}
        if limit and total > limit:
            self.add("sizes_over", "medium", "", params, SIZES_SQL, total)
        else:
            self.add("sizes", "info", "", params, SIZES_SQL, total)
        if artifact_sizes:
            total = sum(int(v or 0) for v in artifact_sizes.values())
            detail = ", ".join("%s %s" % (k, human_size(v)) for k, v in sorted(artifact_sizes.items()))
            self.add("artifact_size", "info", "", {"total": human_size(total), "detail": detail}, actual=total)
