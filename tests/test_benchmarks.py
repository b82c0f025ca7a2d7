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
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    titles = (
        "I3D inference: Keras graph and exported SavedModel vs tf.nn I3D",
        "I3D training step",
        "Execution modes",
        "Data layout",
        "CPU kernels and threads",
        "cached features vs recomputing the frozen backbones",
        "Peak memory",
        "PyAV decode only",
        "make_dataset vs one training step",
        "Face detection: decode + face crop + JPEG",
        "SavedModel signature vs in-process Keras",
    )
    for title in titles:
        assert title in result.stdout, title
    assert result.stdout.count("| ratio") >= len(titles) - 1  # the modes table says "speed vs"


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
    expected = model(clips, training=False)
    np.testing.assert_allclose(tf_nn_i3d(model)(clips), expected, atol=1e-5)
    np.testing.assert_allclose(tf_nn_i3d(model, data_format="NCDHW")(clips), expected, atol=1e-5)
    # 27.8 GMACs per 16-frame 224 px clip (GUIDE section 1).
    full = I3D(include_top=False, image_size=224)
    assert i3d_flops(full, 16, 224) / 2e9 == pytest.approx(27.8, abs=0.05)
    keras.backend.clear_session()


def test_tf_nn_training_step_is_the_keras_training_step():
    """The training baseline is one Keras SGD step on the same loss: same
    loss, same updated kernels and betas, same moving statistics."""
    import keras
    import numpy as np
    import tensorflow as tf

    from benchmarks.tf_nn_i3d import tf_nn_i3d_training_step
    from emokeras.backbones import I3D

    model = I3D(include_top=False, pooling="avg", image_size=32, width_multiplier=1 / 8)
    clips = tf.random.uniform((2, 16, 32, 32, 3), -1, 1, seed=2)
    step, variables, statistics = tf_nn_i3d_training_step(model, learning_rate=0.5)
    before = [np.asarray(v) for v in variables]
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    baseline_loss = float(step(clips))
    keras_loss = float(model.train_on_batch(clips, np.zeros((2, model.output_shape[-1]), np.float32)))
    assert baseline_loss == pytest.approx(keras_loss, rel=1e-5)
    moved = 0
    for copy, original, start in zip(variables, model.trainable_variables, before):
        np.testing.assert_allclose(np.asarray(copy), np.asarray(original), atol=1e-5, err_msg=original.path)
        moved += not np.allclose(np.asarray(copy), start)
    assert moved > len(variables) // 2  # the step did change the weights
    for copy, original in zip(statistics, model.non_trainable_variables):
        np.testing.assert_allclose(np.asarray(copy), np.asarray(original), atol=1e-5, err_msg=original.path)
    keras.backend.clear_session()
