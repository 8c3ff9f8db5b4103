"""Files the system writes and reads back: the encoder initialization, written atomically.

``encoder.pt`` holds θ⁰ with the metadata needed to use it elsewhere: the architecture, the
observation shape it expects, the parameter names, and where it came from (meta-step, config).
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from leap_rl.io.storage import RemotePath, RunPath, location

if TYPE_CHECKING:  # torch is imported where a file is written or read: the CLI imports this
    import torch  # module for ArtifactError, before it knows that its input is valid

INIT_FORMAT = "leap-rl/encoder-init"
INIT_VERSION = 1


class ArtifactError(ValueError):
    """A file that is missing, truncated, or not what it claims to be."""


def atomic_write(path: str | RunPath, write: Callable[[IO[bytes]], None]) -> RunPath:
    """Calls ``write(handle)`` on a temporary file beside ``path``, fsyncs, renames over ``path``.

    A reader sees the old file or the new one, never a partial write; the rename is made durable.
    On an object store (``s3://…``) the bytes are collected first and written in one upload,
    which an object store shows whole or not at all.
    """
    path = location(path)
    if isinstance(path, RemotePath):
        buffer = io.BytesIO()
        write(buffer)
        path.write_bytes(buffer.getvalue())
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)
    return path


def atomic_save(obj: Any, path: str | RunPath) -> RunPath:
    """torch.save ``obj`` to ``path`` atomically (:func:`atomic_write`)."""
    import torch

    return atomic_write(path, lambda handle: torch.save(obj, handle))


def save_init(path: str | RunPath, params: Mapping[str, torch.Tensor], *, architecture: str,
              observation_shape: tuple[int, ...], meta_step: int | None = None,
              extra: Mapping[str, Any] | None = None) -> RunPath:
    """Writes θ⁰ (CPU tensors) and its metadata to ``path`` atomically."""
    record = {
        "format": INIT_FORMAT, "version": INIT_VERSION, "architecture": architecture,
        "observation_shape": list(observation_shape), "parameter_names": list(params),
        "meta_step": meta_step, "parameters": {k: v.detach().cpu() for k, v in params.items()},
        "extra": dict(extra or {}),
    }
    return atomic_save(record, path)


def verified_load(path: str | RunPath) -> Any:
    """torch.load after checking every CRC-32 of torch's zip format (torch.load checks none,
    so flipped bytes in tensor data would otherwise load as good). Raises on any damage. A
    remote file is read once, into memory, and checked and loaded from there."""
    import torch

    path = location(path)
    source = io.BytesIO(path.read_bytes()) if isinstance(path, RemotePath) else path
    with zipfile.ZipFile(source) as archive:
        bad = archive.testzip()
    if bad is not None:
        raise ValueError(f"checksum mismatch in {bad}")
    if isinstance(source, io.BytesIO):
        source.seek(0)
    return torch.load(source, map_location="cpu", weights_only=True)


def one_line(err: BaseException) -> str:
    """``Type: first line of the message``, for messages that must fit one line."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def load_init(path: str | RunPath) -> dict[str, Any]:
    """Reads an ``encoder.pt`` written by :func:`save_init` (a local path or a URI such as
    ``s3://bucket/run/init/encoder.pt``); raises ArtifactError if unusable."""
    path = location(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: no such file")
    try:
        record = verified_load(path)
    except Exception as err:  # zipfile and torch raise many types for a damaged or foreign file
        raise ArtifactError(f"{path}: not a readable torch file ({one_line(err)})") from None
    if not isinstance(record, dict) or record.get("format") != INIT_FORMAT:
        raise ArtifactError(f"{path}: not a leap-rl encoder initialization "
                            f"(expected format {INIT_FORMAT!r})")
    if record.get("version") != INIT_VERSION:
        raise ArtifactError(f"{path}: format version {record.get('version')} is not supported "
                            f"(this leap-rl reads version {INIT_VERSION})")
    return record
