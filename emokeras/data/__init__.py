"""Reading media (PyAV) and toy in-memory data."""

from emokeras.data.audio import load_audio
from emokeras.data.toy_windows import make_toy_windows

__all__ = ["load_audio", "make_toy_windows"]
