"""Reading media (PyAV), windows, labels, TFRecord shards and tf.data."""

from emokeras.data.media import MediaError
from emokeras.data.media import iter_video_frames
from emokeras.data.media import load_audio
from emokeras.data.media import media_info
from emokeras.data.toy_windows import make_toy_windows

__all__ = [
    "MediaError",
    "iter_video_frames",
    "load_audio",
    "make_toy_windows",
    "media_info",
]
