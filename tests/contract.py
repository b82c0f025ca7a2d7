"""Checks that every emokeras layer and model passes (after keras-hub's
shared test helper): config round trip, `.keras` save / load with identical
outputs under `safe_mode=True`, and one training step that moves the
weights."""

import keras
import numpy as np


def wrap_layer(layer, input_shapes, **call_kwargs):
    """A functional model around `layer` with one input per shape."""
    inputs = [keras.Input(shape) for shape in input_shapes]
    outputs = layer(*inputs, **call_kwargs)
    return keras.Model(inputs, outputs)


def assert_config_round_trip(obj):
    clone = obj.__class__.from_config(obj.get_config())
    assert clone.get_config() == obj.get_config()
    return clone


def assert_save_load_identical(model, inputs, tmp_path, name="model.keras"):
    """`.keras` save then load (safe mode) gives the same outputs."""
    expected = model.predict(inputs, verbose=0)
    path = tmp_path / name
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    actual = restored.predict(inputs, verbose=0)
    for got, want in zip(keras.tree.flatten(actual), keras.tree.flatten(expected), strict=True):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    return restored


def assert_one_training_step_moves_weights(model, inputs, targets, loss="mse"):
    """One optimizer step changes every trainable weight that gets a gradient
    (all of them, for our layers)."""
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss, jit_compile=False)
    before = [np.array(w) for w in model.trainable_weights]
    model.train_on_batch(inputs, targets)
    after = [np.array(w) for w in model.trainable_weights]
    assert before, "the model has no trainable weights"
    unchanged = [w.path for w, b, a in zip(model.trainable_weights, before, after) if np.array_equal(b, a)]
    assert not unchanged, f"weights not updated by a training step: {unchanged}"
