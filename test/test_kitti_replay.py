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
A drive converted by ``msdepth-kitti2bag``, replayed over real DDS into the depth node.

Three processes, as on a robot: ``depth_node`` in ``/kitti/camera_color_left``, ``msdepth-replay``
of the bag, and this test's client, which counts the depth images and subscribes to
``/tf_static`` only after the replay has begun (a latched topic still delivers it).
"""

from __future__ import annotations

import signal
import subprocess
import threading

from conftest import console_script
from msdepth_ros.data.kitti_writer import SyntheticDriveConfig, write_synthetic_drive
import pytest
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from ros_harness import Client, make_checkpoint, NodeProcess, stamp_key
from rosbags.highlevel import AnyReader
from rosbags.typesys import get_typestore, Stores
from sensor_msgs.msg import Image
from tf2_msgs.msg import TFMessage  # generated into the test environment by make test

pytestmark = [pytest.mark.ros, pytest.mark.dds]

NS = '/kitti/camera_color_left'
FRAMES = 4


def _bag_image_stamps(bag):
    store = get_typestore(Stores.ROS2_JAZZY)
    with AnyReader([bag], default_typestore=store) as reader:
        conns = [c for c in reader.connections if c.topic == f'{NS}/image_raw']
        return [stamp_key(reader.deserialize(data, c.msgtype))
                for c, _, data in reader.messages(conns)]


def test_converted_drive_replays_into_the_depth_node(tmp_path):
    drive = write_synthetic_drive(tmp_path / 'raw', SyntheticDriveConfig(
        frames=FRAMES, width=310, height=94, cameras=(2,)))
    bag = tmp_path / 'drive_bag'
    subprocess.run([console_script('msdepth-kitti2bag'), str(drive.drive_dir), str(bag), '-q'],
                   check=True, timeout=120)
    image_stamps = _bag_image_stamps(bag)
    assert len(image_stamps) == FRAMES
    model = make_checkpoint(tmp_path / 'kitti.pt')
    # No fallback intrinsics: the first image may reach the node before the first camera
    # info (which leads it by 1 ms of bag time); it waits for the camera info of its stamp.
    node = NodeProcess(NS, [
        '-r', 'image:=image_raw', '-p', f'model:={model}', '-p', 'backend:=torch'],
        tmp_path / 'node.log')
    client = Client('kitti_replay_client')
    replay = None
    try:
        client.watch(f'{NS}/depth/image', Image)
        node.wait_ready(120.0)
        # 10 Hz at rate 0.2: a frame every 0.5 s. The node subscribes once it sees the
        # replay's (reliable) publishers, reliably; the replay sends nothing before both of
        # the node's readers matched, and lingers (for the late /tf_static reader below)
        # until the test stops it.
        replay = subprocess.Popen(
            [console_script('msdepth-replay'), str(bag), '--rate', '0.2', '--delay', '0',
             '--linger', '300', '-q', '--wait-for-subscribers', f'{NS}/image_raw:1',
             f'{NS}/camera_info:1'],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        client.wait_for(lambda: client.messages(f'{NS}/depth/image'), 120.0, 'a depth image')
        # Subscribed after /tf_static was published: only its transient-local QoS delivers it.
        latched, lock = [], threading.Lock()

        def keep(msg):
            with lock:
                latched.append(msg)
        client.node.create_subscription(
            TFMessage, '/tf_static', keep,
            QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.TRANSIENT_LOCAL))
        client.wait_for(lambda: latched, 60.0, 'the latched /tf_static')
        depths = client.wait_for(
            lambda: (lambda m: m if len(m) >= FRAMES else None)(
                client.messages(f'{NS}/depth/image')), 120.0, f'{FRAMES} depth images')
        replay.send_signal(signal.SIGINT)
        output, _ = replay.communicate(timeout=60)
        assert replay.returncode == 0, output
    finally:
        if replay is not None and replay.poll() is None:
            replay.kill()
            replay.wait()
        client.close()
        node.stop()
    assert sorted(stamp_key(m) for m in depths) == image_stamps, node.log()
    assert all(m.header.frame_id == 'camera_color_left_optical_frame' for m in depths)
    (tf,) = latched
    children = {t.child_frame_id: t.header.frame_id for t in tf.transforms}
    assert children == {'velodyne': 'base_link',
                        **{f'{c}_optical_frame': 'velodyne' for c in (
                            'camera_color_left', 'camera_color_right', 'camera_gray_left',
                            'camera_gray_right')}}
