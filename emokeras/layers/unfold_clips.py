import keras
from keras import ops


@keras.saving.register_keras_serializable(package="emokeras")
class UnfoldClips(keras.layers.Layer):
    """Moves clips back out of the batch: the inverse of `FoldClips`.

    `(batch * clips, *rest)` -> `(batch, clips, *rest)`.

    Args:
        clips: number of clips per window.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: `(batch * clips, ...)`.

    Returns:
        `(batch, clips, ...)`.

    Example:

    >>> features = keras.ops.zeros((8, 1024))
    >>> tuple(UnfoldClips(clips=4)(features).shape)
    (2, 4, 1024)
    """

    def __init__(self, clips, **kwargs):
        super().__init__(**kwargs)
        self.clips = int(clips)

    def call(self, inputs):
        rest = tuple(inputs.shape[1:])
        if any(size is None for size in rest):
            raise ValueError(
                f"UnfoldClips needs every axis but the first to be known. Received: shape={tuple(inputs.shape)}"
            )
        return ops.reshape(inputs, (-1, self.clips) + rest)

    def compute_output_shape(self, inputs_shape):
        batch = inputs_shape[0]
        return (
            None if batch is None else batch // self.clips,
            self.clips,
        ) + tuple(inputs_shape[1:])

    def get_config(self):
        config = super().get_config()
        config.update({"clips": self.clips})
        return config
