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
The two-stage training loop: coarse first, then fine with the coarse network frozen.

``train`` runs a whole ``TrainConfig`` on one process or, under ``torchrun``, on every rank of a
DistributedDataParallel job (``train.distributed``): it sets the run up (a new one, or one
resumed from ``checkpoint_last.pt`` into a ``RunState``), hands each stage to ``run_stage``,
which feeds ``train_step`` batch by batch (``train.examples``), and writes the final model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import logging
import math
import os
from pathlib import Path
import time
from typing import Any, TextIO

from msdepth_ros.core.metrics import METRIC_NAMES
from msdepth_ros.data.augment import AugmentConfig
from msdepth_ros.data.registry import open_dataset
from msdepth_ros.model.checkpoint import load_imagenet_features, save_checkpoint
from msdepth_ros.model.loss import scale_invariant_loss
from msdepth_ros.model.network import build_model, ModelConfig, MultiScaleDepthNet
from msdepth_ros.train.config import ConfigError, dump_config, plain_data, STAGES, TrainConfig
from msdepth_ros.train.distributed import (all_reduce_sum, barrier, DistContext, gather_objects,
                                           setup_distributed)
from msdepth_ros.train.examples import (ExampleSource, mean_log_depth, mean_log_depth_map,
                                        StepBatchSampler)
from msdepth_ros.train.resume import (read_coarse_stage, read_resume, resume_path, RunState,
                                      truncate_log)
from msdepth_ros.train.run_log import RunLog
from msdepth_ros.train.stages import (init_fine_as_identity, make_optimizer,
                                      stage_parameter_groups, StageNet, weights_digest)
from msdepth_ros.train.validation import validate
import numpy as np
import torch
from torch import nn

LOGGER = logging.getLogger('msdepth_ros.train')
LAST_CHECKPOINT = 'checkpoint_last.pt'
FINAL_CHECKPOINT = 'model.pt'


@dataclass
class TrainResult:
    """What a run produced: checkpoints, the log rows, and validation metrics per stage."""

    output_dir: Path
    final_checkpoint: Path
    stage_checkpoints: dict[str, Path] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    val_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    stopped: bool = False


@dataclass
class Run:
    """
    What every stage of one ``train`` call shares.

    ``amp_dtype`` is the autocast dtype (None: full precision); ``steps_this_call`` counts the
    steps of this call against ``stop_after_steps`` (0: no limit).
    """

    config: TrainConfig
    ctx: DistContext
    out_dir: Path
    model: MultiScaleDepthNet
    train_source: ExampleSource
    val_source: ExampleSource | None
    log: RunLog
    result: TrainResult
    amp_dtype: torch.dtype | None
    progress: bool = True
    stop_after_steps: int = 0
    steps_this_call: int = 0
    samples_file: TextIO | None = None


def train(config: TrainConfig, resume: str | os.PathLike | None = None,
          progress: bool = True, stop_after_steps: int = 0,
          allow_config_change: bool = False, retrain_fine: bool = False) -> TrainResult:
    """
    Run both stages of ``config`` (or what is left of them after ``resume``).

    Parameters
    ----------
    config:
        The run.
    resume:
        A resumable checkpoint (``checkpoint_last.pt``), or ``auto`` for the one in
        ``config.output_dir`` if present.
    progress:
        Show tqdm progress bars (rank 0 only).
    stop_after_steps:
        Stop after this many steps of this call, with a resumable checkpoint (for jobs with a
        time limit; resume with ``resume='auto'``). 0: run to the end.
    allow_config_change:
        Resume even when ``config`` differs from the one the checkpoint was trained with
        (refused with the differences otherwise; ``config.yaml`` is then rewritten).
    retrain_fine:
        Train the fine stage again on the coarse stage in ``config.output_dir`` (its
        ``coarse.pt``), with ``config``'s fine settings, which may differ from the run's; the
        coarse stage is not run. The fine network starts as a new run's would (the seed's
        weights, then ``init_fine_identity``), and ``log.csv`` keeps the coarse rows only. Not
        with ``resume`` (an interrupted retraining resumes as any run does).

    Returns
    -------
    ``TrainResult``: checkpoints (``coarse.pt``, ``fine.pt``, ``model.pt``), the log rows and
    the validation metrics at the end of each stage. ``stopped`` is True when
    ``stop_after_steps`` ended the call early (then ``model.pt`` is not written).

    """
    ctx = setup_distributed(config.device)
    out_dir = Path(config.output_dir)
    if ctx.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
    barrier(ctx)

    torch.manual_seed(config.seed)
    np.random.seed(config.seed % 2**32)
    model_config = _model_config(config)
    model = build_model(model_config)
    train_source, val_source = _example_sources(config, model_config)
    if retrain_fine and resume is not None:
        raise ConfigError('retrain the fine stage or resume a run, not both (an interrupted '
                          'retraining resumes as any run does)')
    if retrain_fine:
        state, elapsed_s = _start_fine_again(config, model, model_config, ctx, out_dir,
                                             allow_config_change)
    else:
        state, elapsed_s = _start(config, model, model_config, train_source, ctx, out_dir,
                                  resume, allow_config_change)
    model.to(ctx.device)
    if ctx.is_main:  # only now: a refused resume leaves the run's config.yaml as it was
        (out_dir / 'config.yaml').write_text(dump_config(config), encoding='utf-8')
    barrier(ctx)

    amp_name = config.autocast_dtype(ctx.device.type, ctx.device.type != 'cuda'
                                     or torch.cuda.is_bf16_supported())
    run = Run(config=config, ctx=ctx, out_dir=out_dir, model=model, train_source=train_source,
              val_source=val_source, log=RunLog(out_dir, ctx.is_main, elapsed_s),
              result=TrainResult(output_dir=out_dir,
                                 final_checkpoint=out_dir / FINAL_CHECKPOINT),
              amp_dtype=getattr(torch, amp_name) if amp_name else None, progress=progress,
              stop_after_steps=stop_after_steps)
    if config.record_samples:
        run.samples_file = open(out_dir / f'samples_rank{ctx.rank}.txt', 'a', encoding='utf-8')
    try:
        for stage_index, stage in enumerate(STAGES):
            run_stage(run, state, stage_index, stage)
            if run.result.stopped:
                break
        else:
            _save_final(run, state)
    finally:
        if run.samples_file is not None:
            run.samples_file.close()
        run.log.close()
    run.result.history = run.log.rows
    return run.result


def _model_config(config: TrainConfig) -> ModelConfig:
    return ModelConfig(preset=config.model.get_preset(),
                       coarse_fc_width=config.model.coarse_fc_width,
                       dropout=config.model.dropout)


def _example_sources(config: TrainConfig, model_config: ModelConfig
                     ) -> tuple[ExampleSource, ExampleSource | None]:
    """Return the augmented training examples and the unaugmented validation ones (or None)."""
    preset = model_config.preset
    train_source = ExampleSource(open_dataset(config.data.train), preset, config.augmentation(),
                                 config.seed, config.normalize_focal, config.mask_min_max)
    val_source = None
    if config.data.val is not None:
        val_source = ExampleSource(open_dataset(config.data.val), preset,
                                   AugmentConfig.none(), config.seed, config.normalize_focal,
                                   config.mask_min_max)
    return train_source, val_source


def _start(config: TrainConfig, model: MultiScaleDepthNet, model_config: ModelConfig,
           train_source: ExampleSource, ctx: DistContext, out_dir: Path,
           resume: str | os.PathLike | None, allow_config_change: bool
           ) -> tuple[RunState, float]:
    """
    Initialise the weights of a new run, or load those of the run that ``resume`` continues.

    Returns the run's state and the training seconds already spent (the log's clock).
    """
    from_path = resume_path(resume, out_dir, LAST_CHECKPOINT)
    if from_path is None:
        if config.model.imagenet_weights:
            load_imagenet_features(model, config.model.imagenet_weights)
        if config.model.init_coarse_bias:
            with torch.no_grad():
                if config.model.init_coarse_bias_per_pixel:
                    model.coarse.fc7.bias.copy_(torch.from_numpy(
                        mean_log_depth_map(train_source).ravel()))
                else:
                    model.coarse.fc7.bias.fill_(mean_log_depth(train_source))
        if config.model.init_fine_identity:
            init_fine_as_identity(model)
        return RunState(), 0.0
    resumed = read_resume(from_path, model_config.to_dict(), config.to_dict(),
                          allow_config_change)
    model.load_state_dict(resumed.state_dict, strict=True)
    elapsed_s = 0.0
    if ctx.is_main:
        last_s = truncate_log(out_dir / 'log.csv', resumed.stages_done, resumed.stage,
                              resumed.step)
        elapsed_s = resumed.elapsed_s if resumed.elapsed_s is not None else last_s or 0.0
    return RunState.resumed(resumed), elapsed_s


def _start_fine_again(config: TrainConfig, model: MultiScaleDepthNet, model_config: ModelConfig,
                      ctx: DistContext, out_dir: Path, allow_config_change: bool
                      ) -> tuple[RunState, float]:
    """
    Load the run's coarse stage and start its fine stage anew (``train``'s ``retrain_fine``).

    Returns the state "coarse done" and the training seconds the coarse stage took.
    """
    coarse = read_coarse_stage(out_dir / 'coarse.pt', model_config.to_dict(), config.to_dict(),
                               allow_config_change)
    model.coarse.load_state_dict(coarse, strict=True)
    LOGGER.info('training the fine stage again on %s', out_dir / 'coarse.pt')
    if config.model.init_fine_identity:
        init_fine_as_identity(model)
    elapsed_s = 0.0
    if ctx.is_main:
        elapsed_s = truncate_log(out_dir / 'log.csv', ['coarse'], None, 0) or 0.0
    return RunState(stages_done=['coarse']), elapsed_s


def run_stage(run: Run, state: RunState, stage_index: int, stage: str) -> None:
    """
    Train ``stage`` from where ``state`` says it stands to its end (or to ``stop_after_steps``).

    Logs the loss every ``log_every_steps``, validates and writes resumable checkpoints at the
    configured intervals, and at the end validates, marks the stage done in ``state`` and
    writes ``STAGE.pt``. A stage already done (or of 0 samples) only records its checkpoint.
    """
    from tqdm import tqdm

    config, ctx = run.config, run.ctx
    stage_cfg = config.stage(stage)
    stage_path = run.out_dir / f'{stage}.pt'
    if stage in state.stages_done or stage_cfg.samples == 0:
        if stage_path.is_file():
            run.result.stage_checkpoints[stage] = stage_path
        return
    start_step = state.start_step(stage)
    steps = math.ceil(stage_cfg.samples / config.batch_size)
    stage_lrs = config.learning_rates(stage)
    groups = stage_parameter_groups(run.model, stage, stage_lrs)
    optimizer = make_optimizer(config, stage, groups)
    # bfloat16 has float32's range: only float16 needs its gradients scaled.
    scaler = torch.amp.GradScaler('cuda', enabled=run.amp_dtype == torch.float16)
    state.restore(stage, optimizer, scaler)
    stage_net = StageNet(run.model, stage)
    net: nn.Module = stage_net
    if ctx.distributed:
        net = nn.parallel.DistributedDataParallel(
            stage_net, device_ids=[ctx.local_rank] if ctx.device.type == 'cuda' else None)
    sampler = StepBatchSampler(len(run.train_source), config.batch_size, ctx.world_size,
                               ctx.rank, config.seed, stage_index, start_step, steps)
    loader = torch.utils.data.DataLoader(
        run.train_source, batch_sampler=sampler, num_workers=config.workers,
        pin_memory=ctx.device.type == 'cuda', persistent_workers=False)
    val_every = _steps_of(config.val_every_samples, config.batch_size)
    ckpt_every = _steps_of(config.checkpoint_every_samples, config.batch_size)
    stage_net.set_mode()
    bar = tqdm(total=steps, initial=start_step, desc=f'{stage} stage',
               disable=not (run.progress and ctx.is_main), unit='step', dynamic_ncols=True)
    losses = _LossMeter()
    for batch_index, (images, targets) in enumerate(loader):
        step = start_step + batch_index
        if run.samples_file is not None:
            run.samples_file.write(''.join(f'{stage} {step} {k[0]}\n'
                                           for k in sampler.keys(step)))
        # Dropout masks depend on (seed, stage, step, rank) only, so that a resumed run
        # continues exactly as an uninterrupted one.
        torch.manual_seed(int(np.random.SeedSequence(
            [config.seed, stage_index, step, ctx.rank]).generate_state(1)[0]))
        for group in optimizer.param_groups:  # the stage's lr_schedule
            group['lr'] = stage_lrs[group['name']] * stage_cfg.lr_factor(step, steps)
        losses.add(train_step(net, optimizer, scaler, images.to(ctx.device, non_blocking=True),
                              targets.to(ctx.device, non_blocking=True), config,
                              run.amp_dtype))
        bar.update(1)
        done = step + 1
        if done % max(1, config.log_every_steps) == 0 or done == steps:
            mean_loss = losses.mean_over_ranks(ctx)
            run.log.write(stage, done, done * config.batch_size, loss=mean_loss,
                          step_s=losses.step_s())
            bar.set_postfix(loss=f'{mean_loss:.4f}')
            losses.reset()
        if run.val_source is not None and val_every and done % val_every == 0 and done != steps:
            _validate_and_log(run, stage, done)
            stage_net.set_mode()
        run.steps_this_call += 1
        if run.stop_after_steps and run.steps_this_call >= run.stop_after_steps \
                and done != steps:
            _save_resumable(run, state, stage, done, optimizer, scaler)
            run.result.stopped = True
            break
        if ckpt_every and done % ckpt_every == 0 and done != steps:
            _save_resumable(run, state, stage, done, optimizer, scaler)
    bar.close()
    if run.result.stopped:
        return
    if run.val_source is not None:
        run.result.val_metrics[stage] = _validate_and_log(run, stage, steps)
    state.finish(stage)
    _save_resumable(run, state, stage, steps, optimizer, scaler)
    if ctx.is_main:
        save_checkpoint(stage_path, run.model, metadata=_metadata(
            config, ctx, state.stages_done, stage, steps, run.result.val_metrics.get(stage)),
            weights_dtype=config.checkpoint_dtype)
    run.result.stage_checkpoints[stage] = stage_path
    barrier(ctx)


def train_step(net: nn.Module, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
               images: torch.Tensor, targets: torch.Tensor, config: TrainConfig,
               amp_dtype: torch.dtype | None = None) -> float:
    """
    One optimizer step on one batch; returns its scale-invariant loss.

    Parameters
    ----------
    net:
        The stage's network (``StageNet``, or its DistributedDataParallel wrapper).
    optimizer:
        SGD or Adam over the stage's parameter groups (``stages.make_optimizer``).
    scaler:
        The gradient scaler (enabled for float16 autocast only).
    images:
        ``B x 3 x H_in x W_in`` normalised inputs, on the network's device.
    targets:
        ``B x 1 x H_out x W_out`` target depth in metres (NaN where there is none).
    config:
        The run: ``loss_lambda`` and ``grad_clip_norm`` (0: no clipping).
    amp_dtype:
        Autocast dtype of the forward pass (None: full precision); the loss is computed in
        float32 either way.

    """
    with torch.autocast(images.device.type, dtype=amp_dtype or torch.float32,
                        enabled=amp_dtype is not None):
        pred = net(images)
    loss = scale_invariant_loss(pred.float(), targets, config.loss_lambda)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    if config.grad_clip_norm > 0:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(
            [p for g in optimizer.param_groups for p in g['params']], config.grad_clip_norm)
    scaler.step(optimizer)
    scaler.update()
    return float(loss.detach())


class _LossMeter:
    """The mean training loss and time per step since the last log row."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total, self.count, self.t0 = 0.0, 0, time.perf_counter()

    def add(self, loss: float) -> None:
        self.total += loss
        self.count += 1

    def mean_over_ranks(self, ctx: DistContext) -> float:
        """Return the mean loss, averaged over the ranks."""
        return float(all_reduce_sum(np.array([self.total / self.count]), ctx)[0]
                     / ctx.world_size)

    def step_s(self) -> float:
        """Return the mean seconds per step."""
        return (time.perf_counter() - self.t0) / self.count


def _save_final(run: Run, state: RunState) -> None:
    """Write ``model.pt`` with the validation metrics and every rank's weight digest."""
    digests = gather_objects(weights_digest(run.model), run.ctx)
    if run.ctx.is_main:
        meta = _metadata(run.config, run.ctx, state.stages_done, state.stages_done[-1]
                         if state.stages_done else None, None, None)
        meta['val_metrics'] = plain_data(run.result.val_metrics)
        meta['rank_weight_digests'] = list(digests)
        save_checkpoint(run.result.final_checkpoint, run.model, metadata=meta,
                        weights_dtype=run.config.checkpoint_dtype)
    barrier(run.ctx)


def _steps_of(samples: int, batch_size: int) -> int:
    return max(1, math.ceil(samples / batch_size)) if samples else 0


def _validate_and_log(run: Run, stage: str, step: int) -> dict[str, float]:
    config = run.config
    metrics = validate(run.model, stage, run.val_source, run.ctx, config.loss_lambda,
                       config.val_limit)
    run.log.write(stage, step, step * config.batch_size, val_loss=metrics['loss'],
                  **{f'val_{m}': metrics[m] for m in METRIC_NAMES})
    return metrics


def _metadata(config: TrainConfig, ctx: DistContext, stages_done: list[str], stage: str | None,
              step: int | None, val: dict[str, float] | None) -> dict[str, Any]:
    return plain_data({'stages_done': list(stages_done), 'stage': stage, 'step': step,
                       'world_size': ctx.world_size, 'torch': str(torch.__version__),
                       'train_config': config.to_dict(), 'val_metrics': val or {}})


def _save_resumable(run: Run, state: RunState, stage: str, step: int,
                    optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler) -> None:
    if run.ctx.is_main:
        meta = _metadata(run.config, run.ctx, state.stages_done, stage, step, None)
        meta['elapsed_s'] = round(run.log.elapsed_s(), 3)  # where a resumed run's time continues
        save_checkpoint(run.out_dir / LAST_CHECKPOINT, run.model, metadata=meta,
                        optimizer=optimizer.state_dict(),
                        extra={'scaler': scaler.state_dict()})
    barrier(run.ctx)
