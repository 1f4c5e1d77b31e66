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
The first image of a stream, when it arrives before any camera info, over real DDS.

Camera drivers and bag players publish an image and its camera info with the same stamp, and
either may arrive first. The node keeps the newest image that came before any camera info and
processes it when the camera info of that stamp arrives (and does not count it as skipped); an
image whose camera info never comes (another stamp arrives) stays skipped and is counted.
"""


from diagnostic_msgs.msg import DiagnosticArray
from msdepth_ros.core.synthetic import road_scene
import pytest
from ros_harness import camera_info_msg, Client, image_msg, make_checkpoint, NodeProcess, OUTPUTS
from sensor_msgs.msg import CameraInfo, Image

pytestmark = [pytest.mark.ros, pytest.mark.dds]

W, H = 320, 96


def _run(tmp_path, namespace, info_stamps):
    """Send one image, then camera infos with ``info_stamps``; return image stamp, client."""
    model = make_checkpoint(tmp_path / 'kitti.pt', 'kitti')
    node = NodeProcess(namespace, ['-p', f'model:={model}', '-p', 'diagnostics_period_s:=0.2'],
                       tmp_path / 'node.log')
    client = Client(f'order_client_{namespace.strip("/")}')
    scene = road_scene(2, W, H)
    cam = scene.intrinsics
    try:
        for topic, msg_type in OUTPUTS.items():
            client.watch(f'{namespace}/{topic}', msg_type)
        client.watch('/diagnostics', DiagnosticArray)
        client.advertise({f'{namespace}/image': Image, f'{namespace}/camera_info': CameraInfo})
        stamp = client.next_stamp()
        client.publish(f'{namespace}/image', image_msg(scene.image, stamp))
        client.wait_for(lambda: node.log_lines_with('no camera info received'), 60.0,
                        'the node to take the image without camera info')
        waiting = client.wait_diagnostics(namespace)
        assert 'waiting for camera info' in waiting['message'], waiting
        for info_stamp in info_stamps(stamp):
            info = camera_info_msg(cam.fx_px, cam.fy_px, cam.cx_px, cam.cy_px, W, H)
            info.header.stamp.sec, info.header.stamp.nanosec = info_stamp
            client.publish(f'{namespace}/camera_info', info)
        return stamp, client, node
    except BaseException:
        client.close()
        node.stop()
        raise


def test_image_before_its_camera_info_is_processed_when_the_info_arrives(tmp_path):
    stamp, client, node = _run(tmp_path, '/order_same', lambda s: [s])
    try:
        out = client.wait_outputs('/order_same', stamp, timeout_s=30.0)
        assert (out['depth/image'].width, out['depth/image'].height) == (142, 27)
        status = client.wait_diagnostics('/order_same')
        assert status['bad messages'] == '0', status
    finally:
        client.close()
        assert node.stop() == 0, node.log()


def test_image_whose_camera_info_never_comes_stays_skipped(tmp_path):
    stamp, client, node = _run(tmp_path, '/order_other', lambda s: [(s[0] + 1, s[1])])
    try:
        # Once the node took that camera info (the waiting image is counted as skipped), it has
        # intrinsics: a new frame goes through, the old one never did.
        client.wait_for(lambda: (lambda st: st if st.get('bad messages: no_camera_info') == '1'
                                 else None)(client.wait_diagnostics('/order_other')),
                        60.0, 'the waiting image to be counted as skipped')
        new = client.next_stamp()
        client.publish('/order_other/image', image_msg(road_scene(2, W, H).image, new))
        client.wait_outputs('/order_other', new, timeout_s=30.0)
        assert not client.outputs('/order_other', stamp)
        status = client.wait_diagnostics('/order_other')
        assert status['bad messages: no_camera_info'] == '1', status
    finally:
        client.close()
        assert node.stop() == 0, node.log()
