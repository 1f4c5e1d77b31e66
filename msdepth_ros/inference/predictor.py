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
``DepthPredictor``: camera image + intrinsics in, metric depth + depth-image intrinsics out.

All geometry comes from ``core.preprocess``; the predictor only caches the per-camera-size
plan and the input buffer, and calls the backend.
"""

from __future__ import annotations

from dataclasses import dataclass
import time

from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.preprocess import ImageShapeError, InputPlan, log_depth_to_metric, plan_input
from msdepth_ros.inference.interface import Backend
import numpy as np


@dataclass(frozen=True)
class DepthResult:
    """
    One prediction.

    ``depth_m``: H x W float32 metres, NaN where invalid or outside the depth range;
    ``intrinsics``: the depth image's camera; ``metric_scale``: the focal-length correction
    applied; ``timings_s``: seconds spent in ``preprocess``, ``inference``, ``postprocess``.
    """

    depth_m: np.ndarray
    intrinsics: Intrinsics
    metric_scale: float
    timings_s: dict[str, float]


class DepthPredictor:
    """
    Metric depth from RGB images of any size with one backend.

    Parameters
    ----------
    backend:
        A loaded backend (``load_backend``).
    upsample:
        Integer factor for the depth image over the network's output grid.
    metric_scaling:
        Multiply depth by f_cam / f_train so that cameras with another focal length than the
        training data get metric depth (DESIGN.md section 4).
    min_depth_m, max_depth_m:
        Valid depth range; the preset's range when None.

    """

    def __init__(self, backend: Backend, upsample: int = 1, metric_scaling: bool = True,
                 min_depth_m: float | None = None, max_depth_m: float | None = None) -> None:
        self.backend = backend
        self.preset = backend.preset
        self.upsample = int(upsample)
        self.metric_scaling = metric_scaling
        self.min_depth_m = self.preset.min_depth_m if min_depth_m is None else min_depth_m
        self.max_depth_m = self.preset.max_depth_m if max_depth_m is None else max_depth_m
        if not 0.0 <= self.min_depth_m < self.max_depth_m:
            raise ValueError(f'need 0 <= min_depth_m < max_depth_m, got {self.min_depth_m}, '
                             f'{self.max_depth_m}')
        self._plan: InputPlan | None = None
        self._input = np.empty((1, 3, self.preset.input_height, self.preset.input_width),
                               dtype=np.float32)

    def plan_for(self, width: int, height: int) -> InputPlan:
        """Return the preprocessing plan for this image size (cached for the last size seen)."""
        plan = self._plan
        if plan is None or (plan.camera_width, plan.camera_height) != (width, height):
            plan = plan_input(width, height, self.preset, upsample=self.upsample)
            self._plan = plan
        return plan

    def predict(self, image_rgb: np.ndarray, intrinsics: Intrinsics) -> DepthResult:
        """
        Predict the depth of one frame.

        Parameters
        ----------
        image_rgb:
            H x W x 3 uint8 RGB.
        intrinsics:
            The camera's rectified intrinsics for this image size.

        """
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
            raise ImageShapeError(f'expected an H x W x 3 RGB image, got {image_rgb.shape}')
        height, width = image_rgb.shape[:2]
        if intrinsics.size != (width, height):
            raise ImageShapeError(f'intrinsics are for {intrinsics.width}x{intrinsics.height}, '
                                  f'the image is {width}x{height}')
        t0 = time.perf_counter()
        plan = self.plan_for(width, height)
        x = plan.prepare(image_rgb, out=self._input)
        t1 = time.perf_counter()
        log_depth = self.backend.predict(x)
        t2 = time.perf_counter()
        scale = plan.metric_scale(intrinsics) if self.metric_scaling else 1.0
        depth = log_depth_to_metric(log_depth, scale, self.min_depth_m, self.max_depth_m,
                                    self.upsample)
        depth_intr = plan.output_intrinsics(intrinsics)
        t3 = time.perf_counter()
        return DepthResult(depth_m=depth, intrinsics=depth_intr, metric_scale=scale,
                           timings_s={'preprocess': t1 - t0, 'inference': t2 - t1,
                                      'postprocess': t3 - t2})
