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
What every benchmark script writes: a Markdown table and a PNG plot in ``--output-dir``.

A run of ``benchmarks/<name>.py`` prints its report and writes it as ``<name>.md``, and plots
its medians with p90 whiskers as ``<name>.png`` (matplotlib's Agg backend, no display needed),
on a log axis where the values span orders of magnitude. The scripts import this module by
name: Python puts the script's folder (``benchmarks/``) first on ``sys.path``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
import math
from pathlib import Path
import textwrap
from typing import Iterable, Sequence

import numpy as np

#: Where the reports go unless ``--output-dir`` says otherwise (git-ignored).
DEFAULT_OUTPUT_DIR = Path(__file__).resolve().parent / 'results'

#: Above this ratio of the largest to the smallest plotted value the value axis is logarithmic.
LOG_SCALE_RATIO = 30.0

#: Resolution of the PNG files: small enough to commit under docs/images/.
PNG_DPI = 80


def add_output_dir_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--output-dir`` (the folder of ``<name>.md`` and ``<name>.png``) to ``parser``."""
    parser.add_argument('--output-dir', type=Path, default=DEFAULT_OUTPUT_DIR,
                        help='folder for the Markdown table and the PNG plot of this run')


def median_p90_ms(samples_s: Sequence[float]) -> tuple[float, float]:
    """Return the median and the 90th percentile of ``samples_s`` (seconds) in milliseconds."""
    values = np.asarray(samples_s, dtype=np.float64)
    if values.size == 0:
        return math.nan, math.nan
    return 1e3 * float(np.median(values)), 1e3 * float(np.percentile(values, 90))


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Return a Markdown table (one line per row, cells as given, no trailing newline)."""
    lines = ['| ' + ' | '.join(headers) + ' |', '|' + ' --- |' * len(headers)]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f'a row has {len(row)} cells, the table {len(headers)} columns')
        lines.append('| ' + ' | '.join(str(cell) for cell in row) + ' |')
    return '\n'.join(lines)


class Report:
    """
    Markdown text that is printed as it is built and written to ``<output_dir>/<name>.md``.

    Parameters
    ----------
    output_dir:
        Folder of the report (created when written).
    name:
        File name without suffix: the script's name.

    """

    def __init__(self, output_dir: Path, name: str) -> None:
        self.output_dir = Path(output_dir)
        self.name = name
        self._lines: list[str] = []

    @property
    def markdown_path(self) -> Path:
        """Return the path of the Markdown file."""
        return self.output_dir / f'{self.name}.md'

    @property
    def png_path(self) -> Path:
        """Return the path of the plot."""
        return self.output_dir / f'{self.name}.png'

    def line(self, text: str = '') -> None:
        """Print ``text`` and keep it for the file."""
        print(text, flush=True)
        self._lines.append(text)

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        """Print a Markdown table and keep it, with a blank line after it."""
        self.line(markdown_table(headers, rows))
        self.line()

    def write(self) -> Path:
        """Write everything printed so far to ``<output_dir>/<name>.md``; return the path."""
        self.output_dir.mkdir(parents=True, exist_ok=True)
        text = '\n'.join(self._lines).rstrip('\n') + '\n'
        self.markdown_path.write_text(text, encoding='utf-8')
        return self.markdown_path


@dataclass(frozen=True)
class Series:
    """
    One plotted quantity: medians (ms) per category or x value, with optional p90s.

    NaN marks a category without a value (a backend this machine cannot run).
    """

    label: str
    medians: Sequence[float]
    p90s: Sequence[float] | None = None
    linestyle: str = '-'
    color: str | None = None


def wants_log_scale(series: Sequence[Series]) -> bool:
    """Return True when the positive plotted values span more than ``LOG_SCALE_RATIO``."""
    values = [v for s in series for v in list(s.medians) + list(s.p90s or [])
              if math.isfinite(v) and v > 0]
    return bool(values) and max(values) / min(values) > LOG_SCALE_RATIO


def _whiskers(s: Series) -> np.ndarray | None:
    """Asymmetric error bars from the median up to the p90 (none below the median)."""
    if s.p90s is None:
        return None
    medians = np.asarray(s.medians, dtype=np.float64)
    upper = np.nan_to_num(np.asarray(s.p90s, dtype=np.float64) - medians, nan=0.0)
    return np.vstack([np.zeros_like(upper), np.maximum(upper, 0.0)])


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def bar_plot(path: Path, categories: Sequence[str], series: Sequence[Series], ylabel: str,
             title: str, log: bool | None = None) -> Path:
    """
    Write grouped bars of the medians with p90 whiskers, one group per category, as a PNG.

    Parameters
    ----------
    path:
        The ``.png`` file (its folder is created).
    categories:
        Group labels on the x axis; every series has one value per category.
    series:
        The bars of each group, in order.
    ylabel, title:
        Axis label (with the unit) and title.
    log:
        Logarithmic value axis; None: when the values span orders of magnitude.

    """
    plt = _pyplot()
    log = wants_log_scale(series) if log is None else log
    fig_width_in = max(6.0, 1.2 + 0.5 * len(categories) * len(series))
    fig, ax = plt.subplots(figsize=(fig_width_in, 4.2), layout='constrained')
    width = 0.8 / max(1, len(series))
    x = np.arange(len(categories), dtype=np.float64)
    for i, s in enumerate(series):
        medians = np.asarray(s.medians, dtype=np.float64)
        if len(medians) != len(categories):
            raise ValueError(f'series {s.label!r} has {len(medians)} values for '
                             f'{len(categories)} categories')
        ax.bar(x + (i - (len(series) - 1) / 2) * width, np.nan_to_num(medians, nan=0.0), width,
               yerr=_whiskers(s), capsize=2, label=s.label, color=s.color,
               error_kw={'linewidth': 0.8})
    ax.set_xticks(x, categories, fontsize=8)
    if log:
        ax.set_yscale('log')
    ax.set_ylabel(ylabel)
    ax.set_title(_wrap(title, fig_width_in), fontsize=10)
    ax.grid(axis='y', which='both', alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, path)


def line_plot(path: Path, x: Sequence[float], series: Sequence[Series], xlabel: str,
              ylabel: str, title: str, log_x: bool = True, log_y: bool | None = None) -> Path:
    """
    Write lines of the medians against ``x`` with p90 whiskers as a PNG.

    Parameters
    ----------
    path:
        The ``.png`` file (its folder is created).
    x:
        The x values (in the order of every series' medians).
    series:
        One line each.
    xlabel, ylabel, title:
        Axis labels (with units) and title.
    log_x, log_y:
        Logarithmic axes; ``log_y`` None: when the values span orders of magnitude.

    """
    plt = _pyplot()
    log_y = wants_log_scale(series) if log_y is None else log_y
    fig, ax = plt.subplots(figsize=(7.0, 4.4), layout='constrained')
    for s in series:
        ax.errorbar(np.asarray(x, dtype=np.float64), np.asarray(s.medians, dtype=np.float64),
                    yerr=_whiskers(s), linestyle=s.linestyle, marker='o', markersize=3,
                    capsize=2, label=s.label, color=s.color)
    if log_x:
        ax.set_xscale('log')
    if log_y:
        ax.set_yscale('log')
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(_wrap(title, 7.0), fontsize=10)
    ax.grid(which='both', alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, path)


def _wrap(title: str, fig_width_in: float) -> str:
    """Break ``title`` into lines that fit a figure ``fig_width_in`` inches wide."""
    return textwrap.fill(title, width=int(11 * fig_width_in))


def _save(fig, path: Path) -> Path:
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=PNG_DPI)
    plt.close(fig)
    return path
