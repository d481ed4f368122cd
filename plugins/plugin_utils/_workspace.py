# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The recorder's only way to touch the workspace: relative paths, resolved one component at a time.

PRIVATE: internal to ssot.governance; its API may change at any time (controller side).

Every file and folder is reached from a descriptor of the workspace opened once, each component
opened with O_NOFOLLOW and checked with fstat on the descriptor that is then used: a symlink,
FIFO, device or socket anywhere inside the workspace is refused (WorkspaceUnsafe), and swapping a
component for a link between a check and its use cannot redirect a write outside the workspace.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class WorkspaceUnsafe(Exception):
    """A path inside the workspace is not a plain file or folder; ``rel`` names it."""

    def __init__(self, rel, what):
        super(WorkspaceUnsafe, self).__init__(rel)
        self.rel = rel
        self.what = what


def _kind(mode):
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISDIR(mode):
        return "folder"
    return "file"


def _parts(rel):
    parts = [p for p in rel.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise WorkspaceUnsafe(rel, "outside")
    return parts


class Folder(object):
    """The workspace, opened once. Paths are relative to it and never leave it."""

    def __init__(self, path, create=True):
        self.path = path
        if create:
            os.makedirs(path, exist_ok=True)
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
        except OSError as exc:
            if exc.errno == errno.ENOTDIR:
                raise WorkspaceUnsafe(".", "file")
            raise

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _refuse(self, rel, name, parent_fd):
        try:
            what = _kind(os.lstat(name, dir_fd=parent_fd).st_mode)
        except OSError:
            what = "unknown"
        raise WorkspaceUnsafe(rel, what)

    def _dir(self, parts, rel, create):
        """A descriptor of the folder ``parts`` (caller closes it unless it is self.fd)."""
        fd = self.fd
        for name in parts:
            if create:
                try:
                    os.mkdir(name, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass
            try:
                nxt = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    self._refuse(rel, name, fd)
                if fd != self.fd:
                    os.close(fd)
                raise
            if fd != self.fd:
                os.close(fd)
            fd = nxt
        return fd

    def _release(self, fd):
        if fd != self.fd:
            os.close(fd)

    def open(self, rel, flags, mode=0o644, create_dirs=True):
        """A descriptor of the regular file ``rel``; WorkspaceUnsafe if it is anything else."""
        parts = _parts(rel)
        parent = self._dir(parts[:-1], rel, create_dirs)
        try:
            try:
                fd = os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC, mode, dir_fd=parent)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
                    self._refuse(rel, parts[-1], parent)
                raise
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                self._refuse(rel, parts[-1], parent)
            os.set_blocking(fd, True)
            return fd
        finally:
            self._release(parent)

    def exists(self, rel):
        """True for a regular file, False when absent; WorkspaceUnsafe for anything else."""
        try:
            os.close(self.open(rel, os.O_RDONLY, create_dirs=False))
            return True
        except FileNotFoundError:
            return False

    def read(self, rel):
        fd = self.open(rel, os.O_RDONLY, create_dirs=False)
        with os.fdopen(fd, "rb") as fh:
            return fh.read()

    def sha256(self, rel):
        fd = self.open(rel, os.O_RDONLY, create_dirs=False)
        h = hashlib.sha256()
        with os.fdopen(fd, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()

    def stage(self, rel, data, temp, durable=True):
        """Write ``data`` whole to the new file ``temp`` (beside ``rel``, where it will be renamed), fsync'd when
        ``durable``. On any failure ``temp`` is removed and the error raised; ``rel`` is untouched."""
        fd = self.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            write_all(fd, data)
            if durable:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            try:
                self.remove(temp)
            except OSError:
                pass
            raise
        os.close(fd)
        try:
            self._refuse_non_regular(rel)
        except WorkspaceUnsafe:
            self.remove(temp)
            raise

    def _refuse_non_regular(self, rel):
        """Nothing, or WorkspaceUnsafe when ``rel`` exists as anything but a regular file."""
        parts = _parts(rel)
        parent = self._dir(parts[:-1], rel, True)
        try:
            try:
                mode = os.lstat(parts[-1], dir_fd=parent).st_mode
            except FileNotFoundError:
                return
            if not stat.S_ISREG(mode):
                raise WorkspaceUnsafe(rel, _kind(mode))
        finally:
            self._release(parent)

    def commit(self, temp, rel, durable=True):
        """Rename the staged ``temp`` over ``rel`` (and fsync the folder when ``durable``)."""
        self.rename(temp, rel)
        if not durable:
            return
        parts = _parts(rel)
        parent = self._dir(parts[:-1], rel, False)
        try:
            os.fsync(parent)
        finally:
            self._release(parent)

    def sync_folder(self, rel):
        """fsync the folder ``rel`` ("" for the workspace itself): the renames made in it are durable."""
        parent = self._dir(_parts(rel) if rel else [], rel or ".", False)
        try:
            os.fsync(parent)
        finally:
            self._release(parent)

    def rename(self, rel, new_rel):
        a, b = _parts(rel), _parts(new_rel)
        src = self._dir(a[:-1], rel, False)
        try:
            dst = self._dir(b[:-1], new_rel, True)
            try:
                os.replace(a[-1], b[-1], src_dir_fd=src, dst_dir_fd=dst)
            finally:
                self._release(dst)
        finally:
            self._release(src)

    def remove(self, rel):
        parts = _parts(rel)
        parent = self._dir(parts[:-1], rel, False)
        try:
            os.unlink(parts[-1], dir_fd=parent)
        finally:
            self._release(parent)

    def walk(self, rel):
        """Relative paths of the regular files under the folder ``rel`` (absent: none); anything that is not a
        plain file or folder raises WorkspaceUnsafe."""
        try:
            top = self._dir(_parts(rel), rel, False)
        except FileNotFoundError:
            return []
        out = []
        stack = [(rel, top)]
        try:
            while stack:
                here, fd = stack.pop()
                try:
                    for name in sorted(os.listdir(fd)):
                        mode = os.lstat(name, dir_fd=fd).st_mode
                        child = "%s/%s" % (here, name)
                        if stat.S_ISDIR(mode):
                            stack.append((child, os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                                                         | _CLOEXEC, dir_fd=fd)))
                        elif stat.S_ISREG(mode):
                            out.append(child)
                        else:
                            raise WorkspaceUnsafe(child, _kind(mode))
                finally:
                    self._release(fd)
        finally:
            for _here, fd in stack:
                self._release(fd)
        return sorted(out)


def write_all(fd, data):
    """os.write until every byte is written: a short write is not a success."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.EIO, "short write")
        view = view[written:]
