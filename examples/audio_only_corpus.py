"""An audio-only, utterance-level corpus (MSP-Podcast) end to end: the
corpus reader, `prepare`, an `audio_only` model trained with `model.fit`
on one 1-7 rating per utterance, utterance-level evaluation and a
prediction for one file, all in the corpus's own units.

    python examples/audio_only_corpus.py --root MSP-PODCAST   # a real MSP-Podcast tree
    python examples/audio_only_corpus.py                      # writes an MSP-Podcast-shaped corpus first
    python examples/audio_only_corpus.py --fast               # a smoke run (CI)

The MSP-Podcast-shaped corpus cuts the built-in synthetic recordings into
2-4 s utterances: their voice tracks as `Audios/*.wav`, each utterance's
mean arousal and valence mapped onto 1-7 in `Labels/labels_consensus.csv`,
one synthetic speaker per recording, split by speaker.
"""

import argparse
import csv
import pathlib
import tempfile

import av
import keras
import numpy as np

import emokeras  # noqa: F401  (before Keras: its faster CPU kernels, see README Performance)
from emokeras.data import load_audio
from emokeras.data import make_dataset
from emokeras.data import prepare_recordings
from emokeras.data.corpora import read_corpus
from emokeras.data.synthetic_corpus import write_synthetic_corpus
from emokeras.evaluation.evaluate import evaluate_model
from emokeras.evaluation.evaluate import format_table
from emokeras.losses import ConcordanceCorrelationLoss
from emokeras.metrics import ConcordanceCorrelation
from emokeras.models import AVEmotionRegressor
from emokeras.prediction import LocalPredictor
from emokeras.prediction import predict_video

SAMPLE_RATE = 16000
SPLIT_SETS = {"train": "Train", "dev": "Development", "test": "Test1"}


def write_wav(path, samples, sample_rate=SAMPLE_RATE):
    """Mono float samples -> a 16-bit PCM WAV file (PyAV)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=sample_rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(
            (np.clip(samples, -1, 1) * 32767).astype(np.int16)[None], format="s16", layout="mono"
        )
        frame.sample_rate = sample_rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_msp_shaped_corpus(root, speakers, seconds, seed=0):
    """Synthetic recordings -> `Audios/*.wav` utterances and
    `Labels/labels_consensus.csv` in MSP-Podcast's layout."""
    synth = root / "synth"
    manifest = write_synthetic_corpus(synth, recordings=speakers, seconds=seconds, seed=seed, image_size=32)
    (root / "Audios").mkdir(parents=True, exist_ok=True)
    (root / "Labels").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    with open(manifest, newline="") as file:
        for speaker, recording in enumerate(csv.DictReader(file)):
            audio = load_audio(synth / recording["video"], SAMPLE_RATE)
            labels = np.genfromtxt(synth / recording["labels"], delimiter=",", names=True)
            start = 0.0
            while start + 2.0 <= seconds:
                length = min(rng.uniform(2.0, 4.0), seconds - start)
                name = f"MSP-PODCAST_{speaker:04d}_{int(start * 100):05d}"
                write_wav(
                    root / "Audios" / f"{name}.wav",
                    audio[int(start * SAMPLE_RATE) : int((start + length) * SAMPLE_RATE)],
                )
                inside = (labels["time"] >= start) & (labels["time"] < start + length)
                # [-1, 1] latents onto the corpus's 1-7 scale.
                arousal, valence = (4 + 3 * labels[t][inside].mean() for t in ("arousal", "valence"))
                rows.append(
                    [
                        f"{name}.wav",
                        "N",
                        f"{arousal:.3f}",
                        f"{valence:.3f}",
                        f"{4 + 0.5 * (arousal - 4):.3f}",  # dominance: half arousal's swing
                        speaker,
                        "Female",
                        SPLIT_SETS[recording["split"]],
                    ]
                )
                start += length
    with open(root / "Labels" / "labels_consensus.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender", "Split_Set"])
        writer.writerows(rows)
    return root


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="an MSP-Podcast tree (default: write an MSP-Podcast-shaped one)")
    parser.add_argument("--fast", action="store_true", help="tiny smoke run")
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args(argv)
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="emokeras_audio_only_"))
    root = args.root or write_msp_shaped_corpus(
        workdir / "msp", speakers=5 if args.fast else 10, seconds=12 if args.fast else 40
    )

    # The reader knows the layout, the 1-7 scale and the official splits.
    corpus = read_corpus("msp-podcast", root)
    print(f"{len(corpus.recordings)} utterances; {corpus.split_rule}")
    keras.utils.set_random_seed(0)
    # The heads span the corpus's 1-7 scale: predictions come out in its units.
    model = AVEmotionRegressor(
        fusion="audio_only",
        targets=corpus.targets,
        target_ranges=corpus.target_ranges,
        clips=4,
        frames_per_clip=16,
        audio_filters=(16, 32, 32, 64, 128),
        head_units=(32,),
        training_data={"unit": corpus.unit},
    )
    prepared = workdir / "prepared"
    prepare_recordings(
        corpus.recordings,
        prepared,
        frame_rate=model.frame_rate,
        sample_rate=model.sample_rate,
        image_size=model.image_size,
        progress=False,
        **corpus.prepare_options(),
    )
    # Utterances of 2-4 s fill one 2.56 s window, or one and a padded one;
    # every valid clip learns the utterance's rating.
    windows = model.window_geometry()
    train = make_dataset(prepared, "train", windows=windows, batch_size=8, modalities=("audio",))
    dev = make_dataset(prepared, "dev", windows=windows, mode="eval", batch_size=8, modalities=("audio",))
    dev = dev.map(lambda x, y, info: (x, y, info["weights"]))
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss={t: ConcordanceCorrelationLoss() for t in corpus.targets},
        weighted_metrics={t: [ConcordanceCorrelation(name="ccc")] for t in corpus.targets},
    )
    model.fit(train, validation_data=dev, epochs=1 if args.fast else args.epochs, verbose=2)

    # One prediction per utterance (the mean over its real frames), scored
    # over the test utterances.
    report = evaluate_model(model, prepared)
    print(format_table(report))
    first = next(r for r in corpus.recordings if r.split == "test")
    _, per_frame = predict_video(first.audio, LocalPredictor(model), progress=False)
    values = ", ".join(f"{t} {float(np.mean(v)):.2f}" for t, v in per_frame.items())
    print(f"{pathlib.Path(first.audio).name}: {values} (1-7)")
    return report


if __name__ == "__main__":
    main()
