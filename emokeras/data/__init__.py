"""Reading media (PyAV), faces, windows, labels, TFRecord shards and
tf.data pipelines."""

from emokeras.data.dataset import make_dataset
from emokeras.data.face_cropper import FaceCropper
from emokeras.data.face_cropper import centre_crop
from emokeras.data.labels import LabelError
from emokeras.data.media import MediaError
from emokeras.data.media import iter_video_frames
from emokeras.data.media import load_audio
from emokeras.data.media import media_info
from emokeras.data.prepare import PrepareError
from emokeras.data.prepare import prepare_recordings
from emokeras.data.recording import Recording
from emokeras.data.recording import read_manifest
from emokeras.data.recording import recola_recordings
from emokeras.data.toy_windows import make_toy_windows
from emokeras.data.window import Window
from emokeras.data.window_geometry import WindowGeometry

__all__ = [
    "FaceCropper",
    "LabelError",
    "MediaError",
    "PrepareError",
    "Recording",
    "Window",
    "WindowGeometry",
    "centre_crop",
    "iter_video_frames",
    "load_audio",
    "make_dataset",
    "make_toy_windows",
    "media_info",
    "prepare_recordings",
    "read_manifest",
    "recola_recordings",
]
