"""Whether a modality is really there, per clip: a face the detector found,
sound above a level.

`VOICE_THRESHOLD_DBFS` is the level (RMS over the clip, in dB relative to
samples of full scale 1.0) below which a clip counts as holding no voice:
-50 dBFS is well above digital silence and the noise floor of a quiet room
recorded at ordinary gain (-60 to -70 dBFS), and well below speech at a
normal distance (-35 to -15 dBFS).
"""

import numpy as np

VOICE_THRESHOLD_DBFS = -50.0
# Below any 16-bit signal: the level of digital silence.
SILENCE_DBFS = -120.0


def voice_level_dbfs(samples):
    """RMS level of float samples (full scale 1.0) in dBFS; `SILENCE_DBFS`
    for silence or no samples."""
    samples = np.asarray(samples, np.float64)
    if samples.size == 0:
        return SILENCE_DBFS
    rms = float(np.sqrt(np.mean(samples * samples)))
    return max(SILENCE_DBFS, 20.0 * np.log10(rms)) if rms > 0 else SILENCE_DBFS
