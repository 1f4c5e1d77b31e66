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
The depth metrics of Eigen, Puhrsch and Fergus (NIPS 2014), Tables 1 and 2.

Every evaluation in the project (``msdepth-eval``, bag evaluation, the node's online metrics,
the demo) computes its numbers here. Metrics are computed per image over the valid pixels and
then averaged over images, as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Iterable, Mapping, Sequence

import numpy as np

#: Metric keys in the order of the paper's tables.
METRIC_NAMES = ('delta1', 'delta2', 'delta3', 'abs_rel', 'sq_rel', 'rmse', 'rmse_log',
                'si_log')

#: Human-readable labels for tables.
METRIC_LABELS = {
    'delta1': 'delta < 1.25',
    'delta2': 'delta < 1.25^2',
    'delta3': 'delta < 1.25^3',
    'abs_rel': 'abs rel',
    'sq_rel': 'sq rel',
    'rmse': 'RMSE (m)',
    'rmse_log': 'RMSE log',
    'si_log': 'scale-inv. log RMSE',
}

#: Whether a larger value is better, for each metric.
HIGHER_IS_BETTER = {name: name.startswith('delta') for name in METRIC_NAMES}

#: The paper's numbers, in ``METRIC_NAMES`` order. NYU Depth v2: Table 1; KITTI: Table 2
#: (Eigen, Puhrsch and Fergus, "Depth Map Prediction from a Single Image using a Multi-Scale
#: Deep Network", NIPS 2014). ``mean`` is the paper's mean-depth baseline.
PAPER_RESULTS: dict[str, dict[str, tuple[float, ...]]] = {
    'nyu': {
        'mean': (0.418, 0.711, 0.874, 0.408, 0.581, 1.244, 0.430, 0.304),
        'coarse': (0.618, 0.891, 0.969, 0.228, 0.223, 0.871, 0.283, 0.221),
        'coarse+fine': (0.611, 0.887, 0.971, 0.215, 0.212, 0.907, 0.285, 0.219),
    },
    'kitti': {
        'mean': (0.556, 0.752, 0.870, 0.412, 5.712, 9.635, 0.444, 0.359),
        'coarse': (0.679, 0.897, 0.967, 0.194, 1.531, 7.216, 0.273, 0.248),
        'coarse+fine': (0.692, 0.899, 0.967, 0.190, 1.515, 7.156, 0.270, 0.246),
    },
}


@dataclass(frozen=True)
class Crop:
    """
    An evaluation crop as fractions of the image height and width.

    ``top``, ``bottom``, ``left``, ``right`` are fractions in [0, 1]; the crop keeps rows
    ``int(top * H) .. int(bottom * H) - 1`` and columns ``int(left * W) .. int(right * W) - 1``,
    the convention of the code that introduced each crop.
    """

    name: str
    top: float
    bottom: float
    left: float
    right: float
    source: str

    def bounds(self, height: int, width: int) -> tuple[int, int, int, int]:
        """Kept rows and columns of a ``height x width`` image: ``(row0, row1, col0, col1)``."""
        return (int(self.top * height), int(self.bottom * height),
                int(self.left * width), int(self.right * width))

    def mask(self, height: int, width: int) -> np.ndarray:
        """``height x width`` bool mask, True inside the crop."""
        row0, row1, col0, col1 = self.bounds(height, width)
        mask = np.zeros((height, width), dtype=bool)
        mask[row0:row1, col0:col1] = True
        return mask

    def contains(self, u_px: np.ndarray, v_px: np.ndarray, height: int,
                 width: int) -> np.ndarray:
        """
        Whether points at pixel coordinates ``(u_px, v_px)`` land inside the crop.

        Coordinates are continuous (pixel centres at integers) in a ``height x width`` image; a
        point lands on the pixel nearest to it, as ``core.camera.depth_image_from_points``
        rounds. NaN coordinates are outside. Returns a bool array of the coordinates' shape.
        """
        row0, row1, col0, col1 = self.bounds(height, width)
        with np.errstate(invalid='ignore'):
            u = np.rint(np.asarray(u_px, dtype=np.float64))
            v = np.rint(np.asarray(v_px, dtype=np.float64))
            return (u >= col0) & (u < col1) & (v >= row0) & (v < row1)


#: Garg, Kumar, Carneiro and Reid, "Unsupervised CNN for Single View Depth Estimation",
#: ECCV 2016: the crop of KITTI images used by most later monocular-depth work.
KITTI_GARG_CROP = Crop('garg', 0.40810811, 0.99189189, 0.03594771, 0.96405229,
                       'Garg et al., ECCV 2016')

#: Eigen, Puhrsch and Fergus, NIPS 2014: the crop of the KITTI evaluation.
KITTI_EIGEN_CROP = Crop('eigen', 0.3324324, 0.91351351, 0.0359477, 0.96405229,
                        'Eigen et al., NIPS 2014')

#: The NYU Depth v2 evaluation crop of Eigen et al. (rows 45..470, columns 41..600 of the
#: 480x640 image): the area inside the Kinect's valid projection.
NYU_EIGEN_CROP = Crop('nyu_eigen', 45 / 480, 471 / 480, 41 / 640, 601 / 640,
                      'Eigen et al., NIPS 2014 (NYU Depth v2 toolbox crop)')

CROPS: dict[str, Crop] = {c.name: c for c in (KITTI_GARG_CROP, KITTI_EIGEN_CROP,
                                              NYU_EIGEN_CROP)}

#: Depth caps of the standard protocols, in metres.
KITTI_MIN_DEPTH_M = 1e-3
KITTI_MAX_DEPTH_M = 80.0
NYU_MIN_DEPTH_M = 1e-3
NYU_MAX_DEPTH_M = 10.0


def valid_mask(gt_m: np.ndarray, min_depth_m: float = 0.0, max_depth_m: float = math.inf,
               crop: Crop | None = None) -> np.ndarray:
    """Ground-truth pixels to evaluate: finite, positive, within the caps, inside the crop."""
    gt = np.asarray(gt_m)
    with np.errstate(invalid='ignore'):
        mask = np.isfinite(gt) & (gt > 0.0) & (gt > min_depth_m) & (gt < max_depth_m)
    if crop is not None:
        mask &= crop.mask(*gt.shape)
    return mask


def compute_metrics(pred_m: np.ndarray, gt_m: np.ndarray, mask: np.ndarray | None = None,
                    min_depth_m: float = 0.0, max_depth_m: float = math.inf,
                    crop: Crop | None = None,
                    clip_prediction: bool = True) -> dict[str, float]:
    """
    Compute the eight metrics of one image.

    Parameters
    ----------
    pred_m, gt_m:
        Predicted and true depth in metres, same shape.
    mask:
        Extra bool mask of pixels to evaluate (ANDed with the ground truth's validity).
    min_depth_m, max_depth_m:
        Ground truth outside (min, max) is not evaluated.
    crop:
        Evaluation crop (``KITTI_GARG_CROP`` and the like).
    clip_prediction:
        Clip predictions to [min, max] before evaluating (the standard protocol).

    Returns
    -------
    Metric name -> value (``METRIC_NAMES``); all NaN when no pixel is valid.

    """
    pred = np.asarray(pred_m, dtype=np.float64)
    gt = np.asarray(gt_m, dtype=np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f'prediction {pred.shape} and ground truth {gt.shape} differ in shape')
    valid = valid_mask(gt, min_depth_m, max_depth_m, crop)
    if mask is not None:
        valid &= np.asarray(mask, dtype=bool)
    p = pred[valid]
    g = gt[valid]
    if clip_prediction:
        lo = max(min_depth_m, np.finfo(np.float64).tiny)
        p = np.clip(p, lo, max_depth_m)
    with np.errstate(invalid='ignore'):
        finite = np.isfinite(p) & (p > 0.0)
    p, g = p[finite], g[finite]
    if p.size == 0:
        return {name: math.nan for name in METRIC_NAMES}
    return _metrics_of_pairs(p, g)


def _metrics_of_pairs(p: np.ndarray, g: np.ndarray) -> dict[str, float]:
    ratio = np.maximum(p / g, g / p)
    d = np.log(p) - np.log(g)
    return {
        'delta1': float(np.mean(ratio < 1.25)),
        'delta2': float(np.mean(ratio < 1.25 ** 2)),
        'delta3': float(np.mean(ratio < 1.25 ** 3)),
        'abs_rel': float(np.mean(np.abs(p - g) / g)),
        'sq_rel': float(np.mean((p - g) ** 2 / g)),
        'rmse': float(np.sqrt(np.mean((p - g) ** 2))),
        'rmse_log': float(np.sqrt(np.mean(d ** 2))),
        # sqrt of Eqn. 1: (1/n) sum d^2 - (1/n^2) (sum d)^2, clamped against rounding below 0.
        'si_log': float(np.sqrt(max(np.mean(d ** 2) - np.mean(d) ** 2, 0.0))),
    }


def median_scale(pred_m: np.ndarray, gt_m: np.ndarray, mask: np.ndarray) -> float:
    """Ratio of median ground truth to median prediction over ``mask`` (median scaling)."""
    p = np.asarray(pred_m)[mask]
    g = np.asarray(gt_m)[mask]
    ok = np.isfinite(p) & (p > 0) & np.isfinite(g) & (g > 0)
    if not np.any(ok):
        return math.nan
    return float(np.median(g[ok]) / np.median(p[ok]))


def average_metrics(per_image: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Mean of per-image metrics over the images that had valid pixels."""
    rows = [m for m in per_image if not math.isnan(m['delta1'])]
    if not rows:
        return {name: math.nan for name in METRIC_NAMES}
    return {name: float(np.mean([m[name] for m in rows])) for name in METRIC_NAMES}


def format_table(columns: Mapping[str, Mapping[str, float] | Sequence[float]],
                 title: str | None = None) -> str:
    """
    Plain-text table with one row per metric and one column per entry of ``columns``.

    A column is a metric dict or a sequence in ``METRIC_NAMES`` order (as in
    ``PAPER_RESULTS``).
    """
    names = list(columns)
    values = []
    for name in names:
        col = columns[name]
        if isinstance(col, Mapping):
            values.append([col.get(m, math.nan) for m in METRIC_NAMES])
        else:
            values.append(list(col))
    label_w = max(len(v) for v in METRIC_LABELS.values()) + 2
    col_w = max(12, max(len(n) for n in names) + 2)
    lines = []
    if title:
        lines.append(title)
    lines.append(' ' * label_w + ''.join(n.rjust(col_w) for n in names))
    for i, metric in enumerate(METRIC_NAMES):
        arrow = '(higher better)' if HIGHER_IS_BETTER[metric] else '(lower better)'
        label = METRIC_LABELS[metric]
        cells = ''.join(_fmt(values[j][i]).rjust(col_w) for j in range(len(names)))
        lines.append(label.ljust(label_w) + cells + '  ' + arrow)
    return '\n'.join(lines)


def _fmt(value: float) -> str:
    return '-' if value is None or math.isnan(value) else f'{value:.3f}'
