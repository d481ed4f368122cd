"""Phase 1 logic on real files written here: every format, damaged input, comparison and decisions."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest

from ansible_collections.ssot.governance.plugins.module_utils import _artifacts, _decisions
from ansible_collections.ssot.governance.tests.unit._tools import resolve

DIGEST = "sha256:" + "d" * 64


def _tar(path, members):
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            data = data if isinstance(data, bytes) else json.dumps(data).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _sha(data):
    return hashlib.sha256(data).hexdigest()


CONFIG = {"architecture": "amd64", "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64]}}


def docker_archive(path, tags=("legacy-pg:10.23",)):
    cfg = json.dumps(CONFIG).encode()
    return _tar(path, {
        "manifest.json": [{"Config": _sha(cfg) + ".json", "RepoTags": list(tags), "Layers": ["abc/layer.tar"]}],
        _sha(cfg) + ".json": cfg, "abc/layer.tar": b"layer"}), "sha256:" + _sha(cfg)


def oci_layout(path, ref="legacy-pg:10.23", nested=False):
    cfg = json.dumps(CONFIG).encode()
    manifest = json.dumps({"schemaVersion": 2, "config": {"digest": "sha256:" + _sha(cfg)},
                           "layers": [{"digest": "sha256:" + "2" * 64}, {"digest": "sha256:" + "3" * 64}]}).encode()
    members = {"oci-layout": {"imageLayoutVersion": "1.0.0"}, "blobs/sha256/" + _sha(cfg): cfg,
               "blobs/sha256/" + _sha(manifest): manifest}
    top = {"digest": "sha256:" + _sha(manifest), "annotations": {"org.opencontainers.image.ref.name": ref}}
    if nested:
        inner = json.dumps({"manifests": [{"digest": "sha256:" + _sha(manifest)}]}).encode()
        members["blobs/sha256/" + _sha(inner)] = inner
        top = {"digest": "sha256:" + _sha(inner), "annotations": {"org.opencontainers.image.ref.name": ref}}
    members["index.json"] = {"schemaVersion": 2, "manifests": [top]}
    return _tar(path, members), "sha256:" + _sha(cfg)


def test_docker_archive(tmp_path):
    path, config = docker_archive(tmp_path / "img.tar", tags=("docker.io/library/legacy-pg:10.23",))
    info = _artifacts.inspect(str(path))
    assert info["format"] == "docker-archive"
    assert info["image_refs"] == ["legacy-pg:10.23"]
    assert info["config_digest"] == config and info["layers"] == 1
    assert info["images"][0]["diff_ids"] == CONFIG["rootfs"]["diff_ids"]
    assert info["sha256"] == _sha(path.read_bytes()) and info["size"] == path.stat().st_size


@pytest.mark.parametrize("nested", [False, True])
def test_oci_layout(tmp_path, nested):
    path, config = oci_layout(tmp_path / "img.oci.tar", nested=nested)
    info = _artifacts.inspect(str(path))
    assert info["format"] == "oci-layout"
    assert info["image_refs"] == ["legacy-pg:10.23"]
    assert info["config_digest"] == config and info["layers"] == 2


def test_oci_bare_tag_is_kept(tmp_path):
    path, dummy = oci_layout(tmp_path / "img.oci.tar", ref="10.23")
    assert _artifacts.inspect(str(path))["image_refs"] == ["10.23"]


@pytest.mark.parametrize("content, fmt", [
    (b"PGDMP\x01\x0e\x00binary", "custom-dump"),
    (b"--\n-- PostgreSQL database dump\n--\nSET statement_timeout = 0;\n", "sql-dump"),
    (b"-- PostgreSQL database cluster dump\n", "sql-dump"),
    (b"CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n", "sql-dump"),
    (b"# legacy\nFROM postgres:9.4\nENV A=b\n", "dockerfile"),
    (b"just some notes\n", "unknown"),
    (b"\x00\x01\x02binary", "unknown"),
])
def test_non_tar_formats(tmp_path, content, fmt):
    path = tmp_path / "file"
    path.write_bytes(content)
    assert _artifacts.inspect(str(path))["format"] == fmt


def test_damaged_and_strange_inputs_never_raise(tmp_path):
    tar_path, dummy = docker_archive(tmp_path / "img.tar")
    cut = tmp_path / "cut.tar"
    cut.write_bytes(tar_path.read_bytes()[:700])
    bad_json = _tar(tmp_path / "badjson.tar", {"manifest.json": b"{not json"})
    plain = _tar(tmp_path / "plain.tar", {"hello.txt": b"hi"})
    for path in (cut, bad_json, plain):
        info = _artifacts.inspect(str(path))
        assert info["format"] == "unknown" and info["notes"], info
    assert _artifacts.inspect(str(tmp_path / "absent"))["exists"] is False
    assert _artifacts.inspect(str(tmp_path))["format"] == "unknown"


def test_a_hostile_archive_is_read_within_bounds(tmp_path):
    """The deliverer's file, parsed before any approval: compressed archives are never inflated, a tar header's
    extension and JSON nesting are bounded before they are read, and each is a note, never a traceback."""
    import gzip
    tar_path, dummy = docker_archive(tmp_path / "img.tar")
    packed = tmp_path / "img.tar.gz"
    packed.write_bytes(gzip.compress(tar_path.read_bytes()))
    info = _artifacts.inspect(str(packed), "en")
    assert info["format"] == "unknown" and "compressed file (gzip)" in info["notes"][0], info
    # A GNU long-name header announcing 1.5 GiB (inside a small .tar.gz one took 3 GB of memory): refused by its size,
    # before anything of it is read.
    huge = tarfile.TarInfo("././@LongLink")
    huge.type, huge.size = tarfile.GNUTYPE_LONGNAME, 3 << 29
    longname = tmp_path / "longname.tar"
    longname.write_bytes(huge.tobuf(tarfile.GNU_FORMAT) + b"x" * 4096)
    info = _artifacts.inspect(str(longname), "en")
    assert info["format"] == "unknown" and "header extension of 1610612736 bytes" in info["notes"][0], info
    deep = _tar(tmp_path / "deep.tar", {"manifest.json": b"[" * 200000})
    info = _artifacts.inspect(str(deep), "en")
    assert info["format"] == "unknown" and "manifest.json is not valid JSON" in info["notes"][0], info


def test_digests_are_computed_never_taken_from_a_name(tmp_path):
    """A docker archive whose config is named after another image's id (docker would tag that image), an OCI
    manifest or config whose content is not its digest: a forged archive, said so; the digest shown is computed."""
    cfg = json.dumps(CONFIG).encode()
    other = "e" * 64
    forged = _tar(tmp_path / "forged.tar", {
        "manifest.json": [{"Config": other + ".json", "RepoTags": ["legacy-pg:10.23"], "Layers": []}],
        other + ".json": cfg})
    info = _artifacts.inspect(str(forged), "en")
    assert info["format"] == "unknown" and info["config_digest"] is None, info
    assert "does not hash to the digest that names it" in info["notes"][0] and _sha(cfg) in info["notes"][0]
    renamed = _tar(tmp_path / "renamed.tar", {
        "manifest.json": [{"Config": "config.json", "RepoTags": ["legacy-pg:10.23"], "Layers": []}],
        "config.json": cfg})
    assert _artifacts.inspect(str(renamed))["config_digest"] == "sha256:" + _sha(cfg)
    path, dummy = oci_layout(tmp_path / "img.oci.tar")
    with tarfile.open(path) as tar:
        members = dict((m.name, tar.extractfile(m).read()) for m in tar if m.isfile())
    changed = json.dumps(dict(CONFIG, config={"Entrypoint": ["/evil"]})).encode()
    members["blobs/sha256/" + _sha(cfg)] = changed
    info = _artifacts.inspect(str(_tar(tmp_path / "swapped.oci.tar", members)), "en")
    assert info["format"] == "unknown" and "does not hash to the digest" in info["notes"][0], info


def _raw_tar(path, entries):
    """A tar written member by member as given (duplicates, pax headers, odd names kept)."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("case", ["case_keys", "dup_member", "global_pax", "shape", "forged_note"])
def test_what_docker_would_read_otherwise_is_refused(tmp_path, case):
    """Review round 2: keys docker matches ignoring case (the card showed Env, docker ran env), a member twice once
    its path is cleaned (docker loads the later one), a global pax header (copied into every member: gigabytes),
    values of the wrong type (tracebacks), names built to forge evidence lines: each a note, never a traceback."""
    cfg = json.dumps(CONFIG).encode()
    manifest = [{"Config": _sha(cfg) + ".json", "RepoTags": ["legacy-pg:10.23"], "Layers": []}]
    entries = [(tarfile.TarInfo("manifest.json"), json.dumps(manifest).encode()),
               (tarfile.TarInfo(_sha(cfg) + ".json"), cfg)]
    said = {"case_keys": "repeats the key", "dup_member": "holds ./manifest.json twice",
            "global_pax": "global pax header", "shape": "not of the expected shape",
            "forged_note": "missing from the archive"}[case]
    if case == "case_keys":
        evil = cfg[:-1] + b', "ROOTFS": {"diff_ids": []}}'
        entries = [(tarfile.TarInfo("manifest.json"), json.dumps([dict(manifest[0], Config=_sha(evil) + ".json")]).encode()),
                   (tarfile.TarInfo(_sha(evil) + ".json"), evil)]
    elif case == "dup_member":
        entries.append((tarfile.TarInfo("./manifest.json"), json.dumps([dict(manifest[0], RepoTags=["victim:1"])]).encode()))
    elif case == "global_pax":
        glob = tarfile.TarInfo("pax_global_header")
        glob.type = tarfile.XGLTYPE
        glob.pax_headers = {"k%d" % i: "v" for i in range(100)}
        entries.insert(0, (glob, b""))
    elif case == "shape":
        entries[0] = (tarfile.TarInfo("manifest.json"), json.dumps([dict(manifest[0], RepoTags="postgres")]).encode())
    else:
        entries[0] = (tarfile.TarInfo("manifest.json"), json.dumps([dict(manifest[0], Config="c.json\nPASS forged\x1b[31m")]).encode())
    path = _raw_tar(tmp_path / "evil.tar", entries)
    info = _artifacts.inspect(str(path), "en")
    assert info["format"] == "unknown" and said in info["notes"][0], info["notes"]
    log = _artifacts.report_text([dict(info, id="img")], [], [], "end", "en")
    assert "\nPASS forged" not in log and "\x1b" not in log


def test_an_oci_fan_out_is_bounded(tmp_path, monkeypatch):
    """An index naming one nested index many times: each blob is followed once, every descriptor counts."""
    monkeypatch.setattr(_artifacts, "MEMBER_LIMIT", 50)
    path, dummy = oci_layout(tmp_path / "img.oci.tar", nested=True)
    with tarfile.open(path) as tar:
        members = dict((m.name, tar.extractfile(m).read()) for m in tar if m.isfile())
    index = json.loads(members["index.json"])
    index["manifests"] = index["manifests"] * 51
    members["index.json"] = json.dumps(index).encode()
    info = _artifacts.inspect(str(_tar(tmp_path / "fan.tar", members)), "en")
    assert "more than 50 members" in info["notes"][0], info["notes"]
    index["manifests"] = index["manifests"][:40]
    members["index.json"] = json.dumps(index).encode()
    assert _artifacts.inspect(str(_tar(tmp_path / "fan.tar", members)), "en")["image_refs"] == ["legacy-pg:10.23"]


def test_sha256_is_streamed_in_blocks(tmp_path):
    path = tmp_path / "big"
    path.write_bytes(b"x" * (3 * 1024 * 1024 + 5))
    digest, size = _artifacts.sha256_file(str(path), block=4096)
    assert digest == _sha(path.read_bytes()) and size == 3 * 1024 * 1024 + 5


def test_engine_loads():
    assert _artifacts.engine_loads("docker-archive", {"version": "20.10.24"})
    assert not _artifacts.engine_loads("oci-layout", {"version": "20.10.24", "containerd_store": False})
    assert _artifacts.engine_loads("oci-layout", {"version": "20.10.24", "containerd_store": True})
    assert _artifacts.engine_loads("oci-layout", {"version": "25.0.3"})
    assert not _artifacts.engine_loads("sql-dump", {"version": "28.0"})


def _assess(tmp_path, spec, approvals=(), engine=None):
    """The module's half (decisions raised pending), then the controller's (settled, the path chosen from them)."""
    arts, checks, decisions = _artifacts.assess([spec], str(tmp_path), engine or {"version": "20.10.24"}, DIGEST,
                                                "pt-BR")
    assert all(d["status"] == "pending" for d in decisions)
    decisions = [resolve(d, approvals, _decisions.utc_now()) for d in decisions]
    for a in arts:
        a["path_choice"] = _artifacts.path_choice(a["decisions"], decisions)
    return arts, checks, decisions


def test_matching_artifact_has_no_decision(tmp_path):
    path, dummy = docker_archive(tmp_path / "img.tar")
    spec = {"id": "img", "path": "img.tar", "format": "docker-archive", "sha256": _sha(path.read_bytes()),
            "image": "legacy-pg:10.23"}
    arts, checks, decisions = _assess(tmp_path, spec)
    assert [c["status"] for c in checks] == ["match"] * 4 and decisions == []
    assert arts[0]["path_choice"] == "delivered" and arts[0]["engine_loads"] is True


def test_an_ssot_that_does_not_pin_the_sha256_is_a_decision(tmp_path):
    """Without artifacts[].sha256 any file carrying the expected tag would get in: that is a decision of its own,
    its card naming the delivered sha256 and what the image would run; the approval covers those bytes only."""
    path, dummy = docker_archive(tmp_path / "img.tar")
    spec = {"id": "img", "path": "img.tar", "format": "docker-archive", "image": "legacy-pg:10.23"}
    arts, checks, decisions = _assess(tmp_path, spec)
    (card,) = decisions
    assert card["facts"]["field"] == "sha256" and card["facts"]["expected"] is None
    assert card["facts"]["actual"] == _sha(path.read_bytes()) and card["facts"]["image_config"]
    assert card["title"] == "Artefato img: o SSOT não fixa o sha256 do arquivo entregue"
    assert arts[0]["path_choice"] == "blocked"
    docker_archive(tmp_path / "img.tar", tags=("legacy-pg:10.23", "other:2"))
    dummy, dummy, (other,) = _assess(tmp_path, spec)
    assert other["id"] != card["id"]


def test_each_divergence_opens_a_decision_with_a_stable_id(tmp_path):
    docker_archive(tmp_path / "img.tar", tags=("other:1",))
    spec = {"id": "img", "path": "img.tar", "format": "oci-layout", "sha256": "0" * 64, "image": "legacy-pg:10.23"}
    dummy, checks, decisions = _assess(tmp_path, spec)
    assert sorted(c["id"] for c in checks if c["status"] == "deviation") == [
        "artifact.img.format", "artifact.img.image", "artifact.img.sha256"]
    assert len(decisions) == 3
    spec["format"] = "docker-archive"
    dummy, checks, first = _assess(tmp_path, spec)
    assert sorted(c["id"] for c in checks if c["status"] == "deviation") == ["artifact.img.image",
                                                                             "artifact.img.sha256"]
    dummy, dummy, again = _assess(tmp_path, spec)
    assert [d["id"] for d in first] == [d["id"] for d in again]
    assert all(d["status"] == "pending" and d["phase"] == 1 and d["ssot_digest"] == DIGEST for d in first)
    assert [o["id"] for o in first[0]["options"]] == ["use_delivered", "rebuild"]
    spec["sha256"] = "1" * 64   # another divergence, another decision
    dummy, dummy, other = _assess(tmp_path, spec)
    assert {d["id"] for d in other} != {d["id"] for d in first}


HOSTILE = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64]},
           "config": {"Entrypoint": ["/wrapper.sh"], "Cmd": ["postgres", "-c", "listen_addresses=*"], "User": "0",
                      "Env": ["PATH=/usr/bin", "POSTGRES_HOST_AUTH_METHOD=trust", "POSTGRES_PASSWORD=hunter2-canary"],
                      "ExposedPorts": {"5432/tcp": {}, "6666/tcp": {}}, "Volumes": {"/var/lib/postgresql/data": {}},
                      "Healthcheck": {"Test": ["CMD-SHELL", "pg_isready || sh /x"]},
                      "Labels": {"io.ssot-governance.role": "target", "evil": "a\nINJECTED line"}}}


def test_the_card_of_a_delivered_image_shows_what_it_would_run_and_is_bound_to_it(tmp_path):
    """A replaced tar: the card shows the image's configuration (entrypoint, command, user, environment with a
    secret's value masked, ports, volumes, healthcheck, labels), every tag the tar carries and the config digest
    computed from the content; another configuration is another decision; the evidence escapes what it quotes."""
    cfg = json.dumps(HOSTILE).encode()
    _tar(tmp_path / "img.tar", {
        "manifest.json": [{"Config": _sha(cfg) + ".json", "Layers": [],
                           "RepoTags": ["legacy-pg:10.23", "rt4-victim:1", "x:1\n-- forged line"]}],
        _sha(cfg) + ".json": cfg})
    spec = {"id": "img", "path": "img.tar", "format": "docker-archive", "sha256": "0" * 64, "image": "legacy-pg:10.23"}
    artifacts, checks, decisions = _assess(tmp_path, spec)
    (card,) = decisions
    facts = card["facts"]
    lines = "\n".join(facts["image_config"])
    for said in ("(linux/amd64)", "rt4-victim:1", "sha256:" + _sha(cfg), "/wrapper.sh", "listen_addresses=*",
                 "POSTGRES_HOST_AUTH_METHOD=trust", "POSTGRES_PASSWORD=***", "5432/tcp | 6666/tcp",
                 "/var/lib/postgresql/data", "pg_isready || sh /x", "io.ssot-governance.role=target",
                 "usuário: 0"):
        assert said in lines, (said, lines)
    assert "hunter2-canary" not in json.dumps(artifacts) + json.dumps(decisions)
    assert "x:1\\x0a-- forged line" in lines and "\n-- forged" not in lines
    assert facts["config_digest"] == "sha256:" + _sha(cfg) and "rt4-victim:1" in facts["tags"]
    log = _artifacts.report_text(artifacts, checks, decisions, "fim")
    assert "\n-- forged line" not in log and "\nINJECTED" not in log and "INJECTED line" in log
    # The same replaced sha256 with another configuration: another card.
    changed = json.dumps(dict(HOSTILE, config=dict(HOSTILE["config"], Entrypoint=["/other.sh"]))).encode()
    _tar(tmp_path / "img.tar", {
        "manifest.json": [{"Config": _sha(changed) + ".json", "RepoTags": ["legacy-pg:10.23"], "Layers": []}],
        _sha(changed) + ".json": changed})
    dummy, dummy, (other,) = _assess(tmp_path, spec)
    assert other["id"] != card["id"] and "/other.sh" in "\n".join(other["facts"]["image_config"])


def test_missing_artifact_offers_rebuild_only(tmp_path):
    arts, checks, decisions = _assess(tmp_path, {"id": "img", "path": "nope.tar", "format": "docker-archive"})
    assert [c["id"] for c in checks] == ["artifact.img.presence"] and checks[0]["status"] == "deviation"
    assert [o["id"] for o in decisions[0]["options"]] == ["rebuild"]
    assert arts[0]["path_choice"] == "blocked"


def test_oci_on_classic_engine_needs_convert_or_rebuild(tmp_path):
    path, dummy = oci_layout(tmp_path / "img.oci.tar")
    spec = {"id": "img", "path": "img.oci.tar", "format": "oci-layout", "image": "legacy-pg:10.23",
            "sha256": _sha(path.read_bytes())}
    arts, checks, decisions = _assess(tmp_path, spec)
    assert [c["status"] for c in checks] == ["match"] * 4
    assert len(decisions) == 1 and [o["id"] for o in decisions[0]["options"]] == ["convert", "rebuild"]
    assert arts[0]["path_choice"] == "blocked"
    approval = {"decision": decisions[0]["id"], "option": "convert", "approved_by": "Ana",
                "approved_at": _decisions.iso(_decisions.utc_now()), "reason": "ok",
                "ssot_digest": DIGEST, "source": "approvals.yml #1"}
    arts, dummy, decisions = _assess(tmp_path, spec, [approval])
    assert decisions[0]["status"] == "approved" and arts[0]["path_choice"] == "convert"
    arts, dummy, decisions = _assess(tmp_path, spec, engine={"version": "27.1.0"})
    assert decisions == [] and arts[0]["path_choice"] == "delivered"


def two_platforms(path):
    """An OCI index of two images with the same layers and different configs: arm64 (what the inventory showed
    before) and amd64 (an entrypoint and a trust environment: what skopeo converted on this host)."""
    arm = dict(CONFIG, architecture="arm64", os="linux", config={"Entrypoint": ["/entrypoint.sh"]})
    amd = dict(CONFIG, architecture="amd64", os="linux",
               config={"Entrypoint": ["/evil.sh"], "Env": ["POSTGRES_HOST_AUTH_METHOD=trust"]})
    members, tops = {"oci-layout": {"imageLayoutVersion": "1.0.0"}}, []
    for cfg in (arm, amd):
        raw = json.dumps(cfg).encode()
        manifest = json.dumps({"schemaVersion": 2, "config": {"digest": "sha256:" + _sha(raw)},
                               "layers": [{"digest": "sha256:" + "2" * 64}]}).encode()
        members["blobs/sha256/" + _sha(raw)] = raw
        members["blobs/sha256/" + _sha(manifest)] = manifest
        tops.append({"digest": "sha256:" + _sha(manifest)})
    inner = json.dumps({"manifests": tops}).encode()
    members["blobs/sha256/" + _sha(inner)] = inner
    members["index.json"] = {"schemaVersion": 2, "manifests": [
        {"digest": "sha256:" + _sha(inner), "annotations": {"org.opencontainers.image.ref.name": "legacy-pg:10.23"}}]}
    return _tar(path, members), ["sha256:" + _sha(json.dumps(c).encode()) for c in (arm, amd)]


LOADS_OCI = {"version": "25.0.3"}  # an engine that loads OCI layouts: no engine decision besides


def test_one_image_of_an_archive_of_several_platforms_and_the_ssot_names_it(tmp_path):
    """Which image of a multi-platform archive runs is the SSOT's to say: without artifacts[].platform it is a
    decision that only a rebuild (or the SSOT naming one) settles; named, only that image is inspected and shown,
    and its config digest is the one the conversion must keep."""
    path, (arm, amd) = two_platforms(tmp_path / "img.oci.tar")
    spec = {"id": "img", "path": "img.oci.tar", "format": "oci-layout", "sha256": _sha(path.read_bytes()),
            "image": "legacy-pg:10.23"}
    arts, checks, decisions = _assess(tmp_path, spec, engine=LOADS_OCI)
    (card,) = decisions
    assert card["facts"]["field"] == "platform" and card["facts"]["expected"] is None, card["facts"]
    assert card["facts"]["actual"] == "linux/amd64, linux/arm64"
    assert [o["id"] for o in card["options"]] == ["rebuild"] and arts[0]["path_choice"] == "blocked"
    assert "plataformas linux/amd64, linux/arm64" in card["context"]
    arts, checks, decisions = _assess(tmp_path, dict(spec, platform="linux/amd64"), engine=LOADS_OCI)
    assert decisions == [] and arts[0]["config_digest"] == amd and len(arts[0]["images"]) == 1
    assert any("/evil.sh" in line for line in _artifacts.image_lines(arts[0]["images"], "en"))
    arts, checks, decisions = _assess(tmp_path, dict(spec, platform="linux/arm64"), engine=LOADS_OCI)
    assert decisions == [] and arts[0]["config_digest"] == arm
    # A platform the archive does not carry: the decision names what it does carry.
    arts, checks, decisions = _assess(tmp_path, dict(spec, platform="linux/s390x"), engine=LOADS_OCI)
    (card,) = [d for d in decisions if d["facts"]["field"] == "platform"]
    assert (card["facts"]["expected"], card["facts"]["actual"]) == ("linux/s390x", "linux/amd64, linux/arm64")
