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


def assert_padding_changes_no_valid_output(model, window):
    """Windows of 16 frames with 5, 9 and 16 real ones (`window` holds three
    of them): new random pixels and samples in the padded part change no
    output of a clip holding a real frame, and the mask matters."""
    padded = dict(window, valid_frames=np.array([5, 9, 16], np.int32))
    other = {name: np.array(value) for name, value in padded.items()}
    rng = np.random.default_rng(7)
    for row, valid in enumerate(padded["valid_frames"]):
        if "video" in other:
            other["video"][row, valid:] = rng.integers(0, 256, other["video"][row, valid:].shape)
        if "audio" in other:
            samples = valid * model.samples_per_clip // model.frames_per_clip
            other["audio"][row, samples:] = rng.normal(size=other["audio"][row, samples:].shape)
    first, second = model.predict_on_batch(padded), model.predict_on_batch(other)
    for target in model.targets:
        for row, clips in enumerate([1, 2, 2]):
            np.testing.assert_allclose(second[target][row, :clips], first[target][row, :clips], atol=1e-6)
    # Read as all real, the first window's valid clip changes: the mask does something.
    unmasked = model.predict_on_batch({name: value for name, value in other.items() if name != "valid_frames"})
    assert not np.allclose(unmasked[model.targets[0]][0, :1], first[model.targets[0]][0, :1], atol=1e-6)
