#!/usr/bin/env python3
"""What a VM's memory costs: streaming bandwidth and the price of a first touch.

The same program and workload have shown a quasi-DEER iteration 22% slower on one VM of a
kind than on another, with the sequential pass equally fast (perf/RESULTS.md, 2026-12-03).
A quasi-DEER iteration streams about 0.7 GB and its first one first-touches the workspace;
the sequential pass streams about 0.2 GB.  sweep.py records these figures beside each run
so that ratios from different VMs can be read side by side.

Measured with NumPy on one thread (medians of 5):
  copy_gb_per_s       a 256 MiB array copied into another, already touched (read + write)
  first_touch_us_per_page   filling a freshly allocated 256 MiB array, minus refilling it,
                      per 4 KiB page: page faults and zeroing by the kernel
  first_touch_us_per_page_first   the same for the process's first such array, whose pages
                      a VM's host may not have backed yet (the solver's workspace is that)
Run alone: prints the figures as JSON.
"""
import json
import platform
import statistics
import time

import numpy as np

SIZE = 256 << 20
PAGE = 4096


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def probe(repeats=5):
    n = SIZE // 4
    a = np.ones(n, dtype=np.float32)
    b = np.ones(n, dtype=np.float32)
    copies = []
    for _ in range(repeats):
        t = time.perf_counter()
        np.copyto(b, a)
        copies.append(time.perf_counter() - t)
    touches = []
    for _ in range(repeats):
        c = np.empty(n, dtype=np.float32)  # fresh pages from the kernel (mmap)
        t = time.perf_counter()
        c.fill(1.0)
        first = time.perf_counter() - t
        t = time.perf_counter()
        c.fill(2.0)
        again = time.perf_counter() - t
        touches.append(max(first - again, 0.0))
        del c
    copy_s = statistics.median(copies)
    return {
        "cpu": cpu_model(),
        "copy_gb_per_s": round(2 * SIZE / copy_s / 1e9, 2),
        "first_touch_us_per_page": round(statistics.median(touches) / (SIZE / PAGE) * 1e6, 3),
        "first_touch_us_per_page_first": round(touches[0] / (SIZE / PAGE) * 1e6, 3),
    }


if __name__ == "__main__":
    print(json.dumps(probe()))
