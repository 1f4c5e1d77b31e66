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

"""Validation during training: the loss and the paper's metrics of a stage's output."""

from __future__ import annotations

import math

from msdepth_ros.core.metrics import compute_metrics, METRIC_NAMES
from msdepth_ros.model.loss import scale_invariant_loss
from msdepth_ros.model.network import MultiScaleDepthNet
from msdepth_ros.train.distributed import all_reduce_sum, DistContext
from msdepth_ros.train.examples import ExampleSource
from msdepth_ros.train.stages import StageNet
import numpy as np
import torch


def validate(model: MultiScaleDepthNet, stage: str, source: ExampleSource, ctx: DistContext,
             loss_lambda: float, limit: int = 0) -> dict[str, float]:
    """
    Loss and the paper's metrics of ``stage``'s output on the output-grid targets.

    Each rank takes every ``W``-th sample; the sums are all-reduced, so every rank returns the
    same numbers. Prediction and target are compared as the network learns them (at the
    preset's training focal length, see ``data.augment``) within the preset's depth range;
    ``msdepth-eval`` gives the numbers of the paper's protocol.
    """
    n = len(source) if not limit else min(limit, len(source))
    net = StageNet(model, stage)
    was_training = model.training
    model.eval()
    preset = source.preset
    sums = np.zeros(len(METRIC_NAMES) + 2)
    with torch.no_grad():
        for i in range(ctx.rank, n, ctx.world_size):
            image, target = source[(i,)]
            pred = net(image[None].to(ctx.device)).float()
            target_t = target[None].to(ctx.device)
            loss = scale_invariant_loss(pred, target_t, loss_lambda)
            metrics = compute_metrics(np.exp(pred[0, 0].cpu().numpy()), target[0].numpy(),
                                      min_depth_m=preset.min_depth_m,
                                      max_depth_m=preset.max_depth_m)
            if not math.isnan(metrics['delta1']):
                sums[0] += float(loss)
                sums[1] += 1
                sums[2:] += [metrics[m] for m in METRIC_NAMES]
    model.train(was_training)
    sums = all_reduce_sum(sums, ctx)
    if sums[1] == 0:
        return {'loss': math.nan, **{m: math.nan for m in METRIC_NAMES}}
    out = {'loss': float(sums[0] / sums[1])}
    out.update({m: float(sums[2 + j] / sums[1]) for j, m in enumerate(METRIC_NAMES)})
    return out
