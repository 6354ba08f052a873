"""Expanding command-line paths (files and folders) into the image files to process."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from emolens.errors import InputError
from emolens.images import IMAGE_SUFFIXES  # files named explicitly are always tried


def collect_images(paths: Iterable[Path]) -> list[tuple[Path, Path]]:
    """Named files as given, plus image files under named folders (recursively, sorted), each paired with a
    relative name for outputs (the file name, or the path inside its folder).

    Raises:
        InputError: a path does not exist, or a folder holds no image files.
    """
    found: list[tuple[Path, Path]] = []
    for path in paths:
        if path.is_dir():
            images = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not images:
                raise InputError(f"{path}: no image files in this folder")
            found.extend((p, p.relative_to(path)) for p in images)
        elif path.exists():
            found.append((path, Path(path.name)))
        else:
            raise InputError(f"{path}: no such file or folder")
    return found
