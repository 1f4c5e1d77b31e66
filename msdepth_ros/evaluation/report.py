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
    return format_table(columns, title=title) + _surface_table(report.by_surface)


def _surface_table(by_surface: Mapping[str, Mapping[str, float]]) -> str:
    if not by_surface:
        return ''
    lines = ['\nby surface (every scored pixel pooled; log ratio > 0: predicted too far)',
             f'{"surface":10s}{"pixels":>10s}{"delta < 1.25":>15s}{"abs rel":>10s}'
             f'{"log ratio":>12s}']
    for name, row in by_surface.items():
        lines.append(f'{name:10s}{_pct(row["share"]):>10s}{row["delta1"]:15.3f}'
                     f'{row["abs_rel"]:10.3f}{row["log_ratio"]:+12.3f}')
    return '\n' + '\n'.join(lines)


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
        'by_surface': report.by_surface,
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


def visible_depth(depth_m: np.ndarray, sparse_below: float = 0.3) -> tuple[np.ndarray, int]:
    """
    Depth made visible in a picture: sparse points (LIDAR) drawn as small squares.

    Where fewer than ``sparse_below`` of the pixels are valid, each valid pixel is spread over a
    square of ``k x k`` pixels (the nearest depth winning), ``k`` about 1/300 of the image's
    width and at least 3, so that single points survive the downscaling of a figure. Returns
    ``(depth, k)``; ``k`` is 1 for dense depth, which is returned unchanged.
    """
    import cv2
    depth = np.asarray(depth_m, dtype=np.float32)
    with np.errstate(invalid='ignore'):
        valid = np.isfinite(depth) & (depth > 0)
    if valid.mean() >= sparse_below or not valid.any():
        return depth, 1
    k = max(3, int(round(depth.shape[1] / 300)) | 1)
    none = np.float32(1e30)  # cv2.erode pads with the type's maximum, not infinity
    far = np.where(valid, depth, none)
    spread = cv2.erode(far, np.ones((k, k), np.uint8))  # the minimum: nearest depth wins
    spread[spread >= none] = np.nan
    return spread, k


def depth_colorbar(fig: Any, axes: Any, min_depth_m: float, max_depth_m: float,
                   colormap: str = 'turbo', label: str = 'depth (m)', cax: Any = None) -> Any:
    """
    Add a colour bar in metres for pictures made by ``colorize_depth(.., colormap)``.

    The bar uses the same table and the same logarithmic spacing, with ticks at round depths;
    ``axes`` is the matplotlib axis (or axes) it belongs to, ``cax`` an axis to draw it in
    instead (then ``axes`` is unused). Returns the colour bar.
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap, LogNorm
    from matplotlib.ticker import FixedLocator, NullLocator

    from msdepth_ros.core.colormap import colormap_lut
    mappable = ScalarMappable(norm=LogNorm(min_depth_m, max_depth_m),
                              cmap=ListedColormap(colormap_lut(colormap) / 255.0))
    if cax is not None:
        bar = fig.colorbar(mappable, cax=cax)
    else:
        bar = fig.colorbar(mappable, ax=axes, fraction=0.04, pad=0.01)
    bar.set_label(label, fontsize=8)
    ticks = [t for t in (0.5, 1, 2, 3, 5, 10, 20, 30, 50, 80, 100)
             if min_depth_m <= t <= max_depth_m]
    if len(ticks) < 4:  # a narrow range (a room): finer round depths
        ticks = [t for t in (0.5, 0.75, 1, 1.25, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 7, 8, 10)
                 if min_depth_m <= t <= max_depth_m]
    bar.ax.yaxis.set_major_locator(FixedLocator(ticks or [min_depth_m, max_depth_m]))
    bar.ax.yaxis.set_minor_locator(NullLocator())
    bar.ax.set_yticklabels([f'{t:.3g}' for t in (ticks or [min_depth_m, max_depth_m])])
    bar.ax.tick_params(labelsize=7)
    return bar


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
        shown, enlarged = visible_depth(gt)
        gt_title = 'ground truth' + (f' (points drawn {enlarged}x{enlarged} px)'
                                     if enlarged > 1 else '')
        for col, (title, picture) in enumerate((
                (name, image),
                (gt_title, colorize_depth(shown, lo, hi)),
                ('prediction', colorize_depth(pred, lo, hi)))):
            axis = fig.add_subplot(grid[row, col])
            axis.imshow(picture)
            axis.set_title(title, fontsize=8)
            axis.axis('off')
        depth_colorbar(fig, fig.axes[-2:], lo, hi)
    path = Path(path)

    def save(tmp: Path) -> None:
        fig.savefig(tmp, dpi=80)
    try:
        write_atomically(path, save)
    finally:
        plt.close(fig)
    return path
