# Copyright (c) ssot.governance maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render the collection's plugin and role docs as a site (what docs.ansible.com would show) and fail on a broken one.

    python scripts/build_docs.py [--dest tests/output/docs]      # what `make docs` runs (and `make test`)

1. ``antsibull-docs collection --use-current`` writes the RST of every plugin and role of the installed collection
   (found through ANSIBLE_COLLECTIONS_PATH, the checkout's ``.collections`` link under make);
2. ``sphinx-build -W`` renders it with the Ansible theme to ``<dest>/build/html`` (any Sphinx warning fails);
3. every module, lookup, filter, callback and role of the checkout must have its page, and no page may be one of
   antsibull-docs' error pages ("was malformed", "There were some errors parsing").

The Sphinx configuration is written here rather than taken from ``antsibull-docs sphinx-init``: that one maps
inventories of docs.python.org and docs.ansible.com for intersphinx, which a machine without internet cannot fetch.
The references the pages make outside this collection (ansible-core's pages the templates name, other collections'
plugins) resolve through a small inventory written here, pointing at docs.ansible.com; any other unresolved
reference (a mistyped M(), a page of this collection that is not there) fails the build.
Exit status 0 when the site is whole; 1 with the list of what is wrong.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLLECTION = "ssot.governance"
# What antsibull-docs writes instead of a plugin's or role's documentation when it cannot use it.
ERROR_MARKERS = ("was malformed", "There were some errors parsing the documentation")

CONF = '''\
# Written by scripts/build_docs.py.
intersphinx_mapping = {"ansible": (%r, %r)}
project = "ssot.governance"
copyright = "ssot.governance maintainers"
title = html_short_title = "ssot.governance"
extensions = ["sphinx.ext.intersphinx", "sphinx_antsibull_ext"]
pygments_style = "ansible"
highlight_language = "YAML+Jinja"
html_theme = "sphinx_ansible_theme"
html_show_sphinx = False
html_use_modindex = False
html_use_index = False
html_copy_source = False
default_role = "any"
nitpicky = True
'''

INDEX = '''\
ssot.governance
===============

The plugins and roles of the ssot.governance collection. The guides (SSOT, validation, HITL, recorder, fleet, AWX)
are the Markdown files in the repository's ``docs/`` folder.

.. toctree::
   :maxdepth: 2

   collections/ssot/governance/index

.. toctree::
   :maxdepth: 1
   :caption: Indexes
   :glob:

   collections/index_*
'''

ANSIBLE_DOCS = "https://docs.ansible.com/ansible/devel/"
# ansible-core's pages that antsibull-docs' templates refer to: label -> (page#anchor, title).
CORE_LABELS = {
    "action_plugins": ("plugins/action.html#action-plugins", "Action plugins"),
    "callback_plugins": ("plugins/callback.html#callback-plugins", "Callback plugins"),
    "common_return_values": ("reference_appendices/common_return_values.html#common-return-values",
                             "Return Values"),
    "ansible_configuration_settings": ("reference_appendices/config.html#ansible-configuration-settings",
                                       "Ansible Configuration Settings"),
    "list_of_collections": ("collections/index.html#list-of-collections", "Collection Index"),
    "list_of_callback_plugins": ("collections/index_callback.html#list-of-callback-plugins",
                                 "Index of all Callback Plugins"),
}
FOREIGN_PLUGIN = re.compile(r"^ansible_collections\.(\w+)\.(\w+)\.(\w+)_(module|lookup|filter|callback|role|test)$")
REF = re.compile(r":ref:`(?:[^`<]*<)?([^`<>]+)>?`")
LABEL = re.compile(r"^\.\. _([^:]+):$", re.M)

ANTSIBULL_CFG = '''\
breadcrumbs = true
indexes = true
use_html_blobs = false
'''


def expected_pages() -> dict[str, str]:
    """page name (antsibull-docs' file stem) -> what it documents, from the checkout's own files."""
    pages = {}
    for kind, folder, pattern in (("module", "modules", "*.py"), ("lookup", "lookup", "*.py"),
                                  ("filter", "filter", "*.yml"), ("callback", "callback", "*.py")):
        for path in sorted((ROOT / "plugins" / folder).glob(pattern)):
            if not path.name.startswith("_"):
                pages[f"{path.stem}_{kind}"] = f"{kind} {COLLECTION}.{path.stem}"
    for role in sorted((ROOT / "roles").iterdir()):
        if (role / "meta" / "argument_specs.yml").exists():
            pages[f"{role.name}_role"] = f"role {COLLECTION}.{role.name}"
    return pages


def problems(site: Path, rst: Path) -> list[str]:
    """What is wrong with a built site: a missing page, an error page."""
    found = []
    for stem, what in expected_pages().items():
        source = rst / "collections" / "ssot" / "governance" / f"{stem}.rst"
        page = site / "collections" / "ssot" / "governance" / f"{stem}.html"
        if not source.exists() or not page.exists():
            found.append(f"{what}: no page ({page.relative_to(site.parent.parent)})")
            continue
        text = source.read_text(encoding="utf-8")
        for marker in ERROR_MARKERS:
            if marker in text:
                found.append(f"{what}: antsibull-docs rendered an error page ({marker!r}); "
                             "run `antsibull-docs lint-collection-docs --plugin-docs .`")
                break
    return found


def inventory(rst: Path, dest: Path) -> None:
    """An intersphinx inventory (format 2) for the references the pages make outside this collection."""
    texts = [p.read_text(encoding="utf-8") for p in rst.rglob("*.rst")]
    defined = {label for text in texts for label in LABEL.findall(text)}
    lines = []
    for label in sorted({ref for text in texts for ref in REF.findall(text)} - defined):
        plugin = FOREIGN_PLUGIN.match(label)
        if label in CORE_LABELS:
            where, title = CORE_LABELS[label]
        elif plugin and (plugin.group(1), plugin.group(2)) != tuple(COLLECTION.split(".")):
            ns, name, short, kind = plugin.groups()
            where, title = f"collections/{ns}/{name}/{short}_{kind}.html", f"{ns}.{name}.{short} {kind}"
        else:
            continue  # left unresolved: sphinx-build -W fails on it
        lines.append(f"{label} std:label -1 {where} {title}\n")
    header = ("# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n"
              "# The remainder of this file is compressed using zlib.\n")
    (dest / "ansible.inv").write_bytes(header.encode() + zlib.compress("".join(lines).encode()))


def run(argv: list[str], **kw) -> None:
    done = subprocess.run(argv, text=True, capture_output=True, check=False, **kw)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-6000:] + done.stderr[-6000:])
        raise SystemExit(f"build_docs: {' '.join(argv[:3])} ... failed (exit {done.returncode})")


def build(dest: Path) -> list[str]:
    bin_dir = Path(sys.executable).parent
    if dest.exists():
        shutil.rmtree(dest)
    rst, raw = dest / "rst", dest / "antsibull"
    raw.mkdir(parents=True, mode=0o755)
    os.chmod(raw, 0o755)  # antsibull-docs wants its destination writable by itself only
    (dest / "conf.py").write_text(CONF % (ANSIBLE_DOCS, str(dest / "ansible.inv")))
    (dest / "antsibull-docs.cfg").write_text(ANTSIBULL_CFG)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(ROOT / ".collections"))
    run([str(bin_dir / "antsibull-docs"), "--config-file", str(dest / "antsibull-docs.cfg"), "collection",
         "--use-current", "--dest-dir", str(raw), COLLECTION], env=env)
    shutil.copytree(raw, rst)
    (rst / "index.rst").write_text(INDEX)
    inventory(rst, dest)
    run([str(bin_dir / "sphinx-build"), "-M", "html", str(rst), str(dest / "build"), "-c", str(dest), "-W",
         "--keep-going", "-q"], env=env)
    return problems(dest / "build" / "html", rst)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--dest", type=Path, default=ROOT / "tests" / "output" / "docs")
    args = parser.parse_args(argv)
    found = build(args.dest.resolve())
    for problem in found:
        print(f"build_docs: {problem}", file=sys.stderr)
    if not found:
        print(f"build_docs: {len(expected_pages())} pages, no error page: {args.dest / 'build' / 'html' / 'index.html'}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
