"""Predicting whole videos and live streams: window predictors (in-process
or TF Serving), per-frame stitching, per-clip live lines, CSV and plots."""

from emokeras.prediction.live_stream import stream_clip_predictions
from emokeras.prediction.local_predictor import LocalPredictor
from emokeras.prediction.outputs import plot_attention_maps
from emokeras.prediction.outputs import plot_predictions
from emokeras.prediction.outputs import write_predictions_csv
from emokeras.prediction.server_predictor import ServerPredictor
from emokeras.prediction.video_prediction import predict_video
from emokeras.prediction.video_prediction import predict_video_to_files

__all__ = [
    "LocalPredictor",
    "ServerPredictor",
    "plot_attention_maps",
    "plot_predictions",
    "predict_video",
    "predict_video_to_files",
    "stream_clip_predictions",
    "write_predictions_csv",
]
