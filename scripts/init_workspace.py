"""Prepare a demo workspace from examples/legacy-pg.

Copies the example files that the workspace does not have yet (an existing
workspace is the operator's: nothing in it is overwritten), delivers the built
image tar into <workspace>/delivered/ (hard link when possible), fills the
SSOT's sha256 placeholder with the delivered tar's digest, and the example
approvals' SSOT digest placeholder with the digest of that SSOT (the example
ships the demo operator's approval of the ingestion; it counts only for the
SSOT it was given for). With --demo-keys (the folder make demo keeps the demo approver's and
recorder's SSH keys in, outside the workspace), it fills the example allowed_signers with their
public keys and signs the demo approval with the approver's key; without it the approval stays
unsigned (it counts only where signatures are not required).

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
DIGEST_PLACEHOLDER = "@@SSOT_DIGEST@@"
SIGNATURE_PLACEHOLDER = '"@@DEMO_SIGNATURE@@"'
KEY_PLACEHOLDERS = {"@@DEMO_APPROVER_KEY@@": "approver_ed25519", "@@DEMO_RECORDER_KEY@@": "recorder_ed25519"}
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


def fill_signers(path: Path, keys: Path | None, done: list[str]) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if keys is None or not any(p in text for p in KEY_PLACEHOLDERS):
        return
    for placeholder, name in KEY_PLACEHOLDERS.items():
        text = text.replace(placeholder, public_key(keys / name))
    path.write_text(text, encoding="utf-8")
    done.append("filled the demo public keys in allowed_signers")


def sign_demo_approval(path: Path, keys: Path | None, done: list[str]) -> None:
    """Replace the signature placeholder with the demo approver's signature (or drop it without keys)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if SIGNATURE_PLACEHOLDER not in text or DIGEST_PLACEHOLDER in text:
        return
    lines = text.splitlines(True)
    at = next(i for i, line in enumerate(lines) if SIGNATURE_PLACEHOLDER in line)
    if keys is None:
        del lines[at]
        done.append("left the demo approval unsigned (no --demo-keys)")
    else:
        import yaml
        from ansible_collections.ssot.governance.plugins.module_utils import _sshsig
        from ansible_collections.ssot.governance.plugins.plugin_utils import _approvals
        entry = next(e for e in yaml.safe_load(text)["approvals"] if e.get("signature") == SIGNATURE_PLACEHOLDER[1:-1])
        signature = _sshsig.sign(_sshsig.approval_payload(entry), _sshsig.APPROVAL_NAMESPACE,
                                 key_file=str(keys / "approver_ed25519"))
        pad = lines[at][:len(lines[at]) - len(lines[at].lstrip())]
        lines[at] = pad + _approvals.signature_block(signature, pad)
        done.append("signed the demo approval with the demo approver's key")
    path.write_text("".join(lines), encoding="utf-8")


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
    approvals = workspace / "approvals.yml"
    if approvals.exists() and DIGEST_PLACEHOLDER in approvals.read_text(encoding="utf-8"):
        from ansible_collections.ssot.governance.plugins.module_utils import _ssot
        try:
            sig = _ssot.load_valid(str(ssot))["digest"]
        except _ssot.SSOTError:
            done.append("left the SSOT digest placeholder in approvals.yml: ssot.yml is not valid yet")
        else:
            approvals.write_text(approvals.read_text(encoding="utf-8").replace(DIGEST_PLACEHOLDER, sig),
                                 encoding="utf-8")
            done.append("filled the SSOT digest in approvals.yml")
    fill_signers(workspace / "allowed_signers", keys, done)
    sign_demo_approval(approvals, keys, done)
    return done


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--example", type=Path, default=ROOT / "examples" / "legacy-pg")
    ap.add_argument("--image-info", type=Path,
                    default=ROOT / ".cache" / "images" / "legacy-pg-10.23" / "build-info.json")
    ap.add_argument("--demo-keys", type=Path, default=None,
                    help="folder holding approver_ed25519 and recorder_ed25519 (make demo generates them)")
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
