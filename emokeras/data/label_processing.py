"""The paper's label processing, in TensorFlow ops so that it runs inside
tf.data (and eagerly on NumPy arrays, for evaluation): a median filter, then
a shift by the annotation delay, then one target value per clip."""

import tensorflow as tf


def median_filter(labels, mask, width):
    """Running median of odd `width` over time (axis 0), edges replicated.

    Args:
        labels: `(frames, targets)` float32.
        mask: `(frames, targets)` bool; a frame stays valid only if its
            whole filter window is.
        width: odd window length; 1 returns the inputs.
    """
    if width == 1:
        return labels, mask
    if width < 1 or width % 2 == 0:
        raise ValueError(f"The median filter width must be odd. Received: {width}")
    half = width // 2
    padded = tf.concat([tf.repeat(labels[:1], half, 0), labels, tf.repeat(labels[-1:], half, 0)], 0)
    windows = tf.signal.frame(padded, width, 1, axis=0)  # (frames, width, targets)
    median = tf.sort(windows, axis=1)[:, half]
    padded_mask = tf.concat([tf.repeat(mask[:1], half, 0), mask, tf.repeat(mask[-1:], half, 0)], 0)
    valid = tf.reduce_all(tf.signal.frame(padded_mask, width, 1, axis=0), axis=1)
    return median, valid


def shift_by_delay(labels, mask, delays):
    """Pairs frame `t` with the label annotated `delays[j]` frames later.

    Raters react late; the paper shifts each target's labels back by its
    delay (58 frames for valence, 68 for arousal at 25 fps in the authors'
    code). The last `max(delays)` frames then have no label for some target
    and are cut.

    Returns:
        `(labels, mask, frames)` with `frames = len(labels) - max(delays)`.
    """
    delays = [int(d) for d in delays]
    if min(delays) < 0:
        raise ValueError(f"Annotation delays must be >= 0 frames. Received: {delays}")
    frames = tf.shape(labels)[0] - max(delays)
    shifted = [labels[d : d + frames, j] for j, d in enumerate(delays)]
    shifted_mask = [mask[d : d + frames, j] for j, d in enumerate(delays)]
    return tf.stack(shifted, axis=1), tf.stack(shifted_mask, axis=1), frames


def process_labels(labels, mask, median_width=1, delays=None):
    """Median filter, then delay shift. Returns `(labels, mask, frames)`."""
    labels = tf.convert_to_tensor(labels, tf.float32)
    mask = tf.cast(mask, tf.bool)
    labels, mask = median_filter(labels, mask, median_width)
    delays = [0] * labels.shape[-1] if delays is None else delays
    return shift_by_delay(labels, mask, delays)


def clip_targets(labels, mask, clips):
    """Per-clip targets: the mean of the labelled frames of each clip.

    Args:
        labels: `(clips * frames_per_clip, targets)`.
        mask: same shape, bool.
        clips: number of clips.

    Returns:
        `(targets, weights)`, each `(clips, targets)`: the clip means, and
        the fraction of labelled frames in each clip (the sample weight).
    """
    labels = tf.reshape(labels, [clips, -1, tf.shape(labels)[-1]])
    weights = tf.reshape(tf.cast(mask, tf.float32), tf.shape(labels))
    count = tf.reduce_sum(weights, axis=1)
    means = tf.math.divide_no_nan(tf.reduce_sum(labels * weights, axis=1), count)
    return means, count / tf.cast(tf.shape(labels)[1], tf.float32)
