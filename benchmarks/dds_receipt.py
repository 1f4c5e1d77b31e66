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
Which camera frames reach the depth node over DDS: receipt rate by QoS, transport and size.

A camera is a plain rclpy publisher in its own process (image and camera info, ``--rate-hz``,
``--frames`` frames, reliable or best effort, keep last 10); the depth node runs as its own
process with its default parameters (``input_reliability: auto``) on the demo model exported to
ONNX; this process subscribes to the node's ``depth/image`` (reliable) and counts the frames
whose depth came back. Each combination of publisher reliability, where the package's Fast DDS
profile (``config/fastdds_large_frames.xml``) is set (``none``, on the ``node`` only, on the
``publisher`` only, on ``both``) and frame size runs once, in its own DDS domain.

    .venv/bin/python benchmarks/dds_receipt.py                           # the whole table
    .venv/bin/python benchmarks/dds_receipt.py --sizes 640x480 --profiles none --frames 10

Not a test: numbers vary with the machine and its load; record them with the command in
docs/transport.md.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
import os
from pathlib import Path
import platform
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Sequence

from _report import add_output_dir_argument, bar_plot, Report, Series
import numpy as np

SIZES = ('640x480', '1242x375', '1920x1080')
PROFILES = ('none', 'node', 'publisher', 'both')
RELIABILITIES = ('reliable', 'best_effort')
NAMESPACE = '/receipt'
REPO = Path(__file__).resolve().parents[1]
PROFILE_FILE = REPO / 'config' / 'fastdds_large_frames.xml'
PROFILE_VARIABLES = ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE')


def environment(domain_id: int, with_profile: bool) -> dict[str, str]:
    """Return a process environment: its own domain, localhost only, the profile or none at all."""
    env = {k: v for k, v in os.environ.items() if k not in PROFILE_VARIABLES}
    env.update(ROS_DOMAIN_ID=str(domain_id), ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST',
               RCUTILS_COLORIZED_OUTPUT='0', PYTHONUNBUFFERED='1')
    if with_profile:
        env.update({name: str(PROFILE_FILE) for name in PROFILE_VARIABLES})
    return env


# -- the camera process -------------------------------------------------------------------------

def run_camera(size: str, reliability: str, frames: int, rate_hz: float) -> int:
    """Publish ``frames`` frames once the node subscribes; linger until SIGINT (retransmits)."""
    from dds_latency import camera_messages
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image

    width, height = (int(v) for v in size.split('x'))
    rclpy.init()
    node = rclpy.create_node('receipt_camera', namespace=NAMESPACE)
    qos = QoSProfile(depth=10, reliability=(ReliabilityPolicy.RELIABLE if reliability ==
                                            'reliable' else ReliabilityPolicy.BEST_EFFORT))
    pub_image = node.create_publisher(Image, 'image', qos)
    pub_info = node.create_publisher(CameraInfo, 'camera_info', qos)
    image, info = camera_messages(width, height)
    deadline = time.monotonic() + 120.0
    while (pub_image.get_subscription_count() < 1 or pub_info.get_subscription_count() < 1):
        if time.monotonic() > deadline:
            print('no subscription matched', flush=True)
            return 1
        time.sleep(0.05)
    # The publisher's side of discovery can finish before the node's, and a volatile reader
    # that matches late misses what was sent before. A real camera keeps sending; this one
    # sends a counted number of frames, so it first sends camera info alone until the node
    # says (on /diagnostics) that it has the intrinsics: the count starts in the steady state.
    have_intrinsics = threading.Event()

    def on_status(msg: Any) -> None:
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            if (status.name == f'{NAMESPACE}/depth_node: depth'
                    and values.get('intrinsics from') == 'camera info'):
                have_intrinsics.set()

    node.create_subscription(DiagnosticArray, '/diagnostics', on_status, 10)
    while not have_intrinsics.is_set():
        if time.monotonic() > deadline:
            print('the node never had the intrinsics', flush=True)
            return 1
        pub_info.publish(info)
        rclpy.spin_once(node, timeout_sec=0.2)
    print('matched', flush=True)
    period = 1.0 / rate_hz
    start = time.monotonic()
    for index in range(frames):
        next_time = start + index * period
        time.sleep(max(0.0, next_time - time.monotonic()))
        for msg in (info, image):
            msg.header.stamp.sec, msg.header.stamp.nanosec = 1000 + index, 0
        pub_info.publish(info)
        pub_image.publish(image)
    print('done', flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait(60.0)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


# -- one combination ----------------------------------------------------------------------------

@dataclass
class Result:
    """Frames sent and depth images received for one combination."""

    reliability: str
    profile: str
    size: str
    sent: int
    received: int
    node_received: int = 0
    node_dropped_busy: int = 0
    note: str = ''

    @property
    def ratio(self) -> float:
        """Fraction of the frames whose depth came back."""
        return self.received / self.sent if self.sent else float('nan')


def measure(model: Path, reliability: str, profile: str, size: str, args: argparse.Namespace,
            folder: Path) -> Result:
    """Start the node and the camera, count the depth images, stop both."""
    import rclpy
    from rclpy.context import Context
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image

    domain = random.SystemRandom().randint(1, 101)
    node_env = environment(domain, profile in ('node', 'both'))
    camera_env = environment(domain, profile in ('publisher', 'both'))
    context = Context()
    rclpy.init(context=context, domain_id=domain)
    watcher = rclpy.create_node('receipt_watcher', context=context)
    stamps: set[int] = set()
    watcher.create_subscription(Image, f'{NAMESPACE}/depth/image',
                                lambda msg: stamps.add(msg.header.stamp.sec), 100)
    counts: dict[str, str] = {}

    def keep_counts(msg: Any) -> None:
        for status in msg.status:
            if status.name == f'{NAMESPACE}/depth_node: depth':
                counts.update({kv.key: kv.value for kv in status.values})

    watcher.create_subscription(DiagnosticArray, '/diagnostics', keep_counts, 10)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(watcher)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    log_path = (args.log_dir or folder) / f'node_{reliability}_{profile}_{size}.log'
    log = open(log_path, 'w', encoding='utf-8')
    node = subprocess.Popen(
        [str(Path(sys.executable).parent / 'depth_node'), '--ros-args', '-r',
         f'__ns:={NAMESPACE}', '-p', f'model:={model}', '-p', 'backend:=onnxruntime',
         *[arg for pair in args.node_param for arg in ('-p', pair)]],
        stdout=log, stderr=subprocess.STDOUT, env=node_env)
    camera = subprocess.Popen(
        [sys.executable, __file__, '--camera', size, reliability, str(args.frames),
         str(args.rate_hz)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=camera_env)
    note = ''
    try:
        lines = [camera.stdout.readline().strip() for _ in range(2)]  # matched, done
        if lines[-1] != 'done':
            note = f'camera: {" ".join(lines)}'
        # The last frames are still in flight: wait for them, or until nothing new comes.
        last, quiet_since = len(stamps), time.monotonic()
        while len(stamps) < args.frames and time.monotonic() - quiet_since < args.settle_s:
            time.sleep(0.1)
            if len(stamps) != last:
                last, quiet_since = len(stamps), time.monotonic()
        # The node's own counts of the last period (published every second).
        deadline = time.monotonic() + 5.0
        while (int(counts.get('frames received', -1)) < len(stamps)
               and time.monotonic() < deadline):
            time.sleep(0.1)
    finally:
        for proc in (camera, node):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
        executor.shutdown()
        watcher.destroy_node()
        rclpy.try_shutdown(context=context)
    return Result(reliability, profile, size, args.frames, len(stamps),
                  int(counts.get('frames received', 0)),
                  int(counts.get('frames dropped while busy', 0)), note)


def export_demo_model(folder: Path) -> Path:
    """Export the demo model as ONNX (what a robot would run); return the path."""
    from msdepth_ros.inference.export import export_onnx
    from msdepth_ros.model.checkpoint import load_checkpoint
    model = load_checkpoint(REPO / 'models' / 'demo_kitti_synthetic.pt').model.eval()
    return export_onnx(model, folder / 'demo.onnx').path


def write_report(results: Sequence[Result], args: argparse.Namespace) -> Report:
    """Write the receipt table (a row per reliability and profile, a column per size)."""
    sizes = list(dict.fromkeys(r.size for r in results))
    rows, series = [], []
    for reliability in dict.fromkeys(r.reliability for r in results):
        for profile in dict.fromkeys(r.profile for r in results):
            cells = {r.size: r for r in results
                     if r.reliability == reliability and r.profile == profile}
            if not cells:
                continue
            rows.append([f'{reliability}', profile] + [
                f'{cells[s].received}/{cells[s].sent} ({100 * cells[s].ratio:.0f} %; node '
                f'got {cells[s].node_received}, busy {cells[s].node_dropped_busy})'
                if s in cells else '' for s in sizes])
            series.append(Series(f'{reliability}, profile: {profile}',
                                 np.array([100 * cells[s].ratio if s in cells else np.nan
                                           for s in sizes])))
    report = Report(args.output_dir, 'dds_receipt')
    report.line(f'Depth images received of {args.frames} frames published at {args.rate_hz:g} '
                'Hz, per publisher reliability and where the Fast DDS profile is set '
                '(depth_node with its defaults, input_reliability auto, demo model on ONNX '
                f'Runtime; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs). '
                'Each cell: depth images out of frames sent; "node got": images the node\'s '
                'callback received (the rest were lost in transport or overwritten in its '
                'keep-last-1 queue); "busy": frames the node replaced while its worker was '
                'still busy with an older one (CPU load, not transport).')
    report.line()
    report.table(['publisher', 'Fast DDS profile on'] + sizes, rows)
    report.line('Command: `.venv/bin/python benchmarks/dds_receipt.py '
                + ' '.join(sys.argv[1:]) + '`')
    report.write()
    bar_plot(report.png_path, sizes, series, 'depth images received (%)',
             'Frames whose depth came back, by publisher QoS and Fast DDS profile', log=False)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Run the table (or, with ``--camera``, be the camera process)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ['--camera']:
        return run_camera(argv[1], argv[2], int(argv[3]), float(argv[4]))
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sizes', nargs='+', default=list(SIZES), choices=SIZES)
    parser.add_argument('--profiles', nargs='+', default=list(PROFILES), choices=PROFILES)
    parser.add_argument('--reliabilities', nargs='+', default=list(RELIABILITIES),
                        choices=RELIABILITIES)
    parser.add_argument('--frames', type=int, default=60)
    parser.add_argument('--rate-hz', type=float, default=5.0)
    parser.add_argument('--settle-s', type=float, default=5.0,
                        help='after the last frame, stop once no depth image came for this long')
    parser.add_argument('--log-dir', type=Path, default=None,
                        help='keep the node logs in this folder (default: a temporary one)')
    parser.add_argument('--node-param', action='append', default=[], metavar='NAME:=VALUE',
                        help='a depth_node parameter to set (repeatable)')
    add_output_dir_argument(parser)
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix='dds_receipt_') as tmp:
        folder = Path(tmp)
        model = export_demo_model(folder)
        for reliability in args.reliabilities:
            for profile in args.profiles:
                for size in args.sizes:
                    result = measure(model, reliability, profile, size, args, folder)
                    print(f'{reliability:12s} {profile:10s} {size:10s} '
                          f'{result.received}/{result.sent} node got {result.node_received} '
                          f'busy {result.node_dropped_busy} {result.note}', flush=True)
                    results.append(result)
    write_report(results, args)
    return 0


if __name__ == '__main__':
    sys.exit(main())
