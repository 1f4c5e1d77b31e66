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
The depth node as a ROS user meets it, on ROS's and Fast DDS's defaults, over real DDS.

- Camera-size frames from a reliable publisher (ROS's default QoS) arrive with no transport
  profile set anywhere: the input reliability follows the publishers (``auto``).
- A best-effort camera is matched too.
- Compressed input follows the image remapping, as image_transport names it.
- With no ``model`` the demo model runs, with a warning in the log and on ``/diagnostics``.
- Two SIGINTs (``ros2 launch`` and the terminal both send one) end the node cleanly: exit 0,
  no traceback, and the node leaves the graph.
"""

from __future__ import annotations

import os
import signal
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from msdepth_ros.core.synthetic import road_scene
from msdepth_ros.ros.config import DEMO_MODEL_WARNING
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from ros_harness import (camera_info_msg, Client, compressed_msg, image_msg, make_checkpoint,
                         NodeProcess)
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.dds]

TIMEOUT_S = 60.0
PROFILE_VARIABLES = ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE')


@pytest.fixture(autouse=True)
def no_transport_profile(monkeypatch):
    """Neither this process's later participants nor the node get a Fast DDS profile."""
    for name in PROFILE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def client():
    client = Client('ros_defaults_client')
    yield client
    client.close()


def node_reliability(client: Client, topic: str) -> ReliabilityPolicy:
    infos = client.node.get_subscriptions_info_by_topic(topic)
    assert len(infos) == 1, infos
    return infos[0].qos_profile.reliability


def camera_messages(width: int, height: int, frame_id: str = 'camera_optical'):
    scene = road_scene(5, width, height)
    cam = scene.intrinsics
    return scene, camera_info_msg(cam.fx_px, cam.fy_px, cam.cx_px, cam.cy_px, width, height,
                                  frame_id=frame_id)


def test_kitti_size_frames_from_a_reliable_camera_arrive_on_default_settings(tmp_path, client):
    model = make_checkpoint(tmp_path / 'kitti.pt', 'kitti')
    node = NodeProcess('/qos', ['-p', f'model:={model}', '-p', 'backend:=torch'],
                       tmp_path / 'node.log')
    try:
        client.watch('/qos/depth/image', Image)
        # ROS's default QoS: reliable, keep last 10 (what rclpy's create_publisher(.., 10) gives).
        client.advertise({'/qos/camera_info': CameraInfo, '/qos/image': Image},
                         timeout_s=TIMEOUT_S)
        assert node_reliability(client, '/qos/image') == ReliabilityPolicy.RELIABLE
        assert node_reliability(client, '/qos/camera_info') == ReliabilityPolicy.RELIABLE
        scene, info = camera_messages(1242, 375)
        # Steady state first: a reader that matches a moment after the writer (volatile) misses
        # what came before, so camera info goes out until the node says it has the camera.
        client.watch('/diagnostics', DiagnosticArray)
        client.send_camera_info('/qos', info, TIMEOUT_S)
        frames, period_s = 30, 0.2  # 5 Hz
        stamps = []
        start = time.monotonic()
        for index in range(frames):
            time.sleep(max(0.0, start + index * period_s - time.monotonic()))
            stamp = client.next_stamp()
            info.header.stamp.sec, info.header.stamp.nanosec = stamp
            client.publish('/qos/camera_info', info)
            client.publish('/qos/image', image_msg(scene.image, stamp))
            stamps.append(stamp[0])
        # Wait until every frame's depth came, or the node's counts account for every frame:
        # all received, and as many published as arrived here. What is measured is the
        # transport: a frame the node received but dropped while its backend was busy (a loaded
        # machine) reached it; the camera's frames must reach the node, and its depth images us.

        def settled():
            got = {m.header.stamp.sec for m in client.messages('/qos/depth/image')} & set(stamps)
            status = client.diagnostics('/qos') or {}
            done = (int(status.get('frames received', 0)) >= frames
                    and int(status.get('frames published', -1)) == len(got))
            return (got, status) if done or len(got) == frames else None

        got, status = client.wait_for(settled, TIMEOUT_S, 'every frame accounted for')
        arrived = max(len(got), int(status.get('frames received', 0)))
        assert arrived >= 0.95 * frames, f'{arrived} of {frames} frames:\n{node.log()}'
        assert int(status.get('frames lost before the node', 0)) == 0, status
        assert got, 'no depth image came back'
    finally:
        node.stop()


def test_a_best_effort_camera_is_matched(tmp_path, client):
    model = make_checkpoint(tmp_path / 'kitti.pt', 'kitti')
    node = NodeProcess('/qos_be', ['-p', f'model:={model}', '-p', 'backend:=torch'],
                       tmp_path / 'node.log')
    try:
        client.watch('/qos_be/depth/image', Image)
        best_effort = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
        publishers = {}
        for topic, msg_type in (('/qos_be/camera_info', CameraInfo), ('/qos_be/image', Image)):
            publishers[topic] = client.node.create_publisher(msg_type, topic, best_effort)
        client.wait_for(lambda: all(p.get_subscription_count() == 1
                                    for p in publishers.values()), TIMEOUT_S,
                        'the node to subscribe to the best-effort camera')
        assert node_reliability(client, '/qos_be/image') == ReliabilityPolicy.BEST_EFFORT
        scene, info = camera_messages(160, 48)
        # Best effort may lose a sample: send until one frame's depth comes back.
        for _ in range(20):
            stamp = client.next_stamp()
            info.header.stamp.sec, info.header.stamp.nanosec = stamp
            publishers['/qos_be/camera_info'].publish(info)
            publishers['/qos_be/image'].publish(image_msg(scene.image, stamp))
            try:
                client.wait_for(lambda: client.outputs('/qos_be', stamp, ['depth/image']),
                                5.0, 'depth')
                break
            except AssertionError:
                continue
        else:
            pytest.fail(f'no depth from a best-effort camera:\n{node.log()}')
        assert 'subscribed best_effort to match its publishers' in node.log()
    finally:
        node.stop()


def test_compressed_input_follows_the_image_remapping(tmp_path, client):
    model = make_checkpoint(tmp_path / 'kitti.pt', 'kitti')
    scene, info = camera_messages(320, 96)
    cam = scene.intrinsics
    node = NodeProcess('/cmp', [
        '-r', 'image:=/cam_driver/image_raw', '-p', f'model:={model}', '-p', 'backend:=torch',
        '-p', 'input_compressed:=true', '-p', 'use_camera_info:=false',
        '-p', f'camera_fx_px:={cam.fx_px!r}', '-p', f'camera_fy_px:={cam.fy_px!r}',
        '-p', f'camera_cx_px:={cam.cx_px!r}', '-p', f'camera_cy_px:={cam.cy_px!r}',
        '-p', 'camera_width:=320', '-p', 'camera_height:=96'], tmp_path / 'node.log')
    try:
        client.watch('/cmp/depth/image', Image)
        # image_transport's name for it: the resolved image topic plus /compressed.
        client.advertise({'/cam_driver/image_raw/compressed': CompressedImage},
                         timeout_s=TIMEOUT_S)
        assert not client.node.get_subscriptions_info_by_topic('/cmp/image/compressed')
        stamp = client.next_stamp()
        client.publish('/cam_driver/image_raw/compressed', compressed_msg(scene.image, stamp))
        depth = client.wait_outputs('/cmp', stamp, ['depth/image'], TIMEOUT_S)['depth/image']
        assert depth.encoding == '32FC1'
        assert 'input /cam_driver/image_raw/compressed' in node.log()
    finally:
        node.stop()


def test_without_a_model_the_demo_model_runs_with_a_warning_and_two_sigints_end_it(
        tmp_path, client):
    node = NodeProcess('/bare', ['-p', 'diagnostics_period_s:=0.5'], tmp_path / 'node.log')
    try:
        client.watch('/diagnostics', DiagnosticArray)
        client.watch('/bare/depth/image', Image)
        client.advertise({'/bare/camera_info': CameraInfo, '/bare/image': Image},
                         timeout_s=TIMEOUT_S)
        scene, info = camera_messages(621, 188)
        client.send_camera_info('/bare', info, TIMEOUT_S)
        stamp = client.next_stamp()
        client.publish('/bare/image', image_msg(scene.image, stamp))
        depth = client.wait_outputs('/bare', stamp, ['depth/image'], TIMEOUT_S)['depth/image']
        assert (depth.width, depth.height) == (142, 27)  # the KITTI preset's output
        status = client.wait_diagnostics('/bare', timeout_s=TIMEOUT_S)
        assert status['level'] == DiagnosticStatus.WARN[0]
        assert DEMO_MODEL_WARNING in status['message']
        assert status['model'].endswith('demo_kitti_synthetic.pt')
        assert node.log_lines_with(DEMO_MODEL_WARNING)

        # ros2 launch forwards Ctrl-C as SIGINT and the terminal sends its own.
        node.proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
        if node.alive():
            node.proc.send_signal(signal.SIGINT)
        code = node.proc.wait(TIMEOUT_S)
        assert code == 0, node.log()
        assert 'Traceback' not in node.log() and 'KeyboardInterrupt' not in node.log()
        client.wait_for(lambda: ('depth_node', '/bare') not in
                        client.node.get_node_names_and_namespaces(), TIMEOUT_S,
                        'the node to leave the graph')
    finally:
        node.stop()


def test_auto_says_on_diagnostics_why_it_passed_over_a_gpu(tmp_path, client):
    # A stand-in CUDA driver (a compiled libcuda.so.1 that reports one GPU; no machine here has
    # a GPU) and no TensorRT: backend auto runs ONNX Runtime on the CPU and must say why.
    from msdepth_ros.inference.export import export_checkpoint
    from trt_doubles import build_stub_driver
    library = build_stub_driver(tmp_path / 'driver')
    if library is None:
        pytest.skip('no C compiler to build the stand-in CUDA driver')
    onnx_model = export_checkpoint(make_checkpoint(tmp_path / 'kitti.pt', 'kitti'),
                                   tmp_path / 'kitti.onnx').path
    node = NodeProcess('/gpu_auto', ['-p', f'model:={onnx_model}', '-p',
                                     'diagnostics_period_s:=0.5'], tmp_path / 'node.log',
                       env={'LD_LIBRARY_PATH': os.pathsep.join(
                           filter(None, [str(library.parent), os.environ.get('LD_LIBRARY_PATH')])),
                            'STUB_CUDA_COUNT': '1',
                            'STUB_CUINIT_ERROR': '0'})
    try:
        client.watch('/diagnostics', DiagnosticArray)
        try:
            status = client.wait_diagnostics('/gpu_auto', timeout_s=TIMEOUT_S)
        except AssertionError as exc:
            raise AssertionError(f'{exc}\n{node.log()}') from None
        assert status['backend'] == 'onnxruntime'
        assert status['level'] == DiagnosticStatus.WARN[0]
        assert 'tensorrt passed over: 1 CUDA GPU found but tensorrt is not installed' in \
            status['message']
        assert node.log_lines_with('tensorrt passed over')
    finally:
        node.stop()
