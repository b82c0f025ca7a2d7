"""Face detection in `prepare`, against baselines measured in the same run:

1. decode + face crop + JPEG (what `prepare` does per frame, less the
   TFRecord write) vs PyAV decode only, frames per second, on a 720p H.264
   video made from a real CREMA-D clip (its 480x360 frames upscaled to
   960x720 and padded to 1280x720, so the face is real), and on a 720p video
   without a face (the worst case: the whole-frame search on every frame);
   each with `FaceCropper` as it is and with the whole-frame search on every
   frame (`FaceCropper` without its search near the track, i.e. before it);
2. the fraction of frames with a face on the real clips, both ways.
"""

import pathlib
import tempfile

import av
import cv2

from benchmarks.timing import alternating_medians
from benchmarks.timing import print_table

_HD = (1280, 720)


def _whole_frame_cropper(**kwargs):
    """A `FaceCropper` that searches the whole frame on every detector run."""
    from emokeras.data import FaceCropper

    class WholeFrameCropper(FaceCropper):
        def _search_near(self, gray):
            return []

    return WholeFrameCropper(**kwargs)


def _croppers():
    from emokeras.data import FaceCropper

    return {"FaceCropper": FaceCropper, "whole-frame search every frame (before)": _whole_frame_cropper}


def write_hd_video(source, path, max_frames=None, loops=1):
    """`source`'s frames at 25 fps, upscaled to 720 rows (aspect kept) and
    padded to 1280 columns with the border pixels (sources wider than 16:9
    are squeezed), as H.264; `loops` > 1 plays them forwards and backwards
    in turn (no jump). Returns `path`."""
    from emokeras.data import iter_video_frames

    frames = [frame for _, frame in iter_video_frames(source, frame_rate=25, max_frames=max_frames)]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = *_HD, "yuv420p"
        for loop in range(loops):
            for frame in frames[:: -1 if loop % 2 else 1]:
                height, width = frame.shape[:2]
                scaled_width = round(width * _HD[1] / height)
                scaled = cv2.resize(frame, (scaled_width, _HD[1]), interpolation=cv2.INTER_CUBIC)
                pad = max(0, _HD[0] - scaled_width)
                padded = cv2.copyMakeBorder(scaled, 0, 0, pad // 2, pad - pad // 2, cv2.BORDER_REPLICATE)
                padded = cv2.resize(padded, _HD, interpolation=cv2.INTER_AREA) if padded.shape[1] != _HD[0] else padded
                for packet in stream.encode(av.VideoFrame.from_ndarray(padded, format="rgb24")):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _decode_only(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for frame in container.decode(stream) if frame.to_ndarray(format="rgb24") is not None)


def _prepare_frames(path, make_cropper):
    from emokeras.data import iter_video_frames
    from emokeras.data.shard_format import encode_jpeg

    cropper = make_cropper(output_size=224)
    count = 0
    for _, frame in iter_video_frames(path, frame_rate=25):
        encode_jpeg(cropper.crop(frame))
        count += 1
    return count


def speed_rows(videos, repeats):
    rows = []
    for label, path in videos:
        decoded = _decode_only(path)
        for name, make_cropper in _croppers().items():
            produced = _prepare_frames(path, make_cropper)
            baseline, ours = alternating_medians(
                [lambda: _decode_only(path), lambda: _prepare_frames(path, make_cropper)], repeats
            )
            rows.append(
                {
                    "720p video": label,
                    "face cropper": name,
                    "frames": produced,
                    "PyAV decode fps": decoded / baseline,
                    "decode+crop+jpeg fps": produced / ours,
                    "ratio": (produced / ours) / (decoded / baseline),
                }
            )
    return rows


def detection_rows(files):
    from emokeras.data import iter_video_frames

    rows = []
    for path in files:
        frames = [frame for _, frame in iter_video_frames(path, frame_rate=25)]
        row = {"clip": pathlib.Path(path).name, "frames": len(frames)}
        for name, make_cropper in _croppers().items():
            cropper = make_cropper(output_size=224)
            for frame in frames:
                cropper.crop(frame)
            row[f"with a face, {name}"] = cropper.report["frames_with_face"] / len(frames)
        rows.append(row)
    return rows


def run(quick=False, shared_data=None):
    real = pathlib.Path(shared_data, "real_media") if shared_data else None
    have_real = real is not None and real.is_dir()
    clips = []
    if have_real:
        clips = sorted(real.glob("crema_d/*.flv"))[: 1 if quick else 6]
        if not quick:
            clips += [real / "faces" / name for name in ("single_face.mp4", "no_face.mp4", "carphone_no_audio.mp4")]
        clips = [clip for clip in clips if clip.exists()]
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        videos = []
        max_frames = 15 if quick else None
        face = real / "crema_d" / "1001_DFA_HAP_XX.flv" if have_real else None
        if face is not None and face.exists():
            path = write_hd_video(face, folder / "face_720p.mp4", max_frames=max_frames, loops=1 if quick else 4)
            videos.append(("real face (CREMA-D 1001_DFA_HAP, upscaled)", path))
        # The worst case; the quick run times it only without real media.
        if not (quick and videos):
            no_face = real / "faces" / "no_face.mp4" if have_real else None
            if no_face is None or not no_face.exists():
                from emokeras.data.synthetic_corpus import write_synthetic_corpus

                write_synthetic_corpus(folder / "synthetic", recordings=1, seconds=1 if quick else 4, image_size=112)
                no_face = next((folder / "synthetic").glob("*.mp4"))
            path = write_hd_video(no_face, folder / "no_face_720p.mp4", max_frames=max_frames)
            videos.append((f"no face ({no_face.name}, upscaled)", path))
        rows = speed_rows(videos, repeats=1 if quick else 3)
    print_table("Face detection: decode + face crop + JPEG (prepare) vs PyAV decode only, 720p, same run", rows)
    if clips:
        print_table("Face detection: fraction of frames with a face, real clips at 25 fps", detection_rows(clips))
    else:
        print(f"\n(detection rates skipped: no real clips under {shared_data})")
