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
The coarse and fine networks of Eigen, Puhrsch and Fergus (NIPS 2014), Fig. 1.

``MultiScaleDepthNet.forward(image) -> log_depth`` returns a plain tensor (export-friendly);
``forward_with_coarse`` also returns the coarse output for two-stage training. Layer names
(``coarse.conv1`` ... ``coarse.fc7``, ``fine.conv1``, ``fine.conv3``, ``fine.conv4``) follow
the paper's numbering; fine layer 2 is the concatenation and has no weights.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from msdepth_ros.core.presets import get_preset, Preset, PresetError
import torch
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    """
    Everything that fixes the network's shapes.

    ``coarse_fc_width`` is the width of coarse layer 6 (4096 in the paper); a narrower layer
    makes a much smaller model (the demo model), since that layer holds most parameters.
    """

    preset: Preset
    coarse_fc_width: int = 4096
    dropout: float = 0.5

    def __post_init__(self) -> None:
        if self.coarse_fc_width < 1:
            raise ValueError(f'coarse_fc_width must be positive, got {self.coarse_fc_width}')
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f'dropout must be in [0, 1), got {self.dropout}')

    def to_dict(self) -> dict[str, Any]:
        """Plain data for checkpoints and ONNX metadata."""
        data = asdict(self)
        data['preset'] = self.preset.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        """Inverse of ``to_dict``; a preset given by name is looked up."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f'unknown model config fields: {sorted(unknown)}')
        if 'preset' not in data:
            raise ValueError('model config has no preset')
        preset = data['preset']
        preset = get_preset(preset) if isinstance(preset, str) else Preset.from_dict(preset)
        return cls(**{**dict(data), 'preset': preset})

    @classmethod
    def for_preset(cls, name: str, **kwargs: Any) -> ModelConfig:
        """Config of the named preset (``nyu`` or ``kitti``)."""
        return cls(preset=get_preset(name), **kwargs)


class CoarseNet(nn.Module):
    """
    Global coarse-scale network: five convolutions and two fully connected layers.

    Input ``B x 3 x H_in x W_in``, output ``B x 1 x H_out x W_out`` log depth.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        preset = config.preset
        self.output_size = (preset.output_height, preset.output_width)
        self.conv1 = nn.Conv2d(3, 96, kernel_size=11, stride=4)
        self.pool1 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.conv2 = nn.Conv2d(96, 256, kernel_size=5, padding=2)
        self.pool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.conv3 = nn.Conv2d(256, 384, kernel_size=3, padding=1)
        self.conv4 = nn.Conv2d(384, 384, kernel_size=3, padding=1)
        self.conv5 = nn.Conv2d(384, 256, kernel_size=3, padding=1)
        self.pool5 = nn.MaxPool2d(kernel_size=3, stride=2)
        h5, w5 = coarse_conv_output_size(preset.input_height, preset.input_width)
        self.fc6 = nn.Linear(256 * h5 * w5, config.coarse_fc_width)
        self.drop6 = nn.Dropout(config.dropout)
        self.fc7 = nn.Linear(config.coarse_fc_width,
                             preset.output_height * preset.output_width)
        self.relu = nn.ReLU(inplace=True)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Coarse layers 1-5 (the ImageNet-pretrained part)."""
        x = self.pool1(self.relu(self.conv1(x)))
        x = self.pool2(self.relu(self.conv2(x)))
        x = self.relu(self.conv3(x))
        x = self.relu(self.conv4(x))
        return self.pool5(self.relu(self.conv5(x)))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Coarse log depth, ``B x 1 x H_out x W_out``."""
        x = torch.flatten(self.features(image), 1)
        x = self.drop6(self.relu(self.fc6(x)))
        return self.fc7(x).view(-1, 1, *self.output_size)


class FineNet(nn.Module):
    """
    Local fine-scale network.

    Fine layer 1 sees the image (its crop for KITTI); layer 2 concatenates its 63 channels with
    the coarse output; layers 3 and 4 refine. Output ``B x 1 x H_out x W_out`` log depth.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 63, kernel_size=9, stride=2)
        self.pool1 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.conv3 = nn.Conv2d(64, 64, kernel_size=5, padding=2)
        self.conv4 = nn.Conv2d(64, 1, kernel_size=5, padding=2)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, image_crop: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        """Refined log depth from the fine crop of the input and the coarse output."""
        x = self.pool1(self.relu(self.conv1(image_crop)))
        x = torch.cat([x, coarse], dim=1)
        x = self.relu(self.conv3(x))
        return self.conv4(x)


class MultiScaleDepthNet(nn.Module):
    """Coarse and fine networks together; ``forward(image) -> log_depth``."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.fine_crop_top = config.preset.fine_crop_top
        self.coarse = CoarseNet(config)
        self.fine = FineNet()

    @property
    def preset(self) -> Preset:
        """Return the geometry preset the network was built for."""
        return self.config.preset

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """
        Natural-log depth of a normalised image.

        ``image``: ``B x 3 x H_in x W_in`` float (preset input size, normalised as in
        ``core.preprocess``). Returns ``B x 1 x H_out x W_out``; depth = exp(output) metres at
        the training focal length.
        """
        return self.forward_with_coarse(image)[0]

    def forward_with_coarse(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(fine log depth, coarse log depth)``, both ``B x 1 x H_out x W_out``."""
        coarse = self.coarse(image)
        fine = self.fine(image[:, :, self.fine_crop_top:, :], coarse)
        return fine, coarse


def coarse_conv_output_size(input_height: int, input_width: int) -> tuple[int, int]:
    """(height, width) after coarse layer 5 and its pool: the input of coarse layer 6."""
    def length(n: int) -> int:
        n = (n - 11) // 4 + 1          # conv1 11x11 stride 4
        n = (n - 2) // 2 + 1           # pool 2x2 stride 2
        n = (n - 3) // 2 + 1           # conv2 keeps size; pool 3x3 stride 2
        return (n - 3) // 2 + 1        # conv3-5 keep size; pool 3x3 stride 2
    h, w = length(input_height), length(input_width)
    if h < 1 or w < 1:
        raise PresetError(f'input {input_width}x{input_height} is too small for the coarse '
                          'network')
    return h, w


def build_model(config: ModelConfig) -> MultiScaleDepthNet:
    """Build the network for ``config``, with PyTorch's default initialisation."""
    return MultiScaleDepthNet(config)
