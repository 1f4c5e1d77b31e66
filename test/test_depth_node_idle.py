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
``skip_unsubscribed`` over real DDS: no inference while nobody listens, work as soon as one does.

The node runs as its own process; the test publishes frames while no output has a subscriber
and reads the node's ``/diagnostics``: the frames are counted as skipped, none is published and
the status says the node is idle. A subscriber to one output then gets depth, and with
``skip_unsubscribed`` set false at run time the node infers for nobody again.
"""

from diagnostic_msgs.msg import DiagnosticArray
from msdepth_ros.core.synthetic import road_scene
import pytest
from ros_harness import camera_info_msg, Client, image_msg, make_checkpoint, NodeProcess
from sensor_msgs.msg import CameraInfo, Image

pytestmark = [pytest.mark.ros, pytest.mark.dds]

NS = '/idle'
W, H = 320, 96


@pytest.fixture()
def system(tmp_path):
    model = make_checkpoint(tmp_path / 'kitti.pt', 'kitti')
    node = NodeProcess(NS, ['-p', f'model:={model}', '-p', 'diagnostics_period_s:=0.5'],
                       tmp_path / 'node.log')
    client = Client('idle_client')
    scene = road_scene(4, W, H)
    cam = scene.intrinsics
    try:
        client.watch('/diagnostics', DiagnosticArray)
        client.advertise({f'{NS}/image': Image, f'{NS}/camera_info': CameraInfo})

        def send():
            stamp = client.next_stamp()
            info = camera_info_msg(cam.fx_px, cam.fy_px, cam.cx_px, cam.cy_px, W, H)
            info.header.stamp.sec, info.header.stamp.nanosec = stamp
            client.publish(f'{NS}/camera_info', info)
            client.publish(f'{NS}/image', image_msg(scene.image, stamp))
            return stamp
        yield client, node, send
    finally:
        client.close()
        assert node.stop() == 0, node.log()


def test_no_inference_without_subscribers_then_depth_for_a_subscriber(system):
    client, node, send = system

    def idle_status():
        send()
        status = client.wait_diagnostics(NS)
        return status if int(status['frames skipped without subscribers']) >= 3 else None

    status = client.wait_for(idle_status, 120.0, 'three frames skipped without subscribers')
    assert status['message'] == 'idle: no subscribers', status
    assert float(status['output rate (Hz)']) == 0.0

    client.watch(f'{NS}/depth/image', Image)
    client.wait_for(lambda: client.node.count_publishers(f'{NS}/depth/image') >= 1, 60.0,
                    'the depth publisher')

    # The node may see the new subscriber a moment after this process does: frames sent
    # before are skipped. Send frames until one comes back (waiting for it, not a fixed time).
    def depth_for_a_frame():
        send()
        try:
            return client.wait_for(lambda: client.messages(f'{NS}/depth/image'), 5.0, 'depth')
        except AssertionError:
            return None

    assert client.wait_for(depth_for_a_frame, 120.0, 'depth once subscribed')
    skipped_then = int(client.wait_diagnostics(NS)['frames skipped without subscribers'])

    # Unsubscribed again, with skip_unsubscribed off: frames are inferred (and published to
    # nobody), not skipped.
    client.unwatch(f'{NS}/depth/image')
    results = client.set_parameters(NS, skip_unsubscribed=False)
    assert all(r.successful for r in results), results
    for _ in range(3):
        send()
        client.wait_diagnostics(NS)
    status = client.wait_diagnostics(NS)
    assert int(status['frames skipped without subscribers']) == skipped_then
    assert status['message'] != 'idle: no subscribers'
