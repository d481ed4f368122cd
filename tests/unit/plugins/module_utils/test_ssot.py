"""SSOT loading, validation, normalization and digest (module_utils/_ssot.py)."""

from __future__ import annotations

import re

import yaml
from pathlib import Path

import pytest

from ansible_collections.ssot.governance.plugins.module_utils import _ssot

ROOT = Path(__file__).resolve().parents[4]
CORPUS = ROOT / "tests" / "unit" / "ssot_corpus"
EXPECT = re.compile(r"^# expect: (\S+)(?: (?!line \d)(.+?))?(?: line (\d+))?$")

VALID = """\
schema_version: 1
metadata: {name: ok}
target:
  container: c1
  image: "legacy-pg:10.23"
  ports: [{host: 55432}]
  env: {POSTGRES_PASSWORD: {env: SSOT_PG_PASSWORD}, TZ: UTC}
postgres:
  major: "10"
  settings: {wal_level: replica}
"""


def write(tmp_path, content, name="ssot.yml"):
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return str(p)


def expectations(path: Path):
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = EXPECT.match(line)
        if m:
            found.append((m.group(1), m.group(2), int(m.group(3)) if m.group(3) else None))
    return found


# Each case is a file as an operator might write it (YAML or JSON, mostly broken), named <case>.<yml|json>.case so
# that no linter (yamllint in ansible-test sanity, ansible-lint) reads the broken ones as the project's own YAML.
CORPUS_FILES = sorted(CORPUS.iterdir())


def test_the_corpus_is_big_enough():
    assert len(CORPUS_FILES) >= 38
    assert [p.name for p in CORPUS_FILES if not p.name.endswith((".yml.case", ".json.case"))] == []


@pytest.mark.parametrize("path", CORPUS_FILES, ids=[p.name for p in CORPUS_FILES])
def test_malformed_ssot_gives_its_message(path):
    wanted = expectations(path)
    assert wanted, f"{path.name} has no '# expect:' line"
    with pytest.raises(_ssot.SSOTError) as err:
        _ssot.load_valid(str(path))
    got = [(p.key, _ssot.pointer_text(p.path), p.line) for p in err.value.problems]
    for code, pointer, line in wanted:
        matches = [g for g in got if g[0] == code and (pointer is None or g[1] == pointer)]
        assert matches, f"{path.name}: expected {code} at {pointer}, got {got}"
        if line is not None:
            assert matches[0][2] == line, f"{path.name}: {code} at line {matches[0][2]}, expected {line}"
    for lang in ("pt-BR", "en"):
        text = err.value.render(lang)
        assert path.name in text and "Traceback" not in text
        for hidden in re.findall(r"^# not-in-message: (\S+)$", path.read_text(encoding="utf-8"), re.M):
            assert hidden not in text
            assert all(hidden not in p.as_dict(lang, path.name)["message"] for p in err.value.problems)


@pytest.mark.parametrize("content, code", [
    ("", "ssot.load.empty"),
    ("   \n# only a comment\n", "ssot.load.empty"),
    (b"\x00\x01binary\x02", "yaml.binary"),
    (b"caf\xe9: 1\n", "yaml.not_utf8"),
])
def test_unusable_files(tmp_path, content, code):
    with pytest.raises(_ssot.SSOTError) as err:
        _ssot.load_valid(write(tmp_path, content))
    assert [p.key for p in err.value.problems] == [code]


def test_a_50_mb_file_is_refused_without_reading_it(tmp_path):
    p = tmp_path / "ssot.yml"
    with open(p, "wb") as fh:
        fh.write(VALID.encode())
        fh.truncate(50 * 1024 * 1024)
    with pytest.raises(_ssot.SSOTError) as err:
        _ssot.load_valid(str(p))
    assert err.value.problems[0].key == "yaml.too_large"
    assert "52428800 bytes" in err.value.render("en")


def test_an_alias_bomb_is_refused(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    with pytest.raises(_ssot.SSOTError) as err:
        _ssot.load_valid(write(tmp_path, "\n".join(lines) + "\n"))
    # Not "too large": the file is small, what it expands to is not.
    assert err.value.problems[0].key == "yaml.too_many_nodes"


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(_ssot.SSOTError, match="not found|não encontrado"):
        _ssot.load_valid(str(tmp_path / "nope.yml"))
    with pytest.raises(_ssot.SSOTError) as err:
        _ssot.load_valid(str(tmp_path))
    assert err.value.problems[0].key == "yaml.not_regular"


def test_valid_ssot_is_normalized_with_defaults(tmp_path):
    out = _ssot.load_valid(write(tmp_path, VALID))
    ssot = out["ssot"]
    assert ssot["metadata"]["language"] == "pt-BR"
    assert ssot["target"]["ports"][0] == {"host": 55432, "bind": "127.0.0.1", "container": 5432}
    assert ssot["target"]["connection"] == {"user": "postgres", "database": "postgres"}
    assert ssot["exposure"]["allowed_binds"] == ["127.0.0.1"]
    assert ssot["snapshot"]["capture"] == ["container_inspect", "image_inspect", "logs", "pg_dumpall"]
    assert ssot["checks"] == [] and ssot["hitl"]["approval_validity"] == "7d"
    assert out["written"]["target"]["ports"][0] == {"host": 55432}, "the written document is kept as is"
    assert out["schema_version"] == 1 and out["language"] == "pt-BR"


def test_digest_ignores_formatting_key_order_and_defaults(tmp_path):
    a = _ssot.load_valid(write(tmp_path, VALID, "a.yml"))
    reordered = ('{"target": {"ports": [{"host": 55432}], "image": "legacy-pg:10.23", "container": "c1", '
                 '"env": {"TZ": "UTC", "POSTGRES_PASSWORD": {"env": "SSOT_PG_PASSWORD"}}}, '
                 '"postgres": {"settings": {"wal_level": "replica"}, "major": "10"}, '
                 '"metadata": {"name": "ok"}, "schema_version": 1}')
    b = _ssot.load_valid(write(tmp_path, "# a comment\n" + reordered, "b.json"))
    assert a["digest"] == b["digest"]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", a["digest"])
    c = _ssot.load_valid(write(tmp_path, VALID.replace("replica", "logical"), "c.yml"))
    assert c["digest"] != a["digest"]


def test_language_follows_the_ssot_and_the_override(tmp_path):
    bad = VALID.replace("metadata: {name: ok}", "metadata: {name: ok, language: en}").replace("55432", "0")
    with pytest.raises(_ssot.SSOTError) as err:
        _ssot.load_valid(write(tmp_path, bad))
    assert "is below the minimum 1" in str(err.value)
    with pytest.raises(_ssot.SSOTError) as err:
        _ssot.load_valid(write(tmp_path, bad), language="pt-BR")
    assert "é menor que o mínimo 1" in str(err.value)


def test_example_ssot_is_valid_once_prepared(tmp_path):
    text = (ROOT / "examples" / "legacy-pg" / "ssot.yml").read_text(encoding="utf-8")
    with pytest.raises(_ssot.SSOTError) as err:
        _ssot.load_valid(write(tmp_path, text))
    assert [p.key for p in err.value.problems] == ["ssot.schema.pattern"], "only the sha256 placeholder is left"
    assert "sha256sum" in err.value.render()
    out = _ssot.load_valid(write(tmp_path, text.replace("@@DELIVERED_SHA256@@", "0" * 64)))
    assert out["ssot"]["target"]["container"] == "legacy-pg-demo"
    # Who signs is the trust root's (outside the workspace): the example names no signers and no requirement.
    assert "allowed_signers" not in out["ssot"]["hitl"] and "require_signatures" not in out["ssot"]["hitl"]


@pytest.mark.parametrize("hitl, problem", [
    ({"allowed_signers": "missing_signers"}, "ssot.check.signers_unreadable"),
    ({"allowed_signers": "."}, "ssot.check.signers_unreadable"),
    ({"allowed_signers": "/etc/ssh/allowed_signers"}, "ssot.check.path_outside"),
])
def test_signature_settings_that_cannot_work_are_refused_at_load(tmp_path, hitl, problem):
    doc = yaml.safe_load((ROOT / "examples" / "legacy-pg" / "ssot.yml").read_text(encoding="utf-8"))
    doc["artifacts"][0]["sha256"] = "0" * 64
    doc["hitl"] = dict(hitl)
    with pytest.raises(_ssot.SSOTError) as err:
        _ssot.load_valid(write(tmp_path, yaml.safe_dump(doc)))
    assert problem in [p.key for p in err.value.problems], err.value.render()


def test_a_narrowing_signers_file_with_a_pattern_is_refused_at_load(tmp_path):
    doc = yaml.safe_load((ROOT / "examples" / "legacy-pg" / "ssot.yml").read_text(encoding="utf-8"))
    doc["artifacts"][0]["sha256"] = "0" * 64
    doc["hitl"]["allowed_signers"] = "allowed_signers"
    (tmp_path / "allowed_signers").write_text('* namespaces="approval@ssot.governance" ssh-ed25519 AAAA\n')
    with pytest.raises(_ssot.SSOTError) as err:
        _ssot.load_valid(write(tmp_path, yaml.safe_dump(doc)))
    assert "ssot.check.signers_unreadable" in [p.key for p in err.value.problems]
    assert "linha 1" in err.value.render()


def with_artifact(text):
    doc = yaml.safe_load(text)
    doc["artifacts"] = [{"id": "img", "path": "delivered/img.tar", "format": "docker-archive"}]
    return doc


@pytest.mark.parametrize("edit", [
    lambda d: d["artifacts"][0].update(path="/etc/shadow"),
    lambda d: d["artifacts"][0].update(path="../../etc/passwd"),
    lambda d: d.update(snapshot={"destination": "../elsewhere"}),
    lambda d: d.update(snapshot={"destination": "/tmp"}),
    lambda d: d["target"].update(volumes=[{"source": "/etc", "target": "/mnt/etc"}]),
    lambda d: d.update(sources=[{"id": "s", "kind": "dump", "path": "~/dump.sql"}]),
])
def test_paths_outside_the_workspace_are_refused(tmp_path, edit):
    doc = with_artifact(VALID)
    edit(doc)
    with pytest.raises(_ssot.SSOTError) as err:
        _ssot.load_valid(write(tmp_path, yaml.safe_dump(doc)))
    assert [p.key for p in err.value.problems] == ["ssot.check.path_outside"], err.value.render("en")
    assert "paths.allowed_roots" in err.value.render("en")


def test_a_link_inside_the_workspace_is_followed_before_judging(tmp_path):
    (tmp_path / "delivered").mkdir()
    (tmp_path / "delivered" / "img.tar").symlink_to("/etc/passwd")
    doc = with_artifact(VALID)
    doc["artifacts"][0]["path"] = "delivered/img.tar"
    with pytest.raises(_ssot.SSOTError) as err:
        _ssot.load_valid(write(tmp_path, yaml.safe_dump(doc)))
    assert err.value.problems[0].key == "ssot.check.path_outside"


def test_allowed_roots_and_named_volumes_are_accepted(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    ws = tmp_path / "ws"
    ws.mkdir()
    doc = with_artifact(VALID)
    doc["artifacts"][0]["path"] = str(store / "img.tar")
    doc["paths"] = {"allowed_roots": [str(store)]}
    doc["target"]["volumes"] = [{"source": "pgdata", "target": "/var/lib/postgresql/data"}]
    doc["snapshot"] = {"destination": "snapshots/sub"}
    assert _ssot.load_valid(write(ws, yaml.safe_dump(doc)))["ssot"]["paths"]["allowed_roots"] == [str(store)]


@pytest.mark.parametrize("content", [
    "schema_version: 1\nmetadata: {name: x, language: [pt-BR, en]}\n",
    "schema_version: 1\nmetadata: {name: x, language: {a: 1}}\n",
    "schema_version: 1\nmetadata: {name: x}\npostgres: {major: %s}\n" % ("9" * 5000),
    "schema_version: %s\n" % ("1" * 4400),
    "schema_version: 1\nmetadata: {name: x, created: 99999-01-01}\n",
])
def test_odd_values_are_problems_not_tracebacks(tmp_path, content):
    with pytest.raises(_ssot.SSOTError) as err:
        _ssot.load_valid(write(tmp_path, content))
    assert err.value.render("en") and "Traceback" not in err.value.render("en")


BAD_BIG = {
    "many small nodes": "schema_version: 1\nx: [" + ",".join(["1"] * 400000) + "]\n",
    "one long list of strings": "schema_version: 1\nx:\n" + "".join("  - item%06d\n" % i for i in range(70000)),
    "deep brackets": "x: " + "[" * 300000 + "]" * 300000 + "\n",
    "deep mappings": "".join("  " * i + "k%d:\n" % i for i in range(2000)),
    "alias fan-out": "a: &a [" + ",".join(["x"] * 300) + "]\nb: [" + ",".join(["*a"] * 3000) + "]\n",
}


@pytest.mark.parametrize("name", sorted(BAD_BIG))
def test_large_bad_inputs_are_refused_quickly_with_the_right_reason(tmp_path, name):
    import subprocess
    import sys
    path = write(tmp_path, BAD_BIG[name][:_ssot.MAX_SSOT_BYTES])
    script = ("import sys, time; from ansible_collections.ssot.governance.plugins.module_utils import _ssot\n"
              "t = time.time()\ntry:\n _ssot.load_valid(sys.argv[1])\nexcept _ssot.SSOTError as e:\n"
              " print(e.problems[0].key, round(time.time() - t, 1))\n")
    env = dict(__import__("os").environ, PYTHONPATH=__import__("os").pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, "-c", script, path], capture_output=True, text=True, timeout=30, env=env,
                          check=False)  # pure-Python YAML takes ~9 s on 400,000 nodes here; a bomb would take hours
    assert proc.returncode == 0, proc.stderr[-2000:]
    key, seconds = proc.stdout.split()
    assert key in ("yaml.too_many_nodes", "yaml.too_deep", "yaml.too_large", "yaml.syntax", "ssot.schema.additional"
                   ), proc.stdout
