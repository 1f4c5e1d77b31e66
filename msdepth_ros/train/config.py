# Copyright 2026 The msdepth_ros Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.


"""
The training configuration: frozen dataclasses that a YAML file maps onto.

Defaults are the paper's (Eigen et al., NIPS 2014, section 3): SGD with momentum 0.9, batches of
32, learning rates 0.001 for coarse layers 1-5, 0.1 for coarse layers 6-7, 0.001 / 0.01 / 0.001
for fine layers 1 / 3 / 4, the coarse network trained first and then held fixed while the fine
network trains. Unknown keys are errors that name the key, so a typo never trains silently with
a default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass
import math
import os
from pathlib import Path
import types
import typing
from typing import Any, Mapping, Sequence

from msdepth_ros.core.presets import get_preset, Preset
from msdepth_ros.data.augment import AugmentConfig
from msdepth_ros.data.registry import DataSpec

STAGES = ('coarse', 'fine')

#: Values of ``TrainConfig.amp``.
AMP_MODES = ('auto', 'off', 'float16', 'bfloat16')
#: Learning-rate schedules of a stage (``StageConfig.lr_schedule``).
LR_SCHEDULES = ('constant', 'cosine')
#: Optimizers of a stage (``StageConfig.optimizer``).
OPTIMIZERS = ('sgd', 'adam')
#: Weight types of the stage and final checkpoints (``TrainConfig.checkpoint_dtype``).
CHECKPOINT_DTYPES = ('float32', 'float16')

#: Parameter groups of each stage (learning-rate keys) -> the layers they hold.
STAGE_GROUPS = {
    'coarse': {'conv': ('coarse.conv1', 'coarse.conv2', 'coarse.conv3', 'coarse.conv4',
                        'coarse.conv5'),
               'fc': ('coarse.fc6', 'coarse.fc7')},
    'fine': {'conv1': ('fine.conv1',), 'conv3': ('fine.conv3',), 'conv4': ('fine.conv4',)},
}

#: The paper's learning rates.
PAPER_LR = {'coarse': {'conv': 0.001, 'fc': 0.1},
            'fine': {'conv1': 0.001, 'conv3': 0.01, 'conv4': 0.001}}

#: The paper's training lengths in samples (section 4): NYU coarse 2M, fine 1.5M;
#: KITTI coarse 1.5M, fine 1M. A stage that gives no ``samples`` takes its preset's.
PAPER_SAMPLES = {'nyu': {'coarse': 2_000_000, 'fine': 1_500_000},
                 'kitti': {'coarse': 1_500_000, 'fine': 1_000_000}}


class ConfigError(ValueError):
    """A training config that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class StageConfig:
    """
    One stage: how many samples it sees and its learning rates.

    ``lr`` maps the stage's parameter groups (``STAGE_GROUPS``) to learning rates; missing
    groups take the paper's values. ``samples`` 0 skips the stage; None (left out) takes the
    paper's length for the model's preset (``PAPER_SAMPLES``). ``lr_schedule`` (``LR_SCHEDULES``)
    is ``constant`` (the paper) or ``cosine``: the rates fall from ``lr`` at the stage's first
    step to 0 after its last, as ``(1 + cos(pi * step / steps)) / 2`` (not in the paper).
    ``optimizer`` (``OPTIMIZERS``) is ``sgd`` (the paper: SGD with ``TrainConfig.momentum``) or
    ``adam`` (not in the paper: PyTorch's Adam with its default betas 0.9 / 0.999 and eps 1e-8;
    its rates are step sizes, typically 1e-4 where SGD takes 0.01).
    """

    samples: int | None = None
    lr: Mapping[str, float] = field(default_factory=dict)
    lr_schedule: str = 'constant'
    optimizer: str = 'sgd'

    def lr_factor(self, step: int, steps: int) -> float:
        """Factor on ``lr`` at 0-based ``step`` of a stage of ``steps`` steps."""
        if self.lr_schedule == 'constant' or steps <= 0:
            return 1.0
        return 0.5 * (1.0 + math.cos(math.pi * min(max(step, 0), steps) / steps))


@dataclass(frozen=True)
class ModelSection:
    """
    The network.

    Attributes
    ----------
    preset:
        ``nyu``, ``kitti`` or a full preset mapping (``Preset.to_dict``).
    coarse_fc_width:
        Width of coarse layer 6 (4096 in the paper).
    dropout:
        Dropout after coarse layer 6.
    imagenet_weights:
        Optional file with ImageNet weights for coarse layers 1-5
        (``model.checkpoint.load_imagenet_features``).
    init_coarse_bias:
        Start coarse layer 7's bias at the mean log depth of the training targets (not in the
        paper, which had ImageNet features to start from; it lets from-scratch training begin
        at the right scale).
    init_coarse_bias_per_pixel:
        With ``init_coarse_bias``, start each output pixel's bias at that pixel's mean log
        depth over the first 64 training targets (the overall mean where none has depth)
        instead of one mean for all: the network starts at the data set's average depth map
        (for streets, the road's ramp) and its weights learn what differs per image.
    init_fine_identity:
        Start the fine network as a pass-through of the coarse output (not in the paper):
        fine 3 copies ``relu(+coarse)`` and ``relu(-coarse)`` into two channels and fine 4
        takes their difference, with fine 4's other weights zero, so the fine stage starts at
        the coarse result instead of at a random map.

    """

    preset: Any = 'nyu'
    coarse_fc_width: int = 4096
    dropout: float = 0.5
    imagenet_weights: str = ''
    init_coarse_bias: bool = False
    init_coarse_bias_per_pixel: bool = False
    init_fine_identity: bool = False

    def get_preset(self) -> Preset:
        """Return the preset this section names or spells out."""
        if isinstance(self.preset, str):
            return get_preset(self.preset)
        return Preset.from_dict(self.preset)


@dataclass(frozen=True)
class DataSection:
    """Training data and (optional) validation data."""

    train: DataSpec
    val: DataSpec | None = None


@dataclass(frozen=True)
class TrainConfig:
    """
    Everything one training run needs (``msdepth-train`` reads it from YAML).

    Attributes
    ----------
    data:
        Training and validation data sets.
    model:
        The network.
    coarse, fine:
        The two stages; ``fine`` trains with the coarse network frozen.
    augment:
        Augmentation ranges; None takes the paper's for the preset.
    output_dir:
        Checkpoints, the CSV log and the config go here.
    batch_size:
        Global batch (split evenly across DDP ranks).
    momentum, weight_decay:
        SGD settings (the paper: momentum 0.9; weight decay is not stated, 0 here); a stage
        with ``optimizer: adam`` uses ``weight_decay`` too, not ``momentum``.
    loss_lambda:
        Weight of the scale-invariant term of the loss (0.5 in the paper).
    mask_min_max:
        Drop each image's minimum and maximum recorded depth (NYU's in-painted maps), taken
        over the whole recorded image before crop, augmentation and the depth cap
        (``data.augment.mask_recorded_extremes``).
    normalize_focal:
        Scale targets to the preset's training focal length (see ``data.augment``).
    grad_clip_norm:
        Clip the gradient norm to this value (0: no clipping, as in the paper).
    seed:
        Seed of weights, data order and augmentation.
    device:
        ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
    amp:
        Mixed precision (``AMP_MODES``): ``auto`` (float16 autocast with a gradient scaler on
        CUDA, off on the CPU), ``off``, ``float16`` (CUDA only) or ``bfloat16`` (GPUs that
        support it, such as Ampere and newer, and CPUs; no gradient scaler needed). YAML
        ``true`` / ``false`` read as ``auto`` / ``off``.
    workers:
        Data-loading processes per rank.
    log_every_steps:
        Steps between CSV rows of the training loss.
    val_every_samples, checkpoint_every_samples:
        Validate / save a resumable checkpoint every so many samples (0: at stage ends only).
    val_limit:
        Validate on at most this many samples (0: all).
    record_samples:
        Each rank writes the sample indices it trained on to ``samples_rank{R}.txt``.
    checkpoint_dtype:
        Weight type of ``coarse.pt``, ``fine.pt`` and ``model.pt`` (``CHECKPOINT_DTYPES``):
        ``float16`` halves the file; ``load_checkpoint`` reads it back as float32. Training
        and the resumable ``checkpoint_last.pt`` stay float32.

    """

    data: DataSection
    model: ModelSection = field(default_factory=ModelSection)
    coarse: StageConfig = field(default_factory=StageConfig)
    fine: StageConfig = field(default_factory=StageConfig)
    augment: AugmentConfig | None = None
    output_dir: str = 'runs/train'
    batch_size: int = 32
    momentum: float = 0.9
    weight_decay: float = 0.0
    loss_lambda: float = 0.5
    mask_min_max: bool = False
    normalize_focal: bool = True
    grad_clip_norm: float = 0.0
    seed: int = 0
    device: str = 'auto'
    amp: str | bool = 'auto'
    workers: int = 4
    log_every_steps: int = 20
    val_every_samples: int = 0
    checkpoint_every_samples: int = 0
    val_limit: int = 0
    record_samples: bool = False
    checkpoint_dtype: str = 'float32'

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f'batch_size must be positive, got {self.batch_size}')
        if self.device not in ('auto', 'cpu', 'cuda'):
            raise ConfigError(f"device must be 'auto', 'cpu' or 'cuda', got {self.device!r}")
        if isinstance(self.amp, bool):
            object.__setattr__(self, 'amp', 'auto' if self.amp else 'off')
        if self.amp not in AMP_MODES:
            raise ConfigError(f'amp must be one of {AMP_MODES}, got {self.amp!r}')
        preset_name = self.model.get_preset().name  # fails early on a bad preset
        for stage in STAGES:
            if self.stage_field(stage).samples is None and preset_name not in PAPER_SAMPLES:
                raise ConfigError(f'{stage}.samples: the paper gives no length for preset '
                                  f'{preset_name!r}; set it')
            cfg = self.stage(stage)
            if cfg.samples < 0:
                raise ConfigError(f'{stage}.samples must be >= 0, got {cfg.samples}')
            if cfg.lr_schedule not in LR_SCHEDULES:
                raise ConfigError(f'{stage}.lr_schedule must be one of {LR_SCHEDULES}, got '
                                  f'{cfg.lr_schedule!r}')
            if cfg.optimizer not in OPTIMIZERS:
                raise ConfigError(f'{stage}.optimizer must be one of {OPTIMIZERS}, got '
                                  f'{cfg.optimizer!r}')
            unknown = set(cfg.lr) - set(STAGE_GROUPS[stage])
            if unknown:
                raise ConfigError(f'{stage}.lr has unknown groups {sorted(unknown)}; the '
                                  f'groups are {sorted(STAGE_GROUPS[stage])}')
        if self.checkpoint_dtype not in CHECKPOINT_DTYPES:
            raise ConfigError(f'checkpoint_dtype must be one of {CHECKPOINT_DTYPES}, got '
                              f'{self.checkpoint_dtype!r}')
        if self.workers < 0:
            raise ConfigError(f'workers must be >= 0, got {self.workers}')

    def stage_field(self, name: str) -> StageConfig:
        """Return stage ``coarse`` or ``fine`` as the config gives it."""
        return self.coarse if name == 'coarse' else self.fine

    def stage(self, name: str) -> StageConfig:
        """Return stage ``coarse`` or ``fine``, its length resolved (``StageConfig``)."""
        cfg = self.stage_field(name)
        if cfg.samples is not None:
            return cfg
        return StageConfig(samples=PAPER_SAMPLES[self.model.get_preset().name][name],
                           lr=cfg.lr, lr_schedule=cfg.lr_schedule, optimizer=cfg.optimizer)

    def autocast_dtype(self, device_type: str, bfloat16_supported: bool = True) -> str | None:
        """
        Name of the autocast dtype on ``device_type`` (``cuda``, ``cpu``), None for full precision.

        ``bfloat16_supported``: whether the GPU has bfloat16 (``torch.cuda.is_bf16_supported``).
        """
        if self.amp == 'off' or (self.amp == 'auto' and device_type != 'cuda'):
            return None
        if self.amp == 'auto':
            return 'float16'
        if self.amp == 'float16' and device_type != 'cuda':
            raise ConfigError("amp 'float16' is for CUDA devices; use 'bfloat16' or 'off' on "
                              f'{device_type}')
        if self.amp == 'bfloat16' and device_type == 'cuda' and not bfloat16_supported:
            raise ConfigError("amp 'bfloat16': this GPU has no bfloat16; use 'float16'")
        return self.amp

    def learning_rates(self, stage: str) -> dict[str, float]:
        """Learning rate of each parameter group of ``stage`` (the paper's where unset)."""
        return {**PAPER_LR[stage], **{k: float(v) for k, v in self.stage(stage).lr.items()}}

    def augmentation(self) -> AugmentConfig:
        """Return the augmentation ranges (the paper's for the preset when unset)."""
        if self.augment is not None:
            return self.augment
        return AugmentConfig.paper(self.model.get_preset().name)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for checkpoints and ``config.yaml``), stage lengths resolved."""
        data = asdict(self)
        for stage in STAGES:
            data[stage] = asdict(self.stage(stage))
        return plain_data(data)


def plain_data(value: Any) -> Any:
    """
    Convert ``value`` to plain Python data (dicts, lists, str, int, float, bool, None).

    Checkpoints are loaded with ``weights_only=True``, which refuses numpy scalars and tuples
    of objects: everything stored as metadata goes through this first.
    """
    if isinstance(value, Mapping):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    if hasattr(value, 'item') and callable(value.item) and not isinstance(value, (str, bytes)):
        return value.item()  # numpy scalars
    return value


def _build(cls: type, data: Any, where: str) -> Any:
    """Build dataclass ``cls`` from a mapping, recursively; errors name the key path."""
    if not isinstance(data, Mapping):
        raise ConfigError(f'{where}: expected a mapping, got {type(data).__name__}')
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ConfigError(f'{where}: unknown keys {sorted(unknown)}; known keys are '
                          f'{sorted(names)}')
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _convert(hints[name], value, f'{where}.{name}' if where else name)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f'{where or "config"}: {exc}') from None
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f'{where or "config"}: {exc}') from None


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        # The first alternative that takes the value (``str | bool``: a string or a boolean).
        for alternative in inner[:-1]:
            try:
                return _convert(alternative, value, where)
            except ConfigError:
                continue
        return _convert(inner[-1], value, where)
    if isinstance(hint, type) and is_dataclass(hint):
        return _build(hint, value, where)
    if hint is Any:
        return value
    if origin in (Mapping, dict) or hint in (Mapping, dict):
        if not isinstance(value, Mapping):
            raise ConfigError(f'{where}: expected a mapping, got {value!r}')
        return dict(value)
    if origin in (tuple, Sequence, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f'{where}: expected a list, got {value!r}')
        return tuple(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f'{where}: expected true or false, got {value!r}')
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise ConfigError(f'{where}: expected an integer, got {value!r}')
        return int(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f'{where}: expected a number, got {value!r}')
        return float(value)
    if hint is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f'{where}: expected a string, got {value!r}')
        return str(value)
    return value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """
    Apply ``key.sub=value`` overrides (values parsed as YAML) to a config mapping.

    Returns a new mapping; ``ConfigError`` for a malformed override.
    """
    import copy

    import yaml
    data = copy.deepcopy(data)
    for item in overrides:
        key, sep, raw = item.partition('=')
        if not sep or not key.strip():
            raise ConfigError(f'override {item!r} is not KEY=VALUE')
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f'override {item!r}: not a YAML value: {exc}') from None
        parts = key.strip().split('.')
        node = data
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f'override {item!r}: {part!r} is not a mapping')
            node = child
        node[parts[-1]] = value
    return data


def config_from_dict(data: Mapping[str, Any], source: str = 'config') -> TrainConfig:
    """Build a ``TrainConfig``; errors are ``ConfigError`` naming ``source`` and the key."""
    try:
        return _build(TrainConfig, data, '')
    except ConfigError as exc:
        raise ConfigError(f'{source}: {exc}') from None
    except ValueError as exc:  # errors of nested constructors (presets, data specs)
        raise ConfigError(f'{source}: {exc}') from None


def load_config(path: str | os.PathLike, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a YAML training config and apply ``key=value`` overrides."""
    import yaml
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f'{path}: no such config file')
    try:
        data = yaml.safe_load(path.read_text(encoding='utf-8')) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f'{path}: not valid YAML: {exc}') from None
    if not isinstance(data, dict):
        raise ConfigError(f'{path}: the top level must be a mapping')
    return config_from_dict(apply_overrides(data, overrides), str(path))


def dump_config(config: TrainConfig) -> str:
    """Return the config as YAML (what ``load_config`` reads back)."""
    import yaml
    return yaml.safe_dump(config.to_dict(), sort_keys=False)
