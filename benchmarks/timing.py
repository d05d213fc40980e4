"""What the GPU benchmarks share: timing a step on the GPU, and the header they print."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable

import torch


def gpu_header(title: str) -> str:
    """Card, versions and settings, printed above every table."""
    name = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return (f"# {title}\n# {name}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
            f"cuDNN {torch.backends.cudnn.version()}, python {platform.python_version()}")


def time_gpu(step: Callable[[], object], steps: int, warmup: int) -> tuple[float, float]:
    """(seconds per step, peak GiB allocated) of ``step()`` after ``warmup`` calls."""
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / steps
    return seconds, torch.cuda.max_memory_allocated() / 2**30


def top_kernels(step: Callable[[], object], steps: int = 3, rows: int = 15) -> str:
    """The CUDA kernels that take the most time over ``steps`` calls of ``step()``."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            step()
        torch.cuda.synchronize()
    return prof.key_averages().table(sort_by="cuda_time_total", row_limit=rows)
