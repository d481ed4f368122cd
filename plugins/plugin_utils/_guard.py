# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the launcher of a run may set, and who runs it (controller side).

PRIVATE: internal to ssot.governance; its API may change at any time.

Extra vars outrank every ``set_fact`` and ``register``: a launcher (``-e``, an AWX survey,
ansible-runner's ``env/extravars``) could replace any fact the gate's verdict flows through.
So the variables this collection owns (its role prefixes and every ``__`` name) may come from
the command line only when they are listed in ``LAUNCHER_INPUTS`` - the inputs a launcher is
meant to give. Any other one refuses the run before anything happens, naming the variable.
A unit test walks every role and playbook and checks that each variable they set is refused.

The run's identities (for separation of duties) are the operating-system account that runs
ansible-playbook - never the ``USER`` variable, which the launcher sets - and, when given,
the AWX user who launched the job (``awx_user_name``). A launcher can only add a name to that
set, never replace the account, so it cannot make itself someone else.
"""

from __future__ import annotations

import os
import re

# The prefixes of the variables this collection's roles own.
OWNED_PREFIXES = ("__", "ssot_", "hitl_gate_", "inventory_", "provision_", "validate_", "expose_", "modify_",
                  "ingest_", "snapshot_", "verify_", "approve_", "export_")

# What a launcher is meant to give (docs/hitl.md, "What a launcher may set").
LAUNCHER_INPUTS = frozenset((
    "ssot_workspace",            # which governed environment (a single one; a fleet names them in the inventory)
    "ssot_hosts",                # which hosts of the inventory are the governed environments (default ssot_targets)
    "ssot_file",                 # which SSOT file inside it
    "ssot_approvals",            # counts only when the SSOT says hitl.extra_var_approvals: true
    "hitl_gate_interactive",     # may only turn the terminal prompt off; it never asks without a real terminal
    "hitl_gate_prompt_retries",
    "provision_wait_retries",
    "provision_wait_delay",
    "modify_wait_retries",
    "validate_fail_on_deviation",
    "validate_container_tools",
    "snapshot_path",             # which snapshot the restore test proves (inside the workspace)
    "approve_key",               # the approver's SSH key (the approve playbook; else the ssh-agent's)
    "verify_allowed_signers",    # the allowed-signers file verify checks seals against (kept outside the workspace)
    "verify_expect_head",        # the journal head an earlier run printed, kept outside the workspace
    "export_dest",               # the folder the export playbook writes the records into (else the workspace)
))

# Names AWX (and Tower before it) set for the job; they identify who launched it.
LAUNCHER_IDENTITY_VARS = ("awx_user_name", "tower_user_name")


# Ansible's own variables that choose what code runs, where and as whom: the interpreter a module runs with, the
# connection, the shell, privilege escalation, the module's transfer. The inventory's author sets them; a launcher's
# extra var (which outranks the inventory) may not.
CODE_CHOOSING = re.compile(r"^ansible_(\w+_interpreter|\w*_?executable|\w+_exe|connection|shell_type|become\w*|"
                           r"module_\w+|remote_tmp|async_dir|\w*ssh_\w*args|ssh_executable|playbook_python|"
                           r"python|pipelining|\w+_command|network_os|host|port|user)$")
# Jinja in a launcher's input would be evaluated on the controller (a lookup runs a command): refused.
_JINJA = ("{{", "{%", "{#")


def owned(name):
    return isinstance(name, str) and name.startswith(OWNED_PREFIXES)


def refused(names):
    """The names a launcher may not set, sorted: the collection's own variables (other than its inputs) and
    Ansible's code-choosing ones."""
    return sorted(n for n in names if (owned(n) and n not in LAUNCHER_INPUTS)
                  or (isinstance(n, str) and CODE_CHOOSING.match(n)))


def _templated(value):
    if isinstance(value, str):
        return any(mark in value for mark in _JINJA)
    if isinstance(value, dict):
        return any(_templated(k) or _templated(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_templated(v) for v in value)
    return False


def templated(extra):
    """The launcher inputs (and identity names) whose value holds a template, sorted."""
    return sorted(n for n in extra if (n in LAUNCHER_INPUTS or n in LAUNCHER_IDENTITY_VARS) and _templated(extra[n]))


def refusal(extra, lang):
    """The message refusing a run whose launcher set variables the collection owns or that choose code (naming
    each), or put a template in an input; None when the launcher's variables are acceptable."""
    from ansible_collections.ssot.governance.plugins.module_utils._text import message
    names = refused(extra)
    ours = [n for n in names if owned(n)]
    if ours:
        return message(lang, "guard.refused", names=", ".join(ours))
    if names:
        return message(lang, "guard.code_choosing", names=", ".join(names))
    names = templated(extra)
    return message(lang, "guard.templated", names=", ".join(names)) if names else None


def launcher_vars(loader):
    """The extra vars of this run exactly as the launcher gave them (``-e``, ``-e @file``), not the
    merged variables a task sees."""
    from ansible.utils.vars import load_extra_vars
    try:
        extra = load_extra_vars(loader)
    except Exception:  # a broken -e stops ansible-playbook itself before any task
        return {}
    return extra if isinstance(extra, dict) else {}


def os_account():
    """The login name of the account running this process, from the password database; None when unknown."""
    try:
        import pwd
        return pwd.getpwuid(os.geteuid()).pw_name or None
    except (ImportError, KeyError):
        return None


def run_identities(extra):
    """Who runs this play: the OS account (when known) plus the AWX launcher named in the extra vars."""
    found = []
    account = os_account()
    if account:
        found.append(account)
    for name in LAUNCHER_IDENTITY_VARS:
        value = extra.get(name)
        if isinstance(value, str) and value.strip() and value not in found:
            found.append(value)
    return found


DEFAULT_SSOT_FILE = "ssot.yml"


def ssot_path(workspace, ssot_file=None):
    """The SSOT file in force for ``workspace``: ``ssot_file`` (a launcher input) resolved inside the workspace, or
    ``(catalog key, params)`` saying why it is refused - an absolute path, a ``..``, a link or a non-regular file on
    the way. The SSOT decides the rules of its environment, so it can only be the workspace's own."""
    name = DEFAULT_SSOT_FILE if ssot_file in (None, "") else ssot_file
    if not isinstance(name, str) or "\x00" in name or os.path.isabs(name) or name.startswith("~"):
        return None, ("guard.ssot_file", {"file": str(name)[:200]})
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None, ("guard.ssot_file", {"file": name[:200]})
    import stat
    here = os.path.realpath(os.path.expanduser(str(workspace)))
    for n, part in enumerate(parts):
        here = os.path.join(here, part)
        try:
            mode = os.lstat(here).st_mode
        except FileNotFoundError:
            return here, None  # the SSOT reader names a missing file
        except OSError:
            return None, ("guard.ssot_file", {"file": name[:200]})
        last = n == len(parts) - 1
        if stat.S_ISLNK(mode) or (not last and not stat.S_ISDIR(mode)) or (last and not stat.S_ISREG(mode)):
            return None, ("guard.ssot_file_link", {"file": name[:200]})
    return here, None


class PinError(Exception):
    """The SSOT names an environment identity that cannot be one, or sits where it cannot be read: (catalog key,
    params)."""

    def __init__(self, key, params):
        super(PinError, self).__init__(key)
        self.key, self.params = key, params


def environment_pin(workspace, ssot_file=None):
    """The environment identity the SSOT in force pins (``metadata.id``), read the one way the recorder, the
    assistant and verify all read it: (the SSOT file, the identity); (the SSOT file, None) when it pins none;
    (None, None) when there is no SSOT to read yet or it does not load (the play's SSOT load names why). PinError
    when ``ssot_file`` is refused or ``metadata.id`` is there but not an identity (docs/recorder.md)."""
    from ansible_collections.ssot.governance.plugins.module_utils import _chain, _yaml
    path, why = ssot_path(workspace, ssot_file)
    if why:
        raise PinError(why[0], why[1])
    try:
        doc, dummy = _yaml.load(path)
    except (_yaml.LoadError, OSError, ValueError):
        return None, None
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    if not isinstance(meta, dict):
        return None, None  # not an SSOT the play will load: no identity is given on its word
    if "id" not in meta:
        return path, None
    pinned = meta["id"]
    if not isinstance(pinned, str) or not _chain.ENVIRONMENT_ID.match(pinned):
        raise PinError("guard.bad_environment_id", {"file": path, "value": _chain.shown(pinned)})
    return path, pinned
