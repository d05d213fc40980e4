"""Experiments as YAML files: every setting a run used, so a result can be rerun from its
file (``convlstm-ae experiment --config FILE``). Each run writes its own file,
``OUT/experiment.yaml``."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from convlstm_ae.atomic import writable_folder
from convlstm_ae.config import read_mapping, typed_values
from convlstm_ae.errors import ConfigError
from convlstm_ae.experiments.moving_mnist import MovingMNISTExperiment
from convlstm_ae.experiments.real_video import RealVideoExperiment

REAL_DATASETS = ("ped1", "ped2", "avenue", "entrance", "exit")
EXPERIMENT_FILE = "experiment.yaml"


def experiment_class(kind: str) -> type:
    if kind == "moving-mnist":
        return MovingMNISTExperiment
    if kind in REAL_DATASETS:
        return RealVideoExperiment
    raise ConfigError(f"experiment {kind!r} is unknown; expected moving-mnist or one of "
                      f"{', '.join(REAL_DATASETS)}")


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def experiment_to_yaml(kind: str, experiment: Any) -> str:
    """Every setting of ``experiment``, as the YAML :func:`read_experiment` reads."""
    values = {"experiment": kind, **_plain(dataclasses.asdict(experiment))}
    values.pop("name", None)  # a real dataset's name is its kind
    return yaml.safe_dump(values, sort_keys=False)


def read_experiment(path: Path) -> tuple[str, Any]:
    """(kind, experiment settings) of a YAML experiment file; errors name the file."""
    values = read_mapping(path, "experiment")
    if "experiment" not in values:
        raise ConfigError(f"{path}: expected a mapping with an 'experiment' key")
    kind = str(values.pop("experiment"))
    try:
        cls = experiment_class(kind)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    unknown = sorted(set(values) - set(get_type_hints(cls)))
    if unknown:
        raise ConfigError(f"{path}: unknown setting {unknown[0]!r} for experiment {kind}")
    values = typed_values(cls, values, str(path))
    if cls is RealVideoExperiment:
        values["name"] = kind
    try:
        return kind, cls(**values)
    except (TypeError, ConfigError) as error:
        raise ConfigError(f"{path}: {error}") from None


def run_experiment(kind: str, experiment: Any) -> dict:
    """Write the run's own experiment file, then run it."""
    from convlstm_ae.experiments import moving_mnist, real_video

    writable_folder(experiment.out_dir)
    (experiment.out_dir / EXPERIMENT_FILE).write_text(experiment_to_yaml(kind, experiment))
    module = moving_mnist if kind == "moving-mnist" else real_video
    return module.run(experiment)
