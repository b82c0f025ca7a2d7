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
    for title in ("I3D inference vs tf.nn I3D", "Execution modes", "PyAV decode only", "make_dataset vs one training step", "SavedModel signature vs in-process Keras"):
        assert title in result.stdout, title
    assert result.stdout.count("| ratio") >= 4


def test_tf_nn_baseline_computes_the_keras_i3d():
    """The benchmark's baseline is only a baseline if it is the same network."""
    import keras
    import numpy as np
    import tensorflow as tf

    from benchmarks.tf_nn_i3d import i3d_flops
    from benchmarks.tf_nn_i3d import tf_nn_i3d
    from emokeras.backbones import I3D

    model = I3D(include_top=False, pooling="avg", image_size=32, width_multiplier=1 / 8)
    rng = np.random.default_rng(0)
    for variable in model.non_trainable_variables:  # batch norm statistics that matter
        if "moving_variance" in variable.path:
            variable.assign(rng.uniform(0.5, 1.5, variable.shape).astype("float32"))
        elif "moving_mean" in variable.path:
            variable.assign(rng.normal(0, 0.1, variable.shape).astype("float32"))
    clips = tf.random.uniform((2, 16, 32, 32, 3), -1, 1, seed=1)
    np.testing.assert_allclose(tf_nn_i3d(model)(clips), model(clips, training=False), atol=1e-5)
    # 27.8 GMACs per 16-frame 224 px clip (GUIDE section 1).
    full = I3D(include_top=False, image_size=224)
    assert i3d_flops(full, 16, 224) / 2e9 == pytest.approx(27.8, abs=0.05)
    keras.backend.clear_session()
