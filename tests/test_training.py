"""`emokeras train`: configs, the paper schedule, atomic backups, a real
SIGKILL mid-run resumed to the weights of an uninterrupted run, and
MirroredStrategy over two logical CPUs."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from emokeras.training.paper_schedule import paper_learning_rate
from emokeras.training.training_config import PRESETS
from emokeras.training.training_config import load_config
from emokeras.training.training_config import parse_overrides
from tests.tiny import TINY_RUN


def _train_command(corpus, out, *extra):
    return [
        sys.executable,
        "-m",
        "emokeras.cli",
        "train",
        "--config",
        str(corpus / "tiny.yaml"),
        "--data",
        str(corpus / "prepared"),
        "--out",
        str(out),
        *extra,
    ]


def _run(command, **kwargs):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, **kwargs)


def test_presets_files_and_overrides_stack(tmp_path):
    config_file = tmp_path / "run.yaml"
    config_file.write_text("preset: demo\nepochs: 7\nfusion: concat\n")
    config = load_config(config_file, overrides=parse_overrides(["epochs=3", "head_units=[64, 32]"]))
    assert config.image_size == PRESETS["demo"]["image_size"] == 96
    assert config.fusion == "concat"  # from the file
    assert config.epochs == 3  # --set beats the file
    assert config.head_units == [64, 32]
    paper = load_config(preset="paper")
    assert (paper.clips, paper.frames_per_clip, paper.image_size, paper.batch_size) == (8, 16, 224, 16)
    assert paper.learning_rate == 1e-4 and paper.epochs == 60 and paper.median_width == 3
    assert paper.label_delays == {"valence": 58, "arousal": 68}


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"fusion": "sum"}, "'fusion' is 'sum'; allowed values: cross_attention, concat, lstm"),
        ({"epochs": 0}, "'epochs' must be a positive integer"),
        ({"median_width": 2}, "'median_width' must be an odd positive integer"),
        ({"distribution": "tpu"}, "allowed values: none, mirrored, multi_worker"),
        ({"epoch": 3}, "unknown config key(s) ['epoch']"),
    ],
)
def test_bad_config_names_the_key_and_the_allowed_values(overrides, message):
    with pytest.raises(ValueError) as error:
        load_config(overrides=overrides)
    assert message in str(error.value)


def test_config_defaults_come_from_the_signatures_they_configure():
    import inspect

    from emokeras.data import WindowGeometry
    from emokeras.data import make_dataset
    from emokeras.models import AVEmotionRegressor
    from emokeras.training.training_config import MODEL_KEYS
    from emokeras.training.training_config import TrainingConfig

    model_arguments = set(inspect.signature(AVEmotionRegressor.__init__).parameters)
    # Every model argument a run chooses is a config key, and nothing else
    # (`presence_marks` follows from the training key `modality_dropout`).
    chosen_elsewhere = {"self", "targets", "target_ranges", "training_data", "presence_marks", "kwargs"}
    assert set(MODEL_KEYS) == model_arguments - chosen_elsewhere
    assert TrainingConfig(modality_dropout=0.2).model_arguments()["presence_marks"] is True
    assert TrainingConfig().model_arguments()["presence_marks"] is False
    config, model = TrainingConfig(), AVEmotionRegressor.__init__
    defaults = {p.name: p.default for p in inspect.signature(model).parameters.values()}
    departures = {"visual_weights", "freeze_visual_backbone"}  # a run starts from frozen Kinetics I3D
    for key in set(MODEL_KEYS) - departures:
        value = defaults[key]
        assert getattr(config, key) == (list(value) if isinstance(value, tuple) else value), key
    window = {p.name: p.default for p in inspect.signature(WindowGeometry).parameters.values()}
    dataset = {p.name: p.default for p in inspect.signature(make_dataset).parameters.values()}
    assert (config.stride, config.last_window, config.label_delays) == (
        window["stride"],
        window["last_window"],
        window["label_delays"],
    )
    assert (config.median_width, config.batch_size, config.seed, config.modality_dropout) == (
        dataset["median_width"],
        dataset["batch_size"],
        dataset["seed"],
        dataset["modality_dropout"],
    )
    # Presets say only what they change.
    for name, preset in PRESETS.items():
        for key, value in preset.items():
            assert value != getattr(config, key), f"preset {name!r} restates the default of {key!r}"


def test_a_changed_model_default_reaches_help_config_trainer_and_model(tiny_corpus):
    script = (
        "import contextlib, inspect, io, sys\n"
        "from emokeras.models import AVEmotionRegressor\n"
        "init = AVEmotionRegressor.__init__\n"
        "names = [p.name for p in inspect.signature(init).parameters.values() if p.default is not p.empty]\n"
        "defaults = list(init.__defaults__)\n"
        "defaults[names.index('dropout_rate')] = 0.3\n"
        "init.__defaults__ = tuple(defaults)\n"
        "from emokeras.cli import main\n"
        "from emokeras.training import load_config\n"
        "from emokeras.training.trainer import build_model\n"
        "text = io.StringIO()\n"
        "with contextlib.redirect_stdout(text), contextlib.suppress(SystemExit):\n"
        "    main(['train', '--help'])\n"
        "config = load_config(sys.argv[1], overrides={'data': sys.argv[2]})\n"
        "model = build_model(config, ['valence'])\n"
        "layer = model.fusion_regressor.get_layer('valence_dropout')\n"
        "print('help', 'dropout_rate (0.3)' in text.getvalue())\n"
        "print('config', config.dropout_rate, 'model', model.dropout_rate, layer.rate)\n"
    )
    # tiny.yaml sets the model's size, not its dropout.
    assert "dropout_rate" not in TINY_RUN
    result = _run([sys.executable, "-c", script, str(tiny_corpus / "tiny.yaml"), str(tiny_corpus / "prepared")])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "help True" in result.stdout
    assert "config 0.3 model 0.3 0.3" in result.stdout


def test_bad_preset_and_bad_set_syntax():
    with pytest.raises(ValueError, match="unknown preset 'fast'; allowed values: demo, paper"):
        load_config(preset="fast")
    with pytest.raises(ValueError, match="--set takes key=value"):
        parse_overrides(["epochs"])


def test_paper_schedule():
    rates = [paper_learning_rate(epoch) for epoch in range(21)]
    assert rates[:15] == [1e-4] * 15
    np.testing.assert_allclose(rates[15:21], [8e-5, 8e-5, 6.4e-5, 6.4e-5, 5.12e-5, 5.12e-5])


def test_cli_rejects_a_bad_override_with_exit_code_2(tiny_corpus, tmp_path):
    result = _run(_train_command(tiny_corpus, tmp_path / "run", "--set", "fusion=sum"))
    assert result.returncode == 2
    assert "allowed values: cross_attention" in result.stderr


def _weights_of(path):
    from emokeras.saving import load_model

    return load_model(path, compile=False).get_weights()


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_gives_the_uninterrupted_weights(tiny_corpus, tmp_path):
    reference = _run(_train_command(tiny_corpus, tmp_path / "reference"))
    assert reference.returncode == 0, reference.stderr[-3000:]

    out = tmp_path / "killed"
    process = subprocess.Popen(
        _train_command(tiny_corpus, out),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    state = out / "stage2_fusion" / "backup" / "state.json"
    deadline = time.monotonic() + 400
    # Kill once two fusion epochs are backed up, a little into the third.
    while time.monotonic() < deadline and process.poll() is None:
        if state.exists() and json.loads(state.read_text())["epoch"] >= 2:
            time.sleep(0.3)
            break
        time.sleep(0.05)
    assert process.poll() is None, "training ended before it could be killed; make the run longer"
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = json.loads(state.read_text())["epoch"]
    assert 2 <= killed_at < TINY_RUN["epochs"]
    assert not (out / "model.keras").exists()
    # Nothing earlier was lost or torn by the kill.
    assert (out / "stage1_audio" / "model.keras").exists()
    best_record = json.loads((out / "stage2_fusion" / "best.keras.json").read_text())
    assert 1 <= best_record["epoch"] <= killed_at + 1
    _weights_of(out / "stage2_fusion" / "best.keras")
    # The backup the state points to is complete (a kill during the next
    # backup leaves only a temporary beside it).
    backup = out / "stage2_fusion" / "backup"
    assert (backup / json.loads(state.read_text())["weights"]).stat().st_size > 0

    resumed = _run(_train_command(tiny_corpus, out))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resumed after epoch {killed_at}" in resumed.stdout
    assert "stage1_audio already finished" in resumed.stdout
    # What the killed writer left was removed by the rerun.
    assert not list(out.rglob(".*partial*")) and not list(out.rglob(".*retired*"))

    # Same seed, same per-epoch data: the same final weights (float32 CPU
    # kernels are deterministic here; tolerance for summation order only).
    for got, want in zip(_weights_of(out / "model.keras"), _weights_of(tmp_path / "reference" / "model.keras")):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    log = (out / "stage2_fusion" / "log.csv").read_text().splitlines()
    epochs_logged = [int(line.split(",")[0]) for line in log[1:]]
    assert sorted(set(epochs_logged)) == list(range(TINY_RUN["epochs"]))
    # The learning rate followed the paper schedule across the restart.
    header = log[0].split(",")
    rates = {int(row.split(",")[0]): float(row.split(",")[header.index("learning_rate")]) for row in log[1:]}
    for epoch, rate in rates.items():
        assert rate == pytest.approx(paper_learning_rate(epoch, 0.003, 2, 2, 0.8), rel=1e-6)


def test_rerun_of_a_finished_run_and_a_changed_config(tiny_corpus, tmp_path):
    from emokeras.training import load_config
    from emokeras.training import train

    config = load_config(
        overrides={
            **TINY_RUN,
            "data": str(tiny_corpus / "prepared"),
            "out": str(tmp_path / "run"),
            "epochs": 1,
            "stage1_epochs": 0,
            # Label processing the model must remember (its data contract).
            "median_width": 3,
            "label_delays": {"valence": 4, "arousal": 6},
        }
    )
    path = train(config, progress=False)
    assert path == tmp_path / "run" / "model.keras"
    assert train(config, progress=False) == path  # finished: nothing retrained
    changed = load_config(overrides={**config.to_dict(), "fusion": "concat"})
    with pytest.raises(ValueError, match=r"another configuration \(keys \['fusion'\] differ\)"):
        train(changed, progress=False)
    wrong_size = load_config(overrides={**config.to_dict(), "image_size": 64, "out": str(tmp_path / "other")})
    with pytest.raises(ValueError, match="holds 32 px face crops but config key 'image_size' is 64"):
        train(wrong_size, progress=False)

    # The model knows its data: geometry, rates, crops and label processing.
    from emokeras.saving import load_model

    contract = load_model(path, compile=False).data_contract
    assert contract["training_data"] == {
        "median_width": 3,
        "label_delays": {"valence": 4, "arousal": 6},
        "face_crop": False,
        "stride": None,
        "last_window": "align_end",
        "unit": "frame",
        "scoring": "all",
    }
    assert (contract["clips"], contract["frames_per_clip"], contract["image_size"]) == (2, 8, 32)

    # `emokeras evaluate` with no flags, on the raw-input model, reproduces the
    # evaluation the run wrote (scored there on the cached features: two
    # routes through the same windows and the same label processing).
    from emokeras.cli import main

    trained = json.loads((tmp_path / "run" / "evaluation.json").read_text())
    assert main(["evaluate", str(path), "--data", str(tiny_corpus / "prepared"), "--out", str(tmp_path / "eval")]) == 0
    report = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert (
        report["label_processing"]
        == trained["label_processing"]
        == {
            "median_width": 3,
            "label_delays": {"valence": 4, "arousal": 6},
        }
    )
    for which in ("raw", "postprocessed"):
        for target in ("valence", "arousal"):
            for recording, scores in trained[which][target].items():
                assert report[which][target][recording]["frames"] == scores["frames"] > 0
                for name in ("ccc", "pcc", "rmse"):
                    assert report[which][target][recording][name] == pytest.approx(scores[name], abs=1e-4)
    assert report["postprocessing"]["fitted_on"] == "dev"
    assert "| **all** |" in (tmp_path / "eval" / "evaluation.md").read_text()
    # Scored apart where the face or the voice is missing, the same frames
    # both routes (the tiny corpus hides both in its test recording).
    frames = report["by_presence"]["frames"]
    assert frames == trained["by_presence"]["frames"] and frames["no_face"] and frames["no_voice"]
    for target in ("valence", "arousal"):
        for stretch, scores in trained["by_presence"][target].items():
            assert report["by_presence"][target][stretch]["ccc"] == pytest.approx(scores["ccc"], abs=1e-4)
    assert sum(frames[s] for s in ("complete", "no_face", "no_voice")) == report["raw"]["valence"]["all"]["frames"]
    assert "| no face |" in (tmp_path / "eval" / "evaluation.md").read_text()
    # Without the delays the labels are misaligned: other frames, other numbers.
    with pytest.warns(UserWarning, match="label_delays=0 overrides"):
        main(
            ["evaluate", str(path), "--data", str(tiny_corpus / "prepared"), "--out", str(tmp_path / "e0")]
            + ["--label-delays", "0"]
        )
    undelayed = json.loads((tmp_path / "e0" / "evaluation.json").read_text())
    assert undelayed["raw"]["valence"]["all"]["frames"] > report["raw"]["valence"]["all"]["frames"]
