"""Data pipeline throughput, each against a baseline in the same run:

1. decode + face crop + resize (what `prepare` does per frame) vs PyAV
   decode-only, frames per second, on the same files;
2. `make_dataset` windows per second vs the windows per second one training
   step of the model consumes.
"""

import pathlib
import tempfile
import time

import av

from benchmarks.timing import median_seconds
from benchmarks.timing import print_table


def _decode_only(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for frame in container.decode(stream) if frame.to_ndarray(format="rgb24") is not None)


def _decode_crop_resize(path, image_size, face_crop):
    from emokeras.data import FaceCropper
    from emokeras.data import centre_crop
    from emokeras.data import iter_video_frames

    cropper = FaceCropper(output_size=image_size)
    count = 0
    for _, frame in iter_video_frames(path, frame_rate=25):
        cropper.crop(frame) if face_crop else centre_crop(frame, image_size)
        count += 1
    return count


def frame_rates(files, image_size=224, face_crop=True, repeats=3):
    rows = []
    for path in files:
        decoded = _decode_only(path)
        baseline = median_seconds(lambda: _decode_only(path), repeats=repeats)
        produced = _decode_crop_resize(path, image_size, face_crop)
        ours = median_seconds(lambda: _decode_crop_resize(path, image_size, face_crop), repeats=repeats)
        rows.append(
            {
                "file": pathlib.Path(path).name,
                "PyAV decode fps": decoded / baseline,
                "decode+crop+resize fps": produced / ours,
                "ratio": (produced / ours) / (decoded / baseline),
            }
        )
    return rows


def pipeline_vs_training(quick):

    from emokeras.data import WindowGeometry
    from emokeras.data import make_dataset
    from emokeras.data import prepare_recordings
    from emokeras.data import read_manifest
    from emokeras.data.synthetic_corpus import write_synthetic_corpus
    from emokeras.losses import ConcordanceCorrelationLoss
    from emokeras.models import build_av_model

    size = 112 if quick else 224
    model_kwargs = (
        dict(clips=2, frames_per_clip=16, image_size=size, width_multiplier=1 / 8, audio_filters=(8, 16, 32, 64, 128))
        if quick
        # The paper's model; I3D frozen, as in its fusion stage (TensorFlow's
        # CPU gradient of I3D's 7x7x7 stem alone would take minutes a step).
        else dict(clips=8, frames_per_clip=16, image_size=size, freeze_visual_backbone=True)
    )
    batch_size = 4 if quick else 2
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        manifest = write_synthetic_corpus(folder / "synth", recordings=2, seconds=8 if quick else 20, image_size=112)
        prepare_recordings(
            read_manifest(manifest),
            folder / "prepared",
            frame_rate=25,
            sample_rate=16000,
            image_size=size,
            face_crop=False,
            min_frames=model_kwargs["clips"] * 16,
            progress=False,
            workers=1,
        )
        windows = WindowGeometry(
            clips=model_kwargs["clips"], frames_per_clip=16, frame_rate=25, sample_rate=16000, stride=4
        )
        dataset = make_dataset(folder / "prepared", "train", windows=windows, batch_size=batch_size).repeat()
        iterator = iter(dataset)
        next(iterator)
        batches = 5 if quick else 20
        start = time.perf_counter()
        for _ in range(batches):
            next(iterator)
        pipeline = batches * batch_size / (time.perf_counter() - start)

        model = build_av_model(**model_kwargs)
        model.compile(optimizer="adam", loss=ConcordanceCorrelationLoss())
        inputs, targets, _ = next(iterator)
        model.train_on_batch(inputs, targets)  # builds and traces
        step = median_seconds(lambda: model.train_on_batch(inputs, targets), repeats=3, warmup=0)
        consumed = batch_size / step
    return [
        {
            "model": "tiny (quick)" if quick else "paper (8 x 16, 224 px), I3D frozen",
            "make_dataset windows/s": pipeline,
            "training consumes windows/s": consumed,
            "ratio": pipeline / consumed,
        }
    ]


def run(quick=False, shared_data=None):

    from emokeras.data.synthetic_corpus import write_synthetic_corpus

    files = []
    if shared_data and pathlib.Path(shared_data, "real_media").is_dir():
        files += sorted(pathlib.Path(shared_data, "real_media", "crema_d").glob("*.flv"))[: 1 if quick else 6]
        if not quick:
            files += [pathlib.Path(shared_data, "real_media", "faces", "single_face.mp4")]
    with tempfile.TemporaryDirectory() as folder:
        write_synthetic_corpus(folder, recordings=1, seconds=4 if quick else 20, image_size=224)
        synthetic = sorted(pathlib.Path(folder).glob("*.mp4"))
        rows = frame_rates(files, face_crop=True, repeats=1 if quick else 3)
        rows += frame_rates(synthetic, face_crop=False, repeats=1 if quick else 3)
    print_table(
        "Decode + crop + resize (prepare) vs PyAV decode only, same files, same run "
        "(face detection on real clips, centre crop on the synthetic one)",
        rows,
    )
    print_table("make_dataset vs one training step, same run", pipeline_vs_training(quick))
