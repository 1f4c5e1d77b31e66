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

"""The log of a training run: ``log.csv`` (and TensorBoard where it is installed)."""

from __future__ import annotations

import csv
import math
from pathlib import Path
import time
from typing import Any

from msdepth_ros.core.metrics import METRIC_NAMES

LOG_COLUMNS = ('time_s', 'stage', 'step', 'samples', 'loss', 'step_s', 'val_loss') + tuple(
    f'val_{m}' for m in METRIC_NAMES)


class RunLog:
    """The CSV log (and TensorBoard, when installed) of one run; written by rank 0 only."""

    def __init__(self, output_dir: Path, enabled: bool, elapsed_s: float = 0.0) -> None:
        self.enabled = enabled
        self.rows: list[dict[str, Any]] = []
        self.path = output_dir / 'log.csv'
        self._t0 = time.time() - elapsed_s  # a resumed run's clock continues
        self._tb = None
        if not enabled:
            return
        if not self.path.exists():
            with open(self.path, 'w', newline='', encoding='utf-8') as f:
                csv.writer(f).writerow(LOG_COLUMNS)
        try:  # TensorBoard is optional: log there only where it is installed.
            from torch.utils.tensorboard import SummaryWriter
            self._tb = SummaryWriter(str(output_dir / 'tensorboard'))
        except ImportError:
            self._tb = None

    def elapsed_s(self) -> float:
        """Seconds of training so far (across resumes)."""
        return time.time() - self._t0

    def write(self, stage: str, step: int, samples: int, **values: float) -> None:
        """Append one row (training loss or validation metrics)."""
        row: dict[str, Any] = {'time_s': round(self.elapsed_s(), 3), 'stage': stage,
                               'step': step, 'samples': samples}
        row.update(values)
        self.rows.append(row)
        if not self.enabled:
            return
        with open(self.path, 'a', newline='', encoding='utf-8') as f:
            csv.writer(f).writerow([_cell(row.get(c)) for c in LOG_COLUMNS])
        if self._tb is not None:
            for key, value in values.items():
                if value is not None and not math.isnan(value):
                    self._tb.add_scalar(f'{stage}/{key}', value, samples)

    def close(self) -> None:
        """Flush TensorBoard."""
        if self._tb is not None:
            self._tb.close()


def _cell(value: Any) -> str:
    if value is None:
        return ''
    if isinstance(value, float):
        return '' if math.isnan(value) else f'{value:.6g}'
    return str(value)
