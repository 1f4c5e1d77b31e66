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
The depth node's outputs, over real DDS between processes.

Two node processes run for the whole module (a random-weight KITTI-preset model, synthetic road
scenes): ``/cam`` takes raw images and camera info; ``/camz`` takes PNG-compressed images and its
intrinsics from parameters. Everything checked is plumbing and geometry; the depth values
themselves are those of random weights, compared with the same node's output for the same
pixels.
"""

from __future__ import annotations

import sys

from diagnostic_msgs.msg import DiagnosticArray
from msdepth_ros.core.camera import pixel_rays
from msdepth_ros.core.cloud_filter import CloudFilter
from msdepth_ros.core.colormap import colorize_depth
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.laser_scan import depth_to_scan, scan_geometry
from msdepth_ros.core.preprocess import plan_input
from msdepth_ros.core.presets import KITTI
from msdepth_ros.core.synthetic import road_scene
import numpy as np
import pytest
from ros_harness import (camera_info_msg, Client, cloud_array, compressed_msg, depth_array,
                         image_msg, k_of, make_checkpoint, NodeProcess, OUTPUTS)
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, LaserScan

pytestmark = [pytest.mark.ros, pytest.mark.dds, pytest.mark.slow]

WIDTH, HEIGHT = 320, 96
RAW, COMPRESSED = '/cam', '/camz'
FRAME_ID = 'cam_optical'


@pytest.fixture(scope='module')
def system(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('depth_node_outputs')
    model = make_checkpoint(tmp / 'kitti.pt', 'kitti')
    scene = road_scene(3, WIDTH, HEIGHT)
    cam = scene.intrinsics
    raw = NodeProcess(RAW, ['-p', f'model:={model}'], tmp / 'cam.log')
    compressed = NodeProcess(COMPRESSED, [
        '-p', f'model:={model}', '-p', 'input_compressed:=true', '-p', 'use_camera_info:=false',
        '-p', f'camera_fx_px:={cam.fx_px!r}', '-p', f'camera_fy_px:={cam.fy_px!r}',
        '-p', f'camera_cx_px:={cam.cx_px!r}', '-p', f'camera_cy_px:={cam.cy_px!r}',
        '-p', f'camera_width:={WIDTH}', '-p', f'camera_height:={HEIGHT}'], tmp / 'camz.log')
    client = Client()
    try:
        for ns in (RAW, COMPRESSED):
            for topic, msg_type in OUTPUTS.items():
                client.watch(f'{ns}/{topic}', msg_type)
        client.watch('/diagnostics', DiagnosticArray)
        # Subscribed from the start (publish_scan is off until its test), so that the node
        # has seen this subscription by then: without one it builds no scan.
        client.watch(f'{RAW}/scan', LaserScan)
        client.advertise({f'{RAW}/image': Image, f'{RAW}/camera_info': CameraInfo,
                          f'{COMPRESSED}/image/compressed': CompressedImage})
        info = camera_info_msg(cam.fx_px, cam.fy_px, cam.cx_px, cam.cy_px, WIDTH, HEIGHT,
                               frame_id=FRAME_ID)
        state = {'scene': scene, 'info': info}
        yield client, raw, compressed, state
    finally:
        client.close()
        for node in (raw, compressed):
            node.stop()


def send_frame(client, scene_image, encoding='rgb8', pad_bytes=0, info=None, ns=RAW,
               is_bigendian=0, timeout_s=60.0):
    """Publish camera info and one image; return the frame's outputs by topic."""
    stamp = client.next_stamp()
    if info is not None:
        info.header.stamp.sec, info.header.stamp.nanosec = stamp
        client.publish(f'{ns}/camera_info', info)
    msg = image_msg(scene_image, stamp, encoding, FRAME_ID, pad_bytes)
    msg.is_bigendian = is_bigendian
    client.publish(f'{ns}/image', msg)
    return stamp, client.wait_outputs(ns, stamp, timeout_s=timeout_s)


@pytest.fixture(scope='module')
def reference(system):
    """Return the raw node's outputs for the module's scene (rgb8, no padding)."""
    client, _, _, state = system
    stamp, out = send_frame(client, state['scene'].image, info=state['info'])
    return stamp, out


def test_outputs_carry_the_input_header_and_agree_with_each_other(system, reference):
    _, _, _, state = system
    stamp, out = reference
    depth_msg, info_msg, cloud_msg = out['depth/image'], out['depth/camera_info'], out['points']
    for msg in (depth_msg, info_msg, cloud_msg):
        assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == stamp
        assert msg.header.frame_id == FRAME_ID

    # Depth image: 32FC1 metres at the network's output size, this machine's byte order.
    assert depth_msg.encoding == '32FC1'
    assert (depth_msg.width, depth_msg.height) == KITTI.output_size
    assert depth_msg.step == depth_msg.width * 4
    assert depth_msg.is_bigendian == (sys.byteorder == 'big')
    depth = depth_array(depth_msg)
    valid = np.isfinite(depth)
    assert valid.any()
    assert np.all((depth[valid] >= KITTI.min_depth_m) & (depth[valid] <= KITTI.max_depth_m))

    # Camera info: exactly the depth image's, and the core's geometry for this camera.
    assert (info_msg.width, info_msg.height) == (depth_msg.width, depth_msg.height)
    expected = plan_input(WIDTH, HEIGHT, KITTI).output_intrinsics(state['scene'].intrinsics)
    k = np.asarray(info_msg.k).reshape(3, 3)
    np.testing.assert_allclose(k, [[expected.fx_px, 0, expected.cx_px],
                                   [0, expected.fy_px, expected.cy_px], [0, 0, 1]], rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(info_msg.p).reshape(3, 4)[:, :3], k)
    np.testing.assert_array_equal(np.asarray(info_msg.p).reshape(3, 4)[:, 3], 0.0)
    np.testing.assert_array_equal(np.asarray(info_msg.r).reshape(3, 3), np.eye(3))
    assert info_msg.distortion_model == 'plumb_bob'
    assert list(info_msg.d) == [0.0] * 5
    assert (info_msg.binning_x, info_msg.binning_y) == (0, 0)
    assert (info_msg.roi.width, info_msg.roi.height) == (0, 0)

    # Cloud: organized, the documented layout, and point by point the back-projection of the
    # published depth with the published camera info (computed here, independently).
    assert (cloud_msg.height, cloud_msg.width) == (depth_msg.height, depth_msg.width)
    assert [(f.name, f.offset, f.datatype, f.count) for f in cloud_msg.fields] == [
        ('x', 0, 7, 1), ('y', 4, 7, 1), ('z', 8, 7, 1)]
    assert cloud_msg.point_step == 16
    assert cloud_msg.row_step == 16 * cloud_msg.width
    assert len(cloud_msg.data) == cloud_msg.row_step * cloud_msg.height
    assert cloud_msg.is_dense is False
    assert_cloud_is_backprojection(cloud_array(cloud_msg), depth, info_msg)


def assert_cloud_is_backprojection(cloud, depth, info_msg):
    fx, fy, cx, cy = k_of(info_msg)
    v, u = np.mgrid[0:depth.shape[0], 0:depth.shape[1]].astype(np.float64)
    z = depth.astype(np.float64)
    for name, expected in (('x', (u - cx) / fx * z), ('y', (v - cy) / fy * z), ('z', z)):
        got = cloud[name].astype(np.float64)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(depth), err_msg=name)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6, err_msg=name)


def test_nan_exactly_where_depth_is_out_of_range(system, reference):
    client, _, _, state = system
    ref_depth = depth_array(reference[1]['depth/image'])
    max_m = float(np.median(ref_depth))
    [result] = client.set_parameters(RAW, max_depth_m=max_m)
    assert result.successful, result.reason
    try:
        _, out = send_frame(client, state['scene'].image, info=state['info'])
    finally:
        [result] = client.set_parameters(RAW, max_depth_m=0.0)
        assert result.successful, result.reason
    depth = depth_array(out['depth/image'])
    # Same pixels, same network: depth is NaN exactly where the reference exceeds the new max.
    np.testing.assert_array_equal(np.isnan(depth), ref_depth > np.float32(max_m))
    assert 0 < np.isnan(depth).sum() < depth.size
    np.testing.assert_array_equal(depth[~np.isnan(depth)], ref_depth[~np.isnan(depth)])
    assert_cloud_is_backprojection(cloud_array(out['points']), depth, out['depth/camera_info'])


def test_points_rgb_packed_as_ros_expects(system, reference):
    client, _, _, state = system
    [result] = client.set_parameters(RAW, points_rgb=True)
    assert result.successful, result.reason
    try:
        _, out = send_frame(client, state['scene'].image, info=state['info'])
    finally:
        client.set_parameters(RAW, points_rgb=False)
    cloud_msg = out['points']
    assert cloud_msg.point_step == 32 and cloud_msg.row_step == 32 * cloud_msg.width
    assert [(f.name, f.offset, f.datatype, f.count) for f in cloud_msg.fields] == [
        ('x', 0, 7, 1), ('y', 4, 7, 1), ('z', 8, 7, 1), ('rgb', 16, 7, 1)]
    cloud = cloud_array(cloud_msg)
    depth = depth_array(out['depth/image'])
    assert_cloud_is_backprojection(cloud, depth, out['depth/camera_info'])
    # Colour: the camera pixel nearest to each depth pixel's centre, as 0x00RRGGBB.
    plan = plan_input(WIDTH, HEIGHT, KITTI)
    back = plan.camera_to_output.inverse()
    cols = np.clip(np.rint(back.x(np.arange(depth.shape[1], dtype=float))), 0, WIDTH - 1)
    rows = np.clip(np.rint(back.y(np.arange(depth.shape[0], dtype=float))), 0, HEIGHT - 1)
    expected = state['scene'].image[rows.astype(int)[:, None], cols.astype(int)[None, :]]
    packed = cloud['rgb']
    assert np.all(packed >> 24 == 0)
    got = np.stack([(packed >> 16) & 0xFF, (packed >> 8) & 0xFF, packed & 0xFF], axis=-1)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize('encoding, pad_bytes, is_bigendian', [
    ('bgr8', 5, 0), ('rgba8', 8, 0), ('bgra8', 3, 0), ('rgb8', 7, 1)])
def test_colour_encodings_with_padding_give_the_same_depth(system, reference, encoding,
                                                           pad_bytes, is_bigendian):
    """Channel order, alpha, row padding and the (meaningless for 8 bits) byte-order flag."""
    client, _, _, state = system
    _, out = send_frame(client, state['scene'].image, encoding, pad_bytes, info=state['info'],
                        is_bigendian=is_bigendian)
    np.testing.assert_allclose(depth_array(out['depth/image']),
                               depth_array(reference[1]['depth/image']), rtol=1e-6)


def test_mono8_is_accepted(system):
    client, _, _, state = system
    _, out = send_frame(client, state['scene'].image, 'mono8', 4, info=state['info'])
    depth = depth_array(out['depth/image'])
    assert depth.shape == KITTI.output_size[::-1] and np.isfinite(depth).any()


def test_colorized_is_silent_until_subscribed(system):
    client, _, _, state = system
    # Frames were processed above with nobody on depth/colorized: none was built.
    status = client.wait_diagnostics(RAW)
    assert int(status['frames published']) >= 1
    assert status['colorized published'] == '0'
    topic = f'{RAW}/depth/colorized'
    client.watch(topic, Image)
    try:
        client.wait_for(lambda: client.node.count_publishers(topic) >= 1, 10.0,
                        'the colorized publisher')
        for _ in range(10):  # the node may see the new subscriber a moment after we see it
            stamp, out = send_frame(client, state['scene'].image, info=state['info'])
            try:
                colorized = client.wait_outputs(RAW, stamp, ['depth/colorized'], timeout_s=5.0)
                break
            except AssertionError:
                colorized = None
        assert colorized, 'no colorized preview after subscribing'
    finally:
        client.unwatch(topic)
    preview = colorized['depth/colorized']
    depth_msg = out['depth/image']
    assert preview.encoding == 'rgb8'
    assert (preview.width, preview.height, preview.step) == (depth_msg.width, depth_msg.height,
                                                             3 * depth_msg.width)
    assert preview.header.frame_id == FRAME_ID
    pixels = np.frombuffer(bytes(preview.data), np.uint8).reshape(
        preview.height, preview.width, 3)
    np.testing.assert_array_equal(pixels, colorize_depth(depth_array(depth_msg),
                                                         KITTI.min_depth_m, KITTI.max_depth_m,
                                                         'turbo'))
    assert int(client.wait_diagnostics(RAW)['colorized published']) >= 1


def test_compressed_input_with_intrinsics_from_parameters(system, reference):
    client, _, compressed, state = system
    # An undecodable frame first: skipped, logged, and the node carries on.
    bad_stamp = client.next_stamp()
    client.publish(f'{COMPRESSED}/image/compressed',
                   compressed_msg(state['scene'].image, bad_stamp, FRAME_ID, data=b'not a png'))
    # The input queue holds one message: the next frame goes out once this one was taken.
    client.wait_for(lambda: compressed.log_lines_with('does not start with the PNG signature'),
                    60.0, 'the undecodable frame to be logged')
    stamp = client.next_stamp()
    client.publish(f'{COMPRESSED}/image/compressed',
                   compressed_msg(state['scene'].image, stamp, FRAME_ID))
    out = client.wait_outputs(COMPRESSED, stamp)
    assert not client.outputs(COMPRESSED, bad_stamp)
    # Lossless PNG and the same intrinsics as the raw node's camera info: the same outputs.
    np.testing.assert_allclose(depth_array(out['depth/image']),
                               depth_array(reference[1]['depth/image']), rtol=1e-6)
    np.testing.assert_allclose(out['depth/camera_info'].k, reference[1]['depth/camera_info'].k,
                               rtol=1e-12)
    # Refused from its first bytes, before decoding (msgs.compressed).
    lines = compressed.log_lines_with('says png but its data does not start with the PNG '
                                      'signature')
    assert len(lines) == 1 and '[compressed]' in lines[0], compressed.log()
    status = client.wait_diagnostics(COMPRESSED)
    assert status['bad messages: compressed'] == '1'
    assert status['intrinsics from'] == 'camera_* parameters'


def test_scan_and_filtered_cloud_at_run_time(system, reference):
    """publish_scan and the cloud filter switched on while the node runs; depth unchanged."""
    client, _, _, state = system
    client.wait_for(lambda: client.node.count_publishers(f'{RAW}/scan') >= 1, 30.0,
                    'the scan publisher')
    assert not client.messages(f'{RAW}/scan')  # off by default
    settings = {'publish_scan': True, 'scan_height': 3, 'cloud_stride': 2,
                'cloud_flying_pixel_threshold': 0.05}
    results = client.set_parameters(RAW, **settings)
    assert all(r.successful for r in results), [r.reason for r in results]
    try:
        _, out = send_frame(client, state['scene'].image, info=state['info'])
        stamp = (out['depth/image'].header.stamp.sec, out['depth/image'].header.stamp.nanosec)
        scan = client.wait_outputs(RAW, stamp, ('scan',))['scan']
    finally:
        client.set_parameters(RAW, publish_scan=False, scan_height=1, cloud_stride=1,
                              cloud_flying_pixel_threshold=0.0)
    depth = depth_array(out['depth/image'])
    np.testing.assert_array_equal(depth, depth_array(reference[1]['depth/image']))
    info = out['depth/camera_info']
    grid = Intrinsics.from_k(info.k, info.width, info.height)
    # The scan: depthimage_to_laserscan's of the published depth image, in the body frame.
    geometry = scan_geometry(grid, 3)
    assert scan.header.frame_id == 'cam' and scan.header.stamp.sec == stamp[0]
    assert (scan.angle_min, scan.angle_max) == pytest.approx((geometry.angle_min,
                                                              geometry.angle_max))
    assert (scan.range_min, scan.range_max) == pytest.approx((KITTI.min_depth_m,
                                                              KITTI.max_depth_m))
    np.testing.assert_array_equal(np.asarray(scan.ranges, np.float32),
                                  depth_to_scan(depth, geometry, KITTI.min_depth_m,
                                                KITTI.max_depth_m))
    # The cloud: every other pixel of every other row, flying pixels dropped.
    expected = CloudFilter(flying_pixel_threshold=0.05, stride=2).apply(
        depth, np.linalg.norm(pixel_rays(grid), axis=-1))
    cloud = cloud_array(out['points'])
    assert cloud.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(cloud['z']), np.isnan(expected))
    np.testing.assert_allclose(cloud['z'], expected, rtol=1e-6)
    assert np.isnan(depth[::2, ::2]).sum() < np.isnan(expected).sum() < expected.size
    assert np.isfinite(np.asarray(scan.ranges)).any()


def test_run_time_parameter_changes_are_validated(system):
    client, _, _, _ = system
    [ok] = client.set_parameters(RAW, max_depth_m=50.0)
    assert ok.successful
    [bad] = client.set_parameters(RAW, min_depth_m=60.0)
    assert not bad.successful and 'need min < max' in bad.reason
    [bad] = client.set_parameters(RAW, colormap='rainbow')
    assert not bad.successful and "'rainbow' is not one of" in bad.reason
    [bad] = client.set_parameters(RAW, backend='torch')
    assert not bad.successful and 'read-only' in bad.reason
    [bad] = client.set_parameters(RAW, upsample=2)
    assert not bad.successful and 'read-only' in bad.reason
    [bad] = client.set_parameters(RAW, drop_warn_ratio=1.5)
    assert not bad.successful
    [ok] = client.set_parameters(RAW, max_depth_m=0.0)
    assert ok.successful


def test_ctrl_c_exits_cleanly(system):
    _, _, compressed, _ = system
    assert compressed.stop() == 0
    assert 'Traceback' not in compressed.log()
