"""Reading media: audio decoding (PyAV)."""

from emokeras.data.audio import load_audio

__all__ = ["load_audio"]
