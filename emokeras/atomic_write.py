"""Atomic writes: every file emokeras writes appears complete under its
final name, or not at all.

The writer writes a hidden temporary file (or folder) in the same folder,
which is flushed to disk (fsync) and renamed onto the final name; the
folder is fsynced too, so the rename survives a power cut. If the writer
fails, the temporary is removed and the final name keeps what it had.
"""

import contextlib
import json
import os
import pathlib
import shutil

PARTIAL_MARK = ".partial"


def temporary_name(path, keep_suffix=False):
    """The hidden temporary beside `path`: `.<name>.<pid>.partial`, plus
    `path`'s suffixes with `keep_suffix` (for writers that choose the format
    by the suffix: `.keras`, `.weights.h5`, `.png`)."""
    path = pathlib.Path(path)
    suffix = "".join(path.suffixes) if keep_suffix else ""
    return path.with_name(f".{path.name}.{os.getpid()}{PARTIAL_MARK}{suffix}")


@contextlib.contextmanager
def atomic_path(path, keep_suffix=False):
    """Yields a temporary path to write `path` through.

    On leaving the block the temporary (a file, or a folder with everything
    in it) is fsynced and renamed onto `path`, replacing what is there; on an
    exception it is removed and `path` is untouched. Parent folders are
    created.

    Example:

    >>> with atomic_path("out/model.keras", keep_suffix=True) as temporary:  # doctest: +SKIP
    ...     model.save(temporary)
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_name(path, keep_suffix)
    remove(temporary)
    retired = path.with_name(f".{path.name}.{os.getpid()}.retired")
    try:
        yield temporary
        _fsync_tree(temporary)
        if temporary.is_dir() and path.is_dir():
            # A folder cannot be renamed onto a full one: swap, then delete.
            os.replace(path, retired)
        os.replace(temporary, path)
        _fsync(path.parent)
    finally:
        remove(temporary)
        remove(retired)


def write_text_atomically(path, text):
    """Writes `text` to `path` atomically; returns `path`."""
    path = pathlib.Path(path)
    with atomic_path(path) as temporary:
        temporary.write_text(text)
    return path


def write_bytes_atomically(path, data):
    """Writes `data` to `path` atomically; returns `path`."""
    path = pathlib.Path(path)
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return path


def write_json_atomically(path, value):
    """Writes `value` as indented JSON with sorted keys, atomically."""
    return write_text_atomically(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def save_model_atomically(model, path):
    """`model.save(path)` (a `.keras` file), atomically; returns `path`."""
    path = pathlib.Path(path)
    with atomic_path(path, keep_suffix=True) as temporary:
        model.save(temporary)
    return path


def temporaries(folder):
    """The temporaries left in `folder` by writers that were killed."""
    return sorted(pathlib.Path(folder).glob(f".*{PARTIAL_MARK}*"))


def remove(path):
    """Removes a file or a folder tree, if there."""
    path = pathlib.Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _fsync_tree(path):
    if path.is_dir():
        for folder, _, files in os.walk(path):
            for name in files:
                _fsync(pathlib.Path(folder) / name)
            _fsync(folder)
    else:
        _fsync(path)


def _fsync(path):
    flags = os.O_RDONLY | (os.O_DIRECTORY if os.path.isdir(path) else 0)
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
