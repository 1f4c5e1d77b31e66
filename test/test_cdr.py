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
Images read from their serialized bytes (msgs.cdr) against rclpy's own deserialization.

Messages are serialized by rclpy (``serialize_message``, the bytes a raw subscription hands
over) and by rosbags' CDR serializer (the bytes a bag holds); every field read by
``read_image``/``read_compressed_image`` must equal rclpy's deserialized message, and the
node's conversion of both to RGB must give the same pixels.
"""

from __future__ import annotations

import array

from hypothesis import given, settings, strategies as st
from msdepth_ros.msgs.cdr import CdrError, read_compressed_image, read_image
from msdepth_ros.msgs.images import image_to_rgb
from msdepth_ros.ros.conversions import compressed_to_rgb
import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CompressedImage, Image

_TEXT = st.text(st.characters(codec='utf-8', exclude_characters='\x00'), max_size=12)


def _image(sec, nanosec, frame_id, height, width, encoding, is_bigendian, step, data):
    msg = Image()
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
    msg.header.frame_id = frame_id
    msg.height, msg.width, msg.encoding = height, width, encoding
    msg.is_bigendian, msg.step = is_bigendian, step
    msg.data = array.array('B', data)
    return msg


def _same_image(raw, msg):
    assert (raw.header.stamp.sec, raw.header.stamp.nanosec) == (msg.header.stamp.sec,
                                                                msg.header.stamp.nanosec)
    assert raw.header.frame_id == msg.header.frame_id
    assert (raw.height, raw.width, raw.encoding, raw.is_bigendian, raw.step) == (
        msg.height, msg.width, msg.encoding, msg.is_bigendian, msg.step)
    assert raw.data.tobytes() == bytes(msg.data)


@settings(max_examples=150, deadline=None)
@given(sec=st.integers(-2**31, 2**31 - 1), nanosec=st.integers(0, 2**32 - 1),
       frame_id=_TEXT, height=st.integers(0, 2**32 - 1), width=st.integers(0, 2**32 - 1),
       encoding=_TEXT, is_bigendian=st.integers(0, 255), step=st.integers(0, 2**32 - 1),
       data=st.binary(max_size=64))
def test_every_image_field_reads_as_rclpy_deserializes_it(sec, nanosec, frame_id, height,
                                                          width, encoding, is_bigendian, step,
                                                          data):
    wire = serialize_message(_image(sec, nanosec, frame_id, height, width, encoding,
                                    is_bigendian, step, data))
    raw = read_image(wire)
    _same_image(raw, deserialize_message(wire, Image))
    assert not raw.data.flags.writeable


@settings(max_examples=100, deadline=None)
@given(sec=st.integers(-2**31, 2**31 - 1), nanosec=st.integers(0, 2**32 - 1),
       frame_id=_TEXT, fmt=_TEXT, data=st.binary(max_size=64))
def test_every_compressed_image_field_reads_as_rclpy_deserializes_it(sec, nanosec, frame_id,
                                                                     fmt, data):
    msg = CompressedImage()
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
    msg.header.frame_id, msg.format = frame_id, fmt
    msg.data = array.array('B', data)
    wire = serialize_message(msg)
    raw = read_compressed_image(wire)
    back = deserialize_message(wire, CompressedImage)
    assert (raw.header.stamp.sec, raw.header.stamp.nanosec, raw.header.frame_id) == (
        back.header.stamp.sec, back.header.stamp.nanosec, back.header.frame_id)
    assert raw.format == back.format
    assert raw.data.tobytes() == bytes(back.data)


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8'])
def test_the_node_gets_the_same_pixels_from_the_bytes(encoding):
    rng = np.random.default_rng(0)
    channels = {'rgba8': 4, 'bgra8': 4, 'mono8': 1}.get(encoding, 3)
    height, width = 7, 13
    step = width * channels + 5  # padded rows
    data = rng.integers(0, 256, height * step, dtype=np.uint8).tobytes()
    wire = serialize_message(_image(12, 34, 'cam', height, width, encoding, 0, step, data))
    np.testing.assert_array_equal(image_to_rgb(read_image(wire)),
                                  image_to_rgb(deserialize_message(wire, Image)))


def test_a_compressed_frame_decodes_the_same_from_the_bytes():
    import cv2
    rng = np.random.default_rng(1)
    ok, png = cv2.imencode('.png', rng.integers(0, 256, (9, 11, 3), dtype=np.uint8))
    assert ok
    msg = CompressedImage()
    msg.format = 'rgb8; png compressed bgr8'
    msg.data = array.array('B', png.tobytes())
    wire = serialize_message(msg)
    np.testing.assert_array_equal(compressed_to_rgb(read_compressed_image(wire)),
                                  compressed_to_rgb(deserialize_message(wire, CompressedImage)))


def test_bytes_from_a_bag_writer_read_the_same():
    # rosbags' own serializer: what a bag holds, written by another CDR implementation.
    from rosbags.typesys import get_typestore, Stores
    store = get_typestore(Stores.ROS2_JAZZY)
    types = store.types
    stamp = types['builtin_interfaces/msg/Time'](sec=5, nanosec=6)
    header = types['std_msgs/msg/Header'](stamp=stamp, frame_id='camera_optical')
    pixels = np.arange(2 * 3 * 3, dtype=np.uint8)
    message = types['sensor_msgs/msg/Image'](header=header, height=2, width=3, encoding='rgb8',
                                             is_bigendian=0, step=9, data=pixels)
    for wire in (store.serialize_cdr(message, 'sensor_msgs/msg/Image'),
                 store.serialize_cdr(message, 'sensor_msgs/msg/Image', little_endian=False)):
        raw = read_image(bytes(wire))
        assert (raw.header.stamp.sec, raw.header.stamp.nanosec) == (5, 6)
        assert (raw.header.frame_id, raw.height, raw.width, raw.encoding, raw.step) == (
            'camera_optical', 2, 3, 'rgb8', 9)
        np.testing.assert_array_equal(raw.data, pixels)


def test_truncated_or_foreign_bytes_are_refused_with_where_they_end():
    wire = serialize_message(_image(1, 2, 'cam', 2, 2, 'rgb8', 0, 6, bytes(12)))
    for cut in (0, 3, 10, 20, len(wire) - 1):
        with pytest.raises(CdrError, match='truncated|shorter'):
            read_image(wire[:cut])
    # Unknown, parameter-list (PL_CDR, PL_CDR2) and delimited (D_CDR2) encapsulations put other
    # bytes between the fields: refused, not misread.
    for kind in (b'\x12\x34', b'\x00\x03', b'\x00\x0b', b'\x00\x09'):
        with pytest.raises(CdrError, match='encapsulation'):
            read_image(kind + wire[2:])
    # A frame id whose length runs past its terminator.
    broken = bytearray(wire)
    broken[12:16] = (3).to_bytes(4, 'little')  # 'cam' is 4 bytes with its NUL
    with pytest.raises(CdrError):
        read_image(bytes(broken))
