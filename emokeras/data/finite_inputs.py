"""Non-finite input is an error, never a number: a model given NaN or inf
audio (or features) still returns plausible values, so every entrance that
feeds one checks first."""

import numpy as np

# The float inputs of the models (video is uint8 and cannot be NaN).
FLOAT_INPUTS = ("audio", "visual_features", "audio_features")


def check_finite_inputs(inputs, where, names=None):
    """Raises a ValueError naming the input, the window and `where` (the
    recording, file or request) when a float input holds NaN or inf.

    Args:
        inputs: `{name: (batch, ...) array}`.
        where: what the windows came from, for the message; a string, or a
            sequence with one name per window.
        names: the inputs to check (default: `FLOAT_INPUTS` present).
    """
    for name in names or [n for n in FLOAT_INPUTS if n in inputs]:
        values = np.asarray(inputs[name])
        bad = ~np.isfinite(values.reshape(len(values), -1))
        if bad.any():
            row = int(np.argmax(bad.any(axis=1)))
            source = where if isinstance(where, str) else where[row]
            raise ValueError(
                f"{source}: input `{name}` holds {int(bad.sum())} NaN or inf value(s) (first in window {row}); "
                "a model would return plausible numbers for them. Fix or re-export the source "
                "(e.g. ffmpeg -i in -c:a pcm_s16le out.wav) rather than predicting on it"
            )
