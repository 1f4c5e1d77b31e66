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
Occupancy and the cloud filter in ``msdepth-bag-infer``: options, per-frame scores, the summary.

The written ``points`` go through the cloud filter of the depth node's parameters
(``--cloud-flying-pixel-threshold``, ``--cloud-max-range-m``, ``--cloud-stride``); each
evaluated frame's cloud and its scan are binned into the cells of ``--base-frame`` as Nav2's
obstacle layer marks them (``core.occupancy``), with the bag's ``/tf_static``. The defaults fit
the KITTI bags of ``msdepth-kitti2bag``, whose ``base_link`` is the OXTS unit 0.93 m above the
road: obstacles 0.3 to 2.0 m above the road are -0.63 to 1.07 m in ``base_link``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
import math
from typing import Any

from msdepth_ros.core.camera import depth_image_from_points
from msdepth_ros.core.cloud_filter import CloudFilter, DEFAULT_FLYING_PIXEL_THRESHOLD
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.occupancy import (DEFAULT_CELL_M, depth_occupancy, OCCUPANCY_NAMES,
                                        OccupancyScore, OccupancySpec, occupied_cells,
                                        score_cells)
from msdepth_ros.core.transforms import apply
import numpy as np

#: KITTI's OXTS unit (``base_link`` of its bags) above the road.
KITTI_BASE_HEIGHT_M = 0.93
#: Columns of ``frames.csv`` and keys of a frame's row: the scores, the cell counts, and the
#: counts of the resolution ceiling (the scan sampled at the depth image's pixels).
OCCUPANCY_COLUMNS = (*(f'occupancy_{name}' for name in OCCUPANCY_NAMES),
                     'cells_tp', 'cells_fp', 'cells_fn', 'ceiling_tp', 'ceiling_fp', 'ceiling_fn')


@dataclass(frozen=True)
class OccupancySettings:
    """Where and how the cells are counted: ``base_frame`` and the binning ``spec``."""

    base_frame: str
    spec: OccupancySpec

    def describe(self) -> str:
        """Return the settings in words, for the report."""
        spec = self.spec
        return (f'cells of {spec.cell_m:g} m in {self.base_frame}, heights '
                f'{spec.min_height_m:g} to {spec.max_height_m:g} m, within '
                f'{spec.max_range_m:g} m of the camera')


def add_arguments(cloud: argparse._ArgumentGroup, evaluation: argparse._ArgumentGroup) -> None:
    """Add the cloud filter's options and the occupancy options to two argument groups."""
    cloud.add_argument('--cloud-flying-pixel-threshold', type=float,
                       default=DEFAULT_FLYING_PIXEL_THRESHOLD,
                       help='drop cloud points whose neighbours differ in depth by more than '
                       'this fraction (0: off)')
    cloud.add_argument('--cloud-max-range-m', type=float, default=0.0,
                       help='drop cloud points farther from the camera (0: no cap)')
    cloud.add_argument('--cloud-stride', type=int, default=1,
                       help='keep every n-th pixel of every n-th row in the cloud')
    evaluation.add_argument('--no-occupancy', action='store_true',
                            help='do not score occupancy')
    evaluation.add_argument('--base-frame', default='base_link',
                            help="the grid's frame (from /tf_static)")
    evaluation.add_argument('--occupancy-cell-m', type=float, default=DEFAULT_CELL_M,
                            help='cell size')
    evaluation.add_argument('--occupancy-min-height-m', type=float,
                            default=round(0.3 - KITTI_BASE_HEIGHT_M, 6),
                            help='obstacles from this height in the base frame')
    evaluation.add_argument('--occupancy-max-height-m', type=float,
                            default=round(2.0 - KITTI_BASE_HEIGHT_M, 6),
                            help='obstacles up to this height in the base frame')
    evaluation.add_argument('--occupancy-max-range-m', type=float, default=20.0,
                            help='cells within this distance of the camera')


def cloud_filter_from(args: argparse.Namespace) -> CloudFilter:
    """Return the cloud filter of the options; raise ``ValueError`` naming a bad one."""
    try:
        return CloudFilter(flying_pixel_threshold=args.cloud_flying_pixel_threshold,
                           max_range_m=args.cloud_max_range_m or math.inf,
                           stride=args.cloud_stride)
    except ValueError as exc:
        raise ValueError(f'--cloud-*: {exc}') from None


def settings_from(args: argparse.Namespace) -> OccupancySettings | None:
    """Return the occupancy settings of the options (None with ``--no-occupancy``)."""
    if args.no_occupancy:
        return None
    try:
        spec = OccupancySpec(cell_m=args.occupancy_cell_m,
                             min_height_m=args.occupancy_min_height_m,
                             max_height_m=args.occupancy_max_height_m,
                             max_range_m=args.occupancy_max_range_m)
    except ValueError as exc:
        raise ValueError(f'--occupancy-*: {exc}') from None
    return OccupancySettings(args.base_frame.lstrip('/'), spec)


def frame_occupancy(depth_m: np.ndarray, grid: Intrinsics, points_scan: np.ndarray,
                    T_cam_scan: np.ndarray, T_base_cam: np.ndarray,
                    settings: OccupancySettings, cloud_filter: CloudFilter
                    ) -> tuple[OccupancyScore, OccupancyScore]:
    """
    Score one frame's cells, and the resolution ceiling's.

    Parameters
    ----------
    depth_m, grid:
        The depth image as published (``H x W`` metres, NaN invalid) and its intrinsics.
    points_scan, T_cam_scan:
        The scan's ``N x 3`` points and the transform scan frame -> camera optical frame.
    T_base_cam:
        The camera's pose in the base frame.
    settings, cloud_filter:
        The binning and the cloud's filter (the scan is never filtered).

    Returns
    -------
    The depth image's score, and that of the scan sampled at the depth image's pixels (what a
    perfect depth image of that size would score: DESIGN.md section 5).

    """
    predicted = depth_occupancy(depth_m, grid, T_base_cam, settings.spec, cloud_filter)
    truth = occupied_cells(apply(T_base_cam @ T_cam_scan, points_scan), T_base_cam, grid,
                           settings.spec)
    sampled = depth_image_from_points(apply(T_cam_scan, points_scan), grid)
    ceiling = depth_occupancy(sampled, grid, T_base_cam, settings.spec)
    return score_cells(predicted, truth), score_cells(ceiling, truth)


def row_values(scores: tuple[OccupancyScore, OccupancyScore] | None) -> dict[str, Any]:
    """Return a frame's ``OCCUPANCY_COLUMNS`` (NaN ratios and no cells without scores)."""
    if scores is None:
        return {**{f'occupancy_{name}': math.nan for name in OCCUPANCY_NAMES},
                **{f'{kind}_{count}': '' for kind in ('cells', 'ceiling')
                   for count in ('tp', 'fp', 'fn')}}
    score, ceiling = scores
    return {**{f'occupancy_{name}': value for name, value in score.values().items()},
            'cells_tp': score.tp, 'cells_fp': score.fp, 'cells_fn': score.fn,
            'ceiling_tp': ceiling.tp, 'ceiling_fp': ceiling.fp, 'ceiling_fn': ceiling.fn}


def run_total(rows: list[dict[str, Any]], kind: str = 'cells') -> tuple[OccupancyScore, int]:
    """
    Return the counts summed over the rows that have them, and how many those are.

    ``kind``: ``cells`` (the depth image's) or ``ceiling`` (the resolution ceiling's).
    """
    total, frames = OccupancyScore(), 0
    for row in rows:
        if row.get(f'{kind}_tp', '') != '':
            total = total + OccupancyScore(int(row[f'{kind}_tp']), int(row[f'{kind}_fp']),
                                           int(row[f'{kind}_fn']))
            frames += 1
    return total, frames


def _scores(score: OccupancyScore) -> dict[str, Any]:
    return {'tp': score.tp, 'fp': score.fp, 'fn': score.fn,
            **{name: (None if math.isnan(value) else value)
               for name, value in score.values().items()}}


def summary_dict(total: OccupancyScore, ceiling: OccupancyScore, frames: int,
                 settings: OccupancySettings) -> dict[str, Any]:
    """Return the run's occupancy (and its resolution ceiling) for ``metrics.json``."""
    spec = settings.spec
    return {'frames': frames, 'base_frame': settings.base_frame, 'cell_m': spec.cell_m,
            'min_height_m': spec.min_height_m, 'max_height_m': spec.max_height_m,
            'max_range_m': spec.max_range_m, **_scores(total),
            'resolution_ceiling': _scores(ceiling)}


def summary_table(total: OccupancyScore, ceiling: OccupancyScore, frames: int,
                  settings: OccupancySettings) -> str:
    """Return the run's occupancy as a small Markdown table with a line saying what it is."""
    lines = [f'Occupancy over {frames} frames ({settings.describe()}; cells summed):', '',
             '| cloud | precision | recall | IoU | cells TP | FP | FN |',
             '| --- | --- | --- | --- | --- | --- | --- |']
    for label, score in (('depth image', total),
                         ('resolution ceiling (the scan at its pixels)', ceiling)):
        values = score.values()
        cells = ' | '.join('n/a' if math.isnan(values[name]) else f'{values[name]:.3f}'
                           for name in OCCUPANCY_NAMES)
        lines.append(f'| {label} | {cells} | {score.tp} | {score.fp} | {score.fn} |')
    return '\n'.join(lines)
