"""The one way every file of this project is written: to a temporary file beside it, then renamed.

A reader never sees a half-written file: the temporary name starts with ``.partial-`` and
keeps the target's full name at its end (so writers that choose the format by extension,
such as SimpleITK for ``.nii.gz``, still do), and only a complete, flushed file is renamed
to the target. A failed write removes its temporary file.
"""
from __future__ import annotations

import os
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

PARTIAL_PREFIX = ".partial-"


def partial_path(path: Path) -> Path:
    """A fresh temporary name for ``path`` in the same folder (same file system, so the rename is atomic)."""
    return path.with_name(f"{PARTIAL_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{path.name}")


def refuse_existing(path: Path, overwrite: bool) -> None:
    """FileExistsError naming ``path`` when it exists and ``overwrite`` is not set."""
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass --overwrite (overwrite=True) to replace it")


@contextmanager
def atomic_output(path: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write ``path`` to; on success it is flushed to disk and renamed to ``path``.

    >>> with atomic_output(target) as temporary:      # doctest: +SKIP
    ...     temporary.write_text("done")
    """
    path = Path(path)
    refuse_existing(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = partial_path(path)
    try:
        yield temporary
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        refuse_existing(path, overwrite)  # someone else may have written it meanwhile
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_folder(path.parent)


def atomic_write_text(path: str | Path, text: str, overwrite: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_output(path, overwrite) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)


@contextmanager
def atomic_folder(path: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; filled without error, its files are flushed to disk
    and it becomes ``path`` (an existing ``path`` is replaced only with ``overwrite``). For outputs that
    are many files (a DICOM series): a reader sees all of them or none.
    """
    path = Path(path)
    refuse_existing(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = partial_path(path)
    temporary.mkdir()
    try:
        yield temporary
        for file in temporary.iterdir():
            with open(file, "rb") as written:
                os.fsync(written.fileno())
        _fsync_folder(temporary)
        refuse_existing(path, overwrite)
        if path.exists():
            previous = partial_path(path)
            os.replace(path, previous)
            os.replace(temporary, path)
            shutil.rmtree(previous, ignore_errors=True)
        else:
            os.replace(temporary, path)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
