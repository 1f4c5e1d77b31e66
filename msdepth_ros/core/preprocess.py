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
From a camera image of any size to the network input, and from the network output back.

``plan_input`` decides once per camera size how the image is resized and cropped and records
the pixel maps of the whole chain (camera -> network input -> network output -> upsampled
depth image). ``InputPlan.prepare`` applies it to a frame; ``log_depth_to_metric`` turns the
network's log depth into metres. Everything that does not depend on the frame is computed in
the plan, including which camera pixels feed each network-input pixel: the resize is computed
for the crop window only (``core.crop_resize``), so no intermediate grows with the resized
image, however extreme the camera's aspect ratio.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math

import cv2
from msdepth_ros.core.affine import PixelMap
from msdepth_ros.core.crop_resize import crop_resampler, CropResampler
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.presets import OUTPUT_FIRST_CENTRE, OUTPUT_STRIDE, Preset
import numpy as np


class ImageShapeError(ValueError):
    """Raised for an image that does not have the shape, dtype or size the plan expects."""


@dataclass(frozen=True)
class InputPlan:
    """
    How a camera image of one size becomes the network input, and the maps that follow.

    Attributes
    ----------
    camera_to_input:
        Camera pixel -> network-input pixel (resize, then crop).
    camera_to_output:
        Camera pixel -> pixel of the depth image (network output, upsampled by ``upsample``).

    """

    preset: Preset
    camera_width: int
    camera_height: int
    resized_width: int
    resized_height: int
    crop_x0: int
    crop_y0: int
    upsample: int
    camera_to_input: PixelMap
    camera_to_output: PixelMap
    _resampler: CropResampler
    # Intrinsics derived for the last camera seen: (camera, input, output); one camera per node.
    _derived: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def output_width(self) -> int:
        """Width of the depth image (network output times ``upsample``)."""
        return self.preset.output_width * self.upsample

    @property
    def output_height(self) -> int:
        """Height of the depth image (network output times ``upsample``)."""
        return self.preset.output_height * self.upsample

    def input_intrinsics(self, camera: Intrinsics) -> Intrinsics:
        """Intrinsics of the network input."""
        return self._intrinsics_of(camera)[0]

    def output_intrinsics(self, camera: Intrinsics) -> Intrinsics:
        """Intrinsics of the depth image that ``log_depth_to_metric`` returns."""
        return self._intrinsics_of(camera)[1]

    def _intrinsics_of(self, camera: Intrinsics) -> tuple[Intrinsics, Intrinsics]:
        # Computed once per camera: every frame of a camera asks for the same two.
        cached = self._derived.get('last')
        if cached is not None and cached[0] == camera:
            return cached[1], cached[2]
        self._check_camera(camera)
        derived = (camera.transformed(self.camera_to_input, self.preset.input_width,
                                      self.preset.input_height),
                   camera.transformed(self.camera_to_output, self.output_width,
                                      self.output_height))
        self._derived['last'] = (camera,) + derived
        return derived

    def metric_scale(self, camera: Intrinsics) -> float:
        """
        Factor that corrects the network's depth for this camera's focal length.

        A network trained at focal length ``f_train`` (network-input pixels) that sees a camera
        with focal length ``f_cam`` after preprocessing predicts depths too small by
        ``f_train / f_cam``; multiplying by ``f_cam / f_train`` restores metric depth.
        """
        return self.input_intrinsics(camera).focal_px / self.preset.train_focal_px

    def prepare(self, image_rgb: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """
        Network input of one camera frame.

        Parameters
        ----------
        image_rgb:
            ``camera_height x camera_width x 3`` uint8 RGB image.
        out:
            Optional ``1 x 3 x input_height x input_width`` float32 buffer to write into.

        Returns
        -------
        ``1 x 3 x input_height x input_width`` float32, normalised with the preset's mean and
        standard deviation.

        """
        expected = (self.camera_height, self.camera_width, 3)
        if image_rgb.shape != expected or image_rgb.dtype != np.uint8:
            raise ImageShapeError(f'expected a {expected} uint8 RGB image, got '
                                  f'{image_rgb.shape} {image_rgb.dtype}')
        if out is None:
            w, h = self.preset.input_size
            out = np.empty((1, 3, h, w), dtype=np.float32)
        return self._resampler(image_rgb, out)

    def _check_camera(self, camera: Intrinsics) -> None:
        if camera.size != (self.camera_width, self.camera_height):
            raise ImageShapeError(
                f'intrinsics are for a {camera.width}x{camera.height} image, the plan for '
                f'{self.camera_width}x{self.camera_height}')


def plan_input(camera_width: int, camera_height: int, preset: Preset,
               upsample: int = 1, method: str | None = None) -> InputPlan:
    """
    Plan the preprocessing of ``camera_width`` x ``camera_height`` images for ``preset``.

    The image is resized, keeping its aspect ratio, so that it just covers the preset's resize
    size (the training images' size before their crop), then cropped to the network input:
    centred (NYU) or horizontally centred and bottom-aligned (KITTI). Rounding the resized size
    to whole pixels makes the two axes' scales differ slightly; the recorded maps use the exact
    per-axis scales that ``cv2.resize`` applies.

    Only the crop is computed (``core.crop_resize.crop_resampler``; ``method`` forces one of its
    methods): no intermediate is larger than the camera image or a few network inputs, whatever
    the camera's aspect ratio.
    """
    if camera_width <= 0 or camera_height <= 0:
        raise ImageShapeError(f'image size must be positive, got {camera_width}x{camera_height}')
    if int(upsample) != upsample or upsample < 1:
        raise ValueError(f'upsample must be a positive integer, got {upsample}')
    upsample = int(upsample)
    in_w, in_h = preset.input_size
    scale = max(preset.resize_width / camera_width, preset.resize_height / camera_height)
    resized_w = max(in_w, int(math.floor(camera_width * scale + 0.5)))
    resized_h = max(in_h, int(math.floor(camera_height * scale + 0.5)))
    crop_x0 = (resized_w - in_w) // 2
    crop_y0 = (resized_h - in_h) // 2 if preset.crop == 'center' else resized_h - in_h

    camera_to_input = PixelMap.resize(resized_w / camera_width, resized_h / camera_height).then(
        PixelMap.crop(crop_x0, crop_y0))
    input_to_output = PixelMap.strided(OUTPUT_STRIDE, OUTPUT_FIRST_CENTRE,
                                       OUTPUT_FIRST_CENTRE + preset.fine_crop_top)
    camera_to_output = camera_to_input.then(input_to_output).then(
        PixelMap.resize(upsample, upsample))

    std = np.asarray(preset.std_rgb, dtype=np.float32).reshape(3, 1, 1)
    mean = np.asarray(preset.mean_rgb, dtype=np.float32).reshape(3, 1, 1)
    # (x / 255 - mean) / std as one multiply-add per channel.
    resampler = crop_resampler(
        (camera_width, camera_height), (resized_w, resized_h), (crop_x0, crop_y0), (in_w, in_h),
        scale=(1.0 / (255.0 * std)).astype(np.float32), bias=(-mean / std).astype(np.float32),
        method=method)
    return InputPlan(preset=preset, camera_width=int(camera_width),
                     camera_height=int(camera_height), resized_width=resized_w,
                     resized_height=resized_h, crop_x0=crop_x0, crop_y0=crop_y0,
                     upsample=upsample, camera_to_input=camera_to_input,
                     camera_to_output=camera_to_output, _resampler=resampler)


def log_depth_to_metric(log_depth: np.ndarray, metric_scale: float = 1.0,
                        min_depth_m: float = 0.0, max_depth_m: float = math.inf,
                        upsample: int = 1) -> np.ndarray:
    """
    Metric depth from the network's natural-log depth.

    Parameters
    ----------
    log_depth:
        ``H x W`` float log depth (natural log of metres), as the network outputs it.
    metric_scale:
        Factor from ``InputPlan.metric_scale`` (1 to keep the network's own scale).
    min_depth_m, max_depth_m:
        Depths outside this range become NaN (REP 118: invalid depth is NaN, never 0).
    upsample:
        Integer factor; upsampling is bilinear in log depth, on the pixel-centre convention
        of ``PixelMap.resize``.

    Returns
    -------
    ``(H * upsample) x (W * upsample)`` float32 depth in metres, NaN where invalid.

    """
    log_depth = np.asarray(log_depth, dtype=np.float32)
    if log_depth.ndim != 2:
        raise ImageShapeError(f'log depth must be H x W, got shape {log_depth.shape}')
    if upsample != 1:
        h, w = log_depth.shape
        log_depth = cv2.resize(log_depth, (w * upsample, h * upsample),
                               interpolation=cv2.INTER_LINEAR)
    with np.errstate(over='ignore', invalid='ignore'):
        depth = np.exp(log_depth)
        if metric_scale != 1.0:
            depth *= np.float32(metric_scale)
    return mask_depth_range(depth, min_depth_m, max_depth_m)


def mask_depth_range(depth_m: np.ndarray, min_depth_m: float, max_depth_m: float) -> np.ndarray:
    """
    Set the depths outside ``[min_depth_m, max_depth_m]`` to NaN, in place; return ``depth_m``.

    ``depth_m`` is float32 metres (NaN stays NaN). ``log_depth_to_metric`` applies it, and so
    does a caller that predicts without a range (to keep the unbounded depth for evaluation):
    the same test, so the same bytes.
    """
    with np.errstate(invalid='ignore'):
        depth_m[~((depth_m >= min_depth_m) & (depth_m <= max_depth_m))] = np.nan
    return depth_m
