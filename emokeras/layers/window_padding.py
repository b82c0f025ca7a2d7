import keras
from keras import ops

FILLS = ("repeat_last", "zeros")


@keras.saving.register_keras_serializable(package="emokeras")
class WindowPadding(keras.layers.Layer):
    """Overwrites the padded end of windows, so that what a caller put there
    never reaches the model.

    A window of a recording shorter than the window (or a padded tail) holds
    `valid_frames` real frames, then padding. Whatever the padding holds,
    this layer replaces it: with the last real frame (`"repeat_last"`, for
    video: a partly filled clip sees a still image after the recording ends)
    or with zeros (`"zeros"`, for audio: silence).

    Args:
        fill: `"repeat_last"` or `"zeros"`.
        steps_per_frame: steps of axis 1 per frame (1 for video frames, the
            audio samples per frame for audio).
        **kwargs: base layer arguments.

    Call arguments:
        inputs: `(batch, frames * steps_per_frame, ...)`.
        valid_frames: int `(batch,)` real frames per window (at least 1), or
            `None` when every frame is real.

    Returns:
        `inputs` with the steps after `valid_frames * steps_per_frame`
        filled.

    Example:

    >>> audio = keras.ops.ones((2, 8))
    >>> padded = WindowPadding(fill="zeros", steps_per_frame=2)(audio, keras.ops.array([4, 1]))
    >>> keras.ops.convert_to_numpy(padded).tolist()
    [[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]
    """

    def __init__(self, fill="repeat_last", steps_per_frame=1, **kwargs):
        super().__init__(**kwargs)
        if fill not in FILLS:
            raise ValueError(f"fill must be one of {', '.join(FILLS)}. Received: fill={fill!r}")
        self.fill = fill
        self.steps_per_frame = int(steps_per_frame)

    def call(self, inputs, valid_frames=None):
        if valid_frames is None:
            return inputs
        steps = inputs.shape[1]
        valid = ops.clip(ops.cast(valid_frames, "int32") * self.steps_per_frame, 1, steps)
        position = ops.arange(steps, dtype="int32")[None, :]
        broadcast = (-1, steps) + (1,) * (len(inputs.shape) - 2)
        if self.fill == "zeros":
            real = ops.reshape(position < valid[:, None], broadcast)
            return ops.where(real, inputs, ops.zeros_like(inputs))
        source = ops.minimum(position, valid[:, None] - 1)
        return ops.take_along_axis(inputs, ops.reshape(source, broadcast), axis=1)

    def compute_output_shape(self, inputs_shape, valid_frames_shape=None):
        return tuple(inputs_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"fill": self.fill, "steps_per_frame": self.steps_per_frame})
        return config
