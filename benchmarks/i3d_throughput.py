"""I3D throughput against two same-run baselines: the float32
matrix-multiply rate of this process (the practical peak) and DeepMind's
I3D written with `tf.nn` ops (`benchmarks.tf_nn_i3d`), for inference (the
Keras graph and the exported SavedModel's) and for a training step; plus
eager vs `tf.function` vs XLA for the Keras model, and channels last vs
channels first."""

import tempfile
import time

from benchmarks.timing import alternating_medians
from benchmarks.timing import print_table


def _exported(model, frames, size):
    """The inference graph as served: `model` exported with
    `keras.export.ExportArchive` (as `emokeras export` does) and reloaded."""
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        "serve",
        lambda clips: model(clips, training=False),
        input_signature=[tf.TensorSpec((None, frames, size, size, 3), tf.float32)],
    )
    with tempfile.TemporaryDirectory() as folder:
        archive.write_out(folder, verbose=False)
        return tf.saved_model.load(folder)  # its `serve` needs it alive


def inference(quick):
    import tensorflow as tf

    from benchmarks.tf_nn_i3d import i3d_flops
    from benchmarks.tf_nn_i3d import tf_nn_i3d
    from emokeras.backbones import I3D

    repeats = 2 if quick else 5
    width = 1 / 8 if quick else 1.0
    size_of_matmul = 512 if quick else 2048
    a = tf.random.normal((size_of_matmul, size_of_matmul))
    matmul = tf.function(lambda a: a @ a)
    configs = [(16, 32, 1)] if quick else [(16, 224, 1), (16, 224, 4), (16, 112, 1), (16, 112, 4)]
    rows = []
    for frames, size, batch in configs:
        model = I3D(include_top=False, pooling="avg", image_size=size, width_multiplier=width)
        clips = tf.random.uniform((batch, frames, size, size, 3), -1.0, 1.0)
        keras_function = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        exported = _exported(model, frames, size)
        baseline = tf_nn_i3d(model)
        # The matmul is timed in the same turns, so the peak sees the same drift.
        keras_s, exported_s, baseline_s, matmul_s = alternating_medians(
            [
                lambda: keras_function(clips).numpy(),
                lambda: exported.serve(clips).numpy(),
                lambda: baseline(clips).numpy(),
                lambda: matmul(a).numpy(),
            ],
            repeats,
        )
        peak = 2 * size_of_matmul**3 / matmul_s / 1e9
        gflop = i3d_flops(model, frames, size) * batch / 1e9
        rows.append(
            {
                "clip": f"{frames}x{size}x{size}" + (" (1/8 width)" if quick else ""),
                "batch": batch,
                "Keras clips/s": batch / keras_s,
                "Keras GFLOP/s": gflop / keras_s,
                "matmul GFLOP/s": peak,
                "fraction of matmul peak": gflop / keras_s / peak,
                "tf.nn clips/s": batch / baseline_s,
                "ratio Keras / tf.nn": baseline_s / keras_s,
                "ratio SavedModel / tf.nn": baseline_s / exported_s,
            }
        )
    print_table("I3D inference: Keras graph and exported SavedModel vs tf.nn I3D and a matmul, same run", rows)


def training(quick):
    import keras
    import numpy as np
    import tensorflow as tf

    from benchmarks.tf_nn_i3d import i3d_flops
    from benchmarks.tf_nn_i3d import tf_nn_i3d_training_step
    from emokeras.backbones import I3D

    repeats = 2 if quick else 4
    width = 1 / 8 if quick else 1.0
    frames, size, batch = (16, 32, 2) if quick else (16, 112, 4)
    model = I3D(include_top=False, pooling="avg", image_size=size, width_multiplier=width)
    clips = tf.random.uniform((batch, frames, size, size, 3), -1.0, 1.0)
    zeros = np.zeros((batch, model.output_shape[-1]), np.float32)
    baseline, _, _ = tf_nn_i3d_training_step(model, learning_rate=1e-3)
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss="mse")
    keras_s, baseline_s = alternating_medians(
        [lambda: model.train_on_batch(clips, zeros), lambda: baseline(clips).numpy()], repeats
    )
    # A training step costs about three forward passes (forward, and the
    # gradients with respect to the inputs and to the kernels).
    gflop = 3 * i3d_flops(model, frames, size) * batch / 1e9
    print_table(
        "I3D training step (batch statistics, gradients, SGD): Keras train_on_batch vs tf.nn, same run",
        [
            {
                "clip": f"{frames}x{size}x{size}" + (" (1/8 width)" if quick else ""),
                "batch": batch,
                "Keras clips/s": batch / keras_s,
                "Keras GFLOP/s (3x forward)": gflop / keras_s,
                "tf.nn clips/s": batch / baseline_s,
                "ratio Keras / tf.nn": baseline_s / keras_s,
            }
        ],
    )


def execution_modes(quick):
    import tensorflow as tf

    from emokeras.backbones import I3D

    repeats = 2 if quick else 5
    width = 1 / 8 if quick else 1.0
    frames, size = (16, 32) if quick else (16, 112)
    model = I3D(include_top=False, pooling="avg", image_size=size, width_multiplier=width)
    clips = tf.random.uniform((1, frames, size, size, 3), -1.0, 1.0)
    graph = tf.function(lambda x: model(x, training=False))
    xla = tf.function(lambda x: model(x, training=False), jit_compile=True)
    started = time.perf_counter()
    xla(clips)
    compile_s = time.perf_counter() - started
    eager_s, graph_s, xla_s = alternating_medians(
        [lambda: model(clips, training=False).numpy(), lambda: graph(clips).numpy(), lambda: xla(clips).numpy()],
        repeats,
    )
    print_table(
        f"Execution modes, I3D {frames}x{size}x{size} batch 1, same run (XLA compile {compile_s:.1f} s)",
        [
            {"mode": "eager", "ms": 1000 * eager_s, "speed vs tf.function": graph_s / eager_s},
            {"mode": "tf.function (default)", "ms": 1000 * graph_s, "speed vs tf.function": 1.0},
            {"mode": "tf.function(jit_compile=True)", "ms": 1000 * xla_s, "speed vs tf.function": graph_s / xla_s},
        ],
    )


def data_layout(quick):
    """Channels-last (Keras' and emokeras' layout) vs channels-first, on the
    tf.nn network where switching is one argument."""
    import tensorflow as tf

    from benchmarks.tf_nn_i3d import tf_nn_i3d
    from emokeras.backbones import I3D

    repeats = 2 if quick else 5
    width = 1 / 8 if quick else 1.0
    frames, size = (16, 32) if quick else (16, 112)
    model = I3D(include_top=False, pooling="avg", image_size=size, width_multiplier=width)
    clips = tf.random.uniform((1, frames, size, size, 3), -1.0, 1.0)
    last, first = tf_nn_i3d(model), tf_nn_i3d(model, data_format="NCDHW")
    last_s, first_s = alternating_medians([lambda: last(clips).numpy(), lambda: first(clips).numpy()], repeats)
    print_table(
        f"Data layout, tf.nn I3D {frames}x{size}x{size} batch 1, same run",
        [
            {"layout": "NDHWC, channels last (default)", "ms": 1000 * last_s, "ratio vs channels last": 1.0},
            {"layout": "NCDHW, channels first", "ms": 1000 * first_s, "ratio vs channels last": last_s / first_s},
        ],
    )


def run(quick=False):
    inference(quick)
    training(quick)
    execution_modes(quick)
    data_layout(quick)
