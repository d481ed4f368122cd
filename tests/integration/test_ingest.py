"""Phase 5 on real servers: a missing source blocks the phase and changes nothing; an approved ingestion
streams the seeded shop from a source container into the target, with a snapshot first, and proves it table by
table; a second run changes nothing; rows deleted in the target are named; a reload and its rollback."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import time

import pytest
import yaml
from _support import (PASSWORD, ROOT, VENV_BIN, Dom, docker, explain, free_port, playbook_env, psql, rollback_point,
                      run_playbook, start_server, views, write_approvals, write_workspace)


pytestmark = pytest.mark.integration

SHOP = {"public.customers": 500, "public.products": 200, "public.orders": 3000, "public.order_items": 6000}


def target_state(container: str) -> dict:
    return {"databases": psql(container, "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database"),
            "roles": psql(container, "SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles")}


def start_source(image: str, name: str) -> None:
    start_server(image, name)
    subprocess.run([str(ROOT / "tests" / "images" / "seed_demo.sh"), name], check=True, capture_output=True)


def pending(ws, prefix: str) -> list[dict]:
    runbook, dummy = views(ws)
    return [d for d in runbook["decisions"] if d["status"] == "pending" and d["id"].startswith(prefix)]


def newest(ws, suffix: str) -> dict:
    found = sorted(ws.path.glob(f"evidence/*/*-{suffix}"), key=lambda p: (p.parent.name, p.name))
    assert found, f"no *-{suffix} evidence"
    return json.loads(found[-1].read_text())


@pytest.fixture(scope="module")
def story(legacy_image, container_names, tmp_path_factory):
    """One target, its source absent, then present; each step's outcome kept for the tests."""
    tag = tmp_path_factory.getbasetemp().name[-6:]
    target, source = f"ssot-it-ingest-{tag}", f"ssot-it-ingest-src-{tag}"
    container_names += [target, source]

    def edit(doc):
        doc["sources"][0]["container"] = source
    ws = write_workspace(tmp_path_factory.mktemp("ingest"), legacy_image, target, free_port(), edit)
    assert run_playbook("ssot.governance.provision", ws).returncode == 0
    out = {"ws": ws, "target": target, "source": source}
    out["before"] = target_state(target)
    out["blocked"] = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    out["blocked_panel"] = views(ws)[1]
    out["after_blocked"] = target_state(target)
    out["snapshots_after_blocked"] = list((ws.path / "snapshots").glob("*/manifest.json"))
    start_source(legacy_image["image"], source)
    out["unapproved"] = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    out["pending"] = pending(ws, "ingest.")
    out["after_unapproved"] = target_state(target)
    write_approvals(ws, out["pending"], "ingest")
    out["ingested"] = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    return out


def test_no_source_blocks_the_phase_and_changes_nothing(story):
    proc = story["blocked"]
    assert proc.returncode != 0
    assert "Nenhuma fonte de dados disponível" in proc.stdout and story["source"] in proc.stdout, explain(proc)
    phase5 = next(m for m in story["blocked_panel"]["milestones"] if m["phase"] == 5)
    assert phase5["status"] == "blocked" and phase5["title"] == "Disponibilizar fonte de dados"
    assert any(story["source"] in step for step in phase5["next_steps"]), phase5
    assert story["after_blocked"] == story["before"]
    assert story["snapshots_after_blocked"] == []   # no snapshot taken
    missing = next(d for d in story["blocked_panel"]["deviations"] if d["id"] == "ingest.source.legacy-shop")
    assert missing["actual"].startswith("ausente: o contêiner") and "não existe" in missing["actual"]  # PT-BR SSOT


def test_without_approval_it_fails_closed_and_changes_nothing(story):
    proc = story["unapproved"]
    assert proc.returncode != 0
    ids = [d["id"] for d in story["pending"]]
    assert len(ids) == 1 and re.fullmatch(r"ingest\.legacy-shop\.legacy_shop\.load\.[0-9a-f]{8}", ids[0])
    assert ids[0] in proc.stdout, explain(proc)
    assert story["after_unapproved"] == story["before"]


def test_approved_ingestion_snapshots_first_loads_and_matches_every_table(story):
    ws, proc = story["ws"], story["ingested"]
    assert proc.returncode == 0, explain(proc)
    load = newest(ws, "ingest-load.json")
    (db,) = load["loaded"]
    assert db["database"] == "legacy_shop" and db["method"] == "stream-custom" and db["mismatches"] == []
    assert db["compared"] == "linhas e conteúdo"      # the SSOT's language (PT-BR)
    assert {c["table"]: c["target"] for c in db["comparisons"]} == SHOP
    assert all(c["source_checksum"] == c["target_checksum"] for c in db["comparisons"])
    assert db["tools"]["pg_dump"].startswith("15.") and story["source"] in db["tools"]["pg_dump"]
    assert load["roles"]["created"] == ["shop_reader", "shop_owner"] and "postgres" in load["roles"]["conflicts"]
    assert psql(story["target"], "SELECT count(*) FROM order_items", db="legacy_shop") == "6000"
    # Restored by a role made for the load, gone since; what it made is the SSOT's owner's (not a superuser).
    assert db["restored_by"].startswith("ssot_loader_") and db["owner"] == "shop_owner"
    assert {t["owner"] for t in db["read_back"]["tables"].values()} == {"shop_owner"}, db["read_back"]
    assert psql(story["target"], "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'ssot_loader_%' OR "
                                 "(rolname = 'shop_owner' AND (rolsuper OR rolcanlogin))") == "0"
    # The rollback point was taken before anything changed: the target had no legacy_shop then.
    # Its own journal record (read back, sealed, by the rollback), and an evidence file for people.
    rollback = rollback_point(ws, "ingest")
    assert newest(ws, "rollback-ingest.json") == rollback
    assert rollback["databases"] == [{"name": "legacy_shop", "action": "load", "rows_before": {}}]
    assert "shop_reader" not in rollback["roles_before"]
    # The snapshot by its folder name (never a path), its manifest sha256 beside it.
    assert "/" not in rollback["snapshot"] and len(rollback["manifest_sha256"]) == 64
    pre = json.loads((ws.path / "snapshots" / rollback["snapshot"] / "manifest.json").read_text())
    assert rollback["snapshot"].endswith("-pre-ingest") and [f["kind"] for f in pre["files"]] == ["inspect", "dump", "check", "check"]
    dummy, panel = views(ws)
    assert next(m for m in panel["milestones"] if m["phase"] == 5)["status"] == "done"
    for path in ws.path.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".log", ".jsonl", ".yml"):
            assert PASSWORD not in path.read_text(errors="replace"), path
            assert "PGPASSWORD=" not in path.read_text(errors="replace"), path


def test_a_second_ingestion_finds_the_data_and_changes_nothing(story):
    ws = story["ws"]
    snapshots = sorted((ws.path / "snapshots").iterdir())
    proc = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert proc.returncode == 0, explain(proc)
    assert re.search(r"localhost\s+: ok=\d+\s+changed=0 ", proc.stdout), explain(proc)
    assert "Nada a ingerir" in proc.stdout
    assert sorted((ws.path / "snapshots").iterdir()) == snapshots


def test_rows_deleted_in_the_target_are_named_then_a_reload_and_its_rollback(story):
    ws, target = story["ws"], story["target"]
    psql(target, "DELETE FROM order_items WHERE order_id <= 10", db="legacy_shop")
    check = run_playbook("ssot.governance.ingest", ws)
    assert check.returncode != 0
    assert "legacy_shop public.order_items (linhas: origem 6000, alvo 5980)" in check.stdout, explain(check)
    # Reloading is another decision; this time in directory format with two jobs.
    doc = yaml.safe_load((ws.path / "ssot.yml").read_text())
    doc["ingest"] = dict(doc.get("ingest") or {}, jobs=2)
    (ws.path / "ssot.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    unapproved = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert unapproved.returncode != 0
    reload = pending(ws, "ingest.legacy-shop.legacy_shop.reload.")
    assert len(reload) == 1, explain(unapproved)
    # Blocked on it, as the controller said (the target only reported what it found).
    dummy, panel = views(ws)
    phase5 = next(m for m in panel["milestones"] if m["phase"] == 5)
    assert phase5["status"] == "blocked" and reload[0]["id"] in phase5["decisions_pending"], phase5
    write_approvals(ws, reload, "reload")
    proc = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert proc.returncode == 0, explain(proc)
    (db,) = newest(ws, "ingest-load.json")["loaded"]
    assert db["action"] == "reload" and db["method"] == "directory-jobs" and db["mismatches"] == []
    assert psql(target, "SELECT count(*) FROM order_items", db="legacy_shop") == "6000"
    # Rows written after the reload: undoing it would drop them, so the rollback is a decision of its own.
    psql(target, "INSERT INTO customers (name, email, created_at) VALUES ('depois', 'depois@x', now())",
         db="legacy_shop")
    blocked = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "rollback"])
    assert blocked.returncode != 0, explain(blocked)
    assert psql(target, "SELECT count(*) FROM customers", db="legacy_shop") == "501"
    undo = pending(ws, "rollback.ingest.")
    assert len(undo) == 1 and "public.customers" in undo[0]["context"], explain(blocked)
    write_approvals(ws, undo, "rollback")
    # The rollback brings back what the target held before the reload (the 5,980 rows), from the snapshot,
    # after a snapshot of what it holds now.
    back = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "rollback"])
    assert back.returncode == 0, explain(back)
    assert psql(target, "SELECT count(*) FROM order_items", db="legacy_shop") == "5980"
    assert psql(target, "SELECT count(*) FROM customers", db="legacy_shop") == "500"
    assert list(ws.path.glob("snapshots/*-pre-rollback/manifest.json"))
    # Once undone, a second rollback would erase what was written since: it refuses and changes nothing.
    psql(target, "INSERT INTO customers (name, email, created_at) VALUES ('mais', 'mais@x', now())", db="legacy_shop")
    again = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "rollback"])
    assert again.returncode != 0 and "já foi desfeita" in again.stdout, explain(again)
    assert psql(target, "SELECT count(*) FROM customers", db="legacy_shop") == "501"


def source_with_one_table(legacy_image, container_names, tmp_path, name):
    """A provisioned target and a running source holding legacy_shop with one table (no pre-ingest snapshot)."""
    tag = tmp_path.name[-6:]
    target, source = f"ssot-it-{name}-{tag}", f"ssot-it-{name}-src-{tag}"
    container_names += [target, source]

    def edit(doc):
        doc["sources"][0]["container"] = source
        doc["ingest"] = dict(doc.get("ingest") or {}, pre_snapshot=False)
    ws = write_workspace(tmp_path / "ws", legacy_image, target, free_port(), edit)
    assert run_playbook("ssot.governance.provision", ws).returncode == 0
    start_server(legacy_image["image"], source)
    psql(source, "CREATE DATABASE legacy_shop")
    psql(source, "CREATE TABLE t AS SELECT 1 AS id", db="legacy_shop")
    return ws, target, source


def approve_ingestion(ws, prefix="ingest.", option="ingest"):
    """A run without approval refuses; then the pending ingestion cards (``prefix``) approved as shown."""
    refused = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert refused.returncode != 0, explain(refused)
    write_approvals(ws, pending(ws, prefix), option)


def with_ingest(ws, **settings):
    doc = yaml.safe_load((ws.path / "ssot.yml").read_text())
    doc["ingest"] = dict(doc.get("ingest") or {}, **settings)
    (ws.path / "ssot.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return doc


def test_the_roles_a_load_creates_are_on_the_card_and_a_source_cannot_change_them(legacy_image, container_names,
                                                                                  tmp_path):
    """The source's roles are its owner's to choose: each role statement the load would run is on the card and
    bound by the approval; roles added after it, or a name built to break out of its quotes, run nothing."""
    ws, target, source = source_with_one_table(legacy_image, container_names, tmp_path, "roles")
    psql(source, "CREATE ROLE shop_reader LOGIN")
    before = target_state(target)
    unapproved = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert unapproved.returncode != 0, explain(unapproved)
    (decision,) = pending(ws, "ingest.")
    assert ('CREATE ROLE "shop_reader" WITH LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION '
            'NOBYPASSRLS;') in decision["facts"]["roles"], decision["facts"]
    assert len(decision["facts"]["globals_sha256"]) == 64
    write_approvals(ws, [decision], "ingest")
    # After the approval the source grows a superuser: that is another card (the approved one does not cover it),
    # pending, and nothing runs. (Between the card and the load of one run, the module refuses: test_engine_modules.)
    psql(source, "CREATE ROLE sneaky SUPERUSER LOGIN")
    refused = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert refused.returncode != 0, explain(refused)
    (again,) = [d for d in pending(ws, "ingest.") if d["id"] != decision["id"]]
    assert again["id"] in refused.stdout, explain(refused)
    assert any(r.startswith('CREATE ROLE "sneaky" WITH LOGIN') for r in again["facts"]["roles"]), again["facts"]
    assert any("sneaky" in r and "SUPERUSER" in r for r in again["facts"]["roles_dropped"]), again["facts"]
    assert target_state(target) == before
    # A name holding a newline (a line-by-line reader kept "CREATE ROLE inj; ALTER SYSTEM ..." outside its quotes).
    psql(source, "DROP ROLE sneaky")
    psql(source, "DO $$ BEGIN EXECUTE format('CREATE ROLE %I', "
                 "E';\\nALTER SYSTEM SET work_mem = ''64MB'';SELECT 1 AS x--\\nq'); END $$")
    assert "\n" in psql(source, "SELECT string_agg(rolname, ',') FROM pg_roles WHERE rolname LIKE ';%'")
    hostile = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert hostile.returncode != 0 and "caractere de controle" in hostile.stdout, explain(hostile)
    assert target_state(target) == before and psql(target, "SHOW work_mem") == "4MB"


def test_a_hostile_sources_roles_are_built_not_copied(each_server, container_names, tmp_path):
    """The legacy source's owner made its roles: superuser attributes, a membership in postgres, role settings, and a
    comment built to run as SQL once a line-by-line filter drops its continuation. Approved as the card shows it, the
    load creates plain roles only: no attribute, membership or setting the SSOT does not grant, postgres untouched,
    nothing from a comment run; the card lists what is left out."""
    ws, target, source = source_with_one_table(each_server, container_names, tmp_path, "hroles")
    psql(source, "CREATE ROLE shop_reader SUPERUSER CREATEROLE CREATEDB REPLICATION BYPASSRLS LOGIN "
                 "PASSWORD 'pw-hostile'")
    psql(source, "CREATE ROLE escaper LOGIN IN ROLE postgres")
    psql(source, "COMMENT ON ROLE shop_reader IS E'x\\n'")
    psql(source, "COMMENT ON ROLE escaper IS E'\\nALTER ROLE postgres WITH NOLOGIN;\\nCREATE ROLE injected;\\n'")
    psql(source, "ALTER ROLE shop_reader SET search_path = 'evil'")
    psql(source, "ALTER ROLE shop_reader SET log_statement = 'none'")
    postgres_before = psql(target, "SELECT rolsuper::text || rolcanlogin::text FROM pg_roles WHERE rolname = 'postgres'")
    refused = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert refused.returncode != 0, explain(refused)
    (decision,) = pending(ws, "ingest.")
    facts = decision["facts"]
    assert any(r.startswith('CREATE ROLE "shop_reader" WITH LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE '
                            "NOREPLICATION NOBYPASSRLS PASSWORD '***'") for r in facts["roles"]), facts
    dropped = " | ".join(facts["roles_dropped"])
    for said in ("shop_reader: SUPERUSER, CREATEDB, CREATEROLE, REPLICATION, BYPASSRLS", "escaper como membro de postgres",
                 "shop_reader: configurações search_path, log_statement"):
        assert said in dropped, dropped
    assert not any(r.startswith(("ALTER", "COMMENT")) or "postgres" in r for r in facts["roles"]), facts["roles"]
    write_approvals(ws, [decision], "ingest")
    done = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert done.returncode == 0, explain(done)
    attrs = psql(target, "SELECT string_agg(rolname || ':' || rolsuper::text || rolcreaterole::text || "
                         "rolcreatedb::text || rolreplication::text || rolbypassrls::text || rolcanlogin::text, ',' "
                         "ORDER BY rolname) FROM pg_roles WHERE rolname IN ('shop_reader', 'escaper')")
    assert attrs == "escaper:falsefalsefalsefalsefalsetrue,shop_reader:falsefalsefalsefalsefalsetrue", attrs
    assert psql(target, "SELECT count(*) FROM pg_auth_members am JOIN pg_roles m ON m.oid = am.member "
                        "WHERE m.rolname IN ('shop_reader', 'escaper')") == "0"
    assert psql(target, "SELECT count(*) FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
                        "WHERE r.rolname = 'shop_reader'") == "0"
    assert psql(target, "SELECT count(*) FROM pg_roles WHERE rolname = 'injected'") == "0"
    assert psql(target, "SELECT rolsuper::text || rolcanlogin::text FROM pg_roles WHERE rolname = 'postgres'") == \
        postgres_before
    assert psql(target, "SELECT count(*) FROM pg_shdescription d JOIN pg_authid a ON a.oid = d.objoid") == "0", \
        "no comment on a role was copied"
    # The password hash came along (a login works), the superuser did not.
    assert psql(target, "SELECT rolpassword LIKE 'md5%' FROM pg_authid WHERE rolname = 'shop_reader'") == "t"


def pwned(container: str, mark: str) -> bool:
    """Whether code from the source left its mark (a file it made with COPY ... TO PROGRAM) in ``container``."""
    return docker("exec", container, "sh", "-c", f"[ -e /tmp/{mark} ]", check=False).returncode == 0


def test_a_hostile_sources_names_and_code_stay_data(each_server, container_names, tmp_path):
    """The legacy source's owner chose its database names and its code: a database named as a connection string, a
    name holding a newline, a cast from a composite type to text that runs an OS command when a comparison calls it.
    The names reach the tools as values (the database named "dbname=postgres" is that database, the target's postgres
    untouched), the newline is refused with a message (no traceback), the comparison calls nothing of the source."""
    ws, target, source = source_with_one_table(each_server, container_names, tmp_path, "hnames")
    doc = yaml.safe_load((ws.path / "ssot.yml").read_text())
    doc["sources"][0]["databases"] = ["dbname=postgres", "legacy_shop"]
    (ws.path / "ssot.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    psql(source, 'CREATE DATABASE "dbname=postgres"')
    psql(source, "CREATE TABLE only_in_the_named_one AS SELECT 1 AS id", db="dbname='dbname=postgres'")
    psql(source, "CREATE TABLE source_postgres_table AS SELECT 1 AS id")
    psql(source, "CREATE TYPE pair AS (a int, b int)", db="legacy_shop")
    psql(source, "CREATE FUNCTION pair_text(pair) RETURNS text LANGUAGE plpgsql AS $$ BEGIN "
                 "COPY (SELECT 1) TO PROGRAM 'touch /tmp/pwned-cast'; RETURN 'x'; END $$", db="legacy_shop")
    psql(source, "CREATE CAST (pair AS text) WITH FUNCTION pair_text(pair)", db="legacy_shop")
    psql(source, "CREATE TABLE pairs AS SELECT ROW(i, i)::pair AS p FROM generate_series(1, 3) i", db="legacy_shop")
    # A child of a table that is a foreign table running a program: a count through the parent would run it.
    psql(source, "CREATE EXTENSION file_fdw", db="legacy_shop")
    psql(source, "CREATE SERVER f FOREIGN DATA WRAPPER file_fdw", db="legacy_shop")
    psql(source, "CREATE FOREIGN TABLE t_more () INHERITS (t) SERVER f "
                 "OPTIONS (program 'touch /tmp/pwned-fdw; echo 2', format 'csv')", db="legacy_shop")
    assert not pwned(source, "pwned-cast") and not pwned(source, "pwned-fdw")
    # A newline in a database's name: refused by the read-only part, with the name shown escaped.
    psql(source, "CREATE DATABASE \"bad\nname\"")
    doc["sources"][0].pop("databases")
    (ws.path / "ssot.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    crooked = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert crooked.returncode != 0 and "Traceback" not in crooked.stdout + crooked.stderr, explain(crooked)
    assert "list index" not in crooked.stdout and "bad\\x0aname" in crooked.stdout, explain(crooked)
    assert "caractere de controle" in crooked.stdout, explain(crooked)
    doc["sources"][0]["databases"] = ["dbname=postgres", "legacy_shop"]
    (ws.path / "ssot.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    refused = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert refused.returncode != 0, explain(refused)
    decisions = pending(ws, "ingest.")
    assert sorted(d["facts"]["database"] for d in decisions) == ["dbname=postgres", "legacy_shop"], decisions
    (shop,) = [d for d in decisions if d["facts"]["database"] == "legacy_shop"]
    assert "conversão (cast) definida pela fonte: public.pair AS text WITH public.pair_text" in shop["facts"]["code"], \
        shop["facts"]
    assert ("tabela estrangeira (lida por um FDW: um programa, um arquivo, outro servidor): public.t_more SERVER f "
            "OPTIONS program=touch /tmp/pwned-fdw; echo 2, format=csv") in shop["facts"]["code"], shop["facts"]
    assert len(shop["facts"]["code_sha256"]) == 64 and shop["facts"]["functions"] == 3, shop["facts"]
    write_approvals(ws, decisions, "ingest")
    # Code added to the source after the approval is not covered by it: a new card, nothing loaded.
    psql(source, "CREATE FUNCTION public.later() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'",
         db="legacy_shop")
    later = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert later.returncode != 0 and "legacy_shop" not in target_state(target)["databases"], explain(later)
    (again,) = [d for d in pending(ws, "ingest.") if d["facts"]["database"] == "legacy_shop" and d["id"] != shop["id"]]
    assert any("SECURITY DEFINER" in c and "public.later()" in c for c in again["facts"]["code"]), again["facts"]
    psql(source, "DROP FUNCTION public.later()", db="legacy_shop")
    # A function body swapped after the approval (the catalog lists the same objects): another card too.
    body = ("CREATE OR REPLACE FUNCTION pair_text(pair) RETURNS text LANGUAGE plpgsql AS $$ BEGIN "
            "COPY (SELECT 1) TO PROGRAM '%s'; RETURN 'x'; END $$")
    psql(source, body % "touch /tmp/pwned-body", db="legacy_shop")
    swapped = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert swapped.returncode != 0 and "legacy_shop" not in target_state(target)["databases"], explain(swapped)
    (third,) = [d for d in pending(ws, "ingest.") if d["facts"]["database"] == "legacy_shop"
                and d["id"] not in (shop["id"], again["id"])]
    assert third["facts"]["code"] == shop["facts"]["code"] and third["facts"]["code_sha256"] != shop["facts"][
        "code_sha256"], third["facts"]
    psql(source, body % "touch /tmp/pwned-cast", db="legacy_shop")
    # Approved as the card showed it: restored by a role without attributes, the foreign data wrapper (an extension
    # only a superuser may create) is a restore error - the load fails, naming it - and nothing of it runs.
    done = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert done.returncode == 2 and "file_fdw" in done.stdout, explain(done)
    assert psql(target, "SELECT count(*) FROM pg_foreign_table", db="legacy_shop") == "0"
    assert psql(target, "SELECT count(*) FROM pg_tables WHERE tablename IN "
                        "('only_in_the_named_one', 'source_postgres_table')") == "0", "the target's postgres untouched"
    assert psql(target, "SELECT count(*) FROM only_in_the_named_one", db="dbname='dbname=postgres'") == "1"
    assert psql(target, "SELECT count(*) FROM pairs", db="legacy_shop") == "3"
    assert not pwned(target, "pwned-cast") and not pwned(source, "pwned-cast"), "the comparison ran the source's cast"
    assert not pwned(target, "pwned-fdw") and not pwned(source, "pwned-fdw"), "a count read the foreign child table"
    # Once present, the read-only play compares again: still nothing of the source's runs.
    run_playbook("ssot.governance.ingest", ws)
    assert not pwned(target, "pwned-fdw") and not pwned(target, "pwned-cast")
    assert psql(target, "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'ssot_loader_%'") == "0"


def test_a_restore_error_fails_the_load_and_says_what_is_there(legacy_image, container_names, tmp_path):
    """Objects the target cannot take as the source has them (here: a privilege granted to a role the load does not
    create) are restore errors: the load ends rc 2, recorded, and its evidence reads back from the server what is
    there."""
    ws, target, source = source_with_one_table(legacy_image, container_names, tmp_path, "rerr")
    doc = yaml.safe_load((ws.path / "ssot.yml").read_text())
    doc["ingest"]["globals"] = False
    (ws.path / "ssot.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    psql(source, "CREATE ROLE shop_auditor")
    psql(source, "GRANT SELECT ON t TO shop_auditor", db="legacy_shop")
    approve_ingestion(ws)
    failed = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert failed.returncode == 2, explain(failed)
    assert 'role "shop_auditor" does not exist' in failed.stdout, explain(failed)
    log = newest(ws, "ingest-load.json")
    (loaded,) = log["loaded"]
    assert any("shop_auditor" in e for e in loaded["restore_errors"]), loaded
    assert loaded["read_back"]["tables"] == {"public.t": {"owner": "shop_owner", "rows": 1}}, loaded
    runbook, dummy = views(ws)
    (step,) = [s for s in runbook["steps"] if s["name"].startswith("ssot.governance.ingest : Change")
               and s.get("run_id") == runbook["runs"][-1]["id"]]
    assert step["status"] == "failed" and runbook["runs"][-1]["status"] == "failed", (step, runbook["runs"][-1])


def test_the_dumps_code_runs_as_a_role_without_attributes_never_as_a_superuser(each_server, container_names, tmp_path):
    """The legacy source's owner put code where a restore runs it - a CHECK constraint's function (once per row while
    the data is copied) and an index expression (while the index is built) - trying a superuser's reach: an OS
    command (COPY ... TO PROGRAM), altering the target's postgres, widening its own session back (RESET ROLE, SET ROLE
    postgres), each failure swallowed so the load goes on. Approved as the card shows it, the load restores as a role
    made for it: every try fails, the data arrives equal, what the load made belongs to the SSOT's owner (not a
    superuser), and the role that restored it is gone."""
    ws, target, source = source_with_one_table(each_server, container_names, tmp_path, "lpriv")
    copy = "'COPY (SELECT 1) TO PROGRAM ''touch /tmp/pwned-' || mark || ''''"
    tries = " ".join("BEGIN EXECUTE %s; EXCEPTION WHEN OTHERS THEN NULL; END;" % q for q in (
        "'RESET ROLE'", "'SET ROLE postgres'", "'ALTER ROLE postgres NOLOGIN'", "'CREATE ROLE lpriv_made SUPERUSER'",
        copy))
    # Disarmed in the source's own sessions (lpriv.off), armed wherever else it runs. An index expression must be
    # IMMUTABLE (read-only): it calls the volatile one.
    psql(source, "CREATE FUNCTION public.reach(i int, mark text) RETURNS boolean LANGUAGE plpgsql AS $f$ BEGIN "
                 "IF current_setting('lpriv.off', true) = 'on' THEN RETURN true; END IF; "
                 "%s RETURN true; END $f$" % tries, db="legacy_shop")
    psql(source, "CREATE FUNCTION public.reach_fixed(i int, mark text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE "
                 "AS $f$ BEGIN RETURN public.reach(i, mark); END $f$", db="legacy_shop")
    psql(source, "SET lpriv.off = on; CREATE TABLE checked (id int CHECK (public.reach(id, 'check'))); "
                 "INSERT INTO checked SELECT generate_series(1, 5); "
                 "CREATE INDEX ON t ((public.reach_fixed(id, 'index')))", db="legacy_shop")
    postgres_before = psql(target, "SELECT rolsuper::text || rolcanlogin::text FROM pg_roles WHERE rolname = 'postgres'")
    refused = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert refused.returncode != 0, explain(refused)
    (decision,) = pending(ws, "ingest.")
    assert (decision["facts"]["owner"], decision["facts"]["owner_how"]) == ("shop_owner", "create"), decision["facts"]
    assert "shop_owner" in decision["context"], decision
    write_approvals(ws, [decision], "ingest")
    done = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert done.returncode == 0, explain(done)
    assert not pwned(target, "pwned-check") and not pwned(target, "pwned-index"), "the dump's code ran an OS command"
    assert psql(target, "SELECT rolsuper::text || rolcanlogin::text FROM pg_roles WHERE rolname = 'postgres'") == \
        postgres_before
    assert psql(target, "SELECT count(*) FROM pg_roles WHERE rolname = 'lpriv_made' OR rolname LIKE 'ssot_loader_%'") \
        == "0"
    assert psql(target, "SELECT count(*) FROM checked", db="legacy_shop") == "5"
    owners = psql(target, "SELECT string_agg(DISTINCT pg_get_userbyid(relowner), ',') FROM pg_class "
                          "WHERE relnamespace = 'public'::regnamespace", db="legacy_shop")
    assert owners == "shop_owner", owners
    assert psql(target, "SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'reach'", db="legacy_shop") \
        == "shop_owner"
    assert psql(target, "SELECT rolsuper::text || rolcanlogin::text FROM pg_roles WHERE rolname = 'shop_owner'") == \
        "falsefalse"
    (loaded,) = newest(ws, "ingest-load.json")["loaded"]
    assert loaded["restored_by"].startswith("ssot_loader_") and loaded["owner"] == "shop_owner", loaded
    # Without ingest.owner, objects owned by postgres in the source (a superuser in the target) are refused: nothing
    # planned for them, the check says what to set.
    doc = yaml.safe_load((ws.path / "ssot.yml").read_text())
    doc["ingest"].pop("owner")
    doc["sources"][0]["databases"] = ["legacy_shop", "second"]
    (ws.path / "ssot.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    psql(source, "CREATE DATABASE second")
    unnamed = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert unnamed.returncode != 0 and "ingest.owner" in unnamed.stdout, explain(unnamed)
    assert "second" not in target_state(target)["databases"]


ARMED = {
    # The role restoring it changes its own password and renames the schema it owns: cleanup by that name failed,
    # the role survived with a password its author knew.
    "survive": ("EXECUTE format('ALTER ROLE %I PASSWORD %L', current_user, 'pwned123'); "
                "EXECUTE 'ALTER SCHEMA public RENAME TO public_x';", "renomeou ou apagou o schema public"),
    # Code the card did not show, made while restoring (or dumped by a pg_dump that restores another database).
    "hidden": ("EXECUTE 'CREATE FUNCTION public.hidden() RETURNS int LANGUAGE sql SECURITY DEFINER AS ''SELECT 1''';",
               "não é o código que o cartão aprovado mostrou"),
    # A view rewritten while restoring: the catalog lists the same objects.
    "view": ("EXECUTE 'CREATE OR REPLACE VIEW public.v AS SELECT ''tampered''::text AS s';",
             "o schema restaurado"),
    # Privileges the source does not give: a table writable by all, a large object readable by all (review 10).
    "grant": ("EXECUTE 'GRANT ALL ON TABLE public.t TO PUBLIC'; "
              "PERFORM lo_from_bytea(4242, 'x'::bytea); EXECUTE 'GRANT SELECT ON LARGE OBJECT 4242 TO PUBLIC';",
              "não é o código que o cartão aprovado mostrou"),
    # Rows deleted from one of two tables whose names joined with a dot are the same ("a.b".c and a."b.c").
    "collision": ('DELETE FROM "a.b".c;', "Tabelas diferem"),
}


@pytest.mark.parametrize("case", sorted(ARMED))
def test_what_the_restore_ran_cannot_outlive_or_outwit_the_load(legacy_image, container_names, tmp_path, case):
    """Code the dump runs while it is restored runs as the role made for the load - which it can still use against
    the load itself: change that role's password and rename its schema so the cleanup fails, make code the card did
    not show, rewrite a view, delete rows from a table whose name collides with another's once joined with a dot.
    Each ends the load rc 2, naming it, read from the target's own catalog and data; the role is gone either way."""
    ws, target, source = source_with_one_table(legacy_image, container_names, tmp_path, "outwit")
    sql, said = ARMED[case]
    psql(source, "CREATE VIEW public.v AS SELECT 'source'::text AS s", db="legacy_shop")
    psql(source, 'CREATE SCHEMA a; CREATE SCHEMA "a.b"; CREATE TABLE a."b.c" AS SELECT generate_series(1, 3) AS id; '
                 'CREATE TABLE "a.b".c AS SELECT generate_series(1, 3) AS id', db="legacy_shop")
    psql(source, "CREATE FUNCTION public.armed(i int) RETURNS boolean LANGUAGE plpgsql AS $f$ BEGIN "
                 "IF current_user LIKE 'ssot_loader_%%' THEN %s END IF; RETURN true; END $f$" % sql, db="legacy_shop")
    # Its table is restored last (schema zz): every other table's rows are in by then.
    psql(source, "CREATE SCHEMA zz; CREATE TABLE zz.last (id int CHECK (public.armed(id))); "
                 "INSERT INTO zz.last VALUES (1)", db="legacy_shop")
    refused = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert refused.returncode != 0, explain(refused)
    write_approvals(ws, pending(ws, "ingest."), "ingest")
    done = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert done.returncode == 2 and said in done.stdout, explain(done)
    assert psql(target, "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'ssot_loader_%'") == "0"
    (loaded,) = newest(ws, "ingest-load.json")["loaded"]
    assert loaded["read_back"]["tables"], loaded
    if case == "survive":
        port = str(ws.port)
        login = subprocess.run(["psql", "-h", "127.0.0.1", "-p", port, "-U", loaded["restored_by"], "-d", "postgres",
                                "-c", "SELECT 1"], env=dict(os.environ, PGPASSWORD="pwned123", PGCONNECT_TIMEOUT="5"),
                               capture_output=True, text=True, check=False)
        assert login.returncode != 0, login.stdout
    if case == "collision":
        assert {"a.\"b.c\"", "\"a.b\".c"} <= set(loaded["read_back"]["tables"]), loaded["read_back"]
        described = " ".join(m["table"] for m in loaded.get("mismatches") or [])
        assert '"a.b".c' in described, loaded


# A pg_dump in the source container that dumps another database (its body of f() swapped) whenever it writes the
# archive a load restores, and the real one otherwise (the card's reads).
def plant_pg_dump(source, tmp_path, script):
    """The source's pg_dump replaced by ``script`` (the real one kept as pg_dump.real; the image has no mv)."""
    wrapper = tmp_path / "pg_dump"
    wrapper.write_text(script)
    wrapper.chmod(0o755)
    docker("cp", "-L", f"{source}:/usr/local/bin/pg_dump", str(tmp_path / "pg_dump.real"))
    docker("cp", str(tmp_path / "pg_dump.real"), f"{source}:/usr/local/bin/pg_dump.real")
    docker("cp", str(wrapper), f"{source}:/usr/local/bin/pg_dump")


SWAPPED_PG_DUMP = """#!/bin/sh
case " $* " in *" -Fc "*|*" -Fd "*) swap=1 ;; *) swap= ;; esac
prev=
for a in "$@"; do
  shift
  if [ -n "$swap" ] && [ "$prev" = "-d" ]; then set -- "$@" "dbname=shadow"; else set -- "$@" "$a"; fi
  prev=$a
done
exec /usr/local/bin/pg_dump.real "$@"
"""


def test_a_source_whose_pg_dump_restores_another_database_than_it_describes(legacy_image, container_names, tmp_path):
    """The source's tools are its preparer's: its pg_dump describes the approved database to the card and dumps
    another (a function's body swapped) to the load. The target's own pg_dump of what was restored is compared with
    the schema the card bound: the load fails, naming it."""
    ws, target, source = source_with_one_table(legacy_image, container_names, tmp_path, "swapdump")
    psql(source, "CREATE FUNCTION public.f() RETURNS text LANGUAGE sql AS $$SELECT 'benign'::text$$", db="legacy_shop")
    psql(source, "CREATE DATABASE shadow TEMPLATE legacy_shop")
    psql(source, "CREATE OR REPLACE FUNCTION public.f() RETURNS text LANGUAGE sql AS $$SELECT 'EVIL'::text$$",
         db="shadow")
    plant_pg_dump(source, tmp_path, SWAPPED_PG_DUMP)
    approve_ingestion(ws)
    done = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert done.returncode == 2 and "não é o do cartão aprovado" in done.stdout, explain(done)


LINKING_PG_DUMP = """#!/bin/sh
# The real pg_dump; then, for a directory dump, it waits until the test has planted a link in the folder.
/usr/local/bin/pg_dump.real "$@" || exit $?
case " $* " in *" -Fd "*) ;; *) exit 0 ;; esac
: > /tmp/ssot-test-dumped
until [ -e /tmp/ssot-test-go ]; do psql -U postgres -Atqc 'SELECT pg_sleep(0.2)' >/dev/null 2>&1; done
"""


def test_a_folder_the_sources_pg_dump_leaves_reaches_the_target_with_regular_files_only(legacy_image, container_names,
                                                                                        tmp_path):
    """ingest.jobs > 1 carries the source's pg_dump -Fd folder into the target. The source's tools are its
    preparer's: a data file of that folder swapped for a link to /proc/1/environ would be followed by pg_restore in
    the target (its environment, the superuser's password among it, loaded as the table's rows). The load refuses
    the folder and restores nothing."""
    ws, target, source = source_with_one_table(legacy_image, container_names, tmp_path, "linkdir")
    psql(source, "DROP TABLE t", db="legacy_shop")
    psql(source, "CREATE TABLE t AS SELECT 'x'::text AS v", db="legacy_shop")
    with_ingest(ws, jobs=2)
    plant_pg_dump(source, tmp_path, LINKING_PG_DUMP)
    approve_ingestion(ws)
    run = subprocess.Popen([str(VENV_BIN / "ansible-playbook"), "ssot.governance.ingest", "-e",
                            f"ssot_workspace={ws.path}", "--tags", "ingest"], cwd=ws.path,
                           env=playbook_env(ws.path, None, None), text=True, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        folder = "/tmp/ssot-ingest-legacy_shop"
        for dummy in range(600):
            if subprocess.run(["docker", "exec", source, "sh", "-c", "[ -e /tmp/ssot-test-dumped ]"],
                              check=False).returncode == 0 or run.poll() is not None:
                break
            time.sleep(0.2)
        assert run.poll() is None, run.stdout.read()[-3000:]
        names = docker("exec", source, "sh", "-c", f"for f in {folder}/*.dat*; do echo ${{f##*/}}; done").stdout.split()
        assert names, "pg_dump -Fd wrote no data file"
        planted = io.BytesIO()
        with tarfile.open(fileobj=planted, mode="w") as tar:
            link = tarfile.TarInfo(f"ssot-ingest-legacy_shop/{names[0]}")
            link.type, link.linkname = tarfile.SYMTYPE, "/proc/1/environ"
            tar.addfile(link)
        subprocess.run(["docker", "cp", "-", f"{source}:/tmp/"], input=planted.getvalue(), check=True)
        docker("exec", source, "sh", "-c", ": > /tmp/ssot-test-go")
        out, dummy = run.communicate(timeout=600)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 2 and "não é arquivo comum" in out and names[0] in out, out[-4000:]
    # Nothing restored: the folder never reached pg_restore.
    restored = docker("exec", target, "psql", "-U", "postgres", "-d", "legacy_shop", "-Atc",
                      "SELECT count(*) FROM pg_class WHERE relname = 't'", check=False)
    assert restored.returncode != 0 or restored.stdout.strip() == "0", restored
    assert PASSWORD not in out


BLOBS_ELSEWHERE_PG_DUMP = """#!/bin/sh
# The real pg_dump; then, for a directory dump, every large object's file name points out of the folder.
/usr/local/bin/pg_dump.real "$@" || exit $?
case " $* " in *" -Fd "*) ;; *) exit 0 ;; esac
prev=
for a in "$@"; do [ "$prev" = "-f" ] && f=$a; prev=$a; done
c=$(while read -r oid name; do echo "$oid ../../proc/1/environ"; done < "$f/blobs.toc")
printf '%s\\n' "$c" > "$f/blobs.toc"
"""


@pytest.mark.parametrize("way", ["sources-pg-dump", "dump-folder"])
def test_the_files_a_dump_folder_names_are_read_inside_it_never_in_the_target(legacy_image, container_names,
                                                                              tmp_path, way):
    """pg_restore opens the files a directory archive names (blobs.toc for large objects, toc.dat for table data)
    relative to the folder, `..` allowed: run in the target, it read the target's /proc/1/environ (the superuser's
    password) into a large object, rc 0 (review 12), and a file of the target's data directory into a table's rows.
    The source's own pg_dump -Fd (ingest.jobs > 1) pointing every large object at /proc/1/environ, and a delivered
    dump folder whose toc.dat names a file only the target has: the first refused, the second read where nothing of
    the target is; the load fails and nothing of the target's is in the database."""
    ws, target, source = source_with_one_table(legacy_image, container_names, tmp_path, "tocnames")
    psql(source, "DROP TABLE t", db="legacy_shop")
    psql(source, "CREATE TABLE t (v text)", db="legacy_shop")
    psql(source, "INSERT INTO t VALUES ('ok')", db="legacy_shop")
    psql(source, "SELECT lo_from_bytea(0, 'a large object')", db="legacy_shop")
    doc = with_ingest(ws, jobs=2)
    if way == "dump-folder":
        # toc.dat names, for the table's rows, the target's PG_VERSION (a string: a 0 byte, its length, its bytes).
        docker("exec", source, "pg_dump", "-U", "postgres", "-Fd", "-Z", "0", "-f", "/tmp/shopdir", "-d", "legacy_shop")
        docker("cp", f"{source}:/tmp/shopdir", str(ws.path / "shopdir"))
        toc = (ws.path / "shopdir" / "toc.dat").read_bytes()
        assert toc[:5] == b"PGDMP"
        int_size = toc[8]            # PGDMP, major, minor, revision, int size

        def as_str(raw):
            return b"\x00" + len(raw).to_bytes(int_size, "little") + raw
        names = [p.name.encode() for p in (ws.path / "shopdir").iterdir() if re.fullmatch(r"\d+\.dat", p.name)]
        (stored,) = [n for n in names if toc.count(as_str(n)) == 1]
        (ws.path / "shopdir" / "toc.dat").write_bytes(
            toc.replace(as_str(stored), as_str(b"../../var/lib/postgresql/data/PG_VERSION")))
        doc["sources"] = [{"id": "shop-folder", "kind": "dump", "path": "shopdir", "format": "directory",
                           "databases": ["legacy_shop"]}]
    else:
        plant_pg_dump(source, tmp_path, BLOBS_ELSEWHERE_PG_DUMP)
    (ws.path / "ssot.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    approve_ingestion(ws)
    done = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    held = docker("exec", target, "psql", "-U", "postgres", "-d", "legacy_shop", "-Atc",
                  "SELECT v FROM t UNION ALL SELECT encode(lo_get(oid), 'escape') FROM pg_largeobject_metadata",
                  check=False).stdout
    # Nothing of the target's: its environment (its hostname among it), its password, its data directory's files.
    hostname = docker("inspect", "--format", "{{.Config.Hostname}}", target).stdout.strip()
    assert hostname and hostname not in held and PASSWORD not in held and "10" not in re.split(r"\s+", held), held
    assert done.returncode == 2, explain(done)
    if way == "sources-pg-dump":
        assert "blobs.toc" in done.stdout, explain(done)
    else:
        # Read where the target's files are not: the file is not there, a restore error.
        assert re.search(r"could not open input file[^\n]*PG_VERSION", done.stdout), explain(done)


def test_code_a_loaded_database_holds_cannot_reach_the_target_from_the_snapshot_restore_test(legacy_image,
                                                                                             container_names, tmp_path):
    """A CHECK constraint's function that waits for a superuser: loaded, it ran as the load's role and did nothing;
    the snapshot's restore test replays the dump as a superuser in a fresh container, where it ran and reached the
    target over the bridge with the superuser's password, creating a superuser there (review 12). The restore
    container has no network: the target is out of its reach."""
    ws, target, source = source_with_one_table(legacy_image, container_names, tmp_path, "replay")
    address = docker("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                     target).stdout.strip()
    assert address
    command = (f"PGPASSWORD={PASSWORD} psql -h {address} -U postgres -d postgres "
               "-c \"CREATE ROLE replay_pwned SUPERUSER LOGIN\"")
    psql(source, "CREATE FUNCTION public.chk(integer) RETURNS boolean LANGUAGE sql AS 'SELECT true'",
         db="legacy_shop")
    psql(source, "CREATE TABLE guarded (id integer CHECK (public.chk(id)))", db="legacy_shop")
    psql(source, "INSERT INTO guarded VALUES (1)", db="legacy_shop")
    # The body that waits for a superuser, once the row is in (the source's own superuser never runs it).
    psql(source, "CREATE OR REPLACE FUNCTION public.chk(integer) RETURNS boolean LANGUAGE plpgsql AS $f$ BEGIN "
                 "IF current_setting('is_superuser') = 'on' THEN "
                 f"EXECUTE format('COPY (SELECT 1) TO PROGRAM %L', {command!r}); END IF; RETURN true; END $f$",
         db="legacy_shop")
    approve_ingestion(ws)
    loaded = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert loaded.returncode == 0, explain(loaded)
    assert psql(target, "SELECT count(*) FROM pg_roles WHERE rolname = 'replay_pwned'") == "0", explain(loaded)
    snapshot = run_playbook("ssot.governance.snapshot", ws)
    assert psql(target, "SELECT count(*) FROM pg_roles WHERE rolname = 'replay_pwned'") == "0", explain(snapshot)


def test_an_ingestions_rollback_replays_the_copy_as_a_role_without_attributes(each_server, container_names,
                                                                              tmp_path):
    """The rollback of a reload replays the pre-ingest copy of the database. As a superuser, a CHECK constraint
    calling only built-in functions (lo_import of /proc/1/environ, lo_export into the data directory) ran as one, rc 0
    (review 13); the card had nothing to show (no function of its own). Replayed as a role made for it, it does
    nothing; the rows come back as they were. On 10.23 and 15."""
    ws, target, source = source_with_one_table(each_server, container_names, tmp_path, "rbreplay")
    doc = with_ingest(ws, pre_snapshot=True)
    doc["sources"][0]["databases"] = ["aaa_evil", "legacy_shop"]
    (ws.path / "ssot.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    # One table's rows read the target's environment into a large object, the next's write it into a file - where
    # a superuser checks them, never in the source's own sessions (rb.off). Up to 10 the built-ins are named in the
    # constraint; from 11 on they are granted to no one, so a constraint naming them fails for any other role before
    # it runs (a load would just fail): the call is made by name, at run time, by a function of the source.
    armed = "current_setting('is_superuser') = 'on' AND current_setting('rb.off', true) IS DISTINCT FROM 'on'"
    reads, writes = ("lo_import('/proc/1/environ', 424242) > 0",
                     "lo_export(424242, current_setting('data_directory') || '/rbreplay_marker') = 1")
    if int(psql(source, "SHOW server_version_num")) >= 110000:
        psql(source, "CREATE FUNCTION public.by_name(q text) RETURNS boolean LANGUAGE plpgsql AS "
                     "$f$ BEGIN EXECUTE q; RETURN true; END $f$", db="legacy_shop")
        reads, writes = ("public.by_name($q$SELECT %s$q$)" % x for x in (reads, writes))
    for table, call in (("a_note", reads), ("b_note", writes)):
        psql(source, "CREATE TABLE %s (id int, CONSTRAINT ok CHECK (CASE WHEN %s THEN %s ELSE true END))"
             % (table, armed, call), db="legacy_shop")
    psql(source, "CREATE VIEW note AS SELECT id FROM b_note", db="legacy_shop")
    psql(source, "SET rb.off = on; INSERT INTO a_note VALUES (1); INSERT INTO b_note VALUES (1)", db="legacy_shop")
    # And a database before it whose table's comment reads like legacy_shop's section of the snapshot, with a
    # superuser's statement and a shell command before its \connect (review 14).
    psql(source, "CREATE DATABASE aaa_evil")
    psql(source, "CREATE TABLE t (id int); INSERT INTO t VALUES (1); COMMENT ON TABLE t IS $c$harmless\n"
                 '-- Database "legacy_shop" dump\nCREATE ROLE rb_pwned SUPERUSER LOGIN;\n'
                 "\\! echo pwned > /tmp/rb_shell\n\\connect legacy_shop\n--$c$", db="aaa_evil")
    approve_ingestion(ws)
    first = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert first.returncode == 0, explain(first)
    # A second load (another row): its pre-ingest snapshot holds the table as the first load left it, and what the
    # operator set on the database itself since (review 17: replayed by the loader, it was lost, PUBLIC had CONNECT
    # back, rc 0).
    psql(source, "SET rb.off = on; INSERT INTO b_note VALUES (2)", db="legacy_shop")
    # And (review 18) a grant made by another role than the owner, and a database whose sessions read literals
    # with backslash escapes (its comment holds a backslash).
    psql(target, "CREATE ROLE rb_reader; REVOKE CONNECT, TEMPORARY ON DATABASE legacy_shop FROM PUBLIC; "
                 "GRANT CONNECT, CREATE ON DATABASE legacy_shop TO rb_reader WITH GRANT OPTION; "
                 "SET ROLE rb_reader; GRANT CREATE ON DATABASE legacy_shop TO PUBLIC; RESET ROLE; "
                 "ALTER DATABASE legacy_shop SET statement_timeout = '5s'; "
                 "ALTER DATABASE legacy_shop SET standard_conforming_strings = off; "
                 "COMMENT ON DATABASE legacy_shop IS 'operator''s \\ note'")
    properties = ("SELECT array_to_string(datacl, ','), shobj_description(d.oid, 'pg_database'), "
                  "(SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting WHERE setdatabase = d.oid) "
                  "FROM pg_database d WHERE datname = 'legacy_shop'")
    operators = psql(target, properties)
    assert "rb_reader=C*c*/" in operators and "=C/rb_reader" in operators and "s \\ n" in operators, operators
    approve_ingestion(ws, "ingest.legacy-shop.legacy_shop.reload.", "reload")
    second = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert second.returncode == 0, explain(second)
    assert psql(target, "SELECT count(*) FROM note", db="legacy_shop") == "2"
    blocked = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "rollback"])
    assert blocked.returncode != 0, explain(blocked)
    write_approvals(ws, pending(ws, "rollback.ingest."), "rollback")
    back = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "rollback"])
    marker = docker("exec", target, "sh", "-c", '[ -e "$PGDATA/rbreplay_marker" ] || [ -e /tmp/rb_shell ] && '
                    "echo there || echo absent")
    assert marker.stdout.strip() == "absent", explain(back)
    assert psql(target, "SELECT count(*) FROM pg_roles WHERE rolname = 'rb_pwned'") == "0", explain(back)
    assert psql(target, "SELECT count(*) FROM pg_largeobject_metadata", db="legacy_shop") == "0", explain(back)
    assert back.returncode == 0, explain(back)
    assert psql(target, "SELECT count(*) FROM note", db="legacy_shop") == "1"
    assert psql(target, properties) == operators, explain(back)
    # The copy's owner kept: what the replaying role made went to the database's owner, and the role is gone.
    assert psql(target, "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'b_note'",
                db="legacy_shop") == "shop_owner"
    assert psql(target, "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'ssot\\_loader\\_%'") == "0"


def test_the_panel_page_opens_in_a_real_browser_with_every_part(story, tmp_path):
    """project-panel.html of this workspace (provision, a blocked then an approved ingestion, a pre-ingest snapshot)
    in Debian's chromium, headless, from the file: the DOM it builds, and a phone-sized screenshot kept."""
    ws = story["ws"].path
    chromium = shutil.which("chromium")
    assert chromium, "chromium is not installed: run the suite with `make test` (SSOT_WITH_BROWSER=1 installs it)"
    page = ws / "project-panel.html"
    flags = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(flags + ["--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=False)
    assert dom.returncode == 0 and "</html>" in dom.stdout, dom.stderr[-2000:]
    parsed = Dom()
    parsed.feed(dom.stdout)
    elements = parsed.elements
    panel = json.loads((ws / "project-panel.json").read_text())
    assert not [tag for tag, dummy in elements if tag in ("script", "link", "img", "iframe")]
    milestones = [a for dummy, a in elements if "data-milestone" in a]
    assert [(a["data-milestone"], a["data-status"]) for a in milestones] == [
        (m["id"], m["status"]) for m in panel["milestones"]]
    assert len(milestones) == 7
    assert [a["data-decision"] for dummy, a in elements if "data-decision" in a] == [
        d["id"] for d in panel["decisions_pending"]]
    links = [a["href"] for tag, a in elements if tag == "a" and "data-evidence" in a]
    assert len(links) == len(panel["evidences"]) > 0
    # Grouped by run, the newest first and open, older runs folded; a heading per phase inside.
    groups = [a for tag, a in elements if tag == "details"]
    runs = list(dict.fromkeys(e["run_id"] for e in reversed(panel["evidences"])))
    assert [g["data-run"] for g in groups] == runs and len(runs) > 1
    assert "open" in groups[0] and not any("open" in g for g in groups[1:])
    assert {a["data-phase"] for tag, a in elements if tag == "h3"} >= {"0", "5"}
    unresolved = [h for h in links if not (ws / h).is_file()]
    assert unresolved == []
    snapshots = [a for dummy, a in elements if "data-snapshot" in a]
    assert [s["data-status"] for s in snapshots] == ["verified"] * len(panel["snapshots"]) and snapshots
    assert panel["ssot"]["digest"] in dom.stdout
    # Kept as a test artifact: what a person sees on a phone.
    out = ROOT / "tests" / "output"
    out.mkdir(parents=True, exist_ok=True)
    shot = out / "project-panel-phone.png"
    shot.unlink(missing_ok=True)
    taken = subprocess.run(flags + ["--window-size=412,2400", f"--screenshot={shot}", page.as_uri()],
                           capture_output=True, text=True, timeout=120, check=False)
    assert taken.returncode == 0 and shot.stat().st_size > 10_000, taken.stderr[-2000:]


@pytest.mark.parametrize("playbook, tags", [
    ("ssot.governance.ingest", "all,modify"),
    ("ssot.governance.ingest", "all,rollback"),
    ("ssot.governance.ingest", "ingest,rollback"),
    ("ssot.governance.modify", "all,modify"),
    ("ssot.governance.modify", "modify,rollback"),
    ("ssot.governance.snapshot", "all,restore_test"),
    ("ssot.governance.validate", "all,inventory,never"),
])
def test_every_combination_of_documented_tags_runs_or_refuses_clearly(story, playbook, tags):
    """Last in this module: it may roll back or snapshot what the tests above left."""
    proc = run_playbook(playbook, story["ws"], extra_args=["--tags", tags])
    out = proc.stdout + proc.stderr
    for broken in ("is undefined", "Traceback", "unhandled exception", "Unexpected Exception"):
        assert broken not in out, explain(proc)
    if proc.returncode != 0:
        assert re.search(r"fatal: \[localhost\]: FAILED! => \{.*\"msg\": \"[A-ZÁÉÍÓÚÇ]", out) or "FAILED!" in out, \
            explain(proc)
