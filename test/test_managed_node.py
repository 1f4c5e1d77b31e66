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
The managed depth node (``depth_node_managed``) driven through its lifecycle over real DDS.

The node runs as its own process; this process calls its ``lifecycle_msgs`` services as
Nav2's lifecycle_manager (or ``ros2 lifecycle set``) does: a configure that fails on a missing
model, the parameter fixed, configure, activate (depth comes out), deactivate (the
subscriptions go), cleanup, and the state on ``/diagnostics`` all along.
"""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Any

from conftest import console_script
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from msdepth_ros.core.synthetic import road_scene
import pytest
from ros_harness import camera_info_msg, Client, image_msg, make_checkpoint, OUTPUTS
from sensor_msgs.msg import CameraInfo, Image

pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.dds]

NS = '/managed'
NODE = f'{NS}/depth_node'
WIDTH, HEIGHT = 320, 96
TIMEOUT_S = 60.0


def call(client: Client, srv_type: Any, name: str, request: Any) -> Any:
    """Call a service of the node and wait for the answer."""
    service = client.node.create_client(srv_type, name)
    try:
        assert service.wait_for_service(timeout_sec=TIMEOUT_S), f'no service {name}'
        future = service.call_async(request)
        client.wait_for(future.done, TIMEOUT_S, f'the answer of {name}')
        return future.result()
    finally:
        client.node.destroy_client(service)


def state(client: Client) -> str:
    return call(client, GetState, f'{NODE}/get_state', GetState.Request()).current_state.label


def transition(client: Client, transition_id: int) -> bool:
    request = ChangeState.Request()
    request.transition.id = transition_id
    return call(client, ChangeState, f'{NODE}/change_state', request).success


def image_subscribers(client: Client) -> int:
    return len(client.node.get_subscriptions_info_by_topic(f'{NS}/image'))


def test_lifecycle_transitions_over_dds(tmp_path):
    model = make_checkpoint(tmp_path / 'kitti.pt', 'kitti')
    log_path = tmp_path / 'managed.log'
    env = dict(os.environ, RCUTILS_COLORIZED_OUTPUT='0', PYTHONUNBUFFERED='1',
               ROS_LOG_DIR=str(tmp_path / 'ros'))
    with open(log_path, 'w') as log:
        proc = subprocess.Popen(
            [console_script('depth_node_managed'), '--ros-args', '-r', f'__ns:={NS}',
             '-p', f'model:={tmp_path / "missing.pt"}', '-p', 'diagnostics_period_s:=0.2'],
            stdout=log, stderr=subprocess.STDOUT, env=env)
    client = Client('lifecycle_test_client')
    try:
        client.watch('/diagnostics', DiagnosticArray)
        assert state(client) == 'unconfigured'
        status = client.wait_diagnostics(NS, timeout_s=TIMEOUT_S)
        assert status['lifecycle state'] == 'unconfigured'
        assert image_subscribers(client) == 0  # nothing is subscribed before activation

        # A configure that fails on a bad model leaves the node unconfigured, and says why.
        assert not transition(client, Transition.TRANSITION_CONFIGURE)
        assert state(client) == 'unconfigured'
        status = client.wait_for(
            lambda: (lambda s: s if s and s['level'] == DiagnosticStatus.ERROR[0] else None)(
                client.diagnostics(NS)), TIMEOUT_S, 'an ERROR status after the failed configure')
        assert 'missing.pt: no such file' in status['message']

        # Fixed while unconfigured (model is a restart parameter), then configure works.
        results = client.set_parameters(NS, model=str(model), backend='torch')
        assert all(r.successful for r in results), results
        assert transition(client, Transition.TRANSITION_CONFIGURE)
        assert state(client) == 'inactive'
        assert image_subscribers(client) == 0  # configured, not yet subscribed
        refused = client.set_parameters(NS, backend='onnxruntime')
        assert not refused[0].successful
        assert 'only change while the node is unconfigured (it is inactive)' in refused[0].reason

        # Active: subscribed, and a frame gives depth.
        assert transition(client, Transition.TRANSITION_ACTIVATE)
        assert state(client) == 'active'
        for topic, msg_type in OUTPUTS.items():
            client.watch(f'{NS}/{topic}', msg_type)
        client.advertise({f'{NS}/camera_info': CameraInfo, f'{NS}/image': Image},
                         timeout_s=TIMEOUT_S)
        scene = road_scene(3, WIDTH, HEIGHT)
        cam = scene.intrinsics
        stamp = client.next_stamp()
        info = camera_info_msg(cam.fx_px, cam.fy_px, cam.cx_px, cam.cy_px, WIDTH, HEIGHT,
                               frame_id='cam_optical')
        client.send_camera_info(NS, info, TIMEOUT_S)
        client.publish(f'{NS}/image', image_msg(scene.image, stamp, 'rgb8', 'cam_optical'))
        outputs = client.wait_outputs(NS, stamp, timeout_s=TIMEOUT_S)
        assert outputs['depth/image'].encoding == '32FC1'
        status = client.wait_for(
            lambda: (lambda s: s if s and s.get('frames published') == '1' else None)(
                client.diagnostics(NS)), TIMEOUT_S, 'a status counting the published frame')
        assert status['lifecycle state'] == 'active'
        # Run-time parameters still change while active; restart ones do not.
        assert client.set_parameters(NS, max_depth_m=50.0)[0].successful
        assert not client.set_parameters(NS, upsample=2)[0].successful

        # Deactivated: the subscriptions are gone, the model stays loaded.
        assert transition(client, Transition.TRANSITION_DEACTIVATE)
        assert state(client) == 'inactive'
        client.wait_for(lambda: image_subscribers(client) == 0, TIMEOUT_S,
                        'the image subscription to go away')
        status = client.wait_for(
            lambda: (lambda s: s if s and s['lifecycle state'] == 'inactive' else None)(
                client.diagnostics(NS)), TIMEOUT_S, 'an inactive status')
        assert status['message'].startswith('inactive')

        # Cleaned up: unconfigured again, and configurable again with a new model.
        assert transition(client, Transition.TRANSITION_CLEANUP)
        assert state(client) == 'unconfigured'
        assert client.set_parameters(NS, upsample=2)[0].successful
        assert transition(client, Transition.TRANSITION_CONFIGURE)
        assert transition(client, Transition.TRANSITION_ACTIVATE)
        stamp = client.next_stamp()
        info.header.stamp.sec, info.header.stamp.nanosec = stamp
        client.wait_for(lambda: image_subscribers(client) == 1, TIMEOUT_S,
                        'the image subscription to come back')
        client.wait_for(lambda: client._publishers[f'{NS}/image'].get_subscription_count() == 1,
                        TIMEOUT_S, 'the new subscription to match the publisher')
        client.send_camera_info(NS, info, TIMEOUT_S)
        client.publish(f'{NS}/image', image_msg(scene.image, stamp, 'rgb8', 'cam_optical'))
        upsampled = client.wait_outputs(NS, stamp, timeout_s=TIMEOUT_S)['depth/image']
        assert (upsampled.width, upsampled.height) == (2 * outputs['depth/image'].width,
                                                       2 * outputs['depth/image'].height)
    finally:
        client.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
    output = log_path.read_text()
    assert code == 0, output
    assert 'Traceback' not in output, output
    assert 'configure failed' in output
