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
What the training loop feeds the network: augmented examples, batch by batch, rank by rank.

Data order and augmentation are functions of ``(seed, stage, step, position in the global
batch)``, so a run resumed from a checkpoint sees exactly the samples it would have seen, and
rank ``r`` of ``W`` trains on positions ``r, r + W, ...`` of each global batch: the ranks' data
are disjoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from msdepth_ros.core.preprocess import InputPlan, plan_input
from msdepth_ros.data.augment import AugmentConfig, AugmentParams, draw_params, make_example
from msdepth_ros.data.base import DepthDataset
from msdepth_ros.train.config import ConfigError
import numpy as np
import torch


class ExampleSource(torch.utils.data.Dataset):
    """
    Samples of a data set turned into (input, output-grid target) tensors.

    A key is ``(index, stage, step, position)``; the augmentation is drawn from a generator
    seeded with ``(seed, stage, step, position)``, so it does not depend on workers or ranks.
    A key of ``(index,)`` gives the sample without augmentation (validation).
    ``mask_min_max`` drops each image's recorded minimum and maximum depth before anything else
    (NYU; ``data.augment.mask_recorded_extremes``).
    """

    def __init__(self, dataset: DepthDataset, preset: Any, augment: AugmentConfig, seed: int,
                 normalize_focal: bool, mask_min_max: bool = False) -> None:
        self.dataset = dataset
        self.preset = preset
        self.augment = augment
        self.seed = int(seed)
        self.normalize_focal = normalize_focal
        self.mask_min_max = mask_min_max
        self._plans: dict[tuple[int, int], InputPlan] = {}

    def __len__(self) -> int:
        return len(self.dataset)

    def plan(self, width: int, height: int) -> InputPlan:
        """Return the preprocessing plan of a camera size (cached)."""
        key = (width, height)
        if key not in self._plans:
            self._plans[key] = plan_input(width, height, self.preset)
        return self._plans[key]

    def __getitem__(self, key: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        sample = self.dataset[int(key[0])]
        h, w = sample.image.shape[:2]
        plan = self.plan(w, h)
        params = AugmentParams()
        if len(key) > 1:
            rng = np.random.default_rng([self.seed] + [int(k) for k in key[1:]])
            params = draw_params(self.augment, rng, plan)
        example = make_example(sample.image, sample.depth_m, sample.intrinsics, plan, params,
                               sparse=self.dataset.sparse_depth,
                               normalize_focal=self.normalize_focal,
                               mask_extremes=self.mask_min_max)
        return (torch.from_numpy(np.ascontiguousarray(example.image)),
                torch.from_numpy(example.target_depth_m[None]))


@dataclass(eq=False)
class StepBatchSampler(torch.utils.data.Sampler):
    """
    This rank's share of each global batch, step by step.

    Global batch ``t`` is slice ``t mod E`` of epoch ``t // E``'s permutation of the data
    (``E`` = whole batches per epoch; a permutation per ``(seed, stage, epoch)``). Rank ``r`` of
    ``W`` takes positions ``r, r + W, ...``; the keys it yields are
    ``(index, stage, step, position)`` for ``ExampleSource``.
    """

    num_samples: int
    batch_size: int
    world_size: int
    rank: int
    seed: int
    stage_index: int
    start_step: int
    steps: int

    def __post_init__(self) -> None:
        if self.batch_size % self.world_size:
            raise ConfigError(f'batch_size {self.batch_size} does not split evenly over '
                              f'{self.world_size} ranks')
        if self.num_samples < self.batch_size:
            raise ConfigError(f'the training set has {self.num_samples} samples, fewer than '
                              f'one batch of {self.batch_size}')
        self.steps_per_epoch = self.num_samples // self.batch_size

    def global_batch(self, step: int) -> np.ndarray:
        """Sample indices of global batch ``step`` (all ranks)."""
        epoch, k = divmod(step, self.steps_per_epoch)
        perm = np.random.default_rng([self.seed, self.stage_index, epoch]).permutation(
            self.num_samples)
        return perm[k * self.batch_size:(k + 1) * self.batch_size]

    def keys(self, step: int) -> list[tuple[int, int, int, int]]:
        """Return this rank's ``(index, stage, step, position)`` keys of global batch ``step``."""
        batch = self.global_batch(step)
        return [(int(batch[p]), self.stage_index, step, p)
                for p in range(self.rank, self.batch_size, self.world_size)]

    def __iter__(self) -> Iterator[list[tuple[int, int, int, int]]]:
        for step in range(self.start_step, self.steps):
            yield self.keys(step)

    def __len__(self) -> int:
        return max(0, self.steps - self.start_step)


def mean_log_depth(source: ExampleSource, count: int = 64) -> float:
    """Mean log of the (unaugmented) targets of the first ``count`` samples."""
    logs = []
    for i in range(min(count, len(source))):
        target = source[(i,)][1].numpy()
        valid = np.isfinite(target) & (target > 0)
        if valid.any():
            logs.append(np.log(target[valid]).mean())
    if not logs:
        raise ConfigError('no valid ground truth in the first training samples')
    return float(np.mean(logs))


def mean_log_depth_map(source: ExampleSource, count: int = 64) -> np.ndarray:
    """
    Per-pixel mean log of the (unaugmented) targets of the first ``count`` samples.

    Returns an ``H_out x W_out`` float32 map; pixels that no target covers (the sky) take the
    mean over all pixels (``mean_log_depth``).
    """
    total, hits = None, None
    for i in range(min(count, len(source))):
        target = source[(i,)][1].numpy()[0]
        valid = np.isfinite(target) & (target > 0)
        logs = np.log(np.where(valid, target, 1.0))
        total = logs * valid if total is None else total + logs * valid
        hits = valid.astype(np.int64) if hits is None else hits + valid
    if total is None or not hits.any():
        raise ConfigError('no valid ground truth in the first training samples')
    fallback = float((total.sum() / hits.sum()))
    return np.where(hits > 0, total / np.maximum(hits, 1), fallback).astype(np.float32)
