# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The trust root: who may approve and who may seal, configured outside every workspace (docs/security.md).

PRIVATE: internal to ssot.governance; its API may change at any time (controller side).

The root is one YAML file named by ``SSOT_TRUST_ROOT`` (else ``/etc/ssot-governance/trust.yml``): the controller's
configuration, an AWX credential's injected file, an operator's own profile - never the workspace it protects. It
holds the allowed signers (OpenSSH format, exact principals only: ``_sshsig.parse_allowed_signers``), whether
approvals must be signed and runs sealed (both by default), and which accounts each principal is (separation of
duties). The SSOT may narrow it (fewer signers, more accounts, signatures on), never widen it.
"""

from __future__ import annotations

import os

from ansible_collections.ssot.governance.plugins.module_utils import _sshsig, _yaml
from ansible_collections.ssot.governance.plugins.module_utils._text import Coded, message

ENV = "SSOT_TRUST_ROOT"
DEFAULT_PATH = "/etc/ssot-governance/trust.yml"
MAX_BYTES = 256 * 1024
KEYS = ("allowed_signers", "allowed_signers_file", "require_signatures", "require_seals", "accounts", "heads_log")


class TrustError(Coded):
    """The trust root cannot be used; ``code``/``params`` say why and what to fix."""


class Root(object):
    """The trust root as loaded: signers (parsed lines), the two requirements, principal -> accounts."""

    def __init__(self, path, signers, require_signatures, require_seals, accounts, heads_log=None):
        self.path = path
        self.signers = signers
        self.require_signatures = require_signatures
        self.require_seals = require_seals
        self.accounts = accounts
        self.heads_log = heads_log  # where each run appends its journal head (plugin_utils/_heads.py), or None


def locate(environ=None):
    """The trust root's path: the system file when it exists (the controller administrator's: a launcher's
    environment cannot point elsewhere - TrustError), else ``$SSOT_TRUST_ROOT`` (an AWX credential's injected file,
    an operator's profile), else None."""
    environ = os.environ if environ is None else environ
    named = environ.get(ENV)
    if os.path.lexists(DEFAULT_PATH):
        if named and os.path.realpath(os.path.expanduser(named)) != os.path.realpath(DEFAULT_PATH):
            raise TrustError("trust.env_conflict", path=DEFAULT_PATH, named=named, env=ENV)
        return DEFAULT_PATH
    if named:
        return os.path.abspath(os.path.expanduser(named))
    return None


def _guarded(path):
    """A file of the root is only as trustworthy as who can rewrite it: owned by root or by the user running
    ansible-playbook, writable by no one else, in a folder no one else can swap it in (unless that folder is
    sticky, like /tmp). TrustError naming the file and what to fix otherwise."""
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
        folder = os.stat(os.path.dirname(real))
    except OSError as exc:
        raise TrustError("trust.unreadable", path=path, error=exc.strerror or exc)
    owners = (0, os.getuid())
    if st.st_uid not in owners or st.st_mode & 0o022:
        raise TrustError("trust.unguarded", path=path, mode="%04o" % (st.st_mode & 0o7777), uid=st.st_uid)
    if folder.st_uid not in owners or (folder.st_mode & 0o022 and not folder.st_mode & 0o1000):
        raise TrustError("trust.unguarded", path=os.path.dirname(real), mode="%04o" % (folder.st_mode & 0o7777),
                         uid=folder.st_uid)


def _inside(path, folder):
    real, root = os.path.realpath(path), os.path.realpath(folder)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def _outside(path, workspaces):
    """A file of the root is never inside a workspace it protects."""
    for ws in workspaces:
        if ws and _inside(path, ws):
            raise TrustError("trust.inside_workspace", path=path, workspace=ws)


def _outside_and_guarded(path, workspaces):
    """A file of the root (the root itself, its signers file): outside every workspace it protects, and guarded."""
    _outside(path, workspaces)
    _guarded(path)


def load(workspaces=(), environ=None):
    """The trust root, or None when none is configured. TrustError when it is configured and cannot be used: a
    file that does not read, an unknown key, a signers line the one reader refuses, or a root (or its signers file)
    inside a workspace it would protect."""
    path = locate(environ)
    if path is None:
        return None
    name = path
    _outside_and_guarded(path, workspaces)
    try:
        doc, dummy = _yaml.load(path, MAX_BYTES)
    except _yaml.LoadError as exc:
        raise TrustError("trust.unreadable", path=name, error=exc)
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise TrustError("trust.invalid", path=name, key="-", why=Coded("trust.why.mapping"))
    unknown = sorted(_yaml.short(k) for k in doc if k not in KEYS)
    if unknown:
        raise TrustError("trust.invalid", path=name, key=", ".join(unknown), why=Coded("trust.why.unknown"))
    for key in ("require_signatures", "require_seals"):
        if key in doc and not isinstance(doc[key], bool):
            raise TrustError("trust.invalid", path=name, key=key, why=Coded("trust.why.bool"))
    if "allowed_signers" in doc and "allowed_signers_file" in doc:
        raise TrustError("trust.invalid", path=name, key="allowed_signers_file", why=Coded("trust.why.both"))
    signers = []
    try:
        if isinstance(doc.get("allowed_signers"), str):
            signers = _sshsig.parse_allowed_signers(doc["allowed_signers"], "%s: allowed_signers" % name)
        elif "allowed_signers" in doc and doc["allowed_signers"] is not None:
            raise TrustError("trust.invalid", path=name, key="allowed_signers", why=Coded("trust.why.text"))
        elif doc.get("allowed_signers_file") is not None:
            named = doc["allowed_signers_file"]
            if not isinstance(named, str) or not named:
                raise TrustError("trust.invalid", path=name, key="allowed_signers_file", why=Coded("trust.why.text"))
            file_path = os.path.join(os.path.dirname(path), os.path.expanduser(named))
            _outside_and_guarded(file_path, workspaces)
            signers = _sshsig.read_allowed_signers(file_path)
    except _sshsig.SignatureError as exc:
        raise TrustError("trust.signers", path=name, error=exc)
    accounts = {}
    raw = doc.get("accounts") or {}
    if not isinstance(raw, dict):
        raise TrustError("trust.invalid", path=name, key="accounts", why=Coded("trust.why.accounts"))
    for principal, names in raw.items():
        if not isinstance(principal, str) or not isinstance(names, list) or not all(
                isinstance(n, str) and n.strip() for n in names):
            raise TrustError("trust.invalid", path=name, key="accounts", why=Coded("trust.why.accounts"))
        accounts[principal] = list(names)
    heads_log = None
    if doc.get("heads_log") is not None:
        named = doc["heads_log"]
        if not isinstance(named, str) or not named:
            raise TrustError("trust.invalid", path=name, key="heads_log", why=Coded("trust.why.text"))
        heads_log = os.path.join(os.path.dirname(path), os.path.expanduser(named))
        # Outside every workspace, and only its owner (or root) can rewrite it or swap it in its folder.
        _outside(heads_log, workspaces)
        if os.path.lexists(heads_log):
            _guarded(heads_log)
        else:
            _guarded(os.path.dirname(heads_log) or ".")
    return Root(path, signers, doc.get("require_signatures", True), doc.get("require_seals", True), accounts,
                heads_log)


def _narrow(root_signers, ssot_signers):
    """The root's lines kept only for the (principal, key) pairs the SSOT's list names too, with the SSOT's
    namespaces and validity applied on top of the root's (the stricter of both)."""
    out = []
    for line in root_signers:
        for other in ssot_signers:
            if other["key"] != line["key"]:
                continue
            principals = [p for p in line["principals"] if p in other["principals"]]
            if not principals:
                continue
            namespaces = line["namespaces"]
            if other["namespaces"] is not None:
                namespaces = [n for n in (namespaces if namespaces is not None else other["namespaces"])
                              if n in other["namespaces"]]
            before = min([t for t in (line["valid_before"], other["valid_before"]) if t is not None] or [None])
            after = max([t for t in (line["valid_after"], other["valid_after"]) if t is not None] or [None])
            options = {}
            if before is not None:
                options["valid-before"] = before.strftime("%Y%m%d%H%M%SZ")
            if after is not None:
                options["valid-after"] = after.strftime("%Y%m%d%H%M%SZ")
            out.append(dict(line, principals=principals, namespaces=namespaces, valid_before=before,
                            valid_after=after, options=options))
    return out


class Rules(object):
    """What governs approvals and seals in one environment: the root, narrowed by the SSOT."""

    def __init__(self, root, ssot, base_dir, lang="pt-BR"):
        hitl = (ssot or {}).get("hitl") or {}
        self.root = root
        self.lang = lang
        self.notes = []
        self.error = None
        self.approvers = list(hitl.get("approvers") or [])
        self.validity = hitl["approval_validity"] if "approval_validity" in hitl else "7d"
        self.separation = bool(hitl.get("separation_of_duties"))
        self.extra_var_approvals = bool(hitl.get("extra_var_approvals"))
        self.accounts = dict((p, list(a)) for p, a in (root.accounts if root else {}).items())
        for principal, names in (hitl.get("accounts") or {}).items():
            self.accounts[principal] = self.accounts.get(principal, []) + [n for n in names
                                                                           if n not in self.accounts.get(principal, [])]
        signers = list(root.signers) if root else []
        named = hitl.get("allowed_signers")
        if named and root is not None:
            try:
                signers = _narrow(signers, _sshsig.read_allowed_signers(
                    os.path.join(base_dir, os.path.expanduser(named))))
            except _sshsig.SignatureError as exc:
                self.error = message(lang, "trust.ssot_signers", error=exc.render(lang))
                signers = []
        self.signers = signers
        ssot_sign, ssot_seal = hitl.get("require_signatures"), hitl.get("require_seals")
        self.require_signatures = bool(root.require_signatures if root else True) or ssot_sign is True
        self.require_seals = bool(root.require_seals if root else False) or ssot_seal is True
        if root is not None:
            for key, asked, held in (("require_signatures", ssot_sign, root.require_signatures),
                                     ("require_seals", ssot_seal, root.require_seals)):
                if asked is False and held:
                    self.notes.append(message(lang, "trust.cannot_widen", key=key, path=root.path))

    @property
    def usable(self):
        """Whether approvals can count at all: a root is configured and loaded, and the SSOT's narrowing read."""
        return self.root is not None and self.error is None

    def accounts_of(self, principal):
        """The accounts a principal is (the names read as people read them: ``identity_key``), or None when no
        mapping names it - then separation of duties cannot be told, and fails closed."""
        from ansible_collections.ssot.governance.plugins.module_utils._decisions import identity_key
        wanted = identity_key(principal)
        found = [a for p, a in self.accounts.items() if identity_key(p) == wanted]
        return sum(found, []) if found else None


def rules_for(ssot, base_dir, workspace, lang="pt-BR", environ=None):
    """(Rules, why the root cannot be used or None). Without a usable root every approval stays pending."""
    try:
        root = load([workspace], environ)
    except TrustError as exc:
        rules = Rules(None, ssot, base_dir, lang)
        rules.error = exc.render(lang)
        return rules
    rules = Rules(root, ssot, base_dir, lang)
    if root is None:
        rules.error = message(lang, "trust.missing", env=ENV, path=DEFAULT_PATH)
    return rules
