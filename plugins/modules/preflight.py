#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: preflight
short_description: Say, in the operator's language, what a target host lacks before anything changes on it
version_added: 1.0.0
description:
  - Runs on the governed host (where the Docker engine and the published port are) and lists, in one answer, what
    that host lacks - the Python libraries the collection's Docker and PostgreSQL modules import there, the Docker
    CLI, access to the engine, the target folder.
  - The phases check the rest where they need it, on the same host - a free port before provisioning (the
    C(provision) role), disk for a snapshot (M(ssot.governance.snapshot_plan)).
  - Fails with every missing piece named, or returns what it found. Changes nothing.
  - A host without Python cannot run any module; the C(ssot) role checks that with C(ansible.builtin.raw) first.
options:
  engine:
    description: The Docker CLI must be on the PATH and the engine must answer it.
    type: bool
    default: true
  python_modules:
    description: Python modules the later tasks import on this host (C(requests) for community.docker,
      C(psycopg2) for community.postgresql).
    type: list
    elements: str
    default: [requests, psycopg2]
  target_dir:
    description: A folder that must exist and be writable on this host (or whose nearest existing parent is).
    type: path
extends_documentation_fragment:
  - ssot.governance.language
  - ssot.governance.attributes
  - ssot.governance.attributes.READ_ONLY
author:
  - ssot.governance maintainers (@ssot-governance)
'''

EXAMPLES = r'''
- name: Preflight - what this host lacks to run the container the SSOT describes
  ssot.governance.preflight:
    target_dir: /srv/ssot-target/db-legado-1
    language: pt-BR
'''

RETURN = r'''
lacks:
  description: What the host lacks, one sentence each in the operator's language (empty when nothing).
  returned: always
  type: list
  elements: str
found:
  description: What was found (Python version and path, Docker client and server versions).
  returned: always
  type: dict
  sample: {"python": "3.11.2", "docker_client": "20.10.24", "docker_server": "20.10.24"}
engine:
  description:
    - What the host's container engine can load, as M(ssot.governance.artifact_info)'s O(ssot.governance.artifact_info#module:engine)
      takes it - its server version and whether it uses the containerd image store. Asked here, once, so that the
      inventory needs no call of its own.
  returned: when the engine answers
  type: dict
  sample: {"version": "20.10.24", "containerd_store": false}
'''

import importlib.util
import json
import os
import platform
import sys

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ssot.governance.plugins.module_utils import _engine
from ansible_collections.ssot.governance.plugins.module_utils._text import message as text


def _existing(path):
    while path and not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path or "/"


def check(module, p):
    lang = p["language"]
    lacks = []
    found = {"python": platform.python_version(), "python_path": sys.executable}
    for name in p["python_modules"]:
        if importlib.util.find_spec(name) is None:
            lacks.append(text(lang, "preflight.python_module", module=name, python=sys.executable))
    if p["engine"]:
        engine = _engine.Engine(module)
        if not os.path.isabs(engine.binary):
            lacks.append(text(lang, "preflight.no_docker_cli"))
        else:
            rc, out, err = engine.run(["version", "--format", "{{.Client.Version}} {{.Server.Version}}"])
            versions = out.split()
            if versions:
                found["docker_client"] = versions[0]
            if rc != 0 or len(versions) < 2:
                lacks.append(text(lang, "preflight.no_engine", error=(err or out).strip()[-300:] or rc))
            else:
                found["docker_server"] = versions[1]
                rc, out, err = engine.run(["info", "--format", "{{json .DriverStatus}}"])
                try:
                    status = json.loads(out) if rc == 0 else []
                except ValueError:
                    status = []
                flat = [str(v) for pair in status or [] for v in (pair if isinstance(pair, list) else [pair])]
                found["engine"] = {"version": versions[1], "containerd_store": "io.containerd.snapshotter.v1" in flat}
    if p["target_dir"]:
        base = _existing(p["target_dir"])
        if not os.path.isdir(base) or not os.access(base, os.W_OK | os.X_OK):
            lacks.append(text(lang, "preflight.target_dir", path=p["target_dir"], existing=base))
    return lacks, found


def main():
    module = AnsibleModule(argument_spec=dict(
        engine=dict(type="bool", default=True),
        python_modules=dict(type="list", elements="str", default=["requests", "psycopg2"]),
        target_dir=dict(type="path"),
        language=dict(type="str", default="pt-BR")), supports_check_mode=True)
    lacks, found = check(module, module.params)
    host = platform.node()
    if lacks:
        module.fail_json(msg=text(module.params["language"], "preflight.failed", host=host, lacks="; ".join(lacks)),
                         lacks=lacks, found=found)
    engine = found.pop("engine", None)
    if engine is not None:
        module.exit_json(changed=False, lacks=[], found=found, engine=engine,
                         msg=text(module.params["language"], "preflight.ok", host=platform.node()))
    module.exit_json(changed=False, lacks=[], found=found,
                     msg=text(module.params["language"], "preflight.ok", host=host))


if __name__ == "__main__":
    main()
