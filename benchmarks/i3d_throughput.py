"""I3D inference throughput against two same-run baselines: the float32
matrix-multiply rate of this process (the practical peak) and DeepMind's
I3D written with `tf.nn` ops (`benchmarks.tf_nn_i3d`); plus eager vs
`tf.function` vs XLA for the Keras model."""

import time

import numpy as np

from benchmarks.timing import median_seconds
from benchmarks.timing import print_table


def matmul_gflops(size, repeats):
    import tensorflow as tf

    a = tf.random.normal((size, size))
    matmul = tf.function(lambda a: a @ a)
    seconds = median_seconds(lambda: matmul(a).numpy(), repeats=repeats)
    return 2 * size**3 / seconds / 1e9


def _alternating_medians(functions, repeats):
    """Times the functions in turns (a, b, a, b, ...) so that drift of the
    machine hits each alike; returns their median seconds."""
    for function in functions:
        function()
    times = [[] for _ in functions]
    for _ in range(repeats):
        for index, function in enumerate(functions):
            start = time.perf_counter()
            function()
            times[index].append(time.perf_counter() - start)
    return [float(np.median(t)) for t in times]


def run(quick=False):
    import tensorflow as tf

    from benchmarks.tf_nn_i3d import i3d_flops
    from benchmarks.tf_nn_i3d import tf_nn_i3d
    from emokeras.backbones import I3D

    repeats = 2 if quick else 5
    width = 1 / 8 if quick else 1.0
    peak = matmul_gflops(512 if quick else 2048, repeats)
    configs = [(16, 32, 1)] if quick else [(16, 224, 1), (16, 224, 4), (16, 112, 1), (16, 112, 4)]
    rows = []
    for frames, size, batch in configs:
        model = I3D(include_top=False, pooling="avg", image_size=size, width_multiplier=width)
        clips = tf.random.uniform((batch, frames, size, size, 3), -1.0, 1.0)
        keras_function = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        baseline = tf_nn_i3d(model)
        keras_s, baseline_s = _alternating_medians(
            [lambda: keras_function(clips).numpy(), lambda: baseline(clips).numpy()], repeats
        )
        gflop = i3d_flops(model, frames, size) * batch / 1e9
        rows.append(
            {
                "clip": f"{frames}x{size}x{size}" + (" (1/8 width)" if quick else ""),
                "batch": batch,
                "Keras clips/s": batch / keras_s,
                "Keras GFLOP/s": gflop / keras_s,
                "fraction of matmul peak": gflop / keras_s / peak,
                "tf.nn clips/s": batch / baseline_s,
                "ratio (Keras / tf.nn speed)": baseline_s / keras_s,
            }
        )
    print_table(f"I3D inference vs tf.nn I3D and a {peak:.0f} GFLOP/s matmul, same run", rows)

    frames, size = (16, 32) if quick else (16, 112)
    model = I3D(include_top=False, pooling="avg", image_size=size, width_multiplier=width)
    clips = tf.random.uniform((1, frames, size, size, 3), -1.0, 1.0)
    graph = tf.function(lambda x: model(x, training=False))
    xla = tf.function(lambda x: model(x, training=False), jit_compile=True)
    started = time.perf_counter()
    xla(clips)
    compile_s = time.perf_counter() - started
    eager_s, graph_s, xla_s = _alternating_medians(
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
