"""The model learns: a tiny configuration trained with `model.fit` on
in-memory windows whose targets need both modalities reaches CCC > 0.9 on
held-out windows, in inference mode."""

import keras
import numpy as np
import pytest

from emokeras.losses import ConcordanceCorrelationLoss
from emokeras.metrics import ConcordanceCorrelation
from emokeras.metrics import concordance_correlation
from emokeras.models import build_av_model

CLIPS, FRAMES, SIZE, FPS, RATE = 2, 8, 16, 25, 16000
SAMPLES = FRAMES * RATE // FPS


def make_windows(count, rng):
    """Each clip has a visual latent v (face brightness) and an audio latent a
    (pitch of a tone; loudness would be removed by the log-mel
    standardisation). Valence = 0.5 v + 0.3 a, arousal = 0.3 v + 0.5 a."""
    v = rng.uniform(-1, 1, (count, CLIPS))
    a = rng.uniform(-1, 1, (count, CLIPS))
    brightness = 128 + 90 * v
    video = brightness[:, :, None, None, None, None] + rng.normal(
        0, 20, (count, CLIPS, FRAMES, SIZE, SIZE, 3)
    )
    video = np.clip(video, 0, 255).astype(np.uint8).reshape(count, CLIPS * FRAMES, SIZE, SIZE, 3)
    t = np.arange(SAMPLES) / RATE
    pitch = 400 * 2 ** (1.5 * a)  # 141 to 1131 Hz
    phase = rng.uniform(0, 2 * np.pi, (count, CLIPS, 1))
    audio = 0.3 * np.sin(2 * np.pi * pitch[..., None] * t + phase)
    audio += rng.normal(0, 0.02, audio.shape)
    targets = {
        "valence": (0.5 * v + 0.3 * a).astype("float32"),
        "arousal": (0.3 * v + 0.5 * a).astype("float32"),
    }
    inputs = {"video": video, "audio": audio.reshape(count, -1).astype("float32")}
    return inputs, targets, (v, a)


def best_single_modality_ccc(target, latent):
    """CCC of the best affine prediction of `target` from one latent."""
    slope, intercept = np.polyfit(latent.ravel(), target.ravel(), 1)
    return float(concordance_correlation(target, slope * latent + intercept))


@pytest.mark.slow
def test_tiny_model_learns_from_both_modalities():
    rng = np.random.default_rng(0)
    train_x, train_y, _ = make_windows(384, rng)
    test_x, test_y, (v, a) = make_windows(64, rng)
    # Neither modality alone can reach the bar: fusion is needed.
    for target in ("valence", "arousal"):
        assert max(best_single_modality_ccc(test_y[target], latent) for latent in (v, a)) < 0.9

    model = build_av_model(
        clips=CLIPS,
        frames_per_clip=FRAMES,
        image_size=SIZE,
        width_multiplier=1 / 16,
        audio_filters=(8, 16, 16, 32, 64),
        head_units=(32,),
        dropout_rate=0.0,
    )
    # TensorFlow's CPU gradient of the 7x7x7 / stride-2 stem with 3 input
    # channels costs ~4 s per step here, 20x the rest of the network; the
    # stem keeps its random weights and everything after it trains.
    model.visual_backbone.get_layer("Conv3d_1a_7x7").trainable = False
    epochs, batch_size = 15, 16
    schedule = keras.optimizers.schedules.CosineDecay(3e-3, epochs * 384 // batch_size)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=ConcordanceCorrelationLoss(),
        metrics={"valence": ConcordanceCorrelation(), "arousal": ConcordanceCorrelation()},
    )
    model.fit(train_x, train_y, batch_size=batch_size, epochs=epochs, verbose=0)

    predictions = model.predict(test_x, verbose=0)
    held_out = {
        target: float(concordance_correlation(test_y[target], predictions[target]))
        for target in ("valence", "arousal")
    }
    assert held_out["valence"] > 0.9 and held_out["arousal"] > 0.9, held_out
    # The streaming metric of evaluate() agrees with the function.
    results = model.evaluate(test_x, test_y, batch_size=16, return_dict=True, verbose=0)
    assert results["valence_ccc"] == pytest.approx(held_out["valence"], abs=1e-4)
