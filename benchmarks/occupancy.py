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
Occupancy accuracy of the depth node's cloud, with and without each cloud filter.

The cloud a costmap would get (the model's depth image through ``core.cloud_filter``) and the
truth are binned into the cells of a 2D grid in the robot's base frame as Nav2's obstacle layer
marks them (``core.occupancy``: 0.1 m cells, obstacles 0.3 to 2.0 m above the road, within the
depth image's horizontal field of view and 20 m of the camera by default); the cell counts are
summed over the frames and give precision, recall and IoU per filter setting, side by side in
one run. Two sources of frames:

- ``synthetic``: drives of the project's synthetic streets (``core.synthetic``; a street per
  drive, frames every ``--step-m`` metres along it), at KITTI's camera (1242 x 375, 1.65 m above
  the road). The truth is the exact depth at full resolution.
- ``kitti``: the real sample drive (``kitti_raw_mini`` of the shared data: two real frames of
  camera 2 with their Velodyne scans and the 2011-09-26 calibration). The truth is the Velodyne,
  through the real calibration; the base frame is the road below the OXTS unit (KITTI's
  ``base_link``, 0.93 m above the road).

Beside the filter settings, a ``resolution ceiling`` row bins the truth sampled at the depth
image's own pixels (DESIGN.md section 5): what a perfect depth image of that size would score,
and the same through the first flying-pixel setting: what that filter costs a perfect depth
image. The truth itself is never filtered.

    .venv/bin/python benchmarks/occupancy.py               # synthetic, and kitti if present
    .venv/bin/python benchmarks/occupancy.py --sources synthetic --drives 2 --frames 3

The model defaults to the package's demo model (trained on synthetic streets only: on real
images its depth means nothing, and the kitti rows say so). Not a test: record the output with
the command in docs/navigation.md.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
import math
from pathlib import Path
import platform
import sys
from typing import Iterator, Sequence

from _report import add_output_dir_argument, bar_plot, Report, Series
from msdepth_ros.core.camera import backproject
from msdepth_ros.core.cloud_filter import CloudFilter
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.occupancy import (depth_occupancy, OccupancyScore, OccupancySpec,
                                        occupied_cells, score_cells)
from msdepth_ros.core.online_eval import scan_depth_image
from msdepth_ros.core.transforms import apply, invert, rigid_transform
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]

DEFAULT_MODEL = REPO_ROOT / 'models' / 'demo_kitti_synthetic.pt'
DEFAULT_DATA = REPO_ROOT.parent / 'shared' / 'data'
#: The optical frame (x right, y down, z forward) in a base frame (x forward, y left, z up).
R_BASE_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
#: KITTI's OXTS unit (base_link) above the road (DESIGN.md section 5).
KITTI_OXTS_HEIGHT_M = 0.93
CEILING = 'resolution ceiling'


def variants(thresholds: Sequence[float], neighbourhood: int, max_range_m: float,
             stride: int) -> dict[str, CloudFilter]:
    """Return the filter settings compared, by label: each filter alone, then all three."""
    settings = {'no filter': CloudFilter()}
    for threshold in thresholds:
        settings[f'flying pixels {threshold:g}'] = CloudFilter(
            flying_pixel_threshold=threshold, neighbourhood=neighbourhood)
    settings[f'range {max_range_m:g} m'] = CloudFilter(max_range_m=max_range_m)
    settings[f'stride {stride}'] = CloudFilter(stride=stride)
    settings[f'all three ({thresholds[0]:g}, {max_range_m:g} m, {stride})'] = CloudFilter(
        flying_pixel_threshold=thresholds[0], neighbourhood=neighbourhood,
        max_range_m=max_range_m, stride=stride)
    return settings


@dataclass(frozen=True)
class Frame:
    """A camera image, its camera, the true points (optical frame) and the camera's pose."""

    name: str
    image_rgb: np.ndarray
    camera: Intrinsics
    truth_cam: np.ndarray
    T_base_cam: np.ndarray
    exact_depth_m: np.ndarray | None  # full-resolution exact depth (synthetic only)


def synthetic_frames(drives: int, frames: int, step_m: float) -> Iterator[Frame]:
    """Yield the frames of synthetic drives: street ``d``, camera moved ``step_m`` per frame."""
    from msdepth_ros.core.synthetic import KITTI_CAMERA_HEIGHT_M, road_scene
    T_base_cam = rigid_transform(R_BASE_OPTICAL, (0.0, 0.0, KITTI_CAMERA_HEIGHT_M))
    for drive in range(drives):
        for k in range(frames):
            scene = road_scene(1000 + drive, camera_z_m=k * step_m)
            points = backproject(scene.depth_m, scene.intrinsics).reshape(-1, 3)
            yield Frame(f'synthetic {drive}.{k}', scene.image, scene.intrinsics,
                        points[np.isfinite(points).all(axis=1)].astype(np.float64), T_base_cam,
                        scene.depth_m)


def kitti_frames(data_root: Path) -> Iterator[Frame]:
    """Yield the frames of the real sample drive (camera 2 and the Velodyne)."""
    import cv2
    from msdepth_ros.data.kitti import KittiCalibration, read_velodyne_points
    day = data_root / 'kitti_raw_mini' / '2011_09_26'
    calibration = KittiCalibration.from_raw_files(day / 'calib_cam_to_cam.txt',
                                                  day / 'calib_velo_to_cam.txt',
                                                  day / 'calib_imu_to_velo.txt')
    drive = day / '2011_09_26_drive_0000_sync'
    T_cam_velo = calibration.T_cam_velo(2)
    # base: the road below the OXTS unit, axes of the OXTS unit (x forward, y left, z up).
    T_base_imu = rigid_transform(np.eye(3), (0.0, 0.0, KITTI_OXTS_HEIGHT_M))
    T_base_cam = T_base_imu @ invert(calibration.T_cam_imu(2))
    for image_path in sorted((drive / 'image_02' / 'data').glob('*.png')):
        bgr = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        velo = read_velodyne_points(drive / 'velodyne_points' / 'data'
                                    / f'{image_path.stem}.bin')[:, :3].astype(np.float64)
        yield Frame(f'kitti {image_path.stem}', np.ascontiguousarray(bgr[..., ::-1]),
                    calibration.intrinsics(2), apply(T_cam_velo, velo), T_base_cam, None)


def ceiling_depth(frame: Frame, grid: Intrinsics, plan) -> np.ndarray:
    """Return the truth sampled at the depth image's pixels (the nearest camera pixel)."""
    if frame.exact_depth_m is None:
        return scan_depth_image(frame.truth_cam, np.eye(4), grid)
    back = plan.camera_to_output.inverse()
    u_cam, v_cam = back.apply(np.arange(grid.width, dtype=np.float64),
                              np.arange(grid.height, dtype=np.float64))
    height, width = frame.exact_depth_m.shape
    rows = np.clip(np.rint(v_cam), 0, height - 1).astype(np.intp)
    cols = np.clip(np.rint(u_cam), 0, width - 1).astype(np.intp)
    return frame.exact_depth_m[np.ix_(rows, cols)]


def score_frames(frames: Sequence[Frame], predictor, spec: OccupancySpec,
                 settings: dict[str, CloudFilter]) -> tuple[dict[str, OccupancyScore], str]:
    """Return the summed scores of every setting (and the ceiling), and the depth image size."""
    flying = next(label for label in settings if label.startswith('flying'))
    ceiling_settings = {CEILING: None, f'{CEILING}, {flying}': settings[flying]}
    totals = dict.fromkeys([*settings, *ceiling_settings], OccupancyScore())
    size = ''
    for frame in frames:
        result = predictor.predict(frame.image_rgb, frame.camera)
        grid = result.intrinsics
        size = f'{grid.width} x {grid.height}'
        truth = occupied_cells(apply(frame.T_base_cam, frame.truth_cam), frame.T_base_cam,
                               grid, spec)
        for label, cloud_filter in settings.items():
            cells = depth_occupancy(result.depth_m, grid, frame.T_base_cam, spec, cloud_filter)
            totals[label] = totals[label] + score_cells(cells, truth)
        plan = predictor.plan_for(frame.camera.width, frame.camera.height)
        sampled = ceiling_depth(frame, grid, plan)
        for label, cloud_filter in ceiling_settings.items():
            cells = depth_occupancy(sampled, grid, frame.T_base_cam, spec, cloud_filter)
            totals[label] = totals[label] + score_cells(cells, truth)
    return totals, size


def _fmt(value: float) -> str:
    return 'n/a' if math.isnan(value) else f'{value:.3f}'


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--model', type=Path, default=DEFAULT_MODEL)
    parser.add_argument('--backend', default='auto')
    parser.add_argument('--upsample', type=int, default=1, help="the depth node's upsample")
    parser.add_argument('--sources', nargs='+', default=['synthetic', 'kitti'],
                        choices=['synthetic', 'kitti'])
    parser.add_argument('--data', type=Path, default=DEFAULT_DATA,
                        help='the shared data folder (kitti_raw_mini)')
    parser.add_argument('--drives', type=int, default=4, help='synthetic drives')
    parser.add_argument('--frames', type=int, default=5, help='frames per synthetic drive')
    parser.add_argument('--step-m', type=float, default=4.0,
                        help='camera motion between synthetic frames')
    parser.add_argument('--cell-m', type=float, default=0.1)
    parser.add_argument('--min-height-m', type=float, default=0.3,
                        help='obstacle band above the road')
    parser.add_argument('--max-height-m', type=float, default=2.0)
    parser.add_argument('--max-range-m', type=float, default=20.0,
                        help="the obstacle layer's obstacle_max_range")
    parser.add_argument('--thresholds', type=float, nargs='+', default=[0.1, 0.05, 0.2, 0.4],
                        help='flying-pixel thresholds (the first also in "all three")')
    parser.add_argument('--neighbourhood', type=int, default=8, choices=[4, 8])
    parser.add_argument('--cloud-max-range-m', type=float, default=10.0,
                        help="the cloud's own range cap")
    parser.add_argument('--stride', type=int, default=2)
    add_output_dir_argument(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison; print and write the table and the plot."""
    args = _parser().parse_args(argv)
    from msdepth_ros.inference.backend import load_backend
    from msdepth_ros.inference.predictor import DepthPredictor
    predictor = DepthPredictor(load_backend(args.model, args.backend), upsample=args.upsample)
    spec = OccupancySpec(cell_m=args.cell_m, min_height_m=args.min_height_m,
                         max_height_m=args.max_height_m, max_range_m=args.max_range_m)
    settings = variants(args.thresholds, args.neighbourhood, args.cloud_max_range_m,
                        args.stride)
    report = Report(args.output_dir, 'occupancy')
    report.line('# Occupancy against the truth, per cloud filter')
    report.line()
    report.line(f'Model `{args.model.name}`, upsample {args.upsample}; cells {spec.cell_m:g} m, '
                f'obstacles {spec.min_height_m:g} to {spec.max_height_m:g} m above the road, '
                f'within {spec.max_range_m:g} m of the camera and its horizontal field of view; '
                f'counts summed over the frames; flying pixels over {args.neighbourhood} '
                f'neighbours. Python {platform.python_version()}, '
                f'{platform.machine()}.')
    report.line()
    rows, plotted = [], {}
    for source in args.sources:
        if source == 'synthetic':
            frames = list(synthetic_frames(args.drives, args.frames, args.step_m))
            truth = 'exact depth'
        else:
            if not (args.data / 'kitti_raw_mini').is_dir():
                report.line(f'kitti: no {args.data / "kitti_raw_mini"}; skipped.')
                report.line()
                continue
            frames = list(kitti_frames(args.data))
            truth = 'Velodyne'
        totals, size = score_frames(frames, predictor, spec, settings)
        for label, score in totals.items():
            rows.append([source, len(frames), f'{size} vs {truth}', label, _fmt(score.precision),
                         _fmt(score.recall), _fmt(score.iou), score.tp, score.fp, score.fn])
            plotted[f'{source}: {label}'] = score
    report.table(['source', 'frames', 'depth image vs truth', 'cloud', 'precision', 'recall',
                  'IoU', 'TP', 'FP', 'FN'], rows)
    report.write()
    labels = list(plotted)
    bar_plot(report.png_path, [label.replace(': ', ':\n') for label in labels],
             [Series(name, [plotted[label].values()[name] for label in labels])
              for name in ('precision', 'recall', 'iou')],
             'fraction of occupied cells', 'Occupancy per cloud filter (summed over frames)',
             log=False)
    return 0


if __name__ == '__main__':
    sys.exit(main())
