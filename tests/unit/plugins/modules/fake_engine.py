"""The fake container engine of the module unit tests: the collection's engine adapter with the calls that
touch processes (run, stream, feed, pipe, relay) answered here, from fake PostgreSQL servers held in memory.

The real adapter's exec / inspect / running / checked stay, so every docker command line a module builds is the one
a real engine would get; the fake answers the commands the collection uses and records each one, and anything it
does not know is a failed command (rc 125), so a module that starts calling something new fails here until the fake
learns it."""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile

from ansible_collections.ssot.governance.plugins.module_utils import _engine, _ingest, _pgdata, _snapshot

DUMP_TABLE = "-- fake-table "


def dbname_of(value):
    """The database a ``-d`` value names: a ``dbname='...'`` keyword (_engine.dbname) or a bare name."""
    m = re.match(r"^dbname='((?:[^'\\]|\\.)*)'$", value)
    return re.sub(r"\\(.)", r"\1", m.group(1)) if m else value


def _dir(name):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    return info


def without_env(args):
    """A ``docker exec`` command line without its ``-e`` flags (variables for the command: the fake has no use for
    them), wherever they stand before the container."""
    out = list(args[:1])
    rest = list(args[1:])
    while rest and rest[0] in ("-e", "-i"):
        if rest[0] == "-e":
            rest = rest[2:]
        else:
            out.append(rest.pop(0))
    return out + rest


class FakeServer:
    """What a fake PostgreSQL holds: databases of tables {schema.table: rows}, roles, its version."""

    def __init__(self, major=10, minor=23, databases=None, roles=("postgres",)):
        self.num = major * 10000 + minor if major >= 10 else major * 10000 + minor * 100
        self.version = "%d.%d" % (major, minor)
        self.databases = {"postgres": {}}
        self.databases.update(databases or {})
        self.roles = list(roles)
        self.code = {}  # what the code inventory finds beyond nothing: {kind: [texts]}
        self.superusers = {"postgres"}
        self.closed = set()        # databases that do not allow connections (pg_dumpall leaves them out)
        self.template0_open = False  # template0 made to allow connections (pg_dumpall never dumps it)
        self.extra_counts = ""     # what row-counts.sql prints beyond the database's name (a dump it disagrees with)

    def checksum(self, db, table):
        return str(int(hashlib.sha256(("%s.%s.%d" % (db, table, self.databases[db][table])).encode()).hexdigest()[:8],
                       16))

    def query(self, db, sql):
        """(rc, out, err) of psql -At for the statements the collection sends."""
        if db not in self.databases:
            return 2, "", 'psql: error: FATAL:  database "%s" does not exist' % db
        rows = []
        if sql in (_pgdata.DATABASES_SQL, _pgdata.DATABASES_ALL_SQL):
            return 0, json.dumps(sorted(self.databases)) + "\n", ""
        elif sql == _ingest.DATABASES_INFO_SQL:
            return 0, json.dumps([{"name": d, "bytes": 1000 * (1 + len(t)), "encoding": "UTF8", "collate": "C",
                                   "ctype": "C", "owner": "postgres"} for d, t in sorted(self.databases.items())]), ""
        elif sql == _ingest.CODE_SQL:
            # A database with no code of its own (a real one: test_ingest's hostile sources).
            return 0, json.dumps(dict(dict([(k, []) for k in _ingest.CODE_KINDS], functions=0), **self.code)), ""
        elif sql == _ingest.READ_BACK_SQL:
            return 0, json.dumps({"owner": "postgres", "functions": 0,
                                  "tables": dict((t, "postgres") for t in self.databases[db])}), ""
        elif sql.startswith("SELECT current_setting('server_version_num')"):
            rows = [[str(self.num), self.version]]
        elif sql == _snapshot.DUMPED_SQL:
            return 0, json.dumps([["template0", self.template0_open]] +
                                 [[d, d not in self.closed] for d in sorted(self.databases)]), ""
        elif sql == "SHOW server_version_num":
            rows = [[str(self.num)]]
        elif sql == _pgdata.ROWCOUNT_SQL:
            return 0, json.dumps([[t, str(n)] for t, n in sorted(self.databases[db].items())]), ""
        elif sql == _pgdata.CHECKSUM_SQL:
            return 0, json.dumps([[t, str(n), self.checksum(db, t)] for t, n in sorted(self.databases[db].items())]), ""
        elif sql == "SELECT rolname FROM pg_roles":
            rows = [[r] for r in self.roles]
        elif sql.startswith("SELECT json_build_object('roles'"):
            # The catalog as data (_ingest.catalog_sql): plain roles, no memberships, no settings.
            return 0, json.dumps({"roles": [{"name": r, "login": False, "inherit": True} for r in self.roles],
                                  "members": [], "settings": []}) + "\n", ""
        elif sql == _ingest.SUPERUSERS_SQL:
            return 0, json.dumps([r for r in self.roles if r in self.superusers]), ""
        elif sql == _ingest.PUBLIC_SQL:
            return 0, json.dumps([2200, "postgres"]), ""
        elif sql == _ingest.SCHEMA_NAME_SQL % 2200:
            return 0, json.dumps("public"), ""
        elif sql.startswith("SELECT to_json(count(*)) FROM pg_roles WHERE rolname = "):
            return 0, json.dumps(int(sql.rsplit("'", 2)[1] in self.roles)), ""
        elif sql.startswith(_ingest.DB_OWNER_SQL.split("%s", maxsplit=1)[0]):
            return 0, json.dumps("shop_owner"), ""
        elif sql == _ingest.STALE_LOADERS_SQL:
            return 0, json.dumps([]), ""
        elif sql == _ingest.LOGINS_SQL:
            return 0, json.dumps([]), ""
        elif sql == "SELECT 1":
            rows = [["1"]]
        elif sql.startswith("CREATE DATABASE "):
            name = re.match(r'CREATE DATABASE "((?:[^"]|"")+)"', sql).group(1).replace('""', '"')
            if name in self.databases:
                return 1, "", 'ERROR:  database "%s" already exists' % name
            self.databases[name] = {}
        elif sql.startswith("DROP DATABASE IF EXISTS "):
            self.databases.pop(re.match(r'DROP DATABASE IF EXISTS "((?:[^"]|"")+)"', sql).group(1), None)
        elif sql.startswith("DROP ROLE "):
            self.roles.remove(sql.split('"')[1])
        elif sql.startswith("SELECT pg_terminate_backend"):
            rows = []
        else:
            return 1, "", "ERROR:  the fake server does not know: %s" % sql[:80]
        return 0, "".join("\t".join(r) + "\n" for r in rows), ""

    def dumpall(self):
        lines = ["-- PostgreSQL database cluster dump", ""]
        lines += ['CREATE ROLE "%s";' % r for r in self.roles]
        for db, tables in sorted(self.databases.items()):
            if db in self.closed:
                continue
            lines += ['-- Database "%s" dump' % db, "CREATE DATABASE %s WITH TEMPLATE = template0;" % db]
            lines += ["%s%s %s %d" % (DUMP_TABLE, db, t, n) for t, n in sorted(tables.items())]
        lines += ["-- PostgreSQL database cluster dump complete", ""]
        return "\n".join(lines).encode()

    def load(self, data, database=None):
        """What psql / pg_restore would do with a fake dump: the tables it names (into ``database``)."""
        for line in data.decode().splitlines():
            if line.startswith("CREATE DATABASE "):
                self.databases.setdefault(line.split()[2].rstrip(";"), {})
            elif line.startswith(DUMP_TABLE):
                db, table, rows = line[len(DUMP_TABLE):].split()
                self.databases.setdefault(database or db, {})[table] = int(rows)
            elif line.startswith("CREATE ROLE "):
                role = line.split('"')[1]
                if role not in self.roles:
                    self.roles.append(role)
            elif line.startswith("DROP ROLE "):
                role = line.split('"')[1]
                if role in self.roles:
                    self.roles.remove(role)


class FakeEngine(_engine.Engine):
    """Containers by name: {"server": FakeServer, "running": bool, "image": str, "labels": {}, "tools": major}."""

    def __init__(self, **containers):
        super().__init__(module=None)
        self.containers = {}
        for name, spec in containers.items():
            self.add(name, **spec)
        self.calls = []
        self.feeds = []  # (docker arguments without -e, what was fed) of every feed
        self.scripts = []  # (text, folder, variables) of every recipe run
        self.secrets = {}         # the values handed to docker through its environment (never on a command line)
        self.images = {}
        self.answers = True       # the daemon answers (docker version)
        self.binary = "/usr/bin/docker"

    def add(self, name, server=None, running=True, image="legacy-pg:10", labels=None, tools=None):
        server = server or FakeServer()
        self.containers[name] = {"server": server, "running": running, "image": image, "labels": labels or {},
                                 "tools": tools or server.version}
        return server

    def server(self, name):
        return self.containers[name]["server"]

    # --- the four calls that would touch processes -----------------------------------
    def run(self, args, data=None, text=True, secrets=None):
        self.calls.append(list(args))
        self.secrets.update(secrets or {})
        rc, out, err = self._answer(list(args), data.encode() if isinstance(data, str) else data)
        if not text:
            out, err = out.encode(), err.encode()
        return rc, out, err

    def stream(self, args, write):
        self.calls.append(list(args))
        args = without_env(args)
        if args[0] == "exec" and args[2] == "pg_dumpall":
            write(self.server(args[1]).dumpall())
            return 0, ""
        if args[0] == "save":
            write(b"fake image tar of " + args[1].encode())
            return 0, ""
        return 125, "fake engine: unknown stream %s" % args

    def feed(self, args, produce, keep=None, secrets=None):
        self.calls.append(list(args))
        self.secrets.update(secrets or {})
        args = without_env(args)
        sink = io.BytesIO()
        produce(sink)
        self.fed = sink.getvalue()
        self.feeds.append((list(args), self.fed))
        if args[:2] == ["exec", "-i"] and args[3] == "psql":
            self.server(args[2]).load(sink.getvalue())
            # A line "-- fake-error <text>" of what psql reads: the error line psql would print for it.
            return 0, ["psql:<stdin>:1: ERROR:  " + line[len(b"-- fake-error "):].decode()
                       for line in sink.getvalue().split(b"\n") if line.startswith(b"-- fake-error ")]
        if args[:2] == ["cp", "-"]:
            return 0, []
        return 125, ["fake engine: unknown feed %s" % args]

    def script(self, text, cwd, env=None, timeout=None):
        """A snapshot's recipe run in ``cwd``: recorded (``self.scripts``), then what its lines do - a fresh container
        ``RESTORED`` labelled for ``SSOT_WORKSPACE`` from the image its docker run names, the folder's dump loaded into
        it. ``self.script_answer`` (rc, output) stands for a recipe that fails after its container started."""
        import gzip
        import os
        env = dict(env or {})
        self.scripts.append((text, cwd, env))
        run = next(line for line in text.splitlines() if line.startswith("docker run "))
        self.add(env["RESTORED"], FakeServer(), image=run.rsplit(" ", 1)[-1],
                 labels={"io.ssot-governance.restore-test": "true", "io.ssot-governance.workspace": env["SSOT_WORKSPACE"]})
        dump = next(n for n in os.listdir(cwd) if n.startswith("pg_dumpall.sql"))
        with (gzip.open if dump.endswith(".gz") else open)(os.path.join(cwd, dump), "rb") as fh:
            self.server(env["RESTORED"]).load(fh.read())
        return getattr(self, "script_answer", (0, ["OK: every table of row-counts.txt restored with its rows"]))

    def relay(self, producer, consumer, carry):
        """docker cp of a pg_dump -Fd folder out of one container into another, through ``carry``: the folder holds
        what ``self.folder_files`` (name -> bytes) and ``self.folder_links`` (name -> target) add to a toc.dat."""
        self.calls.append([producer, consumer])
        if producer[0] != "cp" or consumer[:2] != ["cp", "-"]:
            return 125, 0, ["fake engine: unknown relay %s" % producer]
        top = producer[1].rsplit("/", 1)[-1]
        tar_in = io.BytesIO()
        with tarfile.open(fileobj=tar_in, mode="w") as tar:
            tar.addfile(_dir(top))
            toc = tarfile.TarInfo(top + "/toc.dat")
            toc.size = 3
            tar.addfile(toc, io.BytesIO(b"toc"))
            for name, content in sorted(getattr(self, "folder_files", {}).items()):
                extra = tarfile.TarInfo(top + "/" + name)
                extra.size = len(content)
                tar.addfile(extra, io.BytesIO(content))
            for name, target in sorted(getattr(self, "folder_links", {}).items()):
                link = tarfile.TarInfo(top + "/" + name)
                link.type, link.linkname = tarfile.SYMTYPE, target
                tar.addfile(link)
        tar_in.seek(0)
        self.relayed = io.BytesIO()
        carry(tar_in, self.relayed)
        return 0, 0, []

    def pipe(self, producer, consumer, stdin_path=None, secrets=None):
        self.calls.append([producer, consumer])
        self.secrets.update(secrets or {})
        consumer = without_env(consumer)
        if producer is None:
            with open(stdin_path, "rb") as fh:
                data = fh.read()
        elif producer[0] == "exec" and producer[2] == "pg_dump":
            db = dbname_of(producer[-1])
            src = self.server(producer[1])
            data = "\n".join("%s%s %s %d" % (DUMP_TABLE, db, t, n) for t, n in src.databases[db].items()).encode()
        elif producer[0] == "cp":
            return 0, 0, []
        else:
            return 125, 0, ["fake engine: unknown producer %s" % producer]
        db = dbname_of(consumer[consumer.index("-d") + 1])
        self.server(consumer[2]).load(data, database=db)
        return 0, 0, []

    # --- answers ---------------------------------------------------------------------------------
    def _answer(self, args, data):
        if args[0] in ("container", "image") and args[1] == "inspect":
            name = args[-1]
            if args[0] == "image":
                return (0, json.dumps([{"Id": name, "Config": {"Env": ["PATH=/bin", "SECRET=x"]}}]), "")
            c = self.containers.get(name)
            if c is None:
                return 1, "", "Error: No such container: %s" % name
            if "--format" in args:
                fmt = args[args.index("--format") + 1]
                return 0, {"{{.State.Running}}": json.dumps(c["running"]),
                           "{{json .Config.Labels}}": json.dumps(c["labels"])}[fmt] + "\n", ""
            return 0, json.dumps([{"Id": "id-" + name, "Image": "sha256:" + "1" * 64, "Name": "/" + name,
                                   "Config": {"Image": c["image"], "Env": ["POSTGRES_PASSWORD=hunter2-canary"],
                                              "Labels": c["labels"]}}]), ""
        if args[0] == "exec":
            args = without_env(args)
            interactive = args[1] == "-i"
            name, argv = (args[2], args[3:]) if interactive else (args[1], args[2:])
            c = self.containers.get(name)
            if c is None or not c["running"]:
                return 1, "", "Error response from daemon: container %s is not running" % name
            return self._exec(c, argv, data)
        if args[0] == "version":
            if self.answers:
                return 0, "20.10.24 20.10.24\n", ""
            return 1, "20.10.24\n", "Cannot connect to the Docker daemon"
        if args[0] == "logs":
            return 0, "LOG:  database system is ready to accept connections\n", ""
        if args[0] == "commit":
            return 0, "sha256:" + "2" * 64 + "\n", ""
        if args[0] == "rm":
            self.containers.pop(args[-1], None)
            return 0, args[-1] + "\n", ""
        if args[0] == "run":
            name = args[args.index("--name") + 1]
            labels = dict(v.split("=", 1) for k, v in zip(args, args[1:]) if k == "--label")
            self.add(name, FakeServer(), labels=labels, image=args[-1])
            return 0, "cid\n", ""
        return 125, "", "fake engine: unknown command docker %s" % " ".join(args)

    def _exec(self, c, argv, data):
        server = c["server"]
        if argv[1:] == ["--version"]:
            return 0, "%s (PostgreSQL) %s\n" % (argv[0], c["tools"]), ""
        if argv[0] == "psql":
            db = dbname_of(argv[argv.index("-d") + 1])
            if "-c" in argv:
                return server.query(db, argv[argv.index("-c") + 1])
            if data == _snapshot.ROW_COUNTS_SQL.encode():
                return 0, db + "\n" + server.extra_counts, ""
            server.load(data or b"")
            return 0, "", ""
        if argv[1:] == ["--version"]:
            return 0, "%s (PostgreSQL) %s\n" % (argv[0], c["tools"]), ""
        if argv[0] == "pg_isready":
            return 0, "", ""
        if argv[0] == "pg_dumpall" and "--globals-only" in argv:
            return 0, "\n".join('CREATE ROLE "%s";' % r for r in server.roles) + "\n", ""
        if argv[0] in ("rm", "pg_dump", "pg_restore"):
            return 0, "", ""
        if argv[0] == "sh":
            return 0, "999\n", ""
        return 127, "", "fake engine: %s: not found" % argv[0]
