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
Soak: many frames through the running depth node, its memory (RSS) sampled along the way.

The depth node runs as its own process (its defaults, ``input_reliability: auto``) on the demo
model exported to ONNX, in its own DDS domain, both processes with the large-frame Fast DDS
profile (``config/fastdds_large_frames.xml``, as ``msdepth-demo`` and ``dds_latency.py``;
``--no-profile``: Fast DDS defaults). Without it a 1242x375 frame (1.4 MB) does not fit the
default 512 KiB shared-memory segment and goes over UDP in fragments; on a loaded machine
fragments are dropped and the reliable repair comes with the next heartbeat (3 s), so the run
crawls (seen: depth images in bursts 3 s apart, about 1 frame/s, at a load average of 8).

This process is the camera: a reliable publisher of image and camera info (keep last 10) that sends
one frame, waits for its depth image, and sends the next. Every ``--sample-every`` frames it reads
the node's ``VmRSS`` from ``/proc/PID/status``. Growth is measured from the RSS after ``--warmup``
frames (allocators, ONNX Runtime arenas and DDS buffers have settled) to the median of the last
tenth of the samples; the run fails (exit 1) when it exceeds ``--max-growth-pct``. Ctrl-C ends the
run early and still writes the report of the frames sent so far.

    .venv/bin/python benchmarks/soak.py                            # 10,000 frames, ~10 min
    .venv/bin/python benchmarks/soak.py --frames 300 --warmup 50

Writes ``soak.md`` (the table) and ``soak.png`` (RSS against frames) to ``--output-dir``.
"""

from __future__ import annotations

import argparse
import array
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

from _report import add_output_dir_argument, line_plot, median_p90_ms, Report, Series
import numpy as np

NAMESPACE = '/soak'
REPO = Path(__file__).resolve().parents[1]


def rss_mib(pid: int) -> float:
    """Return the resident memory of process ``pid`` in MiB (``VmRSS``)."""
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f'no VmRSS in /proc/{pid}/status')


def growth_pct(frames: Sequence[int], rss: Sequence[float],
               warmup: int) -> tuple[float, float, float]:
    """
    Return (baseline MiB, end MiB, growth %) of RSS samples taken at ``frames``.

    Baseline: the first sample at or after ``warmup`` frames. End: the median of the last tenth
    of the samples (at least one), so that one transient peak does not decide.
    """
    frames_a, rss_a = np.asarray(frames), np.asarray(rss, dtype=np.float64)
    after = np.flatnonzero(frames_a >= warmup)
    if after.size == 0:
        raise ValueError(f'no RSS sample at or after the warm-up ({warmup} frames)')
    base = float(rss_a[after[0]])
    tail = rss_a[after[0]:]
    end = float(np.median(tail[-max(1, tail.size // 10):]))
    return base, end, 100.0 * (end - base) / base


def export_demo_model(folder: Path) -> Path:
    """Export the demo model as ONNX (what a robot would run); return the path."""
    from msdepth_ros.inference.export import export_onnx
    from msdepth_ros.model.checkpoint import load_checkpoint
    model = load_checkpoint(REPO / 'models' / 'demo_kitti_synthetic.pt').model.eval()
    return export_onnx(model, folder / 'demo.onnx').path


def wait_ready(log_path: Path, proc: subprocess.Popen, timeout_s: float) -> str:
    """Wait for the node's ``ready:`` log line; fail with the log when it exits first."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        text = log_path.read_text(encoding='utf-8', errors='replace')
        for line in text.splitlines():
            if ']: ready: ' in line:
                return line
        if proc.poll() is not None:
            raise RuntimeError(f'depth_node exited ({proc.returncode}):\n{text}')
        time.sleep(0.1)
    raise RuntimeError(f'depth_node not ready after {timeout_s} s')


class Camera:
    """Reliable image and camera info publishers, and a reader of the node's depth images."""

    def __init__(self, domain_id: int, width: int, height: int) -> None:
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CameraInfo, Image

        from msdepth_ros.core.synthetic import road_scene
        from msdepth_ros.msgs.writers import intrinsics_camera_info
        from msdepth_ros.ros.conversions import RCLPY_TYPES

        self._rclpy = rclpy
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node('soak_camera', namespace=NAMESPACE, context=self.context)
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.pub_image = self.node.create_publisher(Image, 'image', qos)
        self.pub_info = self.node.create_publisher(CameraInfo, 'camera_info', qos)
        self._cond = threading.Condition()
        self._got: set[int] = set()
        self.node.create_subscription(Image, 'depth/image', self._on_depth, qos)
        scene = road_scene(7, width, height)
        self.image = Image()
        self.image.header.frame_id = 'camera_optical'
        self.image.height, self.image.width = height, width
        self.image.encoding, self.image.step = 'rgb8', 3 * width
        self.image.data = array.array('B', np.ascontiguousarray(scene.image).tobytes())
        self.info = intrinsics_camera_info(RCLPY_TYPES, scene.intrinsics)
        self.info.header.frame_id = self.image.header.frame_id
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # noqa: B902 - the context shut down under the executor
            pass

    def _on_depth(self, msg: Any) -> None:
        with self._cond:
            self._got.add(msg.header.stamp.sec)
            self._cond.notify_all()

    def wait_matched(self, timeout_s: float) -> None:
        """Wait until the node's readers match both publishers."""
        end = time.monotonic() + timeout_s
        while min(self.pub_image.get_subscription_count(),
                  self.pub_info.get_subscription_count()) < 1:
            if time.monotonic() > end:
                raise RuntimeError('the node never subscribed to the camera')
            time.sleep(0.05)

    def send(self, index: int) -> None:
        """Publish frame ``index`` (its stamp's seconds) with its camera info."""
        for msg in (self.info, self.image):
            msg.header.stamp.sec, msg.header.stamp.nanosec = 1000 + index, 0
        self.pub_info.publish(self.info)
        self.pub_image.publish(self.image)

    def wait_depth(self, index: int, timeout_s: float) -> bool:
        """Wait for the depth image of frame ``index``; False after ``timeout_s``."""
        with self._cond:
            ok = self._cond.wait_for(lambda: 1000 + index in self._got, timeout_s)
            self._got.discard(1000 + index)
            return ok

    def close(self) -> None:
        """Shut the camera's node down."""
        self._rclpy.try_shutdown(context=self.context)
        self._thread.join(5.0)
        self.executor.shutdown()
        self.node.destroy_node()


def soak(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Run the node and the camera; return the samples and the counts."""
    width, height = (int(v) for v in args.size.split('x'))
    model = export_demo_model(folder)
    domain = args.domain_id or random.SystemRandom().randint(1, 101)
    if not args.no_profile:  # before rclpy.init: the profile is read with the participant
        from msdepth_ros.tools.demo import pipeline_environment
        os.environ.update(pipeline_environment())
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST',
               RCUTILS_COLORIZED_OUTPUT='0', PYTHONUNBUFFERED='1',
               ROS_LOG_DIR=str(folder / 'ros'))
    log_path = folder / 'node.log'
    log = open(log_path, 'w', encoding='utf-8')
    node = subprocess.Popen(
        [str(Path(sys.executable).parent / 'depth_node'), '--ros-args', '-r',
         f'__ns:={NAMESPACE}', '-p', f'model:={model}', '-p', 'backend:=onnxruntime'],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    camera = Camera(domain, width, height)
    result: dict[str, Any] = {'frames': [], 'rss': [], 'round_trip_s': [], 'lost': 0,
                              'sent': 0, 'interrupted': False}
    try:
        result['ready'] = wait_ready(log_path, node, 300.0)
        camera.wait_matched(120.0)
        # The node infers only for subscribers and may see this process's reader a moment
        # after it is ready: prime with frames until one comes back (not counted).
        for attempt in range(60):
            camera.send(-1 - attempt)
            if camera.wait_depth(-1 - attempt, 5.0):
                break
        else:
            raise RuntimeError('no depth image came back from the node')
        start = time.monotonic()
        try:
            run_frames(args, camera, node, result, start)
        except KeyboardInterrupt:
            result['interrupted'] = True
        result['frames'].append(result['sent'])
        result['rss'].append(rss_mib(node.pid))
        result['elapsed_s'] = time.monotonic() - start
    finally:
        camera.close()
        if node.poll() is None:
            node.send_signal(signal.SIGINT)
        try:
            node.wait(30)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()
        log.close()
    return result


def run_frames(args: argparse.Namespace, camera: Camera, node: subprocess.Popen,
               result: dict[str, Any], start: float) -> None:
    """Send the frames one at a time, sampling the node's RSS; update ``result``."""
    for index in range(args.frames):
        if index % args.sample_every == 0:
            result['frames'].append(index)
            result['rss'].append(rss_mib(node.pid))
        sent = time.monotonic()
        camera.send(index)
        result['sent'] = index + 1
        if camera.wait_depth(index, args.frame_timeout_s):
            result['round_trip_s'].append(time.monotonic() - sent)
        else:
            result['lost'] += 1
        if args.progress_every and (index + 1) % args.progress_every == 0:
            print(f'{index + 1} frames, RSS {rss_mib(node.pid):.1f} MiB, '
                  f'{time.monotonic() - start:.0f} s', flush=True)


def write_report(result: dict[str, Any], args: argparse.Namespace) -> tuple[Report, float]:
    """Write the table and the RSS plot; return the report and the growth (%)."""
    base, end, growth = growth_pct(result['frames'], result['rss'], args.warmup)
    median_ms, p90_ms = median_p90_ms(result['round_trip_s'])
    sent = result['sent']
    done = sent - result['lost']
    report = Report(args.output_dir, 'soak')
    transport = ('Fast DDS defaults' if args.no_profile
                 else 'the large-frame Fast DDS profile')
    stopped = (f' Interrupted after {sent} of {args.frames} frames.' if result['interrupted']
               else '')
    report.line(f'{sent} frames of {args.size} through depth_node (demo model, ONNX '
                f'Runtime, its default parameters) over DDS ({transport}): a reliable '
                'publisher sends a frame '
                'and waits for its depth image. RSS of the node process from /proc/PID/status '
                f'every {args.sample_every} frames; growth from the RSS after {args.warmup} '
                'warm-up frames to the median of the last tenth of the samples '
                f'({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs).'
                + stopped)
    report.line()
    verdict = 'pass' if growth < args.max_growth_pct else 'FAIL'
    report.table(
        ['frames', 'depth images back', 'time (s)', 'frames/s', 'round trip median / p90 (ms)',
         f'RSS at frame {args.warmup} (MiB)', 'RSS at the end (MiB)', 'RSS max (MiB)',
         'growth', f'< {args.max_growth_pct:g} %'],
        [[sent, done, f'{result["elapsed_s"]:.0f}',
          f'{sent / result["elapsed_s"]:.1f}', f'{median_ms:.1f} / {p90_ms:.1f}',
          f'{base:.1f}', f'{end:.1f}', f'{max(result["rss"]):.1f}', f'{growth:+.2f} %',
          verdict]])
    report.line()
    report.line('Command: `.venv/bin/python benchmarks/soak.py ' + ' '.join(sys.argv[1:]) + '`')
    report.write()
    line_plot(report.png_path, result['frames'],
              [Series('depth_node RSS (MiB)', np.asarray(result['rss'], dtype=np.float64))],
              'frames sent', 'RSS (MiB)', f'depth_node memory over {sent} frames',
              log_x=False, log_y=False)
    return report, growth


def main(argv: Sequence[str] | None = None) -> int:
    """Run the soak; exit 1 when RSS grew by ``--max-growth-pct`` or more, or frames were lost."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--frames', type=int, default=10_000)
    parser.add_argument('--warmup', type=int, default=500,
                        help='frames before the RSS baseline')
    parser.add_argument('--sample-every', type=int, default=50, help='frames between samples')
    parser.add_argument('--size', default='1242x375', help='camera image WIDTHxHEIGHT')
    parser.add_argument('--max-growth-pct', type=float, default=5.0)
    parser.add_argument('--frame-timeout-s', type=float, default=30.0,
                        help='seconds to wait for a depth image before counting it lost')
    parser.add_argument('--progress-every', type=int, default=1000)
    parser.add_argument('--domain-id', type=int, default=0, help='0: a random one')
    parser.add_argument('--no-profile', action='store_true',
                        help='Fast DDS defaults instead of config/fastdds_large_frames.xml')
    add_output_dir_argument(parser)
    args = parser.parse_args(argv)
    if not 0 <= args.warmup < args.frames or args.sample_every < 1:
        parser.error('need 0 <= --warmup < --frames and --sample-every >= 1')
    with tempfile.TemporaryDirectory(prefix='soak_') as tmp:
        result = soak(args, Path(tmp))
    report, growth = write_report(result, args)
    print(f'wrote {report.markdown_path} and {report.png_path}')
    if result['interrupted']:
        return 130
    if result['lost']:
        print(f'{result["lost"]} frames got no depth image', file=sys.stderr)
        return 1
    if growth >= args.max_growth_pct:
        print(f'RSS grew {growth:.2f} % (limit {args.max_growth_pct:g} %)', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
