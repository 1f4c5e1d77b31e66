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
One frame's work, without ROS plumbing: RGB + intrinsics in, the node's output messages out.

``DepthPipeline`` wraps a ``DepthPredictor`` and caches what depends only on the camera (the
rays of the depth image's pixels, the camera pixels the cloud's colours come from), so that a
frame costs the network plus a few array passes. It builds its messages with the shared
writers (``msgs.writers``) through the ``MessageTypes`` it is given: rclpy's when the depth
node calls it on its worker thread, a rosbags typestore's when ``msdepth-bag-infer`` runs a
bag, so both write the same bytes. The benchmark calls it directly.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import time
from typing import Any

from msdepth_ros.core.camera import backproject, pixel_rays
from msdepth_ros.core.colormap import colorize_depth
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.preprocess import InputPlan, mask_depth_range
from msdepth_ros.inference.backend import Backend
from msdepth_ros.inference.predictor import DepthPredictor
from msdepth_ros.msgs import writers
from msdepth_ros.msgs.writers import MessageTypes
import numpy as np


@dataclass(frozen=True)
class PredictionSettings:
    """What shapes the depth values: a change rebuilds the predictor."""

    upsample: int
    metric_scaling: bool
    min_depth_m: float
    max_depth_m: float


@dataclass(frozen=True)
class OutputRequest:
    """Which outputs to build for one frame, and how."""

    depth: bool = True
    camera_info: bool = True
    points: bool = True
    points_rgb: bool = False
    colorized: bool = False
    colormap: str = 'turbo'

    @property
    def anything(self) -> bool:
        """Return True when at least one output is asked for."""
        return self.depth or self.camera_info or self.points or self.colorized


@dataclass
class DepthOutputs:
    """
    One frame's results: the messages asked for (None otherwise) and where the time went.

    The messages are of the pipeline's ``MessageTypes`` (``sensor_msgs/Image``,
    ``CameraInfo``, ``PointCloud2``).

    ``depth_m`` is the ``H x W`` float32 depth image (metres, NaN invalid or outside the depth
    range), ``intrinsics`` its camera; ``unbounded_depth_m`` the same prediction before the
    depth range (evaluation clips it to its protocol's caps instead); ``timings_s`` has
    ``preprocess``, ``inference``, ``postprocess`` (from the predictor, and the depth range),
    ``points`` (back-projection and cloud message) and ``messages`` (depth image, camera info
    and preview messages).
    """

    depth_m: np.ndarray
    intrinsics: Intrinsics
    unbounded_depth_m: np.ndarray
    depth_image: Any | None
    camera_info: Any | None
    points: Any | None
    colorized: Any | None
    timings_s: dict[str, float]


class DepthPipeline:
    """
    Predict depth for one frame and build the output messages, with per-camera caches.

    Parameters
    ----------
    backend:
        A loaded backend (``inference.load_backend``).
    types:
        The message classes of the transport (``ros.conversions.RCLPY_TYPES``, or
        ``MessageTypes.rosbags(typestore)``).

    """

    def __init__(self, backend: Backend, types: MessageTypes) -> None:
        self.backend = backend
        self.types = types
        self.preset = backend.preset
        self._settings: tuple[int, bool] | None = None
        self._predictor: DepthPredictor | None = None
        self._rays_for: Intrinsics | None = None
        self._rays: np.ndarray | None = None
        self._colour_plan: InputPlan | None = None
        self._colour_index: tuple[np.ndarray, np.ndarray] | None = None

    def predictor(self, settings: PredictionSettings) -> DepthPredictor:
        """
        Return the predictor for ``settings``, rebuilt only when its upsampling or scaling change.

        It predicts without a depth range; ``process`` applies the range afterwards.
        """
        key = (settings.upsample, settings.metric_scaling)
        if self._predictor is None or key != self._settings:
            self._predictor = DepthPredictor(
                self.backend, upsample=settings.upsample, metric_scaling=settings.metric_scaling,
                min_depth_m=0.0, max_depth_m=math.inf)
            self._settings = key
        return self._predictor

    def process(self, image_rgb: np.ndarray, intrinsics: Intrinsics, header: Any,
                settings: PredictionSettings, request: OutputRequest) -> DepthOutputs:
        """
        Run one frame.

        Parameters
        ----------
        image_rgb:
            ``H x W x 3`` uint8 RGB (any strides, e.g. a view on the message).
        intrinsics:
            The camera's rectified intrinsics for ``W x H`` images.
        header:
            The input image's header (any transport's); every output carries a copy of it.
        settings:
            Upsampling, metric scaling and depth range.
        request:
            The outputs to build.

        Returns
        -------
        The outputs and timings.

        """
        predictor = self.predictor(settings)
        result = predictor.predict(image_rgb, intrinsics)
        timings = dict(result.timings_s)
        t0 = time.perf_counter()
        depth_m = mask_depth_range(result.depth_m.copy(), settings.min_depth_m,
                                   settings.max_depth_m)
        timings['postprocess'] += time.perf_counter() - t0
        depth_intrinsics = result.intrinsics
        types = self.types
        out_header = writers.copy_header(types, header)

        t0 = time.perf_counter()
        points = None
        if request.points:
            colours = None
            if request.points_rgb:
                colours = self._colours(image_rgb, predictor, depth_intrinsics)
            xyz = backproject(depth_m, depth_intrinsics, rays=self._rays_of(depth_intrinsics))
            points = writers.organized_pointcloud(types, xyz, out_header, rgb=colours)
        t1 = time.perf_counter()
        depth_image = (writers.image(types, depth_m, '32FC1', out_header) if request.depth
                       else None)
        camera_info = (writers.intrinsics_camera_info(types, depth_intrinsics, out_header)
                       if request.camera_info else None)
        colorized = None
        if request.colorized:
            preview = colorize_depth(depth_m, settings.min_depth_m, settings.max_depth_m,
                                     request.colormap)
            colorized = writers.image(types, preview, 'rgb8', out_header)
        t2 = time.perf_counter()
        timings['points'] = t1 - t0
        timings['messages'] = t2 - t1
        return DepthOutputs(depth_m=depth_m, intrinsics=depth_intrinsics,
                            unbounded_depth_m=result.depth_m, depth_image=depth_image,
                            camera_info=camera_info, points=points, colorized=colorized,
                            timings_s=timings)

    def _rays_of(self, intrinsics: Intrinsics) -> np.ndarray:
        # The rays depend on the depth image's intrinsics only: recomputed when the camera (or
        # its size, or the upsampling) changes, not per frame.
        if self._rays is None or intrinsics != self._rays_for:
            self._rays = pixel_rays(intrinsics)
            self._rays_for = intrinsics
        return self._rays

    def _colours(self, image_rgb: np.ndarray, predictor: DepthPredictor,
                 depth_intrinsics: Intrinsics) -> np.ndarray:
        """Return the camera pixel nearest to each depth pixel's centre, ``h x w x 3`` uint8."""
        height, width = image_rgb.shape[:2]
        plan = predictor.plan_for(width, height)
        # The predictor keeps one plan per camera size (and upsampling): same object, same map.
        if self._colour_index is None or plan is not self._colour_plan:
            back = plan.camera_to_output.inverse()
            cols = np.arange(depth_intrinsics.width, dtype=np.float64)
            rows = np.arange(depth_intrinsics.height, dtype=np.float64)
            u_cam, v_cam = back.apply(cols, rows)
            self._colour_index = (
                np.clip(np.rint(v_cam), 0, height - 1).astype(np.intp)[:, None],
                np.clip(np.rint(u_cam), 0, width - 1).astype(np.intp)[None, :])
            self._colour_plan = plan
        rows_idx, cols_idx = self._colour_index
        return image_rgb[rows_idx, cols_idx]
