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
Frames on their way through the depth node: pairing images with camera info, the frame slot.

Pure (no rclpy): headers are read by their fields, so the pairing is unit-tested without ROS.
"""

from __future__ import annotations

from dataclasses import dataclass
import threading
from typing import Any, Generic, TypeVar

from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.ros.diagnostics import KIND_CAMERA_INFO_SIZE
import numpy as np


class Rejected(Exception):
    """A frame that is skipped; ``kind`` counts it, the message is logged."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Frame:
    """A validated frame waiting for the worker: RGB (H, W, 3) uint8 and its intrinsics."""

    image_rgb: np.ndarray
    intrinsics: Intrinsics
    header: Any
    received_ns: int


@dataclass(frozen=True)
class Waiting:
    """An image that arrived before any camera info, waiting for the one of its stamp."""

    image_rgb: np.ndarray
    header: Any
    received_ns: int


def stamp_key(header: Any) -> tuple[int, int]:
    """Return a header's stamp as ``(sec, nanosec)``."""
    return int(header.stamp.sec), int(header.stamp.nanosec)


class CameraPairing:
    """
    Pairs each image with the intrinsics to use for it.

    The newest valid camera info serves every image of its size. Before the first one, the
    fallback intrinsics (the ``camera_*`` parameters) serve; without those, the newest image
    waits for the camera info of its own stamp (camera drivers publish both with one stamp, in
    either order), and an image that never gets one is counted as skipped.
    """

    def __init__(self, info_topic: str) -> None:
        self.info_topic = info_topic
        self.camera: Intrinsics | None = None
        self.waiting: Waiting | None = None

    def image(self, image_rgb: np.ndarray, header: Any, received_ns: int,
              fallback: Intrinsics | None) -> tuple[Frame | None, bool]:
        """
        Pair an image.

        Returns ``(frame, lost)``: the frame to process, or None when the image waits for its
        camera info; ``lost`` is True when it displaced an image that had waited in vain.
        Raises ``Rejected`` when the intrinsics are for another image size.
        """
        camera, source = self.camera, 'camera info'
        if camera is None:
            camera, source = fallback, 'the camera_* parameters'
        if camera is None:
            lost = self.waiting is not None
            self.waiting = Waiting(image_rgb, header, received_ns)
            return None, lost
        return Frame(image_rgb, _checked(camera, source, image_rgb), header, received_ns), False

    def camera_info(self, camera: Intrinsics, header: Any) -> tuple[Frame | None, bool]:
        """
        Take a valid camera info.

        Returns ``(frame, lost)``: the image that waited for this camera info (same stamp), or
        None; ``lost`` is True when an image waited for a camera info of another stamp.
        Raises ``Rejected`` when the waiting image has another size.
        """
        self.camera = camera
        waiting, self.waiting = self.waiting, None
        if waiting is None:
            return None, False
        if stamp_key(waiting.header) != stamp_key(header):
            return None, True
        return Frame(waiting.image_rgb, _checked(camera, 'camera info', waiting.image_rgb),
                     waiting.header, waiting.received_ns), False

    def waiting_message(self) -> str:
        """Why an image waits."""
        return (f'no camera info received on {self.info_topic} yet; waiting for it (or set the '
                'camera_* parameters)')


def _checked(camera: Intrinsics, source: str, image_rgb: np.ndarray) -> Intrinsics:
    height, width = image_rgb.shape[:2]
    if camera.size != (width, height):
        raise Rejected(KIND_CAMERA_INFO_SIZE,
                       f'{source} is for {camera.width}x{camera.height} images (after ROI and '
                       f'binning), the image is {width}x{height}')
    return camera


T = TypeVar('T')


class LatestSlot(Generic[T]):
    """One-item slot between a producer thread and a worker thread: the newest item wins."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: T | None = None
        self._closed = False

    def put(self, item: T) -> bool:
        """Store ``item``; return True when it replaced an item that was still waiting."""
        with self._cond:
            replaced = self._item is not None
            self._item = item
            self._cond.notify()
            return replaced

    def take(self) -> T | None:
        """Wait for an item and take it; None once the slot is closed."""
        with self._cond:
            while self._item is None and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        """Wake the worker and make ``take`` return None."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        """``close`` was called."""
        return self._closed
