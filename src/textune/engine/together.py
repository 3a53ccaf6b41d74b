"""Work that every process of a data-parallel launch finishes together, or none does.

A barrier after work that can fail deadlocks the launch. A full disk during a checkpoint
or a save is enough: the failing process raises, and the others wait at the barrier for it,
until gloo's 30-minute timeout or for ever. So the processes agree on the outcome instead.
Each says whether its own part succeeded (one all-reduce, which is also the barrier), and if
any failed, all raise.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch


class PeerFailed(RuntimeError):
    """Another process of the launch failed at a step this one finished."""


def all_ok(ok: bool) -> bool:
    """Whether every process of the launch says ok. A collective: every process calls it."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return ok
    device = (torch.device("cuda", torch.cuda.current_device())
              if dist.get_backend() == "nccl" else torch.device("cpu"))
    flag = torch.tensor([1 if ok else 0], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())


@contextlib.contextmanager
def together(what: str) -> Iterator[None]:
    """Run the block on every process; if it raised on any, raise on all, so none is left
    waiting. `what` names the work for the processes that did not fail ("writing the
    checkpoint")."""
    try:
        yield
    except Exception:
        with contextlib.suppress(Exception):  # a dead process group must not hide the cause
            all_ok(False)
        raise
    if not all_ok(True):
        raise PeerFailed(f"{what} failed on another process of this launch; that process's "
                         "error says why.")
