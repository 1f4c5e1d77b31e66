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

"""Layer-by-layer table of the network (DESIGN.md section 3), measured by running it."""

from __future__ import annotations

from dataclasses import dataclass

from msdepth_ros.model.network import ModelConfig, MultiScaleDepthNet
import torch
from torch import nn


@dataclass(frozen=True)
class LayerRow:
    """One row: layer name, output channels, output width and height, parameter count."""

    name: str
    channels: int
    width: int
    height: int
    parameters: int


def layer_table(config: ModelConfig) -> list[LayerRow]:
    """
    Rows of the paper's Fig. 1 for ``config``, from a forward pass of a zero image.

    Each row is a stage of the paper (convolution with its ReLU and pool; fully connected
    layer; the fine concatenation), with the output size after the stage's pool.
    """
    model = MultiScaleDepthNet(config).eval()
    c = model.coarse
    f = model.fine
    stages: list[tuple[str, nn.Module, list[nn.Module]]] = [
        ('coarse 1', c.pool1, [c.conv1]), ('coarse 2', c.pool2, [c.conv2]),
        ('coarse 3', c.conv3, [c.conv3]), ('coarse 4', c.conv4, [c.conv4]),
        ('coarse 5', c.pool5, [c.conv5]), ('coarse 6', c.fc6, [c.fc6]),
        ('coarse 7', c, [c.fc7]), ('fine 1', f.pool1, [f.conv1]),
        ('fine 3', f.conv3, [f.conv3]), ('fine 4', f.conv4, [f.conv4]),
    ]
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = []
    for name, module, _ in stages:
        def hook(_m: nn.Module, _i: object, out: torch.Tensor, name: str = name) -> None:
            shapes[name] = tuple(out.shape)
        hooks.append(module.register_forward_hook(hook))
    preset = config.preset
    with torch.no_grad():
        model(torch.zeros(1, 3, preset.input_height, preset.input_width))
    for h in hooks:
        h.remove()

    rows = []
    for name, _module, params in stages:
        shape = shapes[name]
        n_params = sum(p.numel() for m in params for p in m.parameters(recurse=False))
        if len(shape) == 2:  # fully connected: 1 x 1 spatially
            rows.append(LayerRow(name, shape[1], 1, 1, n_params))
        else:
            rows.append(LayerRow(name, shape[1], shape[3], shape[2], n_params))
        if name == 'fine 1':
            rows.append(LayerRow('fine 2 (concat)', shape[1] + 1, shape[3], shape[2], 0))
    return rows


def format_layer_table(config: ModelConfig) -> str:
    """Format the table as text, with coarse, fine and total parameter counts."""
    rows = layer_table(config)
    p = config.preset
    lines = [f'preset {p.name}: input {p.input_width}x{p.input_height}, output '
             f'{p.output_width}x{p.output_height}, fine crop rows {p.fine_crop_top}..'
             f'{p.input_height - 1}, coarse 6 width {config.coarse_fc_width}',
             f"{'layer':<18}{'channels':>9}{'size (WxH)':>13}{'parameters':>14}"]
    for r in rows:
        lines.append(f'{r.name:<18}{r.channels:>9}{f"{r.width}x{r.height}":>13}'
                     f'{r.parameters:>14,}')
    coarse = sum(r.parameters for r in rows if r.name.startswith('coarse'))
    fine = sum(r.parameters for r in rows if r.name.startswith('fine'))
    lines.append(f"{'coarse total':<40}{coarse:>14,}")
    lines.append(f"{'fine total':<40}{fine:>14,}")
    lines.append(f"{'total':<40}{coarse + fine:>14,}")
    return '\n'.join(lines)
