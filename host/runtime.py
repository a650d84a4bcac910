"""Process-wide runtime settings, applied by the entry points (``nodehost run``, later the server), never at
import time."""

from __future__ import annotations

import gc

#: Young-generation threshold while nodehost runs. CPython's default (700 allocations) makes the collector
#: re-scan the executor's long-lived per-prompt structures thousands of times on a large graph: measured on
#: the 10,000-node chain benchmark (bench/executor.py), the cached re-run took 12.0 us per node with the default
#: and 3.7 with this and freeze_startup_objects().
GC_GEN0_THRESHOLD = 50_000


def memory_bytes() -> tuple[int, int]:
    """(total, available) RAM as the kernel reports it (MemTotal, MemAvailable); sysconf elsewhere."""
    import os

    total = available = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    total = int(line.split()[1]) * 1024
                elif line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
    except OSError:
        page = os.sysconf("SC_PAGE_SIZE")
        total, available = os.sysconf("SC_PHYS_PAGES") * page, os.sysconf("SC_AVPHYS_PAGES") * page
    return total, available


def tune_gc() -> tuple[int, int, int]:
    """Collect the young generation less often; returns the previous thresholds."""
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], GC_GEN0_THRESHOLD), old[1], old[2])
    return old


def freeze_startup_objects() -> None:
    """Move everything alive after start-up (imported modules, torch, the registry) to the permanent
    generation, so later full collections do not traverse it again (the use ``gc.freeze`` documents)."""
    gc.collect()
    gc.freeze()
