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
The LIDAR evaluation without DDS: its thread, the depth image pairing and reader.

The thread takes scans and transforms and gives counts and metrics; depth images pair with
the camera info of their stamp.
"""

from __future__ import annotations

import time

from geometry_msgs.msg import TransformStamped
from msdepth_ros.core.camera import depth_image_from_points
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.metrics import CROPS
from msdepth_ros.core.occupancy import cell_indices, OccupancyScore, occupied_cells
from msdepth_ros.core.online_eval import frame_metrics
from msdepth_ros.core.transforms import apply, matrix_to_quaternion, rigid_transform
from msdepth_ros.msgs import writers
from msdepth_ros.msgs.images import ConversionError
from msdepth_ros.ros.conversions import RCLPY_TYPES
from msdepth_ros.ros.diagnostics import (EVAL_DROPPED_BUSY, EVAL_FAILED, EVAL_NO_SCAN,
                                         EVAL_NO_TRANSFORM, EVAL_SCAN_TOO_FAR, EVAL_SCANS,
                                         FrameStats)
from msdepth_ros.ros.eval_config import EvalConfig
from msdepth_ros.ros.evaluation import (depth_metres, DepthPairing, EvalJob, LidarEvaluator,
                                        LOG_NO_BASE_TRANSFORM, LOG_NO_TRANSFORM)
import numpy as np
import pytest
from sensor_msgs.msg import PointCloud2, PointField

GRID = Intrinsics(20.0, 20.0, 7.5, 5.5, 16, 12)
#: A wall 4 m ahead, one point per depth pixel, in the camera frame.
V, U = np.mgrid[0:GRID.height, 0:GRID.width]
WALL = np.stack([(U - GRID.cx_px) / GRID.fx_px * 4.0, (V - GRID.cy_px) / GRID.fy_px * 4.0,
                 np.full(U.shape, 4.0)], axis=-1).reshape(-1, 3)


def _cloud(points: np.ndarray, stamp_s: float, frame_id: str = 'velo',
           truncate: int = 0) -> PointCloud2:
    msg = PointCloud2()
    msg.header.stamp.sec = int(stamp_s)
    msg.header.stamp.nanosec = int(round((stamp_s - int(stamp_s)) * 1e9))
    msg.header.frame_id = frame_id
    msg.height, msg.width = 1, len(points)
    msg.fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1)
                  for i, n in enumerate('xyz')]
    msg.point_step, msg.row_step = 12, 12 * len(points)
    data = points.astype(np.float32).tobytes()
    msg.data = data[:len(data) - truncate]
    return msg


class _TFMessage:
    """Duck-typed tf2_msgs/TFMessage: its one field."""

    def __init__(self, parent: str, child: str, x_m: float = 0.0, qw: float = 1.0) -> None:
        stamped = TransformStamped()
        stamped.header.frame_id, stamped.child_frame_id = parent, child
        stamped.transform.translation.x = x_m
        stamped.transform.rotation.w = qw
        self.transforms = [stamped]


class Harness:
    """An evaluator with its counters, rejected messages and warnings kept."""

    def __init__(self, **values) -> None:
        self.config = EvalConfig.from_parameters(values)
        self.stats = FrameStats()
        self.rejected: list[tuple[str, str]] = []
        self.logged: list[tuple[str, str]] = []
        self.scored: list[tuple[EvalJob, object, float]] = []
        self.evaluator = LidarEvaluator(self.config, lambda: self.config, self.stats,
                                        lambda kind, msg: self.rejected.append((kind, msg)),
                                        lambda kind, msg: self.logged.append((kind, msg)),
                                        lambda *score: self.scored.append(score))

    def totals(self) -> dict[str, int]:
        return self.stats.report().totals

    def wait(self, predicate, what: str, timeout_s: float = 10.0) -> None:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if predicate():
                return
            time.sleep(0.01)
        raise AssertionError(f'timed out waiting for {what}: {self.totals()}')

    def job(self, stamp_s: float, depth_m: np.ndarray | None = None,
            frame_id: str = 'cam', camera: Intrinsics | None = None) -> EvalJob:
        depth = np.full((GRID.height, GRID.width), 5.0, np.float32) if depth_m is None \
            else depth_m
        return EvalJob(depth, GRID, camera, stamp_s, frame_id)


@pytest.fixture
def harness():
    made = []

    def make(**values):
        made.append(Harness(**values))
        return made[-1]
    yield make
    for h in made:
        h.evaluator.close()


def test_scores_against_the_nearest_scan_through_tf(harness):
    h = harness()
    h.evaluator.add_tf(_TFMessage('cam', 'velo', x_m=0.0))
    h.evaluator.add_cloud(_cloud(WALL, 10.0))
    h.evaluator.add_cloud(_cloud(WALL + [0.0, 0.0, 10.0], 9.0))   # older and farther
    h.wait(lambda: h.totals().get(EVAL_SCANS) == 2, 'two scans')
    depth = np.full((GRID.height, GRID.width), 5.0, np.float32)
    h.evaluator.submit(h.job(10.03, depth))
    h.wait(lambda: h.evaluator.summary()[0].frames == 1, 'a scored frame')
    summary, offset_ms = h.evaluator.summary()
    expected = frame_metrics(depth, depth_image_from_points(WALL, GRID), 1e-3, 80.0)
    assert summary.last_pixels == expected.pixels == GRID.width * GRID.height
    assert summary.run == expected.metrics and summary.run['abs_rel'] == pytest.approx(0.25)
    assert offset_ms == pytest.approx(30.0, abs=1e-3)
    assert not h.rejected
    # The frame's own score goes to on_score (the node publishes it on depth_eval/metrics).
    [(job, score, offset_s, occupancy)] = h.scored
    assert job.stamp_s == 10.03 and offset_s == pytest.approx(0.03)
    assert score.metrics == expected.metrics and score.pixels == expected.pixels


def test_the_crop_is_in_the_pixels_of_the_camera_not_of_the_depth_grid(harness):
    # The depth grid covers part of the camera image at half its pitch: grid pixel (u, v) is
    # camera pixel (2u + 0.5, 2v + 12.5), so Garg's crop (camera rows 19.6 to 47.6 of 48) keeps
    # grid rows 4 to 11, where Garg's fractions of the grid itself would keep rows 5 to 11.
    camera = Intrinsics(40.0, 40.0, 15.5, 23.5, 32, 48)
    h = harness(eval_transform_source='parameters', eval_crop='garg')
    h.evaluator.add_cloud(_cloud(WALL, 10.0))
    h.evaluator.submit(h.job(10.0, camera=camera))
    h.wait(lambda: h.evaluator.summary()[0].frames == 1, 'a scored frame')
    _, score, _, _ = h.scored[0]
    v = np.rint(WALL[:, 1] / 4.0 * camera.fy_px + camera.cy_px)
    u = np.rint(WALL[:, 0] / 4.0 * camera.fx_px + camera.cx_px)
    inside = CROPS['garg'].mask(camera.height, camera.width)[v.astype(int), u.astype(int)]
    assert 0 < score.pixels == inside.sum() < len(WALL)
    # The same fractions of the depth grid would keep other rows.
    assert CROPS['garg'].mask(GRID.height, GRID.width).sum() < score.pixels


def test_no_scan_too_far_no_transform_are_counted(harness):
    h = harness(eval_tolerance_s=0.05)
    h.evaluator.submit(h.job(10.0))
    h.wait(lambda: h.totals().get(EVAL_NO_SCAN) == 1, 'no scan')
    h.evaluator.add_cloud(_cloud(WALL, 10.0))
    h.evaluator.submit(h.job(10.06))
    h.wait(lambda: h.totals().get(EVAL_SCAN_TOO_FAR) == 1, 'scan too far')
    h.evaluator.submit(h.job(10.04))
    h.wait(lambda: h.totals().get(EVAL_NO_TRANSFORM) == 1, 'no transform')
    [(kind, message)] = h.logged
    assert kind == LOG_NO_TRANSFORM and "LIDAR frame 'velo' to the camera frame 'cam'" in message
    # The warning can be switched off at run time.
    h.config = EvalConfig.from_parameters({**h.config.values(), 'eval_warn_no_transform': False})
    h.evaluator.submit(h.job(10.0))
    h.wait(lambda: h.totals().get(EVAL_NO_TRANSFORM) == 2, 'no transform again')
    assert len(h.logged) == 1
    assert h.evaluator.summary()[0].frames == 0


def test_fixed_transform_ignores_frame_ids(harness):
    h = harness(eval_transform_source='parameters', eval_lidar_z_m=1.0)
    h.evaluator.add_cloud(_cloud(WALL, 10.0, frame_id='anything'))
    h.evaluator.submit(h.job(10.0, np.full((GRID.height, GRID.width), 5.0, np.float32)))
    h.wait(lambda: h.evaluator.summary()[0].frames == 1, 'a scored frame')
    # The wall moves to 5 m: a perfect prediction.
    assert h.evaluator.summary()[0].run['abs_rel'] == pytest.approx(0.0, abs=1e-6)


def test_bad_clouds_and_transforms_are_bad_input_and_failures_are_counted(harness):
    h = harness()
    h.evaluator.add_cloud(_cloud(WALL, 10.0, truncate=5))
    h.evaluator.add_tf(_TFMessage('cam', 'cam'))
    h.evaluator.add_tf(_TFMessage('cam', 'velo', qw=0.0))
    h.wait(lambda: len(h.rejected) == 3, 'three rejections')
    assert sorted(kind for kind, _ in h.rejected) == ['pointcloud', 'tf', 'tf']
    assert any('expected (1 rows of' in message for _, message in h.rejected)
    # A depth image that does not fit its grid fails the frame, not the thread.
    h.evaluator.add_tf(_TFMessage('cam', 'velo'))
    h.evaluator.add_cloud(_cloud(WALL, 11.0))
    h.wait(lambda: h.totals().get(EVAL_SCANS) == 2, 'the good scan')
    time.sleep(0.1)
    h.evaluator.submit(h.job(11.0, np.ones((3, 3), np.float32)))
    h.wait(lambda: h.totals().get(EVAL_FAILED) == 1, 'a failed frame')
    h.evaluator.submit(h.job(11.0))
    h.wait(lambda: h.evaluator.summary()[0].frames == 1, 'a scored frame after the failure')


def test_a_waiting_frame_is_replaced_by_a_newer_one(harness):
    h = harness()
    # While the test holds the condition, the evaluation's thread cannot take a frame.
    with h.evaluator._cond:
        h.evaluator.submit(h.job(1.0))
        h.evaluator.submit(h.job(2.0))
    h.wait(lambda: h.totals().get(EVAL_NO_SCAN) == 1, 'the newer frame')
    assert h.totals()[EVAL_DROPPED_BUSY] == 1


def test_depth_pairing_pairs_equal_stamps_newest_only():
    pairing: DepthPairing[str, str] = DepthPairing()
    assert pairing.image((1, 0), 'd1') == (None, 0)
    assert pairing.info((1, 0), 'i1') == (('d1', 'i1'), 0)
    # Camera info first, then its image.
    assert pairing.info((2, 0), 'i2') == (None, 0)
    assert pairing.image((2, 0), 'd2') == (('d2', 'i2'), 0)
    # A newer image replaces one that waits: that one is lost.
    assert pairing.image((3, 0), 'd3') == (None, 0)
    assert pairing.image((4, 0), 'd4') == (None, 1)
    # The camera info of a later stamp: the waiting image can no longer be paired.
    assert pairing.info((5, 0), 'i5') == (None, 1)
    # An image older than the waiting camera info is lost at once; the info still waits.
    assert pairing.image((4, 5), 'd4b') == (None, 1)
    assert pairing.image((5, 0), 'd5') == (('d5', 'i5'), 0)
    # An older camera info does not replace a newer one that waits.
    assert pairing.info((7, 0), 'i7') == (None, 0)
    assert pairing.info((6, 0), 'i6') == (None, 0)
    assert pairing.image((7, 0), 'd7') == (('d7', 'i7'), 0)


def test_depth_images_are_read_in_metres_with_nan_invalid():
    metres = np.array([[1.5, 0.0], [np.inf, -2.0]], np.float32)
    read = depth_metres(writers.image(RCLPY_TYPES, metres, '32FC1'))
    np.testing.assert_array_equal(read, [[1.5, np.nan], [np.nan, np.nan]])
    millimetres = np.array([[1500, 0], [65535, 7]], np.uint16)
    read = depth_metres(writers.image(RCLPY_TYPES, millimetres, '16UC1'))
    np.testing.assert_allclose(read, [[1.5, np.nan], [65.535, 0.007]], rtol=1e-6)
    assert read.dtype == np.float32
    with pytest.raises(ConversionError, match="'rgb8' is not a depth encoding") as caught:
        depth_metres(writers.image(RCLPY_TYPES, np.zeros((2, 2, 3), np.uint8), 'rgb8'))
    assert caught.value.kind == 'encoding'
    truncated = writers.image(RCLPY_TYPES, metres, '32FC1')
    truncated.data = truncated.data[:-1]
    with pytest.raises(ConversionError, match='truncated'):
        depth_metres(truncated)


def _tf(parent: str, child: str, transform: np.ndarray):
    """Duck-typed tf2_msgs/TFMessage of one 4x4 transform (the child's pose in the parent)."""
    msg = _TFMessage(parent, child)
    [stamped] = msg.transforms
    t, r = stamped.transform.translation, stamped.transform.rotation
    t.x, t.y, t.z = (float(v) for v in transform[:3, 3])
    r.x, r.y, r.z, r.w = matrix_to_quaternion(transform[:3, :3])
    return msg


def test_occupancy_bins_both_clouds_in_the_base_frame(harness):
    # The camera 1 m above base_link, looking along its x axis; the LIDAR is the camera here
    # (the fixed transform is the identity). A wall 4.05 m ahead: heights 1 - y from -0.4 to
    # 2.4 m, of which the band 0.1 to 2.0 m marks one row of cells at x = 4.0 to 4.1 m.
    T_base_cam = rigid_transform(np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0],
                                           [0.0, -1.0, 0.0]]), (0.0, 0.0, 1.0))
    wall = WALL * (4.05 / 4.0)
    h = harness(eval_transform_source='parameters', eval_tolerance_s=1.0)
    h.evaluator.add_cloud(_cloud(wall, 10.0))
    h.evaluator.submit(h.job(10.0, np.full((GRID.height, GRID.width), 4.05, np.float32)))
    h.wait(lambda: h.evaluator.occupancy().frames_no_base == 1, 'a frame without base_link')
    assert h.scored[-1][3] is None and h.evaluator.summary()[0].frames == 1
    assert h.logged[-1][0] == LOG_NO_BASE_TRANSFORM and "'base_link'" in h.logged[-1][1]

    h.evaluator.add_tf(_tf('base_link', 'cam', T_base_cam))
    h.evaluator.submit(h.job(10.1, np.full((GRID.height, GRID.width), 4.05, np.float32)))
    h.wait(lambda: h.evaluator.occupancy().frames == 1, 'a frame with occupancy')
    exact = h.scored[-1][3]
    truth = occupied_cells(apply(T_base_cam, wall), T_base_cam, GRID, h.config.occupancy_spec())
    assert exact.tp == truth.size > 10 and (exact.fp, exact.fn) == (0, 0)
    assert set(cell_indices(truth)[:, 0]) == {40}
    assert exact.values() == {'precision': 1.0, 'recall': 1.0, 'iou': 1.0}

    # 25 % short: every cell lands 1 m nearer, none right.
    h.evaluator.submit(h.job(10.2, np.full((GRID.height, GRID.width), 3.0375, np.float32)))
    h.wait(lambda: h.evaluator.occupancy().frames == 2, 'a second frame with occupancy')
    short = h.scored[-1][3]
    assert (short.tp, short.fn) == (0, truth.size) and short.fp > 0
    run = h.evaluator.occupancy()
    assert run.run == exact + short and run.last == short and run.frames_no_base == 1
    # The ceiling: the scan on the depth image's pixels marks the truth's cells exactly.
    assert run.ceiling == OccupancyScore(2 * truth.size, 0, 0)
    assert run.run.precision == pytest.approx(truth.size / (truth.size + short.fp))
    assert not h.rejected


def test_occupancy_off_scores_none(harness):
    h = harness(eval_transform_source='parameters', occupancy=False)
    h.evaluator.add_cloud(_cloud(WALL, 10.0))
    h.evaluator.submit(h.job(10.0))
    h.wait(lambda: h.evaluator.summary()[0].frames == 1, 'a scored frame')
    assert h.scored[-1][3] is None
    assert h.evaluator.occupancy().frames_no_base == 0 and not h.logged
