"""Build, compile, fit and evaluate the audio-visual model on NumPy arrays.

The windows are toy data whose targets need both modalities (face
brightness and voice pitch, `emokeras.data.make_toy_windows`); the model is
a small configuration of the paper's cross-attention model that trains on a
CPU in about two minutes.

    python examples/train_arrays.py          # ~2 minutes on 2 CPU cores
    python examples/train_arrays.py --fast   # a smoke run (CI)
"""

import argparse

import keras

import emokeras  # noqa: F401  (before Keras: its faster CPU kernels, see README Performance)
from emokeras.data import make_toy_windows
from emokeras.losses import ConcordanceCorrelationLoss
from emokeras.metrics import ConcordanceCorrelation
from emokeras.models import build_av_model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="tiny smoke run")
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args(argv)
    train_count, epochs = (32, 1) if args.fast else (384, args.epochs)

    keras.utils.set_random_seed(0)
    train_x, train_y, _ = make_toy_windows(train_count, seed=0)
    test_x, test_y, _ = make_toy_windows(64, seed=1)

    model = build_av_model(
        fusion="cross_attention",
        targets=("valence", "arousal"),
        clips=2,
        frames_per_clip=8,
        image_size=16,
        width_multiplier=1 / 16,  # 64-d features instead of 1024
        audio_filters=(8, 16, 16, 32, 64),
        head_units=(32,),
        dropout_rate=0.0,
    )
    # Keep I3D's first convolution fixed: its CPU gradient is very slow in
    # TensorFlow (see tests/test_learning.py); everything after it trains.
    model.visual_backbone.get_layer("Conv3d_1a_7x7").trainable = False
    steps = epochs * max(1, train_count // 16)
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(3e-3, steps)),
        loss=ConcordanceCorrelationLoss(),
        metrics={"valence": ConcordanceCorrelation(), "arousal": ConcordanceCorrelation()},
    )
    model.fit(train_x, train_y, batch_size=16, epochs=epochs, verbose=2)
    results = model.evaluate(test_x, test_y, batch_size=16, return_dict=True, verbose=0)
    print(f"held-out CCC: valence {results['valence_ccc']:.3f}, arousal {results['arousal_ccc']:.3f}")
    return results


if __name__ == "__main__":
    main()
