import keras
from keras import ops

from emokeras.layers.correlation_attention_base import CorrelationAttentionBase
from emokeras.layers.correlation_attention_ops import bilinear_correlation
from emokeras.layers.correlation_attention_ops import column_softmax_attend


@keras.saving.register_keras_serializable(package="emokeras")
class CrossAttention(CorrelationAttentionBase):
    """Cross-correlation attention between an audio and a visual sequence.

    The fusion layer of Praveen et al., "Cross Attentional Audio-Visual Fusion
    for Dimensional Emotion Recognition" (FG 2021), equations (1)-(4). With the
    `L` time steps of each modality stacked as the columns of `X_a`,
    `X_v` (`K x L`):

    ```
    Z     = X_a^T W X_v                      (L x L)
    A_a   = softmax over each column of Z
    A_v   = softmax over each column of Z^T
    X_att,a = tanh(X_a + X_a A_a)
    X_att,v = tanh(X_v + X_v A_v)
    ```

    Each audio step is thus re-expressed through the audio steps that
    correlate best with a given visual step, and vice versa. The layer works
    batch-major: inputs and outputs are `(batch, L, K)`, i.e. the transpose of
    the paper's matrices. Its only weight is `kernel`, the paper's `W`.

    Args:
        kernel_initializer: initializer of `kernel` (`(K, K)`). Defaults to
            `"glorot_normal"` (Xavier normal, as the authors' code).
        kernel_regularizer: optional regularizer of `kernel`.
        kernel_constraint: optional constraint of `kernel`.
        **kwargs: base layer arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        audio: `(batch, L, K)` audio features.
        visual: `(batch, L, K)` visual features of the same time steps.
        mask: optional boolean `(batch, L)`; `False` marks padded time steps.
            Padded steps receive no attention weight, so the outputs at valid
            steps do not depend on the values at padded ones. Outputs at padded
            steps are `tanh(X)` (nothing attended).
        return_attention_scores: if `True`, also return `(A_a, A_v)`.

    Returns:
        `(attended_audio, attended_visual)`, each `(batch, L, K)`; with
        `return_attention_scores=True`, `(attended_audio, attended_visual,
        A_a, A_v)`, each `A` of shape `(batch, L, L)` in the paper's
        orientation: `A_a[b, i, j]` is the weight of audio step `i` in the
        attended audio at step `j`, so every valid column sums to one
        (`axis=-2`).

    Example:

    >>> audio = keras.random.normal((2, 8, 64))
    >>> visual = keras.random.normal((2, 8, 64))
    >>> attended_audio, attended_visual = CrossAttention()(audio, visual)
    >>> tuple(attended_audio.shape)
    (2, 8, 64)
    """

    def build(self, audio_shape, visual_shape):
        _check_matching_shapes(audio_shape, visual_shape)
        features = audio_shape[-1]
        if features is None:
            raise ValueError(
                "CrossAttention needs a known feature size K (last axis). "
                f"Received: audio_shape={tuple(audio_shape)}, "
                f"visual_shape={tuple(visual_shape)}"
            )
        self.add_correlation_kernel(features)

    def call(self, audio, visual, mask=None, return_attention_scores=False):
        _check_matching_shapes(audio.shape, visual.shape)
        correlation = bilinear_correlation(audio, visual, self.kernel)
        attended_audio, audio_attention = column_softmax_attend(correlation, audio, mask)
        attended_visual, visual_attention = column_softmax_attend(ops.transpose(correlation, (0, 2, 1)), visual, mask)
        outputs = (
            ops.tanh(audio + attended_audio),
            ops.tanh(visual + attended_visual),
        )
        if return_attention_scores:
            return outputs + (audio_attention, visual_attention)
        return outputs

    def compute_mask(self, audio, previous_mask=None):
        # Both attended outputs keep the time mask of the inputs.
        if previous_mask is None:
            return None
        return previous_mask, previous_mask

    def compute_output_shape(self, audio_shape, visual_shape):
        _check_matching_shapes(audio_shape, visual_shape)
        return tuple(audio_shape), tuple(visual_shape)

    def compute_output_spec(self, audio, visual, mask=None, return_attention_scores=False):
        audio_shape, visual_shape = self.compute_output_shape(audio.shape, visual.shape)
        outputs = (
            keras.KerasTensor(audio_shape, dtype=self.compute_dtype),
            keras.KerasTensor(visual_shape, dtype=self.compute_dtype),
        )
        if return_attention_scores:
            batch, steps = audio_shape[0], audio_shape[1]
            scores = keras.KerasTensor((batch, steps, steps), dtype=self.compute_dtype)
            outputs += (scores, scores)
        return outputs


def _check_matching_shapes(audio_shape, visual_shape):
    audio_shape, visual_shape = tuple(audio_shape), tuple(visual_shape)
    if len(audio_shape) != 3 or len(visual_shape) != 3:
        raise ValueError(
            "CrossAttention expects audio and visual of rank 3, "
            "(batch, L time steps, K features). "
            f"Received: audio shape={audio_shape}, visual shape={visual_shape}"
        )
    for axis, what in ((1, "time steps L"), (2, "features K")):
        a, v = audio_shape[axis], visual_shape[axis]
        if a is not None and v is not None and a != v:
            raise ValueError(
                f"CrossAttention needs the same number of {what} in both "
                f"modalities. Received: audio shape={audio_shape}, "
                f"visual shape={visual_shape}. Project one modality (e.g. "
                "with a Dense layer) or resample it so that they match."
            )
