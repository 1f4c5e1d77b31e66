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
Training on several processes: this rank's place in a ``torchrun`` job, and the collectives.

Without ``torchrun``'s environment every function here serves a single process: the sums are
the values themselves and the barriers return at once. GPUs talk over NCCL, the CPU over gloo.
"""

from __future__ import annotations

from dataclasses import dataclass
import os
from typing import Any

from msdepth_ros.model.device import DeviceError, select_device
from msdepth_ros.train.config import ConfigError
import numpy as np
import torch


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
    try:
        dev = select_device(device, index=local)
    except DeviceError as exc:
        raise ConfigError(f'device: {exc}') from None
    use_cuda = dev.type == 'cuda'
    if use_cuda:
        torch.cuda.set_device(dev)
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend='nccl' if use_cuda else 'gloo')
    return DistContext(rank=rank, world_size=world, local_rank=local, device=dev)


def teardown_distributed() -> None:
    """Leave the ``torchrun`` job (no-op for a single process)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def all_reduce_sum(values: np.ndarray, ctx: DistContext) -> np.ndarray:
    """Element-wise sum of ``values`` over the ranks (float64; the values themselves alone)."""
    if not ctx.distributed:
        return values
    t = torch.as_tensor(values, dtype=torch.float64, device=ctx.device)
    torch.distributed.all_reduce(t)
    return t.cpu().numpy()


def barrier(ctx: DistContext) -> None:
    """Wait until every rank reaches this point."""
    if ctx.distributed:
        torch.distributed.barrier()


def gather_objects(value: Any, ctx: DistContext) -> list[Any]:
    """Every rank's ``value``, in rank order (``[value]`` alone)."""
    if not ctx.distributed:
        return [value]
    gathered: list[Any] = [None] * ctx.world_size
    torch.distributed.all_gather_object(gathered, value)
    return gathered
