# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one strict YAML reader for every file the collection reads (the SSOT, approvals.yml).

PRIVATE: internal to ssot.governance; its API may change at any time. Stdlib + PyYAML (it runs
on the target).

A file someone else wrote is hostile until proven otherwise, so reading one is bounded in
every direction before anything is built from it:

- only a regular file is read (a FIFO would block forever, a device would never end), opened
  without waiting and checked with fstat on the descriptor that is then read;
- at most ``limit`` bytes, UTF-8 text without NUL bytes;
- the pure-Python composer, with the depth checked before each nested node (libyaml's
  composer recurses in C and crashes the process on a few hundred kilobytes of ``[``);
- a budget of nodes counted with every alias expanded, so a few hundred bytes of aliases
  cannot expand into millions of values (the "billion laughs");
- a repeated key is an error, never "the last one wins".

Every failure is a ``LoadError`` with a catalog key (``yaml.*``) and parameters that never
hold the input itself.
"""

from __future__ import annotations

import os
import stat

try:
    import yaml
    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - depends on the target
    yaml = None
    HAS_YAML = False
    YAML_IMPORT_ERROR = exc

from ansible_collections.ssot.governance.plugins.module_utils._text import Coded

MAX_DEPTH = 64
MAX_NODES = 50000
MAX_BYTES = 1024 * 1024


class LoadError(Coded):
    """``code`` is the catalog key (``yaml.<what>``), ``line`` 1-based when known."""

    def __init__(self, code, line=None, **params):
        super(LoadError, self).__init__("yaml." + code, **params)
        self.line = line


def read_text(path, limit=MAX_BYTES):
    """The text of a regular file of at most ``limit`` bytes; LoadError otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise LoadError("not_found")
    except OSError as exc:
        raise LoadError("unreadable", error=exc.strerror or exc.__class__.__name__)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise LoadError("not_regular")
        if info.st_size > limit:
            raise LoadError("too_large", size=info.st_size, limit=limit)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise LoadError("unreadable", error=exc.strerror or exc.__class__.__name__)
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if len(raw) > limit:  # grew while being read
        raise LoadError("too_large", size=len(raw), limit=limit)
    if b"\x00" in raw:
        raise LoadError("binary")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LoadError("not_utf8", offset=exc.start)
    return text[1:] if text.startswith(u"\ufeff") else text


class _TooDeep(Exception):
    def __init__(self, line):
        super(_TooDeep, self).__init__(line)
        self.line = line


if HAS_YAML:
    class _StrictLoader(yaml.SafeLoader):
        """SafeLoader with a depth bound while composing and an error on repeated keys."""

        _depth = 0

        def compose_node(self, parent, index):
            self._depth += 1
            try:
                if self._depth > MAX_DEPTH:
                    raise _TooDeep(self.peek_event().start_mark.line + 1)
                return yaml.SafeLoader.compose_node(self, parent, index)
            finally:
                self._depth -= 1

        def construct_mapping(self, node, deep=False):
            seen = {}
            for key_node, _value in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    hash(key)
                except TypeError:
                    raise LoadError("key_not_text", line=key_node.start_mark.line + 1)
                if key in seen:
                    raise LoadError("duplicate_key", line=key_node.start_mark.line + 1, key=short(key),
                                    first=seen[key])
                seen[key] = key_node.start_mark.line + 1
            return yaml.SafeLoader.construct_mapping(self, node, deep=deep)

    _StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _StrictLoader.construct_mapping)


def short(value, limit=40):
    """``value`` as one printable line of at most ``limit`` characters (for messages: never the raw input)."""
    text = value if isinstance(value, str) else str(value)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _walk(node, max_nodes):
    """(str path parts) -> 1-based line, for every node with aliases expanded; bounded in count and depth."""
    lines = {}
    stack = [((), node, frozenset())]
    count = 0
    while stack:
        path, current, ancestors = stack.pop()
        count += 1
        if count > max_nodes:
            raise LoadError("too_many_nodes", limit=max_nodes)
        if len(path) > MAX_DEPTH:
            raise LoadError("too_deep", line=current.start_mark.line + 1, limit=MAX_DEPTH)
        if id(current) in ancestors:
            raise LoadError("recursive_alias", line=current.start_mark.line + 1)
        lines.setdefault(path, current.start_mark.line + 1)
        inner = ancestors | {id(current)}
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                key_path = path + (str(key_node.value),)
                lines.setdefault(key_path, key_node.start_mark.line + 1)
                stack.append((key_path, value_node, inner))
        elif isinstance(current, yaml.SequenceNode):
            for i, item in enumerate(current.value):
                stack.append((path + (str(i),), item, inner))
    return lines


def parse(text, max_nodes=MAX_NODES):
    """YAML (or JSON) text -> (document or None when empty, line map). LoadError on anything unsafe."""
    if not HAS_YAML:
        raise LoadError("no_pyyaml", error=str(YAML_IMPORT_ERROR))
    loader = None
    try:
        loader = _StrictLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines = _walk(node, max_nodes)
        return loader.construct_document(node), lines
    except _TooDeep as exc:
        raise LoadError("too_deep", line=exc.line, limit=MAX_DEPTH)
    except RecursionError:
        raise LoadError("too_deep", limit=MAX_DEPTH)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or exc.__class__.__name__
        context = getattr(exc, "context", None)
        detail = "%s (%s)" % (problem, context) if context else problem
        raise LoadError("syntax", line=mark.line + 1 if mark else None, problem=short(detail, 200))
    except (OverflowError, ValueError, MemoryError) as exc:
        # Timestamps past year 9999, floats and ints the constructors refuse.
        raise LoadError("value", problem=exc.__class__.__name__)
    finally:
        if loader is not None:
            loader.dispose()


def load(path, limit=MAX_BYTES, max_nodes=MAX_NODES):
    """read_text + parse: (document, line map)."""
    return parse(read_text(path, limit), max_nodes)
