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
Point-cloud construction: the node's PointCloud2 builder against two common ways of writing one.

For each depth-image size, one organized ``H x W x 3`` cloud from ``core.camera.backproject``
(random depth with invalid pixels, so NaN points) becomes a ``sensor_msgs/PointCloud2`` three
ways, with and without colour:

- ``per-point loop``: ``struct.pack_into`` once per point into a buffer, as the classic
  ``sensor_msgs.point_cloud2.create_cloud`` of ROS 1 did (the points first become Python
  tuples, as that function takes them);
- ``structured array``: a numpy structured dtype with fields x, y, z (and rgb) at the message's
  offsets, filled field by field, then ``.tobytes()``, as ``sensor_msgs_py.point_cloud2``'s
  ``create_cloud`` does;
- ``node``: ``msgs.writers.organized_pointcloud``, what the depth node runs (one float32
  array of the point layout, written in one vectorised pass).

All three must give byte-identical ``data`` and the same layout (x, y, z float32 at 0, 4, 8,
point_step 16; rgb at 16, point_step 32): the script checks that first and exits 1 otherwise.
Every builder hands its bytes to the message as an ``array.array('B')``, the cheap path of
rclpy's setter: where it checks fields (always on Humble) it checks ``bytes`` byte by byte in
Python, which the script times once at the largest size and reports below the table.

    .venv/bin/python benchmarks/pointcloud.py                       # all sizes, 50 repeats
    .venv/bin/python benchmarks/pointcloud.py --sizes 74x55 --repeats 5

Repeats are interleaved (each repeat times every builder once) so that load from other
processes falls on all of them alike. The per-point loop takes about a second per cloud at
640x480: it is timed on fewer clouds at the large sizes (at most ``--loop-points`` points per
size, at least 3 clouds, never more than ``--repeats``); the table gives its count.
Not a test: record the output with the command in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import array
import os
import platform
import struct
import sys
import time
from typing import Callable, Sequence

from _report import add_output_dir_argument, line_plot, median_p90_ms, Report, Series
import numpy as np

#: Depth-image sizes (width, height): KITTI and NYU network outputs, each upsampled by 4, VGA.
DEFAULT_SIZES = ('142x27', '74x55', '568x108', '296x220', '640x480')

#: Point layout of the node's clouds (DESIGN.md section 5), written down here independently.
XYZ_OFFSETS = (('x', 0), ('y', 4), ('z', 8))
RGB_OFFSET = 16
POINT_STEP_XYZ = 16
POINT_STEP_XYZRGB = 32

BUILDERS = ('per-point loop', 'structured array', 'node')


def parse_size(text: str) -> tuple[int, int]:
    """Return ``(width, height)`` of ``'WxH'``."""
    try:
        width, height = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not WIDTHxHEIGHT') from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f'{text!r}: width and height must be positive')
    return width, height


def sample_cloud(width: int, height: int, seed: int = 0,
                 invalid_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """
    Organized points of a random depth image and random colours.

    Returns
    -------
    ``H x W x 3`` float32 points in metres from ``core.camera.backproject`` (NaN where the
    depth is invalid, about ``invalid_fraction`` of the pixels) and ``H x W x 3`` uint8 RGB.

    """
    from msdepth_ros.core.camera import backproject
    from msdepth_ros.core.intrinsics import Intrinsics

    rng = np.random.default_rng(seed)
    depth_m = rng.uniform(0.5, 80.0, size=(height, width)).astype(np.float32)
    invalid = rng.random((height, width)) < invalid_fraction
    depth_m[invalid] = rng.choice(np.array([np.nan, 0.0, -1.0, np.inf], np.float32),
                                  size=int(invalid.sum()))
    camera = Intrinsics(fx_px=0.9 * width, fy_px=0.9 * width, cx_px=(width - 1) / 2,
                        cy_px=(height - 1) / 2, width=width, height=height)
    points = backproject(depth_m, camera)
    rgb = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    return points, rgb


def _fields(with_rgb: bool) -> list:
    from sensor_msgs.msg import PointField
    fields = [PointField(name=name, offset=offset, datatype=PointField.FLOAT32, count=1)
              for name, offset in XYZ_OFFSETS]
    if with_rgb:
        fields.append(PointField(name='rgb', offset=RGB_OFFSET, datatype=PointField.FLOAT32,
                                 count=1))
    return fields


def _message(height: int, width: int, with_rgb: bool, data: array.array, header=None):
    """Return a PointCloud2 with the node's layout around ``data``."""
    from sensor_msgs.msg import PointCloud2
    point_step = POINT_STEP_XYZRGB if with_rgb else POINT_STEP_XYZ
    msg = PointCloud2()
    if header is not None:
        msg.header = header
    msg.height, msg.width = height, width
    msg.fields = _fields(with_rgb)
    msg.is_bigendian = sys.byteorder == 'big'
    msg.point_step = point_step
    msg.row_step = point_step * width
    msg.is_dense = False
    msg.data = data
    return msg


def _packed_rgb(rgb: np.ndarray) -> np.ndarray:
    """``H x W`` uint32 ``0x00RRGGBB`` (the rgb field's bits, as PCL and RViz read them)."""
    rgb = rgb.astype(np.uint32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def cloud_per_point_loop(points: np.ndarray, rgb: np.ndarray | None = None, header=None):
    """
    PointCloud2 packed point by point with ``struct.pack_into`` (classic ``create_cloud``).

    The points become Python tuples first, as that function takes them; the colour is packed
    as its uint32 bits (the float32 field holds them).
    """
    height, width = points.shape[:2]
    if rgb is None:
        packer = struct.Struct('=fff4x')
        values = points.reshape(-1, 3).tolist()
    else:
        packer = struct.Struct('=fff4xI12x')
        values = [(*p, c) for p, c in zip(points.reshape(-1, 3).tolist(),
                                          _packed_rgb(rgb).reshape(-1).tolist())]
    buffer = bytearray(packer.size * len(values))
    pack_into, step = packer.pack_into, packer.size
    offset = 0
    for value in values:
        pack_into(buffer, offset, *value)
        offset += step
    return _message(height, width, rgb is not None, array.array('B', buffer), header)


def cloud_structured_array(points: np.ndarray, rgb: np.ndarray | None = None, header=None):
    """PointCloud2 from a numpy structured array filled field by field (``sensor_msgs_py``)."""
    height, width = points.shape[:2]
    names = [name for name, _ in XYZ_OFFSETS]
    offsets = [offset for _, offset in XYZ_OFFSETS]
    if rgb is not None:
        names.append('rgb')
        offsets.append(RGB_OFFSET)
    dtype = np.dtype({'names': names, 'formats': ['=f4'] * len(names), 'offsets': offsets,
                      'itemsize': POINT_STEP_XYZRGB if rgb is not None else POINT_STEP_XYZ})
    cloud = np.zeros(height * width, dtype=dtype)
    flat = points.reshape(-1, 3)
    for i, name in enumerate(names[:3]):
        cloud[name] = flat[:, i]
    if rgb is not None:
        cloud['rgb'] = _packed_rgb(rgb).reshape(-1).view(np.float32)
    data = array.array('B')
    data.frombytes(cloud.tobytes())
    return _message(height, width, rgb is not None, data, header)


def cloud_node(points: np.ndarray, rgb: np.ndarray | None = None, header=None):
    """PointCloud2 as the depth node builds it (``msgs.writers.organized_pointcloud``)."""
    from msdepth_ros.msgs.writers import organized_pointcloud
    from msdepth_ros.ros.conversions import RCLPY_TYPES
    return organized_pointcloud(RCLPY_TYPES, points, header, rgb)


#: The builders by their table name.
BUILDER_FUNCTIONS: dict[str, Callable] = {
    'per-point loop': cloud_per_point_loop,
    'structured array': cloud_structured_array,
    'node': cloud_node,
}


def layout(msg) -> tuple:
    """Return everything of a PointCloud2 but its data and header, for comparisons."""
    return (msg.height, msg.width, msg.point_step, msg.row_step, bool(msg.is_bigendian),
            bool(msg.is_dense), tuple((f.name, f.offset, f.datatype, f.count)
                                      for f in msg.fields))


def check_identical(points: np.ndarray, rgb: np.ndarray | None) -> list[str]:
    """Return what differs between the three builders' clouds (empty when all agree)."""
    messages = {name: build(points, rgb) for name, build in BUILDER_FUNCTIONS.items()}
    reference = messages['node']
    step = POINT_STEP_XYZRGB if rgb is not None else POINT_STEP_XYZ
    problems = []
    if reference.point_step != step or [(f.name, f.offset) for f in reference.fields] != (
            list(XYZ_OFFSETS) + ([('rgb', RGB_OFFSET)] if rgb is not None else [])):
        problems.append(f'node: layout {layout(reference)} is not the documented one')
    for name, msg in messages.items():
        if layout(msg) != layout(reference):
            problems.append(f'{name}: layout {layout(msg)} != node {layout(reference)}')
        if bytes(msg.data) != bytes(reference.data):
            problems.append(f"{name}: data differs from the node's "
                            f'({len(msg.data)} and {len(reference.data)} bytes)')
    return problems


def loop_repeats(repeats: int, points: int, loop_points: int, minimum: int = 3) -> int:
    """Clouds the per-point loop is timed on: ``loop_points`` points' worth, 3 to ``repeats``."""
    return min(repeats, max(minimum, loop_points // points))


def time_size(width: int, height: int, with_rgb: bool, repeats: int,
              loop_points: int) -> dict[str, list[float]]:
    """Return seconds per cloud of every builder, interleaved repeat by repeat."""
    points, rgb = sample_cloud(width, height)
    colour = rgb if with_rgb else None
    for build in BUILDER_FUNCTIONS.values():  # warm-up: imports, first allocations
        build(points, colour)
    n_loop = loop_repeats(repeats, width * height, loop_points)
    samples: dict[str, list[float]] = {name: [] for name in BUILDERS}
    for i in range(repeats):
        for name, build in BUILDER_FUNCTIONS.items():
            if name == 'per-point loop' and i >= n_loop:
                continue
            t0 = time.perf_counter()
            build(points, colour)
            samples[name].append(time.perf_counter() - t0)
    return samples


def time_bytes_setter(width: int, height: int) -> dict[str, float]:
    """
    Seconds to set ``PointCloud2.data`` of one ``width`` x ``height`` xyz cloud, three ways.

    ``bytes, fields checked``: as rclpy does on Humble, and on Jazzy with
    ``ROS_PYTHON_CHECK_FIELDS=1`` (every byte checked in Python); ``bytes``: Jazzy's default;
    ``array.array('B')``: what every builder here and the node use (taken as is).
    """
    from sensor_msgs.msg import PointCloud2
    points, _ = sample_cloud(width, height)
    data = cloud_node(points).data.tobytes()
    fast = array.array('B')
    fast.frombytes(data)
    seconds = {}
    for label, value, check in (('bytes, fields checked', data, True), ('bytes', data, False),
                                ("array.array('B')", fast, False)):
        msg = PointCloud2(check_fields=check)
        t0 = time.perf_counter()
        msg.data = value
        seconds[label] = time.perf_counter() - t0
    return seconds


def run(args: argparse.Namespace) -> int:
    """Check the builders agree, time them for every size, print and write the report."""
    from tqdm import tqdm

    problems = []
    for width, height in args.sizes:
        points, rgb = sample_cloud(width, height, seed=1)
        for colour in (None, rgb):
            problems += [f'{width}x{height}{" rgb" if colour is not None else ""}: {p}'
                         for p in check_identical(points, colour)]
    if problems:
        print('the builders disagree:\n  ' + '\n  '.join(problems), file=sys.stderr)
        return 1

    rows, results = [], []
    jobs = [(size, with_rgb) for size in args.sizes for with_rgb in (False, True)]
    for (width, height), with_rgb in tqdm(jobs, desc='clouds', unit='size', leave=False,
                                          disable=None):
        samples = time_size(width, height, with_rgb, args.repeats, args.loop_points)
        stats = {name: median_p90_ms(samples[name]) for name in BUILDERS}
        results.append(((width, height), with_rgb, stats))
        node_ms = stats['node'][0]
        rows.append([f'{width}x{height}', f'{width * height}', 'xyz+rgb' if with_rgb else 'xyz',
                     f'{stats["per-point loop"][0]:.2f}', f'{stats["per-point loop"][1]:.2f}',
                     str(len(samples['per-point loop'])),
                     f'{stats["structured array"][0]:.3f}', f'{stats["structured array"][1]:.3f}',
                     f'{node_ms:.3f}', f'{stats["node"][1]:.3f}',
                     f'{stats["per-point loop"][0] / node_ms:.0f}x',
                     f'{stats["structured array"][0] / node_ms:.1f}x'])

    report = Report(args.output_dir, 'pointcloud')
    report.line(f'# Point-cloud construction: {platform.processor() or platform.machine()}, '
                f'{os.cpu_count()} CPUs, numpy {np.__version__}, Python '
                f'{platform.python_version()}; load average '
                f'{" ".join(f"{v:.2f}" for v in os.getloadavg())}')
    report.line()
    report.line(f'Milliseconds per PointCloud2 (median and p90 of {args.repeats} clouds; the '
                'per-point loop on the number of clouds in its column). All three builders '
                'give byte-identical data (checked before timing).')
    report.line()
    report.table(['depth image', 'points', 'fields', 'per-point loop median', 'p90', 'clouds',
                  'structured array median', 'p90', 'node median', 'p90',
                  'node vs loop', 'node vs structured'], rows)
    width, height = max(args.sizes, key=lambda s: s[0] * s[1])
    setter_s = time_bytes_setter(width, height)
    report.line(f'Setting `PointCloud2.data` of the {width}x{height} xyz cloud '
                f'({width * height * POINT_STEP_XYZ} bytes), once: ' + '; '.join(
                    f'from {label}: {seconds * 1e3:.3f} ms' for label, seconds in setter_s.items())
                + '. With fields checked (Humble; Jazzy with `ROS_PYTHON_CHECK_FIELDS=1`) rclpy '
                "checks every byte of anything but an `array.array('B')`; every builder above "
                'hands it one.')
    report.write()

    sizes = sorted({r[0] for r in results}, key=lambda s: s[0] * s[1])
    series = []
    for colour, name in enumerate(BUILDERS):
        for with_rgb, style in ((False, '-'), (True, '--')):
            by_size = {r[0]: r[2][name] for r in results if r[1] == with_rgb}
            series.append(Series(f'{name} ({"xyz+rgb" if with_rgb else "xyz"})',
                                 [by_size[s][0] for s in sizes], [by_size[s][1] for s in sizes],
                                 linestyle=style, color=f'C{colour}'))
    line_plot(report.png_path, [w * h for w, h in sizes], series, 'points per cloud',
              'ms per cloud (median, whisker: p90)',
              'PointCloud2 construction: ' + ', '.join(f'{w}x{h}' for w, h in sizes))
    print(f'wrote {report.markdown_path} and {report.png_path}')
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--sizes', nargs='+', type=parse_size, default=[
        parse_size(s) for s in DEFAULT_SIZES], help='depth-image sizes WIDTHxHEIGHT')
    parser.add_argument('--repeats', type=int, default=50, help='timed clouds per builder')
    parser.add_argument('--loop-points', type=int, default=1000000,
                        help='points per size the per-point loop is timed on (3 clouds at '
                             'least, never more than --repeats)')
    add_output_dir_argument(parser)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error('--repeats must be positive')
    return run(args)


if __name__ == '__main__':
    sys.exit(main())
