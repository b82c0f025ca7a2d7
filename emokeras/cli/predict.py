"""`emokeras predict`: per-frame predictions for a recording, as a CSV and a plot."""

import argparse
import json
import sys

from emokeras.cli.arguments import default_of
from emokeras.cli.arguments import given
from emokeras.serving.names import DEFAULT_MODEL_NAME


def add_parser(commands, name, summary):
    from emokeras.prediction import predict_video

    parser = commands.add_parser(
        name,
        help=summary,
        description=(
            "Decode a video of a face, crop the face, cut windows, predict them with "
            "a saved model or a TF Serving server, and stitch the clip predictions "
            "into one per-frame series over the whole video (any length; frames are "
            "streamed). Windows, rates, crop size and face cropping follow the model's "
            "data contract. Writes <video>_predictions.csv and .png."
        ),
        epilog=(
            "examples:\n  emokeras predict talk.mp4 --model runs/demo/model.keras --out predictions\n"
            "  emokeras predict talk.mp4 --server http://localhost:8501 --out predictions\n"
            "  emokeras predict talk.mp4 --server localhost:8500 --labels talk.csv"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("video")
    parser.add_argument("--model", help="a saved AVEmotionRegressor (.keras)")
    parser.add_argument("--server", help="TF Serving: http(s)://host:8501 (REST) or host:8500 (gRPC)")
    parser.add_argument("--model-name", help=f"the served model's name (default: {DEFAULT_MODEL_NAME})")
    parser.add_argument("--audio", help="a separate audio file (default: the video's track)")
    parser.add_argument("--video-frame-rate", type=float, help="frame rate of VIDEO when it is a folder of images")
    parser.add_argument("--labels", help="a per-frame label CSV to plot as ground truth")
    parser.add_argument("--out", default=".", help="output folder (default: the current one)")
    parser.add_argument("--stride", type=int, help="frames between windows (default: one clip)")
    parser.add_argument(
        "--batch-size", type=int, help=f"windows per call (default: {default_of(predict_video, 'batch_size')})"
    )
    parser.add_argument(
        "--face-crop",
        action=argparse.BooleanOptionalAction,
        help="detect and crop the face, or not (--no-face-crop: the video is already a face crop); "
        "default: as the model's training data",
    )
    parser.add_argument(
        "--face-side", choices=("left", "right"), help="two people in the video: crop the face on this side"
    )
    parser.add_argument(
        "--attention-maps",
        action="store_true",
        help="also plot the cross-attention maps (mean over windows; local cross-attention model)",
    )
    parser.set_defaults(run=run)


def run(args):
    from emokeras.models.av_emotion_regressor import geometry_of_contract
    from emokeras.prediction import predict_video_to_files

    if bool(args.model) == bool(args.server):
        print("emokeras predict: give --model MODEL.keras or --server URL (one of them)", file=sys.stderr)
        return 2
    if args.attention_maps and not args.model:
        print("emokeras predict: --attention-maps needs --model (a local cross-attention model)", file=sys.stderr)
        return 2
    if args.model:
        from emokeras.prediction import LocalPredictor
        from emokeras.saving import load_model

        predictor = LocalPredictor(load_model(args.model, compile=False), attention_maps=args.attention_maps)
    else:
        from emokeras.prediction import ServerPredictor

        predictor = ServerPredictor(args.server, **given(args, "model_name"))
    options = given(args, "audio", "batch_size", "face_crop", "face_side", "video_frame_rate")
    if args.stride:
        options["windows"] = geometry_of_contract(predictor.contract, stride=args.stride)
    times, paths = predict_video_to_files(args.video, predictor, args.out, labels=args.labels, **options)
    print(f"{len(times)} frames ({times[-1]:.1f} s) predicted")
    if "utterance" in paths:
        # Trained on one value per recording: the recording's value.
        values = json.loads(paths["utterance"].read_text())
        print("  utterance (mean over its frames): " + ", ".join(f"{t} {v:.3f}" for t, v in values.items()))
    for name, path in paths.items():
        print(f"  {name}: {path}")
    return 0
