import numpy as np

from emokeras.data.finite_inputs import check_finite_inputs


class LocalPredictor:
    """Predicts batches of windows with a Keras `AVEmotionRegressor` in this
    process.

    Args:
        model: the model.
        attention_maps: also keep the cross-attention maps of every window
            (a `fusion="cross_attention"` model), for `mean_attention_maps`.

    Call arguments:
        windows: `{"video": uint8 (batch, L*T, S, S, 3), "audio": float32
            (batch, samples)}`; inputs the model does not read are ignored.

    Returns:
        `{target: (batch, clips)}` NumPy arrays.

    Raises:
        ValueError: a float input holds NaN or inf (never a prediction).
    """

    def __init__(self, model, attention_maps=False):
        if attention_maps and model.fusion != "cross_attention":
            raise ValueError(f"attention maps need a cross-attention model; this one has fusion={model.fusion!r}")
        self.model = model
        self.contract = model.data_contract
        self.keep_attention_maps = attention_maps
        self._maps = []

    def __call__(self, windows):
        inputs = {name: value for name, value in windows.items() if name in self.model.input}
        check_finite_inputs(inputs, "the windows given to the model")
        if self.keep_attention_maps:
            self._maps.append(self.model.cross_attention_maps(inputs))
        return {name: np.asarray(value) for name, value in self.model.predict_on_batch(inputs).items()}

    def mean_attention_maps(self):
        """`(A_a, A_v)` averaged over every window predicted so far (each
        `(L, L)`), or `None` when not kept."""
        if not self._maps:
            return None
        audio_maps, visual_maps = zip(*self._maps)
        return np.concatenate(audio_maps).mean(axis=0), np.concatenate(visual_maps).mean(axis=0)
