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
Comparing backends on synthetic road scenes: depth parity, accuracy and latency.

Used after export (ONNX Runtime against PyTorch, INT8 against FP32) and by the benchmarks.
Scenes come from ``core.synthetic`` and run through ``DepthPredictor``, so the comparison covers
the whole path a camera frame takes, not only the network.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import time
from typing import Callable, Iterable, Sequence

from msdepth_ros.core.metrics import compute_metrics
from msdepth_ros.core.presets import Preset
from msdepth_ros.core.synthetic import road_scene, SyntheticFrame
from msdepth_ros.inference.interface import Backend
from msdepth_ros.inference.predictor import DepthPredictor
import numpy as np


@dataclass(frozen=True)
class ParityReport:
    """
    Relative depth error of a candidate against a reference, over pixels both find valid.

    ``max_rel``, ``median_rel``: of ``|d_cand - d_ref| / d_ref``; ``pixels``: compared;
    ``validity_mismatches``: pixels valid (in range, finite) in one prediction only.
    """

    max_rel: float
    median_rel: float
    pixels: int
    validity_mismatches: int
    scenes: int

    def passed(self, tolerance: float) -> bool:
        """Whether the worst pixel is within ``tolerance`` and validity agrees everywhere."""
        return self.max_rel <= tolerance and self.validity_mismatches == 0

    def summary(self) -> str:
        """One line: max and median relative depth error."""
        return (f'max relative depth error {self.max_rel:.2e}, median {self.median_rel:.2e} '
                f'over {self.pixels} pixels of {self.scenes} synthetic scenes')


def scenes_for(preset: Preset, count: int, seed: int = 0) -> list[SyntheticFrame]:
    """``count`` synthetic road scenes at a camera size typical of the preset's data set."""
    size = {'kitti': (1242, 375), 'nyu': (640, 480)}.get(
        preset.name, (int(2 * preset.resize_width), int(2 * preset.resize_height)))
    return [road_scene(seed + i, *size) for i in range(count)]


def compare_depth(reference: Backend, candidate: Backend, frames: Sequence[SyntheticFrame],
                  progress: Callable[[Iterable], Iterable] | None = None) -> ParityReport:
    """
    Run ``frames`` through a ``DepthPredictor`` on each backend and compare metric depth.

    Parameters
    ----------
    reference, candidate:
        Backends of the same model (the same preset).
    frames:
        Camera frames (``scenes_for``).
    progress:
        Optional wrapper of the frame loop (a tqdm bar).

    Returns
    -------
    The ``ParityReport``.

    """
    if reference.preset != candidate.preset:
        raise ValueError(f'the backends serve different presets: {reference.preset.name} and '
                         f'{candidate.preset.name}')
    ref_pred, cand_pred = DepthPredictor(reference), DepthPredictor(candidate)
    errors, mismatches = [], 0
    for frame in (progress or iter)(frames):
        ref = ref_pred.predict(frame.image, frame.intrinsics).depth_m
        cand = cand_pred.predict(frame.image, frame.intrinsics).depth_m
        ref_ok, cand_ok = np.isfinite(ref), np.isfinite(cand)
        mismatches += int(np.count_nonzero(ref_ok != cand_ok))
        both = ref_ok & cand_ok
        errors.append(np.abs(cand[both].astype(np.float64) - ref[both]) / ref[both])
    rel = np.concatenate(errors) if errors else np.empty(0)
    if rel.size == 0:
        return ParityReport(math.nan, math.nan, 0, mismatches, len(frames))
    return ParityReport(max_rel=float(rel.max()), median_rel=float(np.median(rel)),
                        pixels=int(rel.size), validity_mismatches=mismatches,
                        scenes=len(frames))


def ground_truth_on_output_grid(frame: SyntheticFrame, predictor: DepthPredictor) -> np.ndarray:
    """
    Sample the scene's exact depth at the depth image's pixels (nearest camera pixel).

    Each depth-image pixel is mapped back to the camera through the plan's pixel map
    (``camera_to_output`` inverted); the camera pixel nearest to it gives the depth.
    """
    plan = predictor.plan_for(frame.intrinsics.width, frame.intrinsics.height)
    u_out, v_out = np.meshgrid(np.arange(plan.output_width, dtype=np.float64),
                               np.arange(plan.output_height, dtype=np.float64))
    u_cam, v_cam = plan.camera_to_output.inverse().apply(u_out, v_out)
    u = np.clip(np.rint(u_cam).astype(np.int64), 0, frame.intrinsics.width - 1)
    v = np.clip(np.rint(v_cam).astype(np.int64), 0, frame.intrinsics.height - 1)
    return frame.depth_m[v, u]


def accuracy(backend: Backend, frames: Sequence[SyntheticFrame]) -> dict[str, float]:
    """Average the paper's metrics of ``backend`` against the scenes' exact depth."""
    predictor = DepthPredictor(backend)
    rows = []
    for frame in frames:
        pred = predictor.predict(frame.image, frame.intrinsics).depth_m
        gt = ground_truth_on_output_grid(frame, predictor)
        rows.append(compute_metrics(pred, gt, min_depth_m=predictor.min_depth_m,
                                    max_depth_m=predictor.max_depth_m))
    return {name: float(np.nanmean([r[name] for r in rows])) for name in rows[0]}


def latencies_s(backend: Backend, image: np.ndarray, frames: int = 20,
                warmup: int = 3) -> np.ndarray:
    """Time ``frames`` calls of ``predict`` (seconds each) after ``warmup`` untimed calls."""
    for _ in range(warmup):
        backend.predict(image)
    times = np.empty(frames)
    for i in range(frames):
        t0 = time.perf_counter()
        backend.predict(image)
        times[i] = time.perf_counter() - t0
    return times


def network_input(preset: Preset, frame: SyntheticFrame) -> np.ndarray:
    """Preprocess one frame into the ``1 x 3 x H_in x W_in`` float32 network input."""
    from msdepth_ros.core.preprocess import plan_input
    plan = plan_input(frame.intrinsics.width, frame.intrinsics.height, preset)
    return plan.prepare(frame.image)
