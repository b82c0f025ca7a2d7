"""The TensorFlow Serving deployment files in `serving/`: the config files
parse as the protos the model server reads, and the compose and Kubernetes
files run the TF Serving release of our TensorFlow pin with flags that point
at those files. No network, no server: the model server cannot run here."""

import functools
import importlib
import importlib.metadata
import pathlib
import re

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf import descriptor_pool
from google.protobuf import message_factory
from google.protobuf import text_format
from google.protobuf import wrappers_pb2

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SERVING = REPO_ROOT / "serving"
MODEL_NAME = "emokeras"
CONFIG_FILES = ("models.config", "batching_parameters.txt", "monitoring.config")
STATUS_PATH = f"/v1/models/{MODEL_NAME}"


def _text(name):
    return (SERVING / name).read_text()


def _tf_version():
    """`major.minor.patch` of the installed TensorFlow (from its metadata:
    the same as `tensorflow.__version__`, without importing TensorFlow)."""
    version = importlib.metadata.version("tensorflow")
    return re.match(r"\d+\.\d+\.\d+", version).group(0)


# ---------------------------------------------------------------------------
# Protos. ModelServerConfig ships in the tensorflow-serving-api wheel. The
# wheel does not ship BatchingParameters (session_bundle_config.proto) nor
# MonitoringConfig (monitoring_config.proto): TF Serving builds no Python
# target for them. Use the official module when one is importable, else a
# descriptor transcribed field for field (names, numbers, types) from the
# upstream .proto files, built in a private pool.


def _official(module_path, name):
    try:
        return getattr(importlib.import_module(module_path), name)
    except (ImportError, AttributeError):
        return None


def _field(message, name, number, type_, label=1, type_name=None):
    field = message.field.add(name=name, number=number, type=type_, label=label)
    if type_name:
        field.type_name = type_name


@functools.cache
def _transcribed_classes():
    F = descriptor_pb2.FieldDescriptorProto
    pool = descriptor_pool.DescriptorPool()
    wrappers = descriptor_pb2.FileDescriptorProto()
    wrappers_pb2.DESCRIPTOR.CopyToProto(wrappers)
    pool.Add(wrappers)

    # tensorflow_serving/servables/tensorflow/session_bundle_config.proto
    batching_file = descriptor_pb2.FileDescriptorProto(
        name="tensorflow_serving/servables/tensorflow/session_bundle_config.proto",
        package="tensorflow.serving",
        syntax="proto3",
        dependency=["google/protobuf/wrappers.proto"],
    )
    batching = batching_file.message_type.add(name="BatchingParameters")
    int64_value = ".google.protobuf.Int64Value"
    _field(batching, "max_batch_size", 1, F.TYPE_MESSAGE, type_name=int64_value)
    _field(batching, "batch_timeout_micros", 2, F.TYPE_MESSAGE, type_name=int64_value)
    _field(batching, "max_enqueued_batches", 3, F.TYPE_MESSAGE, type_name=int64_value)
    _field(batching, "num_batch_threads", 4, F.TYPE_MESSAGE, type_name=int64_value)
    _field(batching, "thread_pool_name", 5, F.TYPE_MESSAGE, type_name=".google.protobuf.StringValue")
    _field(batching, "allowed_batch_sizes", 6, F.TYPE_INT64, label=F.LABEL_REPEATED)
    _field(batching, "pad_variable_length_inputs", 7, F.TYPE_BOOL)
    pool.Add(batching_file)

    # tensorflow_serving/config/monitoring_config.proto
    monitoring_file = descriptor_pb2.FileDescriptorProto(
        name="tensorflow_serving/config/monitoring_config.proto",
        package="tensorflow.serving",
        syntax="proto3",
    )
    prometheus = monitoring_file.message_type.add(name="PrometheusConfig")
    _field(prometheus, "enable", 1, F.TYPE_BOOL)
    _field(prometheus, "path", 2, F.TYPE_STRING)
    monitoring = monitoring_file.message_type.add(name="MonitoringConfig")
    _field(
        monitoring,
        "prometheus_config",
        1,
        F.TYPE_MESSAGE,
        type_name=".tensorflow.serving.PrometheusConfig",
    )
    pool.Add(monitoring_file)

    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"tensorflow.serving.{name}"))
        for name in ("BatchingParameters", "MonitoringConfig")
    }


def _batching_parameters_class():
    official = _official("tensorflow_serving.servables.tensorflow.session_bundle_config_pb2", "BatchingParameters")
    return official or _transcribed_classes()["BatchingParameters"]


def _monitoring_config_class():
    official = _official("tensorflow_serving.config.monitoring_config_pb2", "MonitoringConfig")
    return official or _transcribed_classes()["MonitoringConfig"]


def test_models_config_parses_as_model_server_config():
    from tensorflow_serving.config import model_server_config_pb2

    config = text_format.Parse(_text("models.config"), model_server_config_pb2.ModelServerConfig())
    assert config.WhichOneof("config") == "model_config_list"
    (model,) = config.model_config_list.config
    assert model.name == MODEL_NAME
    assert model.base_path == f"/models/{MODEL_NAME}"
    assert model.model_platform == "tensorflow"
    policy = model.model_version_policy
    assert policy.WhichOneof("policy_choice") == "latest"
    assert policy.latest.num_versions == 1


def test_batching_parameters_parse_and_are_consistent():
    params = text_format.Parse(_text("batching_parameters.txt"), _batching_parameters_class()())
    for field in ("max_batch_size", "batch_timeout_micros", "num_batch_threads", "max_enqueued_batches"):
        assert params.HasField(field), field
        assert getattr(params, field).value > 0, field
    # A window is 19 MB of video: batches stay small, timeouts short.
    assert params.max_batch_size.value <= 16
    assert params.batch_timeout_micros.value <= 20_000
    sizes = list(params.allowed_batch_sizes)
    assert sizes, "allowed_batch_sizes is empty"
    assert sizes == sorted(set(sizes)), f"not strictly increasing: {sizes}"
    assert sizes[0] >= 1
    assert sizes[-1] == params.max_batch_size.value
    assert params.pad_variable_length_inputs is False


def test_monitoring_config_enables_prometheus():
    config = text_format.Parse(_text("monitoring.config"), _monitoring_config_class()())
    assert config.prometheus_config.enable is True
    assert config.prometheus_config.path == "/monitoring/prometheus/metrics"


def test_transcribed_protos_reject_unknown_fields():
    """The fallback classes are real messages: a misspelt field fails."""
    with pytest.raises(text_format.ParseError):
        text_format.Parse("max_batch_size: 8", _batching_parameters_class()())
    with pytest.raises(text_format.ParseError):
        text_format.Parse("prometheus_config { enabled: true }", _monitoring_config_class()())


# ---------------------------------------------------------------------------
# Compose and Kubernetes files.


def _yaml():
    return pytest.importorskip("yaml")


def _compose(name):
    return _yaml().safe_load(_text(name))["services"]["tf-serving"]


def _kubernetes():
    documents = [d for d in _yaml().safe_load_all(_text("kubernetes.yaml")) if d]
    by_kind = {}
    for document in documents:
        assert document["kind"] not in by_kind, f"two {document['kind']} documents"
        by_kind[document["kind"]] = document
    return by_kind


def _flags(arguments):
    """`{"--name": "value"}` of `--name=value` arguments (`"true"` for a bare
    `--name`)."""
    flags = {}
    for argument in arguments:
        assert argument.startswith("--"), argument
        name, _, value = argument.partition("=")
        assert name not in flags, f"{name} given twice"
        flags[name] = value if "=" in argument else "true"
    return flags


def _check_server_flags(arguments, config_files):
    flags = _flags(arguments)
    assert flags["--port"] == "8500"
    assert flags["--rest_api_port"] == "8501"
    assert flags["--model_config_file"] == "/config/models.config"
    assert flags["--enable_batching"] == "true"
    assert flags["--batching_parameters_file"] == "/config/batching_parameters.txt"
    assert flags["--monitoring_config_file"] == "/config/monitoring.config"
    # Polling: new versions and config edits are picked up while running.
    assert int(flags["--file_system_poll_wait_seconds"]) > 0
    assert int(flags["--model_config_file_poll_wait_seconds"]) > 0
    config_paths = [v for v in flags.values() if v.startswith("/config/")]
    assert len(config_paths) == 3
    for path in config_paths:
        name = path[len("/config/") :]
        assert name in config_files, f"{path} is not provided"
        assert (SERVING / name).is_file(), f"{path}: serving/{name} does not exist"


def _image_tag(image, suffix):
    repository, _, tag = image.partition(":")
    assert repository == "tensorflow/serving", image
    assert tag == _tf_version() + suffix, f"{image}: expected tag {_tf_version()}{suffix}"


def _mentions_status_endpoint(text):
    return STATUS_PATH in text and "8501" in text


def test_compose_runs_the_gpu_release_of_our_tensorflow():
    service = _compose("docker-compose.yml")
    _image_tag(service["image"], "-gpu")
    # The server binary itself, not the stock entrypoint script (which adds
    # --model_name/--model_base_path of a model called "model").
    assert service["entrypoint"] == ["tensorflow_model_server"]
    _check_server_flags(service["command"], CONFIG_FILES)
    assert sorted(service["ports"]) == ["8500:8500", "8501:8501"]
    (device,) = service["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia"
    assert device["count"] == 1
    assert device["capabilities"] == ["gpu"]
    assert _mentions_status_endpoint(" ".join(service["healthcheck"]["test"]))


def test_compose_mounts_models_and_config():
    service = _compose("docker-compose.yml")
    mounts = {}
    for volume in service["volumes"]:
        source, target, *options = volume.split(":")
        mounts[target] = ((SERVING / source).resolve(), options)
    # `emokeras export --base-dir models/emokeras` (from the repository root)
    # writes what the server sees as /models/emokeras, models.config's base_path.
    assert mounts["/models"] == ((REPO_ROOT / "models").resolve(), ["ro"])
    assert mounts["/config"] == (SERVING.resolve(), ["ro"])
    assert "--base-dir models/emokeras" in _text("README.md")


def test_cpu_compose_is_the_same_server_on_the_cpu_image():
    gpu = _compose("docker-compose.yml")
    cpu = _compose("docker-compose.cpu.yml")
    _image_tag(cpu["image"], "")
    assert "deploy" not in cpu
    for key in ("entrypoint", "command", "ports", "volumes", "healthcheck"):
        assert cpu[key] == gpu[key], key


def test_kubernetes_config_map_holds_the_config_files_verbatim():
    config_map = _kubernetes()["ConfigMap"]
    assert sorted(config_map["data"]) == sorted(CONFIG_FILES)
    for name in CONFIG_FILES:
        assert config_map["data"][name] == _text(name), (
            f"the ConfigMap's {name} differs from serving/{name}: copy the file "
            "into kubernetes.yaml (indented under `data:`)"
        )


def test_kubernetes_deployment_and_service():
    manifests = _kubernetes()
    assert set(manifests) == {"ConfigMap", "PersistentVolumeClaim", "Deployment", "Service"}
    deployment = manifests["Deployment"]
    assert deployment["spec"]["replicas"] == 1
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    _image_tag(container["image"], "-gpu")
    assert int(container["resources"]["limits"]["nvidia.com/gpu"]) == 1

    # The same server as docker-compose.yml.
    compose = _compose("docker-compose.yml")
    assert container["command"] == compose["entrypoint"]
    assert container["args"] == compose["command"]
    _check_server_flags(container["args"], manifests["ConfigMap"]["data"])

    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"grpc": 8500, "http": 8501}
    for probe_name in ("readinessProbe", "livenessProbe"):
        probe = container[probe_name]
        if "httpGet" in probe:
            assert probe["httpGet"]["path"] == STATUS_PATH, probe_name
            assert ports.get(probe["httpGet"]["port"], probe["httpGet"]["port"]) == 8501
        else:
            assert _mentions_status_endpoint(" ".join(probe["exec"]["command"])), probe_name

    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    config_volume = next(n for n, v in volumes.items() if "configMap" in v)
    assert volumes[config_volume]["configMap"]["name"] == manifests["ConfigMap"]["metadata"]["name"]
    assert mounts[config_volume]["mountPath"] == "/config"
    assert "subPath" not in mounts[config_volume]  # so config edits propagate
    models_volume = next(n for n, v in volumes.items() if "persistentVolumeClaim" in v)
    claim = volumes[models_volume]["persistentVolumeClaim"]["claimName"]
    assert claim == manifests["PersistentVolumeClaim"]["metadata"]["name"]
    assert mounts[models_volume]["mountPath"] == "/models"
    assert mounts[models_volume]["readOnly"] is True

    service = manifests["Service"]
    labels = pod["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service_ports = {p["port"]: p["targetPort"] for p in service["spec"]["ports"]}
    assert {service_ports[8500], service_ports[8501]} <= {"grpc", "http", 8500, 8501}
    assert ports.get(service_ports[8500], service_ports[8500]) == 8500
    assert ports.get(service_ports[8501], service_ports[8501]) == 8501
