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

One function, ``train``, runs a whole ``TrainConfig`` on one process or, under ``torchrun``,
on every rank of a DistributedDataParallel job (gloo on the CPU, NCCL on GPUs). Data order and
augmentation are functions of ``(seed, stage, step, position in the global batch)``, so a run
resumed from a checkpoint sees exactly the samples it would have seen, and rank ``r`` of ``W``
trains on positions ``r, r + W, ...`` of each global batch: the ranks' data are disjoint.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
import hashlib
import math
import os
from pathlib import Path
import time
from typing import Any, Iterator

from msdepth_ros.core.metrics import compute_metrics, METRIC_NAMES
from msdepth_ros.core.preprocess import InputPlan, plan_input
from msdepth_ros.data.augment import AugmentConfig, AugmentParams, draw_params, make_example
from msdepth_ros.data.base import DepthDataset
from msdepth_ros.data.registry import open_dataset
from msdepth_ros.model.checkpoint import load_imagenet_features, save_checkpoint
from msdepth_ros.model.loss import scale_invariant_loss
from msdepth_ros.model.network import build_model, ModelConfig, MultiScaleDepthNet
from msdepth_ros.train.config import (ConfigError, dump_config, plain_data, STAGE_GROUPS, STAGES,
                                      TrainConfig)
from msdepth_ros.train.resume import read_resume, resume_path, truncate_log
import numpy as np
import torch
from torch import nn

LOG_COLUMNS = ('time_s', 'stage', 'step', 'samples', 'loss', 'step_s', 'val_loss') + tuple(
    f'val_{m}' for m in METRIC_NAMES)
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


# -- distributed set-up -----------------------------------------------------------------------

@dataclass(frozen=True)
class DistContext:
    """This process's place in the job."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def distributed(self) -> bool:
        """Whether this is one rank of several."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this rank writes files and shows progress."""
        return self.rank == 0


def setup_distributed(device: str = 'auto') -> DistContext:
    """
    Join the ``torchrun`` job described by the environment, if any.

    ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` come from ``torchrun``; without them this is a
    single process. GPUs use NCCL (one GPU per local rank), the CPU uses gloo.
    """
    world = int(os.environ.get('WORLD_SIZE', '1'))
    rank = int(os.environ.get('RANK', '0'))
    local = int(os.environ.get('LOCAL_RANK', '0'))
    use_cuda = device == 'cuda' or (device == 'auto' and torch.cuda.is_available())
    if device == 'cuda' and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' asked for, but PyTorch sees no CUDA GPU")
    if use_cuda:
        torch.cuda.set_device(local)
        dev = torch.device('cuda', local)
    else:
        dev = torch.device('cpu')
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend='nccl' if use_cuda else 'gloo')
    return DistContext(rank=rank, world_size=world, local_rank=local, device=dev)


def teardown_distributed() -> None:
    """Leave the ``torchrun`` job (no-op for a single process)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def _all_reduce_sum(values: np.ndarray, ctx: DistContext) -> np.ndarray:
    if not ctx.distributed:
        return values
    t = torch.as_tensor(values, dtype=torch.float64, device=ctx.device)
    torch.distributed.all_reduce(t)
    return t.cpu().numpy()


def _barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        torch.distributed.barrier()


# -- data -------------------------------------------------------------------------------------

class ExampleSource(torch.utils.data.Dataset):
    """
    Samples of a data set turned into (input, output-grid target) tensors.

    A key is ``(index, stage, step, position)``; the augmentation is drawn from a generator
    seeded with ``(seed, stage, step, position)``, so it does not depend on workers or ranks.
    A key of ``(index,)`` gives the sample without augmentation (validation).
    ``mask_min_max`` drops each image's recorded minimum and maximum depth before anything else
    (NYU; ``data.augment.mask_recorded_extremes``).
    """

    def __init__(self, dataset: DepthDataset, preset: Any, augment: AugmentConfig, seed: int,
                 normalize_focal: bool, mask_min_max: bool = False) -> None:
        self.dataset = dataset
        self.preset = preset
        self.augment = augment
        self.seed = int(seed)
        self.normalize_focal = normalize_focal
        self.mask_min_max = mask_min_max
        self._plans: dict[tuple[int, int], InputPlan] = {}

    def __len__(self) -> int:
        return len(self.dataset)

    def plan(self, width: int, height: int) -> InputPlan:
        """Return the preprocessing plan of a camera size (cached)."""
        key = (width, height)
        if key not in self._plans:
            self._plans[key] = plan_input(width, height, self.preset)
        return self._plans[key]

    def __getitem__(self, key: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        sample = self.dataset[int(key[0])]
        h, w = sample.image.shape[:2]
        plan = self.plan(w, h)
        params = AugmentParams()
        if len(key) > 1:
            rng = np.random.default_rng([self.seed] + [int(k) for k in key[1:]])
            params = draw_params(self.augment, rng, plan)
        example = make_example(sample.image, sample.depth_m, sample.intrinsics, plan, params,
                               sparse=self.dataset.sparse_depth,
                               normalize_focal=self.normalize_focal,
                               mask_extremes=self.mask_min_max)
        return (torch.from_numpy(np.ascontiguousarray(example.image)),
                torch.from_numpy(example.target_depth_m[None]))


class StepBatchSampler(torch.utils.data.Sampler):
    """
    This rank's share of each global batch, step by step.

    Global batch ``t`` is slice ``t mod E`` of epoch ``t // E``'s permutation of the data
    (``E`` = whole batches per epoch; a permutation per ``(seed, stage, epoch)``). Rank ``r`` of
    ``W`` takes positions ``r, r + W, ...``; the keys it yields are
    ``(index, stage, step, position)`` for ``ExampleSource``.
    """

    def __init__(self, num_samples: int, batch_size: int, world_size: int, rank: int,
                 seed: int, stage_index: int, start_step: int, steps: int) -> None:
        if batch_size % world_size:
            raise ConfigError(f'batch_size {batch_size} does not split evenly over '
                              f'{world_size} ranks')
        if num_samples < batch_size:
            raise ConfigError(f'the training set has {num_samples} samples, fewer than one '
                              f'batch of {batch_size}')
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.world_size = world_size
        self.rank = rank
        self.seed = seed
        self.stage_index = stage_index
        self.start_step = start_step
        self.steps = steps
        self.steps_per_epoch = num_samples // batch_size

    def global_batch(self, step: int) -> np.ndarray:
        """Sample indices of global batch ``step`` (all ranks)."""
        epoch, k = divmod(step, self.steps_per_epoch)
        perm = np.random.default_rng([self.seed, self.stage_index, epoch]).permutation(
            self.num_samples)
        return perm[k * self.batch_size:(k + 1) * self.batch_size]

    def __iter__(self) -> Iterator[list[tuple[int, int, int, int]]]:
        for step in range(self.start_step, self.steps):
            batch = self.global_batch(step)
            yield [(int(batch[p]), self.stage_index, step, p)
                   for p in range(self.rank, self.batch_size, self.world_size)]

    def __len__(self) -> int:
        return max(0, self.steps - self.start_step)


# -- the network in each stage ------------------------------------------------------------------

class StageNet(nn.Module):
    """The output a stage trains: coarse alone, or fine on top of the frozen coarse."""

    def __init__(self, model: MultiScaleDepthNet, stage: str) -> None:
        super().__init__()
        self.model = model
        self.stage = stage

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Log depth of the stage's network, ``B x 1 x H_out x W_out``."""
        if self.stage == 'coarse':
            return self.model.coarse(image)
        return self.model.forward_with_coarse(image)[0]

    def set_mode(self) -> None:
        """Train mode, except a frozen coarse network (no dropout) during the fine stage."""
        self.train()
        if self.stage == 'fine':
            self.model.coarse.eval()


def stage_parameter_groups(model: MultiScaleDepthNet, stage: str,
                           learning_rates: dict[str, float]) -> list[dict[str, Any]]:
    """
    SGD parameter groups of ``stage`` with their learning rates; freezes everything else.

    Only the stage's layers keep ``requires_grad``; in the fine stage the coarse network is
    frozen, as in the paper.
    """
    for p in model.parameters():
        p.requires_grad_(False)
    groups = []
    for group, layers in STAGE_GROUPS[stage].items():
        params = []
        for layer in layers:
            module = model.get_submodule(layer)
            params.extend(module.parameters())
        for p in params:
            p.requires_grad_(True)
        groups.append({'params': params, 'lr': learning_rates[group], 'name': group})
    return groups


def weights_digest(model: nn.Module) -> str:
    """SHA-256 of every parameter's bytes (equal digests: identical weights)."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


# -- validation ----------------------------------------------------------------------------------

def validate(model: MultiScaleDepthNet, stage: str, source: ExampleSource, ctx: DistContext,
             loss_lambda: float, limit: int = 0) -> dict[str, float]:
    """
    Loss and the paper's metrics of ``stage``'s output on the output-grid targets.

    Each rank takes every ``W``-th sample; the sums are all-reduced, so every rank returns the
    same numbers. Prediction and target are compared as the network learns them (at the
    preset's training focal length, see ``data.augment``) within the preset's depth range;
    ``msdepth-eval`` gives the numbers of the paper's protocol.
    """
    n = len(source) if not limit else min(limit, len(source))
    net = StageNet(model, stage)
    was_training = model.training
    model.eval()
    preset = source.preset
    sums = np.zeros(len(METRIC_NAMES) + 2)
    with torch.no_grad():
        for i in range(ctx.rank, n, ctx.world_size):
            image, target = source[(i,)]
            pred = net(image[None].to(ctx.device)).float()
            target_t = target[None].to(ctx.device)
            loss = scale_invariant_loss(pred, target_t, loss_lambda)
            metrics = compute_metrics(np.exp(pred[0, 0].cpu().numpy()), target[0].numpy(),
                                      min_depth_m=preset.min_depth_m,
                                      max_depth_m=preset.max_depth_m)
            if not math.isnan(metrics['delta1']):
                sums[0] += float(loss)
                sums[1] += 1
                sums[2:] += [metrics[m] for m in METRIC_NAMES]
    model.train(was_training)
    sums = _all_reduce_sum(sums, ctx)
    if sums[1] == 0:
        return {'loss': math.nan, **{m: math.nan for m in METRIC_NAMES}}
    out = {'loss': float(sums[0] / sums[1])}
    out.update({m: float(sums[2 + j] / sums[1]) for j, m in enumerate(METRIC_NAMES)})
    return out


# -- logging -------------------------------------------------------------------------------------

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


# -- the run ---------------------------------------------------------------------------------

def _model_config(config: TrainConfig) -> ModelConfig:
    return ModelConfig(preset=config.model.get_preset(),
                       coarse_fc_width=config.model.coarse_fc_width,
                       dropout=config.model.dropout)


def mean_log_depth(source: ExampleSource, count: int = 64) -> float:
    """Mean log of the (unaugmented) targets of the first ``count`` samples."""
    logs = []
    for i in range(min(count, len(source))):
        target = source[(i,)][1].numpy()
        valid = np.isfinite(target) & (target > 0)
        if valid.any():
            logs.append(np.log(target[valid]).mean())
    if not logs:
        raise ConfigError('no valid ground truth in the first training samples')
    return float(np.mean(logs))


def init_fine_as_identity(model: MultiScaleDepthNet) -> None:
    """
    Make the fine network output its coarse input (see ``ModelSection.init_fine_identity``).

    Fine 3's output channels 0 and 1 become ``relu(coarse)`` and ``relu(-coarse)`` (the
    coarse map is input channel 63 of fine 3, after fine 1's 63 channels); fine 4 becomes
    ``channel 0 - channel 1`` = coarse. The other weights of fine 3 keep their random values,
    so gradients reach fine 4's other inputs from the first step.
    """
    fine = model.fine
    k3 = fine.conv3.kernel_size[0] // 2
    k4 = fine.conv4.kernel_size[0] // 2
    coarse_channel = fine.conv3.in_channels - 1
    with torch.no_grad():
        fine.conv3.weight[:2].zero_()
        fine.conv3.bias[:2].zero_()
        fine.conv3.weight[0, coarse_channel, k3, k3] = 1.0
        fine.conv3.weight[1, coarse_channel, k3, k3] = -1.0
        fine.conv4.weight.zero_()
        fine.conv4.bias.zero_()
        fine.conv4.weight[0, 0, k4, k4] = 1.0
        fine.conv4.weight[0, 1, k4, k4] = -1.0


def train(config: TrainConfig, resume: str | os.PathLike | None = None,
          progress: bool = True, stop_after_steps: int = 0,
          allow_config_change: bool = False) -> TrainResult:
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

    Returns
    -------
    ``TrainResult``: checkpoints (``coarse.pt``, ``fine.pt``, ``model.pt``), the log rows and
    the validation metrics at the end of each stage. ``stopped`` is True when
    ``stop_after_steps`` ended the call early (then ``model.pt`` is not written).

    """
    from tqdm import tqdm

    ctx = setup_distributed(config.device)
    out_dir = Path(config.output_dir)
    if ctx.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
    _barrier(ctx)

    torch.manual_seed(config.seed)
    np.random.seed(config.seed % 2**32)
    model_config = _model_config(config)
    model = build_model(model_config)
    preset = model_config.preset
    train_set = open_dataset(config.data.train)
    augment = config.augmentation()
    train_source = ExampleSource(train_set, preset, augment, config.seed, config.normalize_focal,
                                 config.mask_min_max)
    val_source = None
    if config.data.val is not None:
        val_source = ExampleSource(open_dataset(config.data.val), preset,
                                   AugmentConfig.none(), config.seed, config.normalize_focal,
                                   config.mask_min_max)

    state = {'stages_done': [], 'stage': None, 'step': 0, 'optimizer': None, 'scaler': None}
    from_path = resume_path(resume, out_dir, LAST_CHECKPOINT)
    elapsed_s = 0.0
    if from_path is not None:
        resumed = read_resume(from_path, model_config.to_dict(), config.to_dict(),
                              allow_config_change)
        model.load_state_dict(resumed.state_dict, strict=True)
        state = {'stages_done': resumed.stages_done, 'stage': resumed.stage,
                 'step': resumed.step, 'optimizer': resumed.optimizer,
                 'scaler': resumed.scaler}
        if ctx.is_main:
            last_s = truncate_log(out_dir / 'log.csv', resumed.stages_done, resumed.stage,
                                  resumed.step)
            elapsed_s = resumed.elapsed_s if resumed.elapsed_s is not None else last_s or 0.0
    else:
        if config.model.imagenet_weights:
            load_imagenet_features(model, config.model.imagenet_weights)
        if config.model.init_coarse_bias:
            with torch.no_grad():
                model.coarse.fc7.bias.fill_(mean_log_depth(train_source))
        if config.model.init_fine_identity:
            init_fine_as_identity(model)
    model.to(ctx.device)
    if ctx.is_main:  # only now: a refused resume leaves the run's config.yaml as it was
        (out_dir / 'config.yaml').write_text(dump_config(config), encoding='utf-8')
    _barrier(ctx)

    log = RunLog(out_dir, ctx.is_main, elapsed_s)
    result = TrainResult(output_dir=out_dir, final_checkpoint=out_dir / FINAL_CHECKPOINT)
    amp_name = config.autocast_dtype(ctx.device.type, ctx.device.type != 'cuda'
                                     or torch.cuda.is_bf16_supported())
    amp_dtype = getattr(torch, amp_name) if amp_name else torch.float32
    use_amp = amp_name is not None
    steps_this_call = 0
    samples_file = None
    if config.record_samples:
        samples_file = open(out_dir / f'samples_rank{ctx.rank}.txt', 'a', encoding='utf-8')
    try:
        for stage_index, stage in enumerate(STAGES):
            stage_cfg = config.stage(stage)
            if stage in state['stages_done'] or stage_cfg.samples == 0:
                if (out_dir / f'{stage}.pt').is_file():
                    result.stage_checkpoints[stage] = out_dir / f'{stage}.pt'
                continue
            start_step = state['step'] if state['stage'] == stage else 0
            steps = math.ceil(stage_cfg.samples / config.batch_size)
            stage_lrs = config.learning_rates(stage)
            groups = stage_parameter_groups(model, stage, stage_lrs)
            optimizer = torch.optim.SGD(groups, lr=groups[0]['lr'], momentum=config.momentum,
                                        weight_decay=config.weight_decay)
            # bfloat16 has float32's range: only float16 needs its gradients scaled.
            scaler = torch.amp.GradScaler('cuda', enabled=amp_dtype == torch.float16)
            if state['stage'] == stage and state['optimizer'] is not None:
                optimizer.load_state_dict(state['optimizer'])
                if state['scaler']:
                    scaler.load_state_dict(state['scaler'])
            net: nn.Module = StageNet(model, stage)
            if ctx.distributed:
                net = nn.parallel.DistributedDataParallel(
                    net, device_ids=[ctx.local_rank] if ctx.device.type == 'cuda' else None)
            stage_net = net.module if ctx.distributed else net
            sampler = StepBatchSampler(len(train_source), config.batch_size, ctx.world_size,
                                       ctx.rank, config.seed, stage_index, start_step, steps)
            loader = torch.utils.data.DataLoader(
                train_source, batch_sampler=sampler, num_workers=config.workers,
                pin_memory=ctx.device.type == 'cuda', persistent_workers=False)
            val_every = _steps_of(config.val_every_samples, config.batch_size)
            ckpt_every = _steps_of(config.checkpoint_every_samples, config.batch_size)
            stage_net.set_mode()
            bar = tqdm(total=steps, initial=start_step, desc=f'{stage} stage',
                       disable=not (progress and ctx.is_main), unit='step', dynamic_ncols=True)
            running, running_n, t_step = 0.0, 0, time.perf_counter()
            step = start_step
            for batch_index, (images, targets) in enumerate(loader):
                step = start_step + batch_index
                if samples_file is not None:
                    keys = next(iter(StepBatchSampler(
                        len(train_source), config.batch_size, ctx.world_size, ctx.rank,
                        config.seed, stage_index, step, step + 1)))
                    samples_file.write(''.join(f'{stage} {step} {k[0]}\n' for k in keys))
                # Dropout masks depend on (seed, stage, step, rank) only, so that a resumed run
                # continues exactly as an uninterrupted one.
                torch.manual_seed(int(np.random.SeedSequence(
                    [config.seed, stage_index, step, ctx.rank]).generate_state(1)[0]))
                images = images.to(ctx.device, non_blocking=True)
                targets = targets.to(ctx.device, non_blocking=True)
                with torch.autocast(ctx.device.type, dtype=amp_dtype, enabled=use_amp):
                    pred = net(images)
                loss = scale_invariant_loss(pred.float(), targets, config.loss_lambda)
                for group in optimizer.param_groups:  # the stage's lr_schedule
                    group['lr'] = stage_lrs[group['name']] * stage_cfg.lr_factor(step, steps)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if config.grad_clip_norm > 0:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(
                        [p for g in groups for p in g['params']], config.grad_clip_norm)
                scaler.step(optimizer)
                scaler.update()
                running += float(loss.detach())
                running_n += 1
                bar.update(1)
                done = step + 1
                if done % max(1, config.log_every_steps) == 0 or done == steps:
                    mean_loss = float(_all_reduce_sum(np.array([running / running_n]), ctx)[0]
                                      / ctx.world_size)
                    step_s = (time.perf_counter() - t_step) / running_n
                    log.write(stage, done, done * config.batch_size, loss=mean_loss,
                              step_s=step_s)
                    bar.set_postfix(loss=f'{mean_loss:.4f}')
                    running, running_n, t_step = 0.0, 0, time.perf_counter()
                if val_source is not None and val_every and done % val_every == 0 \
                        and done != steps:
                    _validate_and_log(model, stage, val_source, ctx, config, log, done)
                    stage_net.set_mode()
                steps_this_call += 1
                if stop_after_steps and steps_this_call >= stop_after_steps and done != steps:
                    _save_resumable(out_dir, model, config, ctx, state['stages_done'], stage,
                                    done, optimizer, scaler, log.elapsed_s())
                    result.stopped = True
                    break
                if ckpt_every and done % ckpt_every == 0 and done != steps:
                    _save_resumable(out_dir, model, config, ctx, state['stages_done'], stage,
                                    done, optimizer, scaler, log.elapsed_s())
            bar.close()
            if result.stopped:
                break
            if val_source is not None:
                result.val_metrics[stage] = _validate_and_log(model, stage, val_source, ctx,
                                                              config, log, steps)
            state['stages_done'] = list(state['stages_done']) + [stage]
            _save_resumable(out_dir, model, config, ctx, state['stages_done'], stage, steps,
                            optimizer, scaler, log.elapsed_s())
            path = out_dir / f'{stage}.pt'
            if ctx.is_main:
                save_checkpoint(path, model, metadata=_metadata(
                    config, ctx, state['stages_done'], stage, steps,
                    result.val_metrics.get(stage)), weights_dtype=config.checkpoint_dtype)
            result.stage_checkpoints[stage] = path
            _barrier(ctx)
            state['stage'], state['optimizer'], state['scaler'] = None, None, None

        if result.stopped:
            result.history = log.rows
            return result
        digests = [weights_digest(model)]
        if ctx.distributed:
            gathered: list[Any] = [None] * ctx.world_size
            torch.distributed.all_gather_object(gathered, digests[0])
            digests = gathered
        if ctx.is_main:
            meta = _metadata(config, ctx, state['stages_done'], state['stages_done'][-1]
                             if state['stages_done'] else None, None, None)
            meta['val_metrics'] = plain_data(result.val_metrics)
            meta['rank_weight_digests'] = list(digests)
            save_checkpoint(result.final_checkpoint, model, metadata=meta,
                            weights_dtype=config.checkpoint_dtype)
        _barrier(ctx)
    finally:
        if samples_file is not None:
            samples_file.close()
        log.close()
    result.history = log.rows
    return result


def _steps_of(samples: int, batch_size: int) -> int:
    return max(1, math.ceil(samples / batch_size)) if samples else 0


def _validate_and_log(model: MultiScaleDepthNet, stage: str, source: ExampleSource,
                      ctx: DistContext, config: TrainConfig, log: RunLog,
                      step: int) -> dict[str, float]:
    metrics = validate(model, stage, source, ctx, config.loss_lambda, config.val_limit)
    log.write(stage, step, step * config.batch_size, val_loss=metrics['loss'],
              **{f'val_{m}': metrics[m] for m in METRIC_NAMES})
    return metrics


def _metadata(config: TrainConfig, ctx: DistContext, stages_done: list[str], stage: str | None,
              step: int | None, val: dict[str, float] | None) -> dict[str, Any]:
    return plain_data({'stages_done': list(stages_done), 'stage': stage, 'step': step,
                       'world_size': ctx.world_size, 'torch': str(torch.__version__),
                       'train_config': config.to_dict(), 'val_metrics': val or {}})


def _save_resumable(out_dir: Path, model: MultiScaleDepthNet, config: TrainConfig,
                    ctx: DistContext, stages_done: list[str], stage: str, step: int,
                    optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                    elapsed_s: float) -> None:
    if ctx.is_main:
        meta = _metadata(config, ctx, stages_done, stage, step, None)
        meta['elapsed_s'] = round(elapsed_s, 3)  # where a resumed run's time_s continues
        save_checkpoint(out_dir / LAST_CHECKPOINT, model, metadata=meta,
                        optimizer=optimizer.state_dict(),
                        extra={'scaler': scaler.state_dict()})
    _barrier(ctx)
