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

"""The scale-invariant log loss of Eigen, Puhrsch and Fergus (NIPS 2014), Eqn. 4."""

from __future__ import annotations

import torch

#: The paper's weight of the scale-invariant term ("lambda = 0.5").
PAPER_LAMBDA = 0.5


def valid_depth_mask(gt_depth_m: torch.Tensor, mask_min_max: bool = False) -> torch.Tensor:
    """
    Pixels with usable ground truth: finite and positive.

    ``mask_min_max`` also drops, per image, the pixels at that tensor's minimum and maximum
    depth. Training does not use it: the paper's rule takes the extremes of the recorded image
    before crop, augmentation and the depth cap (``data.augment.mask_recorded_extremes``),
    which a target on the output grid no longer holds.
    """
    valid = torch.isfinite(gt_depth_m) & (gt_depth_m > 0)
    if mask_min_max:
        flat = gt_depth_m.flatten(1)
        vflat = valid.flatten(1)
        inf = torch.full_like(flat, float('inf'))
        lo = torch.where(vflat, flat, inf).amin(dim=1)
        hi = torch.where(vflat, flat, -inf).amax(dim=1)
        shape = (-1,) + (1,) * (gt_depth_m.dim() - 1)
        valid = valid & (gt_depth_m != lo.view(shape)) & (gt_depth_m != hi.view(shape))
    return valid


def scale_invariant_loss(pred_log_depth: torch.Tensor, gt_depth_m: torch.Tensor,
                         lam: float = PAPER_LAMBDA, mask: torch.Tensor | None = None,
                         mask_min_max: bool = False) -> torch.Tensor:
    """
    ``L = (1/n) sum d^2 - (lam/n^2) (sum d)^2`` with ``d = pred - log(gt)``, over valid pixels.

    Parameters
    ----------
    pred_log_depth:
        ``B x 1 x H x W`` (or ``B x H x W``) predicted natural-log depth.
    gt_depth_m:
        Ground-truth depth in metres, same shape; NaN, infinite, zero or negative is invalid.
    lam:
        Weight of the scale-invariant term: 0 gives the log-space L2 loss, 1 the
        scale-invariant error of Eqn. 1, 0.5 the paper's training loss.
    mask:
        Optional extra bool mask of pixels to use.
    mask_min_max:
        Also drop each image's minimum and maximum depth (NYU).

    Returns
    -------
    Scalar: the per-image loss (``n`` = that image's valid pixels) averaged over the images
    that have at least one valid pixel; 0 (with a gradient) when none has.

    """
    if pred_log_depth.shape != gt_depth_m.shape:
        raise ValueError(f'prediction {tuple(pred_log_depth.shape)} and ground truth '
                         f'{tuple(gt_depth_m.shape)} differ in shape')
    valid = valid_depth_mask(gt_depth_m, mask_min_max)
    if mask is not None:
        valid = valid & mask.bool()
    valid = valid.flatten(1)
    # log of a placeholder 1 where invalid keeps NaN out of the masked sum and its gradient.
    gt_flat = gt_depth_m.flatten(1)
    gt_safe = torch.where(valid, gt_flat, torch.ones_like(gt_flat))
    d = (pred_log_depth.flatten(1) - torch.log(gt_safe)) * valid
    n = valid.sum(dim=1)
    has = n > 0
    n_f = n.clamp(min=1).to(d.dtype)
    per_image = (d * d).sum(dim=1) / n_f - lam * d.sum(dim=1) ** 2 / (n_f * n_f)
    if not bool(has.any()):
        return pred_log_depth.sum() * 0.0
    return per_image[has].mean()
