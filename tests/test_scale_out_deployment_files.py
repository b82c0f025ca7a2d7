"""The cluster deployment files in `deploy/kubernetes/`: the Kubeflow TFJob
runs `emokeras train` as the CLI and the trainer expect (the flags parse,
multi-worker distribution, one writer of the run, paths on the mounted
volumes, the operator's container name and port), and the Indexed Job runs
`emokeras prepare --shard I/N` with every I from 1 to N. No cluster: the
manifests are parsed, the commands parsed by the real parsers, and the
shard's shell arithmetic run by `sh` with the CLI replaced by a stub."""

import functools
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import types

import pytest
import yaml

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
KUBERNETES = REPO_ROOT / "deploy" / "kubernetes"
# kubeflow/training-operator: TFJobDefaultContainerName, TFJobDefaultPortName,
# TFJobDefaultPort (pkg/apis/kubeflow.org/v1/tensorflow_types.go).
TF_CONTAINER = "tensorflow"
TF_PORT_NAME = "tfjob-port"
TF_PORT = 2222


def _manifests(name):
    """`{kind: document}` of one file (one document per kind)."""
    by_kind = {}
    for document in yaml.safe_load_all((KUBERNETES / name).read_text()):
        if document:
            assert document["kind"] not in by_kind, f"{name}: two {document['kind']} documents"
            by_kind[document["kind"]] = document
    return by_kind


def _claim():
    (claim,) = _manifests("volume.yaml").values()
    assert claim["kind"] == "PersistentVolumeClaim"
    return claim


@functools.cache
def _parser(command):
    from emokeras.cli import build_parser

    return build_parser(command)


def _tensorflow_pin():
    """The `tensorflow==X.Y.Z` version setup.py installs."""
    return re.search(r'"tensorflow==([^"]+)"', (REPO_ROOT / "setup.py").read_text()).group(1)


def _under(path, folder):
    return pathlib.PurePosixPath(path).is_relative_to(folder)


def _volume_at(path, container, pod_spec):
    """The pod volume whose mount in `container` holds `path` (the deepest)."""
    mounts = [m for m in container["volumeMounts"] if _under(path, m["mountPath"])]
    assert mounts, f"{path} is on no volume mounted in container {container['name']}"
    mount = max(mounts, key=lambda m: len(m["mountPath"]))
    (volume,) = [v for v in pod_spec["volumes"] if v["name"] == mount["name"]]
    return volume, mount


def _check_on_claim(path, container, pod_spec):
    """`path` lies on the shared volume of volume.yaml, mounted writable."""
    volume, mount = _volume_at(path, container, pod_spec)
    assert volume["persistentVolumeClaim"]["claimName"] == _claim()["metadata"]["name"], path
    assert not mount.get("readOnly"), f"{path}: {mount['mountPath']} is mounted read-only"
    return mount["mountPath"]


def _check_install(pod_spec, container, requirements):
    """The init container `pip install`s the project (plus `requirements`)
    from the shared volume into a venv on an emptyDir volume that
    `container` runs the CLI from, in the same image. Returns the path of
    the `emokeras` executable."""
    (init,) = pod_spec["initContainers"]
    assert init["image"] == container["image"], "the venv must run on the Python it was made with"
    assert init["command"][:2] == ["sh", "-c"]
    statements = [shlex.split(s) for s in init["command"][2].split(";") if s.strip()]
    assert statements[0] == ["set", "-e"]
    (copy,) = [s for s in statements if s[0] == "cp"]
    (venv,) = [s for s in statements if s[:3] == ["python", "-m", "venv"]]
    (pip,) = [s for s in statements if s[0].endswith("/bin/pip")]
    # The source comes from the shared volume and is built in a private copy.
    source, copied = copy[-2:]
    init_source_volume, _ = _volume_at(source, init, pod_spec)
    assert init_source_volume["persistentVolumeClaim"]["claimName"] == _claim()["metadata"]["name"]
    assert not any(_under(copied, m["mountPath"]) for m in init["volumeMounts"])
    venv_dir = venv[3]
    assert pip[0] == f"{venv_dir}/bin/pip"
    assert pip[1] == "install"
    assert sorted(p for p in pip[2:] if not p.startswith("-")) == sorted([copied, *requirements])
    # The venv lives on an emptyDir that both containers mount at that path.
    for each in (init, container):
        volume, mount = _volume_at(venv_dir, each, pod_spec)
        assert "emptyDir" in volume and mount["mountPath"] == venv_dir, each["name"]
    return f"{venv_dir}/bin/emokeras"


def test_the_shared_volume_is_read_write_many():
    claim = _claim()
    assert claim["apiVersion"] == "v1"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["resources"]["requests"]["storage"]


# ---------------------------------------------------------------------------
# TFJob: `emokeras train` on several GPU machines.


def _tfjob():
    manifests = _manifests("tfjob.yaml")
    assert set(manifests) == {"ConfigMap", "TFJob"}
    return manifests["TFJob"], manifests["ConfigMap"]


def _replicas():
    """`{replica type: (count, pod spec, the tensorflow container, restart policy)}`."""
    tfjob, _ = _tfjob()
    replicas = {}
    for replica_type, spec in tfjob["spec"]["tfReplicaSpecs"].items():
        pod_spec = spec["template"]["spec"]
        (container,) = [c for c in pod_spec["containers"] if c["name"] == TF_CONTAINER]
        replicas[replica_type] = (spec["replicas"], pod_spec, container, spec["restartPolicy"])
    return replicas


def _train_argv():
    """The `emokeras ...` words every replica runs (after the executable)."""
    (count, pod_spec, container, _), *_ = _replicas().values()
    executable = _check_install(pod_spec, container, [f"tensorflow[and-cuda]=={_tensorflow_pin()}"])
    assert container["command"][0] == executable
    return container["command"][1:] + container["args"]


def test_tfjob_replicas_are_the_operators_tensorflow_containers_on_gpus():
    tfjob, _ = _tfjob()
    assert tfjob["apiVersion"] == "kubeflow.org/v1"
    assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", tfjob["metadata"]["name"])  # DNS-1035, as the operator checks
    replicas = _replicas()
    # MultiWorkerMirroredStrategy: workers (and at most one chief), no
    # parameter servers or evaluators.
    assert set(replicas) <= {"Chief", "Worker"}
    assert replicas.get("Chief", (1,))[0] == 1
    assert sum(count for count, *_ in replicas.values()) >= 2
    for replica_type, (_, _, container, restart_policy) in replicas.items():
        # Rerunning the command resumes the run: restart failed replicas.
        assert restart_policy in ("OnFailure", "ExitCode"), replica_type
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports[TF_PORT_NAME] == TF_PORT, replica_type
        assert int(container["resources"]["limits"]["nvidia.com/gpu"]) == 1, replica_type
        # TFJob pods do not work with Istio's sidecar (Kubeflow's TFJob docs).
        annotations = tfjob["spec"]["tfReplicaSpecs"][replica_type]["template"]["metadata"]["annotations"]
        assert annotations["sidecar.istio.io/inject"] == "false"


def test_tfjob_replicas_run_one_command():
    """Every replica runs the same command with the same paths: the
    trainer, not the manifest, decides who writes what."""
    keys = ("image", "command", "args", "env", "volumeMounts")
    runs = [({k: c.get(k) for k in keys}, p["volumes"], p["initContainers"]) for _, p, c, _ in _replicas().values()]
    assert all(run == runs[0] for run in runs)


def test_tfjob_train_command_parses_and_distributes_over_workers(tmp_path):
    from emokeras.training.training_config import load_config
    from emokeras.training.training_config import parse_overrides

    _, config_map = _tfjob()
    args = _parser("train").parse_args(_train_argv())
    assert args.command == "train"
    overrides = parse_overrides(args.set or [])
    assert overrides["distribution"] == "multi_worker"
    assert args.data and args.out and args.config
    # The config the replicas read (the ConfigMap's file) with the command's
    # flags resolves to a valid TrainingConfig.
    config_file = tmp_path / pathlib.PurePosixPath(args.config).name
    config_file.write_text(config_map["data"][config_file.name])
    config = load_config(config_file, preset=args.preset, overrides={**overrides, "data": args.data, "out": args.out})
    assert config.distribution == "multi_worker"
    assert (config.data, config.out) == (args.data, args.out)
    # The same file on one machine.
    assert load_config(config_file, overrides={"distribution": "mirrored"}).distribution == "mirrored"


def test_tfjob_paths_lie_on_the_mounted_volumes():
    _, config_map = _tfjob()
    args = _parser("train").parse_args(_train_argv())
    for _, pod_spec, container, _ in _replicas().values():
        for path in (args.data, args.out):
            _check_on_claim(path, container, pod_spec)
        env = {e["name"]: e["value"] for e in container.get("env", [])}
        _check_on_claim(env["EMOKERAS_CACHE"], container, pod_spec)
        volume, mount = _volume_at(args.config, container, pod_spec)
        assert volume["configMap"]["name"] == config_map["metadata"]["name"]
        assert pathlib.PurePosixPath(args.config).relative_to(mount["mountPath"]).as_posix() in config_map["data"]


def _is_chief(task_type, index, cluster):
    """TensorFlow's rule (`_is_chief` in tensorflow/python/distribute/
    distribute_coordinator.py): the chief if the cluster has one, else
    worker 0."""
    if "chief" in cluster:
        return task_type == "chief"
    return task_type == "worker" and index == 0


def test_tfjob_the_chief_alone_writes_the_run(monkeypatch):
    """Give each replica the TF_CONFIG the training operator sets (cluster
    keys: the replica types in lower case) and ask the trainer where each
    stands: TensorFlow's chief is index 0 (it alone writes --out), the
    others each their own index."""
    from emokeras.training.distribution import cluster_position

    tfjob, _ = _tfjob()
    name = tfjob["metadata"]["name"]
    cluster = {
        replica_type.lower(): [f"{name}-{replica_type.lower()}-{i}.default.svc:{TF_PORT}" for i in range(count)]
        for replica_type, (count, *_) in _replicas().items()
    }
    positions = {}
    for task_type, addresses in cluster.items():
        for index in range(len(addresses)):
            tf_config = {"cluster": cluster, "task": {"type": task_type, "index": index}, "environment": "cloud"}
            monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
            positions[(task_type, index)] = cluster_position("multi_worker")
    writers = [task for task, (position, _) in positions.items() if position == 0]
    assert writers == [task for task in positions if _is_chief(*task, cluster)], positions
    workers = sum(len(addresses) for addresses in cluster.values())
    assert sorted(positions.values()) == [(i, workers) for i in range(workers)], positions


# ---------------------------------------------------------------------------
# Indexed Job: `emokeras prepare --shard I/N` on N pods.


def _prepare_job():
    (job,) = _manifests("prepare-job.yaml").values()
    assert job["kind"] == "Job"
    pod_spec = job["spec"]["template"]["spec"]
    (container,) = pod_spec["containers"]
    return job, pod_spec, container


def _prepare_argv(index, stub):
    """The `emokeras ...` words pod `index` runs: the container's command
    run by `sh` with JOB_COMPLETION_INDEX set as Kubernetes sets it, and the
    CLI replaced by a stub that prints its arguments."""
    sh = shutil.which("sh")
    if sh is None:
        pytest.skip("no sh")
    _, pod_spec, container = _prepare_job()
    executable = _check_install(pod_spec, container, [])
    command = container["command"]
    assert command[:2] == ["sh", "-c"] and len(command) == 4
    script = command[2]
    assert script.startswith(f'exec {executable} "$@" ')
    result = subprocess.run(
        [sh, "-c", script.replace(executable, shlex.quote(str(stub)), 1), command[3], *container["args"]],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "JOB_COMPLETION_INDEX": str(index)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


@pytest.fixture
def cli_stub(tmp_path):
    """An `emokeras` that prints its arguments as JSON."""
    stub = tmp_path / "emokeras"
    stub.write_text(f"#!{sys.executable}\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    stub.chmod(0o755)
    return stub


def test_prepare_job_is_indexed_with_all_shards_at_once():
    job, pod_spec, _ = _prepare_job()
    assert job["apiVersion"] == "batch/v1"
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] >= 2
    assert spec["parallelism"] == spec["completions"]
    assert pod_spec["restartPolicy"] in ("OnFailure", "Never")


def test_prepare_job_every_pod_prepares_its_own_shard(cli_stub):
    from emokeras.cli.arguments import parse_shard
    from emokeras.data.corpora import READERS

    job, pod_spec, container = _prepare_job()
    shards = job["spec"]["completions"]
    runs = []
    for index in range(shards):
        args = _parser("prepare").parse_args(_prepare_argv(index, cli_stub))
        assert args.command == "prepare"
        # 1-based share index+1 of N, N = the Job's completions.
        assert parse_shard(args.shard) == (index + 1, shards)
        runs.append({k: v for k, v in vars(args).items() if k not in ("shard", "run")})
    # Apart from the shard, every pod runs the same command.
    assert all(run == runs[0] for run in runs)
    args = types.SimpleNamespace(**runs[0])
    name, root = args.corpus
    assert name in READERS
    _volume_at(root, container, pod_spec)
    _check_on_claim(args.out, container, pod_spec)
    # One prepare process per CPU the pod gets.
    assert args.workers == int(container["resources"]["requests"]["cpu"])


def test_train_reads_what_prepare_writes(cli_stub):
    prepare = _parser("prepare").parse_args(_prepare_argv(0, cli_stub))
    train = _parser("train").parse_args(_train_argv())
    assert train.data == prepare.out
