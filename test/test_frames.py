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

"""Pairing images with camera info, and the frame slot (``ros.frames``): pure, no ROS."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.ros.diagnostics import KIND_CAMERA_INFO_SIZE
from msdepth_ros.ros.frames import CameraPairing, LatestSlot, Rejected
import numpy as np
import pytest

CAMERA = Intrinsics(100.0, 100.0, 31.5, 23.5, 64, 48)


def header(sec: int) -> SimpleNamespace:
    return SimpleNamespace(stamp=SimpleNamespace(sec=sec, nanosec=0), frame_id='cam')


def image(width: int = 64, height: int = 48) -> np.ndarray:
    return np.zeros((height, width, 3), np.uint8)


def test_with_camera_info_every_image_of_its_size_pairs_at_once():
    pairing = CameraPairing('/cam/camera_info')
    assert pairing.camera_info(CAMERA, header(1)) == (None, False)
    frame, lost = pairing.image(image(), header(2), 7, fallback=None)
    assert not lost and frame.intrinsics == CAMERA and frame.received_ns == 7
    with pytest.raises(Rejected) as info:
        pairing.image(image(32, 24), header(3), 8, fallback=None)
    assert info.value.kind == KIND_CAMERA_INFO_SIZE
    assert 'camera info is for 64x48 images' in str(info.value)


def test_an_image_before_any_camera_info_waits_for_the_one_of_its_stamp():
    pairing = CameraPairing('/cam/camera_info')
    assert pairing.image(image(), header(5), 1, fallback=None) == (None, False)
    assert '/cam/camera_info' in pairing.waiting_message()
    frame, lost = pairing.camera_info(CAMERA, header(5))
    assert not lost and frame.header.stamp.sec == 5 and frame.intrinsics == CAMERA
    assert pairing.waiting is None


def test_a_waiting_image_replaced_or_unanswered_counts_as_lost():
    pairing = CameraPairing('/cam/camera_info')
    pairing.image(image(), header(5), 1, fallback=None)
    assert pairing.image(image(), header(6), 2, fallback=None) == (None, True)  # 5 replaced
    assert pairing.camera_info(CAMERA, header(9)) == (None, True)  # 6 never got its own


def test_the_fallback_serves_until_camera_info_arrives():
    pairing = CameraPairing('/cam/camera_info')
    fallback = Intrinsics(90.0, 90.0, 31.5, 23.5, 64, 48)
    frame, _ = pairing.image(image(), header(1), 1, fallback=fallback)
    assert frame.intrinsics == fallback
    pairing.camera_info(CAMERA, header(1))
    frame, _ = pairing.image(image(), header(2), 2, fallback=fallback)
    assert frame.intrinsics == CAMERA


def test_the_slot_keeps_the_newest_and_wakes_on_close():
    slot: LatestSlot[int] = LatestSlot()
    assert slot.put(1) is False
    assert slot.put(2) is True  # 1 was still waiting: replaced
    assert slot.take() == 2
    taken = []
    worker = threading.Thread(target=lambda: taken.append(slot.take()))
    worker.start()
    slot.close()
    worker.join(10.0)
    assert taken == [None] and slot.closed
