"""The one atomic-write helper: complete files or nothing, and every writer
goes through it."""

import json
import os
import pathlib
import re

import pytest

from emokeras.atomic_write import atomic_path
from emokeras.atomic_write import write_json_atomically
from emokeras.atomic_write import write_text_atomically

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = write_text_atomically(tmp_path / "report.json", "old")
    with pytest.raises(OSError, match="disk full"):
        with atomic_path(target) as temporary:
            temporary.write_text("half of the new")
            raise OSError("disk full")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_write_replaces_whole_files_and_folders_and_keeps_suffixes(tmp_path):
    write_json_atomically(tmp_path / "deep" / "a.json", {"b": 1, "a": 2})
    assert json.loads((tmp_path / "deep" / "a.json").read_text()) == {"a": 2, "b": 1}
    with atomic_path(tmp_path / "model.weights.h5", keep_suffix=True) as temporary:
        # Writers that pick the format from the name see the right suffix.
        assert temporary.name.endswith(".weights.h5") and temporary.name.startswith(".model.weights.h5.")
        temporary.write_bytes(b"weights")
    for version in ("first", "second"):  # a folder replaces a folder (an export version)
        with atomic_path(tmp_path / "1") as temporary:
            temporary.mkdir()
            (temporary / "saved_model.pb").write_text(version)
    assert (tmp_path / "1" / "saved_model.pb").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1", "deep", "model.weights.h5"]


def test_the_fsync_happens_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(os, "replace", lambda a, b: events.append("replace") or real_replace(a, b))
    write_text_atomically(tmp_path / "a.txt", "text")
    # The file's data, then the rename, then the folder entry.
    assert events == ["fsync", "replace", "fsync"]


def test_no_writer_renames_files_on_its_own():
    renaming = re.compile(r"\bos\.(replace|rename)\(|\.replace\(\s*(target|destination|path)\b")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("emokeras", "scripts", "benchmarks", "examples")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "atomic_write.py" and renaming.search(path.read_text())
    ]
    assert offenders == [], "write through emokeras.atomic_write instead"
