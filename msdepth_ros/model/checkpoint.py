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
Checkpoints (weights + the config they were trained with) and ImageNet weights for coarse 1-5.

A checkpoint is a ``torch.save`` of plain data, loaded with ``weights_only=True``::

    {'format': 'msdepth_ros.checkpoint', 'version': 1,
     'model_config': ModelConfig.to_dict(), 'state_dict': {...},
     'metadata': {...}, 'optimizer': {...} (optional), 'extra': {...} (optional)}

The weights may be stored as float16 (``save_checkpoint(..., weights_dtype='float16')``, half
the file); ``read_checkpoint_file`` and so every reader (``load_checkpoint``, the backends,
export, resuming) gets them back as float32.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import os
from pathlib import Path
from typing import Any, Mapping

from msdepth_ros.model.network import build_model, ModelConfig, MultiScaleDepthNet
import torch

CHECKPOINT_FORMAT = 'msdepth_ros.checkpoint'
CHECKPOINT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint or weights file that cannot be used; the message names file and cause."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model (eval mode), its config and the training metadata."""

    model: MultiScaleDepthNet
    config: ModelConfig
    metadata: dict[str, Any] = field(default_factory=dict)
    optimizer: dict[str, Any] | None = None
    extra: dict[str, Any] | None = None


def save_checkpoint(path: str | os.PathLike, model: MultiScaleDepthNet,
                    metadata: Mapping[str, Any] | None = None,
                    optimizer: Mapping[str, Any] | None = None,
                    extra: Mapping[str, Any] | None = None,
                    weights_dtype: str = 'float32') -> Path:
    """
    Write ``model`` with its config atomically (temporary file, then rename).

    ``metadata`` (training stage, steps, metrics, command line ...) and ``extra`` must be plain
    data (dicts, lists, strings, numbers, tensors); ``optimizer`` is an optimizer state dict.
    ``weights_dtype`` ``float16`` stores the floating-point weights at half size (readers get
    them back as float32).
    """
    path = Path(path)
    if weights_dtype not in ('float32', 'float16'):
        raise ValueError(f"weights_dtype must be 'float32' or 'float16', got {weights_dtype!r}")
    dtype = getattr(torch, weights_dtype)
    payload: dict[str, Any] = {
        'format': CHECKPOINT_FORMAT,
        'version': CHECKPOINT_VERSION,
        'model_config': model.config.to_dict(),
        'state_dict': {k: v.detach().cpu().to(dtype) if v.is_floating_point() else
                       v.detach().cpu() for k, v in model.state_dict().items()},
        'metadata': dict(metadata or {}),
    }
    if optimizer is not None:
        payload['optimizer'] = dict(optimizer)
    if extra is not None:
        payload['extra'] = dict(extra)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.tmp{os.getpid()}')
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_checkpoint_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate a checkpoint; ``CheckpointError`` names the file and the cause."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'{path}: no such checkpoint file')
    try:
        payload = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # noqa: B902 - torch.load raises many kinds on a foreign file
        raise CheckpointError(f'{path}: not a readable PyTorch checkpoint (truncated, corrupt '
                              f'or another format): {_first_line(exc)}') from None
    if not isinstance(payload, dict) or payload.get('format') != CHECKPOINT_FORMAT:
        raise CheckpointError(f'{path}: a PyTorch file, but not an msdepth_ros checkpoint '
                              f"(no 'format': '{CHECKPOINT_FORMAT}' entry)")
    if payload.get('version', 0) > CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: checkpoint version {payload['version']} is newer than "
                              f'this msdepth_ros reads ({CHECKPOINT_VERSION})')
    for key in ('model_config', 'state_dict'):
        if key not in payload:
            raise CheckpointError(f'{path}: checkpoint has no {key!r}')
    if not isinstance(payload['state_dict'], dict):
        raise CheckpointError(f"{path}: checkpoint's state_dict is not a mapping")
    # Weights stored as float16 (or bfloat16) come back as the float32 the network computes in.
    payload['state_dict'] = {
        k: v.float() if isinstance(v, torch.Tensor) and v.is_floating_point() else v
        for k, v in payload['state_dict'].items()}
    return payload


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = 'cpu') -> Checkpoint:
    """Build the network from a checkpoint's config and load its weights strictly."""
    payload = read_checkpoint_file(path)
    try:
        config = ModelConfig.from_dict(payload['model_config'])
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f'{path}: invalid model config: {exc}') from None
    model = build_model(config)
    missing, unexpected = _diff_keys(model.state_dict(), payload['state_dict'])
    if missing or unexpected:
        raise CheckpointError(f'{path}: weights do not fit the network: missing {missing}, '
                              f'unexpected {unexpected}')
    try:
        model.load_state_dict(payload['state_dict'], strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f'{path}: weights do not fit the network: '
                              f'{_first_line(exc)}') from None
    model.to(device).eval()
    return Checkpoint(model=model, config=config, metadata=dict(payload.get('metadata', {})),
                      optimizer=payload.get('optimizer'), extra=payload.get('extra'))


# -- ImageNet-pretrained coarse layers 1-5 ------------------------------------------------------

#: Key prefixes under which AlexNet-style files store convolutions 1-5: ours, Caffe conversions
#: (``conv1`` ...), torchvision's ``features`` sequence.
_CONV_KEY_CANDIDATES = {
    i: (f'coarse.conv{i}', f'conv{i}', f'features.{idx}')
    for i, idx in zip(range(1, 6), (0, 3, 6, 8, 10))
}


def load_imagenet_features(model: MultiScaleDepthNet, path: str | os.PathLike) -> list[str]:
    """
    Copy ImageNet-pretrained weights into coarse convolutions 1-5.

    ``path`` holds a state dict (or a dict with a ``state_dict`` or ``model`` entry) of an
    AlexNet-style network with 96, 256, 384, 384, 256 filters. Convolutions trained with two
    groups (the original two-GPU AlexNet, Caffe's ``bvlc_alexnet``: conv2, conv4, conv5 see half
    the input channels) are expanded to block-diagonal dense weights, which compute the same
    function. Returns the names of the loaded layers; ``CheckpointError`` when a layer is
    absent or its shape does not fit.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'{path}: no such ImageNet weights file')
    try:
        data = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # noqa: B902 - torch.load raises many kinds on a foreign file
        raise CheckpointError(f'{path}: not a readable PyTorch weights file: '
                              f'{_first_line(exc)}') from None
    for key in ('state_dict', 'model'):
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            data = data[key]
    if not isinstance(data, dict):
        raise CheckpointError(f'{path}: expected a state dict, got {type(data).__name__}')
    data = {k.removeprefix('module.'): v for k, v in data.items()}

    updates: dict[str, torch.Tensor] = {}
    loaded = []
    for i, candidates in _CONV_KEY_CANDIDATES.items():
        layer = getattr(model.coarse, f'conv{i}')
        prefix = next((p for p in candidates if f'{p}.weight' in data), None)
        if prefix is None:
            raise CheckpointError(f'{path}: no weights for coarse conv{i} (looked for '
                                  f"{', '.join(p + '.weight' for p in candidates)})")
        weight = _fit_weight(data[f'{prefix}.weight'], layer.weight, path, i)
        bias = data.get(f'{prefix}.bias')
        if bias is None or tuple(bias.shape) != tuple(layer.bias.shape):
            raise CheckpointError(f'{path}: coarse conv{i} bias must have shape '
                                  f'{tuple(layer.bias.shape)}, file has '
                                  f'{None if bias is None else tuple(bias.shape)}')
        updates[f'conv{i}.weight'] = weight
        updates[f'conv{i}.bias'] = bias.to(layer.bias.dtype)
        loaded.append(f'coarse.conv{i}')
    with torch.no_grad():
        for name, tensor in updates.items():
            model.coarse.get_parameter(name).copy_(tensor)
    return loaded


def _fit_weight(weight: torch.Tensor, target: torch.Tensor, path: Path, i: int) -> torch.Tensor:
    if tuple(weight.shape) == tuple(target.shape):
        return weight.to(target.dtype)
    out_c, in_c, kh, kw = target.shape
    if (weight.dim() == 4 and weight.shape[0] == out_c and weight.shape[2:] == (kh, kw)
            and weight.shape[1] * 2 == in_c):
        dense = torch.zeros_like(target)
        half_out, half_in = out_c // 2, in_c // 2
        dense[:half_out, :half_in] = weight[:half_out]
        dense[half_out:, half_in:] = weight[half_out:]
        return dense
    raise CheckpointError(f'{path}: coarse conv{i} weight must have shape {tuple(target.shape)} '
                          f'(or the two-group {(out_c, in_c // 2, kh, kw)}), file has '
                          f'{tuple(weight.shape)}')


def _diff_keys(expected: Mapping[str, Any], got: Mapping[str, Any]) -> tuple[list, list]:
    return sorted(set(expected) - set(got)), sorted(set(got) - set(expected))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
