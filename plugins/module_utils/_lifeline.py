# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A module's work stops with the run that started it.

PRIVATE: internal to ssot.governance; its API may change at any time. Stdlib only (Linux /proc).

ansible-playbook runs a module in a worker process forked from itself; when ansible-playbook is
killed outright (kill -9), nothing stops the worker, the module or the pg_dump / pg_restore the
module started - they would go on changing the server with nobody recording it. A module that
starts long work calls ``start()``: a thread watches the ansible-playbook process (the topmost of
its ancestors running ansible-playbook) and, when it is gone, ends every process this module
started (SIGTERM, then SIGKILL) and the module itself. A client killed mid-stream closes the
stream of the ``docker exec`` it drove, so the server-side pg_dump / pg_restore stop as well.
"""

from __future__ import annotations

import os
import signal
import threading
import time

POLL_SECONDS = 0.5


def _stat(pid):
    """(ppid, start time) of ``pid`` from /proc, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as fh:
            raw = fh.read()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[1]), int(fields[19])


def _runs_ansible_playbook(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            args = fh.read().split(b"\0")
    except OSError:
        return False
    return any(os.path.basename(a) == b"ansible-playbook" for a in args[:3])


def controller():
    """(pid, start time) of the ansible-playbook process this module runs under, or None."""
    found = None
    pid = os.getppid()
    for dummy in range(32):
        if pid <= 1:
            break
        info = _stat(pid)
        if info is None:
            break
        if _runs_ansible_playbook(pid):
            found = (pid, info[1])
        elif found is not None:
            break  # above the topmost ansible-playbook (a shell, ansible-runner): stop here
        pid = info[0]
    return found


def descendants(root):
    """Every process below ``root`` (children first in no particular order)."""
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            info = _stat(int(name))
            if info is not None:
                children.setdefault(info[0], []).append(int(name))
    out, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _signal_all(pids, signum):
    for pid in pids:
        try:
            os.kill(pid, signum)
        except OSError:
            pass


def _watch(pid, started, on_death):
    while True:
        time.sleep(POLL_SECONDS)
        info = _stat(pid)
        if info is None or info[1] != started:
            break
    if on_death is not None:
        try:
            on_death()
        except Exception:  # the run is gone; nothing can report this
            pass
    mine = descendants(os.getpid())
    _signal_all(mine, signal.SIGTERM)
    time.sleep(2)
    _signal_all([p for p in mine if _stat(p) is not None], signal.SIGKILL)
    os._exit(1)


def start(on_death=None):
    """Watch the run from a daemon thread; returns False when no ansible-playbook is above this process."""
    found = controller()
    if found is None:
        return False
    watcher = threading.Thread(target=_watch, args=(found[0], found[1], on_death), name="ssot-lifeline")
    watcher.daemon = True
    watcher.start()
    return True
