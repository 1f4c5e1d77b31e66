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
Frame accounting, the ``/diagnostics`` status built from it, and per-kind throttled warnings.

Every image the node takes from its subscription ends in exactly one count: ``published``,
``dropped_busy`` (replaced by a newer frame while waiting for the backend), ``skipped_idle``
(nobody subscribed), ``failed`` (the backend or an output raised), or one of the ``bad`` kinds.
Frames that never reached the node (the keep-last-1 subscription overwrote them, or the
transport lost them) show as gaps in the publisher's sequence numbers: ``lost_transport``.
So ``frames dropped = dropped_busy + lost_transport`` is what a sender sees as sent minus
published, once the bad ones are taken out.

The LIDAR evaluation node (``ros.lidar_eval_node``) counts with the same ``FrameStats``: every
depth image it receives ends in exactly one evaluation count: scored, without pixels to compare
(both in ``core.online_eval.MetricsSummary``), or one of the ``EVAL_*`` counters (no camera
info of its stamp, no camera intrinsics for the crop, no scan, no scan within tolerance, no
transform, replaced while the evaluation was busy, failed) or a bad kind; ``evaluation_status``
is its status.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
import math
import threading
import time
from typing import Callable, Sequence

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from msdepth_ros.core.metrics import METRIC_NAMES
from msdepth_ros.core.online_eval import MetricsSummary

#: Counter names of ``FrameStats``.
RECEIVED = 'received'
PUBLISHED = 'published'
DROPPED_BUSY = 'dropped_busy'
LOST_TRANSPORT = 'lost_transport'
SKIPPED_IDLE = 'skipped_idle'
FAILED = 'failed'
COLORIZED = 'colorized'

#: Bad-input kinds that mean "a frame arrived but its camera is unknown".
KIND_NO_CAMERA_INFO = 'no_camera_info'
KIND_CAMERA_INFO_SIZE = 'camera_info_size'

#: Counter names of the LIDAR evaluation: depth images and scans taken, and what became of each
#: depth image.
EVAL_DEPTH = 'eval_depth_images'
EVAL_NO_DEPTH_INFO = 'eval_no_depth_info'
EVAL_NO_CAMERA = 'eval_no_camera_info'
EVAL_SCANS = 'eval_scans'
EVAL_SCANS_DROPPED = 'eval_scans_dropped'
EVAL_NO_SCAN = 'eval_no_scan'
EVAL_SCAN_TOO_FAR = 'eval_scan_too_far'
EVAL_NO_TRANSFORM = 'eval_no_transform'
EVAL_DROPPED_BUSY = 'eval_dropped_busy'
EVAL_FAILED = 'eval_failed'
#: Bad-input kinds of the evaluation's messages.
KIND_POINTCLOUD = 'pointcloud'
KIND_TF = 'tf'


@dataclass(frozen=True)
class StatsReport:
    """Totals since start and the counts of the period since the previous report."""

    period_s: float
    totals: dict[str, int]
    bad: dict[str, int]
    window: dict[str, int]
    window_bad: dict[str, int]
    latency_mean_ms: float
    latency_max_ms: float
    inference_mean_ms: float
    inference_max_ms: float
    last_failure: str

    @property
    def frames_dropped(self) -> int:
        """Frames sent to the node and never processed: replaced while busy, or lost."""
        return self.totals.get(DROPPED_BUSY, 0) + self.totals.get(LOST_TRANSPORT, 0)

    @property
    def window_drop_ratio(self) -> float:
        """Fraction of this period's frames that were dropped (0 without frames)."""
        dropped = self.window.get(DROPPED_BUSY, 0) + self.window.get(LOST_TRANSPORT, 0)
        arrived = self.window.get(RECEIVED, 0) + self.window.get(LOST_TRANSPORT, 0)
        return dropped / arrived if arrived else 0.0


class FrameStats:
    """
    Thread-safe frame counters and latency samples, reported (and reset) once per period.

    Parameters
    ----------
    clock:
        Monotonic time in seconds (injectable for tests).

    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._totals: Counter[str] = Counter()
        self._bad: Counter[str] = Counter()
        self._window: Counter[str] = Counter()
        self._window_bad: Counter[str] = Counter()
        self._latency_s: list[float] = []
        self._inference_s: list[float] = []
        self._last_failure = ''
        self._window_start = clock()

    def add(self, counter: str, count: int = 1) -> None:
        """Add ``count`` to one of the counters (``RECEIVED``, ``DROPPED_BUSY`` ...)."""
        with self._lock:
            self._totals[counter] += count
            self._window[counter] += count

    def add_bad(self, kind: str) -> int:
        """Count one bad message of ``kind``; return the total of that kind so far."""
        with self._lock:
            self._bad[kind] += 1
            self._window_bad[kind] += 1
            return self._bad[kind]

    def add_failure(self, message: str) -> None:
        """Count a frame whose processing raised; keep the message for the status."""
        with self._lock:
            self._totals[FAILED] += 1
            self._window[FAILED] += 1
            self._last_failure = message

    def add_published(self, latency_s: float, inference_s: float) -> None:
        """Count a published frame with its receive-to-publish latency and inference time."""
        with self._lock:
            self._totals[PUBLISHED] += 1
            self._window[PUBLISHED] += 1
            self._latency_s.append(latency_s)
            self._inference_s.append(inference_s)

    def report(self) -> StatsReport:
        """Return totals and this period's figures, and start a new period."""
        with self._lock:
            now = self._clock()
            latency, inference = self._latency_s, self._inference_s
            report = StatsReport(
                period_s=max(now - self._window_start, 1e-9),
                totals=dict(self._totals), bad=dict(self._bad), window=dict(self._window),
                window_bad=dict(self._window_bad),
                latency_mean_ms=_mean_ms(latency), latency_max_ms=_max_ms(latency),
                inference_mean_ms=_mean_ms(inference), inference_max_ms=_max_ms(inference),
                last_failure=self._last_failure)
            self._window = Counter()
            self._window_bad = Counter()
            self._latency_s, self._inference_s = [], []
            self._window_start = now
            return report


class SequenceGaps:
    """
    Frames lost before the node saw them, from the publisher's sequence numbers.

    DDS numbers each publisher's samples 1, 2, 3 ...; a jump from 5 to 9 means 6, 7 and 8 were
    overwritten in the keep-last subscription or lost on the way. Message info carries no
    publisher id, so gaps are counted only while exactly one publisher is matched; a number
    that does not increase (a new publisher) restarts the count.
    """

    def __init__(self) -> None:
        self._last: int | None = None

    def update(self, sequence_number: int | None, single_publisher: bool) -> int:
        """Return how many frames were skipped before this one (0 when unknown)."""
        if not sequence_number or not single_publisher:
            self._last = None
            return 0
        last, self._last = self._last, sequence_number
        if last is None or sequence_number <= last:
            return 0
        return sequence_number - last - 1


class ThrottledLog:
    """
    Log each kind of problem at once the first time, then at most once per ``period_s``.

    Parameters
    ----------
    emit:
        Writes one line (the node's ``logger.warning``).
    period_s:
        Minimum time between two lines of the same kind; can be changed at run time.
    clock:
        Monotonic time in seconds (injectable for tests).

    """

    def __init__(self, emit: Callable[[str], None], period_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._emit = emit
        self.period_s = period_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last_s: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()

    def __call__(self, kind: str, message: str) -> bool:
        """Log ``message`` under ``kind`` unless that kind was logged within the period."""
        with self._lock:
            now = self._clock()
            last = self._last_s.get(kind)
            if last is not None and now - last < self.period_s:
                self._suppressed[kind] += 1
                return False
            suppressed = self._suppressed.pop(kind, 0)
            self._last_s[kind] = now
        more = f' ({suppressed} more since the last report)' if suppressed else ''
        self._emit(f'{message} [{kind}]{more}')
        return True


def build_status(report: StatsReport, name: str, hardware_id: str,
                 static_values: Sequence[tuple[str, str]], drop_warn_ratio: float,
                 waiting_for_camera_info: bool, idle: bool,
                 extra_values: Sequence[tuple[str, str]] = (),
                 warnings: Sequence[str] = ()) -> DiagnosticStatus:
    """
    Build the node's ``diagnostic_msgs/DiagnosticStatus`` for one period.

    Parameters
    ----------
    report:
        ``FrameStats.report()``.
    name, hardware_id:
        Status name (``<node>: depth``) and hardware id (backend and device).
    static_values:
        Key-value pairs that do not change (backend, device, model, topics ...).
    drop_warn_ratio:
        Warn when more than this fraction of the period's frames were dropped.
    waiting_for_camera_info:
        True while images arrive but no usable camera info has.
    idle:
        True while no output has a subscriber and outputs are skipped.
    extra_values:
        Key-value pairs appended after the counts (``evaluation_values``).
    warnings:
        Lasting conditions to warn about whatever the counts (the demo model runs; ``auto``
        passed over a GPU backend; no publisher yet), each a WARN.

    Returns
    -------
    ERROR when frames failed in the backend this period; WARN for frames without camera info,
    bad input, a high drop ratio or no images; OK otherwise. ``message`` says why.

    """
    window, totals = report.window, report.totals
    problems: list[tuple[int, str]] = []
    if window.get(FAILED, 0):
        problems.append((DiagnosticStatus.ERROR, f'{window[FAILED]} frames failed: '
                                                 f'{report.last_failure}'))
    problems += [(DiagnosticStatus.WARN, text) for text in warnings]
    if waiting_for_camera_info:
        problems.append((DiagnosticStatus.WARN, 'waiting for camera info'))
    bad_in_window = sum(report.window_bad.values())
    if bad_in_window:
        kinds = ', '.join(f'{kind} {count}' for kind, count in sorted(report.window_bad.items()))
        problems.append((DiagnosticStatus.WARN, f'{bad_in_window} bad messages ({kinds})'))
    ratio = report.window_drop_ratio
    if ratio > drop_warn_ratio:
        problems.append((DiagnosticStatus.WARN, f'dropped {100.0 * ratio:.0f}% of frames '
                                                '(the backend is slower than the camera)'))
    if not window.get(RECEIVED, 0) and not window.get(LOST_TRANSPORT, 0):
        problems.append((DiagnosticStatus.WARN, f'no images in the last {report.period_s:.1f} s'))
    status = DiagnosticStatus()
    status.name = name
    status.hardware_id = hardware_id
    if problems:
        status.level = max(level for level, _ in problems)
        status.message = '; '.join(text for _, text in problems)
    else:
        status.level = DiagnosticStatus.OK
        status.message = 'idle: no subscribers' if idle else 'ok'
    values = list(static_values) + [
        ('input rate (Hz)', f'{window.get(RECEIVED, 0) / report.period_s:.2f}'),
        ('output rate (Hz)', f'{window.get(PUBLISHED, 0) / report.period_s:.2f}'),
        ('latency receive-to-publish mean (ms)', f'{report.latency_mean_ms:.1f}'),
        ('latency receive-to-publish max (ms)', f'{report.latency_max_ms:.1f}'),
        ('inference mean (ms)', f'{report.inference_mean_ms:.1f}'),
        ('inference max (ms)', f'{report.inference_max_ms:.1f}'),
        ('drop ratio', f'{ratio:.3f}'),
        ('frames received', str(totals.get(RECEIVED, 0))),
        ('frames published', str(totals.get(PUBLISHED, 0))),
        ('frames dropped', str(report.frames_dropped)),
        ('frames dropped while busy', str(totals.get(DROPPED_BUSY, 0))),
        ('frames lost before the node', str(totals.get(LOST_TRANSPORT, 0))),
        ('frames skipped without subscribers', str(totals.get(SKIPPED_IDLE, 0))),
        ('frames failed', str(totals.get(FAILED, 0))),
        ('colorized published', str(totals.get(COLORIZED, 0))),
        ('bad messages', str(sum(report.bad.values()))),
    ] + [(f'bad messages: {kind}', str(count)) for kind, count in sorted(report.bad.items())]
    values += list(extra_values)
    status.values = [KeyValue(key=key, value=value) for key, value in values]
    return status


def evaluation_values(report: StatsReport, summary: MetricsSummary,
                      static_values: Sequence[tuple[str, str]] = (),
                      last_offset_ms: float = math.nan) -> list[tuple[str, str]]:
    """
    Key-value pairs of the online evaluation, every key starting with ``evaluation``.

    Parameters
    ----------
    report:
        ``FrameStats.report()`` (its ``EVAL_*`` totals).
    summary:
        ``core.online_eval.RunningMetrics.summary()``.
    static_values:
        Pairs that do not change (topic, transform source, caps, crop), keys without the
        ``evaluation`` prefix.
    last_offset_ms:
        Stamp of the last scored image minus that of its scan, milliseconds.

    Returns
    -------
    Counts, pixels compared, and each metric of ``METRIC_NAMES`` as ``evaluation <name> (run)``
    (mean over every scored frame) and ``evaluation <name> (window)`` (over the last
    ``evaluation window frames``); metrics with 6 significant digits, ``nan`` before the first
    scored frame.

    """
    totals = report.totals
    values = [(f'evaluation {key}', value) for key, value in static_values] + [
        ('evaluation depth images received', str(totals.get(EVAL_DEPTH, 0))),
        ('evaluation frames scored', str(summary.frames)),
        ('evaluation frames without pixels to compare', str(summary.frames_empty)),
        ('evaluation frames without their camera info', str(totals.get(EVAL_NO_DEPTH_INFO, 0))),
        ('evaluation frames without camera intrinsics for the crop',
         str(totals.get(EVAL_NO_CAMERA, 0))),
        ('evaluation frames without a scan', str(totals.get(EVAL_NO_SCAN, 0))),
        ('evaluation frames with no scan in tolerance', str(totals.get(EVAL_SCAN_TOO_FAR, 0))),
        ('evaluation frames without transform', str(totals.get(EVAL_NO_TRANSFORM, 0))),
        ('evaluation frames dropped while busy', str(totals.get(EVAL_DROPPED_BUSY, 0))),
        ('evaluation frames failed', str(totals.get(EVAL_FAILED, 0))),
        ('evaluation scans received', str(totals.get(EVAL_SCANS, 0))),
        ('evaluation scans dropped while busy', str(totals.get(EVAL_SCANS_DROPPED, 0))),
        ('evaluation pixels compared (last frame)', str(summary.last_pixels)),
        ('evaluation pixels compared (mean per frame)', f'{summary.mean_pixels:.1f}'),
        ('evaluation scan offset (last frame, ms)', f'{last_offset_ms:.1f}'),
        ('evaluation window frames', str(summary.window_frames)),
    ]
    values += [(f'evaluation {name} (run)', f'{summary.run[name]:.6g}') for name in METRIC_NAMES]
    values += [(f'evaluation {name} (window)', f'{summary.window[name]:.6g}')
               for name in METRIC_NAMES]
    return values


def evaluation_status(report: StatsReport, summary: MetricsSummary, name: str,
                      static_values: Sequence[tuple[str, str]] = (),
                      last_offset_ms: float = math.nan,
                      warnings: Sequence[str] = ()) -> DiagnosticStatus:
    """
    Build the LIDAR evaluation node's ``diagnostic_msgs/DiagnosticStatus`` for one period.

    Parameters
    ----------
    report, summary, static_values, last_offset_ms:
        As ``evaluation_values``, whose pairs are the status's values after ``bad messages``
        (by kind).
    name:
        Status name (``<node>: evaluation``); the hardware id is ``lidar evaluation``.
    warnings:
        Lasting conditions to warn about (no publisher yet), each a WARN.

    Returns
    -------
    ERROR when frames failed this period; WARN for lasting warnings, bad input, depth images
    without their camera info, frames without a transform or without camera intrinsics for the
    crop, no depth images or no scans this period; OK otherwise.

    """
    window = report.window
    problems: list[tuple[int, str]] = []
    if window.get(EVAL_FAILED, 0):
        problems.append((DiagnosticStatus.ERROR, f'{window[EVAL_FAILED]} frames failed'))
    problems += [(DiagnosticStatus.WARN, text) for text in warnings]
    bad_in_window = sum(report.window_bad.values())
    if bad_in_window:
        kinds = ', '.join(f'{kind} {count}' for kind, count in sorted(report.window_bad.items()))
        problems.append((DiagnosticStatus.WARN, f'{bad_in_window} bad messages ({kinds})'))
    for counter, text in ((EVAL_NO_DEPTH_INFO, 'depth images without their camera info'),
                          (EVAL_NO_CAMERA, 'waiting for the camera info of the crop'),
                          (EVAL_NO_TRANSFORM, 'no transform camera <- LIDAR')):
        if window.get(counter, 0):
            problems.append((DiagnosticStatus.WARN, f'{text} ({window[counter]})'))
    for counter, text in ((EVAL_DEPTH, 'depth images'), (EVAL_SCANS, 'LIDAR scans')):
        if not window.get(counter, 0):
            problems.append((DiagnosticStatus.WARN,
                             f'no {text} in the last {report.period_s:.1f} s'))
    status = DiagnosticStatus()
    status.name = name
    status.hardware_id = 'lidar evaluation'
    if problems:
        status.level = max(level for level, _ in problems)
        status.message = '; '.join(text for _, text in problems)
    else:
        status.level = DiagnosticStatus.OK
        status.message = 'ok'
    values = [('depth image rate (Hz)', f'{window.get(EVAL_DEPTH, 0) / report.period_s:.2f}'),
              ('scan rate (Hz)', f'{window.get(EVAL_SCANS, 0) / report.period_s:.2f}'),
              ('bad messages', str(sum(report.bad.values())))]
    values += [(f'bad messages: {kind}', str(count)) for kind, count in sorted(report.bad.items())]
    values += evaluation_values(report, summary, static_values, last_offset_ms)
    status.values = [KeyValue(key=key, value=value) for key, value in values]
    return status


def _mean_ms(samples_s: list[float]) -> float:
    return 1e3 * sum(samples_s) / len(samples_s) if samples_s else 0.0


def _max_ms(samples_s: list[float]) -> float:
    return 1e3 * max(samples_s) if samples_s else 0.0
