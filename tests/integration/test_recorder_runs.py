"""The recorder on real ansible-playbook runs: plan, evidence, secrets, signals, concurrency, tampering."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import jsonschema
import pytest
from _support import ROOT, VENV_BIN, explain, free_port, run_playbook, tmpfs, write_workspace
from referencing import Registry, Resource

pytestmark = pytest.mark.integration

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
CANARY = "CanaryZ-3b7c91-Pw"
SCHEMAS = {n: json.loads((ROOT / "schemas" / f"{n}.schema.json").read_text()) for n in ("runbook", "project-panel")}
REGISTRY = Registry().with_resources([(s["$id"], Resource.from_contents(s)) for s in SCHEMAS.values()])


def env_for(ws: Path, **extra) -> dict:
    env = dict(os.environ)
    env.update(ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_CALLBACKS_ENABLED="ssot.governance.runbook",
               ANSIBLE_NOCOLOR="1", PATH=f"{VENV_BIN}:{env.get('PATH', '')}", CANARY=CANARY, SSOT_PG_PASSWORD=CANARY)
    env.update(extra)
    return env


def play(name: str, ws: Path, *args, **extra) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "ansible-playbook"), str(PLAYBOOKS / name), "-e", f"ssot_workspace={ws}",
                           *args], env=env_for(ws, **extra), text=True, capture_output=True, timeout=300, cwd=ws, check=False)


def start(name: str, ws: Path, *args) -> subprocess.Popen:
    return subprocess.Popen([str(VENV_BIN / "ansible-playbook"), str(PLAYBOOKS / name), "-e", f"ssot_workspace={ws}",
                             *args], env=env_for(ws), text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            cwd=ws)


def wait_for_task(ws: Path, task: str, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        journal = ws / "journal.jsonl"
        if journal.exists():
            for line in journal.read_text().splitlines():
                if '"kind":"task_start"' in line and task in line:
                    return
        time.sleep(0.2)
    raise AssertionError(f"task {task!r} never started")


def views(ws: Path) -> tuple[dict, dict]:
    docs = []
    for name, schema in (("runbook.json", "runbook"), ("project-panel.json", "project-panel")):
        doc = json.loads((ws / name).read_text())
        errors = list(jsonschema.Draft202012Validator(SCHEMAS[schema], registry=REGISTRY).iter_errors(doc))
        assert not errors, [(list(e.absolute_path), e.message[:200]) for e in errors[:3]]
        docs.append(doc)
    return docs[0], docs[1]


def verify(ws: Path) -> subprocess.CompletedProcess:
    """The verify playbook; recorded like any run (who verified, when, with what result)."""
    env = env_for(ws)
    return subprocess.run([str(VENV_BIN / "ansible-playbook"), "ssot.governance.verify", "-e", f"ssot_workspace={ws}"],
                          env=env, text=True, capture_output=True, timeout=120, check=False)


def steps_by_name(runbook: dict) -> dict:
    return {s["name"]: s for s in runbook["steps"]}


def test_plan_up_front_and_a_failed_step_becomes_the_next_step(tmp_path):
    proc = play("steps.yml", tmp_path, "-e", "fail_here=true")
    assert proc.returncode == 2, explain(proc)
    runbook, panel = views(tmp_path)
    steps = steps_by_name(runbook)
    assert steps["First step"]["status"] == "done"
    assert steps["Fail when asked"]["status"] == "failed"
    assert steps["After the failure"]["status"] == "pending" and steps["Last step"]["status"] == "pending"
    assert runbook["runs"][-1]["status"] == "failed"
    assert any("Fail when asked" in n and "asked to fail" in n for n in runbook["checkpoints"][-1]["next_steps"])
    ev = steps["Command output kept as evidence (it prints a DSN)"]["evidence"]
    assert len(ev) == 1 and (tmp_path / ev[0]).read_text().startswith("postgresql://app:********@db:5432/app")
    assert verify(tmp_path).returncode == 0
    again = play("steps.yml", tmp_path)
    assert again.returncode == 0, explain(again)
    runbook, dummy = views(tmp_path)
    steps = steps_by_name(runbook)
    assert steps["Last step"]["status"] == "done" and steps["Fail when asked"]["status"] == "skipped"
    assert [(r["playbook"], r["status"]) for r in runbook["runs"]] == [
        ("steps.yml", "failed"), ("verify.yml", "ok"), ("steps.yml", "ok")]


def test_canary_secret_reaches_no_file_of_the_workspace(legacy_image, new_container, tmp_path):
    ws = write_workspace(tmp_path / "ws", legacy_image, new_container(), free_port())
    env = {"SSOT_PG_PASSWORD": CANARY}
    for name in ("ssot.governance.provision", "ssot.governance.validate"):
        proc = run_playbook(name, ws, env_extra=env, extra_args=["-v"])
        assert proc.returncode == 0, explain(proc)
    proc = play("steps.yml", ws.path)
    assert proc.returncode == 0, explain(proc)
    files = [p for p in ws.path.rglob("*") if p.is_file() and "delivered" not in p.parts]
    assert len(files) >= 8
    leaks = [str(p) for p in files if CANARY.encode() in p.read_bytes()]
    assert leaks == []
    runbook, panel = views(ws.path)
    assert panel["milestones"][2]["status"] == "done" and panel["milestones"][3]["status"] == "done"
    assert len(panel["evidences"]) >= 3
    assert verify(ws.path).returncode == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_marks_the_run_interrupted(tmp_path, signum):
    proc = start("slow.yml", tmp_path)
    wait_for_task(tmp_path, "Wait here")
    proc.send_signal(signum)
    out, dummy = proc.communicate(timeout=60)
    assert proc.returncode != 0, out
    runbook, dummy = views(tmp_path)
    run = runbook["runs"][-1]
    assert run["status"] == "interrupted", out
    steps = steps_by_name(runbook)
    assert steps["Wait here"]["status"] == "failed" and steps["After waiting"]["status"] == "pending"
    assert any(f"{run['id']} foi interrompida (signal {signal.Signals(signum).name})" in n
               for n in runbook["checkpoints"][-1]["next_steps"])
    result = verify(tmp_path)
    assert result.returncode == 0, explain(result)


def test_after_kill_9_the_next_run_marks_the_dead_one_interrupted(tmp_path):
    proc = start("slow.yml", tmp_path)
    wait_for_task(tmp_path, "Wait here")
    proc.kill()
    proc.communicate(timeout=60)
    subprocess.run(["pkill", "-9", "-f", f"ssot_workspace={tmp_path}"], check=False)
    before = views(tmp_path)[0]
    assert before["runs"][-1]["status"] == "running", "the killed run could not write anything more"
    nxt = play("steps.yml", tmp_path)
    assert nxt.returncode == 0, explain(nxt)
    runbook, dummy = views(tmp_path)
    assert [(r["playbook"], r["status"]) for r in runbook["runs"]] == [("slow.yml", "interrupted"), ("steps.yml", "ok")]
    assert steps_by_name(runbook)["Wait here"]["status"] == "failed"
    assert verify(tmp_path).returncode == 0


def test_a_second_run_on_the_same_workspace_is_refused(tmp_path):
    first = start("slow.yml", tmp_path, "-e", "wait_seconds=6")
    wait_for_task(tmp_path, "Wait here")
    second = play("steps.yml", tmp_path)
    assert second.returncode == 3
    assert "está em uso por outra execução" in second.stdout + second.stderr      # the SSOT's language, PT-BR
    out, dummy = first.communicate(timeout=120)
    assert first.returncode == 0, out
    runbook, dummy = views(tmp_path)
    assert [r["status"] for r in runbook["runs"]] == ["ok"]
    assert "First step" not in steps_by_name(runbook)
    assert verify(tmp_path).returncode == 0


@pytest.mark.parametrize("target", ["journal", "evidence", "runbook.json"])
def test_verify_playbook_names_the_altered_file(tmp_path, target):
    assert play("steps.yml", tmp_path).returncode == 0
    if target == "journal":
        path = tmp_path / "journal.jsonl"
        needle = b"First step"
    elif target == "evidence":
        path = next(tmp_path.glob("evidence/*/*dsn-output.txt"))
        needle = b"and done"
    else:
        path = tmp_path / target
        needle = b"Last step"
    data = bytearray(path.read_bytes())
    data[data.index(needle)] ^= 0x20
    path.write_bytes(bytes(data))
    proc = verify(tmp_path)
    assert proc.returncode != 0
    # In PT-BR: the verify playbook reads no SSOT, SSOT_LANGUAGE is not set.
    expected = {"journal": "journal_altered em journal.jsonl:", "evidence": "evidence_altered em evidence/",
                "runbook.json": "view_altered em runbook.json"}[target]
    # An altered journal line is named before anything runs: the run records nothing on a broken chain.
    assert expected in " ".join((proc.stdout + proc.stderr).split()), explain(proc)


def test_a_workspace_path_that_is_not_a_plain_folder_refuses_the_run(tmp_path):
    (tmp_path / "evidence").write_text("a file where the evidence folder should be")
    proc = play("steps.yml", tmp_path)
    assert proc.returncode == 3, explain(proc)
    out = proc.stdout + proc.stderr
    assert "evidence" in out and "NÃO ESTÁ TODA REGISTRADA" in out and "TASK [First step]" not in out


def test_a_disk_that_fills_up_mid_run_fails_the_run_and_the_next_run_repairs(tmp_path):
    with tmpfs(tmp_path / "disk", "2m") as disk:
        ws = disk / "ws"
        ws.mkdir()
        filler = disk / "filler"
        proc = play("fill_disk.yml", ws, "-e", f"filler={filler}")
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0, explain(proc)
        assert "NÃO FICOU TODA REGISTRADA" in out, explain(proc)
        # The cause is named, with its fix - not a list of guesses.
        flat = " ".join(out.split())
        assert "o disco (ou a cota) do workspace está cheio" in flat, explain(proc)
        assert "Libere espaço no disco do workspace" in flat and "somente leitura" not in flat, explain(proc)
        filler.unlink()
        again = play("steps.yml", ws)
        assert again.returncode == 0, explain(again)
        checked = verify(ws)
        assert checked.returncode == 0, explain(checked)
