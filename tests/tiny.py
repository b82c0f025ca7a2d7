"""A tiny configuration of the audio-visual model for fast tests: 2 clips of
8 frames at 16 x 16 px (0.64 s), I3D and audio CNN at 1/16 width."""

import numpy as np

TINY_AV = dict(
    clips=2,
    frames_per_clip=8,
    image_size=16,
    width_multiplier=1 / 16,
    audio_filters=(4, 8, 8, 16, 64),
    head_units=(16,),
    lstm_units=8,
)
FRAMES = TINY_AV["clips"] * TINY_AV["frames_per_clip"]
SAMPLES = TINY_AV["clips"] * 5120  # 8 frames at 25 fps = 0.32 s = 5120 samples


def tiny_window(batch=2, seed=0, valid_frames=FRAMES):
    """Random windows of the tiny model; `valid_frames` real frames each (an
    int, or one per window), the rest padding."""
    rng = np.random.default_rng(seed)
    return {
        "video": rng.integers(0, 256, (batch, FRAMES, 16, 16, 3), dtype=np.uint8),
        "audio": rng.normal(scale=0.1, size=(batch, SAMPLES)).astype("float32"),
        "valid_frames": np.broadcast_to(np.asarray(valid_frames, np.int32), (batch,)).copy(),
    }


# `emokeras train` config keys for a tiny model on `tiny_corpus` (conftest):
# every stage runs in seconds.
TINY_RUN = {
    "clips": 2,
    "frames_per_clip": 8,
    "image_size": 32,
    "width_multiplier": 0.0625,
    "audio_filters": [4, 8, 8, 16, 64],
    "head_units": [16],
    "lstm_units": 8,
    "visual_weights": None,
    "epochs": 6,
    "stage1_epochs": 1,
    "batch_size": 2,
    "learning_rate": 0.003,
    "stage1_learning_rate": 0.001,
    "lr_schedule": "paper",
    "lr_decay_start": 2,
    "median_width": 1,
}
