"""An export killed in its write window leaves a hidden temporary version;
the next export removes it, and never the
temporary of a writer that is still running, here or on another machine."""

import os
import pathlib
import re
import signal
import subprocess
import sys

import keras
import pytest

from emokeras.atomic_write import remove_stale_temporaries
from emokeras.atomic_write import temporary_name
from emokeras.models import build_av_model
from emokeras.serving import export_saved_model
from tests.tiny import TINY_AV

ROOT = pathlib.Path(__file__).resolve().parents[1]

# A writer paused in its write window, as an export is while it writes the
# SavedModel: it says its temporary's name, then waits to be killed.
WRITER = """
import pathlib, sys, time
from emokeras.atomic_write import atomic_path
with atomic_path(pathlib.Path(sys.argv[1])) as temporary:
    temporary.mkdir()
    (temporary / "saved_model.pb").write_bytes(b"half a model")
    print(temporary.name, flush=True)
    time.sleep(600)
"""


def _start_writer(path):
    environment = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True, env=environment
    )
    return process, path.parent / process.stdout.readline().strip()


def _dead_pid():
    """The id of a process that has ended (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.fixture
def writers():
    started = []
    yield lambda path: started.append(_start_writer(path)) or started[-1]
    for process, _ in started:
        process.kill()
        process.wait()
        process.stdout.close()


def test_an_export_removes_the_version_a_killed_export_left(writers, tmp_path):
    base = tmp_path / "emokeras"
    killed, left = writers(base / "1")
    running, writing = writers(base / "3")
    # What a killed export leaves: a hidden folder named after its process
    # and machine, which TF Serving ignores and nothing else would remove.
    assert re.fullmatch(rf"\.1\.{killed.pid}@[A-Za-z0-9-]+\.partial", left.name), left.name
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert (left / "saved_model.pb").read_bytes() == b"half a model"
    # A writer on another machine sharing the folder: its process id means
    # nothing here, so it is never judged.
    elsewhere = base / f".4.{killed.pid}@another-machine.partial"
    elsewhere.mkdir()

    keras.utils.set_random_seed(6)
    export_saved_model(build_av_model(**TINY_AV), base, version=2)
    assert sorted(p.name for p in base.iterdir()) == sorted(["2", writing.name, elsewhere.name])
    assert (writing / "saved_model.pb").exists()  # the running export goes on

    # Once that writer is killed too, the next export removes its temporary.
    running.send_signal(signal.SIGKILL)
    running.wait()
    export_saved_model(build_av_model(**TINY_AV), base, version=4)
    assert sorted(p.name for p in base.iterdir()) == sorted(["2", "4", elsewhere.name])


def test_only_leftovers_of_ended_writers_on_this_machine_are_removed(writers, tmp_path):
    dead = _dead_pid()
    host = re.search(r"@([A-Za-z0-9-]+)\.partial$", temporary_name(tmp_path / "x").name).group(1)
    running, writing = writers(tmp_path / "running.json")
    (tmp_path / "5").mkdir()  # a published version whose replacement was killed
    stale = [
        f".1.{dead}@{host}.partial",  # an export's folder
        f".model.keras.{dead}@{host}.partial.keras",  # a file written with keep_suffix
        f".5.{dead}@{host}.retired",  # the replaced version, its replacement in place
        f".6.{dead}.partial",  # named before the machine went into the name
    ]
    kept = [
        writing.name,  # a running writer's
        temporary_name(tmp_path / "7").name,  # this process's (another thread may be writing it)
        f".8.{dead}@another-machine.partial",  # another machine's
        f".9.{dead}@{host}.retired",  # killed between its two renames: the last complete version of 9
        ".hidden",  # not ours
        f".notes.{dead}.partial-copy",  # not our scheme
    ]
    for name in stale + kept[1:]:
        (tmp_path / name).mkdir()
    removed = remove_stale_temporaries(tmp_path)
    assert sorted(p.name for p in removed) == sorted(stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept + ["5"])
    assert remove_stale_temporaries(tmp_path / "absent") == []
