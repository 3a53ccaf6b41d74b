"""Where training and inference run: the device, bf16 support and the CPU thread count."""

from __future__ import annotations

import os

import torch


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def bf16_supported(device: torch.device) -> bool:
    """bf16 autocast only pays where the hardware has bf16 matrix units."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.backends.cpu.get_cpu_capability() in ("AVX512", "AMX")
                    and torch.cpu._is_avx512_bf16_supported())
    except AttributeError:
        return False


def set_threads() -> None:
    """Use every core the process may run on (containers often report more than allowed)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:
        n = os.cpu_count() or 1
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
