"""Every module that reaches the container engine, run through main() against the fake engine: what it reads, what
it changes, what it returns and the docker command lines it sends - no Docker needed."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import pytest

from ansible_collections.ssot.governance.tests.unit.plugins.modules.fake_engine import FakeServer

from ansible_collections.ssot.governance.plugins.module_utils import _engine, _ingest, _model, _snapshot
from ansible_collections.ssot.governance.plugins.modules import (
    changes_since, ingest_load, ingest_rollback, ingest_sources, snapshot_capture, snapshot_restore)

ROOT = Path(__file__).resolve().parents[4]
DIGEST = "sha256:" + "a" * 64
SHOP = {"shop": {"public.orders": 42, "public.items": 7}}


def sources_args(tmp_path, **extra):
    args = {"sources": [{"id": "old", "kind": "container", "container": "pg-src", "databases": ["shop"]}],
            "target": "pg-new", "workspace": str(tmp_path), "ssot_digest": DIGEST, "language": "en",
            "owner": "shop_owner"}
    args.update(extra)
    return args


def test_ingest_sources_plans_a_load_and_opens_a_decision(engine, run_module, tmp_path):
    engine.add("pg-src", FakeServer(databases=dict(SHOP)))
    engine.add("pg-new", FakeServer(major=15, minor=4))
    failed, out = run_module(ingest_sources, sources_args(tmp_path))
    assert not failed, out["msg"] if failed else out
    assert [s["status"] for s in out["sources"]] == ["found"]
    assert out["sources"][0]["server"]["major"] == "10"
    (item,) = out["plan"]
    assert item["action"] == "load" and item["database"] == "shop" and item["decision"]["status"] == "pending"
    assert item["decision"]["phase"] == _model.phase("ingest").number
    # The target reports what it found (nothing missing); whether the phase is blocked on the decision is the
    # controller's to say, once it has settled it.
    assert out["milestone"] == {"phase": 5, "status": "clear", "next_steps": []}
    assert ["exec", "pg-src", "pg_dump", "--version"] in engine.calls
    assert ["container", "inspect", "--format", "{{.State.Running}}", "pg-new"] in engine.calls


def test_what_a_load_restores_never_goes_to_a_superuser_the_ssot_did_not_name(engine, run_module, tmp_path):
    """The source's database belongs to postgres (a superuser in the target): without ingest.owner nothing is
    planned for it and the check says what to set; a named owner is on the card and bound by the decision; a
    named owner that became a member of a superuser after the approval loads nothing."""
    engine.add("pg-src", FakeServer(databases=dict(SHOP)))
    target = engine.add("pg-new", FakeServer(major=15, minor=4))
    failed, out = run_module(ingest_sources, sources_args(tmp_path, owner=None))
    (item,) = out["plan"]
    assert not failed and item["action"] == "refused" and "decision" not in item and out["decisions"] == [], out
    (check,) = [c for c in out["checks"] if c["id"] == "ingest.owner.old.shop"]
    assert check["status"] == "deviation" and "postgres" in check["actual"] and "ingest.owner" in check["actual"]
    # Named: on the card (created NOLOGIN when missing), in the facts the decision id covers.
    failed, named = run_module(ingest_sources, sources_args(tmp_path))
    (item,) = named["plan"]
    facts = item["decision"]["facts"]
    assert (facts["owner"], facts["owner_how"]) == ("shop_owner", "create") and "shop_owner" in item["decision"][
        "context"] and "NOLOGIN" in item["decision"]["context"], item["decision"]
    failed, other = run_module(ingest_sources, sources_args(tmp_path, owner="app_owner"))
    assert other["plan"][0]["decision"]["id"] != item["decision"]["id"]
    # Between the approval and the load, the owner became a member of a superuser: nothing runs.
    target.roles.append("shop_owner")
    target.superusers.add("shop_owner")
    approved = [dict(item, **dict((k, facts.get(k)) for k in ("globals_sha256", "code_sha256", "restorable_sha256")))]
    failed, out = run_module(ingest_load, {"plan": approved, "sources": named["sources"],
                                           "proceed": [item["decision"]["id"]], "target": "pg-new",
                                           "owner": "shop_owner", "language": "en"})
    assert failed and "approved owner" in out["msg"] and "shop" not in target.databases, out["msg"]
    assert not any(isinstance(c[0], list) for c in engine.calls)


def test_ingest_sources_says_which_source_is_missing_and_why(engine, run_module, tmp_path):
    engine.add("pg-new", FakeServer())
    engine.add("pg-src", FakeServer(databases=dict(SHOP)), running=False)
    failed, out = run_module(ingest_sources, sources_args(tmp_path))
    assert failed and out["milestone"]["status"] == "blocked"
    assert "exists but is not running" in out["sources"][0]["reason"]
    # In the operator's language, with the catalog's words (regression: the reasons were English in PT-BR runs).
    dummy, out = run_module(ingest_sources, sources_args(tmp_path, language="pt-BR"))
    assert out["sources"][0]["reason"] == "o contêiner pg-src existe mas não está rodando"
    assert out["checks"][0]["actual"] == "ausente: o contêiner pg-src existe mas não está rodando"
    engine.containers.pop("pg-new")
    failed, out = run_module(ingest_sources, sources_args(tmp_path))
    assert failed and "pg-new" in out["msg"]


def test_ingest_sources_with_an_older_pg_dump_than_the_server_refuses_the_source(engine, run_module, tmp_path):
    engine.add("pg-src", FakeServer(major=12, minor=1, databases=dict(SHOP)), tools="9.6.24")
    engine.add("pg-new", FakeServer(major=15, minor=4))
    failed, out = run_module(ingest_sources, sources_args(tmp_path))
    assert failed and "older than the source server" in out["sources"][0]["reason"]


def test_ingest_sources_names_tools_of_another_major_than_their_server(engine, run_module, tmp_path):
    """pg_dump newer than its source server, pg_restore of 15 talking to a 10 target: each a finding with its risk."""
    engine.add("pg-src", FakeServer(major=10, minor=23, databases=dict(SHOP)), tools="12.1")
    engine.add("pg-new", FakeServer(major=10, minor=23), tools="15.4")
    failed, out = run_module(ingest_sources, sources_args(tmp_path))
    found = [c for c in out["checks"] if c["id"].startswith("ingest.tools.")]
    assert [c["status"] for c in found] == ["deviation", "deviation"], out["checks"]
    assert found[0]["actual"].startswith("pg_dump 12.1 (in pg-src) is of another major than the server 10.23")
    assert found[1]["actual"].startswith("pg_restore 15.4 (in pg-new) is of another major than the server 10.23")
    engine.containers["pg-new"]["tools"] = "10.23"
    engine.containers["pg-src"]["tools"] = "10.23"
    failed, out = run_module(ingest_sources, sources_args(tmp_path))
    assert not [c for c in out["checks"] if c["id"].startswith("ingest.tools.")], out["checks"]


def test_ingest_load_streams_the_approved_database_and_compares_every_table(engine, run_module, tmp_path):
    source = FakeServer(databases=dict(SHOP), roles=("postgres", "app"))
    engine.add("pg-src", source)
    target = engine.add("pg-new", FakeServer())
    dummy, planned = run_module(ingest_sources, sources_args(tmp_path))
    decision = planned["plan"][0]["decision"]
    # The card shows the role statements the load runs, and binds them.
    assert decision["facts"]["roles"] == ['CREATE ROLE "app" WITH NOLOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE '
                                          'NOREPLICATION NOBYPASSRLS;']
    assert len(decision["facts"]["globals_sha256"]) == 64
    assert decision["facts"]["code"] == [] and len(decision["facts"]["code_sha256"]) == 64
    approved = [dict(i, globals_sha256=i["decision"]["facts"]["globals_sha256"],
                     code_sha256=i["decision"]["facts"]["code_sha256"],
                     restorable_sha256=i["decision"]["facts"]["restorable_sha256"]) for i in planned["plan"]]
    # Code the source holds now that the card did not list (a trigger): nothing runs.
    source.code = {"triggers": ["public.orders: audit -> public.audit()"]}
    failed, out = run_module(ingest_load, {"plan": approved, "sources": planned["sources"],
                                           "proceed": [decision["id"]], "target": "pg-new", "owner": "shop_owner",
                                           "language": "en"})
    assert failed and "changed after the approval" in out["msg"] and "shop" not in target.databases, out["msg"]
    assert "app" not in target.roles
    source.code = {}
    # Roles the source holds now that the card did not show: nothing runs, not even the load.
    source.roles.append("intruder")
    failed, out = run_module(ingest_load, {"plan": approved, "sources": planned["sources"],
                                           "proceed": [decision["id"]], "target": "pg-new", "owner": "shop_owner",
                                           "language": "en"})
    assert failed and "not the ones approved" in out["msg"] and "shop" not in target.databases
    assert "intruder" not in target.roles and "app" not in target.roles
    source.roles.remove("intruder")
    # A plan without the approved sha256 (the controller always gives it): refused the same way.
    failed, out = run_module(ingest_load, {"plan": [dict(i, globals_sha256=None) for i in approved],
                                           "sources": planned["sources"],
                                           "proceed": [decision["id"]], "target": "pg-new", "owner": "shop_owner",
                                           "language": "en"})
    assert failed and "not the ones approved" in out["msg"]
    failed, out = run_module(ingest_load, {"plan": approved, "sources": planned["sources"],
                                           "proceed": [decision["id"]], "target": "pg-new", "owner": "shop_owner",
                                           "language": "en"})
    assert not failed, out["msg"] if failed else out
    assert target.databases["shop"] == SHOP["shop"] and "app" in target.roles
    assert out["roles"]["created"] == ["app", "shop_owner"] and out["mismatches"] == []
    assert [c["status"] for c in out["loaded"][0]["comparisons"]] == ["match", "match"]
    pipe = [c for c in engine.calls if isinstance(c[0], list)]
    # Names reach the tools as dbname= values, never as connection strings.
    (loader,) = [d["restored_by"] for d in out["loaded"]]
    assert pipe == [[["exec", "pg-src", "pg_dump", "-U", "postgres", "-Fc", "-Z", "1", "-d", "dbname='shop'"],
                     ["exec", "-i", "-e", "PGPASSWORD", "pg-new", "pg_restore", "--no-owner", "-h", "127.0.0.1",
                      "-U", loader, "-d", "dbname='shop'"]]]
    # Restored by a role made for it (no attribute), dropped after; its password never on a command line.
    assert loader.startswith("ssot_loader_") and loader not in target.roles and out["loaded"][0]["owner"] == "shop_owner"
    secret = engine.secrets["PGPASSWORD"]
    assert len(secret) >= 32 and secret not in json.dumps(engine.calls) and secret not in json.dumps(out)
    # Not approved: nothing moves.
    engine.calls.clear()
    failed, out = run_module(ingest_load, {"plan": planned["plan"], "sources": planned["sources"], "proceed": [],
                                           "target": "pg-new", "owner": "shop_owner",
                                           "language": "en"})
    assert not failed and out["loaded"] == [] and not any(isinstance(c[0], list) for c in engine.calls)


def test_ingest_load_of_a_dump_file_reads_the_approved_file_and_never_plain_sql(engine, run_module, tmp_path):
    """A custom-format file loads as the card bound it (its sha256); the same path with other bytes after the
    approval loads nothing; a plain SQL file (a psql script: its backslash commands run a shell in the target's
    container) is never loaded."""
    target = engine.add("pg-new", FakeServer())
    (tmp_path / "shop.sql").write_text("-- fake-table shop public.orders 5\n\\! sh -c 'id'\n")
    args = sources_args(tmp_path, sources=[{"id": "file", "kind": "dump", "path": "shop.sql",
                                            "databases": ["shop"]}])
    failed, planned = run_module(ingest_sources, args)
    assert failed and planned["sources"][0]["status"] == "missing" and "plain SQL" in planned["sources"][0]["reason"]
    assert not any(isinstance(c[0], list) for c in engine.calls)
    dump = tmp_path / "shop.dump"
    dump.write_text("PGDMP\n-- fake-table shop public.orders 5\n")
    args = sources_args(tmp_path, sources=[{"id": "file", "kind": "dump", "path": "shop.dump",
                                            "databases": ["shop"]}])
    dummy, planned = run_module(ingest_sources, args)
    (item,) = planned["plan"]
    assert len(item["decision"]["facts"]["dump_sha256"]) == 64
    approved = [dict(item, dump_sha256=item["decision"]["facts"]["dump_sha256"])]
    load = {"plan": approved, "sources": planned["sources"], "proceed": [item["decision"]["id"]],
            "target": "pg-new", "owner": "shop_owner", "language": "en"}
    dump.write_text("PGDMP\n-- fake-table shop public.orders 5\n-- fake-table shop public.more 1\n")
    failed, out = run_module(ingest_load, load)
    assert failed and "not the approved card's" in out["msg"] and "public.more" not in target.databases.get("shop", {})
    dump.write_text("PGDMP\n-- fake-table shop public.orders 5\n")
    failed, out = run_module(ingest_load, load)
    assert not failed, out["msg"]
    assert target.databases["shop"] == {"public.orders": 5}


def test_ingest_rollback_drops_what_it_created_and_restores_what_it_replaced(engine, run_module, tmp_path):
    target = engine.add("pg-new", FakeServer(databases={"shop": {"public.orders": 1}, "crm": {"public.c": 9}},
                                             roles=("postgres", "app")), tools="15.18")
    folder = tmp_path / "snap"
    folder.mkdir()
    (folder / "pg_dumpall.sql").write_text('-- Database "crm" dump\nCREATE DATABASE crm WITH TEMPLATE = template0;\n'
                                           "-- fake-table crm public.c 3\n")
    rollback = {"target": "pg-new", "snapshot": str(folder), "roles_before": ["postgres"],
                "snapshot_files": [{"name": "pg_dumpall.sql", "kind": "dump"}],
                "databases": [{"name": "shop", "action": "load"},
                              {"name": "crm", "action": "reload", "rows_before": {"public.c": 3}}]}
    target.roles = ["postgres", "app", "dba_added_since"]
    # The roles to drop are the controller's decision (drop_roles); a role it did not name stays.
    failed, out = run_module(ingest_rollback, {"rollback": rollback, "drop_roles": ["app", "gone"], "target": "pg-new",
                                               "language": "en"})
    assert not failed, out["msg"] if failed else out
    assert "shop" not in target.databases and target.databases["crm"] == {"public.c": 3}
    assert out["dropped"] == ["shop"] and out["roles_dropped"] == ["app"]
    assert target.roles == ["postgres", "dba_added_since"]
    failed, out = run_module(ingest_rollback, {"rollback": dict(rollback, target="other"), "target": "pg-new",
                                               "language": "en"})
    assert failed and "other" in out["msg"]
    # Replayed as the load replays a dump (review 13: a CHECK constraint calling lo_import ran as the superuser that
    # replayed the copy): the head - CREATE DATABASE - as postgres, the rest as a role made for it, without the
    # statements giving objects to their owners (what the role made goes to the database's owner).
    target.databases["crm"] = {"public.c": 9}
    target.databases["shop"] = {"public.orders": 1}
    (folder / "pg_dumpall.sql").write_text('-- Database "crm" dump\nCREATE DATABASE crm WITH TEMPLATE = template0;\nALTER DATABASE crm OWNER '
                                           'TO shop_owner;\n\\connect crm\nCREATE TABLE public.c (id int CHECK '
                                           '(lo_import(\'/proc/1/environ\') > 0));\nALTER TABLE public.c OWNER TO '
                                           '"sh""op";\nCOPY public.c (id) FROM stdin;\nALTER TABLE x OWNER TO y;\n'
                                           '\\.\n-- fake-table crm public.c 3\n')
    engine.calls.clear()
    failed, out = run_module(ingest_rollback, {"rollback": rollback, "drop_roles": [], "target": "pg-new",
                                               "language": "en"})
    assert not failed, out["msg"]
    head, body = [c for c in engine.calls if c[:2] == ["exec", "-i"] and "psql" in c]
    assert head[:4] == ["exec", "-i", "pg-new", "psql"] and head[head.index("-U") + 1] == "postgres"
    (restored,) = out["restored"]
    loader = restored["restored_by"]
    assert body[:5] == ["exec", "-i", "-e", "PGPASSWORD", "pg-new"] and body[body.index("-U") + 1] == loader
    assert restored["owner_statements_left_out"] == 1 and loader not in target.roles
    # What the role ran: the section after its \connect, the owner's statement left out, COPY data kept as it is.
    assert b"OWNER TO \"sh\"\"op\"" not in engine.fed and b"ALTER TABLE x OWNER TO y;" in engine.fed
    assert b"\\connect" not in engine.fed and b"CREATE DATABASE" not in engine.fed
    assert target.databases["crm"] == {"public.c": 3}
    # The database's own comment, settings and privileges: the loader may not run them (review 17: PUBLIC had CONNECT
    # back, the grants and settings gone, rc 0) - each checked whole, then run by the superuser, all or none.
    target.databases["crm"] = {"public.c": 9}
    target.databases["shop"] = {"public.orders": 1}
    properties = (b"COMMENT ON DATABASE crm IS 'operator''s\nnote';\nALTER DATABASE crm SET statement_timeout TO '5s';\n"
                  b"ALTER ROLE app IN DATABASE crm SET search_path TO '$user', 'public';\n"
                  b"REVOKE CONNECT,TEMPORARY ON DATABASE crm FROM PUBLIC;\nGRANT CONNECT ON DATABASE crm TO \"a b\";\n")
    with_properties = (folder / "pg_dumpall.sql").read_bytes().replace(b"\\connect crm\n", b"\\connect crm\n" + properties)
    (folder / "pg_dumpall.sql").write_bytes(with_properties)
    engine.calls.clear()
    engine.feeds = []
    failed, out = run_module(ingest_rollback, {"rollback": rollback, "drop_roles": [], "target": "pg-new",
                                               "language": "en"})
    assert not failed, out["msg"]
    (head, dummy), (body, fed_body), (database, fed_database) = [f for f in engine.feeds if "psql" in f[0]]
    assert database[database.index("-U") + 1] == "postgres" and "-1" in database and "ON_ERROR_STOP=1" in database
    assert fed_database.split(b"\n", 3)[1:3] == [b"SET client_encoding = 'UTF8';", b"SET standard_conforming_strings = on;"]
    assert fed_database.startswith(b"\\restrict ") and fed_database.endswith(properties)
    assert b"ON DATABASE" not in fed_body and b"statement_timeout TO" not in fed_body and b"operator" not in fed_body
    assert out["restored"][0]["database_statements"] == 5 and out["restored"][0]["database_errors"] == []
    # What the loader could not replay (another role's default privileges) makes the rollback incomplete, named
    # (review 18: rc 0 before).
    (folder / "pg_dumpall.sql").write_bytes(with_properties.replace(
        b"-- fake-table", b"-- fake-error must be member of role \"shop_owner\"\n-- fake-table"))
    target.databases["shop"] = {"public.orders": 1}
    failed, out = run_module(ingest_rollback, {"rollback": rollback, "drop_roles": [], "target": "pg-new",
                                               "language": "en"})
    assert failed and "1 error(s) replaying the copy" in out["msg"] and "shop_owner" in out["msg"], out["msg"]
    assert target.databases["crm"] == {"public.c": 3}
    (folder / "pg_dumpall.sql").write_text('-- Database "crm" dump\nCREATE DATABASE crm WITH TEMPLATE = template0;\nALTER DATABASE crm OWNER '
                                           'TO shop_owner;\n\\connect crm\nCREATE TABLE public.c (id int CHECK '
                                           '(lo_import(\'/proc/1/environ\') > 0));\nALTER TABLE public.c OWNER TO '
                                           '"sh""op";\nCOPY public.c (id) FROM stdin;\nALTER TABLE x OWNER TO y;\n'
                                           '\\.\n-- fake-table crm public.c 3\n')
    target.databases["shop"] = {"public.orders": 1}
    # Each psql restricted first with a key of its own (no backslash command of the text runs): a psql without
    # \restrict replays nothing, drops nothing.
    assert engine.fed.startswith(b"\\restrict ") and len(engine.fed.split(b"\n", 1)[0]) == len("\\restrict ") + 32
    engine.containers["pg-new"]["tools"] = "15.13"
    target.databases["shop"] = {"public.orders": 1}
    failed, out = run_module(ingest_rollback, {"rollback": rollback, "drop_roles": [], "target": "pg-new",
                                               "language": "en"})
    assert failed and "cannot refuse the backslash commands" in out["msg"], out["msg"]
    assert target.databases["shop"] == {"public.orders": 1} and target.databases["crm"] == {"public.c": 3}


def capture(run_module, tmp_path, **extra):
    args = {"container": "pg-old", "dest": str(tmp_path / "snap"), "ssot_digest": DIGEST, "language": "en",
            "secrets": ["hunter2-canary"]}
    args.update(extra)
    return run_module(snapshot_capture, args)


def test_snapshot_capture_streams_hashes_and_masks(engine, run_module, tmp_path):
    engine.add("pg-old", FakeServer(databases=dict(SHOP)))
    failed, out = capture(run_module, tmp_path)
    assert not failed, out["msg"] if failed else out
    names = sorted(f["name"] for f in out["files"])
    assert names == ["container-inspect.json", "container-logs-tail500.log", "image-inspect.json", "pg_dumpall.sql.gz",
                     "row-counts.sql", "row-counts.txt"]
    # Written in UTF8 with standard-conforming literals whatever the databases' owners set (review 18).
    (dumpall,) = [c for c in engine.calls if "pg_dumpall" in c and "--version" not in c]
    assert dumpall[:5] == ["exec", "-e", "PGCLIENTENCODING=UTF8", "-e", "PGOPTIONS=-c standard_conforming_strings=on"]
    snap = tmp_path / "snap"
    for path in snap.iterdir():
        assert b"hunter2-canary" not in path.read_bytes(), path
    assert json.loads((snap / "manifest.json").read_text())["ssot_digest"] == DIGEST
    assert not (tmp_path / "snap.partial").exists()
    failed, out = capture(run_module, tmp_path)                  # never over an existing snapshot
    assert failed and "snap" in out["msg"]


def test_a_capture_whose_dump_does_not_hold_what_the_source_holds_fails_and_leaves_nothing(
        engine, run_module, tmp_path):
    """Review 19: pg_dumpall leaves out a database that does not allow connections (its rows were missing and the
    restore test passed); and the recipe's counts are the source's, by the recipe's own query - a dump read out of
    step with psql (counted otherwise) is no proof."""
    server = engine.add("pg-old", FakeServer(databases=dict(SHOP)))
    server.closed = {"shop"}
    failed, out = capture(run_module, tmp_path)
    assert failed and "ALLOW_CONNECTIONS false): shop" in out["msg"], out["msg"]
    assert not (tmp_path / "snap").exists() and not (tmp_path / "snap.partial").exists()
    server.closed = set()
    server.template0_open = True        # review 20: pg_dumpall never dumps template0, even one allowing connections
    failed, out = capture(run_module, tmp_path)
    assert failed and "(template0)" in out["msg"], out["msg"]
    server.template0_open = False
    server.extra_counts = "shop\tpublic\tvictim\t10\n"
    failed, out = capture(run_module, tmp_path)
    assert failed and "+shop\tpublic\tvictim\t10" in out["msg"], out["msg"]
    assert not (tmp_path / "snap").exists()


def test_snapshot_capture_of_a_missing_container_leaves_nothing(engine, run_module, tmp_path):
    failed, out = capture(run_module, tmp_path, container="nope")
    assert failed and "nope" in out["msg"]
    assert not (tmp_path / "snap").exists() and not (tmp_path / "snap.partial").exists()


def test_snapshot_restore_proves_the_snapshot_in_a_fresh_container_and_removes_it(engine, run_module, tmp_path):
    engine.add("pg-old", FakeServer(databases=dict(SHOP)))
    capture(run_module, tmp_path)
    args = {"path": str(tmp_path / "snap"), "source_container": "pg-old", "name": "restore-test",
            "workspace": str(tmp_path), "language": "en"}
    failed, out = run_module(snapshot_restore, args)
    assert not failed, out["msg"] if failed else out
    assert out["snapshot"] == {"path": str(tmp_path / "snap"), "restore": "passed", "recipe": out["recipe"]}
    assert {c["table"] for c in out["comparisons"] if c["table"]} == {"public.orders", "public.items"}
    assert "restore-test" not in engine.containers                 # the scratch container is gone
    # What ran is the manifest's recipe, as printed, in the snapshot folder, for this container and workspace.
    manifest = json.loads((tmp_path / "snap" / "manifest.json").read_text())
    assert engine.scripts == [("\n".join(manifest["restore"]) + "\n", str(tmp_path / "snap"),
                               {"RESTORED": "restore-test", "SSOT_WORKSPACE": str(tmp_path)})]
    assert "$ gunzip -c pg_dumpall.sql.gz | docker exec -i" in out["evidence"][0]["text"]
    # Someone's container of that name is never replaced.
    engine.add("restore-test", FakeServer(databases={"theirs": {"t": 1}}))
    failed, out = run_module(snapshot_restore, args)
    assert failed and "restore-test" in out["msg"]
    assert engine.server("restore-test").databases["theirs"] == {"t": 1}


def test_snapshot_restore_runs_only_the_recipe_this_collection_writes(engine, run_module, tmp_path):
    """A manifest is a workspace file: the restore test rebuilds the recipe from its facts and runs that, never shell
    text read from it; an edited recipe (or one of a snapshot older than proven recipes) is refused before anything
    runs, and a recipe that fails fails the restore test, its container removed."""
    engine.add("pg-old", FakeServer(databases=dict(SHOP)))
    capture(run_module, tmp_path)
    path = tmp_path / "snap" / "manifest.json"
    original = path.read_text()
    args = {"path": str(tmp_path / "snap"), "source_container": "pg-old", "name": "restore-test",
            "workspace": str(tmp_path), "language": "en"}
    manifest = json.loads(original)
    manifest["restore"][-1] += "; touch /tmp/owned"
    path.write_text(json.dumps(manifest))
    failed, out = run_module(snapshot_restore, args)
    assert failed and "is not the one this collection writes" in out["msg"] and engine.scripts == []
    del manifest["restore_check"]
    manifest["restore"] = ["docker run -d --name restored legacy-pg:10"]
    path.write_text(json.dumps(manifest))
    failed, out = run_module(snapshot_restore, args)
    assert failed and "Take a new snapshot" in out["msg"] and engine.scripts == []
    path.write_text(original)
    # A manifest other than the one the journal recorded (the action reads it there) runs nothing.
    failed, out = run_module(snapshot_restore, dict(args, manifest_sha256="0" * 64))
    assert failed and "not the one recorded" in out["msg"] and engine.scripts == [], out["msg"]
    engine.script_answer = (3, ["psql:<stdin>:40: ERROR:  option \"locale_provider\" not recognized"])
    failed, out = run_module(snapshot_restore, args)
    assert failed and "failed (3)" in out["msg"] and "locale_provider" in out["msg"], out["msg"]
    assert out["snapshot"]["restore"] == "failed" and "restore-test" not in engine.containers


def test_the_recipe_quotes_every_value_it_names(tmp_path):
    manifest = {"files": [{"name": "pg_dumpall.sql", "kind": "dump", "sha256": "1" * 64},
                          {"name": "row-counts.sql", "sha256": "2" * 64}, {"name": "row-counts.txt", "sha256": "3" * 64}],
                "source": {"image_id": "sha256:" + "a" * 64},
                "restore_check": {"user": "postgres", "databases": ["shop", "Loja d'Ana", "$(touch x)", "a;b"]}}
    lines = _snapshot.recipe(manifest)
    loop = lines[-1]
    assert "for db in shop 'Loja d'\\''Ana' '$(touch x)' 'a;b'; do" in loop, loop
    assert lines[-2].endswith("-o /dev/null -d postgres < pg_dumpall.sql")
    # A name libpq would read as a connection string is only a name: the value of dbname=.
    manifest["restore_check"]["databases"] = ["dbname=postgres host=/tmp", "postgresql://x/y"]
    words = [_snapshot.shell_word(_engine.dbname(n)) for n in manifest["restore_check"]["databases"]]
    assert words[0] == "'dbname='\\''dbname=postgres host=/tmp'\\'''"
    assert "for db in %s; do" % " ".join(words) in _snapshot.recipe(manifest)[-1]
    manifest["restore_check"]["databases"].append("two\nlines")
    with pytest.raises(_snapshot.SnapshotError):
        _snapshot.recipe(manifest)
    assert _snapshot.recipe({"files": [], "source": {}}) is None
    # Only what a capture writes: an image by id (not a name or an option docker would read), the dump's own name.
    manifest["restore_check"]["databases"] = ["shop"]
    assert _snapshot.recipe(manifest)
    for image in ("--privileged", "alpine:latest", "sha256:" + "a" * 63):
        assert _snapshot.recipe(dict(manifest, source={"image_id": image})) is None, image
    assert _snapshot.recipe(dict(manifest, files=[{"name": "../x.sql", "kind": "dump"}])) is None
    # The files it reads are checked against the manifest's own hashes, in the recipe (review 20), right before.
    lines = _snapshot.recipe(manifest)
    assert lines[3] == ("printf '%%s  %%s\\n' %s pg_dumpall.sql %s row-counts.sql %s row-counts.txt | sha256sum -c -"
                        % ("1" * 64, "2" * 64, "3" * 64)) and lines[4].startswith("docker exec -i")
    assert _snapshot.recipe(dict(manifest, files=manifest["files"][:2])) is None    # a file it reads, unhashed


def test_changes_since_names_what_changed_after_a_baseline(engine, run_module, tmp_path):
    server = engine.add("pg-new", FakeServer(databases=dict(SHOP)))
    args = {"container": "pg-new", "subject": "ingest", "language": "en"}
    dummy, first = run_module(changes_since, args)
    assert first["changes"] == [] and first["tables"]["shop"]["public.orders"] == {"rows": 42}
    # Its figures; the change that called it makes them a rollback record (a module never makes one).
    assert first["fingerprint"]["tables"] == first["tables"] and "rollback" not in first
    server.databases["shop"]["public.orders"] = 43
    dummy, later = run_module(changes_since, dict(args, baseline=first["tables"]))
    assert [c["table"] for c in later["changes"]] == ["public.orders"] and "decisions" not in later


def test_no_docker_command_line_outside_the_adapter():
    """Every docker command the collection runs goes through module_utils/_engine.py (the model's manual commands
    are text for a person, never run)."""
    offenders = []
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        if path.name in ("_engine.py", "_model.py", "_schemas.py", "_messages.py"):
            continue
        source = path.read_text()
        code = source[source.find("\nfrom ansible"):] if "DOCUMENTATION = " in source else source
        if re.search(r"""\[\s*["']docker["']""", code) or re.search(r"""(subprocess\.\w+|run_command)\([^)]*docker""", code):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_preflight_lists_everything_a_host_lacks_at_once(run_module, engine, tmp_path, monkeypatch):
    from ansible_collections.ssot.governance.plugins.modules import preflight
    failed, out = run_module(preflight, {"python_modules": ["json"], "target_dir": str(tmp_path / "new" / "dir"),
                                         "language": "en"})
    assert not failed and out["lacks"] == [], out
    blocked = tmp_path / "a-file"
    blocked.write_text("x")
    failed, out = run_module(preflight, {"python_modules": ["json", "no_such_module_here"],
                                         "target_dir": str(blocked / "sub"), "language": "pt-BR"})
    assert failed and len(out["lacks"]) == 2, out
    assert "no_such_module_here" in out["lacks"][0] and str(blocked / "sub") in out["lacks"][1]
    assert "Nada foi alterado" in out["msg"]
    engine.answers = False
    failed, out = run_module(preflight, {"python_modules": [], "language": "en"})
    assert failed and out["lacks"] == [out["lacks"][0]] and "Cannot connect to the Docker daemon" in out["lacks"][0]
    assert out["found"]["docker_client"] == "20.10.24" and "docker_server" not in out["found"]


def test_a_dump_folder_holding_a_link_is_never_loaded(engine, run_module, tmp_path):
    """A pg_dump -Fd folder whose blob "file" is a link to /proc/1/environ: pg_restore in the target followed it and
    loaded the target's environment into a large object, rc 0, under a card whose digest skipped links (review 11).
    The card refuses it; a link planted after the approval loads nothing."""
    engine.add("pg-new", FakeServer())
    folder = tmp_path / "shopdir"
    folder.mkdir()
    (folder / "toc.dat").write_text("-- fake-table shop public.orders 5\n")
    (folder / "blob_16388.dat").symlink_to("/proc/1/environ")
    args = sources_args(tmp_path, sources=[{"id": "dir", "kind": "dump", "path": "shopdir", "databases": ["shop"]}])
    failed, planned = run_module(ingest_sources, args)
    assert failed and planned["sources"][0]["status"] == "missing", planned["sources"]
    assert "blob_16388.dat" in planned["sources"][0]["reason"] and "regular file" in planned["sources"][0]["reason"]
    (folder / "blob_16388.dat").unlink()
    dummy, planned = run_module(ingest_sources, args)
    (item,) = planned["plan"]
    approved = [dict(item, dump_sha256=item["decision"]["facts"]["dump_sha256"])]
    (folder / "blob_16388.dat").symlink_to("/proc/1/environ")
    failed, out = run_module(ingest_load, {"plan": approved, "sources": planned["sources"],
                                           "proceed": [item["decision"]["id"]], "target": "pg-new",
                                           "owner": "shop_owner", "language": "en"})
    assert failed and "not a regular file" in out["msg"] and "shop" not in engine.server("pg-new").databases


class _Loader(object):
    secrets = {"PGPASSWORD": "x"}

    @staticmethod
    def restore(db, *extra):
        return ["pg_restore", "-d", db] + list(extra)


@pytest.mark.parametrize("planted", [
    {"folder_links": {"3001.dat.gz": "/proc/1/environ"}},
    {"folder_files": {"blobs.toc": b"16393 blob_16393.dat\n16394 ../../proc/1/environ\n"}},
    {"folder_files": {"blobs.toc": b"16393 blob_16393.dat\n16394 .."}},
    {"folder_files": {"blobs_7.toc": b"16393 /etc/passwd\n"}},
])
def test_a_folder_the_sources_pg_dump_writes_reaches_the_target_with_regular_files_only(engine, planted):
    """ingest.jobs > 1: the source's pg_dump -Fd folder is carried as a tar stream into a container of the target's
    image made for the restore. The source's tools are its preparer's: a link it leaves there (pg_restore follows it),
    a large objects' list naming a file outside the folder (pg_restore opens it: ../../proc/1/environ, review 12)
    stops the carry and restores nothing; the files that pass go to the user docker exec runs as."""
    engine.add("pg-src", FakeServer(databases=dict(SHOP)))
    engine.add("pg-new", FakeServer())
    for name, value in planted.items():
        setattr(engine, name, value)
    with pytest.raises(_ingest.IngestError) as refused:
        _ingest.directory_jobs(engine, "pg-src", "pg-new", "shop", "postgres", _Loader(), 2)
    assert refused.value.code == "ingest.error.dump_unsafe", refused.value
    assert sorted(list(planted.values())[0])[0] in str(refused.value.params)
    assert not [c for c in engine.calls if c[0] == "exec" and "pg_restore" in c]
    # The sandbox and the folder are removed whatever happened.
    (box,) = [c[c.index("--name") + 1] for c in engine.calls if c[0] == "run"]
    assert engine.calls[-2:] == [["rm", "-f", "-v", box], ["exec", "pg-src", "rm", "-rf", "/tmp/ssot-ingest-shop"]]
    assert box not in engine.containers
    engine.folder_links, engine.folder_files = {}, {"blobs.toc": b"16393 blob_16393.dat\n16394 blob_16394.dat.gz"}
    engine.calls.clear()
    rc1, rc2, errors = _ingest.directory_jobs(engine, "pg-src", "pg-new", "shop", "postgres", _Loader(), 2)
    assert (rc1, rc2) == (0, 0)
    engine.relayed.seek(0)
    with tarfile.open(fileobj=engine.relayed, mode="r") as tar:
        assert [(m.name, m.uid, m.type) for m in tar.getmembers()] == [
            ("ssot-ingest-shop", 999, tarfile.DIRTYPE), ("ssot-ingest-shop/toc.dat", 999, tarfile.REGTYPE),
            ("ssot-ingest-shop/blobs.toc", 999, tarfile.REGTYPE)]
    # Restored in a container of the target's image that shares only its network: not in the target itself.
    (run,) = [c for c in engine.calls if c[0] == "run"]
    box = run[run.index("--name") + 1]
    assert run[-3:] == ["--entrypoint", "sh", "sha256:" + "1" * 64] and "--network" in run
    assert run[run.index("--network") + 1] == "container:pg-new" and run[run.index("--user") + 1] == "999"
    assert {"--cap-drop", "ALL", "no-new-privileges", "--no-healthcheck", "--pids-limit", "--memory"} <= set(run)
    (restore,) = [c for c in engine.calls if c[0] == "exec" and "pg_restore" in c]
    assert restore[:4] == ["exec", "-e", "PGPASSWORD", box] and box.startswith("pg-new-restore-")
    assert box not in engine.containers
