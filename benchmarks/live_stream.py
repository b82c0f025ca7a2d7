"""Live prediction (`emokeras stream`), against the stream's own clock (the
baseline: a clip of 0.64 s of media per 0.64 s of wall time), for the
paper's model (8 clips of 16 frames at 224 px, I3D, cross-attention;
random weights: the timing does not depend on them) with face detection,
on a 720p H.264 + AAC video of a real CREMA-D face (looped forwards and
backwards), windows one clip apart:

1. the processing rate as a multiple of real time: the file read as fast
   as it decodes (the reader then waits for the predictions), media seconds
   over wall seconds; each clip encoded once (a local model), and whole
   windows predicted every clip (what a server gets) for comparison;
2. the file streamed at its real-time rate: the delay from a clip's last
   frame (and sound) to its line, median and 95th percentile (over all
   clips, and after the first window, whose clips wait for it to be
   complete), and the share of clips skipped and of lines predicted after
   passing older windows over;
3. where the time goes: seconds per clip of media in decoding, face
   detection, the visual and audio backbones and the fusion, and each
   stage's share.

`--quick`: the tiny model on a 3 s synthetic talk at 32 px.
"""

import pathlib
import tempfile
import time

import av
import numpy as np

from benchmarks.timing import print_table

# The tiny model of the tests (2 clips of 8 frames at 16 px, 1/16 width).
_TINY = dict(
    clips=2,
    frames_per_clip=8,
    image_size=16,
    width_multiplier=1 / 16,
    audio_filters=(4, 8, 8, 16, 64),
    head_units=(16,),
    lstm_units=8,
)
_STAGES = ("decoding", "face_detection", "visual_backbone", "audio_backbone", "fusion", "prediction")


def _talk(path, source, seconds):
    """`source`'s face at 720p (as `face_detection.write_hd_video`) and its
    sound, looped forwards and backwards to `seconds`, as H.264 + AAC."""
    import cv2

    from emokeras.data import iter_video_frames
    from emokeras.data import load_audio

    frames = [frame for _, frame in iter_video_frames(source, frame_rate=25)]
    sound = load_audio(source, 16000)
    width, height = 1280, 720
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "veryfast"}
        audio = container.add_stream("aac", rate=16000)
        audio.layout = "mono"
        index, samples_per_frame = 0, 640
        for k in range(round(seconds * 25)):
            loop, at = divmod(k, len(frames))
            frame_index = at if loop % 2 == 0 else len(frames) - 1 - at
            frame = frames[frame_index]
            scaled = cv2.resize(frame, (round(frame.shape[1] * height / frame.shape[0]), height))
            pad = max(0, width - scaled.shape[1])
            padded = cv2.copyMakeBorder(scaled, 0, 0, pad // 2, pad - pad // 2, cv2.BORDER_REPLICATE)[:, :width]
            for packet in video.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(padded), format="rgb24")):
                container.mux(packet)
            piece = sound[frame_index * samples_per_frame : (frame_index + 1) * samples_per_frame]
            piece = np.pad(piece, (0, samples_per_frame - len(piece)))[None].astype(np.float32)
            chunk = av.AudioFrame.from_ndarray(piece, format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts = 16000, index
            index += samples_per_frame
            for packet in audio.encode(chunk):
                container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode():
                container.mux(packet)
    return path


def _synthetic_talk(folder):
    from emokeras.data.synthetic_corpus import write_synthetic_corpus

    write_synthetic_corpus(folder / "synth", recordings=2, seconds=3, seed=0, image_size=32)
    return sorted((folder / "synth").glob("*.mp4"))[0]


class _WholeWindows:
    """A predictor of whole windows only (as a server is)."""

    def __init__(self, local):
        self.contract, self._local = local.contract, local

    def __call__(self, windows):
        return self._local(windows)


def _run(path, predictor, realtime, face_crop):
    from emokeras.data import media_info
    from emokeras.prediction.live_stream import stream_clip_predictions

    timings = {}
    began = time.perf_counter()
    lines = list(stream_clip_predictions(str(path), predictor, realtime=realtime, face_crop=face_crop, timings=timings))
    # The prediction graphs are built before the stream is opened.
    wall = time.perf_counter() - began - timings["warmup"]
    return lines, wall, media_info(path)["duration"], timings


def run(quick=False, shared_data=None):
    import keras

    from emokeras.models import AVEmotionRegressor
    from emokeras.prediction import LocalPredictor

    face = pathlib.Path(shared_data, "real_media", "crema_d", "1001_DFA_HAP_XX.flv") if shared_data else None
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        if quick or face is None or not face.exists():
            path, settings, label = _synthetic_talk(folder), _TINY, "tiny model, 3 s synthetic talk"
        else:
            path, settings, label = _talk(folder / "talk.mp4", face, 24), {}, "paper model, 24 s 720p CREMA-D face"
        keras.utils.set_random_seed(0)
        model = AVEmotionRegressor(**settings, training_data={"face_crop": True})
        local = LocalPredictor(model)
        rows, stages = [], None
        variants = (("each clip encoded once", local, None), ("whole windows", _WholeWindows(local), 8))
        for name, predictor, seconds in variants:
            source = path if seconds is None or quick else _talk(folder / "short.mp4", face, seconds)
            lines, wall, duration, timings = _run(source, predictor, realtime=False, face_crop=True)
            rows.append({"prediction": name, "media s": duration, "wall s": wall, "x real time": duration / wall})
            if stages is None:
                stages = (timings, len(lines))
        print_table(f"Live stream, processing rate ({label}; 2 cores here: read it as a ratio)", rows)

        lines, wall, duration, _ = _run(path, local, realtime=True, face_crop=True)
        predicted = [line for line in lines if not line.get("skipped")]
        delays = np.array([line["delay"] for line in predicted])
        # The clips of the first window wait for it to be complete.
        first_window = model.clips * model.frames_per_clip / model.frame_rate
        steady = np.array([line["delay"] for line in predicted if line["start"] >= first_window])
        print_table(
            f"Live stream at real-time rate ({label})",
            [
                {
                    "clips": len(lines),
                    "delay median s": float(np.median(delays)),
                    "delay p95 s": float(np.percentile(delays, 95)),
                    "after the first window: median s": float(np.median(steady)),
                    "p95 s": float(np.percentile(steady, 95)),
                    "clip length s": float(lines[0]["end"] - lines[0]["start"]),
                    "clips skipped": (len(lines) - len(predicted)) / len(lines),
                    # Lines of a window predicted after passing older ones over.
                    "lines after a pass-over": float(np.mean([line["windows_skipped"] > 0 for line in predicted])),
                }
            ],
        )
        timings, clips = stages
        total = sum(timings.get(stage, 0.0) for stage in _STAGES)
        print_table(
            f"Live stream, time per clip of media by stage ({label}, file read at full speed)",
            [
                {"stage": stage, "ms per clip": 1000 * timings[stage] / clips, "share": timings[stage] / total}
                for stage in _STAGES
                if timings.get(stage)
            ],
        )
