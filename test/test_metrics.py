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

"""The eight metrics against values worked out by hand."""

import math

from msdepth_ros.core.metrics import (average_metrics, compute_metrics, format_table,
                                      KITTI_EIGEN_CROP, KITTI_GARG_CROP, median_scale,
                                      METRIC_NAMES, NYU_EIGEN_CROP, PAPER_RESULTS)
import numpy as np
import pytest


def test_values_by_hand():
    gt = np.array([1.0, 2.0, 4.0])
    pred = np.array([1.0, 2.6, 2.0])
    m = compute_metrics(pred, gt)
    # ratios max(p/g, g/p) = 1, 1.3, 2
    assert m['delta1'] == pytest.approx(1 / 3)
    assert m['delta2'] == pytest.approx(2 / 3)
    assert m['delta3'] == pytest.approx(2 / 3)          # 2 > 1.25^3 = 1.953125
    assert m['abs_rel'] == pytest.approx((0 + 0.6 / 2 + 2 / 4) / 3)
    assert m['sq_rel'] == pytest.approx((0 + 0.36 / 2 + 4 / 4) / 3)
    assert m['rmse'] == pytest.approx(math.sqrt((0 + 0.36 + 4) / 3))
    d = [0.0, math.log(1.3), math.log(0.5)]
    assert m['rmse_log'] == pytest.approx(math.sqrt(sum(x * x for x in d) / 3))
    mean_d = sum(d) / 3
    assert m['si_log'] == pytest.approx(math.sqrt(sum(x * x for x in d) / 3 - mean_d ** 2))
    assert m['rmse_log'] == pytest.approx(0.427897, abs=1e-6)
    assert m['si_log'] == pytest.approx(0.403084, abs=1e-6)


def test_perfect_prediction():
    rng = np.random.default_rng(0)
    gt = rng.uniform(0.5, 80.0, (20, 30))
    gt[rng.random(gt.shape) < 0.2] = np.nan
    m = compute_metrics(gt.copy(), gt)
    assert m['delta1'] == m['delta2'] == m['delta3'] == 1.0
    for name in ('abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'si_log'):
        assert m[name] == 0.0


def test_scale_invariant_error_ignores_global_scale():
    rng = np.random.default_rng(1)
    gt = rng.uniform(1.0, 50.0, 100)
    pred = gt * rng.uniform(0.8, 1.25, 100)
    a = compute_metrics(pred, gt)['si_log']
    b = compute_metrics(pred * 1.7, gt)['si_log']
    assert a == pytest.approx(b, rel=1e-9)


def test_invalid_and_capped_pixels_are_not_evaluated():
    gt = np.array([0.0, np.nan, 5.0, 90.0, 10.0])
    pred = np.array([3.0, 3.0, 5.0, 1.0, 20.0])
    m = compute_metrics(pred, gt, max_depth_m=80.0)
    # Only (5, 5) and (20, 10) count.
    assert m['delta1'] == pytest.approx(0.5)
    assert m['abs_rel'] == pytest.approx((0 + 1.0) / 2)
    # predictions are clipped to the caps before evaluation
    m = compute_metrics(np.array([200.0]), np.array([40.0]), max_depth_m=80.0)
    assert m['abs_rel'] == pytest.approx(1.0)
    assert all(math.isnan(v) for v in compute_metrics(pred, np.full(5, np.nan)).values())


def test_per_image_then_averaged():
    a = compute_metrics(np.array([1.0, 1.0]), np.array([1.0, 2.0]))
    b = compute_metrics(np.array([3.0]), np.array([3.0]))
    avg = average_metrics([a, b])
    assert avg['abs_rel'] == pytest.approx((0.25 + 0.0) / 2)
    # a pixel-weighted average would give 1/3 / ... instead: make sure it is not that
    assert avg['abs_rel'] != pytest.approx(compute_metrics(
        np.array([1.0, 1.0, 3.0]), np.array([1.0, 2.0, 3.0]))['abs_rel'])


def test_crops_are_the_published_ones():
    # Garg crop on a 375 x 1242 KITTI image: rows 153..371, columns 44..1196
    mask = KITTI_GARG_CROP.mask(375, 1242)
    rows = np.nonzero(mask.any(axis=1))[0]
    cols = np.nonzero(mask.any(axis=0))[0]
    assert (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1) == (153, 371, 44, 1197)
    mask = KITTI_EIGEN_CROP.mask(375, 1242)
    rows = np.nonzero(mask.any(axis=1))[0]
    assert (rows[0], rows[-1] + 1) == (124, 342)
    mask = NYU_EIGEN_CROP.mask(480, 640)
    rows = np.nonzero(mask.any(axis=1))[0]
    cols = np.nonzero(mask.any(axis=0))[0]
    assert (rows[0], rows[-1], cols[0], cols[-1]) == (45, 470, 41, 600)


def test_crop_restricts_evaluation():
    gt = np.full((480, 640), 2.0)
    pred = np.full((480, 640), 2.0)
    pred[:45] = 100.0  # wrong only outside the crop
    assert compute_metrics(pred, gt, crop=NYU_EIGEN_CROP)['abs_rel'] == 0.0


def test_median_scale():
    gt = np.array([[2.0, 4.0, 6.0]])
    pred = gt / 3.0
    assert median_scale(pred, gt, np.ones_like(gt, bool)) == pytest.approx(3.0)


def test_table_prints_paper_columns():
    text = format_table({'measured': dict.fromkeys(METRIC_NAMES, 0.5),
                         'paper coarse+fine': PAPER_RESULTS['kitti']['coarse+fine']})
    assert '7.156' in text and 'delta < 1.25' in text and '0.500' in text
