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
``msdepth-replay`` over real DDS: timing order, recorded QoS (latched /tf_static), /clock.

The bag is written with the ``rosbags`` package exactly as rosbag2 stores messages (CDR with
the offered QoS profiles in its metadata); the replay runs as its own process and the test
subscribes from this process with rclpy. Every replay here waits for the test's readers
(``--wait-for-subscribers``) instead of a fixed delay, and is stopped by the test once it has
seen what it waits for, so a slow, loaded machine only makes the tests slower.
"""

from pathlib import Path
import signal
import subprocess
import threading
import time

from conftest import console_script
import numpy as np
import pytest
import rclpy
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosbags.interfaces import (Qos, QosDurability, QosHistory, QosLiveliness, QosReliability,
                                QosTime)
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import get_typestore, Stores
from tf2_msgs.msg import TFMessage  # generated into the test environment by make test

pytestmark = [pytest.mark.ros, pytest.mark.dds]

T0_NS = 1_317_046_000_000_000_000  # 2011-09-26, as KITTI stamps


def _qos(durability, reliability, depth=1):
    zero = QosTime(0, 0)
    return Qos(history=QosHistory.KEEP_LAST, depth=depth, reliability=reliability,
               durability=durability, deadline=zero, lifespan=zero,
               liveliness=QosLiveliness.AUTOMATIC, liveliness_lease_duration=zero,
               avoid_ros_namespace_conventions=False)


def _write_bag(path: Path, frames: int = 6, period_ns: int = 100_000_000,
               plugin=StoragePlugin.MCAP) -> None:
    ts = get_typestore(Stores.ROS2_JAZZY)
    Header = ts.types['std_msgs/msg/Header']
    Time = ts.types['builtin_interfaces/msg/Time']
    Image = ts.types['sensor_msgs/msg/Image']
    TFMessage = ts.types['tf2_msgs/msg/TFMessage']
    TransformStamped = ts.types['geometry_msgs/msg/TransformStamped']
    Transform = ts.types['geometry_msgs/msg/Transform']
    Vector3 = ts.types['geometry_msgs/msg/Vector3']
    Quaternion = ts.types['geometry_msgs/msg/Quaternion']

    def stamp(ns):
        return Time(sec=ns // 10**9, nanosec=ns % 10**9)

    with Writer(path, version=9, storage_plugin=plugin) as writer:
        tf_conn = writer.add_connection(
            '/tf_static', TFMessage.__msgtype__, typestore=ts,
            offered_qos_profiles=[_qos(QosDurability.TRANSIENT_LOCAL, QosReliability.RELIABLE)])
        img_conn = writer.add_connection(
            '/cam/image_raw', Image.__msgtype__, typestore=ts,
            offered_qos_profiles=[_qos(QosDurability.VOLATILE, QosReliability.RELIABLE, 10)])
        tf = TFMessage(transforms=[TransformStamped(
            header=Header(stamp=stamp(T0_NS), frame_id='base_link'), child_frame_id='velo_link',
            transform=Transform(translation=Vector3(x=0.81, y=-0.32, z=0.8),
                                rotation=Quaternion(x=0.0, y=0.0, z=0.0, w=1.0)))])
        writer.write(tf_conn, T0_NS, ts.serialize_cdr(tf, TFMessage.__msgtype__))
        for i in range(frames):
            ns = T0_NS + i * period_ns
            data = np.full((4, 6, 3), i, dtype=np.uint8)
            img = Image(header=Header(stamp=stamp(ns), frame_id='cam'), height=4, width=6,
                        encoding='rgb8', is_bigendian=0, step=18, data=data.reshape(-1))
            writer.write(img_conn, ns, ts.serialize_cdr(img, Image.__msgtype__))


class _Listener:
    """An rclpy node in this process, spun in a thread, that records what it receives."""

    def __init__(self, name: str):
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        self.received = {}
        self._executor = rclpy.executors.SingleThreadedExecutor(context=self.context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self):
        try:
            self._executor.spin()
        except Exception:  # noqa: B902 - context shut down under the executor
            pass

    def subscribe(self, msg_type, topic, qos):
        self.received[topic] = []
        self.node.create_subscription(
            msg_type, topic, lambda m: self.received[topic].append((time.monotonic(), m)), qos)

    def wait_for(self, topic, count, timeout_s):
        """Wait until ``count`` messages of ``topic`` arrived; return them (fewer on timeout)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end and len(self.received.get(topic, [])) < count:
            time.sleep(0.02)
        return list(self.received.get(topic, []))

    def close(self):
        self._executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def _stop(proc, timeout_s=60):
    """Ctrl-C a replay that lingers for late subscribers; return its output."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


@pytest.fixture
def listener():
    node = _Listener('replay_listener')
    yield node
    node.close()


@pytest.mark.parametrize('plugin', [StoragePlugin.MCAP, StoragePlugin.SQLITE3])
def test_replay_in_order_with_latched_tf_static(tmp_path, listener, plugin):
    from sensor_msgs.msg import Image
    bag = tmp_path / 'bag'
    _write_bag(bag, plugin=plugin)
    reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
    listener.subscribe(Image, '/cam/image_raw', reliable)
    # /tf_static is recorded first and goes out before the first image: subscribed only after
    # an image has arrived, it reaches this late subscriber only because it is latched. The
    # replay lingers until the test stops it, however long the late match takes.
    proc = subprocess.Popen([console_script('msdepth-replay'), str(bag), '--rate', '0.5',
                             '--delay', '0', '--wait-for-subscribers', '/cam/image_raw',
                             '--linger', '120', '-q'],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        images = listener.wait_for('/cam/image_raw', 1, 60.0)
        assert images, 'no image arrived'
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        listener.subscribe(TFMessage, '/tf_static', latched)
        tf = listener.wait_for('/tf_static', 1, 60.0)
        images = listener.wait_for('/cam/image_raw', 6, 60.0)
    finally:
        out = _stop(proc)
    assert proc.returncode == 0, out
    assert len(tf) == 1
    t = tf[0][1].transforms[0]
    assert (t.header.frame_id, t.child_frame_id) == ('base_link', 'velo_link')
    assert t.transform.translation.x == pytest.approx(0.81)
    stamps = [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for _, m in images]
    assert stamps == [T0_NS + i * 100_000_000 for i in range(6)]
    assert [int(m.data[0]) for _, m in images] == list(range(6))
    # At rate 0.5 the 100 ms spacing becomes 200 ms: the replay follows the recorded timing.
    gaps = np.diff([t for t, _ in images])
    assert np.median(gaps) > 0.1


def test_clock_follows_bag_time(tmp_path, listener):
    from rosgraph_msgs.msg import Clock
    bag = tmp_path / 'bag'
    _write_bag(bag, frames=5)
    # Reliable, as the replay publishes /clock: the last messages are acknowledged before it
    # exits, so this reader has them however late its side of the match completes.
    listener.subscribe(Clock, '/clock',
                       QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
    proc = subprocess.run([console_script('msdepth-replay'), str(bag), '--clock', '50',
                           '--topics', '/cam/image_raw', '--delay', '0',
                           '--wait-for-subscribers', '/clock', '--linger', '0', '-q'],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    received = listener.wait_for('/clock', 3, 30.0)
    clocks = [m.clock.sec * 10**9 + m.clock.nanosec for _, m in received]
    assert len(clocks) >= 3
    assert all(T0_NS <= c <= T0_NS + 4 * 100_000_000 for c in clocks)
    assert clocks == sorted(clocks)


def test_errors_are_clear(tmp_path):
    exe = console_script('msdepth-replay')
    proc = subprocess.run([exe, str(tmp_path / 'nothing')], capture_output=True, text=True)
    assert proc.returncode == 1 and 'no such bag' in proc.stderr
    (tmp_path / 'junk').mkdir()
    (tmp_path / 'junk' / 'metadata.yaml').write_text('not: [a, bag')
    proc = subprocess.run([exe, str(tmp_path / 'junk')], capture_output=True, text=True)
    assert proc.returncode == 1 and 'not a readable rosbag2' in proc.stderr
    assert 'Traceback' not in proc.stderr
    bag = tmp_path / 'bag'
    _write_bag(bag, frames=1)
    proc = subprocess.run([exe, str(bag), '--topics', '/nope'], capture_output=True, text=True)
    assert proc.returncode == 1 and 'topics not in the bag' in proc.stderr
    proc = subprocess.run([exe, str(bag), '--rate', '0'], capture_output=True, text=True)
    assert proc.returncode == 2 and '--rate must be positive' in proc.stderr
    bad = tmp_path / 'qos.yaml'
    bad.write_text('/tf_static: {durability: sticky}\n')
    proc = subprocess.run([exe, str(bag), '--qos-profile-overrides-path', str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and 'durability must be one of' in proc.stderr


def test_wait_for_subscribers_gives_up_clearly(tmp_path):
    bag = tmp_path / 'bag'
    _write_bag(bag, frames=2)
    exe = console_script('msdepth-replay')
    proc = subprocess.run([exe, str(bag), '--delay', '0', '--wait-for-subscribers',
                           '/cam/image_raw:3', '--wait-timeout', '1', '-q'],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert 'subscribers did not appear within 1 s: /cam/image_raw 0 of 3' in proc.stderr
    proc = subprocess.run([exe, str(bag), '--wait-for-subscribers', '/elsewhere', '-q'],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert 'names topics that are not replayed: /elsewhere' in proc.stderr
    assert 'Traceback' not in proc.stderr
