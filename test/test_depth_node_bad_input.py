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
Bad input to the depth node, over real DDS.

Each kind is logged with a clear, throttled message, counted by kind in diagnostics, that
message skipped, and the next good frame published correctly.

One node process serves the module, so the tests run in file order: the first one needs a
node that has never received camera info. The node logs each kind at most once per period
(``log_throttle_s:=0.6``): a case sends its bad message three times within that period and
expects one log line; cases of the same kind are spaced by more than the period.
"""

from __future__ import annotations

import time

from diagnostic_msgs.msg import DiagnosticArray
from msdepth_ros.core.synthetic import road_scene
import numpy as np
import pytest
from ros_harness import (camera_info_msg, Client, depth_array, image_msg, make_checkpoint,
                         NodeProcess, OUTPUTS, raw_image_msg)
from sensor_msgs.msg import CameraInfo, Image

pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.dds]

NS = '/bad'
W, H = 320, 96
THROTTLE_S = 0.6
REPEATS = 3


@pytest.fixture(scope='module')
def system(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('depth_node_bad_input')
    model = make_checkpoint(tmp / 'kitti.pt', 'kitti')
    # A reliable camera (the harness's) and a deep input queue: every message reaches the
    # node's callback in order however busy the machine is, so each is counted, with no pacing.
    node = NodeProcess(NS, ['-p', f'model:={model}', '-p', f'log_throttle_s:={THROTTLE_S}',
                            '-p', 'diagnostics_period_s:=0.5', '-p', 'input_qos_depth:=20'],
                       tmp / 'bad.log')
    client = Client()
    scene = road_scene(5, W, H)
    cam = scene.intrinsics
    state = {
        'scene': scene,
        'info': lambda: camera_info_msg(cam.fx_px, cam.fy_px, cam.cx_px, cam.cy_px, W, H),
        'last_logged': {},
    }
    try:
        for topic, msg_type in OUTPUTS.items():
            client.watch(f'{NS}/{topic}', msg_type)
        client.watch('/diagnostics', DiagnosticArray)
        client.advertise({f'{NS}/image': Image, f'{NS}/camera_info': CameraInfo})
        yield client, node, state
    finally:
        client.close()
        rc = node.stop()
        assert rc == 0, node.log()


def publish_image(client, msg):
    client.publish(f'{NS}/image', msg)


def good_frame(client, state, with_info=True):
    """Send a good frame (after its camera info); return (stamp, outputs)."""
    if with_info:
        client.publish(f'{NS}/camera_info', state['info']())
        # Image and camera info travel on two topics: wait until the node has this camera.
        client.wait_for(lambda: (client.diagnostics(NS) or {}).get('camera size (px)')
                        == f'{W}x{H}', 60.0, 'the node to take the camera info')
    stamp = client.next_stamp()
    publish_image(client, image_msg(state['scene'].image, stamp))
    return stamp, client.wait_outputs(NS, stamp)


def test_without_camera_info_the_node_waits_and_warns(system):
    client, node, state = system
    stamps = []

    def waiting_status():
        # Keep frames coming until a status covers one of them (statuses cover one period).
        stamps.append(client.next_stamp())
        publish_image(client, image_msg(state['scene'].image, stamps[-1]))
        time.sleep(0.3)
        status = client.diagnostics(NS)
        # The newest image waits for its camera info; the ones it replaced count as skipped.
        return status if (status and 'waiting for camera info' in status['message']
                          and int(status.get('bad messages: no_camera_info', 0))) else None

    status = client.wait_for(waiting_status, 15.0, 'a status saying it waits for camera info '
                             'and counting the images skipped')
    assert status['level'] == 1
    assert int(status['bad messages: no_camera_info']) >= 1
    assert status['intrinsics from'] == 'none yet'
    lines = node.log_lines_with('no camera info received')
    assert lines and 'WARN' in lines[0] and f'{NS}/camera_info' in lines[0]
    assert '[no_camera_info]' in lines[0]
    assert not any(client.outputs(NS, stamp) for stamp in stamps)
    # Once camera info arrives, frames flow.
    _, out = good_frame(client, state)
    state['reference'] = out
    state['last_logged']['no_camera_info'] = time.monotonic()


def _data():
    return road_scene(5, W, H).image.tobytes()


def _raw(width, height, encoding, step, data, is_bigendian=0):
    return lambda stamp: raw_image_msg(stamp, width, height, encoding, step, data, is_bigendian)


# (case, kind, text the log line must contain, message builder)
IMAGE_CASES = [
    ('unknown encoding', 'encoding', "image encoding 'rgb9' is not supported",
     _raw(W, H, 'rgb9', W * 3, _data())),
    ('depth image as input', 'encoding', "encoding '32FC1' (little-endian) is not a colour",
     _raw(W, H, '32FC1', W * 4, bytes(W * H * 4))),
    ('big-endian 16-bit image', 'encoding', "encoding '16UC1' (big-endian) is not a colour",
     _raw(W, H, '16UC1', W * 2, bytes(W * H * 2), is_bigendian=1)),
    ('is_bigendian neither 0 nor 1', 'endianness', 'image is_bigendian is 2, must be 0 or 1',
     _raw(W, H, 'rgb8', W * 3, _data(), is_bigendian=2)),
    ('zero width', 'size', 'image size is 0x96', _raw(0, H, 'rgb8', 0, b'')),
    ('zero height', 'size', 'image size is 320x0', _raw(W, 0, 'rgb8', W * 3, b'')),
    ('huge size', 'size', 'image size 100000x100000 exceeds the largest accepted side',
     _raw(100000, 100000, 'rgb8', 300000, bytes(3000))),
    ('step too small', 'step', 'image step 959 is shorter than a row of 320 rgb8 pixels',
     _raw(W, H, 'rgb8', W * 3 - 1, _data()[:(W * 3 - 1) * H])),
    ('truncated data', 'data_size', 'image data is truncated: 92060 bytes, expected',
     _raw(W, H, 'rgb8', W * 3, _data()[:-100])),
    ('data longer than step * height', 'data_size', 'image data is too long: 92170 bytes',
     _raw(W, H, 'rgb8', W * 3, _data() + bytes(10))),
    ('image size differs from the camera info', 'camera_info_size',
     'camera info is for 320x96 images (after ROI and binning), the image is 160x48',
     _raw(160, 48, 'rgb8', 480, bytes(480 * 48))),
]


def _info(**changes):
    def build(stamp):
        scene = road_scene(5, W, H)
        cam = scene.intrinsics
        msg = camera_info_msg(cam.fx_px, cam.fy_px, cam.cx_px, cam.cy_px, W, H, stamp)
        for name, value in changes.items():
            if name in ('k', 'p'):
                value = np.asarray(value, dtype=float)
            if name in ('x_offset', 'y_offset', 'roi_width', 'roi_height'):
                setattr(msg.roi, name.replace('roi_', ''), value)
            else:
                setattr(msg, name, value)
        return msg
    return build


_ZERO_P = [0.0] * 12
CAMERA_INFO_CASES = [
    ('zero focal length', 'camera_info', 'focal lengths must be positive, got fx=0.0',
     _info(k=[0.0, 0, 160, 0, 100.0, 48, 0, 0, 1], p=_ZERO_P)),
    ('NaN in K', 'camera_info', 'camera info K has non-finite values',
     _info(k=[float('nan'), 0, 160, 0, 100.0, 48, 0, 0, 1])),
    ('K and P all zero', 'camera_info', 'camera info has neither P nor K set',
     _info(k=[0.0] * 9, p=_ZERO_P)),
    ('skewed K', 'camera_info', 'K has skew 3.0',
     _info(k=[100.0, 3.0, 160, 0, 100.0, 48, 0, 0, 1], p=_ZERO_P)),
    ('ROI outside the image', 'camera_info', 'does not lie inside the 320x96 image',
     _info(x_offset=300, roi_width=100, roi_height=50)),
    ('camera info without image size', 'camera_info', 'camera info image size is 0x0',
     _info(width=0, height=0)),
]


def _counts(status):
    return {key: int(value) for key, value in status.items() if key.startswith(('bad messages',
                                                                               'frames'))}


def _space_same_kind(state, kind):
    # A new line of a kind appears only after the throttle period since the last one.
    last = state['last_logged'].get(kind)
    if last is not None:
        time.sleep(max(0.0, last + THROTTLE_S + 0.3 - time.monotonic()))


def _check_case(client, node, state, kind, text, bad_stamps, before, out, good_stamp):
    # The good frame after the bad ones is published, with the reference's depth and camera.
    ref = state['reference']
    np.testing.assert_allclose(depth_array(out['depth/image']),
                               depth_array(ref['depth/image']), rtol=1e-6)
    np.testing.assert_array_equal(out['depth/camera_info'].k, ref['depth/camera_info'].k)
    for stamp in bad_stamps:
        assert not client.outputs(NS, stamp), f'output published for a bad message {stamp}'
    # Counted by kind: every repeat; logged once (throttled), with the kind.
    after = _counts(client.wait_diagnostics(NS))
    key = f'bad messages: {kind}'
    assert after.get(key, 0) - before.get(key, 0) == REPEATS, (before, after)
    assert after['frames published'] - before['frames published'] == 1
    lines = node.log_lines_with(text)
    assert len(lines) == 1, (text, node.log())
    assert 'WARN' in lines[0] and f'[{kind}]' in lines[0]
    state['last_logged'][kind] = time.monotonic()
    return after


@pytest.mark.parametrize('case, kind, text, build', IMAGE_CASES,
                         ids=[case[0] for case in IMAGE_CASES])
def test_bad_image_is_skipped_logged_and_counted(system, case, kind, text, build):
    client, node, state = system
    before = _counts(client.wait_diagnostics(NS))
    _space_same_kind(state, kind)
    bad_stamps = []
    for _ in range(REPEATS):
        bad_stamps.append(client.next_stamp())
        publish_image(client, build(bad_stamps[-1]))
    good_stamp, out = good_frame(client, state)
    _check_case(client, node, state, kind, text, bad_stamps, before, out, good_stamp)


@pytest.mark.parametrize('case, kind, text, build', CAMERA_INFO_CASES,
                         ids=[case[0] for case in CAMERA_INFO_CASES])
def test_bad_camera_info_is_ignored_logged_and_counted(system, case, kind, text, build):
    """The last valid camera info stays in use: the next frame (sent without one) is correct."""
    client, node, state = system
    before = _counts(client.wait_diagnostics(NS))
    _space_same_kind(state, kind)
    bad_stamps = []
    for _ in range(REPEATS):
        bad_stamps.append(client.next_stamp())
        client.publish(f'{NS}/camera_info', build(bad_stamps[-1]))
    good_stamp, out = good_frame(client, state, with_info=False)
    _check_case(client, node, state, kind, text, bad_stamps, before, out, good_stamp)
    assert 'keeping the last valid one' in node.log_lines_with(text)[0]


def test_camera_info_of_another_size_skips_frames_until_a_matching_one(system):
    client, node, state = system
    before = _counts(client.wait_diagnostics(NS))
    _space_same_kind(state, 'camera_info_size')
    client.publish(f'{NS}/camera_info', camera_info_msg(500.0, 500.0, 319.5, 239.5, 640, 480))
    client.wait_for(lambda: (client.diagnostics(NS) or {}).get('camera size (px)') == '640x480',
                    60.0, 'the node to take the other camera info')
    bad_stamps = []
    for _ in range(REPEATS):
        bad_stamps.append(client.next_stamp())
        publish_image(client, image_msg(state['scene'].image, bad_stamps[-1]))
    # The matching camera info must come after these images: wait until they are all counted.
    key = 'bad messages: camera_info_size'
    client.wait_for(lambda: _counts(client.diagnostics(NS) or {}).get(key, 0)
                    - before.get(key, 0) >= REPEATS, 60.0, 'the images to be counted')
    good_stamp, out = good_frame(client, state)
    _check_case(client, node, state, 'camera_info_size',
                'camera info is for 640x480 images (after ROI and binning), the image is '
                '320x96', bad_stamps, before, out, good_stamp)


def test_burst_of_malformed_frames_between_good_ones(system):
    client, node, state = system
    good_frame(client, state)
    before = _counts(client.wait_diagnostics(NS))
    data = _data()
    burst = 20
    bad_stamps = []
    for i in range(burst):  # back to back: some may be overwritten before the node takes them
        bad_stamps.append(client.next_stamp())
        if i % 2:
            publish_image(client, raw_image_msg(bad_stamps[-1], W, H, 'rgb8', W * 3,
                                                data[:-(i + 1)]))
        else:
            publish_image(client, raw_image_msg(bad_stamps[-1], W, H, 'rgb8', W, data[:W * H]))
    _, out = good_frame(client, state)
    np.testing.assert_allclose(depth_array(out['depth/image']),
                               depth_array(state['reference']['depth/image']), rtol=1e-6)
    after = _counts(client.wait_diagnostics(NS))

    def delta(key):
        return after.get(key, 0) - before.get(key, 0)

    # Every malformed frame is accounted for: rejected by kind, or never reached the node
    # (a sequence gap) because a newer one overwrote it in the keep-last-1 subscription.
    assert (delta('bad messages: data_size') + delta('bad messages: step')
            + delta('frames lost before the node')) == burst, (before, after)
    assert delta('frames published') == 1
    for stamp in bad_stamps:
        assert not client.outputs(NS, stamp)
    assert node.alive()
