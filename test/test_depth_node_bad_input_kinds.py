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
More than a hundred kinds of bad or odd input to the running depth node, over real DDS.

The families of the robustness check: image layouts and encodings, sizes from 1x1 to 16385
wide, broken camera infos, headers and timing, compressed input. One node process per input
type (raw, compressed) takes every kind, each followed by a good frame. For a bad kind: the
node logs a line naming it (``log_throttle_s`` 0: every message is logged) and its kind,
skips it, and the next good frame's outputs are exactly the first good frame's; the kinds'
totals on ``/diagnostics`` are checked at the end. An odd but valid input (another layout, a
1 x 16384 image with its camera info, an unusual header) is served. Throughout, the node's
peak resident memory (``VmHWM``) stays within 512 MiB of where it started.

Everything waits for events (a log line, the outputs of a stamp, a status); publishers are
reliable. A message that changes the camera size is sent after its camera info; should the
image overtake the camera info on the way (two topics), the node rejects it as
``camera_info_size`` with its stamp in the log, and the test sends the image again and counts
the rejection.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
import itertools
from pathlib import Path
import time
from typing import Any, Callable

from bad_inputs import encode, jpeg_header, png_bomb, png_ihdr
from diagnostic_msgs.msg import DiagnosticArray
from msdepth_ros.core.synthetic import road_scene
import numpy as np
import pytest
from ros_harness import camera_info_msg, Client, image_msg, make_checkpoint, NodeProcess, OUTPUTS
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from test_depth_node_bad_input import _info, _raw, CAMERA_INFO_CASES, H, IMAGE_CASES, W

pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.dds]

#: Peak memory growth allowed over the whole run (issue: every bad-input case under 512 MiB).
MAX_PEAK_GROWTH_MIB = 512.0

SCENE = road_scene(5, W, H)
CAM = SCENE.intrinsics


def _info_for(width: int, height: int, stamp=(0, 0)) -> CameraInfo:
    return camera_info_msg(CAM.fx_px, CAM.fy_px, CAM.cx_px * width / W, CAM.cy_px * height / H,
                           width, height, stamp)


@dataclass(frozen=True)
class Case:
    """One kind: ``kind`` None means the input is odd but valid and must be served."""

    family: str
    name: str
    kind: str | None
    text: str
    build: Callable[[tuple[int, int]], Any]
    topic: str = 'image'
    camera: tuple[int, int] | None = None  # a camera info of this size comes first
    frame_id: str = 'camera_optical'


def _bad_image(name, kind, text, build):
    return Case('image', name, kind, text, build)


def _bytes(n):
    return bytes(np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8))


_DATA = SCENE.image.tobytes()
_ENCODINGS = ['', 'RGB8', 'rgb8 ', 'yuv422', 'yuv422_yuy2', 'uyvy', 'nv21', 'bayer_rggb8',
              'bayer_bggr8', 'bayer_gbrg16', '8UC1', '8UC3', '8UC4', '16UC3', '32FC3', '64FC1',
              'rgb16', 'bgr16', 'rgba16', 'mono16', 'jpeg', 'BGR8']
RAW_CASES = [_bad_image(*case) for case in IMAGE_CASES] + [
    _bad_image(f'encoding {enc!r}', 'encoding', f'image encoding {enc!r} is not supported',
               _raw(W, H, enc, W * 3, _DATA)) for enc in _ENCODINGS] + [
    _bad_image('16UC1 little-endian', 'encoding', "encoding '16UC1' (little-endian) is not a "
               'colour', _raw(W, H, '16UC1', W * 2, bytes(W * H * 2))),
    _bad_image('32FC1 big-endian', 'encoding', "encoding '32FC1' (big-endian) is not a colour",
               _raw(W, H, '32FC1', W * 4, bytes(W * H * 4), is_bigendian=1)),
    _bad_image('is_bigendian 255', 'endianness', 'image is_bigendian is 255',
               _raw(W, H, 'rgb8', W * 3, _DATA, is_bigendian=255)),
    _bad_image('is_bigendian 7', 'endianness', 'image is_bigendian is 7',
               _raw(W, H, 'rgb8', W * 3, _DATA, is_bigendian=7)),
    _bad_image('zero width and height', 'size', 'image size is 0x0', _raw(0, 0, 'rgb8', 0, b'')),
    _bad_image('16385 wide', 'size', 'image size 16385x1 exceeds',
               _raw(16385, 1, 'rgb8', 16385 * 3, bytes(16385 * 3))),
    _bad_image('16385 high', 'size', 'image size 1x16385 exceeds',
               _raw(1, 16385, 'rgb8', 3, bytes(16385 * 3))),
    _bad_image('width 2^32 - 1', 'size', 'image size 4294967295x96 exceeds',
               _raw(2 ** 32 - 1, H, 'rgb8', 0, b'')),
    _bad_image('step 0', 'step', 'image step 0 is shorter than a row',
               _raw(W, H, 'rgb8', 0, b'')),
    _bad_image('step of a grey row', 'step', f'image step {W} is shorter than a row',
               _raw(W, H, 'rgb8', W, _DATA[:W * H])),
    _bad_image('step 2^32 - 1', 'data_size', 'expected step * height = 4294967295 * 96',
               _raw(W, H, 'rgb8', 2 ** 32 - 1, _DATA)),
    _bad_image('no data', 'data_size', 'image data is truncated: 0 bytes',
               _raw(W, H, 'rgb8', W * 3, b'')),
    _bad_image('one byte short', 'data_size', f'truncated: {W * H * 3 - 1} bytes',
               _raw(W, H, 'rgb8', W * 3, _DATA[:-1])),
    _bad_image('one row short', 'data_size', f'truncated: {W * (H - 1) * 3} bytes',
               _raw(W, H, 'rgb8', W * 3, _DATA[:-W * 3])),
    _bad_image('one row too many', 'data_size', f'too long: {W * (H + 1) * 3} bytes',
               _raw(W, H, 'rgb8', W * 3, _DATA + _DATA[:W * 3])),
    _bad_image('rgba8 data as rgb8', 'data_size', f'too long: {W * H * 4} bytes',
               _raw(W, H, 'rgb8', W * 3, _DATA + _DATA[:W * H])),
] + [
    _bad_image(f'{w}x{h} image, camera info {W}x{H}', 'camera_info_size',
               f'the image is {w}x{h}', _raw(w, h, 'rgb8', w * 3, _bytes(w * h * 3)))
    for w, h in ((W + 1, H), (W, H + 1), (H, W), (2 * W, 2 * H))
] + [
    Case('camera info', name, kind, text, build, topic='camera_info')
    for name, kind, text, build in CAMERA_INFO_CASES
] + [
    Case('camera info', name, 'camera_info', text, _info(**changes), topic='camera_info')
    for name, text, changes in (
        ('NaN in P', 'camera info P has non-finite values', {'p': [float('nan')] + [0.0] * 11}),
        ('infinity in D', 'camera info D has non-finite values',
         {'d': [0.0, float('inf'), 0.0, 0.0, 0.0]}),
        ('NaN in R', 'camera info R has non-finite values', {'r': [float('nan')] * 9}),
        ('infinite cx', 'camera info K has non-finite values',
         {'k': [100.0, 0, float('inf'), 0, 100.0, 48, 0, 0, 1]}),
        ('negative fx', 'focal lengths must be positive, got fx=-100.0',
         {'k': [-100.0, 0, 160, 0, 100.0, 48, 0, 0, 1], 'p': [0.0] * 12}),
        ('zero fy', 'focal lengths must be positive, got fx=100.0, fy=0.0',
         {'k': [100.0, 0, 160, 0, 0.0, 48, 0, 0, 1], 'p': [0.0] * 12}),
        ('negative fy in P', 'got fx=100.0, fy=-100.0',
         {'p': [100.0, 0, 160, 0, 0, -100.0, 48, 0, 0, 0, 1, 0]}),
        ('P without its last row', 'P is not a pinhole camera matrix',
         {'p': [100.0, 0, 160, 0, 0, 100.0, 48, 0, 0, 0, 0, 0]}),
        ('K without its last row', 'K is not a pinhole camera matrix',
         {'k': [100.0, 0, 160, 0, 100.0, 48, 0, 0, 0], 'p': [0.0] * 12}),
        ('skew in P', 'P has skew 2.0', {'p': [100.0, 2.0, 160, 0, 0, 100.0, 48, 0, 0, 0, 1, 0]}),
        ('ROI of zero width', 'ROI (x_offset 10, y_offset 0, width 0, height 50)',
         {'x_offset': 10, 'roi_width': 0, 'roi_height': 50}),
        ('ROI below the image', 'ROI (x_offset 0, y_offset 50, width 100, height 60)',
         {'y_offset': 50, 'roi_width': 100, 'roi_height': 60}),
        ('binning wider than the image', 'binning 1000x1 leaves no pixel',
         {'binning_x': 1000}),
        ('binning taller than the image', 'binning 1x97 leaves no pixel', {'binning_y': 97}),
        ('width only zero', 'camera info image size is 0x96', {'width': 0}),
        ('height only zero', 'camera info image size is 320x0', {'height': 0}),
    )
]


def _served_layout(name, encoding, pad=0):
    def build(stamp):
        return image_msg(SCENE.image, stamp, encoding, pad_bytes=pad)
    return Case('layout', name, None, '', build)


def _served_size(width, height):
    pixels = np.random.default_rng(width * 7 + height).integers(0, 256, (height, width, 3),
                                                                dtype=np.uint8)
    return Case('size', f'{width}x{height} with its camera info', None, '',
                lambda s: image_msg(pixels, s), camera=(width, height))


def _served_header(name, frame_id='camera_optical', stamp=None):
    def build(own_stamp):
        return image_msg(SCENE.image, stamp or own_stamp, frame_id=frame_id)
    return Case('header', name, None, '', build, frame_id=frame_id)


SERVED_CASES = [
    _served_layout('bgr8', 'bgr8'), _served_layout('rgba8', 'rgba8'),
    _served_layout('bgra8', 'bgra8'), _served_layout('rgb8 with padded rows', 'rgb8', pad=13),
    _served_layout('mono8', 'mono8'), _served_layout('bgr8 with padded rows', 'bgr8', pad=7),
] + [
    _served_size(w, h) for w, h in ((1, 1), (1, 2048), (2048, 1), (1, 16384), (16384, 1),
                                    (3, 5000), (16384, 2), (7, 5))
] + [
    _served_header('stamp zero', stamp=(0, 0)),
    _served_header('stamp at the end of int32 seconds', stamp=(2 ** 31 - 1, 0)),
    _served_header('negative stamp', stamp=(-5, 0)),
    _served_header('nanoseconds over one second', stamp=(9, 1_999_999_999)),
    _served_header('stamp far in the past', stamp=(11, 0)),
    _served_header('empty frame id', frame_id=''),
    _served_header('4000-character frame id', frame_id='f' * 4000),
    _served_header('non-ASCII frame id', frame_id='kámera_ø_相机'),
]


def _compressed(fmt, data):
    def build(stamp):
        msg = CompressedImage()
        msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
        msg.header.frame_id = 'camera_optical'
        msg.format = fmt
        msg.data = bytes(data)
        return msg
    return build


_PNG = encode(SCENE.image, '.png')
_SMALL = SCENE.image[:48, :160]
COMPRESSED_CASES = [
    Case('compressed', name, kind, text, _compressed(fmt, data), topic='image/compressed')
    for name, kind, text, fmt, data in (
        ('no data', 'data_size', 'compressed image has no data', 'png', b''),
        ('empty format', 'compressed_format', "compressed format '' is not supported", '',
         _PNG),
        ('TIFF', 'compressed_format', "'tiff' is not supported", 'tiff',
         encode(SCENE.image, '.tiff')),
        ('WebP', 'compressed_format', "'webp' is not supported", 'webp',
         encode(SCENE.image, '.webp')),
        ('BMP', 'compressed_format', "'bmp' is not supported", 'bmp',
         encode(SCENE.image, '.bmp')),
        ('TIFF named the image_transport way', 'compressed_format',
         "'rgb8; tiff compressed bgr8' is not supported", 'rgb8; tiff compressed bgr8',
         encode(SCENE.image, '.tiff')),
        ('depth image', 'encoding', "'16UC1; compressedDepth png' is a depth image",
         '16UC1; compressedDepth png', _PNG),
        ('PNG data said to be jpeg', 'compressed', 'says jpeg but its data does not start',
         'rgb8; jpeg compressed bgr8', _PNG),
        ('JPEG data said to be png', 'compressed', 'says png but its data does not start',
         'png', encode(SCENE.image, '.jpg')),
        ('garbage', 'compressed', 'says png but its data does not start', 'png', _bytes(999)),
        ('PNG signature only', 'compressed', 'has no IHDR chunk', 'png', _PNG[:8]),
        ('PNG header without pixels', 'compressed', 'could not be decoded', 'png',
         png_ihdr(W, H)),
        ('JPEG without a frame header', 'compressed', 'no readable frame header', 'jpeg',
         b'\xff\xd8\xff\xd9'),
        ('JPEG frame header without a scan', 'compressed', 'could not be decoded', 'jpeg',
         jpeg_header(W, H)),
        ('PNG whose IHDR lies about its size', 'compressed', 'could not be decoded', 'png',
         png_ihdr(W + 1, H) + _PNG[33:]),
        ('16000x16000 PNG bomb (1-bit grey, 31 KB)', 'size', 'declares 16000x16000 pixels',
         'png', png_bomb(16000, 16000, grey_bits=1)),
        ('JPEG declaring 60000x60000', 'size', 'declares 60000x60000 pixels', 'jpeg',
         jpeg_header(60000, 60000)),
        ('PNG declaring 0x10', 'size', 'declares a size of 0x10', 'png', png_ihdr(0, 10)),
        ('PNG of another size than the camera info', 'camera_info_size',
         'the image is 160x48', 'png', encode(_SMALL, '.png')),
    )
] + [
    Case('compressed', name, None, '', _compressed(fmt, data), topic='image/compressed')
    for name, fmt, data in (
        ('JPEG', 'rgb8; jpeg compressed bgr8', encode(SCENE.image, '.jpg')),
        ('progressive JPEG, old format name', 'jpeg',
         encode(SCENE.image, '.jpg', 2, 1)),  # cv2.IMWRITE_JPEG_PROGRESSIVE
        ('grey PNG', 'mono8; png compressed mono8', encode(SCENE.image.mean(axis=2).astype(
            np.uint8), '.png')),
        ('16-bit PNG', 'png', encode(SCENE.image.astype(np.uint16) * 257, '.png')),
        ('PNG with alpha', 'rgba8; png compressed rgba8',
         encode(np.dstack([SCENE.image, np.full((H, W), 9, np.uint8)]), '.png')),
        ('upper-case format', 'PNG', _PNG),
    )
]


# -- the run ------------------------------------------------------------------------------------

class Run:
    """One node, its client, the reference outputs and the accounting of a run of cases."""

    def __init__(self, tmp: Path, namespace: str, compressed: bool) -> None:
        self.ns = namespace
        self.image_topic = 'image/compressed' if compressed else 'image'
        model = make_checkpoint(tmp / 'kitti.pt', 'kitti')
        self.node = NodeProcess(namespace, [
            '-p', f'model:={model}', '-p', 'log_throttle_s:=0.0',
            '-p', 'diagnostics_period_s:=0.2', '-p', f'input_compressed:={compressed}'],
            tmp / f'{namespace.strip("/")}.log')
        self.client = Client(f'kinds_client_{namespace.strip("/")}')
        self.stamps = itertools.count(20000)
        self.expected_bad: Counter[str] = Counter()
        self.served = 0
        self.retries = 0
        self.peak_growth_mib = 0.0
        for topic, msg_type in OUTPUTS.items():
            self.client.watch(f'{namespace}/{topic}', msg_type)
        self.client.watch('/diagnostics', DiagnosticArray)
        self.client.advertise({f'{namespace}/{self.image_topic}':
                               CompressedImage if compressed else Image,
                               f'{namespace}/camera_info': CameraInfo})
        self.good = (_compressed('rgb8; png compressed bgr8', _PNG) if compressed
                     else (lambda s: image_msg(SCENE.image, s)))
        stamp = self.stamp()
        # The first image waits for the camera info of its stamp, whichever comes first.
        self.client.publish(f'{namespace}/camera_info', _info_for(W, H, stamp))
        self.client.publish(f'{namespace}/{self.image_topic}', self.good(stamp))
        self.reference = self.client.wait_outputs(namespace, stamp)
        self.start_rss_mib = self.node.rss_mib()
        self.before = self.counts()

    def stamp(self) -> tuple[int, int]:
        return next(self.stamps), 0

    def counts(self) -> dict[str, int]:
        status = self.client.wait_diagnostics(self.ns)
        return {k: int(v) for k, v in status.items() if k.startswith(('bad messages', 'frames'))}

    def peak_mib(self) -> float:
        for line in Path(f'/proc/{self.node.proc.pid}/status').read_text().splitlines():
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024.0
        raise RuntimeError('no VmHWM')

    def publish(self, topic: str, msg: Any) -> None:
        self.client.publish(f'{self.ns}/{topic}', msg)

    def serve(self, build: Callable, camera: tuple[int, int] | None) -> tuple[Any, dict]:
        """Publish an image (after its camera info) until its outputs come; return them."""
        if camera is not None:
            self.publish('camera_info', _info_for(*camera))
        for _ in range(5):
            msg = build(self.stamp())
            stamp = (msg.header.stamp.sec, msg.header.stamp.nanosec)
            self.publish(self.image_topic, msg)
            rejected = f'skipped image stamped {stamp[0]}.{stamp[1]:09d}'[:-3]
            found = self.client.wait_for(
                lambda: (len(self.client.outputs(self.ns, stamp)) == len(OUTPUTS)
                         and self.client.outputs(self.ns, stamp))
                or (camera is not None and self.node.log_lines_with(rejected) and 'retry'),
                30.0, f'the outputs of {stamp} or its rejection')
            if found != 'retry':
                return msg, found
            self.expected_bad['camera_info_size'] += 1  # it overtook its camera info
            self.retries += 1
        raise AssertionError(f'image of {camera} never served')

    def check_good_frame(self, camera_changed: bool) -> None:
        _, out = self.serve(self.good, (W, H) if camera_changed else None)
        for topic in OUTPUTS:
            got, ref = out[topic], self.reference[topic]
            if topic == 'depth/camera_info':
                assert (list(got.k), list(got.p), got.width, got.height) == \
                    (list(ref.k), list(ref.p), ref.width, ref.height)
            else:
                assert bytes(got.data) == bytes(ref.data), f'{topic} differs from the first frame'
        self.peak_growth_mib = max(self.peak_growth_mib, self.peak_mib() - self.start_rss_mib)

    def bad(self, case: Case) -> None:
        before = len(self.node.log_lines_with(case.text))
        msg = case.build(self.stamp())
        self.publish(case.topic, msg)
        lines = self.client.wait_for(
            lambda: (lambda found: found[before:] or None)(self.node.log_lines_with(case.text)),
            30.0, f'the log line of {case.name!r} ({case.text!r})')
        assert 'WARN' in lines[0] and f'[{case.kind}]' in lines[0], lines[0]
        self.expected_bad[case.kind] += 1
        self.check_good_frame(camera_changed=False)

    def odd(self, case: Case) -> None:
        msg, out = self.serve(case.build, case.camera)
        self.served += 1
        assert out['depth/image'].header.frame_id == case.frame_id
        assert (out['depth/image'].height, out['depth/image'].width) == (27, 142)
        if case.family == 'layout' and case.name != 'mono8':
            assert bytes(out['depth/image'].data) == bytes(self.reference['depth/image'].data)
        self.check_good_frame(camera_changed=case.camera is not None)

    def finish(self) -> dict[str, int]:
        """Check the totals on /diagnostics; return them."""
        after_s = time.time()
        after = self.client.wait_for(
            lambda: (lambda s: s and {k: int(v) for k, v in s.items()
                                      if k.startswith(('bad messages', 'frames'))})(
                self.client.diagnostics(self.ns, after_s)), 10.0, 'a final status')
        for kind, count in self.expected_bad.items():
            key = f'bad messages: {kind}'
            assert after.get(key, 0) - self.before.get(key, 0) == count, (
                kind, self.before, after)
        bad_keys = {k for k in after if k.startswith('bad messages')}
        assert bad_keys == {f'bad messages: {k}' for k in self.expected_bad} | {
            k for k in self.before if k.startswith('bad messages')}, bad_keys
        assert self.node.alive()
        return after

    def close(self) -> int:
        self.client.close()
        return self.node.stop()


def _run_cases(run: Run, cases: list[Case]) -> None:
    try:
        for case in cases:
            if case.kind is None:
                run.odd(case)
            else:
                run.bad(case)
        run.finish()
        assert run.peak_growth_mib < MAX_PEAK_GROWTH_MIB, run.peak_growth_mib
        print(f'\n{run.ns}: {len(cases)} kinds ({len(cases) - run.served} bad, {run.served} '
              f'served, {run.retries} images sent again after overtaking their camera info); '
              f'node RSS {run.start_rss_mib:.0f} MiB at the start, peak growth '
              f'{run.peak_growth_mib:.1f} MiB')
    finally:
        rc = run.close()
    assert rc == 0, run.node.log()


def test_every_kind_of_raw_input(tmp_path):
    assert len({c.name for c in RAW_CASES + SERVED_CASES}) == len(RAW_CASES + SERVED_CASES)
    _run_cases(Run(tmp_path, '/kinds', compressed=False), RAW_CASES + SERVED_CASES)


def test_every_kind_of_compressed_input(tmp_path):
    _run_cases(Run(tmp_path, '/kinds_compressed', compressed=True), COMPRESSED_CASES)


def test_more_than_a_hundred_kinds():
    kinds = RAW_CASES + SERVED_CASES + COMPRESSED_CASES
    families = Counter(case.family for case in kinds)
    assert len(kinds) >= 100 and set(families) == {'image', 'camera info', 'layout', 'size',
                                                   'header', 'compressed'}, families
