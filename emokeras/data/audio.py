"""Audio decoding with PyAV (FFmpeg inside its wheels; see the README for why
not tensorflow-io)."""

import os

import av
import numpy as np


def load_audio(path, sample_rate=16000):
    """Decodes the first audio stream of a media file to mono float32.

    Any container and codec FFmpeg reads (wav, mp3, aac, flv, mp4, ...); any
    channel count is mixed down and any rate resampled to `sample_rate`.

    Args:
        path: the media file.
        sample_rate: output rate in Hz.

    Returns:
        A float32 NumPy array `(samples,)` in [-1, 1].

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: the file cannot be decoded or has no audio stream; the
            message names the file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such media file: {path}")
    try:
        container = av.open(path)
    except av.error.FFmpegError as error:
        raise ValueError(
            f"Cannot read {path}: {error}. Check that it is a complete media "
            "file (re-encode or re-download it)."
        ) from error
    with container:
        if not container.streams.audio:
            raise ValueError(
                f"{path} has no audio stream. Give the audio as a separate "
                "file, or use a recording with sound."
            )
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks = []
        try:
            for frame in container.decode(container.streams.audio[0]):
                for resampled in resampler.resample(frame):
                    chunks.append(resampled.to_ndarray().reshape(-1))
            for resampled in resampler.resample(None):
                chunks.append(resampled.to_ndarray().reshape(-1))
        except av.error.FFmpegError as error:
            raise ValueError(
                f"Decoding the audio of {path} failed: {error}. The file may "
                "be truncated or corrupt."
            ) from error
    if not chunks:
        return np.zeros((0,), np.float32)
    return np.concatenate(chunks).astype(np.float32, copy=False)
