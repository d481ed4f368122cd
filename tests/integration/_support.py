"""Integration helpers and fixtures: a real Docker engine, the real legacy-pg image, real playbook runs.

Nothing here is mocked. When the engine does not answer the tests fail (they
are never skipped): run them through `make test`, which starts one.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import build_pg_image
import init_workspace
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
CACHE = Path(os.environ.get("SSOT_CACHE", ROOT / ".cache"))
PASSWORD = "it-" + secrets.token_urlsafe(12)
IMAGE = "legacy-pg:10.23"
# The suite's default trust root (docs/security.md), outside every workspace: the controller's administrator lets
# plain (unsigned) approvals count here. Tests of signatures, seals and the root itself give their own.
UNSIGNED_ROOT = Path(tempfile.mkdtemp(prefix="ssot-it-root-")) / "trust.yml"
UNSIGNED_ROOT.write_text("# The integration suite's trust root: unsigned approvals count, runs need no seal.\n"
                         "require_signatures: false\nrequire_seals: false\n")


def rollback_point(ws: Workspace | Path, subject: str) -> dict:
    """The rollback point a run recorded for ``subject``, read as the collection reads it: from the journal lines
    the trust root lets the controller act on."""
    from ansible_collections.ssot.governance.plugins.plugin_utils import _trust, _verified
    wpath = str(getattr(ws, "path", ws))
    rules = _trust.rules_for({}, wpath, wpath, "en", environ={"SSOT_TRUST_ROOT": str(UNSIGNED_ROOT)})
    point = _verified.Journal(wpath, rules, "en").rollback(subject)["point"]
    assert point is not None, f"no trusted rollback point for {subject} in {wpath}"
    return point["data"]


def docker(*args, check=True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], check=check, text=True, capture_output=True, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Workspace:
    path: Path
    container: str
    port: int
    doc: dict = field(default_factory=dict)

    def evidence(self, suffix: str) -> list[Path]:
        return sorted(self.path.glob(f"evidence/*/*-validate-{self.container}{suffix}"),
                      key=lambda p: (p.parent.name, p.name))

    def latest_result(self) -> dict:
        found = self.evidence(".json")
        assert found, f"no validation evidence under {self.path}"
        return json.loads(found[-1].read_text())


# Server images of the test matrix: build flavor -> the major the SSOT expects.
MATRIX = {"legacy-pg-10.23": "10", "pg-15": "15"}
# Every image the suite builds (the fleet tests add a second legacy major).
MAJORS = dict(MATRIX, **{"legacy-pg-12.22": "12"})


def write_workspace(path: Path, info: dict, container: str, port: int, edit=None) -> Workspace:
    init_workspace.init(path, ROOT / "examples" / "legacy-pg", info)
    doc = yaml.safe_load((path / "ssot.yml").read_text())
    # Signed approvals have their own tests (test_signed.py), which name their allowed signers; the rest of the
    # suite approves with plain entries.
    doc["hitl"].pop("allowed_signers", None)
    doc["target"]["container"] = container
    doc["target"]["ports"][0]["host"] = port
    # The example's deliberate deviation (work_mem) is the demo's HITL story; tests that want it add it back.
    doc["postgres"]["settings"].pop("work_mem", None)
    if info.get("flavor", "legacy-pg-10.23") != "legacy-pg-10.23":
        # Another server of the matrix: the SSOT names its tar, image and major.
        doc["artifacts"][0].update(path=f"delivered/{Path(info['docker_archive']).name}",
                                   sha256=info["docker_archive_sha256"], image=info["image"])
        doc["target"]["image"] = info["image"]
        doc["postgres"]["major"] = MAJORS[info["flavor"]]
    if edit:
        edit(doc)
    (path / "ssot.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return Workspace(path, container, port, doc)


def playbook_env(wpath: Path, collections_path: Path | None = None, env_extra=None) -> dict:
    """The environment a playbook of the suite runs with (the workspace's ansible.cfg, the test password)."""
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(collections_path or ROOT / ".collections"),
        "ANSIBLE_CONFIG": str(wpath / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "SSOT_PG_PASSWORD": PASSWORD,
        "SSOT_TRUST_ROOT": str(UNSIGNED_ROOT),
        "PATH": f"{VENV_BIN}:{env.get('PATH', '')}",
    })
    env.update(env_extra or {})
    return env


def run_playbook(name: str, ws: Workspace | Path, collections_path: Path | None = None, extra_args=(),
                 env_extra=None) -> subprocess.CompletedProcess:
    wpath = ws.path if isinstance(ws, Workspace) else ws
    env = playbook_env(wpath, collections_path, env_extra)
    return subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), name, "-e", f"ssot_workspace={wpath}", *extra_args],
        # No terminal: a run of the suite never stops at a HITL prompt, whatever runs it.
        cwd=wpath, env=env, text=True, capture_output=True, timeout=600, stdin=subprocess.DEVNULL,
        check=False,
    )


def run_runner(ws: Workspace | Path, tmp_path: Path, playbook="ssot.governance.modify", tags="modify",
               extravars=None, cmdline="", env_extra=None):
    """ansible-playbook through ansible-runner, the way AWX launches a job template (no terminal)."""
    import ansible_runner
    wpath = ws.path if isinstance(ws, Workspace) else ws
    data = tmp_path / f"runner-{tags or 'all'}-{datetime.datetime.now().strftime('%H%M%S%f')}"
    (data / "project").mkdir(parents=True)
    (data / "project" / "site.yml").write_text(f"- ansible.builtin.import_playbook: {playbook}\n")
    env = {"ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".collections"), "ANSIBLE_CONFIG": str(wpath / "ansible.cfg"),
           "SSOT_PG_PASSWORD": PASSWORD, "SSOT_TRUST_ROOT": str(UNSIGNED_ROOT),
           "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}"}
    env.update(env_extra or {})
    r = ansible_runner.run(private_data_dir=str(data), playbook="site.yml",
                           cmdline=(f"--tags {tags} " if tags else "") + cmdline, envvars=env,
                           extravars=dict({"ssot_workspace": str(wpath)}, **(extravars or {})), quiet=True, timeout=300)
    out = r.stdout.read()
    assert r.status != "timeout", "ansible-runner waited: a run without a terminal must never wait\n" + out[-3000:]
    return r.rc, out


def spawn_playbook(ws: Workspace | Path, args, env_extra=None, drop=()):
    """ansible-playbook on a real pseudo-terminal, as an operator at a shell (no CI, AWX or runner markers)."""
    import pexpect
    wpath = ws.path if isinstance(ws, Workspace) else ws
    env = {k: v for k, v in os.environ.items() if k not in (
        "CI", "AWX_HOST", "AWX_ISOLATED_DATA_DIR", "SSOT_NONINTERACTIVE", "ANSIBLE_STDOUT_CALLBACK") + tuple(drop)}
    env.update({"ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".collections"), "ANSIBLE_CONFIG": str(wpath / "ansible.cfg"),
                "SSOT_PG_PASSWORD": PASSWORD, "SSOT_TRUST_ROOT": str(UNSIGNED_ROOT), "ANSIBLE_NOCOLOR": "1",
                "PATH": f"{VENV_BIN}:{env.get('PATH', '')}"})
    env.update(env_extra or {})
    child = pexpect.spawn(str(VENV_BIN / "ansible-playbook"), list(args), cwd=str(wpath), env=env, encoding="utf-8",
                          timeout=180, dimensions=(50, 200))
    child.logfile_read = sys.stdout
    return child


@contextlib.contextmanager
def ssh_agent(folder: Path, *keys):
    """A real ssh-agent on a socket in ``folder`` holding ``keys``; yields the socket path."""
    sock = folder / f"agent-{uuid.uuid4().hex[:8]}.sock"
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        for dummy in range(100):
            if sock.exists():
                break
            time.sleep(0.05)
        for key in keys:
            subprocess.run(["ssh-add", str(key)], env=dict(os.environ, SSH_AUTH_SOCK=str(sock)), check=True,
                           capture_output=True)
        yield str(sock)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def tmpfs(folder: Path, size: str):
    """A real small file system mounted at ``folder`` (created) for the test's duration (the suite runs as root)."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True, check=False)
    assert mounted.returncode == 0, "cannot mount a tmpfs (the suite runs as root, as make test does): " + \
        mounted.stderr
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


class Dom(HTMLParser):
    """The DOM chromium serialized after loading the page: elements with their attributes."""

    def __init__(self):
        super().__init__()
        self.elements = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


def explain(proc: subprocess.CompletedProcess) -> str:
    return f"rc={proc.returncode}\n--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-3000:]}"


@pytest.fixture(scope="session")
def docker_engine():
    proc = docker("info", check=False)
    if proc.returncode != 0:
        pytest.fail("no Docker engine answers (docker info failed). Run the suite with `make test`, which "
                    f"installs and starts one.\n{proc.stderr}")
    return True


@pytest.fixture(scope="session")
def legacy_image(docker_engine) -> dict:
    """The built image tar (built once, then cached by its inputs)."""
    return build_pg_image.build("legacy-pg-10.23", CACHE)


@pytest.fixture(scope="session", params=sorted(MATRIX))
def server_image(request, docker_engine) -> dict:
    """Each server of the matrix (PostgreSQL 10.23 legacy, 15 current), built once and cached."""
    return build_pg_image.build(request.param, CACHE)


_BUILT = {}


@pytest.fixture(params=sorted(MATRIX))
def each_server(request, docker_engine) -> dict:
    """Each server of the matrix for one test, as server_image - but a parameter of the test, not of the session:
    pytest regroups the tests of a session parameter across modules, which splits a module and makes its module
    fixtures start twice (the ingest story's containers then collided with themselves)."""
    if request.param not in _BUILT:
        _BUILT[request.param] = build_pg_image.build(request.param, CACHE)
    return _BUILT[request.param]


def psql(container: str, sql: str, db: str = "postgres") -> str:
    """Run SQL inside the container as the image's postgres user (peer auth on the socket)."""
    return docker("exec", container, "psql", "-U", "postgres", "-d", db, "-Atc", sql).stdout.strip()


def start_server(image: str, name: str, password: str | None = None) -> None:
    """Run ``image`` as container ``name`` and wait until its server accepts connections."""
    docker("run", "-d", "--name", name, "-e", f"POSTGRES_PASSWORD={password or secrets.token_urlsafe(12)}", image)
    for dummy in range(60):
        if docker("exec", name, "pg_isready", "-U", "postgres", "-q", check=False).returncode == 0:
            return
        time.sleep(1)
    pytest.fail(f"{name}: the server did not accept connections within 60 s\n{docker('logs', name).stderr[-2000:]}")


def container_file(container: str, path: str) -> bytes:
    """A file of the container, through `docker cp` (the images carry no cat or sha256sum)."""
    import io
    import tarfile
    out = subprocess.run(["docker", "cp", f"{container}:{path}", "-"], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(out)) as tar:
        member = tar.next()
        return tar.extractfile(member).read()


def now_utc() -> str:
    """Now, as approvals write it (a fixed date would expire with the SSOT's approval validity)."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_approvals(ws: Workspace, decisions, option, by="Ana Souza (DBA)") -> None:
    """Approve each decision with ``option`` (or a callable decision -> option) in the workspace."""
    entries = [{"decision": d["id"], "option": option(d) if callable(option) else option, "approved_by": by,
                "approved_at": now_utc(), "reason": "aprovado no teste", "ssot_digest": d["ssot_digest"]}
               for d in decisions]
    (ws.path / "approvals.yml").write_text(yaml.safe_dump({"approvals": entries}, sort_keys=False))


def journal_decisions(wpath: Path, prefix="") -> list[dict]:
    """The decisions the journal recorded (the last record of each id), oldest first."""
    found = {}
    for line in (wpath / "journal.jsonl").read_text().splitlines():
        line = json.loads(line)
        if line["kind"] == "decision" and line["data"]["id"].startswith(prefix):
            found[line["data"]["id"]] = line["data"]
    return list(found.values())


def signed_approval(decision: dict, key: Path, principal: str, option: str, lang="pt-BR", environment=None,
                    host=None, reason="aprovado no teste", **change) -> dict:
    """An approval signed as the approve playbook signs it: bound to the decision's environment and card."""
    from ansible_collections.ssot.governance.plugins.module_utils import _sshsig
    from ansible_collections.ssot.governance.plugins.plugin_utils import _approvals, _card
    environment = environment or decision.get("environment")
    host = host or decision.get("host") or "localhost"
    base = {"decision": decision["id"], "option": option, "environment": environment,
            "card": _card.digest(decision, environment, host, lang), "ssot_digest": decision["ssot_digest"]}
    entry = _approvals.new_entry(base, principal, reason, "7d")
    entry.update(change)
    return _approvals.sign(entry, _sshsig.key_file_blob(str(key)), str(key))


def append_approval(wpath: Path, entry: dict) -> None:
    from ansible_collections.ssot.governance.plugins.plugin_utils import _approvals
    _approvals.append(str(wpath / "approvals.yml"), entry)


def views(ws: Workspace) -> tuple[dict, dict]:
    return (json.loads((ws.path / "runbook.json").read_text()),
            json.loads((ws.path / "project-panel.json").read_text()))


@pytest.fixture(scope="session")
def container_names():
    """Every container a test creates is named here and removed at the end, whatever happened."""
    names: list[str] = []
    yield names
    for name in names:
        docker("rm", "-f", "-v", name, check=False)


@pytest.fixture
def new_container(container_names):
    def make() -> str:
        name = f"ssot-it-{uuid.uuid4().hex[:8]}"
        container_names.append(name)
        return name
    return make


@pytest.fixture(scope="session")
def tools() -> dict:
    return {"ansible-galaxy": str(VENV_BIN / "ansible-galaxy"), "cp": shutil.which("cp")}
