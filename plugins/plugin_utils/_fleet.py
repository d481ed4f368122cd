# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The environments of a run: which workspace each inventory host records into (controller side).

PRIVATE: internal to ssot.governance; its API may change at any time.

Each host of the play is one governed environment with its own workspace on the controller (its
``ssot_workspace`` variable: a host var of the inventory, or the extra var for a run over one host).
The recorder opens one journal per workspace (its own lock, chain and views). A host whose workspace
cannot be opened - missing, busy with another run, shared with another host - is refused alone: the
callback lists it in the run's context (plugin_utils/_runctx.py) and the first task of the ``ssot`` role (the ``ssot_info`` action, run in a
worker forked after the play started, so it sees this module's state) fails that host with the reason.
The other hosts go on.
"""

from __future__ import annotations

import os

from ansible_collections.ssot.governance.plugins.plugin_utils._workspace import Folder, WorkspaceUnsafe

DEFAULT_GROUP = "ssot_targets"


def play_hosts(play):
    """The play's hosts, as ansible-playbook will run them (``--limit`` applied)."""
    vm = play.get_variable_manager()
    inventory = getattr(vm, "_inventory", None)
    if inventory is None:
        return []
    pattern = play.hosts
    if isinstance(pattern, str) and "{{" in pattern:
        pattern = _template(vm, vm.get_vars(play=play), pattern)
    return inventory.get_hosts(pattern, order=getattr(play, "order", None))


def _template(vm, variables, value):
    from ansible.template import Templar
    return Templar(loader=vm._loader, variables=variables).template(value)


def host_vars(play, host):
    """``host``'s variables as the play sees them (extra vars first): computed once, read by var_of / workspace_of."""
    return play.get_variable_manager().get_vars(play=play, host=host)


def var_of(play, host, name, variables=None):
    """``host``'s value of the variable ``name`` as the play sees it (extra vars first, templated), or None."""
    vm = play.get_variable_manager()
    if variables is None:
        variables = host_vars(play, host)
    value = variables.get(name)
    if isinstance(value, str):
        value = _template(vm, variables, value)  # as a task's "{{ name }}" renders it ({% %} and {# #} too)
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def workspace_of(play, host, fallback=None, variables=None):
    """``host``'s workspace (absolute, links resolved), or None when it has none."""
    value = var_of(play, host, "ssot_workspace", variables)
    if not (isinstance(value, str) and value):
        value = fallback
    if not (isinstance(value, str) and value):
        return None
    return os.path.realpath(os.path.expanduser(value))


def shared(assignment):
    """{workspace: [hosts]} for workspaces two or more hosts name (each environment needs its own)."""
    seen = {}
    for host, workspace in assignment.items():
        if workspace:
            seen.setdefault(workspace, []).append(host)
    return dict((ws, sorted(hosts)) for ws, hosts in seen.items() if len(hosts) > 1)


class Writers(object):
    """The open recorders of a run, one per workspace, addressed by host."""

    def __init__(self):
        self.by_host = {}       # host name -> workspace
        self.writers = {}       # workspace -> its writer (plugin_utils/_writers.py: Writer, or InProcess)
        self._hosts = {}        # workspace -> its hosts

    def add(self, workspace, writer, hosts):
        self.writers[workspace] = writer
        for host in hosts:
            self.by_host[host] = workspace
            self._hosts.setdefault(workspace, []).append(host)

    def __bool__(self):
        return bool(self.writers)

    def of(self, host):
        return self.writers.get(self.by_host.get(host))

    def for_hosts(self, hosts):
        """The writers of these hosts' workspaces, each once, in a stable order."""
        names = sorted(set(self.by_host[h] for h in hosts if h in self.by_host))
        return [(ws, self.writers[ws]) for ws in names if ws in self.writers]

    def hosts_of(self, workspace):
        return sorted(self._hosts.get(workspace, ()))

    def items(self):
        return sorted(self.writers.items())

    def defer(self, fn):
        """Run fn now, or right after the one message being written (one writer writes at a time)."""
        for writer in self.writers.values():
            if getattr(writer, "_busy", False) or getattr(getattr(writer, "recorder", None), "_busy", False):
                writer.defer(fn)
                return
        fn()


# --- the fleet view: one row per environment, beside the workspaces ---------------------------------------------
FLEET_JSON = "fleet-panel.json"
FLEET_HTML = "fleet-panel.html"
FLEET_LOCK = ".fleet-panel.lock"


def fleet_dir(workspaces, configured=None):
    """Where the fleet view goes: the configured folder, else the folder directly holding every workspace when the run
    has several environments or a fleet view is already there; else None (a lone environment keeps only its own
    panel; workspaces in different folders need the ``fleet_dir`` option - never a guess such as ``/``)."""
    if configured:
        return os.path.realpath(os.path.expanduser(configured))
    parents = set(os.path.dirname(w) for w in workspaces)
    if len(parents) != 1:
        return None
    parent = parents.pop()
    if len(workspaces) > 1 or os.path.isfile(os.path.join(parent, FLEET_JSON)):
        return parent
    return None


def _view(workspace, name):
    """One of a workspace's JSON views, read through its Folder (no link, FIFO or folder followed); None when it
    cannot be read."""
    import json
    try:
        folder = Folder(workspace, create=False)
    except (OSError, WorkspaceUnsafe):
        return None
    try:
        return json.loads(folder.read(name).decode("utf-8"))
    except (OSError, WorkspaceUnsafe, ValueError):
        return None
    finally:
        folder.close()


def summary(panel, runbook):
    """What the fleet view shows of one environment, from its views (project-panel.json, runbook.json as parsed);
    None without a panel."""
    if not isinstance(panel, dict):
        return None
    runbook = runbook if isinstance(runbook, dict) else {}
    runs = runbook.get("runs") if isinstance(runbook.get("runs"), list) else []
    last = runs[-1] if runs and isinstance(runs[-1], dict) else {}
    return {
        "project": (panel.get("project") or {}).get("name") or "",
        "ssot_digest": (panel.get("ssot") or {}).get("digest") or "",
        "milestones": [{"phase": m.get("phase"), "title": m.get("title", ""), "status": m.get("status", "")}
                       for m in panel.get("milestones") or [] if isinstance(m, dict)],
        "decisions_pending": [{"id": d.get("id", ""), "title": d.get("title", "")}
                              for d in panel.get("decisions_pending") or [] if isinstance(d, dict)],
        "deviations": len(panel.get("deviations") or []),
        "last_run": dict((k, last[k]) for k in ("id", "playbook", "status", "started_at", "ended_at") if k in last),
    }


def row(host, workspace, where, found=None):
    """One environment's row: ``found`` (its summary as its writer made it from the views it had just written), or
    else read from its own views (project-panel.json, runbook.json); None without a panel."""
    if found is None:
        panel = _view(workspace, "project-panel.json")
        found = summary(panel, _view(workspace, "runbook.json") if isinstance(panel, dict) else None)
    if found is None:
        return None
    rel = os.path.relpath(workspace, where)
    out = {"host": host, "workspace": workspace}
    out.update(found)
    out["panel"] = "/".join(rel.split(os.sep) + ["project-panel.html"])
    return out


def merge(previous, rows):
    """The rows of this run replace their hosts' rows; the other environments' rows stay while their workspace
    still has a panel (a --limit run updates its hosts only)."""
    mine = dict((r["host"], r) for r in rows)
    kept = [r for r in (previous or {}).get("environments") or []
            if isinstance(r, dict) and r.get("host") not in mine
            and os.path.isfile(os.path.join(str(r.get("workspace", "")), "project-panel.json"))]
    return sorted(kept + list(mine.values()), key=lambda r: r["host"])


def write_fleet(where, rows, lang, generated_at):
    """fleet-panel.json and fleet-panel.html in ``where``, through its Folder (staged, then renamed over the old ones),
    under a lock: runs on disjoint hosts write at once. WorkspaceUnsafe when a link or special file sits there."""
    import fcntl
    import json
    from ansible_collections.ssot.governance.plugins.plugin_utils import _human
    folder = Folder(where)
    try:
        lock = folder.open(FLEET_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            doc = {"schema_version": 1, "generated_at": generated_at, "language": lang,
                   "environments": merge(_view(where, FLEET_JSON), rows)}
            files = {FLEET_JSON: json.dumps(doc, indent=2, ensure_ascii=False) + "\n",
                     FLEET_HTML: _human.fleet_html(doc, lang)}
            for name, content in files.items():
                staged = ".%s.tmp-%d" % (name, os.getpid())
                folder.stage(name, content.encode("utf-8"), staged)
                folder.commit(staged, name)
            return doc
        finally:
            os.close(lock)
    finally:
        folder.close()
