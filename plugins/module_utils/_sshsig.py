# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SSH signatures (``ssh-keygen -Y sign`` / ``-Y verify``) over approvals and journal seals.

PRIVATE: internal to ssot.governance; its API may change at any time. Stdlib only: the gate
(controller), the decision modules and runbook_verify (target) verify with it; the approve
playbook and the recorder sign with it.

The cryptography and the policy are OpenSSH's: a signature counts only when
``ssh-keygen -Y verify`` accepts it for the principal it claims, in this collection's
namespace, against the SSOT's allowed-signers file (key listed for that principal, allowed
for that namespace, inside its ``valid-after``/``valid-before``). When it does not, this
module reads the signature and the file itself only to say *why*, in the operator's words:
no such key, a key of another principal, a key past its ``valid-before``, a key not allowed
for this use, or a signature over other content (an edit or a replay).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile

from ansible_collections.ssot.governance.plugins.module_utils._text import Coded

APPROVAL_NAMESPACE = "approval@ssot.governance"
SEAL_NAMESPACE = "seal@ssot.governance"
ALLOWED_SIGNERS_MAX_BYTES = 256 * 1024
_ARMOR = re.compile(r"^\s*-----BEGIN SSH SIGNATURE-----\s*([A-Za-z0-9+/=\s]+?)-----END SSH SIGNATURE-----\s*$")
_TIMEOUT = 30

# What an approval's signature covers: every field that gives it meaning, nothing else - the environment it is for
# and the card its approver was shown (docs/security.md) among them.
APPROVAL_FIELDS = ("decision", "option", "ssot_digest", "environment", "card", "approved_by", "approved_at",
                   "expires_at", "reason")
APPROVAL_VERSION = "ssot.governance approval v2"


class SignatureError(Coded):
    """Signing or verifying cannot be done at all (no ssh-keygen, an unreadable allowed-signers file, no key).

    ``code`` is a catalog key, ``params`` its placeholders."""


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _moment(value):
    """approved_at / expires_at as one text whatever YAML made of it (a date-time or a string)."""
    if value in (None, ""):
        return ""
    if isinstance(value, datetime.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
        return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value).strip()


def approval_payload(entry):
    """The exact bytes an approval's signature is over."""
    body = {}
    for key in APPROVAL_FIELDS:
        value = entry.get(key)
        body[key] = _moment(value) if key in ("approved_at", "expires_at") else ("" if value is None else str(value))
    return ("%s\n%s\n" % (APPROVAL_VERSION, canonical(body))).encode("ascii")


def seal_payload(seal):
    """The exact bytes a journal seal's signature is over (the seal record without its signature)."""
    body = dict((k, v) for k, v in seal.items() if k not in ("signature",))
    return ("ssot.governance seal v1\n%s\n" % canonical(body)).encode("ascii")


def ssh_keygen():
    found = shutil.which("ssh-keygen")
    if not found:
        raise SignatureError("sig.no_ssh_keygen")
    return found


def _run(argv, data=b"", timeout=_TIMEOUT):
    try:
        proc = subprocess.run(argv, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                              check=False)
    except OSError as exc:
        raise SignatureError("sig.cannot_run", tool=os.path.basename(argv[0]), error=exc.strerror or str(exc))
    except subprocess.TimeoutExpired:
        raise SignatureError("sig.cannot_run", tool=os.path.basename(argv[0]), error=Coded("sig.why.timeout"))
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


# --- reading signatures and keys -----------------------------------------------------------
def _string(blob, at):
    if at + 4 > len(blob):
        raise ValueError("truncated")
    size = struct.unpack(">I", blob[at:at + 4])[0]
    if at + 4 + size > len(blob):
        raise ValueError("truncated")
    return blob[at + 4:at + 4 + size], at + 4 + size


def read_signature(armored):
    """(public key blob, namespace) of an armored SSH signature; None when it is not one."""
    if not isinstance(armored, str) or len(armored) > 16384:
        return None
    m = _ARMOR.match(armored)
    if not m:
        return None
    try:
        blob = base64.b64decode("".join(m.group(1).split()), validate=True)
        if blob[:6] != b"SSHSIG":
            return None
        key, at = _string(blob, 10)
        namespace, at = _string(blob, at)
        return key, namespace.decode("utf-8", "replace")
    except (ValueError, TypeError, struct.error):
        return None


def fingerprint(key_blob):
    """OpenSSH's SHA256 fingerprint of a public key blob."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key_blob).digest()).decode("ascii").rstrip("=")


def _split(text_value, separators):
    """Split on ``separators`` outside double quotes (the quotes are kept); empty pieces dropped."""
    out, cur, quoted = [], "", False
    for ch in text_value:
        if ch == '"':
            quoted = not quoted
        elif ch in separators and not quoted:
            out.append(cur)
            cur = ""
            continue
        cur += ch
    out.append(cur)
    return [piece for piece in out if piece]


def _options(text_value):
    """``namespaces="a,b",valid-before="2027..."`` -> {name: value without quotes}."""
    parsed = {}
    for item in _split(text_value, ","):
        name, _sep, value = item.partition("=")
        parsed[name.strip().lower()] = value.strip().strip('"')
    return parsed


def _when(value):
    """An allowed_signers time (YYYYMMDD[HHMM[SS]], optional Z) as UTC, or None."""
    value = (value or "").strip()
    m = re.match(r"^(\d{8})(\d{4})?(\d{2})?Z?$", value)
    if not m:
        return None
    try:
        return datetime.datetime.strptime(m.group(1) + (m.group(2) or "0000") + (m.group(3) or "00"),
                                          "%Y%m%d%H%M%S").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def allowed_signers_text(path):
    """The text of an allowed-signers file, read without following a link or blocking on a FIFO, bounded in size.
    SignatureError when it cannot be read."""
    name = os.path.basename(str(path))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise SignatureError("sig.signers_unreadable", file=name, error=exc.strerror or str(exc))
    try:
        import stat
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SignatureError("sig.signers_unreadable", file=name, error=Coded("sig.why.not_regular"))
        raw = os.read(fd, ALLOWED_SIGNERS_MAX_BYTES + 1)
    except OSError as exc:
        raise SignatureError("sig.signers_unreadable", file=name, error=exc.strerror or str(exc))
    finally:
        os.close(fd)
    if len(raw) > ALLOWED_SIGNERS_MAX_BYTES:
        raise SignatureError("sig.signers_unreadable", file=name, error=Coded("sig.why.too_large"))
    return raw.decode("utf-8", "replace")


_PATTERN_CHARS = "*?!"


def parse_allowed_signers(text_value, name="allowed_signers"):
    """The lines of an allowed-signers text: dicts with principals, key blob, key line, namespaces, valid_before,
    valid_after and the line number.

    The one reader of every allowed-signers text of the collection, and a strict one: a line that cannot authorize
    exactly one named principal is refused with its number (SignatureError), never skipped - a principal with a
    pattern (``*``, ``?``, a ``!`` negation), a ``cert-authority`` line, a ``namespaces=`` pattern, an option this
    collection does not read, or a line that is not ``principals [options] key-type base64-key``. OpenSSH applies
    patterns where this reader would not; refusing them keeps the two readings the same."""
    entries = []
    for number, line in enumerate(text_value.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue

        def refuse(why, number=number):
            raise SignatureError("sig.signers_line", file=name, line=number, why=Coded(why))
        tokens = _split(line, " \t")
        if len(tokens) < 3:
            refuse("sig.why.line_short")
        principals, rest = tokens[0], tokens[1:]
        if principals.startswith('"'):
            principals = principals.strip('"')
        options = {}
        if not re.match(r"^(ssh-|ecdsa-|sk-|rsa-)", rest[0]):
            options, rest = _options(rest[0]), rest[1:]
        unknown = set(options) - set(("namespaces", "valid-before", "valid-after"))
        if "cert-authority" in unknown:
            refuse("sig.why.cert_authority")
        if unknown:
            refuse("sig.why.option")
        names = principals.split(",")
        if not names or any(not p or any(c in p for c in _PATTERN_CHARS) or re.search(r'[\s"\x00-\x1f\x7f]', p)
                            for p in names):
            refuse("sig.why.pattern")
        namespaces = [n for n in options.get("namespaces", "").split(",") if n] or None
        if namespaces is not None and any(any(c in n for c in _PATTERN_CHARS) for n in namespaces):
            refuse("sig.why.namespace_pattern")
        if len(rest) < 2:
            refuse("sig.why.line_short")
        try:
            blob = base64.b64decode(rest[1], validate=True)
            kind, dummy = _string(blob, 0)
        except (ValueError, TypeError, struct.error):
            refuse("sig.why.bad_key")
        if kind.decode("ascii", "replace") != rest[0]:
            refuse("sig.why.bad_key")
        before, after = _when(options.get("valid-before")), _when(options.get("valid-after"))
        if ("valid-before" in options and before is None) or ("valid-after" in options and after is None):
            refuse("sig.why.bad_time")
        entries.append({"line": number, "principals": names, "key": blob, "namespaces": namespaces,
                        "valid_before": before, "valid_after": after, "options": dict(
                            (k, options[k]) for k in ("valid-before", "valid-after") if k in options)})
    return entries


def read_allowed_signers(path):
    """parse_allowed_signers over a file (read without following a link, bounded). SignatureError when it cannot
    be read or holds a line the reader refuses."""
    return parse_allowed_signers(allowed_signers_text(path), os.path.basename(str(path)))


def signers_of(allowed_signers):
    """Parsed lines, whether given as a file path or already parsed."""
    if isinstance(allowed_signers, (list, tuple)):
        return list(allowed_signers)
    return read_allowed_signers(allowed_signers)


def exact_line(signer, principal, namespace):
    """One allowed-signers line for exactly ``principal`` and ``namespace`` with ``signer``'s key and validity: what
    ssh-keygen verifies against, so it decides over the very line this reader chose."""
    options = ['namespaces="%s"' % namespace] + ['%s="%s"' % (k, v) for k, v in sorted(signer["options"].items())]
    return '"%s" %s %s\n' % (principal, ",".join(options), public_key_line(signer["key"]))


# --- verifying ---------------------------------------------------------------------------
class Verdict(object):
    """What a signature proves: ``ok`` and the key's fingerprint, or ``code`` (a catalog key) and ``params``."""

    def __init__(self, ok, code=None, key=None, **params):
        self.ok = ok
        self.code = code
        self.key = key
        self.params = params

    def __repr__(self):
        return "Verdict(%r, %r, %r)" % (self.ok, self.code, self.params)


def _verify_time(now):
    return (now or datetime.datetime.now(datetime.timezone.utc)).astimezone(
        datetime.timezone.utc).strftime("%Y%m%d%H%M%SZ")


def verify(payload, armored, principal, namespace, allowed_signers, now=None):
    """Does ``armored`` sign ``payload`` by ``principal`` for ``namespace`` at ``now``, under ``allowed_signers``
    (parsed lines, or a file this module's reader reads)?

    The line is chosen here, exactly (the principal named, the signing key, the namespace, the validity), and
    ``ssh-keygen -Y verify`` checks the signature against a file holding only that line. Returns a Verdict; raises
    SignatureError only when it cannot be decided (no ssh-keygen, an unreadable or refused signers text)."""
    read = read_signature(armored)
    if read is None:
        return Verdict(False, "sig.refused.malformed")
    key, signed_namespace = read
    fp = fingerprint(key)
    signers = signers_of(allowed_signers)  # readable (and strict) before anything is decided
    if signed_namespace != namespace:
        return Verdict(False, "sig.refused.namespace", fp, namespace=signed_namespace[:60], want=namespace)
    lines = [s for s in signers if s["key"] == key]
    if not lines:
        return Verdict(False, "sig.refused.unknown_key", fp)
    mine = [s for s in lines if str(principal) in s["principals"]]
    if not mine:
        owners = sorted(set(p for s in lines for p in s["principals"]))
        return Verdict(False, "sig.refused.other_principal", fp, principal=", ".join(owners)[:120])
    refusal = None
    for signer in mine:
        refusal = line_refusal(signer, namespace, now)
        if refusal is None:
            break
    else:
        return Verdict(False, refusal[0], fp, **refusal[1])
    tool = ssh_keygen()
    with tempfile.TemporaryDirectory(prefix="ssot-sig-") as tmp:
        sig = os.path.join(tmp, "sig")
        with open(sig, "w") as fh:
            fh.write(armored.strip() + "\n")
        exact = os.path.join(tmp, "allowed_signers")
        with open(exact, "w") as fh:
            fh.write(exact_line(signer, principal, namespace))
        rc, _out, _err = _run([tool, "-Y", "verify", "-f", exact, "-I", str(principal), "-n", namespace,
                               "-s", sig, "-O", "verify-time=%s" % _verify_time(now)], payload)
    if rc == 0:
        return Verdict(True, None, fp, line=signer["line"])
    return Verdict(False, "sig.refused.content", fp)


def verify_signer(payload, armored, namespace, allowed_signers, now=None):
    """Who, among the allowed signers, signed ``payload`` for ``namespace``: a Verdict whose ``params`` name the
    ``principal`` when ok. The principals tried are those the allowed signers list for the signing key."""
    read = read_signature(armored)
    if read is None:
        return Verdict(False, "sig.refused.malformed")
    key, _namespace = read
    signers = signers_of(allowed_signers)
    candidates = []
    for s in signers:
        if s["key"] == key:
            candidates.extend(p for p in s["principals"] if p not in candidates)
    last = None
    for principal in candidates or [""]:
        last = verify(payload, armored, principal, namespace, signers, now)
        if last.ok:
            last.params["principal"] = principal
            return last
    return last


def line_refusal(signer, namespace, now=None):
    """Why an allowed-signers line does not allow signing for ``namespace`` at ``now``: (catalog key, params), or
    None when it does. Namespaces are compared exactly (the reader refuses patterns)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if signer["valid_before"] is not None and now > signer["valid_before"]:
        return "sig.refused.expired_key", dict(line=signer["line"],
                                               until=signer["valid_before"].strftime("%Y-%m-%dT%H:%M:%SZ"))
    if signer["valid_after"] is not None and now < signer["valid_after"]:
        return "sig.refused.early_key", dict(line=signer["line"],
                                             since=signer["valid_after"].strftime("%Y-%m-%dT%H:%M:%SZ"))
    if signer["namespaces"] is not None and namespace not in signer["namespaces"]:
        return "sig.refused.not_allowed", dict(line=signer["line"], namespace=namespace)
    return None


# --- signing -----------------------------------------------------------------------------
def public_key_line(key_blob):
    kind, _at = _string(key_blob, 0)
    return "%s %s" % (kind.decode("ascii"), base64.b64encode(key_blob).decode("ascii"))


def agent_keys():
    """The public key blobs the ssh-agent holds (empty without an agent)."""
    if not os.environ.get("SSH_AUTH_SOCK"):
        return []
    tool = shutil.which("ssh-add")
    if not tool:
        return []
    rc, out, _err = _run([tool, "-L"])
    keys = []
    for line in out.splitlines() if rc == 0 else []:
        parts = line.split()
        if len(parts) >= 2:
            try:
                keys.append(base64.b64decode(parts[1], validate=True))
            except (ValueError, TypeError):
                continue
    return keys


def key_file_blob(path):
    """The public key blob of a key file (private or .pub), or SignatureError."""
    tool = ssh_keygen()
    if not os.path.isfile(path):
        raise SignatureError("sig.key_unreadable", file=os.path.basename(str(path)), error=Coded("sig.why.not_found"))
    pub = path if path.endswith(".pub") else None
    if pub is None and os.path.isfile(path + ".pub"):
        pub = path + ".pub"
    if pub:
        with open(pub) as fh:
            parts = fh.read().split()
    else:
        rc, out, err = _run([tool, "-y", "-P", "", "-f", path])
        if rc != 0:
            raise SignatureError("sig.key_unreadable", file=os.path.basename(path), error=err.strip()[:200] or rc)
        parts = out.split()
    try:
        return base64.b64decode(parts[1], validate=True)
    except (IndexError, ValueError, TypeError):
        raise SignatureError("sig.key_unreadable", file=os.path.basename(str(path)), error=Coded("sig.why.not_public_key"))


def sign(payload, namespace, key_file=None, agent_key=None):
    """An armored signature of ``payload``: with a key file - a private key, or the ``.pub`` of a key the ssh-agent
    holds (ssh-keygen then asks the agent) - or with the agent's key ``agent_key`` (a public key blob). A
    passphrase is asked by ssh-keygen itself, at the terminal (hence the long timeout)."""
    tool = ssh_keygen()
    with tempfile.TemporaryDirectory(prefix="ssot-sign-") as tmp:
        if agent_key is not None:
            key_file = os.path.join(tmp, "agent.pub")
            with open(key_file, "w") as fh:
                fh.write(public_key_line(agent_key) + "\n")
        rc, out, err = _run([tool, "-Y", "sign", "-f", key_file, "-n", namespace], payload, timeout=300)
    if rc != 0 or read_signature(out) is None:
        raise SignatureError("sig.sign_failed", error=err.strip()[:200] or rc)
    return out.strip() + "\n"
