# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssot.governance.ssot_info runs here, on the controller, in ansible-playbook's own process (never as a module on
``localhost``, whose interpreter an inventory may set): refuse a run whose launcher set variables the collection
owns, refuse an SSOT file outside the workspace, refuse a run that is not being recorded, then load the SSOT."""

from __future__ import annotations

import os

from ansible.plugins.action import ActionBase
from ansible_collections.ssot.governance.plugins.module_utils import _chain, _prose, _result, _ssot, _yaml
from ansible_collections.ssot.governance.plugins.module_utils._text import message, operator_language
from ansible_collections.ssot.governance.plugins.plugin_utils import _guard, _runctx


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("path", "workspace", "file", "prose", "language", "approvals_file"))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        extra = _guard.launcher_vars(self._loader)
        lang = operator_language(args.get("language"))
        refusal = _guard.refusal(extra, lang)
        if refusal:
            result.update(failed=True, refused_variables=_guard.refused(extra), msg=refusal)
            return result
        host = str((task_vars or {}).get("inventory_hostname") or "localhost")
        # This host's workspace could not be opened by the recorder (missing, busy, shared): it fails alone.
        why = _runctx.refusal_for(host)
        if why:
            result.update(failed=True, host_refused=True, msg=message(lang, "fleet.refused", reason=why))
            return result
        for ok, lib in ((_ssot.HAS_JSONSCHEMA, "jsonschema"), (_yaml.HAS_YAML, "PyYAML")):
            if not ok:
                result.update(failed=True, msg=message(lang, "yaml.no_library", library=lib))
                return result
        workspace = args.get("workspace")
        in_force = isinstance(workspace, str) and bool(workspace)
        if in_force:
            # The SSOT in force for an environment: its workspace's own file, and a run that records it.
            workspace = os.path.realpath(os.path.expanduser(workspace))
            path, why = _guard.ssot_path(workspace, args.get("file"))
            if why:
                result.update(failed=True, msg=message(lang, why[0], workspace=workspace, **why[1]))
                return result
            recorded = _runctx.recording(host)
            if recorded is None or os.path.realpath(recorded) != workspace:
                result.update(failed=True, msg=message(lang, "role.ssot.no_recorder", host=host, workspace=workspace))
                return result
        elif isinstance(args.get("path"), str) and args["path"]:
            path = os.path.abspath(os.path.expanduser(args["path"]))
        else:
            result.update(failed=True, msg=message(lang, "role.ssot.no_workspace"))
            return result
        try:
            loaded = _ssot.load_valid(path, args.get("language"))
        except _ssot.SSOTError as exc:
            result.update(failed=True, msg=exc.render(), path=path,
                          errors=[p.as_dict(exc.language, exc.file_name) for p in exc.problems])
            return result
        prose = _prose.find_prose(path, args.get("prose"))
        full_map = []
        if prose:
            try:
                with open(prose, "rb") as fh:
                    text = fh.read(_ssot.MAX_SSOT_BYTES).decode("utf-8", errors="replace")
            except OSError as exc:
                result.update(failed=True, msg="%s: %s" % (prose, exc), path=path)
                return result
            full_map = _prose.section_map(text, markdown=prose.endswith(".md"))
        facts = dict(ssot=loaded["ssot"], digest=loaded["digest"], schema_version=loaded["schema_version"],
                     language=loaded["language"], path=path, base_dir=os.path.dirname(path), prose=prose,
                     ssot_full_map=full_map, run_identities=_guard.run_identities(extra))
        result.update(changed=False, evidence=[_result.evidence("ssot-loaded.json", content=dict(facts))], **facts)
        if in_force:
            # Authenticated here, where the SSOT in force is loaded: the records this run writes on are those of
            # the environment it pins (the recorder read the pin before the play could say which file it loads).
            pinned = (loaded["ssot"].get("metadata") or {}).get("id")
            opened, env = _runctx.env_of(workspace)
            if pinned is not None and (not _chain.ENVIRONMENT_ID.match(str(pinned)) or (opened and env != pinned)):
                result.update(failed=True, path=path, msg=message(
                    lang, "role.ssot.pin_differs", path=path, pinned=_chain.shown(pinned), found=_chain.shown(env),
                    workspace=workspace))
                return result
            result["ssot_loaded"] = _result.ssot_loaded(path, loaded["digest"], loaded["language"])
            _runctx.attest(result, host)
        return result
