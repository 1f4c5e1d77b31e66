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
Synthetic road scenes as a data set: exact depth at KITTI-like intrinsics.

Sample ``i`` of a ``SyntheticRoadDataset`` is a street drawn from ``(seed, i)`` and seen from a
random position along it (``core.synthetic``); two data sets with different seeds share no
street, which gives held-out scenes for tests and smoke training.
"""

from __future__ import annotations

from collections import OrderedDict

from msdepth_ros.core.synthetic import (BOX, FACADE, GROUND, kitti_like_intrinsics, render,
                                        ROAD, RoadLayout, WALL)
from msdepth_ros.data.base import DatasetError, DepthDataset, DepthSample
import numpy as np


class SyntheticRoadDataset(DepthDataset):
    """
    ``count`` rendered road scenes of ``width`` x ``height`` pixels.

    ``surfaces(i)`` gives sample ``i``'s surface label of every pixel (``core.synthetic``'s
    ``ROAD``, ``WALL`` ...), named by ``SURFACE_NAMES``; the evaluation scores each surface
    apart with it.

    Parameters
    ----------
    count:
        Number of samples.
    seed:
        Seed of the whole set; sample ``i`` depends only on ``(seed, i)``.
    width, height:
        Image size; the camera is KITTI's colour camera scaled to it
        (``core.synthetic.kitti_like_intrinsics``).
    length_m:
        Street length over which camera positions are drawn.
    cache_size:
        Rendered samples kept in memory (rendering costs tens of milliseconds).

    """

    #: Surfaces with depth, by label value (the sky has none).
    SURFACE_NAMES = {ROAD: 'road', GROUND: 'ground', WALL: 'wall', FACADE: 'facade', BOX: 'box'}

    def __init__(self, count: int, seed: int = 0, width: int = 621, height: int = 188,
                 length_m: float = 30.0, cache_size: int = 256) -> None:
        if count < 1:
            raise DatasetError(f'synthetic data set needs count >= 1, got {count}')
        self.count = int(count)
        self.seed = int(seed)
        self.intrinsics = kitti_like_intrinsics(width, height)
        self.length_m = float(length_m)
        self.cache_size = int(cache_size)
        self._cache: OrderedDict[int, tuple[DepthSample, np.ndarray]] = OrderedDict()

    def __len__(self) -> int:
        return self.count

    def sample_name(self, index: int) -> str:
        """Return ``synthetic_SEED_INDEX``."""
        return f'synthetic_{self.seed}_{self._check_index(index):06d}'

    def scene(self, index: int) -> tuple[RoadLayout, float]:
        """Return the street and camera position (metres along it) of sample ``index``."""
        rng = np.random.default_rng([self.seed, self._check_index(index)])
        layout_seed = int(rng.integers(0, 2**31 - 1))
        camera_z_m = float(rng.uniform(0.0, self.length_m))
        return RoadLayout.random(layout_seed, length_m=self.length_m), camera_z_m

    def __getitem__(self, index: int) -> DepthSample:
        return self._rendered(index)[0]

    def surfaces(self, index: int) -> np.ndarray:
        """Return sample ``index``'s ``H x W`` uint8 surface labels (``SURFACE_NAMES``)."""
        return self._rendered(index)[1]

    def _rendered(self, index: int) -> tuple[DepthSample, np.ndarray]:
        index = self._check_index(index)
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        layout, camera_z_m = self.scene(index)
        frame = render(layout, self.intrinsics, camera_z_m=camera_z_m)
        rendered = DepthSample(frame.image, frame.depth_m, self.intrinsics), frame.labels
        if self.cache_size > 0:
            self._cache[index] = rendered
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return rendered
