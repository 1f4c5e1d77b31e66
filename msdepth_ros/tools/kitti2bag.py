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
``msdepth-kitti2bag``: a KITTI raw drive (synced and rectified) as a rosbag2, without ROS.

Reads ``DATE/DATE_drive_NNNN_sync`` with the calibration files of ``DATE/`` and writes the
cameras' images and camera infos under ``/kitti/<camera>/``, the Velodyne scans on
``/kitti/velodyne_points``, ``/tf_static`` and ``/tf`` (``msdepth_ros.bags.kitti`` says how:
topics, frames, stamps and the projection matrices). The bag is written under
``OUT_BAG.partial/`` and renamed when complete.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
from typing import Sequence

from msdepth_ros.bags.files import BagError, BagOutput, run_reporting_errors, STORAGES
from msdepth_ros.bags.kitti import CAMERAS, convert, KITTI_UTC_OFFSET_H, read_drive
from msdepth_ros.data.base import DatasetError

PROG = 'msdepth-kitti2bag'


def main(argv: Sequence[str] | None = None) -> int:
    """Convert a drive; exit 0 with the bag written, 1 on a file error, 2 on bad usage."""
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__.strip().split('\n\n')[0].replace('``', ''),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('drive', type=Path, metavar='DRIVE_DIR',
                        help='drive folder .../DATE/DATE_drive_NNNN_sync (calibration files '
                        'in DATE/)')
    parser.add_argument('bag', type=Path, metavar='OUT_BAG', help='rosbag2 folder to write')
    parser.add_argument('--cameras', type=int, nargs='+', choices=sorted(CAMERAS), default=[2],
                        help='KITTI cameras to write: 2 colour left, 3 colour right, 0 grey '
                        'left, 1 grey right')
    parser.add_argument('--storage', choices=STORAGES, default='mcap', help='storage format')
    parser.add_argument('--no-velodyne', action='store_true',
                        help='leave the Velodyne scans out')
    parser.add_argument('--utc-offset-h', type=float, default=KITTI_UTC_OFFSET_H,
                        help='hours the timestamps.txt clock runs ahead of UTC (KITTI: '
                        "Karlsruhe's CEST); 0 reads it as UTC")
    parser.add_argument('--overwrite', action='store_true', help='replace an existing OUT_BAG')
    parser.add_argument('--quiet', '-q', action='store_true', help='no progress bar')
    args = parser.parse_args(argv)
    if not -14.0 <= args.utc_offset_h <= 14.0:
        parser.error('--utc-offset-h must be within -14 and 14 hours')
    cameras = list(dict.fromkeys(args.cameras))
    return run_reporting_errors(PROG, lambda: _run(args, cameras), (DatasetError, BagError),
                                args.bag)


def _run(args: argparse.Namespace, cameras: list[int]) -> int:
    from tqdm import tqdm

    out = BagOutput(args.bag, args.storage, args.overwrite)
    out.check()
    drive = read_drive(args.drive, cameras, velodyne=not args.no_velodyne,
                       utc_offset_s=args.utc_offset_h * 3600.0)
    for note in drive.notes:
        print(f'{PROG}: note: {note}', file=sys.stderr)
    with out:
        counts = convert(drive, out, lambda events: tqdm(
            events, unit='msg', desc='kitti2bag', disable=args.quiet, dynamic_ncols=True))
    summary = ', '.join(f'{topic} {n}' for topic, n in counts.items())
    print(f'{PROG}: wrote {args.bag}: {summary}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
