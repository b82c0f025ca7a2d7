"""A plain Keras training script on real media files, as a researcher
would write it: `emokeras.data` turns recordings into a `tf.data`
pipeline, `model.fit` does the rest.

    python examples/train_keras_script.py --data PREPARED   # data from `emokeras prepare`
    python examples/train_keras_script.py                   # writes a small synthetic corpus first
    python examples/train_keras_script.py --fast            # a smoke run (CI)

The model here is the paper's cross-attention model with I3D and the audio
CNN scaled down (`width_multiplier`) so that it trains on a CPU; on a GPU
drop `width_multiplier` and use 224 px crops.
"""

import argparse
import pathlib
import tempfile

import keras

import emokeras  # noqa: F401  (before Keras: its faster CPU kernels, see README Performance)
from emokeras.data import make_dataset
from emokeras.data import prepare_recordings
from emokeras.data import read_manifest
from emokeras.data.synthetic_corpus import write_synthetic_corpus
from emokeras.losses import ConcordanceCorrelationLoss
from emokeras.metrics import ConcordanceCorrelation
from emokeras.models import AVEmotionRegressor


def synthetic_data(folder, recordings, seconds, model):
    """Media files -> `emokeras prepare` output at the model's clock and crop
    size, in `folder`."""
    manifest = write_synthetic_corpus(
        folder / "synth", recordings=recordings, seconds=seconds, image_size=model.image_size
    )
    prepare_recordings(
        read_manifest(manifest),
        folder / "prepared",
        frame_rate=model.frame_rate,
        sample_rate=model.sample_rate,
        image_size=model.image_size,
        face_crop=False,
        min_frames=32,
    )
    return folder / "prepared"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="a folder written by `emokeras prepare` (default: a synthetic corpus)")
    parser.add_argument("--fast", action="store_true", help="tiny smoke run")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args(argv)
    epochs = 1 if args.fast else args.epochs
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="emokeras_example_"))

    keras.utils.set_random_seed(0)
    model = AVEmotionRegressor(
        fusion="cross_attention",
        targets=("valence", "arousal"),
        clips=2,
        frames_per_clip=8,
        image_size=32,
        width_multiplier=1 / 16,
        audio_filters=(8, 16, 16, 32, 64),
        head_units=(32,),
    )
    data = args.data or synthetic_data(
        workdir, recordings=5 if args.fast else 10, seconds=4 if args.fast else 40, model=model
    )
    # The model's windows (2 clips of 8 frames, one clip apart) cut the data.
    windows = model.window_geometry()
    train = make_dataset(data, "train", windows=windows, mode="train", batch_size=8)
    # Eval mode adds (recording_id, start, weights) to each window; fit wants
    # (x, y, sample weights): padded clips weigh nothing.
    dev = make_dataset(data, "dev", windows=windows, mode="eval", batch_size=8)
    dev = dev.map(lambda x, y, info: (x, y, info["weights"]))

    # I3D's 7x7x7 stem has a very slow TensorFlow CPU gradient; keep it fixed.
    model.visual_backbone.get_layer("Conv3d_1a_7x7").trainable = False
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=ConcordanceCorrelationLoss(),
        metrics={"valence": ConcordanceCorrelation(name="ccc"), "arousal": ConcordanceCorrelation(name="ccc")},
    )
    model.fit(
        train,
        validation_data=dev,
        epochs=epochs,
        callbacks=[keras.callbacks.CSVLogger(workdir / "log.csv")],
        verbose=2,
    )
    results = model.evaluate(dev, return_dict=True, verbose=0)
    print(
        f"dev CCC: valence {results['valence_ccc']:.3f}, arousal {results['arousal_ccc']:.3f}; "
        f"log: {workdir / 'log.csv'}"
    )
    return results


if __name__ == "__main__":
    main()
