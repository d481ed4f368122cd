# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is a human at a terminal for this run? (controller side)

PRIVATE: internal to ssot.governance; its API may change at any time.

Asked from a worker process, whose own stdin is closed: what counts is the stdin of
ansible-playbook itself (the worker's parent). A run is interactive only when that stdin
is a terminal in the foreground AND nothing says the run is automated: ansible-runner
(which AWX uses) starts ansible-playbook under a pseudo-terminal of its own, so a
terminal alone proves nothing. Automated runs never wait.
"""

from __future__ import annotations

import os

# Set by ansible-runner (AWX_ISOLATED_DATA_DIR, its awx_display stdout callback), by AWX
# itself (JOB_ID with AWX_HOST), by CI systems (CI), or by the operator (SSOT_NONINTERACTIVE).
AUTOMATION_MARKERS = (
    ("AWX_ISOLATED_DATA_DIR", None, "ansible-runner"),
    ("ANSIBLE_STDOUT_CALLBACK", "awx_display", "ansible-runner"),
    ("AWX_HOST", None, "AWX"),
    ("CI", None, "CI"),
    ("SSOT_NONINTERACTIVE", None, "SSOT_NONINTERACTIVE"),
)


def automation(environ):
    for name, value, what in AUTOMATION_MARKERS:
        got = environ.get(name)
        if got and (value is None or got == value) and got.lower() not in ("0", "false", "no"):
            return what
    return None


def terminal_state(environ=None, pid=None):
    """(interactive, reason): reason names what decided."""
    environ = os.environ if environ is None else environ
    what = automation(environ)
    if what:
        return False, "automated run (%s)" % what
    pid = os.getppid() if pid is None else pid
    try:
        fd = os.open("/proc/%d/fd/0" % pid, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return False, "stdin of ansible-playbook is not readable"
    try:
        if not os.isatty(fd):
            return False, "stdin of ansible-playbook is not a terminal"
    finally:
        os.close(fd)
    # Workers run in a session of their own, so the terminal is not theirs to ask; the kernel's
    # view of ansible-playbook says whether its process group is the terminal's foreground one.
    pgrp, tpgid = process_groups(pid)
    if pgrp is None or tpgid is None or tpgid <= 0:
        return False, "no controlling terminal"
    if pgrp != tpgid:
        return False, "ansible-playbook runs in the background"
    return True, "terminal"


def process_groups(pid):
    """(process group, foreground process group of its terminal) from /proc/<pid>/stat."""
    try:
        with open("/proc/%d/stat" % pid) as fh:
            stat = fh.read()
    except OSError:
        return None, None
    # The command name (field 2) is in parentheses and may hold spaces: split after its last ')'.
    fields = stat[stat.rindex(")") + 2:].split()
    try:
        return int(fields[2]), int(fields[5])
    except (IndexError, ValueError):
        return None, None


def prompt(text, retries, accept):
    """Ask at the terminal until ``accept`` returns a value; None after the retries or on Ctrl-C; False when there
    is no terminal after all."""
    from ansible.errors import AnsiblePromptInterrupt, AnsiblePromptNoninteractive
    from ansible.module_utils.common.text.converters import to_text
    from ansible.utils.display import Display
    for dummy in range(max(1, retries + 1)):
        try:
            typed = to_text(Display().prompt_until(text, private=False), errors="surrogate_or_strict")
        except AnsiblePromptNoninteractive:
            return False
        except AnsiblePromptInterrupt:
            return None
        value = accept(typed)
        if value:
            return value
    return None
