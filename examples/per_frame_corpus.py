"""A per-frame corpus in its own layout (Aff-Wild2) end to end: the corpus
reader, `prepare` (labels given per source frame at the video's own frame
rate, `-5` = unlabelled), the cross-attention model trained with
`model.fit`, and frame-level evaluation on the validation set.

    python examples/per_frame_corpus.py --root AFF-WILD2   # a real Aff-Wild2 tree
    python examples/per_frame_corpus.py                    # writes an Aff-Wild2-shaped corpus first
    python examples/per_frame_corpus.py --fast             # a smoke run (CI)

The Aff-Wild2-shaped corpus puts the built-in synthetic recordings, made at
30 fps, under `batch1/` and `batch2/`, with one `valence,arousal` row per
video frame in `VA_Estimation_Challenge/{Train_Set,Validation_Set}/` and a
stretch of `-5` (unlabelled) frames in each file. Its faces are already
crops, so face detection is off here; keep it on for real Aff-Wild2 (and
its `_left` / `_right` files pick the face on that side).
"""

import argparse
import csv
import pathlib
import shutil
import tempfile

import keras
import numpy as np

import emokeras  # noqa: F401  (before Keras: its faster CPU kernels, see README Performance)
from emokeras.data import make_dataset
from emokeras.data import prepare_recordings
from emokeras.data.corpora import read_corpus
from emokeras.data.synthetic_corpus import write_synthetic_corpus
from emokeras.evaluation.evaluate import evaluate_model
from emokeras.evaluation.evaluate import format_table
from emokeras.losses import ConcordanceCorrelationLoss
from emokeras.metrics import ConcordanceCorrelation
from emokeras.models import AVEmotionRegressor

# Aff-Wild2's test labels are not public: its validation set is the one scored.
SET_FOLDERS = {"train": "Train_Set", "dev": "Validation_Set", "test": "Validation_Set"}
UNLABELLED = -5


def write_aff_wild2_shaped_corpus(root, videos, seconds, seed=0):
    """Synthetic 30 fps recordings in Aff-Wild2's layout."""
    synth = root / "synth"
    manifest = write_synthetic_corpus(
        synth, recordings=videos, seconds=seconds, seed=seed, frame_rate=30, image_size=64
    )
    annotations = root / "annotations" / "VA_Estimation_Challenge"
    rng = np.random.default_rng(seed)
    with open(manifest, newline="") as file:
        for number, recording in enumerate(csv.DictReader(file)):
            name = f"{100 + number}-30-640x360"
            batch = root / ("batch1" if number % 2 == 0 else "batch2")
            batch.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(synth / recording["video"], batch / f"{name}.mp4")
            labels = np.genfromtxt(synth / recording["labels"], delimiter=",", names=True)
            rows = np.stack([labels["valence"], labels["arousal"]], axis=1)
            # Annotators skipped a stretch: those frames say -5.
            first = rng.integers(0, len(rows) // 2)
            rows[first : first + len(rows) // 10] = UNLABELLED
            folder = annotations / SET_FOLDERS[recording["split"]]
            folder.mkdir(parents=True, exist_ok=True)
            lines = ["valence,arousal"] + [f"{v:.4f},{a:.4f}" if v != UNLABELLED else "-5,-5" for v, a in rows]
            (folder / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return root


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="an Aff-Wild2 tree (default: write an Aff-Wild2-shaped one)")
    parser.add_argument("--fast", action="store_true", help="tiny smoke run")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args(argv)
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="emokeras_per_frame_"))
    root = args.root or write_aff_wild2_shaped_corpus(
        workdir / "aff-wild2", videos=4 if args.fast else 10, seconds=3 if args.fast else 40
    )

    corpus = read_corpus("aff-wild2", root)
    print(f"{len(corpus.recordings)} videos; {corpus.split_rule}")
    keras.utils.set_random_seed(0)
    model = AVEmotionRegressor(
        fusion="cross_attention",
        targets=corpus.targets,
        target_ranges=corpus.target_ranges,
        clips=2,
        frames_per_clip=8,
        image_size=32,
        width_multiplier=1 / 16,
        audio_filters=(8, 16, 16, 32, 64),
        head_units=(32,),
    )
    prepared = workdir / "prepared"
    # Labels per 30 fps source frame are resampled onto the model's 25 fps
    # clock; -5 frames are masked out of the loss and the scores.
    prepare_recordings(
        corpus.recordings,
        prepared,
        frame_rate=model.frame_rate,
        sample_rate=model.sample_rate,
        image_size=model.image_size,
        face_crop=args.root is not None,
        progress=False,
        **corpus.prepare_options(),
    )
    windows = model.window_geometry()
    train = make_dataset(prepared, "train", windows=windows, batch_size=8)
    dev = make_dataset(prepared, "dev", windows=windows, mode="eval", batch_size=8)
    dev = dev.map(lambda x, y, info: (x, y, info["weights"]))
    # I3D's 7x7x7 stem has a very slow TensorFlow CPU gradient; keep it fixed.
    model.visual_backbone.get_layer("Conv3d_1a_7x7").trainable = False
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss={t: ConcordanceCorrelationLoss() for t in corpus.targets},
        weighted_metrics={t: [ConcordanceCorrelation(name="ccc")] for t in corpus.targets},
    )
    model.fit(train, validation_data=dev, epochs=1 if args.fast else args.epochs, verbose=2)

    # Frame-level CCC on the validation set, every labelled frame once.
    report = evaluate_model(model, prepared, test_split="dev", postprocess=False)
    print(format_table(report))
    return report


if __name__ == "__main__":
    main()
