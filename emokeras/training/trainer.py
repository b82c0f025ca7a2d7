"""`train`: a `TrainingConfig` -> a trained raw-input model (`model.keras`).

Layout of a run folder (`config.out`):

    config.yaml                 the resolved configuration
    stage1_audio/, stage1_visual/, stage2_fusion/ (two_stage) or end_to_end/
        log.csv, tensorboard/   per-epoch losses, CCCs and learning rate
        best.keras(.json)       best epoch by mean validation CCC
        backup/                 weights + optimizer of the last finished epoch
        model.keras             the finished stage (a rerun skips the stage)
    features/                   backbone features cached after stage 1, and
                                backbones.keras, the model they came from
    model.keras                 the assembled raw-input model

Every file is written to a temporary name and renamed into place, and each
epoch's data is a pure function of (seed, epoch), so a run killed at any
point and started again with the same command ends with the weights an
uninterrupted run would have had.

With `distribution: multi_worker` every worker runs this same command on
the same `--out` (a shared volume). The chief alone writes the folder
above; every worker restores from the chief's backups, and the others write
what Keras needs every worker to write (backups, the best model) under
`workers/worker-<i>/`, removed when training ends. The feature cache is
split between the workers, each writing its share of recordings.
"""

import contextlib
import dataclasses
import os
import pathlib
import sys
import warnings

from emokeras.atomic_write import save_model_atomically
from emokeras.training.training_config import write_config


def train(config, progress=True):
    """Trains as `config` says and returns the path of `model.keras`."""
    import keras

    from emokeras.data import shard_format
    from emokeras.training.distribution import distribution_strategy

    metadata = shard_format.read_metadata(config.data)
    if metadata["image_size"] != config.image_size:
        raise ValueError(
            f"{config.data} holds {metadata['image_size']} px face crops but config key "
            f"'image_size' is {config.image_size}; set image_size={metadata['image_size']} "
            "or prepare the data again with --image-size"
        )
    targets = metadata["targets"]
    out = pathlib.Path(config.out)
    worker = _Worker.of(config)
    _check_or_write_config(config, out, write=worker.chief)
    final = out / "model.keras"
    if final.exists():
        print(f"emokeras train: {final} exists: this run is finished (use another --out to train again)")
        if worker.chief and not (out / "evaluation.json").exists():
            from emokeras.saving import load_model

            _evaluate(load_model(final, compile=False), config, out)
        return final
    strategy = distribution_strategy(config.distribution)
    if config.distribution != "none":
        print(
            f"emokeras train: {type(strategy).__name__.lstrip('_')} over {strategy.num_replicas_in_sync} replicas"
            + (f" ({worker.index + 1} of {worker.count} workers)" if worker.count > 1 else "")
        )
    if config.mixed_precision:
        import tensorflow as tf

        # No float16 3D pooling on CPUs: bfloat16 there.
        policy = "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"
        keras.mixed_precision.set_dtype_policy(policy)
    visual_weights = resolve_visual_weights(config) if config.fusion != "audio_only" else None
    if config.schedule == "end_to_end":
        model = _run_stage(
            config,
            worker.stage(out / "end_to_end"),
            targets,
            strategy,
            progress,
            build=lambda: build_model(config, targets, visual_weights=visual_weights),
            raw=True,
            epochs=config.epochs,
            learning_rate=config.learning_rate,
        )
    else:
        model = _two_stage(config, out, worker, targets, strategy, visual_weights, progress)
    if not worker.chief:
        _remove_tree(worker.scratch)
        with contextlib.suppress(OSError):  # the last worker out removes workers/
            worker.scratch.parent.rmdir()
        return final
    save_model_atomically(model, final)
    print(f"emokeras train: wrote {final}")
    _evaluate(model, config, out)
    return final


def _evaluate(model, config, out):
    """Scores the finished model on the test split (if there is one) as
    `emokeras evaluate` would, into `evaluation.json` / `.md`."""
    from emokeras.data.dataset import has_split
    from emokeras.evaluation.evaluate import evaluate_model
    from emokeras.evaluation.evaluate import write_report

    if not has_split(config.data, "test"):
        print(f"emokeras train: {config.data} has no test split: not evaluated")
        return None
    two_stage = config.schedule == "two_stage"
    report = evaluate_model(
        model,
        config.data,
        postprocess=has_split(config.data, "dev"),
        # The same numbers as the raw model, without running the backbones again.
        features_dir=out / "features" if two_stage else None,
    )
    paths = write_report(report, out)
    print(f"emokeras train: evaluated on the test split: {paths[1]}")
    return report


def _two_stage(config, out, worker, targets, strategy, visual_weights, progress):
    import keras

    from emokeras.atomic_write import wait_for_files
    from emokeras.data.features import FEATURES_METADATA
    from emokeras.data.features import extract_features
    from emokeras.saving import load_model

    # Stage 1: each unimodal branch the fusion uses (a frozen I3D is not trained).
    branches = {
        "audio": (config.fusion != "visual_only", None),
        "visual": (config.fusion != "audio_only" and not config.freeze_visual_backbone, visual_weights),
    }
    trained = {}
    for branch, (needed, weights) in branches.items():
        if not (needed and config.stage1_epochs):
            continue
        trained[branch] = _run_stage(
            config,
            worker.stage(out / f"stage1_{branch}"),
            targets,
            strategy,
            progress,
            build=lambda branch=branch, weights=weights: build_model(
                config, targets, fusion=f"{branch}_only", visual_weights=weights, presence_marks=False
            ),
            raw=True,
            epochs=config.stage1_epochs,
            learning_rate=config.stage1_learning_rate,
        )
    features = out / "features"
    assembled = features / "backbones.keras"
    keras.utils.set_random_seed(config.seed)
    # Outside the strategy: feature extraction needs no replicas (and a
    # replica's empty share of a last partial batch breaks the log-mel pad).
    # Saved backbones, if any, replace the pretrained weights anyway.
    model = build_model(
        config,
        targets,
        visual_weights=None if assembled.exists() else visual_weights,
        freeze_visual_backbone=True,
        freeze_audio_backbone=True,
    )
    if assembled.exists():
        # The exact backbones the cached features came from.
        _copy_backbones(load_model(assembled), model, assembled)
    else:
        if "audio" in trained:
            model.audio_backbone.set_weights(trained["audio"].audio_backbone.get_weights())
        if "visual" in trained:
            model.visual_backbone.set_weights(trained["visual"].visual_backbone.get_weights())
        if worker.chief:
            save_model_atomically(model, assembled)
    if not (features / FEATURES_METADATA).exists():
        print("emokeras train: caching backbone features (stage 1 -> stage 2)")
        # Each worker its share of the recordings; the chief writes the
        # metadata once every share is there, which the others wait for.
        extract_features(
            model,
            config.data,
            features,
            batch_size=config.feature_batch_size,
            progress=progress,
            shard=(worker.index + 1, worker.count),
        )
        wait_for_files([features / FEATURES_METADATA], "the feature cache's metadata (written by the chief)")
    fusion = _run_stage(
        config,
        worker.stage(out / "stage2_fusion"),
        targets,
        strategy,
        progress,
        build=lambda: _fusion_like(model),
        raw=False,
        epochs=config.epochs,
        learning_rate=config.learning_rate,
    )
    model.fusion_regressor.set_weights(fusion.get_weights())
    return model


def _copy_backbones(source, target, path):
    for name in ("visual_backbone", "audio_backbone"):
        if getattr(target, name) is None:
            continue
        if getattr(source, name) is None:
            raise ValueError(f"{path} has no {name} for the cached features this run needs; delete {path.parent}")
        getattr(target, name).set_weights(getattr(source, name).get_weights())


def _fusion_like(model):
    from emokeras.models import AVFusionRegressor

    return AVFusionRegressor.from_config(model.fusion_regressor.get_config())


def _run_stage(config, stage, targets, strategy, progress, build, raw, epochs, learning_rate):
    """One `fit` with best-model, backup, CSV and TensorBoard callbacks; a
    finished stage (its `model.keras`) is loaded instead of trained.
    `stage` is `(folder, own)`: the chief's stage folder, and where this
    process writes (the same folder on the chief)."""
    import keras

    from emokeras.atomic_write import remove_stale_temporaries
    from emokeras.losses import ConcordanceCorrelationLoss
    from emokeras.metrics import ConcordanceCorrelation
    from emokeras.saving import load_model
    from emokeras.training.atomic_backup_and_restore import AtomicBackupAndRestore
    from emokeras.training.atomic_backup_and_restore import backed_up_epoch
    from emokeras.training.best_model_checkpoint import BestModelCheckpoint
    from emokeras.training.paper_schedule import paper_learning_rate

    folder, own = stage
    chief = own == folder
    # Files a killed run was writing here (best.keras, model.keras) are of no use.
    remove_stale_temporaries(own)
    finished = folder / "model.keras"
    if finished.exists():
        print(f"emokeras train: {folder.name} already finished ({finished})")
        return load_model(finished)
    own.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    with strategy.scope():
        model = build()
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss={t: ConcordanceCorrelationLoss() for t in targets},
            weighted_metrics={t: [ConcordanceCorrelation(name="ccc")] for t in targets},
        )
    modalities = _modalities(model)
    start = backed_up_epoch(folder / "backup")
    steps = _steps_per_epoch(config, raw)
    train_data = _training_epochs(config, raw, modalities, start, epochs, steps)
    dev_data = _validation_data(config, raw, modalities)

    def learning_rate_at(epoch):
        if config.lr_schedule == "constant":
            return float(learning_rate)
        return paper_learning_rate(
            epoch, learning_rate, config.lr_decay_start, config.lr_decay_every, config.lr_decay_factor
        )

    best = own / "best.keras"
    callbacks = [keras.callbacks.LearningRateScheduler(learning_rate_at)]
    if dev_data is not None:
        # Keras names a single output's metrics without the output's name.
        monitor = [f"val_{t}_ccc" for t in targets] if len(targets) > 1 else ["val_ccc"]
        callbacks.append(BestModelCheckpoint(best, monitor))
    if chief:
        callbacks += [
            keras.callbacks.CSVLogger(folder / "log.csv", append=True),
            keras.callbacks.TensorBoard(folder / "tensorboard"),
        ]
    # Last, so that an epoch is only backed up once everything above saw it.
    # Every worker resumes from the chief's backup.
    callbacks.append(AtomicBackupAndRestore(own / "backup", restore_from=folder / "backup"))
    print(
        f"emokeras train: {folder.name}: {type(model).__name__}({model.fusion}) "
        f"epochs {start + 1}..{epochs} of {epochs}, {steps} steps each"
        + (f" (resumed after epoch {start})" if start else "")
    )
    if start < epochs:
        with warnings.catch_warnings():
            # The validation windows are read to their end every epoch, which
            # Keras reports as "ran out of data"; the training data cannot.
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            model.fit(
                train_data,
                validation_data=dev_data,
                epochs=epochs,
                initial_epoch=start,
                steps_per_epoch=steps,
                shuffle=False,
                callbacks=callbacks,
                verbose=1 if (progress and sys.stdout.isatty()) else (2 if progress else 0),
            )
    if best.exists():
        model = load_model(best)
    if chief:
        save_model_atomically(model, finished)
    _remove_tree(own / "backup")
    return model


def _modalities(model):
    """The model's inputs, by name (a unimodal model reads one modality)."""
    return tuple(layer_input.name for layer_input in model.inputs)


def windows_per_epoch(config, raw=True):
    """Training windows one epoch can count on: on raw recordings the fewest
    any random window offset gives, on cached features the clip-grid
    windows."""
    from emokeras.data.dataset import shard_files

    _, counts = shard_files(config.data, "train")
    windows = config.window_geometry()
    if raw:
        return sum(windows.fewest_windows(count) for count in counts)
    return sum(len(windows.grid_starts(count)) for count in counts)


def _steps_per_epoch(config, raw):
    """Full batches in one training epoch, the same for every epoch."""
    total = windows_per_epoch(config, raw)
    steps = total // config.batch_size
    if steps < 1:
        raise ValueError(
            f"the training split of {config.data} gives {total} window(s) per epoch, fewer than "
            f"config key 'batch_size' ({config.batch_size}); lower batch_size or add recordings"
        )
    return steps


def _training_epochs(config, raw, modalities, start, epochs, steps):
    """The batches of epochs `start..epochs-1`, epoch `e` shuffled with its
    own seed: what a resumed run sees is what the uninterrupted run saw."""
    import tensorflow as tf

    dataset = None
    for epoch in range(start, epochs):
        seed = config.seed * 100_003 + epoch
        one = _windows(config, raw, modalities, "train", "train", seed).take(steps)
        dataset = one if dataset is None else dataset.concatenate(one)
    # Fails loudly should an epoch ever yield fewer batches than planned.
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(steps * (epochs - start)))
    return _split_batches_between_workers(dataset)


def _split_batches_between_workers(dataset):
    """Every worker reads the same batches and keeps its share of each (not
    its share of the shard files, TensorFlow's default), so that workers
    train on the global batches one process would."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def _validation_data(config, raw, modalities):
    from emokeras.data.dataset import has_split

    if not has_split(config.data, "dev"):
        return None
    # Raw validation windows do not overlap: the same frames, clips times
    # less backbone work than the training stride.
    stride = config.clips * config.frames_per_clip if raw else None
    dataset = _windows(config, raw, modalities, "dev", "eval", config.seed, stride)
    dataset = dataset.map(lambda inputs, targets, info: (inputs, targets, info["weights"]))
    if config.distribution != "none":
        dataset = _full_batches(dataset, config.batch_size)
    return _split_batches_between_workers(dataset)


def _full_batches(dataset, batch_size):
    """The last partial batch filled up with windows of weight 0: every
    replica gets windows (the STFT's padding rejects an empty share) and
    the metrics are those of every real window, as on one device."""
    import tensorflow as tf

    def weightless(inputs, targets, weights):
        return inputs, targets, tf.nest.map_structure(tf.zeros_like, weights)

    windows = dataset.unbatch()
    filler = windows.take(1).map(weightless).repeat(batch_size - 1)
    return windows.concatenate(filler).batch(batch_size, drop_remainder=True)


def _windows(config, raw, modalities, split, mode, seed, stride=None):
    from emokeras.data.dataset import make_dataset
    from emokeras.data.features import make_feature_dataset

    windows = config.window_geometry()
    if stride:
        windows = dataclasses.replace(windows, stride=stride)
    common = dict(
        windows=windows,
        mode=mode,
        batch_size=config.batch_size,
        seed=seed,
        median_width=config.median_width,
        # One order per seed: Keras iterates a distributed dataset once more
        # to build the model, which must not change what training sees.
        reshuffle_each_iteration=False,
        # A model trained with modality dropout is also told what is there.
        presence_marks="visual_present" in modalities,
        # Only in training ("train" mode), for a model that takes the marks.
        modality_dropout=config.modality_dropout if "visual_present" in modalities else 0.0,
    )
    if raw:
        media = tuple(name for name in ("video", "audio") if name in modalities)
        return make_dataset(config.data, split, modalities=media, **common)
    dataset = make_feature_dataset(pathlib.Path(config.out) / "features", split, **common)

    def keep(inputs, *rest):
        # Feature shards hold both modalities; a unimodal model takes one.
        return ({name: value for name, value in inputs.items() if name in modalities}, *rest)

    return dataset.map(keep)


def build_model(config, targets, **overrides):
    """The run's `AVEmotionRegressor`: the config's model keys, `overrides`
    (e.g. another fusion for a unimodal stage), and the record of the
    training data it sees (its data contract)."""
    from emokeras.data import shard_format
    from emokeras.models import AVEmotionRegressor

    metadata = shard_format.read_metadata(config.data)
    training_data = {
        "median_width": config.median_width,
        "label_delays": config.label_delays,
        "face_crop": metadata["face_crop"],
        "stride": config.stride,
        "last_window": config.last_window,
        # How the corpus is scored: per frame, or one value per utterance.
        "unit": metadata["unit"],
        "scoring": metadata["scoring"],
    }
    arguments = {**config.model_arguments(), **overrides}
    # The heads span the corpus's own units (1-7, -10..10, 0-100, ...).
    ranges = metadata["target_ranges"]
    return AVEmotionRegressor(targets=targets, target_ranges=ranges, training_data=training_data, **arguments)


def resolve_visual_weights(config):
    """`visual_weights` as a `.weights.h5` path: a catalog name is fetched
    into the cache once (`emokeras weights --get NAME`)."""
    from emokeras.weights import WEIGHT_SOURCES
    from emokeras.weights import cached_i3d_weights

    name = config.visual_weights
    if name is None:
        return None
    if name in WEIGHT_SOURCES:
        if config.visual_backbone != "i3d":
            raise ValueError(
                f"config key 'visual_weights' is {name!r}, I3D weights, but visual_backbone is "
                f"{config.visual_backbone!r}; set visual_weights to a .weights.h5 of that backbone or null"
            )
        if config.width_multiplier != 1.0:
            raise ValueError(
                f"pretrained I3D weights ({name!r}) need width_multiplier 1.0, not {config.width_multiplier}"
            )
        return str(cached_i3d_weights(name))
    if not os.path.exists(name):
        raise ValueError(
            f"config key 'visual_weights' is {name!r}: neither a known weights name "
            f"({', '.join(WEIGHT_SOURCES)}) nor an existing file; use null for random weights"
        )
    return name


class _Worker:
    """This process in the cluster: `index` of `count` (0, the chief, writes
    the run folder) and `scratch`, where the others write what they must."""

    def __init__(self, out, index, count):
        self.index, self.count = index, count
        self.chief = index == 0
        self.scratch = pathlib.Path(out) if self.chief else pathlib.Path(out) / "workers" / f"worker-{index}"

    @classmethod
    def of(cls, config):
        from emokeras.training.distribution import cluster_position

        return cls(config.out, *cluster_position(config.distribution))

    def stage(self, folder):
        """`(the chief's stage folder, where this process writes)`."""
        return folder, folder if self.chief else self.scratch / folder.name


def _check_or_write_config(config, out, write):
    import yaml

    path = out / "config.yaml"
    if path.exists():
        before = yaml.safe_load(path.read_text())
        if before != config.to_dict():
            changed = sorted(k for k in set(before) | set(config.to_dict()) if before.get(k) != config.to_dict().get(k))
            raise ValueError(
                f"{out} holds a run with another configuration (keys {changed} differ); "
                "rerun with the same config to resume it, or give another --out"
            )
        return
    if write:
        write_config(config, path)


def _remove_tree(path):
    import shutil

    shutil.rmtree(path, ignore_errors=True)
