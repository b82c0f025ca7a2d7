import keras
import numpy as np
import pytest

from emokeras.losses import ConcordanceCorrelationLoss
from emokeras.metrics import ConcordanceCorrelation
from emokeras.metrics import concordance_correlation
from tests.numpy_references import ccc


def _pair(seed=0, n=200, noise=0.5, bias=0.3, scale=0.7):
    rng = np.random.default_rng(seed)
    y_true = rng.normal(size=n)
    y_pred = scale * y_true + bias + noise * rng.normal(size=n)
    return y_true.astype("float32"), y_pred.astype("float32")


def test_function_matches_numpy_reference():
    for seed in range(3):
        y_true, y_pred = _pair(seed)
        assert float(concordance_correlation(y_true, y_pred)) == pytest.approx(ccc(y_true, y_pred), abs=1e-6)


def test_golden_value():
    # Worked by hand: means 2 and 2.5, variances 2/3 and 1/6... see below.
    y_true = np.array([1.0, 2.0, 3.0])
    y_pred = np.array([2.0, 2.5, 3.0])
    # cov = (1*0.5 + 0 + 1*0.5) / 3 = 1/3; var_t = 2/3; var_p = 1/6;
    # (2 - 2.5)^2 = 1/4 -> CCC = (2/3) / (2/3 + 1/6 + 1/4) = 8/13.
    assert float(concordance_correlation(y_true, y_pred)) == pytest.approx(8 / 13, abs=1e-6)


def test_perfect_anti_and_constant_predictions():
    y_true, _ = _pair(1)
    y_true -= y_true.mean()  # -y then has the same mean: CCC exactly -1
    assert float(concordance_correlation(y_true, y_true)) == pytest.approx(1.0, abs=1e-6)
    assert float(concordance_correlation(y_true, -y_true)) == pytest.approx(-1.0, abs=1e-6)
    # A constant prediction has zero covariance: CCC 0 by the formula.
    assert float(concordance_correlation(y_true, np.full_like(y_true, 0.4))) == 0.0
    # Both constant: undefined (0/0); documented to return 0.0, never NaN.
    assert float(concordance_correlation(np.ones(5), np.ones(5))) == 0.0
    assert float(concordance_correlation(np.zeros(0), np.zeros(0))) == 0.0


def test_sample_weight_excludes_elements_and_broadcasts_over_clips():
    y_true, y_pred = _pair(2, n=60)
    y_true, y_pred = y_true.reshape(20, 3), y_pred.reshape(20, 3)
    weight = np.ones(20, "float32")
    weight[5:9] = 0.0
    keep = weight.astype(bool)
    assert float(concordance_correlation(y_true, y_pred, weight)) == pytest.approx(
        ccc(y_true[keep], y_pred[keep]), abs=1e-6
    )


def test_metric_is_the_corpus_ccc_not_a_mean_of_batch_cccs():
    # Six "recordings" whose levels differ and are predicted well, while the
    # small variations inside each are not: the corpus CCC is high, every
    # batch's own CCC is near zero.
    rng = np.random.default_rng(3)
    levels = np.repeat(np.linspace(-1, 1, 6), 40)
    y_true = (levels + 0.1 * rng.normal(size=240)).astype("float32")
    y_pred = (levels + 0.1 * rng.normal(size=240)).astype("float32")
    metric = ConcordanceCorrelation()
    batch_cccs = []
    for start in range(0, 240, 40):
        metric.update_state(y_true[start : start + 40], y_pred[start : start + 40])
        batch_cccs.append(ccc(y_true[start : start + 40], y_pred[start : start + 40]))
    corpus = ccc(y_true, y_pred)
    assert float(metric.result()) == pytest.approx(corpus, abs=1e-5)
    assert corpus > 0.9 and abs(np.mean(batch_cccs)) < 0.3
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_metric_with_uneven_batches_weights_and_large_offsets():
    rng = np.random.default_rng(4)
    # Values around 1000: raw sums of squares would lose the variance in float32.
    y_true = 1000.0 + rng.normal(size=1000)
    y_pred = 1000.2 + 0.8 * (y_true - 1000.0) + 0.3 * rng.normal(size=1000)
    weight = rng.integers(0, 2, size=1000).astype("float32")
    metric = ConcordanceCorrelation()
    for start, stop in [(0, 1), (1, 300), (300, 301), (301, 1000)]:
        metric.update_state(y_true[start:stop], y_pred[start:stop], weight[start:stop])
    keep = weight.astype(bool)
    assert float(metric.result()) == pytest.approx(ccc(y_true[keep], y_pred[keep]), abs=1e-4)


def test_loss_is_one_minus_ccc_over_the_flattened_batch():
    y_true, y_pred = _pair(5, n=64)
    loss = ConcordanceCorrelationLoss()
    value = float(loss(y_true.reshape(16, 4), y_pred.reshape(16, 4)))
    assert value == pytest.approx(1.0 - ccc(y_true, y_pred), abs=1e-6)
    weight = np.r_[np.ones(10), np.zeros(6)].astype("float32")
    weighted = float(loss(y_true.reshape(16, 4), y_pred.reshape(16, 4), weight))
    assert weighted == pytest.approx(1.0 - ccc(y_true[:40], y_pred[:40]), abs=1e-6)


def test_loss_gradient_is_finite_for_constant_predictions():
    import tensorflow as tf

    y_true = tf.constant(np.ones((4, 8), "float32"))
    y_pred = tf.Variable(np.full((4, 8), 0.5, "float32"))
    with tf.GradientTape() as tape:
        value = ConcordanceCorrelationLoss()(y_true, y_pred)
    gradient = tape.gradient(value, y_pred)
    assert float(value) == 1.0
    assert np.all(np.isfinite(gradient.numpy()))


def test_loss_and_metric_per_target_in_compile():
    inputs = keras.Input((3,))
    outputs = {
        "valence": keras.layers.Dense(2, name="valence")(inputs),
        "arousal": keras.layers.Dense(2, name="arousal")(inputs),
    }
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer="adam",
        loss=ConcordanceCorrelationLoss(),
        metrics={"valence": ConcordanceCorrelation(), "arousal": ConcordanceCorrelation()},
    )
    rng = np.random.default_rng(6)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = {"valence": rng.normal(size=(32, 2)), "arousal": rng.normal(size=(32, 2))}
    results = model.evaluate(x, y, batch_size=8, return_dict=True, verbose=0)
    predictions = model.predict(x, verbose=0)
    for target in ("valence", "arousal"):
        assert results[f"{target}_ccc"] == pytest.approx(ccc(y[target], predictions[target]), abs=1e-5)


def test_serialization():
    metric = keras.metrics.deserialize(keras.metrics.serialize(ConcordanceCorrelation(name="v_ccc")))
    assert isinstance(metric, ConcordanceCorrelation) and metric.name == "v_ccc"
    loss = keras.losses.deserialize(keras.losses.serialize(ConcordanceCorrelationLoss()))
    assert isinstance(loss, ConcordanceCorrelationLoss)
