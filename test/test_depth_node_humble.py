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
The depth node on an rclpy that passes no message info to callbacks (ROS 2 Humble).

rclpy gained two-argument subscription callbacks (message and ``MessageInfo``) after Humble;
Humble's executor calls every callback with the message alone. The node wraps its image
callbacks accordingly (``depth_runner.with_message_info``). Here the wrapped path runs for real:
the node is built in this process with the message-info support switched off, and this rclpy's
executor, which inspects each callback's signature, must call it with one argument and the node
must publish the frame's depth. (Humble itself is not installable from PyPI.)
"""

from msdepth_ros.core.synthetic import road_scene
from msdepth_ros.ros import depth_runner
from msdepth_ros.ros.depth_node import DepthNode
from msdepth_ros.ros.depth_runner import with_message_info
import pytest
from rclpy.parameter import Parameter
from ros_harness import camera_info_msg, Client, image_msg, make_checkpoint, OUTPUTS
from sensor_msgs.msg import CameraInfo, Image

pytestmark = [pytest.mark.ros, pytest.mark.dds]


def test_wrapper_passes_an_empty_info_only_where_rclpy_passes_none():
    calls = []

    def callback(msg, info):
        calls.append((msg, info))

    assert with_message_info(callback, supported=True) is callback
    wrapped = with_message_info(callback, supported=False)
    wrapped('msg')
    assert calls == [('msg', {})]


def test_node_publishes_depth_with_one_argument_callbacks(tmp_path, monkeypatch):
    monkeypatch.setattr(depth_runner, 'RCLPY_PASSES_MESSAGE_INFO', False)
    model = make_checkpoint(tmp_path / 'model.pt')
    scene = road_scene(3, 310, 94)
    cam = scene.intrinsics
    client = Client('humble_path_client')
    node = None
    try:
        node = DepthNode(context=client.context, namespace='/humble', parameter_overrides=[
            Parameter('model', value=str(model)), Parameter('backend', value='torch'),
            Parameter('input_reliability', value='reliable')])
        # what this rclpy's executor reads to decide how to call the callback
        image_sub = node._runner._image_sub.subscription
        assert image_sub._callback_type == image_sub.CallbackType.MessageOnly
        client.executor.add_node(node)
        for topic, msg_type in OUTPUTS.items():
            client.watch(f'/humble/{topic}', msg_type)
        client.advertise({'/humble/image': Image, '/humble/camera_info': CameraInfo})
        info = camera_info_msg(cam.fx_px, cam.fy_px, cam.cx_px, cam.cy_px, 310, 94,
                               frame_id='camera_optical')
        # Reliable input; in whichever order the executor takes the two, the image waits for
        # the camera info of its stamp.
        stamp = client.next_stamp()
        info.header.stamp.sec, info.header.stamp.nanosec = stamp
        client.publish('/humble/camera_info', info)
        client.publish('/humble/image', image_msg(scene.image, stamp, 'rgb8', 'camera_optical'))
        out = client.wait_outputs('/humble', stamp, timeout_s=60.0)
        assert out['depth/image'].header.frame_id == 'camera_optical'
        assert (out['depth/image'].width, out['depth/image'].height) == (142, 27)
    finally:
        if node is not None:
            client.executor.remove_node(node)
            node.destroy_node()
        client.close()
