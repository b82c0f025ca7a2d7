"""Distributed training: `multi_worker` on two local worker processes
(TF_CONFIG, loopback ports, CPU), as Kubeflow's TFJob runs it on two pods,
and `mirrored` on two logical CPUs. Both give the weights of one process on
the same global batches; the chief alone writes the run; SIGKILL of a worker
then a restart of both ends where the uninterrupted run ends; the feature
cache is shared between the workers."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

pytestmark = pytest.mark.slow

# Global batch 4 (2 windows per worker); no dropout, whose masks are drawn
# per replica. Stage 1 trains the audio branch, stage 2 the fusion on the
# cached features, which the workers share.
RUN = ["--set", "batch_size=4", "--set", "dropout_rate=0", "--set", "stage1_epochs=1", "--set", "epochs=2"]
TIMEOUT = 600


def _distribution(name):
    return ["--set", f"distribution={name}"]


def _train_command(corpus, out, python=(sys.executable, "-m", "emokeras.cli")):
    return [
        *python,
        "train",
        "--config",
        str(corpus / "tiny.yaml"),
        "--data",
        str(corpus / "prepared"),
        "--out",
        str(out),
        *RUN,
    ]


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for one in sockets:
        one.bind(("localhost", 0))
    ports = [one.getsockname()[1] for one in sockets]
    for one in sockets:
        one.close()
    return ports


def _start_workers(corpus, out):
    """Two workers of one cluster on loopback, each `emokeras train` with
    the same arguments; their output goes to `<out>.worker-<i>.log`."""
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    workers = []
    for index in range(2):
        tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        env = {
            **os.environ,
            "TF_CONFIG": json.dumps(tf_config),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONUNBUFFERED": "1",
        }
        log = open(_log(out, index), "a")
        command = [*_train_command(corpus, out), *_distribution("multi_worker")]
        workers.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env))
        log.close()
    return workers


def _log(out, index):
    return out.with_name(f"{out.name}.worker-{index}.log")


def _wait(workers, out):
    for index, worker in enumerate(workers):
        try:
            code = worker.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            for other in workers:
                other.kill()
            raise
        assert code == 0, f"worker {index} exited with {code}:\n{_log(out, index).read_text()[-4000:]}"


def _weights_of(path):
    from emokeras.saving import load_model

    return load_model(path, compile=False).get_weights()


def _run(command):
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def two_worker_run(tiny_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("multi_worker") / "run"
    _wait(_start_workers(tiny_corpus, out), out)
    return out


@pytest.fixture(scope="module")
def one_process_run(tiny_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("one_process") / "run"
    _run(_train_command(tiny_corpus, out))
    return out


def test_two_workers_train_as_one_process_and_only_the_chief_writes(two_worker_run, one_process_run):
    out, single = two_worker_run, one_process_run

    # Same global batches, global CCC and batch statistics: the weights of
    # one process, to float32 summation order (measured: 6e-6 at most).
    for got, want in zip(_weights_of(out / "model.keras"), _weights_of(single / "model.keras"), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)

    chief_log, worker_log = (_log(out, index).read_text() for index in range(2))
    assert "MultiWorkerMirroredStrategy over 2 replicas (1 of 2 workers)" in chief_log
    assert "(2 of 2 workers)" in worker_log
    assert f"wrote {out / 'model.keras'}" in chief_log
    assert "wrote" not in worker_log

    # The chief's run folder is the one-process layout, each file once.
    layout = sorted(path.relative_to(out).as_posix() for path in out.rglob("*") if "tensorboard" not in path.parts)
    expected = sorted(
        path.relative_to(single).as_posix() for path in single.rglob("*") if "tensorboard" not in path.parts
    )
    assert layout == expected
    assert not (out / "workers").exists(), "a worker left its scratch folder"
    assert not [path for path in out.rglob("*") if ".partial" in path.name or ".retired" in path.name]
    for stage in ("stage1_audio", "stage2_fusion"):
        log = (out / stage / "log.csv").read_text().splitlines()
        epochs = 1 if stage.startswith("stage1") else 2
        assert [row.split(",")[0] for row in log[1:]] == [str(e) for e in range(epochs)], log
        # One writer of TensorBoard events per split.
        for split in ("train", "validation"):
            assert len(list((out / stage / "tensorboard" / split).glob("events.out.tfevents.*"))) == 1

    # The feature cache was shared between the workers (each its share of
    # the recordings, the chief the metadata once all were there); it equals
    # a one-process extraction by the same backbones (the next test but one).
    assert len(list((out / "features" / "features").rglob("*.tfrecord"))) == 5
    metadata = json.loads((out / "features" / "features_metadata.json").read_text())
    assert metadata == json.loads((single / "features" / "features_metadata.json").read_text())
    assert "waiting for" in chief_log + worker_log, "no worker waited for the other's feature files"


def test_sigkill_of_a_worker_then_restart_reaches_the_uninterrupted_weights(two_worker_run, tiny_corpus, tmp_path):
    out = tmp_path / "run"
    workers = _start_workers(tiny_corpus, out)
    # Each worker backs the finished epoch up, the chief into the run, the
    # other into its own folder.
    states = [
        out / "stage2_fusion" / "backup" / "state.json",
        out / "workers" / "worker-1" / "stage2_fusion" / "backup" / "state.json",
    ]
    deadline = time.monotonic() + TIMEOUT
    while not all(state.exists() and json.loads(state.read_text())["epoch"] >= 1 for state in states):
        assert workers[0].poll() is None and workers[1].poll() is None, "finished before the kill"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    # Mid-way through the last epoch: worker 1 dies.
    workers[1].send_signal(signal.SIGKILL)
    # The chief cannot go on without it; the training operator restarts
    # every replica of a failed TFJob, here by hand.
    try:
        workers[0].wait(timeout=30)
    except subprocess.TimeoutExpired:
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait()
    assert not (out / "model.keras").exists()

    _wait(_start_workers(tiny_corpus, out), out)
    for index in range(2):
        assert "stage2_fusion: AVFusionRegressor(cross_attention) epochs 2..2 of 2" in _log(out, index).read_text()
    for got, want in zip(_weights_of(out / "model.keras"), _weights_of(two_worker_run / "model.keras"), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert not (out / "workers").exists()
    log = (out / "stage2_fusion" / "log.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in log[1:]] == ["0", "1"], log


def test_extract_features_shards_equal_one_process(two_worker_run, tiny_corpus, tmp_path):
    """`extract-features --shard I/N` in two processes at once (shard 1
    waits for shard 2's files) gives the one-process cache byte for byte."""
    model = two_worker_run / "features" / "backbones.keras"
    command = [sys.executable, "-m", "emokeras.cli", "extract-features", str(model), "--data"]
    command += [str(tiny_corpus / "prepared")]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    single = subprocess.run([*command, "--out", str(tmp_path / "single")], capture_output=True, text=True, env=env)
    assert single.returncode == 0, single.stderr[-3000:]
    shards = [
        subprocess.Popen(
            [*command, "--out", str(tmp_path / "sharded"), "--shard", f"{i}/2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in (1, 2)
    ]
    outputs = [shard.communicate(timeout=TIMEOUT) for shard in shards]
    for shard, (_, stderr) in zip(shards, outputs):
        assert shard.returncode == 0, stderr[-3000:]
    counts = [json.loads(stdout.splitlines()[-1].split(": ", 1)[1].replace("'", '"')) for stdout, _ in outputs]
    assert sum(sum(count.values()) for count in counts) == 5 and all(counts), counts
    files = sorted(path.relative_to(tmp_path / "single") for path in (tmp_path / "single").rglob("*") if path.is_file())
    assert files == sorted(
        path.relative_to(tmp_path / "sharded") for path in (tmp_path / "sharded").rglob("*") if path.is_file()
    )
    for path in files:
        assert (tmp_path / "sharded" / path).read_bytes() == (tmp_path / "single" / path).read_bytes(), path
    # Recordings may also come from the trainer's shared cache: the same.
    for path in (tmp_path / "single" / "features").rglob("*.tfrecord"):
        trained = two_worker_run / "features" / path.relative_to(tmp_path / "single")
        assert trained.read_bytes() == path.read_bytes()


def test_a_bad_tf_config_is_one_clear_error(monkeypatch):
    from emokeras.training.distribution import cluster_position

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG is not set"):
        cluster_position("multi_worker")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker"}}))
    with pytest.raises(ValueError, match="not a cluster with a task"):
        cluster_position("multi_worker")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}))
    with pytest.raises(ValueError, match="'ps' 0 is not in its cluster"):
        cluster_position("multi_worker")
    cluster = {"chief": ["c:1"], "worker": ["a:1", "b:1"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}}))
    assert cluster_position("multi_worker") == (2, 3)
    assert cluster_position("mirrored") == (0, 1)


def test_mirrored_over_two_logical_cpus_trains_as_one_process(one_process_run, tiny_corpus, tmp_path):
    script = (
        "import sys, tensorflow as tf\n"
        "cpu = tf.config.list_physical_devices('CPU')[0]\n"
        "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)\n"
        "from emokeras.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    out = tmp_path / "mirrored"
    command = _train_command(tiny_corpus, out, python=(sys.executable, "-c", script))
    result = _run([*command, *_distribution("mirrored")])
    assert "MirroredStrategy over 2 replicas" in result.stdout
    for got, want in zip(_weights_of(out / "model.keras"), _weights_of(one_process_run / "model.keras"), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    log = (out / "stage2_fusion" / "log.csv").read_text().splitlines()
    assert len(log) == 3  # header + 2 epochs
