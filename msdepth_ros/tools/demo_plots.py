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
The demo's picture: depth on the synthetic drive, and the same model on a real KITTI frame.

``depth_grid.png`` has one row per synthetic frame (input, the node's depth, the exact depth,
the error) and, where the real sample data is present (``kitti_raw_mini`` under
``../shared/data`` beside the checkout, or ``$MSDEPTH_SHARED_DATA``), a second section: the
same model on a real KITTI image against its Velodyne depth. The demo model learnt on synthetic
streets only, and the picture says so: on a real image its depth shows what such a model does,
not what the method can do.
"""

from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path
from typing import Any

from msdepth_ros.core.colormap import colorize_depth
from msdepth_ros.evaluation.report import depth_colorbar, visible_depth
import numpy as np

#: Depth range of the picture's colours, metres: from 3 m (about the nearest road a car's
#: camera sees; nearer depths take 3 m's colour) to KITTI's 80 m cap. From 1 m, a street's walls
#: (about 10 m) and the boxes before them (5 to 8 m) took nearly the same green.
DEPTH_RANGE_M = (3.0, 80.0)
#: Abs rel error range of the error panels.
ERROR_MAX = 0.5

Example = tuple[str, np.ndarray, np.ndarray, np.ndarray]


@dataclass
class RealFrame:
    """The model on one real KITTI frame: ``(name, image, Velodyne depth, prediction)``."""

    example: Example
    metrics: dict[str, float]
    source: str


def shared_data_dir(package_root: Path) -> Path | None:
    """``$MSDEPTH_SHARED_DATA``, else ``../shared/data`` beside the checkout, if present."""
    env = os.environ.get('MSDEPTH_SHARED_DATA')
    path = Path(env) if env else package_root.parent / 'shared' / 'data'
    return path if path.is_dir() else None


def real_kitti_frame(model_path: Path, shared_dir: Path | None) -> RealFrame | None:
    """
    Run the model (ONNX Runtime) on the first frame of ``kitti_raw_mini``.

    Returns None where the sample data is absent. The prediction is the network's depth image
    read on the camera grid (``evaluation.evaluate``), the truth the frame's Velodyne scan at
    the pixels whose centres its points hit (``exact``); the metrics are KITTI's protocol.
    """
    if shared_dir is None:
        return None
    root = shared_dir / 'kitti_raw_mini'
    split = root / 'test_files.txt'
    if not split.is_file():
        return None
    from msdepth_ros.data.base import SubsetDataset
    from msdepth_ros.data.kitti import KittiRawDataset
    from msdepth_ros.evaluation.evaluate import EvalProtocol, evaluate
    from msdepth_ros.tools.evaluate import ModelSource

    dataset = SubsetDataset(KittiRawDataset(root, split), [0])
    source = ModelSource(str(model_path), 'onnxruntime')
    try:
        report = evaluate(source, dataset, EvalProtocol.for_preset('kitti'), keep_examples=1)
    finally:
        source.close()
    return RealFrame(example=report.examples[0], metrics=report.metrics, source=str(root))


def _error(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    with np.errstate(invalid='ignore', divide='ignore'):
        covered = np.isfinite(gt) & (gt > 0) & np.isfinite(pred)
        error = np.where(covered, np.abs(pred - gt) / gt, np.nan)
    return error.astype(np.float32)


def _row(fig: Any, axes: Any, example: Example, titles: tuple[str, str, str, str]) -> Any:
    """Draw input, prediction, truth and error on four axes; return the error image."""
    name, image, gt, pred = example
    lo, hi = DEPTH_RANGE_M
    shown_gt, _ = visible_depth(gt)
    error = _error(shown_gt, pred)
    pictures = (image, colorize_depth(pred, lo, hi), colorize_depth(shown_gt, lo, hi), None)
    for ax, picture, title in zip(axes, pictures, titles):
        if picture is None:
            error_image = ax.imshow(error, cmap='magma', vmin=0.0, vmax=ERROR_MAX,
                                    interpolation='nearest')
        else:
            ax.imshow(picture, interpolation='nearest')
        ax.set_title(title, fontsize=9)
        ax.axis('off')
    return error_image


def _panel_axes(fig: Any, rows: int) -> tuple[np.ndarray, Any, Any]:
    """``rows x 4`` picture axes with a depth colour bar after column 3 and one after column 4."""
    grid = fig.add_gridspec(rows, 6, width_ratios=[1, 1, 1, 0.03, 1, 0.03])
    axes = np.array([[fig.add_subplot(grid[r, c]) for c in (0, 1, 2, 4)] for r in range(rows)])
    return axes, fig.add_subplot(grid[:, 3]), fig.add_subplot(grid[:, 5])


def plot_grid(path: Path, frames: list[Example], real: RealFrame | None = None,
              real_note: str = '') -> None:
    """
    Write the demo's PNG.

    Parameters
    ----------
    path:
        The PNG to write.
    frames:
        ``(name, image, true depth, predicted depth on the camera grid)`` of synthetic frames,
        one row each.
    real:
        The model on a real KITTI frame (``real_kitti_frame``); None leaves the section out.
    real_note:
        Shown where ``real`` is None (why the real frame is missing).

    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    rows = len(frames)
    real_rows = 1 if real is not None else 0
    height = 1.55 * rows + 0.9 + (2.3 if real_rows else 0.35)
    fig = plt.figure(figsize=(18, height), layout='constrained')
    synth_fig, real_fig = fig.subfigures(2, 1, height_ratios=[1.55 * rows + 0.9,
                                                              2.3 if real_rows else 0.35])
    axes, depth_cax, error_cax = _panel_axes(synth_fig, rows)
    for r, example in enumerate(frames):
        frame = example[0].split()[-2] if len(example[0].split()) > 2 else example[0]
        error_image = _row(synth_fig, axes[r], example, (
            f'input, synthetic frame {frame}', 'predicted depth (depth_node)',
            'true depth (exact; sky has none)', f'abs rel error (0 to {ERROR_MAX:g})'))
    lo, hi = DEPTH_RANGE_M
    depth_colorbar(synth_fig, None, lo, hi, cax=depth_cax)
    synth_fig.colorbar(error_image, cax=error_cax).set_label('|pred - true| / true', fontsize=8)
    synth_fig.suptitle(
        'depth_node on a synthetic street it never saw (the demo model was trained on synthetic '
        "streets); black: no prediction (outside the network's view) or no truth (sky)",
        fontsize=11)
    if real is not None:
        real_axes, depth_cax, error_cax = _panel_axes(real_fig, 1)
        error_image = _row(real_fig, real_axes[0], real.example, (
            'input: real KITTI frame (2011-09-26, camera 2)',
            'predicted depth (same model, ONNX Runtime)',
            'Velodyne depth (points enlarged)', f'abs rel error (0 to {ERROR_MAX:g})'))
        depth_colorbar(real_fig, None, lo, hi, cax=depth_cax)
        bar = real_fig.colorbar(error_image, cax=error_cax)
        bar.set_label('|pred - true| / true', fontsize=8)
        m = real.metrics
        real_fig.suptitle(
            'A synthetic-trained model on a real image: expect poor depth '
            f"(this frame: delta < 1.25 {m.get('delta1', float('nan')):.2f}, abs rel "
            f"{m.get('abs_rel', float('nan')):.2f}); a KITTI-trained model is what the "
            'method needs (docs/training.md)', fontsize=11, color='darkred')
    else:
        real_fig.suptitle(real_note or 'real KITTI frame: sample data absent, row left out',
                          fontsize=10)

    fig.savefig(path, dpi=110)  # each panel about 450 pixels wide: box edges survive
    plt.close(fig)
