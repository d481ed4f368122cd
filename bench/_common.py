"""Shared by the benchmarks: a real legacy container with a database of a given size, playbook
runs timed and with the memory of their Ansible processes sampled, and the markdown sections of
docs/benchmarks.md. Nothing here is mocked: the benchmarks talk to the real Docker engine.
"""

from __future__ import annotations

import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
CACHE = Path(os.environ.get("SSOT_CACHE", ROOT / ".cache"))
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "tests" / "images")]

import build_pg_image  # noqa: E402
import init_workspace  # noqa: E402

PASSWORD = "bench-" + secrets.token_urlsafe(12)
MiB = 1 << 20


def docker(*args, check=True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], check=check, text=True, capture_output=True, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(container: str, sql: str, db: str = "postgres") -> str:
    return docker("exec", container, "psql", "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-Atc",
                  sql).stdout.strip()


def machine() -> str:
    return f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"


def workspace(path: Path, container: str, edit=None) -> Path:
    """A workspace of the shipped example for ``container`` (legacy-pg 10.23), edited by ``edit(doc)``."""
    info = build_pg_image.build("legacy-pg-10.23", CACHE)
    init_workspace.init(path, ROOT / "examples" / "legacy-pg", info)
    doc = yaml.safe_load((path / "ssot.yml").read_text())
    doc["target"]["container"] = container
    doc["target"]["ports"][0]["host"] = free_port()
    doc["postgres"]["settings"].pop("work_mem", None)   # the demo's deliberate deviation
    doc["hitl"].pop("allowed_signers", None)            # plain approvals, as the earlier figures were measured
    if edit:
        edit(doc)
    (path / "ssot.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


class MemorySampler(threading.Thread):
    """Samples, every ``interval`` s, the Ansible processes under ``pid``: the sum of their PSS (shared pages
    counted once, split between the processes sharing them) and the largest single RSS. Processes of other
    programs (the docker CLI, psql) are left out."""

    def __init__(self, pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_pss = self.peak_rss = 0
        self.samples = 0
        self._halt = threading.Event()

    @staticmethod
    def _children() -> dict[int, list[int]]:
        kids: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(entry))
        return kids

    def _tree(self) -> list[int]:
        kids, out, todo = self._children(), [], [self.pid]
        while todo:
            p = todo.pop()
            out.append(p)
            todo.extend(kids.get(p, []))
        return out

    @staticmethod
    def _ansible(pid: int) -> bool:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return bool(cmd) and (b"python" in os.path.basename(cmd[0]) or any(b"ansible" in c for c in cmd[:2]))

    @staticmethod
    def _memory(pid: int) -> tuple[int, int]:
        pss = rss = 0
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss = int(line.split()[1]) * 1024
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1]) * 1024
        except (OSError, ValueError):
            pass
        return pss, rss

    def run(self):
        while not self._halt.is_set():
            total, largest = 0, 0
            for pid in self._tree():
                if self._ansible(pid):
                    pss, rss = self._memory(pid)
                    total += pss
                    largest = max(largest, rss)
            self.peak_pss, self.peak_rss = max(self.peak_pss, total), max(self.peak_rss, largest)
            self.samples += 1
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join()


def bench_trust_root() -> Path:
    """The benchmarks' trust root (docs/security.md), outside every workspace: plain approvals count, as the earlier
    figures were measured."""
    root = Path(tempfile.gettempdir()) / "ssot-bench-trust.yml"
    root.write_text("require_signatures: false\nrequire_seals: false\n")
    return root


def run_playbook(name: str, ws: Path, extra=(), sample_memory=False, env_extra=None) -> dict:
    """Run a playbook of the collection in workspace ``ws``; wall time and, when asked, peak memory. ``env_extra``:
    more environment (a seal key, another trust root)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_CONFIG=str(ws / "ansible.cfg"),
               ANSIBLE_NOCOLOR="1", SSOT_PG_PASSWORD=PASSWORD, SSOT_NONINTERACTIVE="1",
               SSOT_TRUST_ROOT=str(bench_trust_root()), PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}")
    env.update(env_extra or {})
    start = time.perf_counter()
    proc = subprocess.Popen([str(VENV_BIN / "ansible-playbook"), name, "-e", f"ssot_workspace={ws}", *extra],
                            cwd=ws, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    sampler = MemorySampler(proc.pid) if sample_memory else None
    if sampler:
        sampler.start()
    out = proc.communicate()[0]
    elapsed = time.perf_counter() - start
    if sampler:
        sampler.stop()
    result = {"seconds": elapsed, "rc": proc.returncode, "output": out}
    if sampler:
        result.update(peak_pss=sampler.peak_pss, peak_rss=sampler.peak_rss, samples=sampler.samples)
    return result


def must(result: dict, what: str) -> dict:
    if result["rc"] != 0:
        raise SystemExit(f"{what} failed (rc={result['rc']}):\n{result['output'][-4000:]}")
    return result


def fill(container: str, db: str, target_bytes: int, tables: int = 4, log=print) -> int:
    """Grow database ``db`` to at least ``target_bytes`` (pg_database_size) with rows of about 250 bytes spread
    over ``tables`` tables; what is already there counts. Returns the size reached."""
    if not psql(container, f"SELECT 1 FROM pg_database WHERE datname = '{db}'"):
        psql(container, f"CREATE DATABASE {db}")
    for i in range(tables):
        psql(container, f"CREATE TABLE IF NOT EXISTS bench_{i} (id bigint, created timestamptz, payload text)", db)
    size = int(psql(container, f"SELECT pg_database_size('{db}')"))
    turn = 0
    while size < target_bytes:
        table = f"bench_{turn % tables}"
        batch = max(10_000, min(400_000, (target_bytes - size) // 240 + 1))   # about 240 bytes a row on disk
        psql(container, f"INSERT INTO {table} SELECT g, now(), repeat(md5(g::text), 6) FROM generate_series("
                        f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), (SELECT coalesce(max(id), 0) + {batch} "
                        f"FROM {table})) AS g", db)
        turn += 1
        size = int(psql(container, f"SELECT pg_database_size('{db}')"))
        log(f"  {db}: {size / MiB:,.0f} MiB")
    psql(container, "CHECKPOINT")
    return size


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def write_section(path: Path, name: str, section: str) -> None:
    """Replace (or append) the section between the BEGIN/END markers of ``name`` in ``path``."""
    begin, end = begin_end(name)
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")


def begin_end(name: str) -> tuple[str, str]:
    script = f"bench/{name}.py"
    return f"<!-- BEGIN {name} ({script}) -->", f"<!-- END {name} -->"
