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
The paper's data augmentation, and training targets on the network's output grid.

An augmentation is a similarity warp of the camera image (scale ``s``, a small rotation, a
horizontal flip, a random position of the crop window) plus a global colour factor. The warped
image then goes through exactly the preprocessing of inference (``InputPlan.prepare``: resize
and crop to the preset's input), and the target of output pixel ``k`` is the depth at the camera
pixel that ``InputPlan.camera_to_output`` puts under output pixel ``k``, read through the same
warp. So the network learns, at each output pixel, the depth that inference will attribute to
that pixel, with no second geometry.

Depth is never interpolated: a target is the value of one ground-truth pixel (the nearest to
the output pixel's centre; for sparse LIDAR ground truth, the valid pixel nearest to the centre
within the output pixel's footprint), divided by ``s`` (zooming in by ``s`` looks like standing
``s`` times closer) and by the focal-length ratio that inference multiplies back
(``InputPlan.metric_scale``). Pixels without ground truth, or outside the image after the warp,
stay invalid (NaN).
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import NamedTuple

import cv2
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.preprocess import InputPlan
import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    """
    Ranges of the random augmentation (the paper's, section 3.3, by default).

    Attributes
    ----------
    scale_min, scale_max:
        Zoom factor ``s``; depth is divided by ``s``.
    rotation_deg:
        Rotation drawn from ``[-rotation_deg, rotation_deg]``.
    rgb_min, rgb_max:
        Each colour channel is multiplied by a factor from this range.
    flip_probability:
        Probability of a horizontal flip.
    random_crop:
        Place the crop window at random where it fits (else where inference puts it).

    """

    scale_min: float = 1.0
    scale_max: float = 1.5
    rotation_deg: float = 5.0
    rgb_min: float = 0.8
    rgb_max: float = 1.2
    flip_probability: float = 0.5
    random_crop: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.scale_min <= self.scale_max:
            raise ValueError(f'need 0 < scale_min <= scale_max, got {self.scale_min}, '
                             f'{self.scale_max}')
        if self.scale_min < 1.0:
            raise ValueError('scale_min below 1 would need pixels outside the image')
        if not 0.0 <= self.rotation_deg <= 45.0:
            raise ValueError(f'rotation_deg must be in [0, 45], got {self.rotation_deg}')
        if not 0.0 < self.rgb_min <= self.rgb_max:
            raise ValueError(f'need 0 < rgb_min <= rgb_max, got {self.rgb_min}, {self.rgb_max}')
        if not 0.0 <= self.flip_probability <= 1.0:
            raise ValueError(f'flip_probability must be in [0, 1], got {self.flip_probability}')

    @classmethod
    def paper(cls, preset_name: str) -> AugmentConfig:
        """NYU: s in [1, 1.5], rotation +-5 deg; KITTI: s in [1, 1.2], no rotation."""
        if preset_name == 'kitti':
            return cls(scale_max=1.2, rotation_deg=0.0)
        return cls()

    @classmethod
    def none(cls) -> AugmentConfig:
        """No augmentation: the crop inference makes (test time)."""
        return cls(scale_min=1.0, scale_max=1.0, rotation_deg=0.0, rgb_min=1.0, rgb_max=1.0,
                   flip_probability=0.0, random_crop=False)


@dataclass(frozen=True)
class AugmentParams:
    """
    One drawn augmentation.

    ``source_centre`` is the source-image point (camera pixels) that lands on the centre of
    the network's crop window; None keeps inference's window.
    """

    scale: float = 1.0
    rotation_deg: float = 0.0
    flip: bool = False
    rgb_factors: tuple[float, float, float] = (1.0, 1.0, 1.0)
    source_centre: tuple[float, float] | None = None

    @property
    def is_geometric_identity(self) -> bool:
        """Whether the warp leaves every pixel where it is."""
        return (self.scale == 1.0 and self.rotation_deg == 0.0 and not self.flip
                and self.source_centre is None)


class TrainingExample(NamedTuple):
    """
    Network input and target of one sample.

    ``image``: ``3 x H_in x W_in`` float32, normalised as ``InputPlan.prepare`` does;
    ``target_depth_m``: ``H_out x W_out`` float32 depth at the training focal length, NaN
    where invalid.
    """

    image: np.ndarray
    target_depth_m: np.ndarray


def crop_window(plan: InputPlan) -> tuple[float, float, float, float]:
    """
    Return the camera-image area the network input covers.

    Returns ``(centre_u, centre_v, half_width, half_height)`` in camera pixels (the input's
    outer edges mapped back through ``InputPlan.camera_to_input``).
    """
    inv = plan.camera_to_input.inverse()
    w, h = plan.preset.input_size
    u0, u1 = sorted((inv.x(-0.5), inv.x(w - 0.5)))
    v0, v1 = sorted((inv.y(-0.5), inv.y(h - 0.5)))
    return 0.5 * (u0 + u1), 0.5 * (v0 + v1), 0.5 * (u1 - u0), 0.5 * (v1 - v0)


def _linear_part(params: AugmentParams) -> np.ndarray:
    theta = math.radians(params.rotation_deg)
    rotation = np.array([[math.cos(theta), -math.sin(theta)],
                         [math.sin(theta), math.cos(theta)]])
    flip = np.diag([-1.0 if params.flip else 1.0, 1.0])
    return rotation @ flip / params.scale


def source_map(plan: InputPlan, params: AugmentParams) -> np.ndarray:
    """
    2x3 affine map from augmented camera pixels to source camera pixels.

    ``q = c_src + (1 / s) R F (p - c_win)``: the crop window's centre ``c_win`` comes from the
    source point ``c_src``, scaled by ``1 / s``, rotated, and mirrored when flipped.
    """
    cu, cv, _, _ = crop_window(plan)
    b = _linear_part(params)
    centre = np.array(params.source_centre if params.source_centre is not None else (cu, cv))
    m = np.empty((2, 3))
    m[:, :2] = b
    m[:, 2] = centre - b @ np.array([cu, cv])
    return m


def draw_params(config: AugmentConfig, rng: np.random.Generator,
                plan: InputPlan) -> AugmentParams:
    """Draw one augmentation for images of ``plan``'s camera size."""
    scale = float(rng.uniform(config.scale_min, config.scale_max))
    rotation = float(rng.uniform(-config.rotation_deg, config.rotation_deg))
    flip = bool(rng.random() < config.flip_probability)
    rgb = tuple(float(f) for f in rng.uniform(config.rgb_min, config.rgb_max, 3))
    params = AugmentParams(scale=scale, rotation_deg=rotation, flip=flip, rgb_factors=rgb)
    if not config.random_crop:
        return params
    # Where the scaled, rotated window fits inside the source image, place it at random.
    cu, cv, hw, hh = crop_window(plan)
    b = np.abs(_linear_part(params))
    ex, ey = b @ np.array([hw, hh])
    lo_u, hi_u = ex - 0.5, plan.camera_width - 0.5 - ex
    lo_v, hi_v = ey - 0.5, plan.camera_height - 0.5 - ey
    centre_u = float(rng.uniform(lo_u, hi_u)) if lo_u <= hi_u else cu
    centre_v = float(rng.uniform(lo_v, hi_v)) if lo_v <= hi_v else cv
    return AugmentParams(scale=scale, rotation_deg=rotation, flip=flip, rgb_factors=rgb,
                         source_centre=(centre_u, centre_v))


def augment_image(image_rgb: np.ndarray, plan: InputPlan, params: AugmentParams) -> np.ndarray:
    """Warp, then colour-scale, the camera image (same size, uint8 RGB)."""
    out = image_rgb
    if not params.is_geometric_identity:
        h, w = image_rgb.shape[:2]
        out = cv2.warpAffine(image_rgb, source_map(plan, params), (w, h),
                             flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_REFLECT_101)
    if params.rgb_factors != (1.0, 1.0, 1.0):
        scaled = out.astype(np.float32) * np.asarray(params.rgb_factors, dtype=np.float32)
        out = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return out


def output_target(depth_m: np.ndarray, plan: InputPlan, params: AugmentParams,
                  sparse: bool = False) -> np.ndarray:
    """
    Ground truth at each output pixel, read through the augmentation (depth not yet divided).

    Parameters
    ----------
    depth_m:
        ``H x W`` source depth in metres (NaN, zero or negative: invalid).
    plan:
        Preprocessing plan of the camera size.
    params:
        The augmentation.
    sparse:
        Take the valid pixel nearest to the output pixel's centre within its footprint
        (LIDAR); else the pixel nearest to the centre only.

    Returns
    -------
    ``H_out x W_out`` float32 metres, NaN where invalid.

    """
    to_out = plan.camera_to_output
    inv = to_out.inverse()
    k = np.arange(plan.output_width, dtype=np.float64)
    row = np.arange(plan.output_height, dtype=np.float64)
    pu, pv = np.meshgrid(inv.x(k), inv.y(row))
    if sparse:
        # Candidate points on a grid of about one camera pixel over the output pixel's
        # footprint, nearest to its centre first.
        cell_u, cell_v = 1.0 / abs(to_out.x.scale), 1.0 / abs(to_out.y.scale)
        nu, nv = max(1, int(math.ceil(cell_u))), max(1, int(math.ceil(cell_v)))
        ou = (np.arange(nu) - (nu - 1) / 2.0) * cell_u / nu
        ov = (np.arange(nv) - (nv - 1) / 2.0) * cell_v / nv
        du, dv = (a.reshape(-1) for a in np.meshgrid(ou, ov))
        order = np.argsort(du ** 2 + dv ** 2, kind='stable')
        du, dv = du[order], dv[order]
    else:
        du, dv = np.zeros(1), np.zeros(1)
    m = source_map(plan, params)
    cu = pu[None] + du[:, None, None]
    cv = pv[None] + dv[:, None, None]
    su = m[0, 0] * cu + m[0, 1] * cv + m[0, 2]
    sv = m[1, 0] * cu + m[1, 1] * cv + m[1, 2]
    h, w = depth_m.shape
    iu, iv = np.rint(su).astype(np.int64), np.rint(sv).astype(np.int64)
    inside = (iu >= 0) & (iu < w) & (iv >= 0) & (iv < h)
    values = np.full(iu.shape, np.nan, dtype=np.float32)
    values[inside] = depth_m[iv[inside], iu[inside]]
    with np.errstate(invalid='ignore'):
        valid = np.isfinite(values) & (values > 0)
    first = np.argmax(valid, axis=0)
    target = np.take_along_axis(values, first[None], axis=0)[0]
    target[~valid.any(axis=0)] = np.nan
    return target.astype(np.float32)


def mask_recorded_extremes(depth_m: np.ndarray) -> np.ndarray:
    """
    Depth with the image's recorded minimum and maximum made invalid (NYU's masking).

    The paper masks, per image, the depths equal to the minimum or maximum recorded for it:
    NYU's in-painted maps clamp missing and saturated readings to those values. They are the
    extremes of the whole recorded image (valid, positive pixels), taken before any crop,
    augmentation or depth cap, which would otherwise move them onto valid depths.

    Parameters
    ----------
    depth_m:
        ``H x W`` depth in metres as recorded (NaN, zero or negative: invalid).

    Returns
    -------
    A float32 copy with those pixels NaN.

    """
    depth = np.array(depth_m, dtype=np.float32)
    with np.errstate(invalid='ignore'):
        valid = np.isfinite(depth) & (depth > 0)
    if valid.any():
        values = depth[valid]
        depth[valid & ((depth == values.min()) | (depth == values.max()))] = np.nan
    return depth


def make_example(image_rgb: np.ndarray, depth_m: np.ndarray, intrinsics: Intrinsics,
                 plan: InputPlan, params: AugmentParams = AugmentParams(),
                 sparse: bool = False, normalize_focal: bool = True,
                 clip_to_preset_range: bool = True,
                 mask_extremes: bool = False) -> TrainingExample:
    """
    Network input and output-grid target of one sample under one augmentation.

    Parameters
    ----------
    image_rgb, depth_m, intrinsics:
        The sample (``H x W x 3`` uint8, ``H x W`` metres, its camera).
    plan:
        ``plan_input`` of the camera size and the preset.
    params:
        The augmentation (``AugmentParams()``: none, as at test time).
    sparse:
        The ground truth is sparse (see ``output_target``).
    normalize_focal:
        Divide the target by ``InputPlan.metric_scale``, so that a network trained on cameras
        of any focal length predicts depth at the preset's training focal length, which
        inference multiplies back.
    clip_to_preset_range:
        Targets outside the preset's ``[min_depth_m, max_depth_m]`` become invalid.
    mask_extremes:
        First drop the recorded image's minimum and maximum depth
        (``mask_recorded_extremes``; NYU).

    Returns
    -------
    A ``TrainingExample``.

    """
    if mask_extremes:
        depth_m = mask_recorded_extremes(depth_m)
    image = augment_image(image_rgb, plan, params)
    x = plan.prepare(image)[0]
    target = output_target(depth_m, plan, params, sparse=sparse) / np.float32(params.scale)
    if normalize_focal:
        target /= np.float32(plan.metric_scale(intrinsics))
    if clip_to_preset_range:
        with np.errstate(invalid='ignore'):
            outside = ~((target >= plan.preset.min_depth_m)
                        & (target <= plan.preset.max_depth_m))
        target[outside] = np.nan
    return TrainingExample(image=x, target_depth_m=target)
