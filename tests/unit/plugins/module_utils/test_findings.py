"""The watch-always findings: parsing and classification without a server."""

from __future__ import annotations

import pytest

from ansible_collections.ssot.governance.plugins.module_utils import _findings

HBA_94 = """
# TYPE  DATABASE        USER            ADDRESS                 METHOD
local   all             postgres                                peer
local   all             all                                     trust
host    all             all             127.0.0.1/32            md5
host    all             all             10.0.0.0  255.0.0.0     trust   # old mask form
hostssl all             all             ::1/128                 trust
host    replication     all             samenet                 md5
"""


def test_parse_hba_finds_trust_lines_in_every_form():
    found = _findings.parse_hba(HBA_94)
    assert [(f[0], f[1], f[4]) for f in found] == [(4, "local", ""), (6, "host", "10.0.0.0 255.0.0.0"),
                                                   (7, "hostssl", "::1/128")]


@pytest.mark.parametrize("text, major", [
    ("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)", (15, 0)),
    ("pg_dump (PostgreSQL) 9.6.24", (9, 6)),
    ("psql (PostgreSQL) 10.23", (10, 0)),
    ("sh: pg_dump: not found", None),
    ("", None),
])
def test_tool_major(text, major):
    assert _findings.tool_major(text) == major


def test_server_major_tuple():
    assert _findings.server_major_tuple(90424) == (9, 4)
    assert _findings.server_major_tuple(102300) == (10, 0)
    assert _findings.major_text((9, 4)) == "9.4" and _findings.major_text((15, 0)) == "15"


@pytest.mark.parametrize("bind, public", [("127.0.0.1", False), ("127.0.0.2", False), ("::1", False),
                                          ("0.0.0.0", True), ("::", True), ("192.168.1.10", True),
                                          ("[::1]", False)])
def test_is_public(bind, public):
    assert _findings.is_public(bind) is public


def test_published_from_docker():
    ports = {"5432/tcp": [{"HostIp": "0.0.0.0", "HostPort": "5555"}, {"HostIp": "::", "HostPort": "5555"}],
             "8080/tcp": None}
    assert _findings.published_from_docker(ports) == [
        {"bind": "0.0.0.0", "port": 5555, "container_port": "5432/tcp"},
        {"bind": "::", "port": 5555, "container_port": "5432/tcp"}]


@pytest.mark.parametrize("value, size", [("10GiB", 10 << 30), ("500 MB", 500 * 10 ** 6), (1024, 1024), ("7", 7),
                                         ("1.5KiB", 1536)])
def test_size_bytes(value, size):
    assert _findings.size_bytes(value) == size


def test_size_bytes_refuses_nonsense():
    with pytest.raises(ValueError, match="10GiB"):
        _findings.size_bytes("ten gigs")


class FakeSession:
    """Answers the collector's catalog queries from a table (the queries themselves are integration-tested)."""

    def __init__(self, answers):
        self.answers = answers

    def query(self, sql):
        return [], self.answers[sql]


def test_client_versions_are_classified():
    col = _findings.Collector(FakeSession({}), "en")
    col.clients((10, 0), {"pg_dump@container:x": "pg_dump (PostgreSQL) 9.6.24", "pg_dumpall": "pg_dumpall (PostgreSQL) 15.2",
                          "psql": "psql (PostgreSQL) 9.6.1", "pg_restore": "command not found"})
    by_code = {f["code"]: f for f in col.findings}
    assert by_code["client_old"]["severity"] == "high" and "9.6" in by_code["client_old"]["title"]
    assert by_code["client_old"]["id"] == "finding.client_old.pg_dump.container:x"
    assert by_code["client_psql_old"]["severity"] == "low"
    assert by_code["client_unknown"]["severity"] == "low"
    assert "client_unsupported" not in by_code
    col = _findings.Collector(FakeSession({}), "en")
    col.clients((9, 1), {"pg_dump": "pg_dump (PostgreSQL) 15.2"})
    assert [f["code"] for f in col.findings] == ["client_unsupported"]


def test_public_exposure_and_ssl():
    session = FakeSession({"SHOW listen_addresses;": [("*",)], "SHOW ssl;": [("off",)]})
    col = _findings.Collector(session, "pt-BR")
    exposed = col.exposure([{"bind": "0.0.0.0", "port": 5555}], ["127.0.0.1"], False)
    assert exposed is True
    assert {f["code"]: f["severity"] for f in col.findings} == {"exposure_public": "high", "listen_all": "low",
                                                                "ssl_off_exposed": "high"}
    col = _findings.Collector(session, "pt-BR")
    assert col.exposure([{"bind": "127.0.0.1", "port": 5555}], ["127.0.0.1"], True) is False
    assert {f["code"]: f["severity"] for f in col.findings} == {"listen_all": "low", "ssl_required": "high"}


def test_exposure_check_folds_the_ipv6_twin_and_compares():
    from ansible_collections.ssot.governance.plugins.module_utils import _validate
    published = [{"bind": "0.0.0.0", "port": 5555}, {"bind": "::", "port": 5555}]
    assert _validate.exposure_check(published, ["0.0.0.0:5555"])["status"] == "match"
    got = _validate.exposure_check(published, ["127.0.0.1:5555"])
    assert (got["status"], got["expected"], got["actual"]) == ("deviation", "127.0.0.1:5555", "0.0.0.0:5555")
    assert _validate.exposure_check([{"bind": "127.0.0.1", "port": "5555"}], ["127.0.0.1:5555"])["status"] == "match"


def test_dump_lines_of_a_newer_pg_dump_are_adapted_to_an_older_server():
    from ansible_collections.ssot.governance.plugins.module_utils._snapshot import compat_rewrite
    line = b"CREATE DATABASE shop WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = libc LOCALE = 'C';\n"
    assert compat_rewrite(line, 150002) == line
    assert compat_rewrite(line, 140000) == (b"CREATE DATABASE shop WITH TEMPLATE = template0 ENCODING = 'UTF8' "
                                            b"LOCALE = 'C';\n")
    assert compat_rewrite(line, 100023) == (b"CREATE DATABASE shop WITH TEMPLATE = template0 ENCODING = 'UTF8' "
                                            b"LC_COLLATE = 'C' LC_CTYPE = 'C';\n")
    assert compat_rewrite(b"COPY t (a) FROM stdin; LOCALE = 'C'\n", 100023) == b"COPY t (a) FROM stdin; LOCALE = 'C'\n"


# /proc/net as the validate role reads it: the server on 0.0.0.0:5432 and [::]:5432, its statistics socket (UDP,
# connected: state 01), a second server on 0.0.0.0:6666 (tcp), a loopback-only one on 127.0.0.1:9000, a connection
# (state 01), an unbound UDP socket on [::]:53, and lines that are not sockets.
PROC_NET = """\
/proc/net/tcp sl local_address
/proc/net/tcp 00000000:1538 0A
/proc/net/tcp 00000000:1A0A 0A
/proc/net/tcp 0100007F:2328 0A
/proc/net/tcp 0100007F:1538 01
/proc/net/tcp6 00000000000000000000000000000000:1538 0A
/proc/net/udp 0100007F:A1B2 01
/proc/net/udp6 00000000000000000000000000000000:0035 07
/proc/net/udp6 garbage:zz 07
"""


def test_every_listener_in_the_container_besides_the_server_is_a_finding():
    assert _findings.parse_listeners(PROC_NET) == [
        {"proto": "tcp", "bind": "0.0.0.0", "port": 5432}, {"proto": "tcp", "bind": "0.0.0.0", "port": 6666},
        {"proto": "tcp", "bind": "127.0.0.1", "port": 9000}, {"proto": "tcp", "bind": "::", "port": 5432},
        {"proto": "udp", "bind": "::", "port": 53}]
    assert _findings.parse_listeners("/proc/net/tcp6 00000000000000000000000001000000:1538 0A") == [
        {"proto": "tcp", "bind": "::1", "port": 5432}]
    col = _findings.Collector(FakeSession({"SHOW port;": [("5432",)]}), "en")
    col.listeners(PROC_NET)
    assert [(f["id"], f["severity"]) for f in col.findings] == [
        ("finding.listener_extra.tcp.0.0.0.0.6666", "high"),
        ("finding.listener_extra_local.tcp.127.0.0.1.9000", "medium"),
        ("finding.listener_extra.udp.-.53", "high")]
    assert "0.0.0.0:6666" in col.findings[0]["title"] and "5432" in col.findings[0]["explanation"]
    # Nothing read (the server is not in a container): nothing said.
    col = _findings.Collector(FakeSession({}), "en")
    col.listeners(None)
    assert col.findings == []


class _ContainerEngine:
    """What the engine answers for one container (docker inspect, then the shell inside it)."""

    def __init__(self, found, tools_out="", tools_rc=0, listeners_rc=0):
        self.found, self.tools_out, self.tools_rc, self.listeners_rc = found, tools_out, tools_rc, listeners_rc
        self.calls = []

    def inspect(self, name):
        self.calls.append(("inspect", name))
        return self.found

    def exec(self, container, argv):
        self.calls.append(("exec", container, argv[2]))
        if argv[2] == _findings.TOOLS_SCRIPT:
            assert argv[3] == "sh" and "pg_dump" not in argv[2]  # the tools as arguments, never pasted in the script
            return self.tools_rc, self.tools_out, ""
        return self.listeners_rc, "/proc/net/tcp 00000000:1538 0A\n", ""


def test_the_container_is_observed_in_one_place():
    ports = {"5432/tcp": [{"HostIp": "127.0.0.1", "HostPort": "55432"}]}
    engine = _ContainerEngine({"State": {"Running": True}, "NetworkSettings": {"Ports": ports}},
                              "pg_dump=pg_dump (PostgreSQL) 10.23\npsql=psql (PostgreSQL) 10.23\nevil=1\n")
    seen = _findings.container_observations(engine, "db", ["pg_dump", "psql"])
    assert seen["exists"] and seen["running"] and seen["published_ports"] == ports
    assert seen["client_versions"] == {"pg_dump@container:db": "pg_dump (PostgreSQL) 10.23",
                                       "psql@container:db": "psql (PostgreSQL) 10.23"}  # only the tools asked for
    assert seen["listeners"].startswith("/proc/net/tcp")


def test_a_stopped_or_missing_container_is_only_inspected():
    stopped = _ContainerEngine({"State": {"Running": False}, "NetworkSettings": {"Ports": None}})
    seen = _findings.container_observations(stopped, "db", ["psql"])
    assert seen["exists"] and not seen["running"] and seen["published_ports"] == {} and seen["listeners"] is None
    assert [c[0] for c in stopped.calls] == ["inspect"]
    missing = _ContainerEngine(None)
    seen = _findings.container_observations(missing, "db", ["psql"])
    assert not seen["exists"] and seen["published_ports"] is None and seen["client_versions"] == {}


def test_a_container_whose_shell_fails_gives_no_versions_and_no_listeners():
    engine = _ContainerEngine({"State": {"Running": True}, "NetworkSettings": {"Ports": {}}}, "psql=x", tools_rc=1,
                              listeners_rc=126)
    seen = _findings.container_observations(engine, "db", ["psql"])
    assert seen["client_versions"] == {} and seen["listeners"] is None
