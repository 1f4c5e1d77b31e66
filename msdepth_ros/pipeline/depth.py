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
rays of the depth image's pixels, the camera pixels the cloud's colours come from, the scan's
geometry), so that a frame costs the network plus a few array passes. The cloud goes through
the request's ``core.cloud_filter.CloudFilter`` (the depth image never does: REP 118); the laser
scan is ``core.laser_scan``'s. It builds its messages with the shared writers
(``msgs.writers``) through the ``MessageTypes`` it is given: ``msgs.cdr_messages.CDR_TYPES``
when the depth node calls it on its worker thread (it publishes their serialized bytes), a
rosbags typestore's when ``msdepth-bag-infer`` runs a bag, so both write the same bytes. The
benchmark calls it directly.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import time
from typing import Any

from msdepth_ros.core.camera import pixel_rays
from msdepth_ros.core.cloud_filter import CloudFilter
from msdepth_ros.core.colormap import colorize_depth
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.laser_scan import depth_to_scan, scan_frame_id, scan_geometry, ScanGeometry
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
    cloud_filter: CloudFilter = CloudFilter()
    scan: bool = False
    scan_height: int = 1
    scan_frame_id: str = ''

    @property
    def anything(self) -> bool:
        """Return True when at least one output is asked for."""
        return self.depth or self.camera_info or self.points or self.colorized or self.scan


@dataclass
class DepthOutputs:
    """
    One frame's results: the messages asked for (None otherwise) and where the time went.

    The messages are of the pipeline's ``MessageTypes`` (``sensor_msgs/Image``,
    ``CameraInfo``, ``PointCloud2``, ``LaserScan``).

    ``depth_m`` is the ``H x W`` float32 depth image (metres, NaN invalid or outside the depth
    range), ``intrinsics`` its camera; ``unbounded_depth_m`` the same prediction before the
    depth range (evaluation clips it to its protocol's caps instead); ``timings_s`` has
    ``preprocess``, ``inference``, ``postprocess`` (from the predictor, and the depth range),
    ``points`` (cloud filter, back-projection and cloud message) and ``messages`` (depth image,
    camera info, scan and preview messages).
    """

    depth_m: np.ndarray
    intrinsics: Intrinsics
    unbounded_depth_m: np.ndarray
    depth_image: Any | None
    camera_info: Any | None
    points: Any | None
    colorized: Any | None
    timings_s: dict[str, float]
    scan: Any | None = None


class DepthPipeline:
    """
    Predict depth for one frame and build the output messages, with per-camera caches.

    Parameters
    ----------
    backend:
        A loaded backend (``inference.load_backend``).
    types:
        The message classes of the transport (``msgs.cdr_messages.CDR_TYPES``, whose messages
        serialize themselves, ``ros.conversions.RCLPY_TYPES`` or
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
        self._ray_norm: np.ndarray | None = None
        self._colour_plan: InputPlan | None = None
        self._colour_index: tuple[np.ndarray, np.ndarray] | None = None
        self._scan_for: tuple[Intrinsics, int] | None = None
        self._scan_geometry: ScanGeometry | None = None

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
            rays = self._rays_of(depth_intrinsics)
            # The filtered depth of every stride-th pixel, on those pixels' rays.
            step = request.cloud_filter.stride
            xyz = request.cloud_filter.points(depth_m, rays, self._ray_norm)
            if colours is not None and step > 1:
                colours = colours[::step, ::step]
            points = writers.organized_pointcloud(types, xyz, out_header, rgb=colours)
        t1 = time.perf_counter()
        depth_image = (writers.image(types, depth_m, '32FC1', out_header) if request.depth
                       else None)
        camera_info = (writers.intrinsics_camera_info(types, depth_intrinsics, out_header)
                       if request.camera_info else None)
        scan = None
        if request.scan:
            scan = self._scan(depth_m, depth_intrinsics, out_header, settings, request)
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
                            timings_s=timings, scan=scan)

    def _rays_of(self, intrinsics: Intrinsics) -> np.ndarray:
        # The rays depend on the depth image's intrinsics only: recomputed when the camera (or
        # its size, or the upsampling) changes, not per frame.
        if self._rays is None or intrinsics != self._rays_for:
            self._rays = pixel_rays(intrinsics)
            self._ray_norm = np.linalg.norm(self._rays, axis=-1)
            self._rays_for = intrinsics
        return self._rays

    def _scan(self, depth_m: np.ndarray, intrinsics: Intrinsics, header: Any,
              settings: PredictionSettings, request: OutputRequest) -> Any:
        """
        Return the scan of a depth image (its geometry cached per camera and band).

        A band taller than the rows around ``cy`` is cut to the tallest that fits (where
        depthimage_to_laserscan refuses the frame): a parameter must not stop the outputs.
        """
        key = (intrinsics, request.scan_height)
        if self._scan_geometry is None or key != self._scan_for:
            for rows in range(request.scan_height, 0, -1):
                try:
                    self._scan_geometry = scan_geometry(intrinsics, rows)
                    break
                except ValueError:
                    if rows == 1:
                        raise
            self._scan_for = key
        geometry = self._scan_geometry
        ranges = depth_to_scan(depth_m, geometry, settings.min_depth_m, settings.max_depth_m)
        return writers.laser_scan(self.types, header,
                                  request.scan_frame_id or scan_frame_id(header.frame_id),
                                  ranges, geometry, settings.min_depth_m, settings.max_depth_m)

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
