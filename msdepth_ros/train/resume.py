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
Resuming a training run: which checkpoint, whether the config still matches, and the log.

A resumed run must continue the run it resumes, not start another one under its name: ``auto``
without a checkpoint says that it starts from step 0; a config that differs from the one the
checkpoint was trained with is refused (with the differences) unless the caller allows it; and
``log.csv`` is cut back to the checkpoint's step, its ``time_s`` continuing from the
checkpoint's elapsed training time.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
import logging
import os
from pathlib import Path
from typing import Any, Sequence

from msdepth_ros.model.checkpoint import read_checkpoint_file
from msdepth_ros.train.config import ConfigError

LOGGER = logging.getLogger('msdepth_ros.train')

#: Config keys that may differ on resume: where and how fast the run goes, not what it learns.
RESUME_FREE_KEYS = ('device', 'workers', 'output_dir')


@dataclass
class ResumeState:
    """What a resumable checkpoint holds besides the weights."""

    path: Path
    stages_done: list[str]
    stage: str | None
    step: int
    elapsed_s: float | None
    optimizer: Any
    scaler: Any
    state_dict: Any
    train_config: dict[str, Any] | None


@dataclass
class RunState:
    """
    Where a run stands: the stages it finished, and the stage under way.

    ``stage``, ``step``, ``optimizer`` and ``scaler`` describe a stage interrupted part-way
    (what a resumable checkpoint restores); they are cleared when the stage finishes.
    """

    stages_done: list[str] = field(default_factory=list)
    stage: str | None = None
    step: int = 0
    optimizer: Any = None
    scaler: Any = None

    @classmethod
    def resumed(cls, resume: ResumeState) -> RunState:
        """Return the state that a resumable checkpoint recorded."""
        return cls(stages_done=list(resume.stages_done), stage=resume.stage, step=resume.step,
                   optimizer=resume.optimizer, scaler=resume.scaler)

    def start_step(self, stage: str) -> int:
        """Return the step at which ``stage`` starts (0 unless it was interrupted)."""
        return self.step if self.stage == stage else 0

    def restore(self, stage: str, optimizer: Any, scaler: Any) -> None:
        """Load the optimizer's (and gradient scaler's) state where ``stage`` was interrupted."""
        if self.stage == stage and self.optimizer is not None:
            optimizer.load_state_dict(self.optimizer)
            if self.scaler:
                scaler.load_state_dict(self.scaler)

    def finish(self, stage: str) -> None:
        """Record ``stage`` as done; nothing is under way any more."""
        self.stages_done = list(self.stages_done) + [stage]
        self.stage, self.optimizer, self.scaler = None, None, None


def resume_path(resume: str | os.PathLike | None, out_dir: Path,
                checkpoint_name: str) -> Path | None:
    """
    Return the checkpoint to resume from, or None for a new run.

    ``auto`` takes ``out_dir / checkpoint_name`` when it exists, and says so in the log when it
    does not (the run then starts from step 0). An explicit path must exist.
    """
    if resume is None:
        return None
    if str(resume) == 'auto':
        path = out_dir / checkpoint_name
        if path.is_file():
            LOGGER.info('resuming from %s', path)
            return path
        LOGGER.warning('--resume auto: no %s in %s; starting a new run from step 0',
                       checkpoint_name, out_dir)
        return None
    path = Path(resume)
    if not path.is_file():
        raise ConfigError(f'{path}: no such checkpoint to resume from')
    return path


def config_changes(old: Any, new: Any, key: str = '') -> list[str]:
    """Return ``key: old -> new`` for each leaf that differs between two plain-data configs."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes = []
        for name in list(old) + [n for n in new if n not in old]:
            sub = f'{key}.{name}' if key else str(name)
            changes += config_changes(old.get(name, '<absent>'), new.get(name, '<absent>'), sub)
        return changes
    return [] if old == new else [f'{key}: {old!r} -> {new!r}']


def check_config_changes(path: Path, old: dict[str, Any] | None, new: dict[str, Any],
                         allow_config_change: bool, free_keys: Sequence[str] = ()) -> None:
    """
    Refuse (``ConfigError``, with the differences) a training config that differs from ``old``.

    Keys under ``RESUME_FREE_KEYS`` and ``free_keys`` may differ. With ``allow_config_change``
    the other differences are logged as a warning instead. ``old`` None: nothing to compare.
    """
    if old is None:
        return
    free = tuple(RESUME_FREE_KEYS) + tuple(free_keys)
    changes = [c for c in config_changes(old, new)
               if c.split(':')[0].split('.')[0] not in free]
    if changes and not allow_config_change:
        raise ConfigError(
            f'{path}: this config differs from the one the run was trained with:\n  '
            + '\n  '.join(changes) + "\nresume with the run's config (config.yaml in its "
            'folder), or pass --allow-config-change to continue with the new values')
    if changes:
        LOGGER.warning('resuming %s with a changed config (--allow-config-change): %s',
                       path, '; '.join(changes))


def _check_model_config(path: Path, payload: dict[str, Any],
                        model_config: dict[str, Any]) -> None:
    if payload['model_config'] != model_config:
        raise ConfigError(f'{path}: the checkpoint was trained with another model config '
                          f"({payload['model_config']}); resume with the run's config")


def read_resume(path: Path, model_config: dict[str, Any], train_config: dict[str, Any],
                allow_config_change: bool = False) -> ResumeState:
    """
    Read a resumable checkpoint and check it against the run's configs.

    Raises ``ConfigError`` when the model config differs, and when the training config differs
    (outside ``RESUME_FREE_KEYS``) unless ``allow_config_change``; then the differences are
    logged as a warning instead.
    """
    payload = read_checkpoint_file(path)
    _check_model_config(path, payload, model_config)
    meta = payload.get('metadata') or {}
    old = meta.get('train_config')
    check_config_changes(path, old, train_config, allow_config_change)
    extra = payload.get('extra') or {}
    elapsed = meta.get('elapsed_s')
    return ResumeState(path=path, stages_done=list(meta.get('stages_done', [])),
                       stage=meta.get('stage'), step=int(meta.get('step') or 0),
                       elapsed_s=None if elapsed is None else float(elapsed),
                       optimizer=payload.get('optimizer'), scaler=extra.get('scaler'),
                       state_dict=payload['state_dict'], train_config=old)


def read_coarse_stage(path: Path, model_config: dict[str, Any], train_config: dict[str, Any],
                      allow_config_change: bool = False) -> dict[str, Any]:
    """
    Return the coarse network's weights (without the ``coarse.`` prefix) of a finished stage.

    ``path`` is a run's ``coarse.pt``, which the fine stage is trained on again
    (``train(..., retrain_fine=True)``). The model config must match; the training config may
    differ in its ``fine`` section (and ``RESUME_FREE_KEYS``), anything else is refused unless
    ``allow_config_change``.
    """
    if not path.is_file():
        raise ConfigError(f'{path}: no coarse stage to train the fine stage on; train the '
                          'coarse stage first (msdepth-train without --retrain-fine)')
    payload = read_checkpoint_file(path)
    _check_model_config(path, payload, model_config)
    meta = payload.get('metadata') or {}
    if 'coarse' not in (meta.get('stages_done') or []):
        raise ConfigError(f'{path}: not the end of a finished coarse stage '
                          f"(stages done: {meta.get('stages_done')})")
    check_config_changes(path, meta.get('train_config'), train_config, allow_config_change,
                         free_keys=('fine',))
    return {name[len('coarse.'):]: value for name, value in payload['state_dict'].items()
            if name.startswith('coarse.')}


def truncate_log(path: Path, stages_done: Sequence[str], stage: str | None,
                 step: int) -> float | None:
    """
    Cut ``log.csv`` back to the checkpoint: finished stages, and ``stage`` up to ``step``.

    Rows written after the checkpoint (by the run that was interrupted) would otherwise appear
    twice. Returns the last kept row's ``time_s`` (None when none is kept or there is no log).
    """
    if not path.is_file():
        return None
    with open(path, newline='', encoding='utf-8') as f:
        rows = list(csv.reader(f))
    if not rows:
        return None
    header, body = rows[0], rows[1:]
    col = {name: i for i, name in enumerate(header)}
    kept = []
    for row in body:
        row_stage, row_step = row[col['stage']], int(row[col['step']])
        if row_stage in stages_done and row_stage != stage:
            kept.append(row)
        elif row_stage == stage and row_step <= step:
            kept.append(row)
    if len(kept) != len(body):
        where = f'{stage} step {step}' if stage else f"after {', '.join(stages_done)}"
        LOGGER.info('%s: dropped %d rows past the checkpoint (%s)', path,
                    len(body) - len(kept), where)
    with open(path, 'w', newline='', encoding='utf-8') as f:
        csv.writer(f).writerows([header] + kept)
    times = [float(r[col['time_s']]) for r in kept if r[col['time_s']]]
    return times[-1] if times else None
