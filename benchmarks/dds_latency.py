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
End-to-end latency over DDS: a camera frame published to ``depth/image`` and ``points`` received.

For each camera (``--cameras PRESET:WxH ...``; by default each preset at its data set's camera
size, 640x480 for ``nyu`` and 1242x375 for ``kitti``), a random-weight network of the preset
(paper width; ``--coarse-fc-width``) is exported to ONNX and the depth node runs on it as its
own process (its console script, ``backend`` ONNX Runtime), exactly as on a robot. This process
feeds it with rclpy: camera info and an image of the camera's size from a reliable publisher,
whose header stamp is the wall-clock time just before publishing, and subscribes to the
outputs (depth image, its camera info, the cloud). Latency is a message's arrival time in this
process minus its stamp: serialisation, DDS both ways, the node's executor and worker, and
deserialisation here. The next frame goes out ``--pause-s`` after the previous frame's outputs
arrived, so the node is idle when a frame arrives: no queueing, no drops.

Beside it, the node's own figures from ``/diagnostics`` (``ros/diagnostics.py``): inference
and receive-to-publish latency. The status is published every 0.1 s, so that almost every
period holds one frame; a period's mean counts once per frame in it. ``DDS + node overhead`` is
the end-to-end median minus the inference median.

All processes get their own ``ROS_DOMAIN_ID`` (random unless ``--domain-id``),
``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` and the large-frame Fast DDS profile
(``config/fastdds_large_frames.xml``, as ``msdepth-demo`` uses it) unless a profile is set;
``--transport default`` runs Fast DDS on its default settings instead (no profile file).

    .venv/bin/python benchmarks/dds_latency.py                       # both presets, 30 frames
    .venv/bin/python benchmarks/dds_latency.py --presets nyu --frames 10 --coarse-fc-width 32
    .venv/bin/python benchmarks/dds_latency.py --transport default \
        --cameras kitti:640x480 kitti:1242x375 kitti:1920x1080

Not a test: numbers vary with the machine and its load; record them with the command in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import array
from dataclasses import dataclass, field
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

from _report import add_output_dir_argument, bar_plot, median_p90_ms, Report, Series
import numpy as np

#: Camera size (width, height) fed to the node of each preset.
CAMERA_SIZES = {'nyu': (640, 480), 'kitti': (1242, 375)}
NAMESPACE = '/dds_latency'
#: Output topics timed, relative to the node's namespace; ``depth/camera_info`` is subscribed
#: too (a consumer of the depth image needs it) but not timed.
TIMED_TOPICS = ('depth/image', 'points')
#: The node's status period here (its minimum), so that a period rarely holds two frames.
DIAGNOSTICS_PERIOD_S = 0.1


class BenchmarkError(RuntimeError):
    """The node did not start or did not answer; the message says why."""


#: Environment variables that name a Fast DDS profile file.
PROFILE_VARIABLES = ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE')


def configure_environment(domain_id: int, transport: str = 'large-frames') -> None:
    """
    Give this process and the node an isolated DDS domain and the chosen transport.

    ``transport``: ``large-frames`` (the demo's profile unless one is set already) or
    ``default`` (no profile file: Fast DDS's default shared-memory and UDP settings). Must run
    before ``rclpy.init``: the domain and the profile are read when the participant is created.
    """
    from msdepth_ros.tools.demo import pipeline_environment
    os.environ['ROS_DOMAIN_ID'] = str(domain_id)
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    if transport == 'default':
        for name in PROFILE_VARIABLES:
            os.environ.pop(name, None)
    else:
        os.environ.update(pipeline_environment())


def parse_camera(text: str) -> tuple[str, tuple[int, int]]:
    """Parse ``PRESET:WxH`` (or a bare preset, at its default camera size)."""
    preset, _, size = text.partition(':')
    if preset not in CAMERA_SIZES:
        raise argparse.ArgumentTypeError(f'unknown preset {preset!r} in {text!r} (one of '
                                         f'{sorted(CAMERA_SIZES)})')
    if not size:
        return preset, CAMERA_SIZES[preset]
    try:
        width, height = (int(v) for v in size.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'camera {text!r}: expected PRESET:WIDTHxHEIGHT') \
            from None
    if width < 16 or height < 16:
        raise argparse.ArgumentTypeError(f'camera {text!r}: at least 16x16 pixels')
    return preset, (width, height)


def export_model(preset: str, fc_width: int, folder: Path) -> Path:
    """Write a random-weight network of ``preset`` as ONNX; return the path."""
    from msdepth_ros.inference.export import export_onnx
    from msdepth_ros.model.network import build_model, ModelConfig
    import torch
    torch.manual_seed(0)
    model = build_model(ModelConfig.for_preset(preset, coarse_fc_width=fc_width)).eval()
    return export_onnx(model, folder / f'{preset}_{fc_width}.onnx').path


class NodeProcess:
    """``depth_node`` started through its console script (beside this Python, as a venv has it)."""

    def __init__(self, model: Path, namespace: str, log_path: Path, upsample: int,
                 points_rgb: bool) -> None:
        script = Path(sys.executable).parent / 'depth_node'
        if not script.exists():
            raise BenchmarkError(f'console script {script} not found: install the package '
                                 'first (make setup)')
        self.log_path = log_path
        self._log = open(log_path, 'w', encoding='utf-8')
        env = dict(os.environ, RCUTILS_COLORIZED_OUTPUT='0', PYTHONUNBUFFERED='1',
                   ROS_LOG_DIR=str(log_path.parent / 'ros'))
        self.proc = subprocess.Popen(
            [str(script), '--ros-args', '-r', f'__ns:={namespace}', '-p', f'model:={model}',
             '-p', 'backend:=onnxruntime', '-p', f'upsample:={upsample}',
             '-p', f'points_rgb:={str(points_rgb).lower()}',
             '-p', f'diagnostics_period_s:={DIAGNOSTICS_PERIOD_S}'],
            stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def alive(self) -> bool:
        """Return True while the process runs."""
        return self.proc.poll() is None

    def log_tail(self, lines: int = 8) -> str:
        """Return the last lines of the node's log."""
        text = self.log_path.read_text(encoding='utf-8', errors='replace').strip()
        return '\n  '.join(text.splitlines()[-lines:])

    def stop(self, timeout_s: float = 30.0) -> int:
        """Stop with SIGINT (kill after ``timeout_s``); return the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def stamp_ns(header: Any) -> int:
    """Return a header's stamp in nanoseconds."""
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


class Probe:
    """
    The camera and the consumer in one rclpy node, spinning in a background thread.

    ``arrivals[topic][stamp_ns]`` is the wall-clock arrival time (ns) of the output of the
    frame stamped ``stamp_ns``; ``statuses`` the depth node's diagnostics key-values, in order.
    """

    def __init__(self, namespace: str, publisher_depth: int = 10) -> None:
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import CameraInfo, Image, PointCloud2

        self.namespace = namespace
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('dds_latency_probe', context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._cond = threading.Condition()
        self.arrivals: dict[str, dict[int, int]] = {topic: {} for topic in TIMED_TOPICS}
        self.statuses: list[dict[str, str]] = []
        reliable = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        # Camera-size frames from a reliable publisher: best-effort large samples are dropped
        # on Fast DDS's default settings, and so are most from a reliable keep-last-1 writer
        # (docs/benchmarks.md); ROS's default history depth is 10.
        camera_qos = QoSProfile(depth=publisher_depth, reliability=ReliabilityPolicy.RELIABLE)
        self.image_pub = self.node.create_publisher(Image, f'{namespace}/image', camera_qos)
        self.info_pub = self.node.create_publisher(CameraInfo, f'{namespace}/camera_info',
                                                   camera_qos)
        self._subs = [
            self.node.create_subscription(msg_type, f'{namespace}/{topic}',
                                          self._keeper(topic), reliable)
            for topic, msg_type in (('depth/image', Image), ('points', PointCloud2))]
        self._subs.append(self.node.create_subscription(
            CameraInfo, f'{namespace}/depth/camera_info', lambda msg: None, reliable))
        self._subs.append(self.node.create_subscription(
            DiagnosticArray, '/diagnostics', self._on_diagnostics,
            QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)))
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:  # noqa: B902 - shutting down under the executor
                if self.context.ok():
                    raise

    def _keeper(self, topic: str):
        def keep(msg: Any) -> None:
            received = time.time_ns()
            with self._cond:
                self.arrivals[topic][stamp_ns(msg.header)] = received
                self._cond.notify_all()
        return keep

    def _on_diagnostics(self, msg: Any) -> None:
        name = f'{self.namespace}/depth_node: depth'
        for status in msg.status:
            if status.name == name:
                with self._cond:
                    self.statuses.append({kv.key: kv.value for kv in status.values})

    def connected(self) -> bool:
        """Return True once the node's subscriptions and publishers match this probe's."""
        return (self.image_pub.get_subscription_count() >= 1
                and self.info_pub.get_subscription_count() >= 1
                and all(sub.get_publisher_count() >= 1 for sub in self._subs[:3]))

    def wait_outputs(self, stamp: int, timeout_s: float) -> bool:
        """Wait until every timed topic has the output of ``stamp``; False on timeout."""
        end = time.monotonic() + timeout_s
        with self._cond:
            while not all(stamp in self.arrivals[t] for t in TIMED_TOPICS):
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self) -> None:
        """Destroy the node and shut its context down."""
        import rclpy
        rclpy.shutdown(context=self.context)
        self._thread.join(5.0)
        self.executor.shutdown()
        self.node.destroy_node()


def camera_messages(width: int, height: int) -> tuple[Any, Any]:
    """Return an rgb8 Image of a synthetic street and its CameraInfo (stamps to be set)."""
    from msdepth_ros.core.synthetic import road_scene
    from msdepth_ros.msgs.writers import intrinsics_camera_info
    from msdepth_ros.ros.conversions import RCLPY_TYPES
    from sensor_msgs.msg import Image

    scene = road_scene(7, width, height)
    image = Image()
    image.header.frame_id = 'camera_optical'
    image.height, image.width, image.encoding, image.step = height, width, 'rgb8', 3 * width
    image.data = array.array('B', np.ascontiguousarray(scene.image).tobytes())
    info = intrinsics_camera_info(RCLPY_TYPES, scene.intrinsics)
    info.header.frame_id = image.header.frame_id
    return image, info


@dataclass
class Run:
    """What one preset's run measured."""

    preset: str
    camera_size: tuple[int, int]
    depth_size: tuple[int, int] = (0, 0)
    frames: int = 0
    lost: int = 0
    rate_hz: float = 0.0
    latency_s: dict[str, list[float]] = field(default_factory=dict)
    inference_s: list[float] = field(default_factory=list)
    receive_to_publish_s: list[float] = field(default_factory=list)
    single_frame_periods: int = 0
    #: Why nothing was timed (no output for any warm-up frame), or ''.
    failure: str = ''


def node_figures(statuses: Sequence[dict[str, str]], skip: int) -> tuple[list[float],
                                                                         list[float], int]:
    """
    Per-frame inference and receive-to-publish seconds from the node's statuses.

    A status carries the mean of its period and the total of frames published; the mean
    counts once for every frame of the period that is not among the first ``skip`` (warm-up)
    frames. Returns both lists and the number of frames whose period held them alone.
    """
    inference, latency = [], []
    exact = 0
    previous = 0
    for values in statuses:
        total = int(values.get('frames published', previous))
        counted = total - max(previous, skip)
        if counted > 0:
            inference += [1e-3 * float(values['inference mean (ms)'])] * counted
            latency += [1e-3 * float(values['latency receive-to-publish mean (ms)'])] * counted
            exact += counted if total - previous == 1 else 0
        previous = max(previous, total)
    return inference, latency, exact


def measure(preset: str, camera_size: tuple[int, int], model: Path, args: argparse.Namespace,
            folder: Path) -> Run:
    """Start the node on ``model``, feed it ``camera_size`` frames, time the outputs, stop."""
    from tqdm import tqdm

    width, height = camera_size
    run = Run(preset, (width, height))
    node = NodeProcess(model, NAMESPACE, folder / f'depth_node_{preset}_{width}x{height}.log',
                       args.upsample, args.points_rgb)
    probe = Probe(NAMESPACE, args.publisher_depth)
    try:
        end = time.monotonic() + args.startup_timeout_s
        while not probe.connected():
            if not node.alive():
                raise BenchmarkError(f'depth_node exited {node.proc.returncode}:\n  '
                                     f'{node.log_tail()}')
            if time.monotonic() > end:
                raise BenchmarkError(f'depth_node did not connect within '
                                     f'{args.startup_timeout_s:.0f} s:\n  {node.log_tail()}')
            time.sleep(0.1)
        time.sleep(0.5)  # the publisher's side of discovery can finish after the match
        image, info = camera_messages(width, height)
        probe.info_pub.publish(info)
        time.sleep(0.2)
        stamps = []
        started = None
        total = args.warmup + args.frames
        for i in tqdm(range(total), desc=f'{preset} {width}x{height}', unit='frame',
                      leave=False, disable=None):
            if i == args.warmup:
                started = time.monotonic()
            now = time.time_ns()
            for msg in (info, image):
                msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(now, 1_000_000_000)
            probe.info_pub.publish(info)
            probe.image_pub.publish(image)
            answered = probe.wait_outputs(now, args.timeout_s)
            if i >= args.warmup:
                stamps.append(now)
            elif not answered and i == args.warmup - 1 and not any(
                    probe.arrivals['depth/image']):
                # Reported in the table (a transport that loses every frame is a result);
                # the timed frames would only wait out their timeouts.
                run.failure = (f'no output for any of {args.warmup} warm-up frames within '
                               f'{args.timeout_s:g} s each')
                print(f'dds_latency: {preset} {width}x{height}: {run.failure}; node log:\n  '
                      f'{node.log_tail()}', file=sys.stderr)
                break
            if not node.alive():
                raise BenchmarkError(f'depth_node exited {node.proc.returncode}:\n  '
                                     f'{node.log_tail()}')
            time.sleep(args.pause_s)
        run.rate_hz = (args.frames / (time.monotonic() - started)
                       if args.frames and started is not None and stamps else 0.0)
        time.sleep(3 * DIAGNOSTICS_PERIOD_S + 0.2)  # the status of the last period
        for topic in TIMED_TOPICS:
            got = probe.arrivals[topic]
            run.latency_s[topic] = [1e-9 * (got[s] - s) for s in stamps if s in got]
        run.frames = len(stamps)
        run.lost = sum(1 for s in stamps if not all(s in probe.arrivals[t] for t in TIMED_TOPICS))
        run.inference_s, run.receive_to_publish_s, run.single_frame_periods = node_figures(
            list(probe.statuses), args.warmup)
        from msdepth_ros.core.presets import get_preset
        output_w, output_h = get_preset(preset).output_size
        run.depth_size = (output_w * args.upsample, output_h * args.upsample)
    finally:
        probe.close()
        node.stop()
    return run


def write_report(runs: Sequence[Run], args: argparse.Namespace) -> Report:
    """Print the table, write it and its plot; return the report."""
    import onnxruntime

    report = Report(args.output_dir, 'dds_latency')
    report.line(f'# End-to-end latency over DDS: {platform.processor() or platform.machine()}, '
                f'{os.cpu_count()} CPUs, ONNX Runtime {onnxruntime.__version__}, '
                f'{os.environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp (default)")}, '
                f'transport {args.transport} (profile '
                f'{os.environ.get(PROFILE_VARIABLES[0]) or "none"}), camera publishers '
                f'reliable keep-last {args.publisher_depth}; load '
                f'average {" ".join(f"{v:.2f}" for v in os.getloadavg())}')
    report.line()
    report.line(f'Milliseconds from publishing the image (its stamp) to receiving the output, '
                f'median and p90 of {args.frames} frames after {args.warmup} warm-up frames; '
                f'depth_node on ONNX Runtime (CPU), coarse 6 width {args.coarse_fc_width}, '
                f'random weights, upsample {args.upsample}, points '
                f'{"xyz+rgb" if args.points_rgb else "xyz"}; next frame {args.pause_s:g} s after '
                "the outputs arrived. Node columns: the node's /diagnostics (period means, one "
                'per frame).')
    report.line()
    rows = []
    for r in runs:
        if r.failure:
            rows.append([r.preset, f'{r.camera_size[0]}x{r.camera_size[1]}',
                         f'{r.depth_size[0]}x{r.depth_size[1]}', f'0/{args.warmup} warm-up',
                         *['-'] * 12, f'{args.transport}: {r.failure}'])
            continue
        depth = median_p90_ms(r.latency_s['depth/image'])
        points = median_p90_ms(r.latency_s['points'])
        node = median_p90_ms(r.receive_to_publish_s)
        inference = median_p90_ms(r.inference_s)
        rows.append([
            r.preset, f'{r.camera_size[0]}x{r.camera_size[1]}',
            f'{r.depth_size[0]}x{r.depth_size[1]}', f'{r.frames - r.lost}/{r.frames}',
            f'{r.rate_hz:.1f}', f'{depth[0]:.1f}', f'{depth[1]:.1f}', f'{points[0]:.1f}',
            f'{points[1]:.1f}', f'{node[0]:.1f}', f'{node[1]:.1f}', f'{inference[0]:.1f}',
            f'{inference[1]:.1f}', f'**{depth[0] - inference[0]:.1f}**',
            f'**{points[0] - inference[0]:.1f}**', f'{r.single_frame_periods}/'
            f'{len(r.inference_s)}', args.transport])
    report.table(['preset', 'input', 'depth image', 'frames answered', 'rate Hz',
                  'depth/image median', 'p90', 'points median', 'p90',
                  'node receive-to-publish median', 'p90', 'node inference median', 'p90',
                  'DDS + node overhead, depth/image', 'DDS + node overhead, points',
                  'frames alone in their status period', 'transport'], rows)
    report.line('DDS + node overhead: end-to-end median minus inference median.')
    report.write()

    series = []
    for label, values in (
            ('node inference', [r.inference_s for r in runs]),
            ('node receive-to-publish', [r.receive_to_publish_s for r in runs]),
            ('end-to-end depth/image', [r.latency_s['depth/image'] for r in runs]),
            ('end-to-end points', [r.latency_s['points'] for r in runs])):
        stats = [median_p90_ms(v) for v in values]
        series.append(Series(label, [m for m, _ in stats], [p for _, p in stats]))
    bar_plot(report.png_path, [f'{r.preset} {r.camera_size[0]}x{r.camera_size[1]}'
                               for r in runs], series, 'ms (median, whisker: p90)',
             f'Camera image to depth outputs over DDS (depth_node on ONNX Runtime, coarse 6 '
             f'width {args.coarse_fc_width})', log=False)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run every preset and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--presets', nargs='+', default=['nyu', 'kitti'],
                        choices=sorted(CAMERA_SIZES),
                        help="presets, each at its data set's camera size (see --cameras)")
    parser.add_argument('--cameras', nargs='+', type=parse_camera, default=None,
                        metavar='PRESET:WxH',
                        help='cameras to feed instead of --presets, e.g. kitti:1920x1080')
    parser.add_argument('--publisher-depth', type=int, default=10,
                        help="history depth of the camera's reliable publishers (keep last)")
    parser.add_argument('--transport', choices=['large-frames', 'default'],
                        default='large-frames',
                        help="Fast DDS: the demo's large-frame profile, or its default "
                        'settings (no profile)')
    parser.add_argument('--frames', type=int, default=30, help='timed frames per preset')
    parser.add_argument('--warmup', type=int, default=3, help='untimed frames first')
    parser.add_argument('--coarse-fc-width', type=int, default=4096,
                        help='width of coarse layer 6 (4096 in the paper)')
    parser.add_argument('--upsample', type=int, default=1, help="the node's upsample parameter")
    parser.add_argument('--points-rgb', action='store_true', help='clouds with colour')
    parser.add_argument('--pause-s', type=float, default=0.1,
                        help="pause between a frame's outputs arriving and the next frame")
    parser.add_argument('--timeout-s', type=float, default=30.0,
                        help="wait at most this long for a frame's outputs")
    parser.add_argument('--startup-timeout-s', type=float, default=120.0,
                        help='wait at most this long for the node to connect')
    parser.add_argument('--domain-id', type=int, default=None,
                        help='ROS_DOMAIN_ID of the run (random in 1-101 when not given)')
    add_output_dir_argument(parser)
    args = parser.parse_args(argv)
    if args.frames < 1 or args.warmup < 1 or args.publisher_depth < 1:
        parser.error('--frames, --warmup and --publisher-depth must be positive')
    domain_id = (args.domain_id if args.domain_id is not None
                 else random.SystemRandom().randint(1, 101))
    configure_environment(domain_id, args.transport)
    print(f'ROS_DOMAIN_ID={domain_id}, Fast DDS profile '
          f'{os.environ.get("FASTRTPS_DEFAULT_PROFILES_FILE", "(none)")}', flush=True)
    cameras = args.cameras or [(p, CAMERA_SIZES[p]) for p in args.presets]
    runs = []
    try:
        with tempfile.TemporaryDirectory(prefix='msdepth-dds-') as tmp:
            models = {}
            for preset, size in cameras:
                if preset not in models:
                    models[preset] = export_model(preset, args.coarse_fc_width, Path(tmp))
                runs.append(measure(preset, size, models[preset], args, Path(tmp)))
    except BenchmarkError as exc:
        print(f'dds_latency: {exc}', file=sys.stderr)
        return 1
    report = write_report(runs, args)
    print(f'wrote {report.markdown_path} and {report.png_path}')
    failed = [f'{r.camera_size[0]}x{r.camera_size[1]}' for r in runs if r.failure]
    if failed:
        print(f'dds_latency: no output at all for {", ".join(failed)} (see the table)',
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
