"""The model learns: a tiny configuration trained with `model.fit` on
in-memory windows whose targets need both modalities (brightness of the
face, pitch of the voice; see `make_toy_windows`) reaches CCC > 0.9 on
held-out windows, in inference mode."""

import keras
import numpy as np
import pytest

from emokeras.data import make_toy_windows
from emokeras.losses import ConcordanceCorrelationLoss
from emokeras.metrics import ConcordanceCorrelation
from emokeras.metrics import concordance_correlation
from emokeras.models import build_av_model


def best_single_modality_ccc(target, latent):
    """CCC of the best affine prediction of `target` from one latent."""
    slope, intercept = np.polyfit(latent.ravel(), target.ravel(), 1)
    return float(concordance_correlation(target, slope * latent + intercept))


@pytest.mark.slow
def test_tiny_model_learns_from_both_modalities():
    train_x, train_y, _ = make_toy_windows(384, seed=0)
    test_x, test_y, latents = make_toy_windows(64, seed=1)
    # Neither modality alone can reach the bar: fusion is needed.
    for target in ("valence", "arousal"):
        single = [best_single_modality_ccc(test_y[target], x) for x in latents.values()]
        assert max(single) < 0.9, single

    model = build_av_model(
        clips=2,
        frames_per_clip=8,
        image_size=16,
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
        target: float(concordance_correlation(test_y[target], predictions[target])) for target in ("valence", "arousal")
    }
    assert held_out["valence"] > 0.9 and held_out["arousal"] > 0.9, held_out
    # The streaming metric of evaluate() agrees with the function.
    results = model.evaluate(test_x, test_y, batch_size=16, return_dict=True, verbose=0)
    assert results["valence_ccc"] == pytest.approx(held_out["valence"], abs=1e-4)
