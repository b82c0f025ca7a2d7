import keras
from keras import ops


@keras.saving.register_keras_serializable(package="emokeras")
class ClipMask(keras.layers.Layer):
    """Which clips of each window hold at least one real frame.

    Clip `c` covers frames `[c T, (c + 1) T)` of the window; it is valid when
    `c T < valid_frames`. A partly filled clip is valid, so every real frame
    gets a prediction.

    Args:
        clips: clips per window, `L`.
        frames_per_clip: frames per clip, `T` (1 when counting clips).
        **kwargs: base layer arguments.

    Call arguments:
        valid_frames: int `(batch,)` real frames per window, or `None` (every
            frame real: no mask).

    Returns:
        int32 `(batch, clips)`, 1 for a valid clip and 0 for padding (an
        integer mask, which Keras layers accept and which, unlike a boolean
        one, distribution strategies can aggregate), or `None` when
        `valid_frames` is `None`.

    Example:

    >>> mask = ClipMask(clips=4, frames_per_clip=8)(keras.ops.array([9, 32]))
    >>> keras.ops.convert_to_numpy(mask).tolist()
    [[1, 1, 0, 0], [1, 1, 1, 1]]
    """

    def __init__(self, clips, frames_per_clip=1, **kwargs):
        super().__init__(**kwargs)
        self.clips = int(clips)
        self.frames_per_clip = int(frames_per_clip)

    def call(self, valid_frames):
        if valid_frames is None:
            return None
        first_frames = ops.arange(self.clips, dtype="int32")[None, :] * self.frames_per_clip
        return ops.cast(first_frames < ops.cast(valid_frames, "int32")[:, None], "int32")

    def compute_output_spec(self, valid_frames):
        return keras.KerasTensor((valid_frames.shape[0], self.clips), dtype="int32")

    def get_config(self):
        config = super().get_config()
        config.update({"clips": self.clips, "frames_per_clip": self.frames_per_clip})
        return config
