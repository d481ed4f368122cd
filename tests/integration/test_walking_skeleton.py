"""The reference skill's first validation, end to end on a real engine:
image tar -> provision -> read-only validation -> evidence."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from _support import (IMAGE, PASSWORD, ROOT, docker, explain, free_port, run_playbook,
                      write_workspace)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def provisioned(legacy_image, container_names, tmp_path_factory):
    """A legacy container provisioned from the tar on an engine that did not have the image."""
    # Clean engine: the image must come from the delivered tar. (-f untags even
    # when a demo container still uses the image; its layers stay until unused.)
    docker("rmi", "-f", IMAGE, check=False)
    assert docker("image", "inspect", IMAGE, check=False).returncode != 0, "image still present"
    name = f"ssot-it-{tmp_path_factory.getbasetemp().name[-6:]}-main"
    container_names.append(name)
    ws = write_workspace(tmp_path_factory.mktemp("ws"), legacy_image, name, free_port())
    proc = run_playbook("ssot.governance.provision", ws)
    assert proc.returncode == 0, explain(proc)
    return ws, proc


def recap_changed(proc: subprocess.CompletedProcess) -> int:
    m = re.search(r"localhost\s+: ok=\d+\s+changed=(\d+)", proc.stdout)
    assert m, proc.stdout[-2000:]
    return int(m.group(1))


def test_provision_loads_the_tar_and_binds_to_loopback(provisioned):
    ws, proc = provisioned
    assert docker("image", "inspect", IMAGE, check=False).returncode == 0
    assert recap_changed(proc) >= 2  # image loaded, container created
    ports = docker("port", ws.container, "5432/tcp").stdout.split()
    assert ports == [f"127.0.0.1:{ws.port}"]
    # Hardened whatever the image says: capabilities dropped but the SSOT's, no new privileges, a pids limit, the
    # image's HEALTHCHECK off.
    host = json.loads(docker("inspect", "-f", "{{json .HostConfig}}", ws.container).stdout)
    assert host["CapDrop"] == ["ALL"] and sorted(host["CapAdd"]) == ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID",
                                                                     "SETUID"], host
    assert host["SecurityOpt"] == ["no-new-privileges"] and host["PidsLimit"] == 1024, host
    health = json.loads(docker("inspect", "-f", "{{json .Config.Healthcheck}}", ws.container).stdout)
    assert health == {"Test": ["NONE"]}, health


def test_validate_writes_evidence_of_postgresql_10_23(provisioned):
    ws, dummy = provisioned
    proc = run_playbook("ssot.governance.validate", ws)
    assert proc.returncode == 0, explain(proc)
    log = ws.evidence(".log")[-1].read_text()
    assert "PostgreSQL 10.23" in log
    assert "=> SHOW wal_level;" in log and "=> SHOW shared_preload_libraries;" in log
    result = ws.latest_result()
    assert result["server_major"] == "10"
    assert result["read_only_session"] is True
    assert [c["status"] for c in result["checks"]] == ["match"] * 6
    runbook = json.loads((ws.path / "runbook.json").read_text())
    assert runbook["ssot"]["digest"].startswith("sha256:") and result["endpoint"].startswith("host=127.0.0.1")
    assert PASSWORD not in log and PASSWORD not in proc.stdout


def test_provision_again_changes_nothing(provisioned):
    ws, dummy = provisioned
    proc = run_playbook("ssot.governance.provision", ws)
    assert proc.returncode == 0, explain(proc)
    assert recap_changed(proc) == 0, proc.stdout[-3000:]


def test_wrong_expectation_is_reported_not_hidden(provisioned, legacy_image, tmp_path):
    ws, dummy = provisioned

    def expect_logical(doc):
        doc["postgres"]["settings"]["wal_level"] = "logical"

    wrong = write_workspace(tmp_path / "wrong", legacy_image, ws.container, ws.port, expect_logical)
    proc = run_playbook("ssot.governance.validate", wrong)
    assert proc.returncode != 0, explain(proc)
    assert "Desvio setting.wal_level: esperado logical, obtido replica (pending)" in proc.stdout, explain(proc)
    result = wrong.latest_result()
    assert result["deviations"] == ["setting.wal_level"]
    check = next(c for c in result["checks"] if c["id"] == "setting.wal_level")
    assert (check["expected"], check["actual"], check["status"]) == ("logical", "replica", "deviation")
    assert "DEVIATION  setting.wal_level" in wrong.evidence(".log")[-1].read_text()


def test_wrong_password_is_a_clear_failure(provisioned):
    ws, dummy = provisioned
    proc = run_playbook("ssot.governance.validate", ws, env_extra={"SSOT_PG_PASSWORD": "not-the-password"})
    assert proc.returncode != 0
    # libpq's words classified, in the operator's language, with what to check next.
    assert "não aceitou o usuário postgres" in proc.stdout and "target.connection.password" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_seed_script_creates_the_demo_database(provisioned):
    ws, dummy = provisioned
    out = subprocess.run([str(ROOT / "tests" / "images" / "seed_demo.sh"), ws.container], text=True,
                         capture_output=True, check=True).stdout
    assert "customers=500 products=200 orders=3000 order_items=6000" in out
    # Related rows: every order item points at an existing order and product.
    orphans = docker("exec", ws.container, "psql", "-U", "postgres", "-d", "legacy_shop", "-Atc",
                     "SELECT count(*) FROM order_items i LEFT JOIN orders o ON o.id = i.order_id "
                     "WHERE o.id IS NULL").stdout.strip()
    assert orphans == "0"
    # pg_dumpall works inside the container (client tools shipped in the image).
    dump = docker("exec", ws.container, "pg_dumpall", "-U", "postgres").stdout
    assert "CREATE DATABASE legacy_shop" in dump and "COPY public.order_items" in dump


def test_collection_tarball_installs_and_runs_elsewhere(provisioned, tmp_path, tools):
    ws, dummy = provisioned
    build = subprocess.run([tools["ansible-galaxy"], "collection", "build", str(ROOT), "--output-path",
                            str(tmp_path)], text=True, capture_output=True, check=False)
    assert build.returncode == 0, build.stderr
    tarball = next(tmp_path.glob("ssot-governance-*.tar.gz"))
    colls = tmp_path / "other-project" / "collections"
    inst = subprocess.run([tools["ansible-galaxy"], "collection", "install", str(tarball), "-p", str(colls),
                           "--no-deps", "--force"], text=True, capture_output=True, check=False)
    assert inst.returncode == 0, inst.stderr
    installed = colls / "ansible_collections" / "ssot" / "governance"
    assert (installed / "playbooks" / "validate.yml").is_file()
    assert not (installed / ".venv").exists() and not (installed / ".cache").exists()
    # Another project: its own copy of the workspace, only the installed collection on the path.
    project = tmp_path / "other-project" / "ws"
    shutil.copytree(ws.path, project, ignore=shutil.ignore_patterns("evidence"))
    proc = run_playbook("ssot.governance.validate", project, collections_path=colls, extra_args=["-vvv"])
    assert proc.returncode == 0, explain(proc)
    assert f"{installed}/plugins/modules/pg_check.py" in proc.stdout
    assert str(ROOT / ".collections") not in proc.stdout
    assert "PostgreSQL 10.23" in next(project.glob("evidence/*/*-validate-*.log")).read_text()


def test_container_of_another_workspace_is_not_taken_over(provisioned, legacy_image, tmp_path):
    ws, dummy = provisioned
    before = docker("inspect", "-f", "{{.Id}}", ws.container).stdout.strip()
    other = write_workspace(tmp_path / "other", legacy_image, ws.container, ws.port)
    proc = run_playbook("ssot.governance.provision", other)
    assert proc.returncode != 0
    assert f"pertence a outro workspace ({ws.path})" in proc.stdout, explain(proc)
    assert docker("inspect", "-f", "{{.Id}}", ws.container).stdout.strip() == before


def retagged_archive(src, dest, tags, label, change=None):
    """A docker-archive of the demo's image with another config (one label more: another image id, and what
    ``change`` does to its config) carrying ``tags``: what a deliverer who wants other images' tags moved, or its
    own entrypoint run, would ship."""
    import hashlib
    import io
    import tarfile
    with tarfile.open(src) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
        config_name = manifest[0]["Config"]
        config = json.loads(tar.extractfile(config_name).read())
        config["config"]["Labels"] = dict(config["config"].get("Labels") or {}, hostile=label)
        if change:
            change(config["config"])
        data = json.dumps(config).encode()
        digest = hashlib.sha256(data).hexdigest()
        manifest = [dict(manifest[0], Config=f"{digest}.json", RepoTags=list(tags))]
        with tarfile.open(dest, "w") as out:
            for member in tar:
                if member.name in ("manifest.json", "index.json", "oci-layout", "repositories", config_name):
                    continue
                out.addfile(member, tar.extractfile(member) if member.isfile() else None)
            for name, body in ((f"{digest}.json", data), ("manifest.json", json.dumps(manifest).encode())):
                info = tarfile.TarInfo(name)
                info.size = len(body)
                out.addfile(info, io.BytesIO(body))
    return hashlib.sha256(dest.read_bytes()).hexdigest()


def test_a_load_tags_only_the_approved_name_and_never_moves_another(each_server, container_names, tmp_path):
    """A delivered tar that carries, besides the SSOT's name, a tag the engine uses on another image: provisioning
    refuses and loads nothing (the other image keeps its tag). Once that tag is free, the load runs and the tag it
    carried is removed: only the SSOT's name points at the delivered image."""
    tag = tmp_path.name[-6:].lower().replace("_", "-")
    name, victim = f"ssot-it-hostile-{tag}:1", f"ssot-it-victim-{tag}:1"
    container = f"ssot-it-{tag}-tags"
    container_names.append(container)
    ws_path = tmp_path / "ws"
    digest = {}

    def edit(doc):
        doc["artifacts"][0].update(path="delivered/hostile.tar", sha256=digest["tar"], image=name)
        doc["target"]["image"] = name
    (tmp_path / "hostile.tar").touch()
    digest["tar"] = retagged_archive(each_server["docker_archive"], tmp_path / "hostile.tar", [name, victim], tag)
    ws = write_workspace(ws_path, each_server, container, free_port(), edit)
    shutil.move(str(tmp_path / "hostile.tar"), str(ws_path / "delivered" / "hostile.tar"))
    docker("tag", "ssot-pg:15", victim)
    try:
        before = docker("image", "inspect", "-f", "{{.Id}}", victim).stdout.strip()
        refused = run_playbook("ssot.governance.provision", ws)
        assert refused.returncode != 0 and victim in refused.stdout and "já usa em outra imagem" in refused.stdout, \
            explain(refused)
        assert docker("image", "inspect", "-f", "{{.Id}}", victim).stdout.strip() == before
        assert docker("image", "inspect", name, check=False).returncode != 0, "nothing loaded"
        docker("rmi", victim)
        done = run_playbook("ssot.governance.provision", ws)
        assert done.returncode == 0, explain(done)
        assert docker("image", "inspect", victim, check=False).returncode != 0, "the tar's other tag stayed"
        loaded = json.loads(docker("image", "inspect", name).stdout)[0]
        assert loaded["RepoTags"] == [name] and loaded["Config"]["Labels"]["hostile"] == tag, loaded["RepoTags"]
    finally:
        docker("rm", "-f", container, check=False)
        docker("rmi", "-f", name, victim, check=False)


def test_an_image_runs_only_what_the_ssot_accepts_of_its_own_configuration(each_server, container_names, tmp_path):
    """The issue's hostile image, delivered with its sha256 pinned: an entrypoint wrapper (that would start a second
    server with trust), a trust environment variable and a volume. Provisioning refuses before creating anything,
    naming each part and what target.image_accepts would have to say."""
    tag = tmp_path.name[-6:].lower().replace("_", "-")
    name, container = f"ssot-it-wrapped-{tag}:1", f"ssot-it-{tag}-wrap"
    container_names.append(container)
    ws_path, digest = tmp_path / "ws", {}

    def wrap(config):
        config["Entrypoint"] = ["/bin/sh", "-c", "postgres -p 6666 & exec /bin/sh /usr/local/bin/docker-entrypoint.sh"]
        config["Env"] = list(config.get("Env") or []) + ["POSTGRES_HOST_AUTH_METHOD=trust"]
        config["Volumes"] = {"/srv/leak": {}}

    def edit(doc):
        doc["artifacts"][0].update(path="delivered/wrapped.tar", sha256=digest["tar"], image=name)
        doc["target"]["image"] = name
    digest["tar"] = retagged_archive(each_server["docker_archive"], tmp_path / "wrapped.tar", [name], tag, wrap)
    ws = write_workspace(ws_path, each_server, container, free_port(), edit)
    shutil.move(str(tmp_path / "wrapped.tar"), str(ws_path / "delivered" / "wrapped.tar"))
    try:
        refused = run_playbook("ssot.governance.provision", ws)
        assert refused.returncode != 0 and "não aceita" in refused.stdout, explain(refused)
        for part in ("entrypoint", "POSTGRES_HOST_AUTH_METHOD", "/srv/leak", "target.image_accepts"):
            assert part in refused.stdout, (part, explain(refused))
        assert docker("container", "inspect", container, check=False).returncode != 0, "a container was created"
    finally:
        docker("rm", "-f", container, check=False)
        docker("rmi", "-f", name, check=False)
