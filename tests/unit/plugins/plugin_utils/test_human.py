"""The views for people: every text from the catalog, in the run's language; a self-contained page; a checklist
with the commands to check by hand (never a password); a log per run; all recorded and verified like the JSON."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ansible_collections.ssot.governance.plugins.module_utils import _chain, _messages
from ansible_collections.ssot.governance.plugins.plugin_utils import _human
from ansible_collections.ssot.governance.plugins.plugin_utils._recorder import Recorder
from ansible_collections.ssot.governance.plugins.plugin_utils._redact import Redactor

CANARY = "Canary-51f0-Secret"
PSEUDO = "xx"              # a pseudo-language: every catalog text is its key between markers
MARKED = re.compile(r"⟦[\w.]+⟧")


def ssot(lang):
    return {"metadata": {"name": "shop", "owner": "dba-team", "language": lang},
            "artifacts": [{"id": "img", "path": "delivered/img.tar", "image": "legacy-pg:10.23"}],
            "target": {"container": "pg-old", "image": "legacy-pg:10.23",
                       "ports": [{"bind": "127.0.0.1", "host": 55432, "container": 5432}],
                       "connection": {"user": "postgres", "database": "postgres", "password": {"env": "PG_PW"}}},
            "postgres": {"major": "10", "settings": {"work_mem": "8MB"}},
            "checks": [{"id": "enc", "description": "UTF8", "sql": "SELECT 'UTF8'", "expect": "UTF8"}],
            "references": [{"url": "https://example.org/runbook", "title": "runbook"}]}


def a_run(ws: Path, lang: str) -> Recorder:
    rec = Recorder(str(ws), redactor=Redactor(environ={"PG_PW": CANARY}))
    rec.open("site.yml", "tester", extra={"tags": ["ingest"]})
    plan = [{"id": "s0", "name": "Load", "role": "ssot.governance.ssot", "phase": 0},
            {"id": "s3", "name": "Check", "role": "ssot.governance.validate", "phase": 3},
            {"id": "s6", "name": "Snapshot", "role": "ssot.governance.snapshot", "phase": 6}]
    rec.start_play("A play", plan)
    rec.start_task(plan[0])
    rec.result({"step": "s0", "host": "h", "status": "ok", "result": {}})
    rec.ssot_loaded({"path": str(ws / "ssot.yml"), "digest": "sha256:" + "b" * 64, "language": lang,
                     "ssot": ssot(lang), "ssot_full_map": []})
    rec.start_task(plan[1])
    rec.result({"step": "s3", "host": "h", "status": "changed", "result": {}})
    rec.evidence("check.log", f"password={CANARY}\n", "s3", "h", "Check")
    rec.deviations([{"id": "setting.work_mem", "status": "deviation", "expected": "8MB", "actual": "4MB"},
                    {"id": "check.enc", "status": "match", "expected": "UTF8", "actual": "UTF8"}])
    rec.findings([{"id": "finding.listen_all", "code": "listen_all", "severity": "low", "title": "listen *",
                   "explanation": "all interfaces"}])
    rec.decision({"id": "modify.setting.work_mem.1a2b", "title": "work_mem 4MB -> 8MB", "status": "pending",
                  "phase": 3, "ssot_digest": "sha256:" + "b" * 64, "context": "ctx", "risk": "low risk",
                  "options": [{"id": "apply", "label": "A"}, {"id": "keep", "label": "B"}]})
    rec.decision({"id": "ingest.src.db.load.99", "title": "load db", "status": "approved", "phase": 5,
                  "answer": {"by": "Ana Souza (DBA)", "option": "ingest", "at": "2026-11-24T09:00:00Z"}})
    rec.start_task(plan[2])
    rec.result({"step": "s6", "host": "h", "status": "ok", "result": {}})
    rec.snapshot({"path": str(ws / "snapshots" / "20261124T000000Z"), "status": "verified", "files": 4})
    rec.snapshot({"path": str(ws / "snapshots" / "20261124T000000Z"), "restore": "passed", "recipe": RECIPE})
    rec.close("ok")
    return rec


RECIPE = ["sha256sum -c SHA256SUMS", "for db in shop 'Loja d'\\''Ana'; do echo \"$db\"; done"]


@pytest.fixture(params=["pt-BR", "en"])
def run(request, tmp_path):
    rec = a_run(tmp_path, request.param)
    return tmp_path, rec, request.param


def test_the_three_views_are_written_recorded_and_verified(run):
    ws, rec, lang = run
    page = (ws / _human.PANEL_HTML).read_text()
    checklist = (ws / _human.CHECKLIST).read_text()
    log = (ws / "logs" / f"{rec.run_id}.log").read_text()
    report = _chain.verify(str(ws))
    assert report["ok"], report["problems"]
    assert report["views_checked"] == 5          # runbook.json, project-panel.json, the page, the checklist, the log
    cat = _messages.MESSAGES[lang]
    assert cat["panel.milestones"] in page and f'lang="{lang}"' in page
    assert cat["checklist.phases"] in checklist and cat["log.nothing_pending"] not in log
    assert "Ana Souza (DBA)" in log and "modify.setting.work_mem.1a2b" in log
    panel = json.loads((ws / "project-panel.json").read_text())
    assert panel["snapshots"] == [{"path": "snapshots/20261124T000000Z", "status": "verified", "files": 4,
                                   "restore": "passed", "recipe": RECIPE, "at": panel["snapshots"][0]["at"],
                                   "run_id": rec.run_id}]
    for path in ws.rglob("*"):
        if path.is_file():
            assert CANARY not in path.read_text(errors="replace"), path


def test_an_altered_page_is_named_by_verify(run):
    ws, dummy, dummy = run
    page = ws / _human.PANEL_HTML
    page.write_text(page.read_text().replace("</main>", "<p>edited</p></main>"))
    report = _chain.verify(str(ws))
    assert not report["ok"] and [p["where"] for p in report["problems"]] == [_human.PANEL_HTML]


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.texts, self._skip = [], [], [], 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.append((tag, dict(attrs)))
        self._skip += tag in ("style", "pre", "code")

    def handle_endtag(self, tag):
        self._skip -= tag in ("style", "pre", "code")

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(data)


def test_the_page_is_self_contained_and_links_only_to_files_that_exist(run):
    ws, dummy, dummy = run
    page = Page()
    page.feed((ws / _human.PANEL_HTML).read_text())
    assert not {"script", "link", "img", "iframe", "object"} & set(page.tags)
    assert "url(" not in (ws / _human.PANEL_HTML).read_text() and "@import" not in (ws / _human.PANEL_HTML).read_text()
    evidence = [a["href"] for tag, a in page.attrs if tag == "a" and "data-evidence" in a]
    assert evidence and all((ws / href).is_file() for href in evidence)
    others = [a["href"] for tag, a in page.attrs if tag == "a" and "data-evidence" not in a]
    assert others == ["https://example.org/runbook"]          # the SSOT's references, nothing fetched
    assert len([1 for tag, a in page.attrs if "data-milestone" in a]) == 7
    assert [a["data-decision"] for tag, a in page.attrs if "data-decision" in a] == ["modify.setting.work_mem.1a2b"]


def test_the_checklist_has_the_commands_to_check_by_hand_and_no_password(run):
    ws, dummy, lang = run
    text = (ws / _human.CHECKLIST).read_text()
    assert "PGPASSWORD=\"$PG_PW\" psql 'host=127.0.0.1 port=55432 user=postgres dbname=postgres' -Atc 'SHOW work_mem'" \
        in text
    assert "docker inspect --format '{{json .NetworkSettings.Ports}}' pg-old" in text
    assert f"ansible-playbook ssot.governance.verify -e ssot_workspace={ws}" in text
    deviation = next(line for line in text.splitlines() if "work\\_mem" in line and line.startswith("- ["))
    match = next(line for line in text.splitlines() if "enc" in line and line.startswith("- ["))
    assert deviation.startswith("- [ ]") and deviation.endswith(_messages.MESSAGES[lang]["check.status.deviation"])
    assert match.startswith("- [x]")
    # The recipe the restore test ran, line for line, from inside the snapshot's folder.
    fenced = "\n".join("  " + line for line in ["cd %s" % (ws / "snapshots" / "20261124T000000Z")] + RECIPE)
    assert fenced in text, text
    snapshot = next(line for line in text.splitlines() if "20261124T000000Z" in line and line.startswith("- ["))
    assert snapshot.startswith("- [x]"), snapshot


# --- no text outside the catalog ------------------------------------------------------------------------

def data_words(ws: Path) -> set:
    """Every word the views may show as data (ids, titles, paths, values), not as an operator text."""
    words = set()

    def walk(value):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif value is not None:
            words.update(re.findall(r"[^\W\d_]{3,}", str(value)))
    for name in ("runbook.json", "project-panel.json"):
        walk(json.loads((ws / name).read_text()))
    return words | {"approvals", "decision", "option", "approved_by", "approved_at", "reason", "ssot_digest",
                    "sha256", "SSOT", "UTC"}


def outside_catalog(texts, allowed) -> list:
    found = []
    for t in texts:
        for word in re.findall(r"[^\W\d_]{3,}", MARKED.sub(" ", t)):
            if word not in allowed:
                found.append((word, t.strip()[:80]))
    return found


@pytest.fixture
def pseudo(monkeypatch):
    """A language whose every text is its key: a word left after removing the keys was written in the code."""
    base = _messages.MESSAGES["en"]
    fake = dict((k, "⟦%s⟧ %s" % (k, " ".join("{%s}" % p for p in re.findall(r"\{(\w+)\}", v))))
                for k, v in base.items())
    monkeypatch.setitem(_messages.MESSAGES, PSEUDO, fake)


def test_no_operator_text_of_the_views_is_written_outside_the_catalog(tmp_path, pseudo):
    rec = a_run(tmp_path, PSEUDO)
    allowed = data_words(tmp_path)
    page = Page()
    page.feed((tmp_path / _human.PANEL_HTML).read_text())
    assert MARKED.search(" ".join(page.texts))
    assert outside_catalog(page.texts, allowed) == []
    checklist = re.sub(r"```sh\n.*?```", "", (tmp_path / _human.CHECKLIST).read_text(), flags=re.S)
    assert outside_catalog(checklist.splitlines(), allowed) == []
    log = (tmp_path / "logs" / f"{rec.run_id}.log").read_text()
    assert outside_catalog(log.splitlines(), allowed) == []


def test_evidence_is_grouped_by_run_newest_first_then_by_phase(tmp_path):
    """The panel's evidence: one folded group per run (the newest open), a table per phase, times to the second -
    not one flat table where ssot-loaded.json repeats once per play."""
    first = a_run(tmp_path, "pt-BR")
    second = Recorder(str(tmp_path))
    second.open("snapshot.yml", "tester")
    plan = [{"id": "s0", "name": "Load", "role": "ssot.governance.ssot", "phase": 0},
            {"id": "s6", "name": "Snapshot", "role": "ssot.governance.snapshot", "phase": 6}]
    second.start_play("Another play", plan)
    for step in plan:
        second.start_task(step)
        second.result({"step": step["id"], "host": "h", "status": "ok", "result": {}})
        second.evidence("made-in-%s.json" % step["id"], {"n": 1}, step["id"], "h", step["name"])
    second.close("ok")
    page = (tmp_path / _human.PANEL_HTML).read_text()
    groups = re.findall(r'<details( open)? data-run="([^"]+)"><summary>([^<]+)</summary>', page)
    assert [(opened, run) for opened, run, dummy in groups] == [(" open", second.run_id), ("", first.run_id)]
    assert "snapshot.yml" in groups[0][2] and "(2 arquivo(s))" in groups[0][2]
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", groups[0][2])
    newest = page.split('data-run="%s"' % second.run_id)[1].split("</details>")[0]
    assert re.findall(r'<h3 data-phase="(\d*)">', newest) == ["0", "6"]
    assert newest.index("made-in-s0.json") < newest.index("made-in-s6.json")
    assert re.findall(r"<td>(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)</td>", newest)        # to the second, no fraction
    older = page.split('data-run="%s"' % first.run_id)[1].split("</details>")[0]
    assert "check.log" in older and 'data-phase="3"' in older
    panel = json.loads((tmp_path / "project-panel.json").read_text())
    assert {e["phase"] for e in panel["evidences"] if e["run_id"] == second.run_id} == {0, 6}
