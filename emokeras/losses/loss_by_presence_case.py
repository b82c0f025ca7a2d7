import keras
from keras import ops

from emokeras.metrics.ccc import sum_over_replicas


def loss_by_presence_case(loss_with_weights, inputs, sample_weight):
    """The training loss of a model that takes presence marks, computed
    for each case apart (the clips with the face and the voice, with the
    face only, with the voice only) and averaged, each case weighted by its
    share of the batch's weighted clips.

    Why: the paper's loss is one CCC over the whole batch. A model with a
    head per case (`PresenceRouting`) could then raise that CCC's variance
    term for free by moving each head's mean apart, which pushed a head
    into the saturated ends of its tanh, where it stopped learning. Within
    one case, a head's mean is only a cost. A clip with neither modality is
    in no case (it is not a prediction).

    Args:
        loss_with_weights: `function(sample_weight) -> scalar`, the model's
            compiled loss under other sample weights (e.g. `lambda w:
            super().compute_loss(x, y, y_pred, w)`); a CCC of no weighted
            element is 0, not NaN (`emokeras.metrics.ccc`).
        inputs: the model's input dict; without `"visual_present"` /
            `"audio_present"` every clip is complete.
        sample_weight: the batch's sample weights, `(batch, L)` or a dict
            of them per target.

    Returns:
        The scalar loss. Under a distribution strategy the shares are those
        of the global batch, like the CCC itself.
    """
    if not isinstance(inputs, dict) or "visual_present" not in inputs or "audio_present" not in inputs:
        return loss_with_weights(sample_weight)
    face = ops.cast(ops.cast(inputs["visual_present"], "int32") > 0, "float32")
    voice = ops.cast(ops.cast(inputs["audio_present"], "int32") > 0, "float32")
    cases = (face * voice, face * (1.0 - voice), (1.0 - face) * voice)

    def weighted_clips(case):
        return sum(ops.sum(ops.cast(weight, "float32") * case) for weight in keras.tree.flatten(sample_weight))

    counts = sum_over_replicas(tuple(weighted_clips(case) for case in cases))
    total = ops.maximum(counts[0] + counts[1] + counts[2], 1e-12)
    loss = 0.0
    for case, count in zip(cases, counts):
        case_weights = keras.tree.map_structure(
            lambda weight, case=case: ops.cast(weight, "float32") * case, sample_weight
        )
        loss = loss + count / total * loss_with_weights(case_weights)
    return loss
