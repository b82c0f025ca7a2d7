import keras
from keras import ops

from emokeras.metrics.ccc import sum_over_replicas


def loss_by_presence_case(loss_with, inputs, sample_weight, predictions):
    """The training loss of a model that takes presence marks, computed for
    each case apart (both modalities, the face only, the voice only) and
    summed, each case weighted by its share of the weighted clips.

    Why: the paper's loss is one CCC over the whole batch. A model with a
    head per case could then raise that CCC's variance term for free by
    moving each head's mean apart, which pushed a head into the saturated
    ends of its tanh, where it stopped learning. Within one case, a head's
    mean is only a cost.

    Args:
        loss_with: `function(predictions, sample_weight) -> scalar`, the
            model's compiled loss on other predictions and weights (e.g.
            `lambda p, w: super().compute_loss(x, y, p, w)`); a CCC of no
            weighted element is 0, not NaN (`emokeras.metrics.ccc`).
        inputs: the model's input dict; without `"visual_present"` /
            `"audio_present"` every clip has both modalities.
        sample_weight: the batch's `(batch, L)` sample weights, or a dict of
            them per target.
        predictions: a tuple of three output structures, what the model
            predicts for every clip from both modalities, from the face
            alone and from the voice alone: each is scored on every clip
            that has what it needs (a complete clip counts in all three
            cases, as if it had lost either modality); or the model's
            outputs, each clip scored in the one case it is in. A clip with
            neither modality is in no case (it is not a prediction).

    Returns:
        The scalar loss. Under a distribution strategy the shares are those
        of the global batch, like the CCC itself.
    """
    if isinstance(inputs, dict) and "visual_present" in inputs and "audio_present" in inputs:
        face = ops.cast(ops.cast(inputs["visual_present"], "int32") > 0, "float32")
        voice = ops.cast(ops.cast(inputs["audio_present"], "int32") > 0, "float32")
    else:
        face = voice = ops.ones(ops.shape(keras.tree.flatten(sample_weight)[0])[:2], "float32")
    if isinstance(predictions, tuple):
        cases = tuple(zip(predictions, (face * voice, face, voice)))
    else:
        cases = tuple((predictions, case) for case in (face * voice, face * (1.0 - voice), (1.0 - face) * voice))

    def weighted_clips(case):
        return sum(ops.sum(ops.cast(weight, "float32") * case) for weight in keras.tree.flatten(sample_weight))

    counts = sum_over_replicas(tuple(weighted_clips(case) for _, case in cases))
    total = ops.maximum(counts[0] + counts[1] + counts[2], 1e-12)
    loss = 0.0
    for (case_predictions, case), count in zip(cases, counts):
        case_weights = keras.tree.map_structure(
            lambda weight, case=case: ops.cast(weight, "float32") * case, sample_weight
        )
        loss = loss + count / total * loss_with(case_predictions, case_weights)
    return loss
