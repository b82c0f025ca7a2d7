import keras
from keras import ops

from emokeras.layers.correlation_attention_base import CorrelationAttentionBase
from emokeras.layers.correlation_attention_ops import bilinear_correlation
from emokeras.layers.correlation_attention_ops import column_softmax_attend


@keras.saving.register_keras_serializable(package="emokeras")
class SelfAttention(CorrelationAttentionBase):
    """Correlation self-attention over one sequence (the paper's ablation).

    The "I3D + self-attention" row of Praveen et al. (FG 2021), Table 1: the
    same arithmetic as `CrossAttention`, with one sequence (in the paper, the
    concatenated audio-visual features) attending to itself:
    `Z = X^T W X`, `A` = softmax over each column of `Z`,
    output `tanh(X + X A)`.

    Args:
        kernel_initializer: initializer of `kernel` (`(D, D)`).
        kernel_regularizer: optional regularizer of `kernel`.
        kernel_constraint: optional constraint of `kernel`.
        **kwargs: base layer arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        inputs: `(batch, L, D)`.
        mask: optional boolean `(batch, L)`; `False` marks padded steps.
        return_attention_scores: if `True`, also return `A`.

    Returns:
        `(batch, L, D)`, and `A` of shape `(batch, L, L)` (columns sum to one)
        when `return_attention_scores=True`.

    Example:

    >>> features = keras.random.normal((2, 8, 32))
    >>> tuple(SelfAttention()(features).shape)
    (2, 8, 32)
    """

    def build(self, inputs_shape):
        if len(inputs_shape) != 3 or inputs_shape[-1] is None:
            raise ValueError(
                f"SelfAttention expects (batch, L, D) with a known D. Received: inputs shape={tuple(inputs_shape)}"
            )
        features = inputs_shape[-1]
        self.add_correlation_kernel(features)

    def call(self, inputs, mask=None, return_attention_scores=False):
        correlation = bilinear_correlation(inputs, inputs, self.kernel)
        attended, attention = column_softmax_attend(correlation, inputs, mask)
        outputs = ops.tanh(inputs + attended)
        if return_attention_scores:
            return outputs, attention
        return outputs

    def compute_mask(self, inputs, previous_mask=None):
        # The output keeps the time mask of the input.
        return previous_mask

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape)

    def compute_output_spec(self, inputs, mask=None, return_attention_scores=False):
        outputs = keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        if return_attention_scores:
            batch, steps = inputs.shape[0], inputs.shape[1]
            scores = keras.KerasTensor((batch, steps, steps), dtype=self.compute_dtype)
            return outputs, scores
        return outputs
