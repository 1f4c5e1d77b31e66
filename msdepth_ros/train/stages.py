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
The network each stage trains: coarse alone, then fine on top of the frozen coarse network.

Also the stage's parameter groups and optimizer (SGD or Adam), the fine network's identity
start, and a digest that says whether two ranks (or two runs) hold identical weights.
"""

from __future__ import annotations

import hashlib
from typing import Any

from msdepth_ros.model.network import MultiScaleDepthNet
from msdepth_ros.train.config import STAGE_GROUPS, TrainConfig
import torch
from torch import nn


class StageNet(nn.Module):
    """The output a stage trains: coarse alone, or fine on top of the frozen coarse."""

    def __init__(self, model: MultiScaleDepthNet, stage: str) -> None:
        super().__init__()
        self.model = model
        self.stage = stage

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Log depth of the stage's network, ``B x 1 x H_out x W_out``."""
        if self.stage == 'coarse':
            return self.model.coarse(image)
        return self.model.forward_with_coarse(image)[0]

    def set_mode(self) -> None:
        """Train mode, except a frozen coarse network (no dropout) during the fine stage."""
        self.train()
        if self.stage == 'fine':
            self.model.coarse.eval()


def stage_parameter_groups(model: MultiScaleDepthNet, stage: str,
                           learning_rates: dict[str, float]) -> list[dict[str, Any]]:
    """
    SGD parameter groups of ``stage`` with their learning rates; freezes everything else.

    Only the stage's layers keep ``requires_grad``; in the fine stage the coarse network is
    frozen, as in the paper.
    """
    for p in model.parameters():
        p.requires_grad_(False)
    groups = []
    for group, layers in STAGE_GROUPS[stage].items():
        params = []
        for layer in layers:
            module = model.get_submodule(layer)
            params.extend(module.parameters())
        for p in params:
            p.requires_grad_(True)
        groups.append({'params': params, 'lr': learning_rates[group], 'name': group})
    return groups


def make_optimizer(config: TrainConfig, stage: str,
                   groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    """
    Build the optimizer of ``stage`` over its parameter groups (``stage_parameter_groups``).

    SGD with ``config.momentum`` (the paper), or Adam with PyTorch's default betas and eps;
    both with ``config.weight_decay``.
    """
    if config.stage(stage).optimizer == 'adam':
        return torch.optim.Adam(groups, lr=groups[0]['lr'], weight_decay=config.weight_decay)
    return torch.optim.SGD(groups, lr=groups[0]['lr'], momentum=config.momentum,
                           weight_decay=config.weight_decay)


def weights_digest(model: nn.Module) -> str:
    """SHA-256 of every parameter's bytes (equal digests: identical weights)."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def init_fine_as_identity(model: MultiScaleDepthNet) -> None:
    """
    Make the fine network output its coarse input (see ``ModelSection.init_fine_identity``).

    Fine 3's output channels 0 and 1 become ``relu(coarse)`` and ``relu(-coarse)`` (the
    coarse map is input channel 63 of fine 3, after fine 1's 63 channels); fine 4 becomes
    ``channel 0 - channel 1`` = coarse. The other weights of fine 3 keep their random values,
    so gradients reach fine 4's other inputs from the first step.
    """
    fine = model.fine
    k3 = fine.conv3.kernel_size[0] // 2
    k4 = fine.conv4.kernel_size[0] // 2
    coarse_channel = fine.conv3.in_channels - 1
    with torch.no_grad():
        fine.conv3.weight[:2].zero_()
        fine.conv3.bias[:2].zero_()
        fine.conv3.weight[0, coarse_channel, k3, k3] = 1.0
        fine.conv3.weight[1, coarse_channel, k3, k3] = -1.0
        fine.conv4.weight.zero_()
        fine.conv4.bias.zero_()
        fine.conv4.weight[0, 0, k4, k4] = 1.0
        fine.conv4.weight[0, 1, k4, k4] = -1.0
