# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loading, validating, normalizing and digesting an SSOT document.

PRIVATE: this module is internal to ssot.governance; its API may change at any
time. Runs on the target (the controller, for this collection's playbooks):
stdlib, PyYAML (shipped with ansible-core) and jsonschema.

Every problem is a ``Problem`` (where: JSON pointer and line; what; how to
fix) rendered from the message catalog in the operator's language. Nothing
here lets an exception other than ``SSOTError`` escape for any input.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re

from ansible_collections.ssot.governance.plugins.module_utils import _messages, _schemas, _secrets, _versions, _yaml
from ansible_collections.ssot.governance.plugins.module_utils._text import DEFAULT_LANGUAGE, message

try:
    import jsonschema
    HAS_JSONSCHEMA = True
except ImportError:  # pragma: no cover - depends on the target
    HAS_JSONSCHEMA = False

# Anything larger is not a specification someone wrote by hand (the example is 4 KiB).
MAX_SSOT_BYTES = _yaml.MAX_BYTES
# Bound on the values a document may expand to, aliases expanded.
MAX_NODES = _yaml.MAX_NODES
SCHEMA = _schemas.SCHEMAS["ssot"]
SCHEMA_VERSION = SCHEMA["properties"]["schema_version"]["const"]


def pointer_text(path):
    out = "$"
    for part in path:
        out += "[%d]" % part if isinstance(part, int) else ".%s" % part
    return out


class Problem(object):
    """One thing wrong with the SSOT: where, what, how to fix."""

    def __init__(self, code, path=(), line=None, fix=None, fix_params=None, **params):
        self.key = code
        self.path = list(path)
        self.line = line
        self.fix = fix
        self.fix_params = fix_params or {}
        self.params = params

    def render(self, lang, file_name):
        what = message(lang, self.key, **self.params)
        if self.path or self.line:
            pointer = pointer_text(self.path)
            where = (message(lang, "ssot.where.line", file=file_name, line=self.line, pointer=pointer)
                     if self.line else message(lang, "ssot.where.noline", file=file_name, pointer=pointer))
        else:
            where = file_name
        text = "%s: %s." % (where, what)
        if self.fix:
            text += " " + message(lang, "ssot.how_to_fix", fix=message(lang, self.fix, **self.fix_params))
        return text

    def as_dict(self, lang, file_name):
        return {"pointer": pointer_text(self.path), "line": self.line, "code": self.key,
                "message": self.render(lang, file_name)}


class SSOTError(Exception):
    """The SSOT cannot be used. ``render(lang)`` lists every problem."""

    def __init__(self, problems, path="ssot.yml", language=DEFAULT_LANGUAGE):
        self.problems = problems if isinstance(problems, list) else [problems]
        self.path = path
        self.language = language
        super(SSOTError, self).__init__(self.render(language))

    @property
    def file_name(self):
        return os.path.basename(self.path) or self.path

    @property
    def line(self):
        return self.problems[0].line if self.problems else None

    def render(self, lang=None):
        lang = lang or self.language
        lines = [p.render(lang, self.file_name) for p in self.problems]
        if len(lines) == 1:
            return lines[0]
        return "\n".join([message(lang, "ssot.invalid", count=len(lines))] + ["- " + x for x in lines])


# --- loading ----------------------------------------------------------------

def _problem(exc):
    """A LoadError of the strict reader as a Problem of this SSOT."""
    code = "ssot.load.not_found" if exc.code == "yaml.not_found" else exc.code
    return Problem(code, line=exc.line, **exc.params)


def read_text(path):
    try:
        return _yaml.read_text(path, MAX_SSOT_BYTES)
    except _yaml.LoadError as exc:
        raise SSOTError(_problem(exc), path)


def parse(text, path="ssot.yml"):
    """Text -> (document, line map). YAML or JSON (JSON is read as YAML), through the strict reader."""
    if not text.strip():
        raise SSOTError(Problem("ssot.load.empty"), path)
    try:
        doc, lines = _yaml.parse(text, MAX_NODES)
    except _yaml.LoadError as exc:
        raise SSOTError(_problem(exc), path)
    if doc is None:
        raise SSOTError(Problem("ssot.load.empty"), path)
    if not isinstance(doc, dict):
        raise SSOTError(Problem("ssot.load.not_mapping", line=1, kind=_kind(doc, DEFAULT_LANGUAGE)), path)
    return doc, lines


# --- validation -------------------------------------------------------------

def _kind(value, lang):
    for name, types in (("boolean", bool), ("integer", int), ("number", float), ("string", str),
                        ("object", dict), ("array", list), ("null", type(None))):
        if isinstance(value, types):
            return message(lang, "type." + name)
    return type(value).__name__


def _show(value):
    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else repr(value)
    return _yaml.short(_secrets.mask_dsn(text), 60)


_SECRET_KEY = re.compile(_secrets.KEY_PATTERN, re.I)


def _is_secret_place(path, fix):
    """Whether a schema error sits on a secret or inside a secret reference: its value is never shown."""
    if fix == "secret_ref":
        return True
    parts = [p for p in path if isinstance(p, str)]
    return any(_SECRET_KEY.search(p) for p in parts) or bool(parts and parts[-1] in _secrets.REFERENCE_KEYS)


def _line(lines, path):
    parts = tuple(str(p) for p in path)
    while True:
        if parts in lines:
            return lines[parts]
        if not parts:
            return None
        parts = parts[:-1]


def _non_text_keys(value, path, out):
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                out.append(Problem("ssot.schema.property_name", path + [str(k)], name=_show(k)))
            else:
                _non_text_keys(v, path + [k], out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _non_text_keys(v, path + [i], out)


def _schema_problem(err, lang):
    kw = err.validator
    path = list(err.absolute_path)
    schema = err.schema if isinstance(err.schema, dict) else {}
    fix = schema.get("x-fix")
    fix_key = "ssot.fix." + fix if fix else None
    secret = _is_secret_place(path, fix)
    value = "***" if secret else _show(err.instance)
    if kw == "required":
        missing = [r for r in err.validator_value if isinstance(err.instance, dict) and r not in err.instance]
        return [Problem("ssot.schema.required", path, name=m, fix="ssot.fix.required", fix_params={"name": m})
                for m in missing]
    if kw == "additionalProperties" and isinstance(err.instance, dict):
        known = schema.get("properties", {})
        patterns = schema.get("patternProperties", {})
        extras = [k for k in err.instance if k not in known and not any(re.search(p, k) for p in patterns)]
        allowed = ", ".join(known) or "-"
        return [Problem("ssot.schema.additional", path + [k], name=k, allowed=allowed, fix="ssot.fix.additional")
                for k in extras]
    if secret and kw in ("type", "additionalProperties", "minProperties", "maxProperties"):
        return [Problem("ssot.schema.secret_literal" if not isinstance(err.instance, dict) else "ssot.schema.any_of",
                        path, value=value, fix=fix_key)]
    if kw == "type":
        expected = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        return [Problem("ssot.schema.type", path, expected=" / ".join(message(lang, "type." + t) for t in expected),
                        actual=_kind(err.instance, lang), value=value, fix=fix_key)]
    if kw == "enum":
        return [Problem("ssot.schema.enum", path, value=value,
                        allowed=", ".join(str(v) for v in err.validator_value), fix=fix_key)]
    if kw == "const":
        return [Problem("ssot.schema.const", path, expected=_show(err.validator_value), value=value, fix=fix_key)]
    if "propertyNames" in err.schema_path and isinstance(err.instance, str):
        return [Problem("ssot.schema.property_name", path + [err.instance], name=_show(err.instance), fix=fix_key)]
    if kw == "pattern":
        return [Problem("ssot.schema.pattern", path, value=value, fix=fix_key)]
    if kw in ("minimum", "maximum"):
        return [Problem("ssot.schema." + kw, path, value=value, limit=err.validator_value, fix=fix_key)]
    if kw == "minItems":
        return [Problem("ssot.schema.min_items", path, limit=err.validator_value, fix=fix_key)]
    if kw == "minLength":
        return [Problem("ssot.schema.min_length", path, fix=fix_key)]
    if kw in ("anyOf", "oneOf"):
        return [Problem("ssot.schema.any_of", path, value=value, fix=fix_key)]
    return [Problem("ssot.schema.other", path, detail="***" if secret else _secrets.mask_dsn(err.message),
                    fix=fix_key)]


def _expectations(doc):
    """(path, expectation) for every expectation the document holds."""
    settings = (doc.get("postgres") or {}).get("settings") if isinstance(doc.get("postgres"), dict) else None
    if isinstance(settings, dict):
        for name, exp in settings.items():
            yield ["postgres", "settings", name], exp
    checks = doc.get("checks")
    if isinstance(checks, list):
        for i, check in enumerate(checks):
            if isinstance(check, dict) and "expect" in check:
                yield ["checks", i, "expect"], check["expect"]


def target_dir(doc):
    """The SSOT's folder on the target host (target.dir), or None: then target-side paths are under the workspace."""
    target = doc.get("target")
    value = target.get("dir") if isinstance(target, dict) else None
    return value if isinstance(value, str) and value.startswith("/") else None


def _named_paths(doc):
    """(JSON path, value, on_target) of every file system path the SSOT names; on_target when it lives on the
    target host under target.dir (the controller cannot follow its links)."""
    remote = target_dir(doc) is not None
    for section in ("artifacts", "sources"):
        items = doc.get(section)
        for i, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict) and isinstance(item.get("path"), str):
                there = section == "sources" or item.get("location") == "target"
                yield [section, i, "path"], item["path"], remote and there
    snap = doc.get("snapshot")
    if isinstance(snap, dict) and isinstance(snap.get("destination"), str):
        yield ["snapshot", "destination"], snap["destination"], remote
    hitl = doc.get("hitl")
    if isinstance(hitl, dict) and isinstance(hitl.get("allowed_signers"), str):
        yield ["hitl", "allowed_signers"], hitl["allowed_signers"], False
    target = doc.get("target")
    volumes = target.get("volumes") if isinstance(target, dict) else None
    for i, vol in enumerate(volumes if isinstance(volumes, list) else []):
        source = vol.get("source") if isinstance(vol, dict) else None
        # A named volume is a word; a host folder is a path (Docker's own rule: it holds a slash or starts with .).
        if isinstance(source, str) and ("/" in source or source.startswith(".")):
            yield ["target", "volumes", i, "source"], source, remote


def _inside(path, root):
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _path_problems(doc, base_dir):
    """Every path the SSOT names must resolve, links followed, inside the workspace or an allowed root."""
    roots = [os.path.realpath(base_dir)]
    paths = doc.get("paths")
    allowed = paths.get("allowed_roots") if isinstance(paths, dict) else None
    roots += [os.path.realpath(r) for r in allowed if isinstance(r, str) and r.startswith("/")] \
        if isinstance(allowed, list) else []
    out = []
    tdir = target_dir(doc)
    for pointer, value, on_target in _named_paths(doc):
        if "\x00" in value:
            continue  # the schema or the tools refuse it; realpath cannot take it
        if on_target:
            # On another machine: checked by name here (no "..", no way out of target.dir); the modules that open
            # it there refuse links.
            resolved = os.path.normpath(os.path.join(tdir, value))
            inside = [os.path.normpath(tdir)] + [os.path.normpath(r) for r in roots[1:]]
        else:
            resolved = os.path.realpath(os.path.join(base_dir, os.path.expanduser(value)))
            inside = roots
        if not any(_inside(resolved, root) for root in inside):
            out.append(Problem("ssot.check.path_outside", pointer, value=_show(value), fix="ssot.fix.path_outside"))
    return out


def _signature_problems(doc, base_dir):
    """An allowed-signers file the SSOT names (to narrow the trust root's) that cannot be read, or holds a line the
    one reader refuses (a pattern, a cert-authority line)."""
    hitl = doc.get("hitl")
    if not isinstance(hitl, dict):
        return []
    named = hitl.get("allowed_signers")
    out = []
    if isinstance(named, str) and base_dir and "\x00" not in named:
        from ansible_collections.ssot.governance.plugins.module_utils import _sshsig
        try:
            _sshsig.read_allowed_signers(os.path.join(base_dir, os.path.expanduser(named)))
        except _sshsig.SignatureError as exc:
            out.append(Problem("ssot.check.signers_unreadable", ["hitl", "allowed_signers"], value=_show(named),
                               detail=exc, fix="ssot.fix.allowed_signers"))
    return out


def _semantic_problems(doc, base_dir=None):
    """What the schema cannot say: unique ids, readable version ranges, valid regexes, confined paths."""
    out = _path_problems(doc, base_dir) if base_dir else []
    out.extend(_signature_problems(doc, base_dir))
    for section in ("artifacts", "checks", "sources"):
        items = doc.get(section)
        if not isinstance(items, list):
            continue
        first = {}
        for i, item in enumerate(items):
            ident = item.get("id") if isinstance(item, dict) else None
            if not isinstance(ident, str):
                continue
            if ident in first:
                out.append(Problem("ssot.check.duplicate_id", [section, i, "id"], id=ident,
                                   other=pointer_text([section, first[ident], "id"]), fix="ssot.fix.duplicate_id"))
            else:
                first[ident] = i
    pg = doc.get("postgres")
    candidates = []
    if isinstance(pg, dict) and "major" in pg and isinstance(pg["major"], (str, int, float)):
        candidates.append((["postgres", "major"], pg["major"]))
    for path, exp in _expectations(doc):
        if isinstance(exp, dict) and isinstance(exp.get("version_range"), str):
            candidates.append((path + ["version_range"], exp["version_range"]))
        if isinstance(exp, dict) and isinstance(exp.get("regex"), str):
            try:
                re.compile(exp["regex"])
            except (re.error, OverflowError, RecursionError) as exc:
                out.append(Problem("ssot.check.regex", path + ["regex"], value=_show(exp["regex"]), detail=str(exc),
                                   fix="ssot.fix.regex"))
    for path, value in candidates:
        try:
            _versions.parse_constraint(value)
        except _versions.VersionError as exc:
            out.append(Problem("ssot.check.version_constraint", path, value=_show(value), detail=exc,
                               fix="ssot.fix.version_constraint"))
    return out


def language_of(doc, override=None):
    if override:
        return override
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    lang = meta.get("language") if isinstance(meta, dict) else None
    return lang if isinstance(lang, str) and lang in _messages.MESSAGES else DEFAULT_LANGUAGE


def problems_of(doc, lines, lang=DEFAULT_LANGUAGE, base_dir=None):
    """Every problem of a loaded document, sorted by line; with ``base_dir`` (the workspace), paths are confined."""
    problems = []
    _non_text_keys(doc, [], problems)
    if not problems:
        validator = jsonschema.Draft202012Validator(SCHEMA)
        for err in validator.iter_errors(doc):
            problems.extend(_schema_problem(err, lang))
        problems.extend(_semantic_problems(doc, base_dir))
    for p in problems:
        if p.line is None:
            p.line = _line(lines, p.path)
    problems.sort(key=lambda p: (p.line or 0, pointer_text(p.path)))
    return problems


# --- normalization and digest -----------------------------------------------

def _resolve(schema):
    ref = schema.get("$ref", "")
    if ref.startswith("#/$defs/"):
        merged = dict(SCHEMA["$defs"][ref.split("/")[-1]])
        merged.update({k: v for k, v in schema.items() if k != "$ref"})
        return merged
    return schema


def _fill(schema, value):
    schema = _resolve(schema)
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            sub = _resolve(sub)
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                _fill(sub, value[name])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            _fill(schema["items"], item)


def normalize(doc):
    """A copy of a valid document with every schema default filled in."""
    out = copy.deepcopy(doc)
    _fill(SCHEMA, out)
    return out


def allowed_signers_path(ssot, base_dir):
    """The absolute path of the SSOT's allowed-signers file, or None."""
    named = (ssot.get("hitl") or {}).get("allowed_signers")
    return os.path.realpath(os.path.join(base_dir, os.path.expanduser(named))) if named else None


def canonical_json(doc):
    """Serialization the digest is computed on: key order and formatting do not matter."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def digest(doc):
    return "sha256:" + hashlib.sha256(canonical_json(doc).encode("utf-8")).hexdigest()


def load_valid(path, language=None):
    """Load, validate and normalize. Returns dict(ssot, written, digest, language); raises SSOTError."""
    text = read_text(path)
    doc, lines = parse(text, path)
    lang = language_of(doc, language)
    try:
        problems = problems_of(doc, lines, lang, os.path.dirname(os.path.realpath(path)))
        if not problems:
            sig = digest(doc)
    except RecursionError:
        problems = [Problem("yaml.too_deep", limit=_yaml.MAX_DEPTH)]
    if problems:
        raise SSOTError(problems, path, lang)
    return {"ssot": normalize(doc), "written": doc, "digest": sig, "language": lang,
            "schema_version": SCHEMA_VERSION}
