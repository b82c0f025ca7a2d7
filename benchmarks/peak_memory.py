"""Peak memory (resident set) of inference and training: the process's
size once the model is built and compiled (the baseline), and its peak while
running it (the kernel's high-water mark, reset after the build so that
TensorFlow's start-up does not count). Each case runs in a fresh process;
the quick run puts the two quick ones in one (the two training cases that
differentiate through I3D take half a minute each to trace, even tiny, and
only run in the full run). Run as `python -m
benchmarks.peak_memory --probe CASE [CASE ...]` it measures those cases and
prints JSON."""

import argparse
import json

import numpy as np

from benchmarks.random_batches import av_geometry
from benchmarks.random_batches import cached_features
from benchmarks.random_batches import clip_labels
from benchmarks.random_batches import compiled_for_ccc
from benchmarks.random_batches import raw_windows
from benchmarks.timing import print_table
from benchmarks.timing import run_in_fresh_process

CASES = {
    "inference": "raw-input model, predict_on_batch, batch 1 (what a server holds)",
    "stage1_visual": "I3D training step, batch 2 clips (stage 1)",
    "fusion_cached": "fusion training on cached features, batch 16 (stage 2)",
    "fusion_recompute": "fusion training recomputing frozen backbones, batch 2",
}


def _status_mb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB


def _reset_peak():
    """Sets the high-water mark VmHWM back to the current size (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def _probe(case, quick):
    import keras

    from emokeras.backbones import I3D
    from emokeras.models import AVEmotionRegressor

    geometry = av_geometry(quick)
    rng = np.random.default_rng(0)
    if case == "stage1_visual":
        size, width = geometry["image_size"], geometry.get("width_multiplier", 1.0)
        model = I3D(include_top=False, pooling="avg", image_size=size, width_multiplier=width)
        model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="mse")
        clips = rng.uniform(-1, 1, (2, 16, size, size, 3)).astype("float32")
        run = lambda: model.train_on_batch(clips, np.zeros((2, model.output_shape[-1]), np.float32))
    else:
        frozen = case != "inference"
        model = AVEmotionRegressor(
            fusion="cross_attention", freeze_visual_backbone=frozen, freeze_audio_backbone=frozen, **geometry
        )
        if case == "inference":
            inputs = raw_windows(model, 1, rng)
            run = lambda: model.predict_on_batch(inputs)
        elif case == "fusion_recompute":
            compiled_for_ccc(model)
            inputs = raw_windows(model, 2, rng)
            run = lambda: model.train_on_batch(inputs, clip_labels(2, model.clips, rng))
        else:
            fusion = compiled_for_ccc(model.fusion_regressor)
            features = cached_features(model, 16, rng)
            run = lambda: fusion.train_on_batch(features, clip_labels(16, model.clips, rng))
    built = _status_mb("VmRSS")
    _reset_peak()
    for _ in range(2):
        run()
    return {"built_mb": built, "peak_mb": _status_mb("VmHWM")}


def run(quick=False):
    if quick:
        cases = ["inference", "fusion_cached"]
        results = run_in_fresh_process("benchmarks.peak_memory", ["--quick", "--probe", *cases])
    else:
        results = {}
        for case in CASES:
            results.update(run_in_fresh_process("benchmarks.peak_memory", ["--probe", case]))
    rows = []
    for case, result in results.items():
        description = CASES[case]
        rows.append(
            {
                "case": description,
                "built MB (baseline)": result["built_mb"],
                "peak MB": result["peak_mb"],
                "ratio peak / baseline": result["peak_mb"] / result["built_mb"],
            }
        )
    scale = (
        "tiny models, one process (quick)"
        if quick
        else "paper geometry: 8 clips x 16 frames at 224 px, each case in a fresh process"
    )
    print_table(f"Peak memory, {scale}", rows)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--probe", nargs="+", choices=CASES)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.probe:
        print(json.dumps({case: _probe(case, args.quick) for case in args.probe}))
    else:
        run(quick=args.quick)


if __name__ == "__main__":
    main()
