import keras
from keras import ops


@keras.saving.register_keras_serializable(package="emokeras")
class FoldClips(keras.layers.Layer):
    """Cuts a window into `clips` equal clips and moves them into the batch.

    `(batch, clips * n, *rest)` -> `(batch * clips, n, *rest)`. With
    `UnfoldClips` it replaces `TimeDistributed`, which exports wrongly when
    the number of time steps is unknown (it then uses the batch size): here
    `clips` and `n` are fixed, so exported graphs have exact shapes.

    Args:
        clips: number of clips per window.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: `(batch, clips * n, ...)` with a known second axis.

    Returns:
        `(batch * clips, n, ...)`.

    Example:

    >>> video = keras.ops.zeros((2, 32, 8, 8, 3))
    >>> tuple(FoldClips(clips=4)(video).shape)
    (8, 8, 8, 8, 3)
    """

    def __init__(self, clips, **kwargs):
        super().__init__(**kwargs)
        self.clips = int(clips)

    def _clip_shape(self, inputs_shape):
        steps = inputs_shape[1]
        if steps is None or steps % self.clips:
            raise ValueError(
                f"FoldClips(clips={self.clips}) needs a second axis that is a "
                f"known multiple of {self.clips}. Received: shape="
                f"{tuple(inputs_shape)}"
            )
        return (steps // self.clips,) + tuple(inputs_shape[2:])

    def call(self, inputs):
        clip_shape = self._clip_shape(inputs.shape)
        return ops.reshape(inputs, (-1,) + clip_shape)

    def compute_output_shape(self, inputs_shape):
        clip_shape = self._clip_shape(inputs_shape)
        batch = inputs_shape[0]
        return (None if batch is None else batch * self.clips,) + clip_shape

    def get_config(self):
        config = super().get_config()
        config.update({"clips": self.clips})
        return config
