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

"""The scale-invariant loss against float64 numpy forms of the paper's Eqns. 2 and 4."""

from msdepth_ros.model.loss import scale_invariant_loss, valid_depth_mask
import numpy as np
import pytest
import torch


def _eqn4(pred_log, gt, valid, lam):
    d = pred_log[valid] - np.log(gt[valid])
    n = d.size
    return np.sum(d ** 2) / n - lam * np.sum(d) ** 2 / n ** 2


def _eqn2_pairwise(pred_log, gt, valid):
    # 1/(2 n^2) sum_ij ((log y_i - log y_j) - (log y*_i - log y*_j))^2
    y = pred_log[valid]
    t = np.log(gt[valid])
    diff = (y[:, None] - y[None, :]) - (t[:, None] - t[None, :])
    return np.sum(diff ** 2) / (2 * y.size ** 2)


def _random_batch(rng, b=3, h=5, w=7):
    pred = rng.normal(1.0, 0.7, (b, 1, h, w))
    gt = np.exp(rng.normal(1.2, 0.8, (b, 1, h, w)))
    invalid = rng.random((b, 1, h, w)) < 0.3
    gt[invalid] = rng.choice([0.0, np.nan, -1.0, np.inf], size=int(invalid.sum()))
    return pred, gt


@pytest.mark.parametrize('lam', [0.0, 0.5, 1.0])
def test_matches_eqn4_per_image_then_averaged(lam):
    rng = np.random.default_rng(0)
    pred, gt = _random_batch(rng)
    valid = np.isfinite(gt) & (gt > 0)
    expected = np.mean([_eqn4(pred[i], gt[i], valid[i], lam) for i in range(len(pred))])
    got = scale_invariant_loss(torch.from_numpy(pred), torch.from_numpy(gt), lam=lam)
    assert got.dtype == torch.float64
    assert got.item() == pytest.approx(expected, rel=1e-12)


def test_lambda_one_equals_pairwise_form():
    rng = np.random.default_rng(1)
    pred, gt = _random_batch(rng)
    valid = np.isfinite(gt) & (gt > 0)
    expected = np.mean([_eqn2_pairwise(pred[i], gt[i], valid[i]) for i in range(len(pred))])
    got = scale_invariant_loss(torch.from_numpy(pred), torch.from_numpy(gt), lam=1.0)
    assert got.item() == pytest.approx(expected, rel=1e-10)


def test_extra_mask_and_images_without_valid_pixels():
    rng = np.random.default_rng(2)
    pred, gt = _random_batch(rng)
    mask = rng.random(gt.shape) < 0.5
    gt[2] = np.nan  # no valid pixel: excluded from the average
    valid = np.isfinite(gt) & (gt > 0) & mask
    expected = np.mean([_eqn4(pred[i], gt[i], valid[i], 0.5) for i in range(2)])
    got = scale_invariant_loss(torch.from_numpy(pred), torch.from_numpy(gt),
                               mask=torch.from_numpy(mask))
    assert got.item() == pytest.approx(expected, rel=1e-12)
    empty = scale_invariant_loss(torch.zeros(1, 1, 2, 2, requires_grad=True),
                                 torch.full((1, 1, 2, 2), float('nan')))
    assert empty.item() == 0.0
    empty.backward()


def test_gradient_passes_gradcheck():
    rng = np.random.default_rng(3)
    pred, gt = _random_batch(rng, b=2, h=3, w=4)
    pred_t = torch.from_numpy(pred).requires_grad_(True)
    gt_t = torch.from_numpy(gt)
    assert torch.autograd.gradcheck(lambda p: scale_invariant_loss(p, gt_t), (pred_t,))
    loss = scale_invariant_loss(pred_t, gt_t)
    loss.backward()
    valid = torch.from_numpy(np.isfinite(gt) & (gt > 0))
    assert torch.all(pred_t.grad[~valid] == 0)
    assert torch.all(torch.isfinite(pred_t.grad))


def test_lambda_one_is_invariant_to_a_global_scale():
    rng = np.random.default_rng(4)
    pred, gt = _random_batch(rng)
    pred_t, gt_t = torch.from_numpy(pred), torch.from_numpy(gt)
    base = scale_invariant_loss(pred_t, gt_t, lam=1.0)
    for scale in (0.1, 3.0, 250.0):
        shifted = scale_invariant_loss(pred_t + np.log(scale), gt_t, lam=1.0)
        assert shifted.item() == pytest.approx(base.item(), rel=1e-9, abs=1e-12)
    # ... and the paper's lambda = 0.5 is not: it still penalises a global scale error.
    half = scale_invariant_loss(pred_t + np.log(3.0), gt_t, lam=0.5)
    assert half.item() != pytest.approx(scale_invariant_loss(pred_t, gt_t, lam=0.5).item())


def test_nyu_min_max_masking():
    gt = torch.tensor([[[[1.0, 2.0, 3.0], [9.0, 4.0, 1.0]]],
                       [[[5.0, float('nan'), 6.0], [7.0, 7.0, 8.0]]]])
    mask = valid_depth_mask(gt, mask_min_max=True)
    expected = torch.tensor([[[[False, True, True], [False, True, False]]],
                             [[[False, False, True], [True, True, False]]]])
    assert torch.equal(mask, expected)
    pred = torch.zeros_like(gt)
    full = scale_invariant_loss(pred, gt, mask_min_max=True)
    manual = scale_invariant_loss(pred, torch.where(expected, gt, torch.nan))
    assert full.item() == pytest.approx(manual.item())


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match='differ in shape'):
        scale_invariant_loss(torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 3))
