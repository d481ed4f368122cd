"""A module's children stop when ansible-playbook is killed outright (real processes, no mocks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from ansible_collections.ssot.governance.plugins.module_utils import _lifeline


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as fh:
            return fh.read().split(") ")[1].split()[0] != "Z"
    except OSError:
        return False


def test_killing_ansible_playbook_stops_the_module_and_what_it_started(tmp_path):
    pids = tmp_path / "pids"
    module = tmp_path / "module.py"
    module.write_text(textwrap.dedent("""
        import subprocess, sys, time
        from ansible_collections.ssot.governance.plugins.module_utils import _lifeline
        assert _lifeline.start(), "no ansible-playbook found above the module"
        child = subprocess.Popen(["sleep", "300"])
        open(sys.argv[1], "w").write("%d %d" % (__import__("os").getpid(), child.pid))
        time.sleep(300)
    """))
    # A process whose command line is ansible-playbook, which forks a worker (same command line), which runs
    # the module through a shell - the shape of a real run.
    controller = tmp_path / "ansible-playbook"
    controller.write_text(textwrap.dedent("""
        import os, subprocess, sys, time
        if os.fork() == 0:
            subprocess.run(["/bin/sh", "-c", '"$0" "$1" "$2"', sys.executable, sys.argv[1], sys.argv[2]])
            os._exit(0)
        time.sleep(300)
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, str(controller), str(module), str(pids)], env=env)
    try:
        for dummy in range(100):
            if pids.exists() and pids.read_text().strip():
                break
            time.sleep(0.1)
        module_pid, sleep_pid = (int(x) for x in pids.read_text().split())
        assert alive(module_pid) and alive(sleep_pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 10
        while time.time() < deadline and (alive(module_pid) or alive(sleep_pid)):
            time.sleep(0.2)
        assert not alive(sleep_pid), "the module's child outlived the run"
        assert not alive(module_pid), "the module outlived the run"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_no_ansible_playbook_above_means_no_watch():
    assert _lifeline.controller() is None or _lifeline.controller()[0] != os.getpid()
    assert os.getpid() not in _lifeline.descendants(os.getpid())
