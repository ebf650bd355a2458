"""Atomic files: write beside the destination, fsync, then rename into place.

An export is written to a hidden temporary file in the destination's directory (so the
final rename never crosses file systems), flushed and fsynced, then renamed over the
destination. Any failure before the rename, an interrupt included, removes the temporary
file: the destination either holds the whole export or is untouched.

:class:`HashingFile` counts the bytes and the SHA-256 of what goes through it, so the
checksums in a manifest and in ``--json`` output cost no second read of the file.
"""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from ..errors import ExportFailed, InvalidInput

log = logging.getLogger(__name__)

#: Buffer between writers (often many small writes) and the file.
BUFFER_BYTES = 1 << 20


class HashingFile(io.RawIOBase):
    """A write-only stream over ``inner`` that counts bytes and computes their SHA-256.

    It is deliberately not seekable: :mod:`zipfile` then writes entries strictly in
    sequence (sizes in data descriptors), so the hash seen here is the hash of the file.
    Closing it leaves ``inner`` open (its owner closes it).
    """

    def __init__(self, inner: IO[bytes] | Any):
        super().__init__()
        self._inner = inner
        self._sha = hashlib.sha256()
        self.bytes_written = 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, data: Any) -> int:  # bytes, bytearray, memoryview, pyarrow Buffer
        view = memoryview(data)
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")
        self._inner.write(view)
        self._sha.update(view)
        self.bytes_written += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self.bytes_written

    def flush(self) -> None:
        if not self._inner.closed:
            self._inner.flush()

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of every byte written so far."""
        return self._sha.hexdigest()


def check_destination(dest: str | os.PathLike[str], overwrite: bool) -> Path:
    """Refuse a destination that is not a new path or a regular file: a directory, a
    symbolic link, a device, a FIFO or a socket (with ``overwrite`` too: replacing one
    would replace that directory entry, e.g. ``/dev/null``, or be led elsewhere by a
    link); an existing file unless ``overwrite``; a directory that does not exist.
    Returns the path."""
    p = Path(dest).expanduser()
    _check_kind(p)
    if p.exists() and not overwrite:
        raise InvalidInput(f"{p} exists; pass --overwrite (overwrite=True) to replace it")
    if not p.parent.is_dir():
        raise InvalidInput(f"directory {p.parent} does not exist")
    return p


def _check_kind(p: Path) -> None:
    """Raise unless ``p`` does not exist or is a regular file (links are not followed)."""
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return
    except OSError as e:
        raise InvalidInput(f"cannot use {p}: {e.strerror or e}") from None
    if stat.S_ISREG(st.st_mode):
        return
    kind = ("a directory: give a file name" if stat.S_ISDIR(st.st_mode) else
            "a symbolic link" if stat.S_ISLNK(st.st_mode) else
            "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else
            "a FIFO" if stat.S_ISFIFO(st.st_mode) else "not a regular file")
    raise InvalidInput(f"{p} is {kind}; exports write regular files only"
                       + ("" if kind.startswith("a directory") else
                          " (give a new path or an existing regular file)"))


_UMASK: int | None = None


def _file_mode() -> int:
    """rw for whoever the umask allows (mkstemp's files are owner-only)."""
    global _UMASK
    if _UMASK is None:
        _UMASK = os.umask(0)
        os.umask(_UMASK)
    return 0o666 & ~_UMASK


def _describe(e: OSError, what: Path) -> str:
    if e.errno == errno.ENOSPC:
        return f"no space left on the device writing {what}"
    if e.errno == errno.EDQUOT:
        return f"disk quota exceeded writing {what}"
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"permission denied writing {what}"
    return f"cannot write {what}: {e.strerror or e}"


@contextmanager
def atomic_file(dest: str | os.PathLike[str], *, overwrite: bool = False
                ) -> Iterator[HashingFile]:
    """Open a temporary file beside ``dest``; on success fsync it and rename it to ``dest``.

    On any exception (``KeyboardInterrupt`` included) the temporary file is removed and
    ``dest`` is left as it was; an ``OSError`` (full disk, permission denied) becomes
    :class:`~tsanalysis.errors.ExportFailed`.
    """
    path = check_destination(dest, overwrite)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as e:
        raise ExportFailed(_describe(e, path)) from e
    tmp = Path(tmp_name)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, _file_mode())
        with open(fd, "wb", buffering=BUFFER_BYTES) as raw:
            out = HashingFile(raw)
            yield out
            raw.flush()
            os.fsync(raw.fileno())
        _publish(tmp, path, overwrite)
        _fsync_dir(path.parent)
    except BaseException as e:
        with suppress(OSError):
            tmp.unlink()
        if isinstance(e, OSError):
            raise ExportFailed(_describe(e, path)) from e
        raise


def _publish(tmp: Path, dest: Path, overwrite: bool) -> None:
    _check_kind(dest)  # again: something may have been put there while we wrote
    if overwrite:
        os.replace(tmp, dest)
        return
    # A hard link publishes without replacing: a file that appeared at ``dest`` since the
    # check is never clobbered.
    try:
        os.link(tmp, dest)
    except FileExistsError:
        raise InvalidInput(f"{dest} exists; pass --overwrite (overwrite=True) to replace it"
                           ) from None
    except OSError:  # no hard links on this file system
        if dest.exists():
            raise InvalidInput(f"{dest} exists; pass --overwrite (overwrite=True) to replace it"
                               ) from None
        os.replace(tmp, dest)
        return
    tmp.unlink()


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        log.debug("cannot fsync directory %s", directory)
    finally:
        os.close(fd)
