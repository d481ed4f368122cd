# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Delivered artifacts: streamed hashing, format detection, image metadata, comparison with the SSOT.

PRIVATE: internal to ssot.governance; its API may change at any time. Stdlib only
(it runs on the target).

Memory stays constant whatever the file size: the sha256 is computed over fixed-size
blocks, and tar archives are walked header by header (tarfile seeks over member
data); only the small JSON members (manifest.json, index.json, manifests, configs)
are read whole, and those are capped.

The file is the deliverer's: parsing is bounded before anything is read. Archives are
read uncompressed only (a compressed one is reported, never inflated), a tar header's
extension (GNU long name, pax) and the number of members are capped, JSON is capped in
size and its nesting cannot raise, and every digest is computed from the content, never
taken from a file's name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tarfile
from tarfile import XGLTYPE

from ansible_collections.ssot.governance.plugins.module_utils import _decisions, _result
from ansible_collections.ssot.governance.plugins.module_utils._text import (
    DEFAULT_LANGUAGE, Coded, human_size, message as text, rendered, shown)

BLOCK = 1 << 20
JSON_LIMIT = 8 << 20          # a manifest or config larger than this is not one
SNIFF = 64 << 10
HEADER_LIMIT = 1 << 20        # a GNU long name or pax header larger than this is not one
MEMBER_LIMIT = 100000         # an image archive with more members than this is not one
# Magic numbers of the compressions tarfile would inflate: gzip, bzip2, xz, zstd.
_COMPRESSED = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"))

DOCKER_ARCHIVE = "docker-archive"
OCI_LAYOUT = "oci-layout"
DOCKERFILE = "dockerfile"
SQL_DUMP = "sql-dump"
CUSTOM_DUMP = "custom-dump"
UNKNOWN = "unknown"
IMAGE_FORMATS = (DOCKER_ARCHIVE, OCI_LAYOUT)

_SQL_MARKERS = (b"-- PostgreSQL database dump", b"-- PostgreSQL database cluster dump")
_SQL_STATEMENT = re.compile(rb"^\s*(CREATE|INSERT|COPY|ALTER|SET|SELECT|BEGIN|DROP)\b", re.I | re.M)
_DOCKERFILE_FROM = re.compile(rb"^\s*FROM\s+\S+", re.I | re.M)


class ArtifactError(Coded):
    """The file cannot be read as what it claims to be; the message says why."""


def sha256_file(path, block=BLOCK):
    """Streamed sha256 and size of ``path``: constant memory."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(block)
            if not chunk:
                break
            size += len(chunk)
            h.update(chunk)
    return h.hexdigest(), size


def normalize_ref(ref):
    """``docker.io/library/postgres`` -> ``postgres:latest``; name:tag otherwise unchanged."""
    if not ref:
        return ref
    ref = str(ref)
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix):]
            break
    if "@" in ref:
        return ref
    last = ref.rsplit("/", 1)[-1]
    return ref if ":" in last else ref + ":latest"


class _BoundedTarInfo(tarfile.TarInfo):
    """A tar header whose extensions (GNU long names, pax records) are read only when small: tarfile reads them
    whole into memory, so a 1.5 GiB long name held in a 1.5 MB .tar.gz took 3 GB before this bound."""

    def _bounded(self):
        if self.size > HEADER_LIMIT:
            raise ArtifactError("artifact.error.header", size=self.size, limit=HEADER_LIMIT)

    def _proc_gnulong(self, tarfile):  # pylint: disable=redefined-outer-name
        self._bounded()
        return super(_BoundedTarInfo, self)._proc_gnulong(tarfile)

    def _proc_pax(self, tarfile):  # pylint: disable=redefined-outer-name
        self._bounded()
        if self.type == XGLTYPE:
            # tarfile copies the global pax records into every later member: a small file with many keys and many
            # members took gigabytes. An image archive has none.
            raise ArtifactError("artifact.error.global_pax")
        return super(_BoundedTarInfo, self)._proc_pax(tarfile)


def compression(head):
    """The compression a file's first bytes announce (gzip, bzip2, xz, zstd), or None."""
    for magic, name in _COMPRESSED:
        if head.startswith(magic):
            return name
    return None


def _open_tar(path):
    """An uncompressed tar, headers bounded (_BoundedTarInfo); None when the file is not one."""
    try:
        tar = tarfile.open(path, "r:", tarinfo=_BoundedTarInfo)
    except (tarfile.ReadError, tarfile.CompressionError):
        return None
    except (tarfile.TarError, EOFError, OSError) as exc:   # a tar whose first header is beyond the bounds
        raise ArtifactError("artifact.error.tar", error=str(exc)[:200])
    return tar


def _strict(pairs):
    """A JSON object whose keys are all different, even ignoring case: docker reads configs with Go's decoder, which
    matches keys ignoring case (the last one wins), so ``env`` next to ``Env`` would run what the card did not show."""
    seen = set()
    for key, dummy in pairs:
        folded = key.lower()
        if folded in seen:
            raise ArtifactError("artifact.error.duplicate_key", key=shown(key))
        seen.add(folded)
    return dict(pairs)


def member_name(name):
    """A member's name as an extractor cleans it (``./a``, ``/a``, ``a//b``, ``a/`` are ``a``, ``a/b``)."""
    return "/".join(part for part in name.split("/") if part not in ("", "."))


def _read_member(tar, members, name):
    """(JSON document, sha256 of its bytes) of a small regular member (``members``: cleaned name -> member)."""
    member = members.get(member_name(str(name)))
    if member is None:
        raise ArtifactError("artifact.error.missing_member", name=shown(name))
    if not member.isfile() or member.size > JSON_LIMIT:
        raise ArtifactError("artifact.error.member_size", name=shown(name), size=member.size)
    data = tar.extractfile(member).read()
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_strict), hashlib.sha256(data).hexdigest()
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ArtifactError("artifact.error.member_json", name=shown(name), error=shown(str(exc), 200))


def _digest_checked(tar, members, name, digest):
    """The JSON of member ``name``, whose content must hash to ``digest`` (sha256:<hex>)."""
    doc, computed = _read_member(tar, members, name)
    if digest != "sha256:%s" % computed:
        raise ArtifactError("artifact.error.digest", name=shown(name), expected=shown(digest), computed=computed)
    return doc


def _list_of(value, kind):
    if not isinstance(value, list) or not all(isinstance(x, kind) for x in value):
        raise ArtifactError("artifact.error.bad_entry")
    return value


def _dict(value):
    if not isinstance(value, dict):
        raise ArtifactError("artifact.error.bad_entry")
    return value


# An environment variable whose name says it holds a secret: its value is masked on the card and in evidence.
_SECRET_NAME = re.compile(r"(?i)(passw|secret|token|api_?key|private_?key|credential)")
IMAGE_FIELDS = ("platform", "entrypoint", "cmd", "user", "workdir", "env", "exposed_ports", "volumes", "healthcheck",
                "labels", "stop_signal")


def _strings(value):
    return [str(x) for x in value] if isinstance(value, list) else ([str(value)] if value not in (None, "") else [])


def image_config(config):
    """What an image would run and expose, as its config says (the deliverer's): platform, entrypoint, command,
    user, working directory, environment (a value whose name says it is a secret masked), exposed ports, volumes,
    healthcheck, labels, stop signal. Values as they are; shown() escapes them where a person reads them."""
    c = config.get("config") if isinstance(config.get("config"), dict) else {}
    platform = "/".join(str(x) for x in (config.get("os"), config.get("architecture"), config.get("variant")) if x)
    env = []
    for item in _strings(c.get("Env")):
        name, eq, value = item.partition("=")
        env.append("%s=%s" % (name, "***" if _SECRET_NAME.search(name) and value else value) if eq else name)
    health = c.get("Healthcheck") if isinstance(c.get("Healthcheck"), dict) else {}
    labels = c.get("Labels") if isinstance(c.get("Labels"), dict) else {}
    return {"platform": platform or None, "entrypoint": _strings(c.get("Entrypoint")), "cmd": _strings(c.get("Cmd")),
            "user": str(c.get("User") or "") or None, "workdir": str(c.get("WorkingDir") or "") or None, "env": env,
            "exposed_ports": sorted(str(k) for k in (c.get("ExposedPorts") or {}) if isinstance(c.get("ExposedPorts"), dict)),
            "volumes": sorted(str(k) for k in (c.get("Volumes") or {}) if isinstance(c.get("Volumes"), dict)),
            "healthcheck": _strings(health.get("Test")),
            "labels": ["%s=%s" % (k, v) for k, v in sorted((str(k), str(v)) for k, v in labels.items())],
            "stop_signal": str(c.get("StopSignal") or "") or None}


def image_lines(images, lang, limit=300):
    """The images of an archive as a card shows them: per image its tags, computed config digest and each field of
    its configuration (image_config), one line each, every value escaped."""
    lines = []
    for n, img in enumerate(images):
        cfg = img.get("config") or {}
        head = text(lang, "artifact.image.head", n=n + 1, count=len(images), platform=shown(cfg.get("platform")),
                    refs=", ".join(shown(r) for r in img.get("refs") or []) or "-",
                    digest=img.get("config_digest") or "-")
        lines.append(head)
        for field in IMAGE_FIELDS[1:]:
            value = cfg.get(field)
            if value in (None, [], ""):
                continue
            said = " | ".join(value) if isinstance(value, list) else value
            lines.append(text(lang, "artifact.image." + field, value=shown(said, limit)))
    return lines


def _blob(digest):
    algo, dummy, hexd = str(digest).partition(":")
    return "blobs/%s/%s" % (algo, hexd)


def _docker_archive(tar, members):
    manifest = _read_member(tar, members, "manifest.json")[0]
    if not isinstance(manifest, list) or not manifest:
        raise ArtifactError("artifact.error.no_image")
    images = []
    for entry in manifest:
        entry = _dict(entry)
        config_name = entry.get("Config", "")
        if not isinstance(config_name, str):
            raise ArtifactError("artifact.error.bad_entry")
        tags = _list_of(entry.get("RepoTags") or [], str)
        layers = _list_of(entry.get("Layers") or [], str)
        # The config digest is computed from its content (the image id docker gives it); a name that says another
        # digest is a forged archive (it would get an existing image's id tagged and run).
        config, computed = _read_member(tar, members, config_name)
        base = config_name.rsplit("/", 1)[-1]
        named = base[:-5] if base.endswith(".json") else base
        if re.match(r"^[0-9a-f]{64}$", named) and named != computed:
            raise ArtifactError("artifact.error.digest", name=config_name, expected=named, computed=computed)
        if not isinstance(config, dict):
            raise ArtifactError("artifact.error.bad_entry")
        images.append({
            "refs": [normalize_ref(t) for t in tags],
            "config_digest": "sha256:" + computed, "config": image_config(config),
            "layers": len(layers),
            "diff_ids": list(_list_of(_dict(config.get("rootfs") or {}).get("diff_ids") or [], str)),
            "architecture": config.get("architecture"),
        })
    return images


def _oci_refs(ref):
    """org.opencontainers.image.ref.name may be a full name:tag or only a tag ("15"): keep a bare tag as is."""
    if not ref:
        return []
    return [normalize_ref(ref)] if (":" in ref or "/" in ref) else [ref]


def _oci_layout(tar, members):
    index = _dict(_read_member(tar, members, "index.json")[0])
    images = []
    # Every descriptor visited counts (a fan-out of nested indexes took minutes), each blob is followed once.
    pending, seen, visited = [(m, None) for m in _list_of(index.get("manifests") or [], dict)], set(), 0
    while pending:
        desc, inherited_ref = pending.pop()
        visited += 1
        if visited > MEMBER_LIMIT:
            raise ArtifactError("artifact.error.too_many", limit=MEMBER_LIMIT)
        annotations = _dict(desc.get("annotations") or {})
        ref = (annotations.get("io.containerd.image.name") or annotations.get("org.opencontainers.image.ref.name")
               or inherited_ref)
        if not isinstance(ref, (str, type(None))) or not isinstance(desc.get("digest", ""), str):
            raise ArtifactError("artifact.error.bad_entry")
        if desc.get("digest") in seen:
            continue
        seen.add(desc.get("digest"))
        blob = _blob(desc.get("digest", ""))
        if member_name(blob) not in members:
            raise ArtifactError("artifact.error.index", digest=shown(desc.get("digest")))
        doc = _dict(_digest_checked(tar, members, blob, desc.get("digest")))
        if "manifests" in doc:       # a nested index (multi-platform): follow it
            pending.extend((m, ref) for m in _list_of(doc.get("manifests") or [], dict))
            continue
        config_desc = _dict(doc.get("config") or {})
        config = _dict(_digest_checked(tar, members, _blob(config_desc.get("digest", "")), config_desc.get("digest")))
        images.append({
            "refs": _oci_refs(ref),
            "config_digest": config_desc.get("digest"), "config": image_config(config),
            "layers": len(_list_of(doc.get("layers") or [], dict)),
            "diff_ids": list(_list_of(_dict(config.get("rootfs") or {}).get("diff_ids") or [], str)),
            "architecture": config.get("architecture"),
        })
    return images


def _sniff(path):
    with open(path, "rb") as fh:
        return fh.read(SNIFF)


def detect(path, lang=DEFAULT_LANGUAGE):
    """Format and image metadata of one file. Returns a dict (format, images, notes in ``lang``)."""
    head = _sniff(path)
    if head.startswith(b"PGDMP"):
        return {"format": CUSTOM_DUMP, "images": [], "notes": []}
    packed = compression(head)
    if packed:
        # Never inflated here (a small file can inflate to any size): docker load would, the inventory does not.
        return {"format": UNKNOWN, "images": [], "notes": [text(lang, "artifact.note.compressed", compression=packed)]}
    tar = _open_tar(path)
    if tar is not None:
        try:
            with tar:
                members = {}
                for member in tar:           # headers only; data is skipped by seeking
                    name = member_name(member.name)
                    # Two members one extractor writes to the same place (docker cleans ./manifest.json into
                    # manifest.json, the later one wins): the file read here would not be the one loaded.
                    if name in members and not (member.isdir() and members[name].isdir()):
                        raise ArtifactError("artifact.error.duplicate_member", name=shown(member.name))
                    members[name] = member
                    if len(members) > MEMBER_LIMIT:
                        raise ArtifactError("artifact.error.too_many", limit=MEMBER_LIMIT)
                names = members
                if "manifest.json" in names:
                    notes = [text(lang, "artifact.note.also_oci")] if "oci-layout" in names else []
                    return {"format": DOCKER_ARCHIVE, "images": _docker_archive(tar, members), "notes": notes}
                if "oci-layout" in names and "index.json" in names:
                    return {"format": OCI_LAYOUT, "images": _oci_layout(tar, members), "notes": []}
                return {"format": UNKNOWN, "images": [],
                        "notes": [text(lang, "artifact.note.tar_unknown")]}
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise ArtifactError("artifact.error.tar", error=exc)
    if b"\0" in head:
        return {"format": UNKNOWN, "images": [], "notes": [text(lang, "artifact.note.binary")]}
    if any(m in head for m in _SQL_MARKERS):
        return {"format": SQL_DUMP, "images": [], "notes": []}
    if _DOCKERFILE_FROM.search(head) and not _SQL_STATEMENT.search(head):
        return {"format": DOCKERFILE, "images": [], "notes": []}
    if _SQL_STATEMENT.search(head):
        return {"format": SQL_DUMP, "images": [], "notes": [text(lang, "artifact.note.sql_no_header")]}
    return {"format": UNKNOWN, "images": [], "notes": [text(lang, "artifact.note.text_unknown")]}


def platform_matches(found, wanted):
    """Whether an image's ``os/architecture[/variant]`` is the one ``wanted`` names (a variant it leaves out
    matches any)."""
    if not found or not wanted:
        return False
    return found == wanted or (wanted.count("/") == 1 and found.startswith(wanted + "/"))


def inspect(path, lang=DEFAULT_LANGUAGE, platform=None):
    """Everything the inventory records about one delivered file (notes in ``lang``). ``platform`` (the SSOT's)
    selects the images of that platform: every other one is left out of what the inventory shows and the provisioning
    converts (``platforms`` lists them all)."""
    info = {"path": path, "exists": os.path.exists(path)}
    if not info["exists"]:
        return info
    if os.path.isdir(path):
        info.update(kind="directory", format=UNKNOWN,
                    notes=[text(lang, "artifact.note.directory")])
        return info
    digest, size = sha256_file(path)
    info.update(kind="file", size=size, sha256=digest)
    try:
        info.update(detect(path, lang))
    except ArtifactError as exc:
        info.update(format=UNKNOWN, images=[], notes=[rendered(exc, lang)])
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, MemoryError, RecursionError) as exc:
        # The file is the deliverer's: whatever its shape, a note, never a traceback.
        info.update(format=UNKNOWN, images=[], notes=[text(lang, "artifact.error.shape", error=shown(repr(exc), 200))])
    images = info.get("images") or []
    info["platforms"] = sorted(set(str((img.get("config") or {}).get("platform")) for img in images))
    if platform:
        images = info["images"] = [img for img in images if platform_matches((img.get("config") or {}).get(
            "platform"), platform)]
    info["image_refs"] = [r for img in images for r in img["refs"]]
    info["config_digest"] = images[0]["config_digest"] if images else None
    info["layers"] = images[0]["layers"] if images else None
    return info


def engine_loads(fmt, engine):
    """Whether a Docker engine can ``docker load`` the format.

    ``engine``: {"version": "20.10.24", "containerd_store": bool}. docker-archive loads
    everywhere; an OCI image layout needs the containerd image store (or Docker 25+,
    which reads OCI layouts into the classic store too).
    """
    if fmt == DOCKER_ARCHIVE:
        return True
    if fmt != OCI_LAYOUT:
        return False
    if (engine or {}).get("containerd_store"):
        return True
    m = re.match(r"^(\d+)", str((engine or {}).get("version") or ""))
    return bool(m and int(m.group(1)) >= 25)


def compare(spec, info, sha256_required=True):
    """Differences between an SSOT artifact entry and what was found: list of (field, expected, actual)."""
    if not info.get("exists"):
        return [("presence", spec.get("path"), None)]
    diffs = []
    if info.get("format") != spec.get("format"):
        diffs.append(("format", spec.get("format"), info.get("format")))
    # An SSOT that does not pin the bytes lets any file carrying the expected tag in: that absence is itself a
    # decision (its card shows the delivered sha256 and what the image would run; the approval covers those bytes).
    if (spec.get("sha256") or sha256_required) and info.get("sha256") != spec.get("sha256"):
        diffs.append(("sha256", spec.get("sha256") or None, info.get("sha256")))
    if "platform" in _fields_to_check(spec, info, sha256_required):
        # One image, the one the SSOT names: an archive of several platforms is never left to whichever one a tool
        # would take (the inventory showed one, the conversion took another).
        if len(info.get("images") or []) != 1:
            diffs.append(("platform", spec.get("platform") or None, ", ".join(info.get("platforms") or []) or None))
    if spec.get("image") and info.get("format") in IMAGE_FORMATS:
        wanted = normalize_ref(spec["image"])
        if wanted not in (info.get("image_refs") or []):
            diffs.append(("image", wanted, ", ".join(info.get("image_refs") or []) or None))
    return diffs


def assess(specs, base_dir, engine, ssot_digest, lang, sha256_required=True):
    """Phase 1: inspect every SSOT artifact, compare, raise a decision per divergence (pending: the controller
    settles it, and the provisioning path that follows - ``path_choice``).

    Returns (artifacts, checks, decisions). ``checks`` use pg_check's shape (id, expected,
    actual, status) so the recorder keeps deviations and drift for both phases alike.
    """
    artifacts, checks, decisions = [], [], []
    for spec in specs:
        path = spec["path"] if os.path.isabs(spec["path"]) else os.path.join(base_dir, spec["path"])
        info = inspect(path, lang, spec.get("platform"))
        info.update(id=spec["id"], expected_format=spec.get("format"), location=spec.get("location") or "controller")
        diffs = compare(spec, info, sha256_required)
        info["decisions"] = []
        # What the image would run and expose, on every card about it (the decision id covers it: another
        # configuration is another decision).
        shown_image = {}
        if info.get("images"):
            shown_image = {"image_config": image_lines(info["images"], lang), "config_digest": info["config_digest"],
                           "tags": info.get("image_refs") or []}
        found = dict((d[0], d[1:]) for d in diffs)
        for field in _fields_to_check(spec, info, sha256_required):
            check = {"id": "artifact.%s.%s" % (spec["id"], field),
                     "description": text(lang, "check.description.artifact", id=spec["id"], field=field),
                     "sql": None, "severity": "high"}
            if field not in found:
                value = {"presence": spec["path"], "format": info.get("format"), "sha256": info.get("sha256"),
                         "image": normalize_ref(spec.get("image")), "platform": spec.get("platform")}[field]
                check.update(expected=value, actual=value, status="match")
                checks.append(check)
                continue
            expected, actual = found[field]
            # Which image of the archive is not for an approval to guess: the SSOT names the platform, or a rebuild.
            options = ("use_delivered", "rebuild") if field not in ("presence", "platform") else ("rebuild",)
            dec = _decisions.build(
                "inventory", "%s.%s" % (spec["id"], field),
                dict({"artifact": spec["id"], "field": field, "path": spec["path"], "expected": expected,
                      "actual": actual}, **shown_image), options, ssot_digest, lang)
            check.update(expected=expected, actual=actual, status="deviation", decision=dec["id"])
            checks.append(check)
            decisions.append(dec)
            info["decisions"].append(dec["id"])
        if info["exists"] and info.get("format") in IMAGE_FORMATS:
            info["engine_loads"] = engine_loads(info["format"], engine)
            if not info["engine_loads"]:
                version = (engine or {}).get("version") or "?"
                dec = _decisions.build(
                    "inventory", "%s.engine" % spec["id"],
                    dict({"artifact": spec["id"], "format": info.get("format"), "engine": version,
                          "sha256": info.get("sha256"), "path": spec["path"]}, **shown_image), ("convert", "rebuild"),
                    ssot_digest, lang)
                decisions.append(dec)
                info["decisions"].append(dec["id"])
        info["path_choice"] = path_choice(info["decisions"], decisions)
        artifacts.append(info)
    return artifacts, checks, decisions


def _fields_to_check(spec, info, sha256_required=True):
    if not info["exists"]:
        return ["presence"]
    fields = ["presence", "format"] + (["sha256"] if spec.get("sha256") or sha256_required else [])
    if info.get("format") in IMAGE_FORMATS and (spec.get("platform") or len(info.get("platforms") or []) > 1):
        fields.append("platform")
    if spec.get("image") and info.get("format") in IMAGE_FORMATS:
        fields.append("image")
    return fields


def path_choice(ids, decisions):
    """The provisioning path the decisions about one artifact allow: delivered, convert, rebuild or blocked. The
    controller computes it from the decisions it settled (an artifact's action)."""
    mine = [d for d in decisions if d["id"] in ids]
    if any(d["status"] != "approved" for d in mine):
        return "blocked"
    chosen = set(d["answer"]["option"] for d in mine)
    if "rebuild" in chosen:
        return "rebuild"
    if "convert" in chosen:
        return "convert"
    return "delivered"


def report_text(artifacts, checks, decisions, summary, lang=DEFAULT_LANGUAGE):
    """The inventory evidence an operator reads: one block per file (each image with its configuration), then
    verdicts and decisions. Whatever came from the file is escaped (a reference with a newline forged lines)."""
    lines = ["-- ssot.governance artifact_info (phase 1, read-only)", ""]
    for a in artifacts:
        lines.append("$ sha256sum %s" % a["path"])
        if not a.get("exists"):
            lines += ["(missing)", ""]
            continue
        lines.append("%s  %s" % (a.get("sha256", "-"), a["path"]))
        lines.append("size=%s (%s) format=%s" % (a.get("size"), human_size(a.get("size")), a.get("format")))
        for img in a.get("images") or []:
            lines.append("image refs=%s config=%s layers=%d" % (",".join(shown(r) for r in img["refs"]) or "-",
                                                                img["config_digest"], img["layers"]))
        lines += ["  " + x for x in image_lines(a.get("images") or [], lang)]
        if "engine_loads" in a:
            lines.append("engine can load: %s" % ("yes" if a["engine_loads"] else "no"))
        for note in a.get("notes") or []:
            lines.append("note: %s" % shown(note, 500))
        lines.append("")
    lines.append("-- verdicts")
    for c in checks:
        lines.append("%-10s %-40s expected=%s actual=%s" % (
            c["status"].upper(), c["id"], shown(c["expected"], 300), shown(c["actual"], 300)))
    if decisions:
        lines.append("-- decisions")
        for d in decisions:
            lines.append("%-9s %s  %s" % (d["status"].upper(), d["id"], shown(d["title"], 300)))
    lines += ["", summary]
    return "\n".join(lines) + "\n"


def argument_spec():
    """The artifact_info module's arguments (its action validates with them too, when it inspects in-process)."""
    spec = _decisions.argument_spec()
    spec.update(
        artifacts=dict(type="list", elements="dict", required=True),
        base_dir=dict(type="path", required=True),
        engine=dict(type="dict"),
        evidence_name=dict(type="str", default="inventory"),
        milestone=dict(type="bool", default=True),
        pending_elsewhere=dict(type="list", elements="str", default=[]),
        sha256_required=dict(type="bool", default=True),
    )
    return spec


def inventory(p):
    """The artifact_info module's result for its validated parameters ``p`` (ArtifactError, OSError as they come):
    the artifacts inspected where they are, their checks, the decisions they raise (pending: the controller settles
    them), the evidence."""
    lang = p["language"]
    artifacts, checks, decisions = assess(p["artifacts"], p["base_dir"], p["engine"], p["ssot_digest"], lang,
                                          p["sha256_required"])
    # Raised pending here; the action settles them on the controller and derives each artifact's path from them.
    pending = [d["id"] for d in decisions]
    deviations = [c["id"] for c in checks if c["status"] != "match"]
    summary = text(lang, "inventory.summary", count=len(artifacts), deviations=len(deviations), pending=len(pending))
    log = report_text(artifacts, checks, decisions, summary, lang)
    name = p["evidence_name"]
    out = dict(changed=False, artifacts=artifacts, checks=checks, deviations=deviations, decisions=decisions,
               pending=pending, msg=summary,
               evidence=[_result.evidence(name + ".log", text=log),
                         _result.evidence(name + ".json", content={"artifacts": artifacts, "checks": checks,
                                                                   "decisions": decisions})])
    if p["milestone"]:
        blocked = pending or p["pending_elsewhere"]
        out["milestone"] = _result.milestone("inventory", "blocked" if blocked else "clear", [])
    return out
