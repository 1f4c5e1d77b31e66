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

"""KITTI OXTS (GPS/IMU) packets and the poses the development kit computes from them."""

from __future__ import annotations

import math
import os
from pathlib import Path

from msdepth_ros.core.transforms import invert
from msdepth_ros.data.base import DatasetError
import numpy as np

#: Values of one OXTS packet (``oxts/data/*.txt``): lat, lon, alt, roll, pitch, yaw, ...
OXTS_VALUES = 30

#: Earth radius of the development kit's Mercator projection (``latlonToMercator``), metres.
OXTS_EARTH_RADIUS_M = 6378137.0


def read_oxts_packet(path: str | os.PathLike) -> np.ndarray:
    """
    Read one OXTS packet: the 30 values of ``oxts/dataformat.txt`` as float64.

    The first six are latitude and longitude (degrees), altitude (metres), roll, pitch and
    yaw (radians).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f'{path}: no such OXTS file')
    try:
        values = np.array([float(v) for v in path.read_text(encoding='utf-8').split()])
    except (UnicodeDecodeError, ValueError) as exc:
        raise DatasetError(f'{path}: not an OXTS packet: {exc}') from None
    if values.size != OXTS_VALUES:
        raise DatasetError(f'{path}: an OXTS packet has {OXTS_VALUES} values, got {values.size}')
    if not np.all(np.isfinite(values[:6])):
        raise DatasetError(f'{path}: OXTS position or orientation is not finite')
    return values


def oxts_poses(packets: np.ndarray) -> np.ndarray:
    """
    Poses of the IMU frame from OXTS packets, as the development kit computes them.

    ``convertOxtsToPose``: a Mercator projection whose scale is the cosine of the first
    packet's latitude gives x (east) and y (north), the altitude gives z; the rotation is
    ``Rz(yaw) Ry(pitch) Rx(roll)``; every pose is then expressed relative to the first.

    Parameters
    ----------
    packets:
        ``N x 30`` (or ``N x 6`` and more) OXTS values, in time order.

    Returns
    -------
    ``N x 4 x 4`` float64 ``T_origin_imu``: maps points of the IMU frame at packet ``i`` into
    the IMU frame at the first packet (the identity for ``i = 0``).

    """
    packets = np.atleast_2d(np.asarray(packets, dtype=np.float64))
    if packets.shape[1] < 6 or packets.shape[0] == 0:
        raise ValueError(f'OXTS packets must be N x 6 or more, got {packets.shape}')
    lat, lon, alt = np.radians(packets[:, 0]), np.radians(packets[:, 1]), packets[:, 2]
    scale = math.cos(lat[0])
    poses = np.zeros((len(packets), 4, 4))
    poses[:, 0, 3] = scale * OXTS_EARTH_RADIUS_M * lon
    poses[:, 1, 3] = scale * OXTS_EARTH_RADIUS_M * np.log(np.tan(0.25 * np.pi + 0.5 * lat))
    poses[:, 2, 3] = alt
    poses[:, 3, 3] = 1.0
    for i, (roll, pitch, yaw) in enumerate(packets[:, 3:6]):
        cr, sr, cp, sp, cy, sy = (math.cos(roll), math.sin(roll), math.cos(pitch),
                                  math.sin(pitch), math.cos(yaw), math.sin(yaw))
        rx = np.array([[1.0, 0.0, 0.0], [0.0, cr, -sr], [0.0, sr, cr]])
        ry = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
        rz = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
        poses[i, :3, :3] = rz @ ry @ rx
    return invert(poses[0]) @ poses
