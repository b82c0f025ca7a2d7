"""In-memory toy windows whose targets need both modalities, for examples
and tests (the file-based synthetic corpus is separate)."""

import numpy as np


def make_toy_windows(
    count,
    clips=2,
    frames_per_clip=8,
    image_size=16,
    frame_rate=25,
    sample_rate=16000,
    seed=0,
):
    """Random windows of face-like video and tone-like audio with known targets.

    Every clip has a visual latent `v` in [-1, 1], shown as the brightness of
    the frames (plus pixel noise), and an audio latent `a` in [-1, 1], heard
    as the pitch of a tone (141 to 1131 Hz, plus noise; pitch rather than
    loudness, which the log-mel standardisation removes). The targets mix
    both: `valence = 0.5 v + 0.3 a`, `arousal = 0.3 v + 0.5 a`, so neither
    modality alone predicts them well.

    Args:
        count: number of windows.
        clips: clips per window.
        frames_per_clip: frames per clip.
        image_size: frame height and width.
        frame_rate: frames per second.
        sample_rate: audio samples per second.
        seed: random seed.

    Returns:
        `(inputs, targets, latents)`: `inputs` `{"video": uint8 (count,
        clips * frames_per_clip, image_size, image_size, 3), "audio": float32
        (count, clips * samples_per_clip)}`, `targets` `{"valence",
        "arousal"}` float32 `(count, clips)`, `latents` `{"visual",
        "audio"}` `(count, clips)`.
    """
    rng = np.random.default_rng(seed)
    clip_samples = frames_per_clip * sample_rate // frame_rate
    visual = rng.uniform(-1, 1, (count, clips))
    audio_latent = rng.uniform(-1, 1, (count, clips))
    brightness = 128 + 90 * visual
    video = brightness[:, :, None, None, None, None] + rng.normal(
        0, 20, (count, clips, frames_per_clip, image_size, image_size, 3)
    )
    video = np.clip(video, 0, 255).astype(np.uint8)
    time = np.arange(clip_samples) / sample_rate
    pitch = 400 * 2 ** (1.5 * audio_latent)
    phase = rng.uniform(0, 2 * np.pi, (count, clips, 1))
    audio = 0.3 * np.sin(2 * np.pi * pitch[..., None] * time + phase)
    audio += rng.normal(0, 0.02, audio.shape)
    inputs = {
        "video": video.reshape(count, clips * frames_per_clip, image_size, image_size, 3),
        "audio": audio.reshape(count, clips * clip_samples).astype(np.float32),
    }
    targets = {
        "valence": (0.5 * visual + 0.3 * audio_latent).astype(np.float32),
        "arousal": (0.3 * visual + 0.5 * audio_latent).astype(np.float32),
    }
    return inputs, targets, {"visual": visual, "audio": audio_latent}
