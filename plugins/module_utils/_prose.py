# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Section map of a prose SSOT (book-run.txt or Markdown).

PRIVATE: internal to ssot.governance; its API may change at any time. Stdlib only.

Headings recognised, in order of preference:
- Markdown ATX headings: ``# Title`` .. ``###### Title``;
- setext headings: a line underlined with ``===`` or ``---``;
- numbered headings at the start of a line: ``1. Title``, ``2) Title``, ``3.1 Title``.
Text before the first heading is the ``preamble`` section.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_ATX = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_NUMBERED = re.compile(r"^(\d+(?:\.\d+)*)[.)]?\s+(\S.{0,118})$")
_SETEXT = re.compile(r"^(=+|-+)\s*$")


def slug(text):
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "section"


def _headings(lines, markdown):
    found = []
    in_fence = False
    for i, line in enumerate(lines):
        if line.startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        m = _ATX.match(line)
        if m:
            found.append((i, len(m.group(1)), m.group(2)))
            continue
        if i + 1 < len(lines) and line.strip() and _SETEXT.match(lines[i + 1]) and not line.startswith((" ", "\t")):
            found.append((i, 1 if lines[i + 1].startswith("=") else 2, line.strip()))
            continue
        if not markdown:
            m = _NUMBERED.match(line)
            if m:
                found.append((i, m.group(1).count(".") + 1, line.strip()))
    return found


def section_map(text, markdown=False):
    """[{id, heading, level, lines: [first, last], digest}] with 1-based inclusive line numbers."""
    lines = text.splitlines()
    heads = _headings(lines, markdown)
    sections = []
    starts = [h[0] for h in heads]
    if not starts or starts[0] > 0:
        end = (starts[0] if starts else len(lines))
        body = lines[:end]
        if any(x.strip() for x in body):
            sections.append(("preamble", 0, "preamble", 0, end))
    for n, (start, level, heading) in enumerate(heads):
        end = heads[n + 1][0] if n + 1 < len(heads) else len(lines)
        sections.append((slug(heading), level, heading, start, end))
    out = []
    seen = {}
    for ident, level, heading, start, end in sections:
        # Trailing blank lines belong to no one.
        while end - 1 > start and not lines[end - 1].strip():
            end -= 1
        seen[ident] = seen.get(ident, 0) + 1
        if seen[ident] > 1:
            ident = "%s-%d" % (ident, seen[ident])
        body = "\n".join(lines[start:end])
        out.append({
            "id": ident,
            "heading": heading,
            "level": level,
            "lines": [start + 1, max(start + 1, end)],
            "digest": "sha256:" + hashlib.sha256(body.encode("utf-8")).hexdigest(),
        })
    return out


PROSE_CANDIDATES = ("book-run.txt", "book-run.md")


def find_prose(ssot_path, prose):
    """The prose SSOT to map: ``prose`` when given ("" for none), else book-run.txt or .md beside the SSOT."""
    import os
    if prose == "":
        return None
    if prose:
        return os.path.abspath(prose)
    for name in PROSE_CANDIDATES:
        candidate = os.path.join(os.path.dirname(ssot_path), name)
        if os.path.isfile(candidate):
            return candidate
    return None
