"""Configuration dataclasses and their JSON/YAML round trip.

A preset (see :mod:`convlstm_ae.model.presets`) is a ``ModelConfig`` plus a
``TrainConfig``; a config file overrides some of their fields. Unknown keys
are errors that name the file and the key.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import types
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

import yaml

from convlstm_ae.errors import ConfigError

ARCHITECTURES = ("convlstm_ae", "conv_ae")
NORMALIZATIONS = ("unit", "mean_frame")
OUTPUT_ACTIVATIONS = ("linear", "tanh")
# Sec. 4.2: T' = 10 (Avenue, Ped1, Ped2); the whole video (None) for Subway
DEFAULT_T_PRIME = 10
# the longest finite T' (a day of video at 10 fps); longer is the whole video, t_prime None
MAX_T_PRIME = 1_000_000
T_PRIME_BY_LAYOUT: dict[str, int | None] = {"subway": None}
WINDOWS = ("reset", "sliding", "overlap")  # T' window schemes, see scoring/windows.py
ERRORS = ("sum", "sqrt")
CACHE_ENV = "CONVLSTM_AE_CACHE"


def default_cache_dir() -> Path:
    """Where decoded frames and ONNX graphs are cached: ``$CONVLSTM_AE_CACHE`` if set,
    else ``~/.cache/convlstm-ae``."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "convlstm-ae"


# ceilings of a model's sizes, far above every preset's (225 px, T = 10, 512 channels,
# kernels of 7); model/presets.py also bounds the parameter count they multiply to
MAX_FRAME_SIZE, MAX_CLIP_LENGTH, MAX_CHANNELS, MAX_KERNEL = 4096, 1000, 8192, 31


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of one model; the defaults are the paper's (Sec. 3.2, 4.1)."""

    preset: str = "paper"
    architecture: str = "convlstm_ae"  # or "conv_ae", the baseline of Hasan et al. [9]
    in_channels: int = 1  # grayscale
    frame_size: int = 225  # frames are resized to frame_size x frame_size (Sec. 4.1)
    encoder_channels: tuple[int, ...] = (128, 256, 512)  # Sec. 3.2; decoders mirror them
    encoder_kernels: tuple[int, ...] = (7, 5, 3)
    encoder_strides: tuple[int, ...] = (2, 2, 2)
    lstm_channels: int = 512  # ConvLSTM output size equals its input size (Sec. 3.2)
    lstm_kernel: int = 3
    output_activation: str = "linear"  # "tanh" in the authors' Caffe release
    normalization: str = "unit"  # pixels / 255; "mean_frame": minus the training mean frame
    clip_length: int = 10  # T (Sec. 4.2)

    def __post_init__(self) -> None:
        _check_choice("architecture", self.architecture, ARCHITECTURES)
        _check_choice("normalization", self.normalization, NORMALIZATIONS)
        _check_choice("output_activation", self.output_activation, OUTPUT_ACTIVATIONS)
        layers = {len(self.encoder_channels), len(self.encoder_kernels), len(self.encoder_strides)}
        if len(layers) != 1:
            raise ConfigError(
                "encoder_channels, encoder_kernels and encoder_strides must have the same length"
            )
        sizes = {  # field: (its values, their ceiling)
            "frame_size": ([self.frame_size], MAX_FRAME_SIZE),
            "clip_length": ([self.clip_length], MAX_CLIP_LENGTH),
            "in_channels": ([self.in_channels], MAX_CHANNELS),
            "encoder_channels": (self.encoder_channels, MAX_CHANNELS),
            "lstm_channels": ([self.lstm_channels], MAX_CHANNELS),
            "encoder_kernels": (self.encoder_kernels, MAX_KERNEL),
            "lstm_kernel": ([self.lstm_kernel], MAX_KERNEL),
            "encoder_strides": (self.encoder_strides, MAX_KERNEL),
        }
        for name, (values, ceiling) in sizes.items():
            if not all(is_whole(v) and 1 <= v <= ceiling for v in values):
                shown = values[0] if len(values) == 1 else values
                raise ConfigError(f"{name} must be a whole number in [1, {ceiling:,}], "
                                  f"got {shown!r}")
        if any(k % 2 == 0 for k in (*self.encoder_kernels, self.lstm_kernel)):
            raise ConfigError("kernel sizes must be odd so that zero padding keeps sizes aligned")


# ceilings of the training schedule: steps (1000 times the paper's 10,000) and workers
MAX_STEPS = 10_000_000
MAX_WORKERS = 256


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation schedule; the defaults are the paper's (Sec. 4.1)."""

    learning_rate: float = 0.01  # AdaGrad
    weight_decay: float = 0.0
    batch_size: int = 4
    max_steps: int = 10_000
    sampling_strides: tuple[int, ...] = (1, 2, 3)  # frame strides of training clips [9]
    seed: int = 0
    num_workers: int = 2
    checkpoint_every: int = 500  # steps between atomic training checkpoints
    log_every: int = 25  # steps between logged losses (no host sync in between)
    snapshot_steps: tuple[int, ...] = ()  # steps at which the weights are also released

    def __post_init__(self) -> None:
        for name in ("batch_size", "max_steps", "checkpoint_every", "log_every"):
            value = getattr(self, name)
            if not is_whole(value) or not 1 <= value <= MAX_STEPS:
                raise ConfigError(f"{name} must be a whole number in [1, {MAX_STEPS:,}], "
                                  f"got {value!r}")
        if not is_whole(self.num_workers) or not 0 <= self.num_workers <= MAX_WORKERS:
            raise ConfigError(f"num_workers must be a whole number in [0, {MAX_WORKERS}], "
                              f"got {self.num_workers!r}")
        if not 0 < self.learning_rate < math.inf:
            raise ConfigError(f"learning_rate must be positive and finite, got "
                              f"{self.learning_rate!r}")
        if not is_whole(self.seed) or not 0 <= self.seed < 2**32:
            raise ConfigError(f"seed must be a whole number in [0, 2**32), got {self.seed!r}")
        if not 0 <= self.weight_decay < math.inf:
            raise ConfigError(f"weight_decay must be >= 0 and finite, got {self.weight_decay!r}")
        if not self.sampling_strides or min(self.sampling_strides) < 1:
            raise ConfigError(f"sampling_strides must be positive, got {self.sampling_strides}")
        if any(step < 1 for step in self.snapshot_steps):
            raise ConfigError(f"snapshot steps must be positive, got {self.snapshot_steps}")



def default_patch_size(frame_size: int) -> int:
    """Patch side of the localized score: 1/28 of the frame, 8 px at 225 px, about
    the image area one ConvLSTM cell of the paper model sees (encoder stride 8)."""
    return max(3, round(frame_size / 28))


def default_cell_size(frame_size: int) -> int:
    """Cell side of the located live score (beyond the paper): 1/8 of the frame (8 px at
    64 px, 28 px at 225 px), chosen on validation (docs/results/ped2-cpu-live); at least
    2 px."""
    return max(2, round(frame_size / 8))


@dataclass(frozen=True)
class ScoringConfig:
    """How test videos are scored (Sec. 3.3)."""

    t_prime: int | None = DEFAULT_T_PRIME  # T': memory window; None keeps memory all video
    # "reset": consecutive T'-frame windows, the memory forgotten at each window's start;
    # "sliding": every frame scored at the end of its own window of T' frames;
    # "overlap": the authors' released test code, windows every T'/2 frames, last half scored
    windows: str = "reset"
    error: str = "sum"  # e(t): Eq. 3 ("sum"), or its square root ("sqrt", the authors' code)
    patch_size: int | None = None  # localized score's patch side; None: 1/28 of the frame
    cell_size: int | None = None  # located live score's cell side; None: 1/8 of the frame

    def __post_init__(self) -> None:
        _check_choice("windows", self.windows, WINDOWS)
        _check_choice("error", self.error, ERRORS)
        if self.t_prime is not None and (not is_whole(self.t_prime)
                                         or not 1 <= self.t_prime <= MAX_T_PRIME):
            raise ConfigError(f"t_prime must be a whole number of frames in [1, "
                              f"{MAX_T_PRIME:,}] or null (the whole video), got {self.t_prime!r}")
        for name in ("patch_size", "cell_size"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f"{name} must be a positive number of pixels or null, "
                                  f"got {getattr(self, name)}")
        if self.windows != "reset" and self.t_prime is None:
            raise ConfigError(f"{self.windows} windows need a finite T' (t_prime), "
                              "not the whole video")


Config = TypeVar("Config", ModelConfig, TrainConfig, ScoringConfig)


def is_whole(value: object) -> bool:
    """An int that is not a bool (YAML's ``true`` is no step count)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} {value!r} is unknown; expected one of {', '.join(choices)}")


def config_from_dict(cls: type[Config], values: dict[str, Any], source: str = "config") -> Config:
    """Build ``cls`` from a plain dict, turning lists into tuples.

    Raises:
        ConfigError: on a key that ``cls`` does not have, or a required one missing,
            naming ``source``.
    """
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown key {unknown[0]!r} for {cls.__name__}")
    missing = [f.name for f in fields(cls) if f.default is MISSING
               and f.default_factory is MISSING and f.name not in values]
    if missing:
        raise ConfigError(f"{source}: missing key {missing[0]!r} for {cls.__name__}")
    converted = {k: _tuples(v) for k, v in values.items()}
    try:
        return cls(**converted)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None


def _tuples(value: Any) -> Any:
    """YAML's lists as tuples, nested ones too (frozen configs hold tuples)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def typed_values(cls: type, values: dict[str, Any], source: str) -> dict[str, Any]:
    """``values`` of a YAML/JSON mapping checked against the type hints of dataclass
    ``cls``, strictly (a bool is no number, a float no count), lists turned into tuples
    and strings into paths where a field is a ``Path``; keys ``cls`` lacks are left for
    :func:`config_from_dict` (or the caller) to refuse.

    Raises:
        ConfigError: ``SOURCE: NAME must be of type T, got VALUE``.
    """
    hints = get_type_hints(cls)
    typed = {}
    for name, value in values.items():
        if name not in hints:
            typed[name] = value
            continue
        converted = _tuples(value)
        if isinstance(converted, str) and "Path" in str(hints[name]):
            converted = Path(converted)
        if not _fits(converted, hints[name]):
            raise ConfigError(f"{source}: {name} must be of type {_spelled(hints[name])}, "
                              f"got {value!r}")
        typed[name] = converted
    return typed


def _fits(value: Any, hint: Any) -> bool:
    """Whether a YAML value has the type of its setting, strictly: a bool is no number
    and a float no count."""
    origin, args = get_origin(hint), get_args(hint)
    if origin is types.UnionType:
        return any(_fits(value, arg) for arg in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis or len(args) == 1:
            return isinstance(value, tuple) and all(_fits(v, args[0]) for v in value)
        return (isinstance(value, tuple) and len(value) == len(args)
                and all(_fits(v, a) for v, a in zip(value, args, strict=True)))
    if hint is int:
        return is_whole(value)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is Any:
        return True
    return isinstance(value, origin or hint)


def _spelled(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint)


def read_mapping(path: str | Path, what: str = "config") -> dict[str, Any]:
    """The top-level mapping of a YAML (or ``.json``) file; errors name the file.

    Raises:
        ConfigError: no such file, not YAML/JSON, or not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: {what} file not found")
    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid YAML/JSON ({type(error).__name__})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def config_to_dict(config: ModelConfig | TrainConfig | ScoringConfig) -> dict[str, Any]:
    """Plain, JSON-serialisable dict of a config."""
    values = dataclasses.asdict(config)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON mapping of sections ``model``, ``train``, ``scoring``."""
    data = read_mapping(path)
    unknown = sorted(set(data) - {"preset", "model", "train", "scoring"})
    if unknown:
        raise ConfigError(f"{path}: unknown section {unknown[0]!r}")
    for section in ("model", "train", "scoring"):
        if not isinstance(data.get(section, {}), dict):
            raise ConfigError(f"{path}: section {section!r} must be a mapping of settings")
    return data


def dataset_t_prime(layout: str) -> int | None:
    """T' of the paper for a dataset layout: the whole video for Subway, else 10."""
    return T_PRIME_BY_LAYOUT.get(layout, DEFAULT_T_PRIME)
