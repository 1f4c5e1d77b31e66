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

"""Frame accounting, status levels, sequence gaps and throttled logs (no DDS, a fake clock)."""

from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticStatus
from msdepth_ros.core.metrics import METRIC_NAMES
from msdepth_ros.core.online_eval import frame_metrics, RunningMetrics
from msdepth_ros.ros.diagnostics import (build_status, DROPPED_BUSY, EVAL_DEPTH, EVAL_FAILED,
                                         EVAL_NO_CAMERA, EVAL_NO_DEPTH_INFO, EVAL_NO_SCAN,
                                         EVAL_NO_TRANSFORM, EVAL_SCAN_TOO_FAR, EVAL_SCANS,
                                         evaluation_status, evaluation_values, FrameStats,
                                         LOST_TRANSPORT, RECEIVED, SequenceGaps, SKIPPED_IDLE,
                                         ThrottledLog)
import numpy as np
import pytest


class Clock:
    """Time that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _status(stats: FrameStats, waiting: bool = False, idle: bool = False,
            drop_warn_ratio: float = 0.5):
    status = build_status(stats.report(), 'cam/depth_node: depth', 'torch cpu',
                          [('backend', 'torch')], drop_warn_ratio, waiting, idle)
    values = {kv.key: kv.value for kv in status.values}
    return status, values


def test_rates_latency_and_totals():
    clock = Clock()
    stats = FrameStats(clock)
    stats.add(RECEIVED, 10)
    for i in range(10):
        stats.add_published(latency_s=0.1 + 0.01 * i, inference_s=0.05)
    clock.now += 2.0
    status, values = _status(stats)
    assert status.level == DiagnosticStatus.OK and status.message == 'ok'
    assert status.name == 'cam/depth_node: depth' and status.hardware_id == 'torch cpu'
    assert values['backend'] == 'torch'
    assert values['input rate (Hz)'] == '5.00' and values['output rate (Hz)'] == '5.00'
    assert values['latency receive-to-publish mean (ms)'] == '145.0'
    assert values['latency receive-to-publish max (ms)'] == '190.0'
    assert values['inference mean (ms)'] == '50.0'
    assert values['frames received'] == '10' and values['frames published'] == '10'
    # A new period starts empty; totals stay.
    clock.now += 1.0
    status, values = _status(stats)
    assert values['input rate (Hz)'] == '0.00' and values['frames published'] == '10'
    assert status.level == DiagnosticStatus.WARN and 'no images in the last 1.0 s' in \
        status.message


def test_drops_warn_above_the_ratio_and_add_up():
    clock = Clock()
    stats = FrameStats(clock)
    stats.add(RECEIVED, 8)
    stats.add(DROPPED_BUSY, 6)
    stats.add(LOST_TRANSPORT, 2)
    stats.add_published(0.1, 0.05)
    clock.now += 1.0
    status, values = _status(stats)
    assert status.level == DiagnosticStatus.WARN
    assert 'dropped 80% of frames' in status.message
    assert values['frames dropped'] == '8'
    assert values['frames dropped while busy'] == '6'
    assert values['frames lost before the node'] == '2'
    assert values['drop ratio'] == '0.800'
    stats.add(RECEIVED, 8)
    stats.add(DROPPED_BUSY, 6)
    clock.now += 1.0
    status, _ = _status(stats, drop_warn_ratio=0.9)
    assert 'dropped' not in status.message


def test_bad_messages_are_counted_by_kind_and_warned_in_their_period():
    clock = Clock()
    stats = FrameStats(clock)
    stats.add(RECEIVED, 5)
    assert stats.add_bad('step') == 1
    assert stats.add_bad('step') == 2
    stats.add_bad('encoding')
    clock.now += 1.0
    status, values = _status(stats)
    assert status.level == DiagnosticStatus.WARN
    assert '3 bad messages (encoding 1, step 2)' in status.message
    assert values['bad messages'] == '3'
    assert values['bad messages: step'] == '2' and values['bad messages: encoding'] == '1'
    stats.add(RECEIVED, 1)
    clock.now += 1.0
    status, values = _status(stats)
    assert status.level == DiagnosticStatus.OK and values['bad messages: step'] == '2'


def test_failures_are_errors_and_missing_camera_info_a_warning():
    clock = Clock()
    stats = FrameStats(clock)
    stats.add(RECEIVED)
    stats.add_failure('RuntimeError: CUDA out of memory')
    clock.now += 1.0
    status, values = _status(stats, waiting=True)
    assert status.level == DiagnosticStatus.ERROR
    assert '1 frames failed: RuntimeError: CUDA out of memory' in status.message
    assert 'waiting for camera info' in status.message
    assert values['frames failed'] == '1'


def test_idle_without_subscribers_is_ok():
    clock = Clock()
    stats = FrameStats(clock)
    stats.add(RECEIVED, 3)
    stats.add(SKIPPED_IDLE, 3)
    clock.now += 1.0
    status, values = _status(stats, idle=True)
    assert status.level == DiagnosticStatus.OK and status.message == 'idle: no subscribers'
    assert values['frames skipped without subscribers'] == '3'


def test_evaluation_status_follows_the_counts():
    clock = Clock()
    stats = FrameStats(clock)
    stats.add(EVAL_DEPTH, 9)
    stats.add(EVAL_NO_DEPTH_INFO)
    stats.add(EVAL_NO_CAMERA)
    stats.add(EVAL_SCANS, 5)
    stats.add(EVAL_NO_SCAN)
    stats.add(EVAL_SCAN_TOO_FAR)
    stats.add(EVAL_NO_TRANSFORM, 2)
    running = RunningMetrics(window=1)
    before = evaluation_values(FrameStats(clock).report(), running.summary(),
                               [('crop', 'garg')])
    assert dict(before)['evaluation rmse (run)'] == 'nan'
    gt = np.array([[2.0, 4.0], [8.0, np.nan]])
    running.add(frame_metrics(gt * 1.1, gt, 1e-3, 80.0))
    running.add(frame_metrics(gt, gt, 1e-3, 80.0))
    stats.add_bad('pointcloud')
    clock.now += 2.0
    status = evaluation_status(stats.report(), running.summary(), 'cam/lidar_eval_node: '
                               'evaluation', [('crop', 'garg')], 12.25)
    values = {kv.key: kv.value for kv in status.values}
    # The metrics come last, in order.
    assert [kv.key for kv in status.values][-2 * len(METRIC_NAMES):][0] == \
        'evaluation delta1 (run)'
    assert status.level == DiagnosticStatus.WARN
    assert status.message == ('1 bad messages (pointcloud 1); depth images without their camera '
                              'info (1); waiting for the camera info of the crop (1); no '
                              'transform camera <- LIDAR (2)')
    assert values['depth image rate (Hz)'] == '4.50' and values['scan rate (Hz)'] == '2.50'
    assert values['evaluation depth images received'] == '9'
    assert values['evaluation frames without their camera info'] == '1'
    assert values['evaluation frames without camera intrinsics for the crop'] == '1'
    assert values['evaluation crop'] == 'garg'
    assert values['evaluation frames scored'] == '2'
    assert values['evaluation frames without a scan'] == '1'
    assert values['evaluation frames with no scan in tolerance'] == '1'
    assert values['evaluation frames without transform'] == '2'
    assert values['evaluation scans received'] == '5'
    assert values['evaluation pixels compared (last frame)'] == '3'
    assert values['evaluation scan offset (last frame, ms)'] == '12.2'
    assert values['evaluation window frames'] == '1'
    assert values['evaluation abs_rel (run)'] == '0.05'        # (0.1 + 0) / 2
    assert values['evaluation abs_rel (window)'] == '0'        # the perfect frame only
    assert values['bad messages: pointcloud'] == '1'
    # A quiet period: no depth images, no scans; a failed frame is an error.
    stats.add(EVAL_FAILED)
    clock.now += 1.0
    status = evaluation_status(stats.report(), running.summary(), 'e')
    assert status.level == DiagnosticStatus.ERROR
    assert status.message == ('1 frames failed; no depth images in the last 1.0 s; no LIDAR '
                              'scans in the last 1.0 s')
    stats.add(EVAL_DEPTH)
    stats.add(EVAL_SCANS)
    clock.now += 1.0
    status = evaluation_status(stats.report(), running.summary(), 'e')
    assert (status.level, status.message) == (DiagnosticStatus.OK, 'ok')


@pytest.mark.parametrize('numbers, single, expected', [
    ([1, 2, 3], True, [0, 0, 0]),
    ([1, 2, 5, 6, 10], True, [0, 0, 2, 0, 3]),
    ([7, 3, 4, 9], True, [0, 0, 0, 4]),           # a new publisher restarts the count
    ([1, 5, 9], False, [0, 0, 0]),                # several publishers: numbers interleave
    ([None, 0, 3, 6], True, [0, 0, 0, 2]),        # middleware without sequence numbers
])
def test_sequence_gaps(numbers, single, expected):
    gaps = SequenceGaps()
    assert [gaps.update(n, single) for n in numbers] == expected


def test_throttled_log_once_per_kind_and_period():
    clock = Clock()
    lines = []
    log = ThrottledLog(lines.append, period_s=5.0, clock=clock)
    assert log('step', 'image step 3 is too short')
    assert not log('step', 'image step 3 is too short')
    assert not log('step', 'image step 3 is too short')
    assert log('encoding', "image encoding 'x' is not supported")
    clock.now += 5.0
    assert log('step', 'image step 4 is too short')
    assert lines == ['image step 3 is too short [step]',
                     "image encoding 'x' is not supported [encoding]",
                     'image step 4 is too short [step] (2 more since the last report)']
    log.period_s = 0.0
    assert log('step', 'again') and log('step', 'again')
