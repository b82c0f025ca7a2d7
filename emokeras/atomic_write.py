"""Atomic writes: every file emokeras writes appears complete under its
final name, or not at all.

The writer writes a hidden temporary file (or folder) in the same folder,
which is flushed to disk (fsync) and renamed onto the final name; the
folder is fsynced too, so the rename survives a power cut. If the writer
fails, the temporary is removed and the final name keeps what it had.

A writer that is killed (SIGKILL, out of memory, power cut) cannot clean up:
its temporary stays. Temporaries are named after their writer's process and
machine (`.<name>.<pid>@<host>.partial`), so `remove_stale_temporaries`
removes those of writers on this machine that are no longer running, and
never a running writer's, nor one from another machine sharing the folder
(whose process ids mean nothing here). The writers of folders that collect
many versions or files call it when they start (`export_saved_model`,
`prepare_recordings`, `extract_features`, each training stage and its
backups): once per run, not once per file, since a folder of 100 000 shards
would make every write a scan.
"""

import contextlib
import json
import os
import pathlib
import re
import shutil
import socket

PARTIAL_MARK = ".partial"
RETIRED_MARK = ".retired"
# A leftover of `atomic_path`: `.<name>.<pid>@<host>.partial<suffixes>` or
# `.<name>.<pid>@<host>.retired`; `@<host>` is absent in names written
# before it was added (judged as this machine's).
_LEFTOVER = re.compile(
    r"^\.(?P<name>.+)\.(?P<pid>\d+)(?:@(?P<host>[A-Za-z0-9-]+))?(?P<kind>\.partial|\.retired)(?P<suffix>(?:\..*)?)$"
)


def _host():
    """This machine's name as it goes into temporary names (no dots)."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "localhost"


def _writer():
    return f"{os.getpid()}@{_host()}"


def temporary_name(path, keep_suffix=False):
    """The hidden temporary beside `path`: `.<name>.<pid>@<host>.partial`,
    plus `path`'s suffixes with `keep_suffix` (for writers that choose the
    format by the suffix: `.keras`, `.weights.h5`, `.png`)."""
    path = pathlib.Path(path)
    suffix = "".join(path.suffixes) if keep_suffix else ""
    return path.with_name(f".{path.name}.{_writer()}{PARTIAL_MARK}{suffix}")


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
    retired = path.with_name(f".{path.name}.{_writer()}{RETIRED_MARK}")
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


def wait_for_files(paths, what, poll_seconds=1.0):
    """Returns once every path of `paths` exists: files other processes
    write (with `atomic_path`, so a file that exists is complete). Says once
    what it waits for."""
    import time

    said = False
    while missing := [path for path in map(pathlib.Path, paths) if not path.exists()]:
        if not said:
            print(f"emokeras: waiting for {len(missing)} file(s): {what} (first: {missing[0]})", flush=True)
            said = True
        time.sleep(poll_seconds)


def temporaries(folder):
    """The temporaries in `folder`: left by writers that were killed, or
    being written by running ones."""
    return sorted(pathlib.Path(folder).glob(f".*{PARTIAL_MARK}*"))


def remove_stale_temporaries(folder):
    """Removes what writers on this machine that are no longer running left
    in `folder`: their temporaries, and the previous version of a folder
    they were replacing (`.<name>.<pid>@<host>.retired`) when the new one is
    in place. A running writer's temporaries, another machine's (a shared
    volume) and names of other tools are kept. A retired version whose final
    name is missing (the writer was killed between its two renames) is kept
    too: it is the last complete version, to be moved back by hand.

    Returns:
        The paths removed.
    """
    folder = pathlib.Path(folder)
    try:
        names = sorted(entry.name for entry in os.scandir(folder))
    except OSError:  # no folder (yet), or not ours to read
        return []
    removed = []
    for name in names:
        match = _LEFTOVER.match(name)
        if match is None or not _is_stale(match):
            continue
        if match["kind"] == RETIRED_MARK and not os.path.lexists(folder / match["name"]):
            continue
        try:
            remove(folder / name)
        except OSError:  # another writer removed it first, or not ours to remove
            continue
        removed.append(folder / name)
    return removed


def _is_stale(match):
    """Whether a leftover's writer was on this machine and has ended."""
    if match["host"] is not None and match["host"] != _host():
        return False
    pid = int(match["pid"])
    return pid != os.getpid() and not _running(pid)


def _running(pid):
    if pid <= 0:
        return True  # not a writer's id; leave it alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process: running
        return True
    try:  # a killed child its parent has not reaped yet writes nothing
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


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
