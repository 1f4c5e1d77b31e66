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
Evaluating depth predictions against ground truth, image by image.

The prediction is a depth image on the network's output grid. For every ground-truth pixel
``(u, v)`` that the protocol keeps (within the depth caps and the crop), the prediction is read
at ``InputPlan.camera_to_output(u, v)`` (bilinear in log depth, ``core.resample``), so the two
are compared at the same point of the camera image; ground-truth pixels outside the predicted
area are counted (``coverage``) and left out. The metrics are ``core.metrics``'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Any, Callable, Iterable, Protocol

from msdepth_ros.core.affine import PixelMap
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.metrics import (average_metrics, compute_metrics, CROPS, KITTI_GARG_CROP,
                                      KITTI_MAX_DEPTH_M, KITTI_MIN_DEPTH_M, median_scale,
                                      METRIC_NAMES, NYU_EIGEN_CROP, NYU_MAX_DEPTH_M,
                                      NYU_MIN_DEPTH_M, valid_mask)
from msdepth_ros.core.resample import depth_at_camera_pixels, depth_on_camera_grid
from msdepth_ros.data.base import DepthDataset
import numpy as np

#: Bins of the error-against-depth curve.
ERROR_BINS = 16


@dataclass(frozen=True)
class EvalProtocol:
    """
    Depth caps, crop and scaling of an evaluation.

    ``crop`` is a name of ``core.metrics.CROPS`` or None; ``median_scaling`` multiplies each
    prediction by ``median(gt) / median(pred)`` first (not the paper's protocol: reports label
    it).
    """

    min_depth_m: float
    max_depth_m: float
    crop: str | None = None
    median_scaling: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_depth_m < self.max_depth_m:
            raise ValueError(f'need 0 <= min_depth_m < max_depth_m, got {self.min_depth_m}, '
                             f'{self.max_depth_m}')
        if self.crop is not None and self.crop not in CROPS:
            raise ValueError(f'crop must be one of {sorted(CROPS)} or none, got {self.crop!r}')

    @classmethod
    def for_preset(cls, preset_name: str) -> EvalProtocol:
        """KITTI: 0-80 m, Garg crop; NYU: 0-10 m, Eigen's NYU crop; anything else: KITTI's."""
        if preset_name == 'nyu':
            return cls(NYU_MIN_DEPTH_M, NYU_MAX_DEPTH_M, NYU_EIGEN_CROP.name)
        return cls(KITTI_MIN_DEPTH_M, KITTI_MAX_DEPTH_M, KITTI_GARG_CROP.name)

    def describe(self) -> str:
        """One line for reports."""
        crop = CROPS[self.crop].name if self.crop else 'none'
        scaling = ', median-scaled per image' if self.median_scaling else ''
        return (f'depth {self.min_depth_m:g}-{self.max_depth_m:g} m, crop {crop}'
                f'{scaling}')


class DepthSource(Protocol):
    """Something that predicts depth: ``predict(image, intrinsics) -> PredictedDepth``."""

    label: str

    def predict(self, image_rgb: np.ndarray, intrinsics: Intrinsics) -> PredictedDepth:
        """Predict one image's depth."""


@dataclass(frozen=True)
class PredictedDepth:
    """
    A prediction and where it lies.

    ``sample(u, v)`` returns the predicted depth (metres, NaN outside the predicted area) at
    camera pixels; ``dense(width, height)`` the prediction on the whole camera grid. A model's
    prediction reads its depth image through ``core.resample`` (see
    ``tools.evaluate.ModelSource``, which runs models through the inference runtime).
    """

    sample: Callable[[np.ndarray, np.ndarray], np.ndarray]
    dense: Callable[[int, int], np.ndarray]


def depth_image_prediction(depth_m: np.ndarray, camera_to_depth: PixelMap,
                           extrapolate: bool = False) -> PredictedDepth:
    """
    Wrap a depth image and its map from camera pixels as a prediction.

    Parameters
    ----------
    depth_m:
        ``H x W`` depth image in metres (a network's output grid, ``DepthResult.depth_m``).
    camera_to_depth:
        Camera pixel -> depth-image pixel (``InputPlan.camera_to_output``).
    extrapolate:
        Beyond the depth image's area, repeat its nearest edge (as resizing a prediction to
        the whole image does) instead of leaving those pixels unpredicted.

    Returns
    -------
    A ``PredictedDepth`` that reads the image bilinearly in log depth (``core.resample``).

    """
    return PredictedDepth(
        sample=lambda u, v: depth_at_camera_pixels(depth_m, camera_to_depth, u, v, extrapolate),
        dense=lambda width, height: depth_on_camera_grid(depth_m, camera_to_depth, width,
                                                         height, extrapolate))


class ConstantSource:
    """The mean-depth baseline: the same depth at every pixel."""

    def __init__(self, depth_m: float, label: str | None = None) -> None:
        if not depth_m > 0.0:
            raise ValueError(f'constant depth must be positive, got {depth_m}')
        self.depth_m = float(depth_m)
        self.label = label or f'constant {self.depth_m:.3f} m'

    def predict(self, image_rgb: np.ndarray, intrinsics: Intrinsics) -> PredictedDepth:
        """Return the constant at every pixel."""
        value = np.float32(self.depth_m)
        return PredictedDepth(
            sample=lambda u, v: np.full(np.shape(u), value, dtype=np.float32),
            dense=lambda width, height: np.full((height, width), value, dtype=np.float32))


@dataclass
class EvalReport:
    """
    Result of an evaluation.

    ``per_image``: one dict per image (``name``, ``pixels``, ``coverage``, ``scale`` and the
    metrics); ``metrics``: their mean over the images with valid pixels (``core.metrics``);
    ``error_bins``: abs rel and RMSE by ground-truth depth; ``by_surface``: for a data set
    that labels its pixels' surfaces (``surfaces(i)`` and ``SURFACE_NAMES``, the synthetic
    streets), each surface's share of the scored pixels, delta < 1.25, abs rel and mean log
    ratio (prediction over truth: above 0 too far), pooled over every pixel; ``examples``: a
    few ``(name, image, gt, prediction on the camera grid)`` for pictures.
    """

    label: str
    protocol: EvalProtocol
    per_image: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    error_bins: dict[str, list[float]] = field(default_factory=dict)
    by_surface: dict[str, dict[str, float]] = field(default_factory=dict)
    examples: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)

    @property
    def coverage(self) -> float:
        """Fraction of the evaluated ground-truth pixels that had a prediction."""
        total = sum(r['gt_pixels'] for r in self.per_image)
        return sum(r['pixels'] for r in self.per_image) / total if total else math.nan


def evaluate(source: DepthSource, dataset: DepthDataset, protocol: EvalProtocol,
             keep_examples: int = 4,
             progress: Callable[[Iterable[int]], Iterable[int]] | None = None) -> EvalReport:
    """
    Evaluate ``source`` on every sample of ``dataset``.

    Parameters
    ----------
    source:
        The predictions (``ModelSource``, ``ConstantSource``).
    dataset:
        Samples with ground truth.
    protocol:
        Caps, crop and scaling.
    keep_examples:
        Keep this many samples (the first) with their dense prediction for pictures.
    progress:
        Wraps the index range (``tqdm`` for a bar).

    Returns
    -------
    An ``EvalReport``.

    """
    crop = CROPS[protocol.crop] if protocol.crop else None
    report = EvalReport(label=source.label, protocol=protocol)
    edges = np.linspace(protocol.min_depth_m if protocol.min_depth_m > 0 else 0.0,
                        protocol.max_depth_m, ERROR_BINS + 1)
    abs_sum = np.zeros(ERROR_BINS)
    sq_sum = np.zeros(ERROR_BINS)
    counts = np.zeros(ERROR_BINS)
    surfaces = SurfaceTally(dataset.SURFACE_NAMES) if hasattr(dataset, 'surfaces') else None
    indices: Iterable[int] = range(len(dataset))
    if progress is not None:
        indices = progress(indices)
    for i in indices:
        image, gt, intrinsics = dataset[i]
        mask = valid_mask(gt, protocol.min_depth_m, protocol.max_depth_m, crop)
        v, u = np.nonzero(mask)
        gt_values = gt[v, u].astype(np.float64)
        prediction = source.predict(image, intrinsics)
        pred_values = prediction.sample(u.astype(np.float64), v.astype(np.float64)).astype(
            np.float64)
        covered = np.isfinite(pred_values) & (pred_values > 0)
        scale = 1.0
        if protocol.median_scaling:
            scale = median_scale(pred_values, gt_values, covered)
            pred_values = pred_values * scale
        metrics = compute_metrics(pred_values[covered], gt_values[covered],
                                  min_depth_m=protocol.min_depth_m,
                                  max_depth_m=protocol.max_depth_m)
        report.per_image.append({'name': dataset.sample_name(i), 'gt_pixels': int(mask.sum()),
                                 'pixels': int(covered.sum()), 'scale': scale, **metrics})
        if covered.any():
            p = np.clip(pred_values[covered], max(protocol.min_depth_m, 1e-9),
                        protocol.max_depth_m)
            g = gt_values[covered]
            b = np.clip(np.digitize(g, edges) - 1, 0, ERROR_BINS - 1)
            abs_sum += np.bincount(b, np.abs(p - g) / g, ERROR_BINS)
            sq_sum += np.bincount(b, (p - g) ** 2, ERROR_BINS)
            counts += np.bincount(b, None, ERROR_BINS)
            if surfaces is not None:
                surfaces.add(dataset.surfaces(i)[v[covered], u[covered]], p, g)
        if len(report.examples) < keep_examples:
            dense = prediction.dense(image.shape[1], image.shape[0]) * np.float32(scale)
            report.examples.append((dataset.sample_name(i), image, gt, dense))
    report.metrics = average_metrics(report.per_image)
    with np.errstate(invalid='ignore', divide='ignore'):
        report.error_bins = {
            'depth_m': list(0.5 * (edges[:-1] + edges[1:])),
            'abs_rel': list(abs_sum / counts),
            'rmse': list(np.sqrt(sq_sum / counts)),
            'pixels': list(counts),
        }
    if surfaces is not None:
        report.by_surface = surfaces.result()
    return report


class SurfaceTally:
    """Pooled delta < 1.25, abs rel and log ratio per surface label (``EvalReport.by_surface``)."""

    def __init__(self, names: dict[int, str]) -> None:
        self.names = dict(names)
        size = max(self.names) + 1
        self.pixels = np.zeros(size)
        self.within = np.zeros(size)
        self.abs_rel = np.zeros(size)
        self.log_ratio = np.zeros(size)

    def add(self, labels: np.ndarray, pred_m: np.ndarray, gt_m: np.ndarray) -> None:
        """Count pixels with these labels, predictions and (positive) truths."""
        keep = labels < self.pixels.size
        labels, pred_m, gt_m = labels[keep], pred_m[keep], gt_m[keep]
        ratio = pred_m / gt_m
        size = self.pixels.size
        self.pixels += np.bincount(labels, None, size)
        self.within += np.bincount(labels, np.maximum(ratio, 1.0 / ratio) < 1.25, size)
        self.abs_rel += np.bincount(labels, np.abs(ratio - 1.0), size)
        self.log_ratio += np.bincount(labels, np.log(ratio), size)

    def result(self) -> dict[str, dict[str, float]]:
        """``{name: {'share', 'delta1', 'abs_rel', 'log_ratio'}}`` of the surfaces seen."""
        total = self.pixels.sum()
        return {name: {'share': self.pixels[k] / total, 'delta1': self.within[k] / self.pixels[k],
                       'abs_rel': self.abs_rel[k] / self.pixels[k],
                       'log_ratio': self.log_ratio[k] / self.pixels[k]}
                for k, name in sorted(self.names.items()) if self.pixels[k] > 0}


def per_image_columns() -> list[str]:
    """Columns of the per-image CSV."""
    return ['name', 'gt_pixels', 'pixels', 'scale', *METRIC_NAMES]
