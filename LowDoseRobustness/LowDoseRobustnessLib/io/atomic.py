"""The one way every file of this project is written: to a temporary file beside it, then renamed.

A reader never sees a half-written file: the temporary name starts with ``.partial-`` and
keeps the target's full name at its end (so writers that choose the format by extension,
such as SimpleITK for ``.nii.gz``, still do), and only a complete, flushed file is renamed
to the target. A failed or interrupted write removes its temporary file; every temporary
that exists is listed, so an interrupted command removes whatever is left
(:func:`remove_temporaries`).

Several outputs of one command appear together or not at all inside :func:`atomic_group`:
the files it claims are kept as temporaries until the group ends, then renamed one after
the other with SIGINT/SIGTERM held back, after checking that each of them may be written.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Optional

PARTIAL_PREFIX = ".partial-"
_TEMPORARIES: set[Path] = set()
"""Temporary files of writes in progress (or staged in a group) in this process."""
_FINISHED = [0]
"""How many files this process has put in place (see :func:`finished_count`)."""


def partial_path(path: Path) -> Path:
    """A fresh temporary name for ``path`` in the same folder (same file system, so the rename is atomic)."""
    return path.with_name(f"{PARTIAL_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{path.name}")


def refuse_existing(path: Path, overwrite: bool) -> None:
    """FileExistsError naming ``path`` when it exists and ``overwrite`` is not set."""
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass --overwrite (overwrite=True) to replace it")


class _Group:
    """Writes held back until the group ends: (temporary, target, overwrite), targets removed with them."""

    def __init__(self, claimed: Optional[Iterable[Path]]):
        self.claims_all = claimed is None
        self.claimed = {_key(path) for path in claimed or ()}
        self.staged: list[tuple[Path, Path, bool]] = []
        self.removals: list[Path] = []
        self.created_folders: list[Path] = []

    def claims(self, path: Path) -> bool:
        return self.claims_all or _key(path) in self.claimed


_GROUPS: list[_Group] = []


def _key(path: Path) -> Path:
    return Path(os.path.abspath(path))


def claim(paths: Iterable[str | Path]) -> None:
    """Add ``paths`` to the innermost group's outputs (no-op outside a group)."""
    if _GROUPS:
        _GROUPS[-1].claimed.update(_key(Path(p)) for p in paths)


def remove_with_group(paths: Iterable[str | Path]) -> None:
    """Remove these files when the innermost group commits (e.g. cases of a replaced dataset); now outside a group."""
    if _GROUPS:
        _GROUPS[-1].removals.extend(Path(p) for p in paths)
    else:
        for path in paths:
            Path(path).unlink(missing_ok=True)


@contextmanager
def atomic_group(claimed: Optional[Iterable[str | Path]] = None) -> Iterator[None]:
    """Files written inside appear together when the block ends without error, or none of them does.

    ``claimed``: the paths held back (more with :func:`claim`); None holds back every file
    written inside. Other files are renamed as soon as they are written. Folders the group
    created are removed again, when empty, if the block fails.
    """
    group = _Group(None if claimed is None else [Path(p) for p in claimed])
    _GROUPS.append(group)
    try:
        yield
        _GROUPS.remove(group)
        _commit(group.staged, group.removals)
    except BaseException:
        if group in _GROUPS:
            _GROUPS.remove(group)
        for temporary, _, _ in group.staged:
            _discard(temporary)
        for folder in reversed(group.created_folders):
            try:
                folder.rmdir()
            except OSError:
                pass
        raise


@contextmanager
def atomic_output(path: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write ``path`` to; on success it is flushed to disk and renamed to ``path``.

    Inside an :func:`atomic_group` that claims ``path`` the rename waits for the group's end.

    >>> with atomic_output(target) as temporary:      # doctest: +SKIP
    ...     temporary.write_text("done")
    """
    path = Path(path)
    refuse_existing(path, overwrite)
    group = next((g for g in reversed(_GROUPS) if g.claims(path)), None)
    _make_folder(path.parent, group)
    temporary = partial_path(path)
    _TEMPORARIES.add(temporary)
    handed_over = False
    try:
        yield temporary
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        if group is not None:
            group.staged.append((temporary, path, overwrite))
            handed_over = True
        else:
            _commit([(temporary, path, overwrite)])
    finally:
        if not handed_over:
            _discard(temporary)


def atomic_write_text(path: str | Path, text: str, overwrite: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_output(path, overwrite) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)


def finished_count() -> int:
    """How many files this process has written so far (to tell what an interrupted command left)."""
    return _FINISHED[0]


def remove_temporaries() -> list[Path]:
    """Remove every temporary file this process still has (after an interrupt); returns those removed."""
    removed = [temporary for temporary in list(_TEMPORARIES) if temporary.exists()]
    for temporary in list(_TEMPORARIES):
        _discard(temporary)
    return removed


def _discard(temporary: Path) -> None:
    temporary.unlink(missing_ok=True)
    _TEMPORARIES.discard(temporary)


def _make_folder(folder: Path, group: Optional[_Group]) -> None:
    """Create ``folder`` and its missing parents; a group remembers them to remove them if it fails."""
    missing = []
    parent = folder
    while not parent.exists() and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    folder.mkdir(parents=True, exist_ok=True)
    if group is not None:
        group.created_folders.extend(reversed(missing))


def _commit(staged: list[tuple[Path, Path, bool]], removals: Iterable[Path] = ()) -> None:
    """Rename temporaries to their targets, with SIGINT/SIGTERM held until all are in place.

    Every target is checked first, so a refused one leaves all of them unwritten.
    """
    for temporary, target, overwrite in staged:
        refuse_existing(target, overwrite)  # someone else may have written it meanwhile
    with _signals_held():
        targets = {_key(target) for _, target, _ in staged}
        for removal in removals:
            if _key(removal) not in targets:
                removal.unlink(missing_ok=True)
        for temporary, target, _ in staged:
            os.replace(temporary, target)
            _TEMPORARIES.discard(temporary)
            _FINISHED[0] += 1
    for folder in {target.parent for _, target, _ in staged}:
        _fsync_folder(folder)


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back (POSIX) while files are renamed; they arrive afterwards."""
    held = {signal.SIGINT, signal.SIGTERM}
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (AttributeError, OSError, ValueError):
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


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
