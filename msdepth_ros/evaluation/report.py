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


"""Reports of an evaluation: the paper's table beside the measured column, JSON, CSV, a PNG."""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

from msdepth_ros.core.colormap import colorize_depth
from msdepth_ros.core.metrics import format_table, METRIC_NAMES, PAPER_RESULTS
from msdepth_ros.data.base import write_atomically
from msdepth_ros.evaluation.evaluate import EvalReport, per_image_columns
import numpy as np


def paper_columns(paper: str | None) -> dict[str, tuple[float, ...]]:
    """Return the paper's Mean, Coarse and Coarse+Fine columns (``nyu`` or ``kitti``)."""
    if paper not in PAPER_RESULTS:
        return {}
    rows = PAPER_RESULTS[paper]
    return {'paper mean': rows['mean'], 'paper coarse': rows['coarse'],
            'paper coarse+fine': rows['coarse+fine']}


def format_report(report: EvalReport, paper: str | None, dataset_label: str = '') -> str:
    """
    Format the paper's table with the measured column first.

    ``paper`` picks the paper's table (``nyu``: Table 1, ``kitti``: Table 2; None: none).
    """
    measured = 'measured (median-scaled)' if report.protocol.median_scaling else 'measured'
    columns: dict[str, Any] = {measured: report.metrics}
    columns.update(paper_columns(paper))
    title = (f'{report.label} on {dataset_label or "the data set"}: '
             f'{len(report.per_image)} images, {report.protocol.describe()}, '
             f'{_pct(report.coverage)} of ground-truth pixels predicted')
    return format_table(columns, title=title)


def _pct(value: float) -> str:
    return '-' if math.isnan(value) else f'{100 * value:.1f}%'


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def report_dict(report: EvalReport, paper: str | None,
                extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Plain data of a report (what ``metrics.json`` holds); NaN becomes null."""
    data = {
        'label': report.label,
        'protocol': {'min_depth_m': report.protocol.min_depth_m,
                     'max_depth_m': report.protocol.max_depth_m,
                     'crop': report.protocol.crop,
                     'median_scaling': report.protocol.median_scaling},
        'images': len(report.per_image),
        'coverage': report.coverage,
        'metrics': report.metrics,
        'paper': {name: dict(zip(METRIC_NAMES, values))
                  for name, values in paper_columns(paper).items()},
        'error_by_depth': report.error_bins,
    }
    data.update(extra or {})
    return _json_safe(data)


def write_report(report: EvalReport, output_dir: str | os.PathLike, paper: str | None,
                 extra: Mapping[str, Any] | None = None, plot: bool = True) -> dict[str, Path]:
    """
    Write ``metrics.json``, ``per_image.csv`` and (``plot``) ``report.png`` into a folder.

    Returns the written paths by kind.
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {'json': out / 'metrics.json', 'csv': out / 'per_image.csv'}
    text = json.dumps(report_dict(report, paper, extra), indent=2)
    write_atomically(paths['json'], lambda tmp: tmp.write_text(text + '\n', encoding='utf-8'))

    def write_csv(tmp: Path) -> None:
        with open(tmp, 'w', newline='', encoding='utf-8') as f:
            writer = csv.writer(f)
            cols = per_image_columns()
            writer.writerow(cols)
            for row in report.per_image:
                writer.writerow([_csv_cell(row.get(c)) for c in cols])
    write_atomically(paths['csv'], write_csv)
    if plot:
        paths['png'] = out / 'report.png'
        plot_report(report, paths['png'])
    return paths


def _colour_range(gt: np.ndarray, min_depth_m: float, max_depth_m: float
                  ) -> tuple[float, float]:
    # The colour map spans the example's own ground truth: the protocol's 1 mm floor would
    # spend most colours on depths nobody sees.
    with np.errstate(invalid='ignore'):
        valid = gt[np.isfinite(gt) & (gt > 0)]
    if valid.size == 0:
        return max(min_depth_m, 0.1), max(max_depth_m, 1.0)
    lo = max(float(valid.min()) * 0.9, min_depth_m, 1e-3)
    hi = min(float(valid.max()) * 1.1, max_depth_m)
    return lo, max(hi, lo * 1.5)


def _csv_cell(value: Any) -> str:
    if isinstance(value, float):
        return '' if math.isnan(value) else f'{value:.6g}'
    return str(value)


def plot_report(report: EvalReport, path: str | os.PathLike) -> Path:
    """
    Draw error against ground-truth depth and a few examples (image, truth, prediction).

    matplotlib is imported here, not at module import.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    n = len(report.examples)
    fig = plt.figure(figsize=(12, 3.2 + 2.2 * n), constrained_layout=True)
    grid = fig.add_gridspec(1 + n, 3, height_ratios=[1.4] + [1.0] * n)
    ax = fig.add_subplot(grid[0, :2])
    bins = report.error_bins
    depth = np.asarray(bins.get('depth_m', []), dtype=float)
    ax.plot(depth, np.asarray(bins.get('abs_rel', []), dtype=float), 'o-', label='abs rel')
    ax.set_xlabel('ground-truth depth (m)')
    ax.set_ylabel('abs rel')
    ax2 = ax.twinx()
    ax2.plot(depth, np.asarray(bins.get('rmse', []), dtype=float), 's--', color='tab:red',
             label='RMSE (m)')
    ax2.set_ylabel('RMSE (m)')
    ax.set_title(f'{report.label}: error against depth ({report.protocol.describe()})',
                 fontsize=9)
    ax.grid(alpha=0.3)
    text_ax = fig.add_subplot(grid[0, 2])
    text_ax.axis('off')
    text_ax.text(0.0, 1.0, '\n'.join(f'{m}: {report.metrics.get(m, math.nan):.3f}'
                                     for m in METRIC_NAMES),
                 va='top', family='monospace', fontsize=9)
    for row, (name, image, gt, pred) in enumerate(report.examples, start=1):
        lo, hi = _colour_range(gt, report.protocol.min_depth_m, report.protocol.max_depth_m)
        for col, (title, picture) in enumerate((
                (name, image),
                ('ground truth', colorize_depth(gt, lo, hi)),
                ('prediction', colorize_depth(pred, lo, hi)))):
            axis = fig.add_subplot(grid[row, col])
            axis.imshow(picture)
            axis.set_title(title, fontsize=8)
            axis.axis('off')
    path = Path(path)

    def save(tmp: Path) -> None:
        fig.savefig(tmp, dpi=80)
    try:
        write_atomically(path, save)
    finally:
        plt.close(fig)
    return path
