"""Prepare a demo workspace from examples/legacy-pg.

Copies the example files that the workspace does not have yet (an existing
workspace is the operator's: nothing in it is overwritten), delivers the built
image tar into <workspace>/delivered/ (hard link when possible) and fills the
SSOT's sha256 placeholder with the delivered tar's digest. With --demo-keys (the
folder make demo keeps the demo approver's and recorder's SSH keys in, outside the
workspace) it writes the demo's trust root there (trust.yml: the approver may sign
approvals, the recorder seals; docs/security.md) - never inside the workspace.

Usage: init_workspace.py WORKSPACE [--example DIR] [--image-info build-info.json] [--demo-keys DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = "@@DELIVERED_SHA256@@"
sys.path.insert(0, str(ROOT / ".collections"))


def deliver(src: Path, dest: Path) -> str:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists() and dest.stat().st_size == src.stat().st_size and (
            dest.stat().st_ino == src.stat().st_ino or dest.stat().st_mtime >= src.stat().st_mtime):
        return "kept"
    tmp = dest.with_name(dest.name + ".part")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dest)
    return "delivered"


def public_key(private: Path) -> str:
    return " ".join(private.with_name(private.name + ".pub").read_text().split()[:2])


def write_trust_root(keys: Path, done: list[str]) -> Path:
    """The demo's trust root (docs/security.md), beside its keys and outside every workspace: the approver may sign
    approvals, the recorder seals the journal; signatures and seals required."""
    root = keys / "trust.yml"
    text = ("# The demo's trust root (make demo): who may approve and who may seal, outside every workspace.\n"
            "allowed_signers: |\n"
            "  ana.souza@demo.invalid namespaces=\"approval@ssot.governance\" %s\n"
            "  recorder@demo.invalid namespaces=\"seal@ssot.governance\" %s\n"
            "require_signatures: true\nrequire_seals: true\n"
            % (public_key(keys / "approver_ed25519"), public_key(keys / "recorder_ed25519")))
    if not root.exists() or root.read_text(encoding="utf-8") != text:
        root.write_text(text, encoding="utf-8")
        done.append(f"wrote the demo trust root {root}")
    return root


def init(workspace: Path, example: Path, info: dict, keys: Path | None = None) -> list[str]:
    done = []
    workspace.mkdir(parents=True, exist_ok=True)
    for src in sorted(example.iterdir()):
        dest = workspace / src.name
        if src.is_file() and not dest.exists():
            shutil.copyfile(src, dest)
            done.append(f"copied {src.name}")
    tar = Path(info["docker_archive"])
    state = deliver(tar, workspace / "delivered" / tar.name)
    done.append(f"{state} delivered/{tar.name}")
    ssot = workspace / "ssot.yml"
    text = ssot.read_text(encoding="utf-8")
    if PLACEHOLDER in text:
        ssot.write_text(text.replace(PLACEHOLDER, info["docker_archive_sha256"]), encoding="utf-8")
        done.append("filled the artifact sha256 in ssot.yml")
    if keys is not None:
        write_trust_root(keys, done)
    return done


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--example", type=Path, default=ROOT / "examples" / "legacy-pg")
    ap.add_argument("--image-info", type=Path,
                    default=ROOT / ".cache" / "images" / "legacy-pg-10.23" / "build-info.json")
    ap.add_argument("--demo-keys", type=Path, default=None,
                    help="folder holding approver_ed25519 and recorder_ed25519 (make demo generates them); the demo's "
                         "trust root is written there")
    args = ap.parse_args(argv)
    if not args.image_info.exists():
        print(f"init_workspace: {args.image_info} not found; build the image first (make image)", file=sys.stderr)
        return 1
    info = json.loads(args.image_info.read_text())
    for line in init(args.workspace.resolve(), args.example, info, args.demo_keys):
        print(f"init_workspace: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
