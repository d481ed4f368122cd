"""Where a library the collection needs is missing, the operator is told which one and what to install: a module
fails with Ansible's missing-library message, the recorder refuses the run before any task. Never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ansible_collections.ssot.governance.tests.unit._tools import COLLECTIONS, ROOT, tool

WITHOUT_PYYAML = r'''
import json, sys
sys.modules["yaml"] = None  # "import yaml" now raises ImportError, as on a target without PyYAML
from ansible.module_utils.testing import patch_module_args
from ansible_collections.ssot.governance.plugins.module_utils import _ssot, _yaml
from ansible_collections.ssot.governance.plugins.modules import ssot_info
try:
    _ssot.load_valid(sys.argv[1], "en")
except _ssot.SSOTError as exc:
    print(json.dumps({"keys": [p.key for p in exc.problems], "text": exc.render("en")}))
with patch_module_args({"path": sys.argv[1]}):
    try:
        ssot_info.main()
    except SystemExit:
        pass
'''


def test_without_pyyaml_a_module_names_the_library(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(COLLECTIONS)] + sys.path))
    proc = subprocess.run([sys.executable, "-c", WITHOUT_PYYAML, str(ROOT / "examples" / "legacy-pg" / "ssot.yml")],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    loaded, module = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert loaded["keys"] == ["yaml.no_pyyaml"] and "install it (pip install PyYAML" in loaded["text"]
    assert module["failed"] and "PyYAML" in module["msg"]


def test_without_jsonschema_the_recorder_refuses_the_run_before_any_task(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "jsonschema.py").write_text("raise ImportError('No module named jsonschema (test)')\n")
    marker = tmp_path / "ran"
    (tmp_path / "p.yml").write_text(f"""
- name: Any play
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Would leave a mark
      ansible.builtin.file:
        path: {marker}
        state: touch
""")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CALLBACKS_ENABLED="ssot.governance.runbook", PYTHONPATH=str(blocker))
    proc = subprocess.run([tool("ansible-playbook"), "-e", f"ssot_workspace={tmp_path / 'ws'}", str(tmp_path / "p.yml")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120,
                          check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 3, out[-3000:]
    assert "jsonschema" in out and "meta/ee-requirements.txt" in out and "Traceback" not in out
    assert not marker.exists()
