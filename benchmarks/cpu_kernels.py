"""TensorFlow's CPU kernels and threads, each setting in a fresh process
(TensorFlow reads them once, at start-up): oneDNN off (TensorFlow's own
default on this project's AVX2 machine), oneDNN on (emokeras' default, set on
import), and oneDNN on a single intra-op thread. Run as `python -m benchmarks.cpu_kernels
--probe` it times one setting and prints JSON."""

import argparse
import json

from benchmarks.timing import median_seconds
from benchmarks.timing import print_table
from benchmarks.timing import run_in_fresh_process

SETTINGS = (
    ("oneDNN off (TensorFlow's default here)", {"TF_ENABLE_ONEDNN_OPTS": "0"}, []),
    ("oneDNN on (emokeras default)", {"TF_ENABLE_ONEDNN_OPTS": "1"}, []),
    ("oneDNN on, 1 intra-op thread", {"TF_ENABLE_ONEDNN_OPTS": "1"}, ["--intra-op-threads", "1"]),
)


def _probe(quick, intra_op_threads):
    """Times I3D inference, a matmul and (not in the quick run) an I3D
    training step in this process."""
    import tensorflow as tf

    if intra_op_threads:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op_threads)
    import keras
    import numpy as np

    from emokeras.backbones import I3D

    repeats = 2 if quick else 5
    frames, size, width = (16, 32, 1 / 8) if quick else (16, 112, 1.0)
    model = I3D(include_top=False, pooling="avg", image_size=size, width_multiplier=width)
    clips = tf.random.uniform((2, frames, size, size, 3), -1.0, 1.0)
    forward = tf.function(lambda x: model(x, training=False))
    a = tf.random.normal((1024, 1024))
    matmul = tf.function(lambda a: a @ a)
    result = {
        "inference_s": median_seconds(lambda: forward(clips[:1]).numpy(), repeats=repeats),
        "matmul_gflops": 2 * 1024**3 / median_seconds(lambda: matmul(a).numpy(), repeats=repeats) / 1e9,
    }
    if not quick:  # tracing the training step is most of a quick probe's time
        model.compile(optimizer=keras.optimizers.SGD(1e-3), loss="mse")
        zeros = np.zeros((2, model.output_shape[-1]), np.float32)
        result["training_s"] = median_seconds(lambda: model.train_on_batch(clips, zeros), repeats=repeats)
    return result


def run(quick=False):
    rounds = 1 if quick else 2
    # The quick run skips the thread setting: each setting is a process start.
    settings = SETTINGS[:2] if quick else SETTINGS
    results = {name: [] for name, _, _ in settings}
    for _ in range(rounds):  # settings in turns, so that drift hits each alike
        for name, environment, arguments in settings:
            results[name].append(
                run_in_fresh_process(
                    "benchmarks.cpu_kernels", ["--probe", *arguments] + (["--quick"] if quick else []), environment
                )
            )
    best = {
        name: {key: (max if key == "matmul_gflops" else min)(r[key] for r in runs) for key in runs[0]}
        for name, runs in results.items()
    }
    baseline = best[settings[0][0]]
    clip = "16x32x32, 1/8 width" if quick else "16x112x112"
    rows = []
    for name, b in best.items():
        row = {"setting": name, "inference ms": 1000 * b["inference_s"], "matmul GFLOP/s": b["matmul_gflops"]}
        row["ratio inference vs oneDNN off"] = baseline["inference_s"] / b["inference_s"]
        if "training_s" in b:
            row["training step ms"] = 1000 * b["training_s"]
            row["ratio training vs oneDNN off"] = baseline["training_s"] / b["training_s"]
        rows.append(row)
    print_table(
        f"CPU kernels and threads, I3D {clip} (inference batch 1, training step batch 2; "
        f"the quick run times no training), each setting in a fresh process, best of {rounds} alternating round(s)",
        rows,
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--probe", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--intra-op-threads", type=int, default=0)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(_probe(args.quick, args.intra_op_threads)))
    else:
        run(quick=args.quick)


if __name__ == "__main__":
    main()
