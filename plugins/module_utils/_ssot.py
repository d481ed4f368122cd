# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loading and digesting an SSOT document.

PRIVATE: this module is internal to ssot.governance; its API may change at any
time. Stdlib + PyYAML (shipped with ansible-core) only: it runs on the target.
"""

from __future__ import annotations

import hashlib
import json
import os

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - ansible-core always ships PyYAML
    HAS_YAML = False

# Anything larger is not a specification someone wrote by hand.
MAX_SSOT_BYTES = 5 * 1024 * 1024


class SSOTError(Exception):
    """The SSOT cannot be used; ``str()`` says where and how to fix it."""

    def __init__(self, message, path=None, line=None):
        self.path = path
        self.line = line
        where = path or ""
        if line is not None:
            where = "%s:%s" % (where, line)
        super(SSOTError, self).__init__("%s: %s" % (where, message) if where else message)


def _unique_key_loader():
    class Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader, node, deep=False):
        seen = {}
        for key_node, _value in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise SSOTError(
                    "duplicate key %r (first at line %d); keep only one" % (key, seen[key]),
                    line=key_node.start_mark.line + 1,
                )
            seen[key] = key_node.start_mark.line + 1
        return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return Loader


def load(path):
    """Read an SSOT file (YAML or JSON) and return the document as loaded."""
    if not os.path.exists(path):
        raise SSOTError("file not found; pass the SSOT path (ssot_workspace=<dir> holding ssot.yml)", path)
    if not os.path.isfile(path):
        raise SSOTError("not a regular file", path)
    size = os.path.getsize(path)
    if size > MAX_SSOT_BYTES:
        raise SSOTError("file is %d bytes, more than the %d an SSOT may have" % (size, MAX_SSOT_BYTES), path)
    with open(path, "rb") as fh:
        raw = fh.read()
    if b"\x00" in raw:
        raise SSOTError("binary content (NUL bytes); the SSOT must be YAML or JSON text", path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SSOTError("not UTF-8 text (byte %d); save the file as UTF-8" % exc.start, path)
    if not text.strip():
        raise SSOTError("file is empty; see examples/legacy-pg/ssot.yml for a starting point", path)
    try:
        doc = yaml.load(text, Loader=_unique_key_loader())  # nosec B506 - SafeLoader subclass
    except SSOTError as exc:
        raise SSOTError(str(exc), path, exc.line)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise SSOTError("YAML syntax error: %s" % problem, path, mark.line + 1 if mark else None)
    if not isinstance(doc, dict):
        raise SSOTError("the top level must be a mapping of sections (metadata, artifacts, target, ...), got %s"
                        % type(doc).__name__, path)
    return doc


def canonical_json(doc):
    """Serialization the digest is computed on: key order and formatting do not matter."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def digest(doc):
    return "sha256:" + hashlib.sha256(canonical_json(doc).encode("utf-8")).hexdigest()


def require(doc, dotted, expected_type, path=None):
    """Return doc[a][b]... or raise an SSOTError naming the missing field."""
    node = doc
    walked = []
    for part in dotted.split("."):
        walked.append(part)
        if not isinstance(node, dict) or part not in node:
            raise SSOTError("missing required field '%s'" % ".".join(walked), path)
        node = node[part]
    if not isinstance(node, expected_type):
        names = expected_type.__name__ if isinstance(expected_type, type) else "/".join(t.__name__ for t in expected_type)
        raise SSOTError("field '%s' must be %s, got %s" % (dotted, names, type(node).__name__), path)
    return node


# Fields the walking-skeleton playbooks rely on. The full JSON Schema replaces this list.
REQUIRED_FIELDS = (
    ("target.container", str),
    ("target.image", str),
    ("target.ports", list),
    ("postgres.major", (str, int, float)),
)


def check_minimum(doc, path=None):
    for dotted, kind in REQUIRED_FIELDS:
        require(doc, dotted, kind, path)
    for i, port in enumerate(doc["target"]["ports"]):
        if not isinstance(port, dict) or "host" not in port or "container" not in port:
            raise SSOTError("target.ports[%d] needs 'host' and 'container' (and 'bind', default 127.0.0.1)" % i, path)
