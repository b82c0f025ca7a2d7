"""`emokeras export`: a trained model as a TF Serving SavedModel version."""

from emokeras.cli.arguments import given
from emokeras.serving.names import DEFAULT_MODEL_NAME


def add_parser(commands, name, summary):
    parser = commands.add_parser(
        name,
        help=summary,
        description=(
            "Write MODEL.keras as a SavedModel at BASE_DIR/VERSION for TensorFlow "
            "Serving: signatures serving_default (uint8 video + float32 audio), "
            "serving_jpeg (JPEG frames as strings + audio), serving_features "
            "(cached clip features) and data_contract (what data the model takes, "
            "as JSON); a unimodal model's signatures take its one modality; float32 "
            "outputs named after the targets; warm-up requests; "
            "published atomically (a server polling BASE_DIR never sees a "
            "half-written version)."
        ),
        epilog="example: emokeras export runs/demo/model.keras --base-dir models/emokeras --version 1",
    )
    parser.add_argument("model", help="a saved AVEmotionRegressor (.keras)")
    parser.add_argument("--base-dir", required=True, help="the folder TF Serving watches")
    parser.add_argument("--version", type=int, required=True)
    parser.add_argument("--model-name", help=f"the name it is served under (default: {DEFAULT_MODEL_NAME})")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing version")
    parser.set_defaults(run=run)


def run(args):
    from emokeras.saving import load_model
    from emokeras.serving import export_saved_model
    from emokeras.serving.export import signature_names

    model = load_model(args.model, compile=False)
    path = export_saved_model(model, args.base_dir, args.version, overwrite=args.overwrite, **given(args, "model_name"))
    signatures = ", ".join(signature_names(model))
    print(
        f"exported {args.model} to {path} (signatures {signatures}); "
        f"serve {args.base_dir} as model '{args.model_name or DEFAULT_MODEL_NAME}'"
    )
    return 0
