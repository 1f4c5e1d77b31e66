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
KITTI: calibration, Velodyne ground truth, split files, the raw and benchmark layouts.

One module per concern; this package gathers their public names, so that callers import
``from msdepth_ros.data.kitti import KittiCalibration`` without knowing the room:

- ``calibration``: ``KittiCalibration`` (the frames and transforms of a recording day or an
  object-benchmark frame), reading and writing calibration files.
- ``velodyne``: Velodyne scans and the ground-truth depth maps projected from them.
- ``layout``: split files, and where a frame's files lie in the raw and benchmark layouts.
- ``datasets``: ``KittiRawDataset`` and ``KittiObjectDataset``.
- ``ground_truth``: ground truth computed once and stored (``save_ground_truth``).
- ``timestamps`` and ``oxts``: the drive's clock and GPS/IMU packets (for bag conversion).

Synthetic drives in these formats are written by ``data.kitti_writer``.
"""

from msdepth_ros.data.kitti.calibration import (format_calib_entries, KittiCalibration,
                                                read_calib_file)
from msdepth_ros.data.kitti.datasets import (GROUND_TRUTH_SOURCES, KittiObjectDataset,
                                             KittiRawDataset)
from msdepth_ros.data.kitti.ground_truth import (GroundTruthCache, GT_CACHE_FORMAT,
                                                 save_ground_truth)
from msdepth_ros.data.kitti.layout import (benchmark_depth_path, BENCHMARK_UNITS_PER_METRE,
                                           find_benchmark_depth, parse_split_line, raw_drive_dir,
                                           raw_image_path, raw_velodyne_path, read_benchmark_depth,
                                           read_split_file, SIDE_TO_CAMERA, SplitEntry,
                                           write_benchmark_depth, write_split_file)
from msdepth_ros.data.kitti.oxts import (OXTS_EARTH_RADIUS_M, oxts_poses, OXTS_VALUES,
                                         read_oxts_packet)
from msdepth_ros.data.kitti.timestamps import (parse_timestamp_line, read_timestamps_ns,
                                               timestamp_line, timestamp_ns)
from msdepth_ros.data.kitti.velodyne import (eigen_lidar_depth_image, GT_PIXEL_CONVENTIONS,
                                             lidar_depth_image, read_velodyne_points,
                                             write_velodyne_points)

__all__ = [
    'BENCHMARK_UNITS_PER_METRE', 'benchmark_depth_path', 'eigen_lidar_depth_image',
    'find_benchmark_depth', 'format_calib_entries', 'GROUND_TRUTH_SOURCES', 'GroundTruthCache',
    'GT_CACHE_FORMAT', 'GT_PIXEL_CONVENTIONS', 'KittiCalibration', 'KittiObjectDataset',
    'KittiRawDataset', 'lidar_depth_image', 'OXTS_EARTH_RADIUS_M', 'OXTS_VALUES', 'oxts_poses',
    'parse_split_line', 'parse_timestamp_line', 'raw_drive_dir', 'raw_image_path',
    'raw_velodyne_path', 'read_benchmark_depth', 'read_calib_file', 'read_oxts_packet',
    'read_split_file', 'read_timestamps_ns', 'read_velodyne_points', 'save_ground_truth',
    'SIDE_TO_CAMERA', 'SplitEntry', 'timestamp_line', 'timestamp_ns', 'write_benchmark_depth',
    'write_split_file', 'write_velodyne_points',
]
