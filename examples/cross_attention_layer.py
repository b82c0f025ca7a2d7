"""`CrossAttention` inside your own Keras model, trained with `model.fit`.

Two feature sequences (think: per-second audio and visual embeddings from
any extractor) are fused by cross-attention, pooled over time and regressed
to one score. The score needs both sequences: it is the mean over time of
the product of their first features, which neither sequence knows alone.

    python examples/cross_attention_layer.py
    python examples/cross_attention_layer.py --fast   # smoke run (CI)
"""

import argparse

import keras
import numpy as np

from emokeras.layers import CrossAttention
from emokeras.metrics import concordance_correlation

STEPS, FEATURES = 10, 16


def make_data(count, rng):
    audio = rng.normal(size=(count, STEPS, FEATURES)).astype("float32")
    visual = rng.normal(size=(count, STEPS, FEATURES)).astype("float32")
    score = np.tanh((audio[..., 0] * visual[..., 0]).mean(axis=1) * 2.0)
    return audio, visual, score.astype("float32")


def build_model():
    audio = keras.Input((STEPS, FEATURES), name="audio")
    visual = keras.Input((STEPS, FEATURES), name="visual")
    attended_audio, attended_visual = CrossAttention(name="cross_attention")(audio, visual)
    # The attended sequences, next to the originals (a skip connection).
    fused = keras.layers.Concatenate()([attended_visual, attended_audio, audio, visual])
    hidden = keras.layers.Dense(64, activation="relu")(fused)
    pooled = keras.layers.GlobalAveragePooling1D()(hidden)
    score = keras.layers.Dense(1, activation="tanh")(pooled)
    score = keras.layers.Reshape((), name="score")(score)
    return keras.Model({"audio": audio, "visual": visual}, score)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="tiny smoke run")
    args = parser.parse_args(argv)
    count, epochs = (256, 2) if args.fast else (4096, 30)

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    audio, visual, score = make_data(count, rng)
    test_audio, test_visual, test_score = make_data(512, rng)

    model = build_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    model.fit({"audio": audio, "visual": visual}, score, batch_size=64, epochs=epochs, verbose=2)
    predicted = model.predict({"audio": test_audio, "visual": test_visual}, verbose=0)
    ccc = float(concordance_correlation(test_score, predicted))
    print(f"held-out CCC: {ccc:.3f}")
    return ccc


if __name__ == "__main__":
    main()
