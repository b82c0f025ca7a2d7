"""The examples and the command line run as a user would run them."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _run(args, timeout=600, **environment):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **environment)
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result.stdout


@pytest.mark.slow
def test_cross_attention_layer_example_fast():
    output = _run([sys.executable, "examples/cross_attention_layer.py", "--fast"])
    assert "held-out CCC:" in output


@pytest.mark.slow
def test_train_arrays_example_fast():
    output = _run([sys.executable, "examples/train_arrays.py", "--fast"])
    assert "held-out CCC: valence" in output


@pytest.mark.slow
def test_keras_script_example_fast():
    output = _run([sys.executable, "examples/train_keras_script.py", "--fast"])
    assert "dev CCC: valence" in output


@pytest.mark.slow
def test_audio_only_corpus_example_fast():
    output = _run([sys.executable, "examples/audio_only_corpus.py", "--fast"])
    assert "| **all** |" in output and "(1-7)" in output


@pytest.mark.slow
def test_per_frame_corpus_example_fast():
    output = _run([sys.executable, "examples/per_frame_corpus.py", "--fast"])
    assert "| **all** |" in output and "official ABAW partition" in output


def _commands():
    from emokeras.cli import COMMANDS

    return list(COMMANDS)


@pytest.mark.parametrize("command", _commands())
def test_every_command_has_help_with_an_example(command):
    from emokeras.cli import build_parser

    parser = build_parser(command)
    subparsers = next(a for a in parser._actions if a.dest == "command")
    help_text = subparsers.choices[command].format_help()
    assert "example" in help_text and f"emokeras {command}" in help_text
    # Each command is a module of its own, its parser beside its handler.
    module = pathlib.Path(ROOT / "emokeras" / "cli" / f"{command.replace('-', '_')}.py").read_text()
    assert "def add_parser(" in module and "def run(" in module


def test_top_level_help_lists_every_command_without_loading_tensorflow():
    script = (
        "import contextlib, io, sys\n"
        "from emokeras.cli import COMMANDS, main\n"
        "text = io.StringIO()\n"
        "with contextlib.redirect_stdout(text), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "assert all(name in text.getvalue() for name in COMMANDS), text.getvalue()\n"
        "print('tensorflow loaded:', 'tensorflow' in sys.modules)\n"
    )
    assert "tensorflow loaded: False" in _run([sys.executable, "-c", script])


def test_cli_help_and_info():
    assert "summary" in _run([sys.executable, "-m", "emokeras.cli", "--help"])
    info = json.loads(_run([sys.executable, "-m", "emokeras.cli", "info"]))
    assert info["tensorflow"].startswith("2.21") and info["keras"].startswith("3.")


@pytest.mark.skipif(sys.platform != "linux", reason="oneDNN CPU kernels are switchable in Linux builds")
def test_onednn_kernels_are_on_unless_the_user_says_otherwise():
    command = [sys.executable, "-m", "emokeras.cli", "info"]
    default = subprocess.run(
        command,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(default.stdout)["onednn_cpu_kernels"] is True
    declined = json.loads(_run(command, TF_ENABLE_ONEDNN_OPTS="0"))
    assert declined["onednn_cpu_kernels"] is False


def test_cli_summary_and_bad_value():
    output = _run([sys.executable, "-m", "emokeras.cli", "summary", "--clips", "2", "--image-size", "112"])
    assert "fusion_regressor" in output and "(None, 2, 1024)" in output
    bad = subprocess.run(
        [sys.executable, "-m", "emokeras.cli", "summary", "--fusion", "sum"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "invalid choice: 'sum'" in bad.stderr


def test_console_script_is_installed():
    import shutil

    executable = shutil.which("emokeras") or str(pathlib.Path(sys.executable).parent / "emokeras")
    assert pathlib.Path(executable).exists(), "pip install the project to get `emokeras`"
    assert "info" in _run([executable, "--help"])
