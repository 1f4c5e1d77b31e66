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
Shut-down never frees the backend under a running inference.

A TensorRT engine's device buffers freed while ``execute_async_v3`` still runs on them crash the
process. The node is built in this process on the real PyTorch backend, whose ``predict`` is
held inside its call by the test (an inference that takes longer than shut-down waits); the
backend's ``close`` is recorded instead of run. Shutting down must then leave the backend alone
and say so; once the inference is done, a shut-down frees it.
"""

from __future__ import annotations

import threading

from msdepth_ros.core.synthetic import road_scene
from msdepth_ros.ros import depth_runner
from msdepth_ros.ros.depth_node import DepthNode
import pytest
from rclpy.parameter import Parameter
from ros_harness import camera_info_msg, Client, image_msg, make_checkpoint
from sensor_msgs.msg import CameraInfo, Image

pytestmark = [pytest.mark.ros, pytest.mark.dds]

TIMEOUT_S = 60.0


@pytest.mark.parametrize('finishes_in_time', [False, True])
def test_the_backend_is_freed_only_after_the_inference_in_flight(tmp_path, monkeypatch,
                                                                 finishes_in_time):
    model = make_checkpoint(tmp_path / 'model.pt')
    client = Client('shutdown_client')
    node = None
    release = threading.Event()
    try:
        node = DepthNode(context=client.context, namespace='/shutdown', parameter_overrides=[
            Parameter('model', value=str(model)), Parameter('backend', value='torch'),
            Parameter('skip_unsubscribed', value=False)])
        backend = node._backend
        predict, started, closed = backend.predict, threading.Event(), []

        def held_predict(x):
            started.set()
            release.wait(TIMEOUT_S)
            return predict(x)

        monkeypatch.setattr(backend, 'predict', held_predict)
        monkeypatch.setattr(backend, 'close', lambda: closed.append(True))
        warnings = []
        logger = node.get_logger()
        monkeypatch.setattr(logger, 'warning', lambda text, **_: warnings.append(text))
        client.executor.add_node(node)
        client.advertise({'/shutdown/camera_info': CameraInfo, '/shutdown/image': Image},
                         timeout_s=TIMEOUT_S)
        scene = road_scene(3, 160, 48)
        cam = scene.intrinsics
        stamp = client.next_stamp()
        client.publish('/shutdown/camera_info', camera_info_msg(
            cam.fx_px, cam.fy_px, cam.cx_px, cam.cy_px, 160, 48, stamp=stamp))
        client.publish('/shutdown/image', image_msg(scene.image, stamp))
        assert started.wait(TIMEOUT_S), 'the inference never started'

        client.executor.remove_node(node)
        if finishes_in_time:
            threading.Timer(0.2, release.set).start()
        else:
            monkeypatch.setattr(depth_runner, 'WORKER_JOIN_TIMEOUT_S', 0.5)
        node.destroy_node()
        if finishes_in_time:
            assert closed == [True]
            assert not [w for w in warnings if 'frame in flight' in w]
        else:
            assert closed == []  # never freed under the running inference
            assert [w for w in warnings if 'leaving the backend to the process exit' in w]
        node.destroy_node()  # idempotent
    finally:
        release.set()
        client.close()
