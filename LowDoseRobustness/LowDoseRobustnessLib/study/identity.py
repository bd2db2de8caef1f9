"""What an artifact is made of, as a key: content hashes of input files and a hash of a recipe.

A key is the SHA-256 of a canonical JSON "recipe" (everything that produced the artifact:
input file contents, dose, reconstruction and its options, realization, seed, simulation
settings, model, upstream keys, engine version). Equal recipes give equal keys on every
machine, so a finished artifact is recognised by its key alone.

Hashing a large CT takes a moment, so file hashes are remembered per (path, size,
modification time) in the study manifest and recomputed only when one of them changes.
"""
from __future__ import annotations

import hashlib
import json
from importlib import import_module
from pathlib import Path

from LowDoseRobustnessLib import __version__

CHUNK_BYTES = 1 << 22


def recipe_key(recipe: dict) -> str:
    """SHA-256 (hex) of ``recipe`` as canonical JSON (sorted keys; floats as Python writes them)."""
    text = json.dumps({"engine_version": __version__, **recipe}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class FileHashes:
    """Content hashes of files and folders, remembered by (path, size, modification time).

    ``known`` is the mapping kept in the study manifest between runs (updated in place).
    """

    def __init__(self, known: dict | None = None):
        self.known = dict(known or {})

    def __call__(self, path: str | Path) -> str:
        """SHA-256 of a file's bytes, or of a folder's files (relative names and bytes, sorted)."""
        path = Path(path).expanduser().resolve()
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        stamp = [[str(p.relative_to(path)) if path.is_dir() else p.name, p.stat().st_size, p.stat().st_mtime_ns]
                 for p in files]
        remembered = self.known.get(str(path))
        if remembered and remembered["stamp"] == stamp:
            return remembered["sha256"]
        digest = hashlib.sha256()
        for (name, _, _), file in zip(stamp, files):
            digest.update(name.encode() + b"\0")
            with open(file, "rb") as stream:
                while chunk := stream.read(CHUNK_BYTES):
                    digest.update(chunk)
        self.known[str(path)] = {"stamp": stamp, "sha256": digest.hexdigest()}
        return digest.hexdigest()


def default_checkpoint(registry, name: str) -> Path | None:
    """The ``DEFAULT_CHECKPOINT`` of the module a registry member lives in (shipped weights), if it has one."""
    if name not in registry:
        return None
    module = import_module(registry[name].partition(":")[0])
    checkpoint = getattr(module, "DEFAULT_CHECKPOINT", None)
    return Path(checkpoint) if checkpoint is not None and Path(checkpoint).exists() else None


def model_identity(spec: str, hashes: FileHashes) -> dict:
    """The model spec and the content of the files it names (a checkpoint, config or model folder).

    ``builtin`` without an argument is its shipped checkpoint; ``totalsegmentator:TASK`` is the
    spec with the package's version (its weights live outside the study's reach).
    """
    from importlib.metadata import PackageNotFoundError, version

    from LowDoseRobustnessLib.contract import SEGMENTERS

    kind, _, argument = spec.partition(":")
    identity = {"spec": spec}
    path = Path(argument).expanduser() if argument else default_checkpoint(SEGMENTERS, kind)
    if kind != "totalsegmentator" and path is not None and path.exists():
        identity["files"] = [hashes(p) for p in (path, *referenced_files(path))]
    if kind == "totalsegmentator":
        try:
            identity["package"] = version("TotalSegmentator")
        except PackageNotFoundError:
            identity["package"] = None
    return identity


def referenced_files(config: Path) -> list[Path]:
    """Files a JSON/YAML model config names by a path relative to its folder (e.g. its checkpoint), sorted."""
    if config.suffix.lower() not in (".json", ".yaml", ".yml") or not config.is_file():
        return []
    try:
        if config.suffix.lower() == ".json":
            content = json.loads(config.read_text(encoding="utf-8"))
        else:
            import yaml

            content = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (ImportError, OSError, ValueError):
        return []
    strings, stack = [], [content]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and 0 < len(item) < 256:
            strings.append(item)
    return sorted({config.parent / s for s in strings if (config.parent / s).is_file()})


def reconstruction_identity(name: str, options: dict, hashes: FileHashes) -> dict:
    """The reconstruction, its options and the shipped weights of its denoiser (``cnn``)."""
    from LowDoseRobustnessLib.contract import DENOISERS

    checkpoint = default_checkpoint(DENOISERS, name)
    return {"name": name, "options": dict(sorted(options.items())),
            "weights": hashes(checkpoint) if checkpoint is not None else None}
