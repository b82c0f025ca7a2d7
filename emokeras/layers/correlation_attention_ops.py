"""The attention arithmetic shared by `CrossAttention` and `SelfAttention`.

Both layers follow Praveen et al. (FG 2021): a bilinear correlation matrix
`Z = X_1^T W X_2` between two feature sequences, a softmax over each column,
and an attended sequence `X_1 A`. The functions here work on batch-major
tensors `(batch, L, K)`, so the paper's `K x L` matrix `X` is our `x[b].T`.
"""

from keras import ops


def bilinear_correlation(rows, columns, kernel):
    """Returns `Z[b] = rows[b] @ kernel @ columns[b]^T`, shape `(batch, L, L)`.

    In the paper's notation `Z = X_rows^T W X_columns`: entry `(i, j)`
    correlates step `i` of `rows` with step `j` of `columns`.
    """
    return ops.einsum("bik,kl,bjl->bij", rows, kernel, columns)


def column_softmax_attend(scores, values, mask=None):
    """Softmax over each column of `scores`, then `X_values A`.

    Args:
        scores: `(batch, L, L)`; column `j` holds the scores of every step `i`
            of `values` for output step `j`.
        values: `(batch, L, K)`, the sequence being attended (the paper's
            `X`, transposed).
        mask: optional boolean `(batch, L)`; `False` marks padded steps.
            Padded steps receive no attention weight, and padded output steps
            attend to nothing (their column of `A` is zero).

    Returns:
        `(attended, attention)`: `attended[b, j] = sum_i A[b, i, j] values[b, i]`
        with shape `(batch, L, K)`, and `A` with shape `(batch, L, L)` whose
        valid columns sum to one (the paper's orientation).
    """
    # The softmax runs in float32 so that the masking constant and the
    # normalisation stay exact under mixed precision.
    scores = ops.cast(scores, "float32")
    if mask is not None:
        mask = ops.cast(mask, "bool")
        key_is_valid = mask[:, :, None]
        scores = ops.where(key_is_valid, scores, -1e9)
    attention = ops.softmax(scores, axis=-2)
    if mask is not None:
        # Exact zeros: padded keys, and whole columns of padded queries (a
        # column of only padded keys would otherwise be uniform).
        valid_pairs = ops.logical_and(key_is_valid, mask[:, None, :])
        attention = ops.where(valid_pairs, attention, 0.0)
    attention = ops.cast(attention, values.dtype)
    attended = ops.einsum("bij,bik->bjk", attention, values)
    return attended, attention
