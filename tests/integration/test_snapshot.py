"""Phase 6 on a real server: a snapshot streamed and hashed, verified byte for byte, free of the secret,
and proven by restoring it into a fresh container."""

from __future__ import annotations

import gzip
import json
import subprocess

import pytest
import yaml
from _support import (PASSWORD, ROOT, docker, explain, free_port, psql, run_playbook, tmpfs, views, write_approvals,
                      write_workspace)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def snapped(legacy_image, container_names, tmp_path_factory):
    name = f"ssot-it-snap-{tmp_path_factory.getbasetemp().name[-6:]}"
    container_names += [name, name + "-restore-test"]
    ws = write_workspace(tmp_path_factory.mktemp("snap"), legacy_image, name, free_port())
    assert run_playbook("ssot.governance.provision", ws).returncode == 0
    subprocess.run([str(ROOT / "tests" / "images" / "seed_demo.sh"), name], check=True, capture_output=True)
    proc = run_playbook("ssot.governance.snapshot", ws)
    assert proc.returncode == 0, explain(proc)
    folder = sorted((ws.path / "snapshots").iterdir())[-1]
    return ws, folder, proc


def test_snapshot_has_every_file_in_its_manifest_and_the_restore_test_matches(snapped):
    ws, folder, proc = snapped
    manifest = json.loads((folder / "manifest.json").read_text())
    names = {f["name"] for f in manifest["files"]}
    assert names == {"container-inspect.json", "image-inspect.json", "container-logs-tail500.log",
                     "pg_dumpall.sql.gz"}
    assert manifest["ssot_digest"].startswith("sha256:") and manifest["source"]["container_id"]
    assert "PostgreSQL 10.23" in manifest["source"]["server_version"] and manifest["restore"]
    with gzip.open(folder / "pg_dumpall.sql.gz", "rt") as fh:
        dump = fh.read()
    assert "CREATE DATABASE legacy_shop" in dump and "COPY public.order_items" in dump
    log = next(ws.path.glob("evidence/*/*-restore-test.log")).read_text()
    assert "MATCH    legacy_shop          public.order_items" in log and "MISMATCH" not in log
    assert "row counts and content checksums" in log and " checksum source=" in log
    result = json.loads(next(ws.path.glob("evidence/*/*-restore-test.json")).read_text())
    counts = {(c["database"], c["table"]): c["restored"] for c in result["comparisons"]}
    assert counts[("legacy_shop", "public.customers")] == 500 and counts[("legacy_shop", "public.order_items")] == 6000
    assert docker("inspect", ws.container + "-restore-test", check=False).returncode != 0  # removed afterwards
    dummy, panel = views(ws)
    assert any(e["path"].endswith("snapshot-manifest.json") for e in panel["evidences"])


def test_no_snapshot_file_holds_the_secret(snapped):
    dummy, folder, dummy = snapped
    for path in folder.iterdir():
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        assert PASSWORD.encode() not in data, path.name
    inspect = json.loads((folder / "container-inspect.json").read_text())
    env = dict(e.split("=", 1) for e in inspect["Config"]["Env"])
    assert env["POSTGRES_PASSWORD"] == "********" and env["PGDATA"] == "/var/lib/postgresql/data"


def test_flipping_a_byte_in_any_file_makes_verify_name_it(snapped, tmp_path):
    ws, folder, dummy = snapped
    for path in sorted(folder.iterdir()):
        original = path.read_bytes()
        flipped = bytearray(original)
        flipped[len(flipped) // 2] ^= 0x01
        path.write_bytes(bytes(flipped))
        try:
            proc = run_playbook("ssot.governance.snapshot", ws, extra_args=["--tags", "restore_test", "-e",
                                                                            f"snapshot_path={folder}"])
        finally:
            path.write_bytes(original)
        assert proc.returncode != 0, path.name
        assert path.name in proc.stdout, (path.name, proc.stdout[-2000:])
    extra = folder / "notes.txt"
    extra.write_text("not in the manifest")
    try:
        proc = run_playbook("ssot.governance.snapshot", ws, extra_args=["--tags", "restore_test"])
    finally:
        extra.unlink()
    assert proc.returncode != 0 and "notes.txt" in proc.stdout


def test_a_restore_that_differs_from_the_source_names_the_table(snapped):
    ws, folder, dummy = snapped
    psql(ws.container, "INSERT INTO customers (name, email, created_at) VALUES ('nova', 'nova@x', now())",
         db="legacy_shop")
    try:
        proc = run_playbook("ssot.governance.snapshot", ws, extra_args=["--tags", "restore_test", "-e",
                                                                        f"snapshot_path={folder}"])
    finally:
        psql(ws.container, "DELETE FROM customers WHERE email = 'nova@x'", db="legacy_shop")
    assert proc.returncode != 0
    assert "legacy_shop public.customers" in proc.stdout, explain(proc)


def test_content_checksums_catch_a_changed_row_that_row_counts_miss(snapped):
    ws, folder, dummy = snapped
    ssot = ws.path / "ssot.yml"
    original = ssot.read_text()
    psql(ws.container, "UPDATE customers SET name = name || ' (editado)' WHERE id = 7", db="legacy_shop")
    try:
        proc = run_playbook("ssot.governance.snapshot", ws, extra_args=["--tags", "restore_test", "-e",
                                                                        f"snapshot_path={folder}"])
        assert proc.returncode != 0, explain(proc)
        assert "legacy_shop public.customers (checksum do conteúdo difere" in proc.stdout, explain(proc)
        # The same restore with counts only passes: the checksum is what saw the change.
        doc = yaml.safe_load(original)
        doc["snapshot"]["content_checksums"] = False
        ssot.write_text(yaml.safe_dump(doc, sort_keys=False))
        counts_only = run_playbook("ssot.governance.snapshot", ws, extra_args=["--tags", "restore_test", "-e",
                                                                               f"snapshot_path={folder}"])
        assert counts_only.returncode == 0, explain(counts_only)
    finally:
        ssot.write_text(original)
        psql(ws.container, "UPDATE customers SET name = replace(name, ' (editado)', '') WHERE id = 7",
             db="legacy_shop")


def test_the_restore_test_never_removes_a_container_it_did_not_make(snapped, container_names):
    ws, folder, dummy = snapped
    scratch = ws.container + "-restore-test"
    docker("rm", "-f", scratch, check=False)
    docker("run", "-d", "--name", scratch, "-e", f"POSTGRES_PASSWORD={PASSWORD}", "legacy-pg:10.23")
    for dummy in range(60):
        if docker("exec", scratch, "pg_isready", "-U", "postgres", "-q", check=False).returncode == 0:
            break
        import time
        time.sleep(1)
    psql(scratch, "CREATE TABLE someone_elses AS SELECT generate_series(1, 42) AS n")
    try:
        proc = run_playbook("ssot.governance.snapshot", ws, extra_args=["--tags", "restore_test"])
        assert proc.returncode != 0, explain(proc)
        assert scratch in proc.stdout and "nada foi removido" in proc.stdout, explain(proc)
        assert psql(scratch, "SELECT count(*) FROM someone_elses") == "42"
    finally:
        docker("rm", "-f", "-v", scratch, check=False)


def test_a_snapshot_path_outside_the_workspace_is_refused(snapped, tmp_path):
    ws, folder, dummy = snapped
    elsewhere = tmp_path / "copy"
    subprocess.run(["cp", "-a", str(folder), str(elsewhere)], check=True)
    proc = run_playbook("ssot.governance.snapshot", ws, extra_args=["--tags", "restore_test", "-e",
                                                                    f"snapshot_path={elsewhere}"])
    assert proc.returncode != 0 and "fora do workspace" in proc.stdout, explain(proc)


def workspace_snapshotting_to(folder, tmp_path, legacy_image, snapped_ws):
    """Another workspace of the snapped server whose snapshots go to ``folder`` (an allowed root)."""
    def elsewhere(doc):
        doc["paths"] = {"allowed_roots": [str(folder)]}
        doc["snapshot"]["destination"] = str(folder / "snaps")
    return write_workspace(tmp_path / "ws", legacy_image, snapped_ws.container, snapped_ws.port, elsewhere)


def test_a_full_destination_fails_clearly_and_leaves_nothing_that_looks_like_a_snapshot(snapped, legacy_image,
                                                                                        tmp_path):
    with tmpfs(tmp_path / "disk", "64k") as disk:
        ws = workspace_snapshotting_to(disk, tmp_path, legacy_image, snapped[0])
        # The estimate sees the destination cannot hold it: a decision first, never a surprise halfway.
        planned = run_playbook("ssot.governance.snapshot", ws)
        assert planned.returncode != 0, explain(planned)
        runbook, dummy = views(ws)
        size = [d for d in runbook["decisions"] if d["id"].startswith("snapshot.size.") and d["status"] == "pending"]
        assert len(size) == 1, explain(planned)
        write_approvals(ws, size, "proceed")
        proc = run_playbook("ssot.governance.snapshot", ws)
        assert proc.returncode != 0, explain(proc)
        assert "Sem espaço no disco para o snapshot" in proc.stdout, explain(proc)
        assert "Errno" not in proc.stdout, explain(proc)
        left = list((disk / "snaps").iterdir()) if (disk / "snaps").exists() else []
        assert left == [], left


def test_a_read_only_destination_fails_clearly_and_writes_nothing(snapped, legacy_image, tmp_path):
    with tmpfs(tmp_path / "ro", "64m") as disk:
        (disk / "snaps").mkdir()
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        ws = workspace_snapshotting_to(disk, tmp_path, legacy_image, snapped[0])
        proc = run_playbook("ssot.governance.snapshot", ws)
        assert proc.returncode != 0, explain(proc)
        assert "somente leitura" in proc.stdout and "Errno" not in proc.stdout, explain(proc)
        assert list((disk / "snaps").iterdir()) == []
