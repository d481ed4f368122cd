"""Fleet test hosts: real sshd servers on loopback, one per host, each with a private target folder.

Each host is Debian's ``sshd`` started by the test on a free loopback port with a key pair made for the
run, inside its own mount namespace (``unshare --mount``) where ``/srv/ssot-target`` is that host's own
folder. The same path holds different files on each host and is empty on the controller, as on separate
machines: a module that ran on the controller instead of the target would not find the target's files
(docs/fleet.md). What the hosts share is the Docker engine (one per machine here): each host's
container, port and image tar are its own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from _support import CACHE, MAJORS, PASSWORD, ROOT, UNSIGNED_ROOT, VENV_BIN, docker, free_port, write_workspace

TARGET_ROOT = "/srv/ssot-target"
SSHD = "/usr/sbin/sshd"
# Three majors side by side: the legacy 10.23 image, another legacy major built the same way, and 15.
FLAVORS = ("legacy-pg-10.23", "legacy-pg-12.22", "pg-15")


@dataclass
class Host:
    name: str
    ssh_port: int
    pg_port: int
    container: str
    workspace: Path
    target: Path            # what /srv/ssot-target is on that host (seen from the controller, for the asserts)
    flavor: str
    proc: subprocess.Popen | None = None
    doc: dict = field(default_factory=dict)


def _wait_port(port, proc, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd on port {port} exited: {proc.stderr.read()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"sshd on port {port} did not listen within {timeout} s")


class Fleet:
    """N hosts reached over SSH, each with its own workspace (controller), target folder, container and port."""

    def __init__(self, base: Path, flavors, infos, containers, edit=None):
        self.base = base
        self.hosts: list[Host] = []
        self.keys = base / "keys"
        self.keys.mkdir(parents=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ssot-fleet-test", "-f",
                        str(self.keys / "id")], check=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.keys / "host")], check=True)
        shutil.copy(self.keys / "id.pub", self.keys / "authorized_keys")
        Path("/run/sshd").mkdir(exist_ok=True)
        Path(TARGET_ROOT).mkdir(parents=True, exist_ok=True)
        self.root = base / "fleet"               # the infra repo: inventory, ansible.cfg, the workspaces
        self.root.mkdir()
        for i, flavor in enumerate(flavors, 1):
            name = f"db-legado-{i}"
            host = Host(name, free_port(), free_port(), containers(), self.root / "ws" / name,
                        base / "targets" / name, flavor)
            host.target.mkdir(parents=True)
            host.doc = self._workspace(host, infos[flavor], edit).doc
            self.hosts.append(host)
            self.start(host)
        self.write_inventory()

    def _workspace(self, host, info, edit):
        def ssot(doc):
            doc["target"]["dir"] = TARGET_ROOT
            doc["postgres"]["major"] = MAJORS[host.flavor]
            if edit:
                edit(host, doc)
        return write_workspace(host.workspace, info, host.container, host.pg_port, edit=ssot)

    def start(self, host):
        config = self.base / f"sshd-{host.name}.conf"
        config.write_text("\n".join([
            f"Port {host.ssh_port}", "ListenAddress 127.0.0.1", f"HostKey {self.keys / 'host'}",
            f"PidFile {self.base / ('sshd-' + host.name + '.pid')}",
            f"AuthorizedKeysFile {self.keys / 'authorized_keys'}",
            "PermitRootLogin prohibit-password", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "UsePAM no", "StrictModes no", "Subsystem sftp /usr/lib/openssh/sftp-server", ""]))
        # Its own mount namespace: /srv/ssot-target is this host's folder for every session it serves.
        script = f"mount --bind {host.target} {TARGET_ROOT} && exec {SSHD} -D -e -f {config}"
        host.proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        _wait_port(host.ssh_port, host.proc)

    def write_inventory(self, hosts=None):
        lines = ["[ssot_targets]"]
        for h in hosts or self.hosts:
            lines.append(f"{h.name} ansible_host=127.0.0.1 ansible_port={h.ssh_port}")
        # Each host's workspace from a templated group var, as an infra repo would write it (the recorder templates
        # it per host).
        lines += ["", "[ssot_targets:vars]", "ssot_workspace={{ inventory_dir }}/ws/{{ inventory_hostname }}",
                  "ansible_connection=ssh", "ansible_user=root",
                  f"ansible_ssh_private_key_file={self.keys / 'id'}",
                  "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'",
                  "ansible_python_interpreter=/usr/bin/python3", ""]
        (self.root / "inventory.ini").write_text("\n".join(lines))
        (self.root / "ansible.cfg").write_text("\n".join([
            "[defaults]", "inventory = inventory.ini", "callbacks_enabled = ssot.governance.runbook",
            "retry_files_enabled = false", "host_key_checking = false", "forks = 12", "",
            "[ssh_connection]", "pipelining = true", ""]))
        (self.root / "site.yml").write_text(
            "- ansible.builtin.import_playbook: ssot.governance.provision\n"
            "- ansible.builtin.import_playbook: ssot.governance.validate\n")

    def env(self, extra=None):
        env = dict(os.environ)
        env.update({"ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".collections"),
                    "ANSIBLE_CONFIG": str(self.root / "ansible.cfg"),
                    "ANSIBLE_NOCOLOR": "1", "SSOT_PG_PASSWORD": PASSWORD, "SSOT_TRUST_ROOT": str(UNSIGNED_ROOT),
                    "PATH": f"{VENV_BIN}:{env.get('PATH', '')}"})
        env.pop("SSOT_WORKSPACE", None)
        env.update(extra or {})
        return env

    def argv(self, playbook="site.yml", *args):
        return [str(VENV_BIN / "ansible-playbook"), playbook, *args]

    def run(self, playbook="site.yml", *args, timeout=900):
        return subprocess.run(self.argv(playbook, *args), cwd=self.root, env=self.env(), text=True,
                              capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)

    def spawn(self, playbook="site.yml", *args):
        return subprocess.Popen(self.argv(playbook, *args), cwd=self.root, env=self.env(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)

    def host(self, name) -> Host:
        return next(h for h in self.hosts if h.name == name)

    def journal(self, host):
        import json
        path = host.workspace / "journal.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []

    def close(self):
        for h in self.hosts:
            if h.proc and h.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(h.proc.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    h.proc.wait(timeout=10)
            docker("rm", "-f", "-v", h.container, check=False)


def place_on_target(host: Host, info: dict) -> str:
    """The delivered tar already on the target (artifacts[].location: target): only under that host's folder."""
    src = Path(info["docker_archive"])
    dest = host.target / "delivered" / src.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.link(src, dest) if os.stat(src).st_dev == os.stat(dest.parent).st_dev else shutil.copyfile(src, dest)
    return f"delivered/{src.name}"


def ssot_of(host: Host) -> dict:
    return yaml.safe_load((host.workspace / "ssot.yml").read_text())


def save_ssot(host: Host, doc: dict) -> None:
    (host.workspace / "ssot.yml").write_text(yaml.safe_dump(doc, sort_keys=False))


__all__ = ["CACHE", "FLAVORS", "Fleet", "Host", "TARGET_ROOT", "place_on_target", "save_ssot", "ssot_of"]
