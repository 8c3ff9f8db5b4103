"""Where a run directory lives: a local path, or a cloud URI (``s3://…``, ``gs://…``).

:func:`location` turns what a user typed into either a :class:`pathlib.Path` (local) or a
:class:`RemotePath`, which offers the part of ``pathlib.Path``'s interface the run-directory code
uses (``/``, ``name``, ``exists``, ``is_dir``, ``iterdir``, ``read_text``, ``write_bytes``, ...)
on top of ``pyarrow.fs``, the filesystem layer Ray itself uses for its storage (pyarrow comes with
Ray; S3 and GCS support are in its wheels). The code that writes a run directory calls the same
methods on both, so it never asks which kind it has; the few operations pathlib lacks
(:func:`rmtree`, :func:`append_text`, :class:`Mirror`) are here.

Object stores have no rename: a whole object is written in one upload, and an object store shows
an object only once its upload completed (PutObject, or CompleteMultipartUpload for a large one),
so a reader sees the old object or the new one, never part of one (see ``artifacts.atomic_write``).
Credentials and endpoints come from the environment, as for Ray (``AWS_*``, e.g.
``AWS_ENDPOINT_URL`` for an S3-compatible server; ``GOOGLE_APPLICATION_CREDENTIALS``). For a
GCS emulator, ``STORAGE_EMULATOR_HOST`` (e.g. ``http://127.0.0.1:9023``, the variable Google's
own client libraries read) sends ``gs://`` to that endpoint without credentials.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Schemes handed to pyarrow.fs; anything else (and file://) is a local path.
REMOTE_SCHEMES = ("s3", "gs", "gcs", "hdfs", "viewfs", "abfs", "abfss")


def is_uri(where: object) -> bool:
    """Whether ``where`` names a cloud/remote location (``s3://bucket/run``)."""
    scheme, sep, _ = str(where).partition("://")
    return bool(sep) and scheme.lower() in REMOTE_SCHEMES


def location(where: str | Path | RemotePath) -> RunPath:
    """A :class:`RemotePath` for a URI, else a :class:`pathlib.Path` (``file://`` stripped)."""
    if isinstance(where, (Path, RemotePath)):
        return where
    text = str(where)
    if is_uri(text):
        return RemotePath.from_uri(text)
    return Path(text.removeprefix("file://"))


class RemotePath:
    """A file or directory in a pyarrow filesystem, addressed as ``scheme://bucket/key``."""

    def __init__(self, fs, scheme: str, path: str) -> None:
        self.fs, self.scheme, self.path = fs, scheme, path.rstrip("/")

    @classmethod
    def from_uri(cls, uri: str) -> RemotePath:
        import pyarrow.fs

        try:
            fs, path = _gcs_emulator(uri) or pyarrow.fs.FileSystem.from_uri(uri)
        except (OSError, ValueError) as err:
            raise StorageError(f"{uri}: cannot open ({_first_line(err)})") from None
        return cls(fs, uri.partition("://")[0].lower(), path)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.path}"

    def __repr__(self) -> str:
        return f"RemotePath({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemotePath) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __truediv__(self, name: str) -> RemotePath:
        return RemotePath(self.fs, self.scheme, f"{self.path}/{str(name).strip('/')}")

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def parent(self) -> RemotePath:
        return RemotePath(self.fs, self.scheme, self.path.rsplit("/", 1)[0])

    def _info(self):
        return self._call(lambda: self.fs.get_file_info(self.path))

    def exists(self) -> bool:
        import pyarrow.fs

        return self._info().type != pyarrow.fs.FileType.NotFound

    def is_dir(self) -> bool:
        import pyarrow.fs

        return self._info().type == pyarrow.fs.FileType.Directory

    def is_file(self) -> bool:
        import pyarrow.fs

        return self._info().type == pyarrow.fs.FileType.File

    def is_symlink(self) -> bool:
        return False

    def modified(self) -> float | None:
        """When the object was last written (seconds since the epoch); None if unknown."""
        stamp = self._info().mtime
        return stamp.timestamp() if stamp is not None else None

    def iterdir(self) -> list[RemotePath]:
        """The entries directly under this directory (none where it does not exist), found from
        a recursive listing: a "directory" written object by object is only a prefix, which not
        every store (GCS emulators) reports in a one-level listing."""
        import pyarrow.fs

        selector = pyarrow.fs.FileSelector(self.path, recursive=True, allow_not_found=True)
        infos = self._call(lambda: self.fs.get_file_info(selector))
        names = {info.path[len(self.path) + 1:].split("/", 1)[0] for info in infos}
        return [self / name for name in sorted(names) if name]

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Object stores have no directories (a key's prefix is one): nothing is created, but a
        missing bucket is reported here, before a run starts, not at its first write."""
        import pyarrow.fs

        bucket = self.path.split("/", 1)[0]
        if self._call(lambda: self.fs.get_file_info(bucket)).type == pyarrow.fs.FileType.NotFound:
            raise StorageError(f"{self}: the bucket {bucket!r} does not exist (or these "
                               "credentials cannot see it)")

    def read_bytes(self) -> bytes:
        def read() -> bytes:
            with self.fs.open_input_stream(self.path) as stream:
                return stream.read()

        return self._call(read)

    def read_text(self) -> str:
        return self.read_bytes().decode()

    def open(self, mode: str = "rb"):
        if mode != "rb":
            raise ValueError(f"{self}: objects are written whole (write_bytes), not opened "
                             f"with mode {mode!r}")
        # A sequential stream (one GET), not a random-access file: readers here read from start
        # to end, and ranged reads are what S3/GCS emulators support least.
        return self._call(lambda: self.fs.open_input_stream(self.path))

    def write_bytes(self, data: bytes) -> int:
        """One upload of the whole object: it appears complete or not at all."""
        def write() -> None:
            with self.fs.open_output_stream(self.path) as stream:
                stream.write(data)

        self._call(write)
        return len(data)

    def write_text(self, text: str) -> int:
        return self.write_bytes(text.encode())

    def unlink(self, missing_ok: bool = False) -> None:
        if missing_ok and not self.exists():
            return
        self._call(lambda: self.fs.delete_file(self.path))

    def rmtree(self) -> None:
        """Deletes every object under this prefix, then what directory markers remain. Object by
        object, because a prefix written object by object has no markers for pyarrow's
        delete_dir to remove (GCS and its emulators answer 404 and stop half way)."""
        import pyarrow.fs

        def delete() -> None:
            selector = pyarrow.fs.FileSelector(self.path, recursive=True, allow_not_found=True)
            for info in self.fs.get_file_info(selector):
                if info.type == pyarrow.fs.FileType.File:
                    self.fs.delete_file(info.path)
            if self.fs.get_file_info(self.path).type != pyarrow.fs.FileType.NotFound:
                self.fs.delete_dir(self.path)  # the markers left (an S3 prefix keeps some)

        self._call(delete)

    def _call(self, action):
        """Runs a pyarrow call; its errors become OSErrors that name this URI in one line."""
        try:
            return action()
        except FileNotFoundError:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(self)) from None
        except OSError as err:
            raise StorageError(f"{self}: {_first_line(err)}") from None


RunPath = Path | RemotePath


def _gcs_emulator(uri: str):
    """``(filesystem, path)`` for a ``gs://`` URI when ``STORAGE_EMULATOR_HOST`` names a GCS
    emulator (anonymous, over its scheme), else None (the URI goes to pyarrow as it is)."""
    host = os.environ.get("STORAGE_EMULATOR_HOST")
    scheme, _, path = uri.partition("://")
    if not host or scheme.lower() not in ("gs", "gcs"):
        return None
    import datetime

    import pyarrow.fs

    web, sep, endpoint = host.partition("://")
    fs = pyarrow.fs.GcsFileSystem(anonymous=True, endpoint_override=endpoint if sep else web,
                                  scheme=web if sep else "http",
                                  retry_time_limit=datetime.timedelta(seconds=5))
    return fs, path.rstrip("/")


class StorageError(OSError):
    """A remote filesystem call failed (credentials, bucket, network); says which URI."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.EIO, message)

    def __str__(self) -> str:
        return self.strerror


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def modified(path: RunPath) -> float | None:
    """When ``path`` was last written (seconds since the epoch); None where it does not exist."""
    if isinstance(path, RemotePath):
        return path.modified() if path.exists() else None
    return path.stat().st_mtime if path.exists() else None


def rmtree(path: RunPath) -> None:
    """Deletes a directory and everything under it."""
    if isinstance(path, RemotePath):
        path.rmtree()
    else:
        shutil.rmtree(path)


def append_text(path: RunPath, text: str) -> None:
    """Adds ``text`` at the end of a file. An object cannot be appended to, so a remote file is
    rewritten whole (in one upload): fine for the run directory's small JSON-lines logs."""
    if isinstance(path, RemotePath):
        path.write_text((path.read_text() if path.is_file() else "") + text)
    else:
        with path.open("a") as handle:
            handle.write(text)


class Mirror:
    """A local directory for writers that need one (TensorBoard's SummaryWriter appends to its
    event files), copied to a remote ``target`` on :meth:`sync`. For a local target the mirror is
    the target itself and :meth:`sync` does nothing.

    Files are only added and grown, never removed, so a sync uploads each file whose size
    changed since the last sync, whole, in one upload; files already at the target stay.
    """

    def __init__(self, target: RunPath) -> None:
        self.target = target
        self.remote = isinstance(target, RemotePath)
        self.local = (Path(tempfile.mkdtemp(prefix="leap-rl-mirror-")) if self.remote
                      else target)
        self._sizes: dict[str, int] = {}

    def sync(self) -> None:
        if not self.remote:
            return
        for file in sorted(p for p in self.local.rglob("*") if p.is_file()):
            name = file.relative_to(self.local).as_posix()
            size = file.stat().st_size
            if self._sizes.get(name) != size:
                (self.target / name).write_bytes(file.read_bytes())
                self._sizes[name] = size

    def close(self) -> None:
        """Last sync; the local staging copy of a remote target is then removed."""
        self.sync()
        if self.remote:
            shutil.rmtree(self.local, ignore_errors=True)


@contextmanager
def staged(target: str | RunPath) -> Iterator[Path]:
    """A local directory standing in for ``target``, for writers that need a filesystem (csv
    appends, matplotlib, TensorBoard): a local target is itself; a remote one is downloaded into
    a temporary directory first and every file added or changed there is uploaded when the block
    ends, also when it ends in an error (so finished work is kept); nothing is uploaded where
    nothing changed. A bucket that does not exist is refused before the block runs."""
    target = location(target)
    if not isinstance(target, RemotePath):
        yield target
        return
    target.mkdir()
    local = Path(tempfile.mkdtemp(prefix="leap-rl-stage-"))
    try:
        _download(target, local)
        before = _digests(local)
        yield local
    finally:
        for name, digest in sorted(_digests(local).items()):
            if before.get(name) != digest:
                (target / name).write_bytes((local / name).read_bytes())
        shutil.rmtree(local, ignore_errors=True)


def _download(remote: RemotePath, local: Path) -> None:
    import pyarrow.fs

    selector = pyarrow.fs.FileSelector(remote.path, recursive=True, allow_not_found=True)
    for info in remote._call(lambda: remote.fs.get_file_info(selector)):
        if info.type == pyarrow.fs.FileType.File:
            name = info.path[len(remote.path) + 1:]
            (local / name).parent.mkdir(parents=True, exist_ok=True)
            (local / name).write_bytes((remote / name).read_bytes())


def _digests(local: Path) -> dict[str, str]:
    import hashlib

    return {p.relative_to(local).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in local.rglob("*") if p.is_file()}
