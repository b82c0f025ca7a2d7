"""The benchmark suite's quick mode runs, so it cannot rot (timings are
printed, never asserted)."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_benchmarks_quick_mode_runs():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    for title in ("PyAV decode only", "make_dataset vs one training step", "SavedModel signature vs in-process Keras"):
        assert title in result.stdout, title
    assert result.stdout.count("| ratio") >= 3
