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
KITTI calibration: the files of the raw and object layouts read into one object.

Frames (all right-handed, metres):

- Velodyne: x forward, y left, z up.
- Camera 0 (unrectified): ``T_cam0_velo`` from ``calib_velo_to_cam.txt`` (object layout:
  ``Tr_velo_to_cam``).
- Rectified camera 0: ``R_rect_00`` rotates camera 0 into the common rectified orientation
  (object layout: ``R0_rect``).
- Rectified camera i (optical frame, x right, y down, z forward): rectified camera 0 shifted by
  the translation that ``P_rect_0i``'s fourth column encodes, ``t_i = K_i^-1 P_rect_0i[:, 3]``:
  a point's coordinates in camera i are its rectified camera 0 coordinates plus ``t_i``
  (2011-09-26: ``t_2`` is about +0.06 m and ``t_3`` about -0.47 m in x, the stereo baseline).

So a Velodyne point ``X`` is ``T_cam_velo(i) @ X`` in camera i's optical frame, and
``P_rect_0i @ R_rect_00 @ T_cam0_velo @ X`` is its (homogeneous) pixel, the projection of the
KITTI development kit. ``KittiCalibration`` reads the raw layout (``calib_cam_to_cam.txt``,
``calib_velo_to_cam.txt``, ``calib_imu_to_velo.txt``) and the object-benchmark layout (``P0``
.. ``P3``, ``R0_rect``, ``Tr_velo_to_cam``, ``Tr_imu_to_velo``) into the same object.
"""

from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from msdepth_ros.core.affine import PixelMap
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.transforms import rigid_transform
from msdepth_ros.data.base import DatasetError
import numpy as np


def read_calib_file(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """
    Read a KITTI calibration file of ``key: v1 v2 ...`` lines.

    Returns key -> float64 array of the values. Lines whose values are not numbers (such as
    ``calib_time: 09-Jan-2012 13:57:47``) and blank lines are skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f'{path}: no such calibration file')
    values: dict[str, np.ndarray] = {}
    try:
        text = path.read_text(encoding='utf-8')
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f'{path}: unreadable calibration file: {exc}') from None
    for line in text.splitlines():
        key, sep, rest = line.partition(':')
        if not sep:
            continue
        try:
            values[key.strip()] = np.array([float(v) for v in rest.split()], dtype=np.float64)
        except ValueError:
            continue
    return values


def format_calib_entries(entries: Iterable[tuple[str, str | Sequence[float]]]) -> str:
    """Text of a calibration file in KITTI's format (``key: %e %e ...``, one per line)."""
    lines = []
    for key, value in entries:
        if isinstance(value, str):
            lines.append(f'{key}: {value}')
        else:
            lines.append(f'{key}: ' + ' '.join(f'{float(v):e}' for v in value))
    return '\n'.join(lines) + '\n'


def _entry(values: Mapping[str, np.ndarray], key: str, size: int, path: Path) -> np.ndarray:
    if key not in values:
        raise DatasetError(f'{path}: calibration has no {key!r} entry')
    value = values[key]
    if value.size != size:
        raise DatasetError(f'{path}: {key!r} must have {size} values, got {value.size}')
    return value


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, dtype=np.float64)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class KittiCalibration:
    """
    The calibration of one KITTI recording day (or of one object-benchmark frame).

    Attributes
    ----------
    p_rect:
        ``P_rect_00`` .. ``P_rect_03``: 3x4 projection matrices of the rectified cameras, in
        rectified camera 0 coordinates.
    r_rect_00:
        3x3 rectifying rotation of camera 0.
    image_sizes:
        ``(width, height)`` of each rectified camera's images (``S_rect_0i``).
    T_cam0_velo:
        4x4 transform from the Velodyne frame to (unrectified) camera 0.
    T_velo_imu:
        4x4 transform from the IMU (OXTS) frame to the Velodyne frame, when known.

    """

    p_rect: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    r_rect_00: np.ndarray
    image_sizes: tuple[tuple[int, int], ...]
    T_cam0_velo: np.ndarray
    T_velo_imu: np.ndarray | None = None

    def __post_init__(self) -> None:
        if len(self.p_rect) != 4 or len(self.image_sizes) != 4:
            raise DatasetError('KITTI calibration needs four cameras (P_rect_00 .. P_rect_03)')
        object.__setattr__(self, 'p_rect', tuple(_frozen(np.reshape(p, (3, 4)))
                                                 for p in self.p_rect))
        object.__setattr__(self, 'r_rect_00', _frozen(np.reshape(self.r_rect_00, (3, 3))))
        object.__setattr__(self, 'T_cam0_velo', _frozen(np.reshape(self.T_cam0_velo, (4, 4))))
        if self.T_velo_imu is not None:
            object.__setattr__(self, 'T_velo_imu', _frozen(np.reshape(self.T_velo_imu, (4, 4))))
        object.__setattr__(self, 'image_sizes', tuple((int(w), int(h))
                                                      for w, h in self.image_sizes))

    # -- reading ----------------------------------------------------------------------------

    @classmethod
    def from_raw_files(cls, cam_to_cam: str | os.PathLike, velo_to_cam: str | os.PathLike,
                       imu_to_velo: str | os.PathLike | None = None) -> KittiCalibration:
        """Read the raw layout's cam-to-cam, velo-to-cam (and imu-to-velo) files."""
        return cls.from_raw_values(
            read_calib_file(cam_to_cam), read_calib_file(velo_to_cam),
            read_calib_file(imu_to_velo) if imu_to_velo is not None else None,
            sources=(str(cam_to_cam), str(velo_to_cam), str(imu_to_velo)))

    @classmethod
    def from_raw_values(cls, cam_to_cam: Mapping[str, np.ndarray],
                        velo_to_cam: Mapping[str, np.ndarray],
                        imu_to_velo: Mapping[str, np.ndarray] | None = None,
                        sources: tuple[str, str, str] = ('calib_cam_to_cam',
                                                         'calib_velo_to_cam',
                                                         'calib_imu_to_velo')
                        ) -> KittiCalibration:
        """
        Build from the raw files' parsed entries (``read_calib_file`` of each).

        ``sources`` names the three files in error messages.
        """
        c2c_path, v2c_path, i2v_path = (Path(s) for s in sources)
        c2c, v2c = cam_to_cam, velo_to_cam
        p_rect = tuple(_entry(c2c, f'P_rect_0{i}', 12, c2c_path) for i in range(4))
        sizes = tuple(tuple(_entry(c2c, f'S_rect_0{i}', 2, c2c_path)) for i in range(4))
        r_rect = _entry(c2c, 'R_rect_00', 9, c2c_path)
        t_cam0_velo = rigid_transform(_entry(v2c, 'R', 9, v2c_path).reshape(3, 3),
                                      _entry(v2c, 'T', 3, v2c_path))
        t_velo_imu = None
        if imu_to_velo is not None:
            t_velo_imu = rigid_transform(_entry(imu_to_velo, 'R', 9, i2v_path).reshape(3, 3),
                                         _entry(imu_to_velo, 'T', 3, i2v_path))
        for (w, h), i in zip(sizes, range(4)):
            if w != int(w) or h != int(h) or w <= 0 or h <= 0:
                raise DatasetError(f'{c2c_path}: S_rect_0{i} is not an image size: {w} {h}')
        return cls(p_rect=p_rect, r_rect_00=r_rect, image_sizes=sizes,
                   T_cam0_velo=t_cam0_velo, T_velo_imu=t_velo_imu)

    @classmethod
    def from_raw_dir(cls, date_dir: str | os.PathLike) -> KittiCalibration:
        """Read the calibration files of a raw recording day folder (``.../2011_09_26``)."""
        date_dir = Path(date_dir)
        imu = date_dir / 'calib_imu_to_velo.txt'
        return cls.from_raw_files(date_dir / 'calib_cam_to_cam.txt',
                                  date_dir / 'calib_velo_to_cam.txt',
                                  imu if imu.is_file() else None)

    @classmethod
    def from_object_file(cls, path: str | os.PathLike,
                         image_size: tuple[int, int]) -> KittiCalibration:
        """
        Read an object-benchmark calibration file (``calib/000000.txt``).

        Parameters
        ----------
        path:
            The file, with ``P0`` .. ``P3``, ``R0_rect``, ``Tr_velo_to_cam`` and
            ``Tr_imu_to_velo`` entries.
        image_size:
            ``(width, height)`` of the frame's images; the object layout does not record it.

        """
        path = Path(path)
        values = read_calib_file(path)
        p_rect = tuple(_entry(values, f'P{i}', 12, path) for i in range(4))
        r_rect = _entry(values, 'R0_rect', 9, path)
        tr = _entry(values, 'Tr_velo_to_cam', 12, path).reshape(3, 4)
        t_velo_imu = None
        if 'Tr_imu_to_velo' in values:
            ti = _entry(values, 'Tr_imu_to_velo', 12, path).reshape(3, 4)
            t_velo_imu = rigid_transform(ti[:, :3], ti[:, 3])
        return cls(p_rect=p_rect, r_rect_00=r_rect, image_sizes=(tuple(image_size),) * 4,
                   T_cam0_velo=rigid_transform(tr[:, :3], tr[:, 3]), T_velo_imu=t_velo_imu)

    # -- transforms -------------------------------------------------------------------------

    def _check_camera(self, camera: int) -> int:
        if camera not in (0, 1, 2, 3):
            raise ValueError(f'KITTI camera must be 0, 1, 2 or 3, got {camera!r}')
        return int(camera)

    def intrinsics(self, camera: int) -> Intrinsics:
        """Rectified intrinsics of camera ``camera`` (0, 1: grey; 2, 3: colour)."""
        camera = self._check_camera(camera)
        w, h = self.image_sizes[camera]
        return Intrinsics.from_p(self.p_rect[camera], w, h)

    def rect_offset(self, camera: int) -> np.ndarray:
        """
        Return the translation from rectified camera 0 to rectified camera ``camera``.

        ``t = K^-1 P_rect_0i[:, 3]`` (3,) in metres: a point's coordinates in camera i are its
        rectified camera 0 coordinates plus ``t``, so camera i's centre is at ``-t``.
        """
        p = self.p_rect[self._check_camera(camera)]
        return np.linalg.solve(p[:, :3], p[:, 3])

    def T_cam_rect0(self, camera: int) -> np.ndarray:
        """4x4 transform from rectified camera 0 to rectified camera ``camera``."""
        t = np.eye(4)
        t[:3, 3] = self.rect_offset(camera)
        return t

    def T_rect0_velo(self) -> np.ndarray:
        """4x4 transform from the Velodyne frame to rectified camera 0."""
        r = np.eye(4)
        r[:3, :3] = self.r_rect_00
        return r @ self.T_cam0_velo

    def T_cam_velo(self, camera: int) -> np.ndarray:
        """
        4x4 transform from the Velodyne frame to rectified camera ``camera``'s optical frame.

        Rectification (``R_rect_00``) and the camera's offset (``rect_offset``) are included.
        """
        return self.T_cam_rect0(camera) @ self.T_rect0_velo()

    def T_cam_imu(self, camera: int) -> np.ndarray:
        """4x4 transform from the IMU frame to rectified camera ``camera``."""
        if self.T_velo_imu is None:
            raise DatasetError('this calibration has no IMU-to-Velodyne transform')
        return self.T_cam_velo(camera) @ self.T_velo_imu

    def baseline_m(self, camera_a: int = 2, camera_b: int = 3) -> float:
        """Distance in metres between the centres of two rectified cameras."""
        return float(np.linalg.norm(self.rect_offset(camera_a) - self.rect_offset(camera_b)))

    def resized(self, width: int, height: int) -> KittiCalibration:
        """
        Calibration of every camera's images resized to ``width`` x ``height``.

        ``P' = A P`` with ``A`` the pixel map of the resize (``core.affine.PixelMap.resize``),
        so the extrinsics and each camera's offset ``t`` stay the same.
        """
        p_new = []
        for p, (w, h) in zip(self.p_rect, self.image_sizes):
            p_new.append(PixelMap.resize(width / w, height / h).matrix() @ p)
        return KittiCalibration(p_rect=tuple(p_new), r_rect_00=self.r_rect_00,
                                image_sizes=((width, height),) * 4,
                                T_cam0_velo=self.T_cam0_velo, T_velo_imu=self.T_velo_imu)
