"""The C heap's thresholds pinned for training steps (glibc only): a step's large buffers reused, not re-faulted.

glibc returns a freed block above its mmap threshold to the OS at once, and trims the heap's top above its trim
threshold; both start low (128 KiB) and rise only when a large enough block happens to be freed. A CNN step on
a CPU allocates and frees tens of MiB of activations and gradients, so in a process where nothing large had been
freed yet every step faulted its memory in again: ~4,000 page faults a step for the default study's CNN, 1.7x its
CPU time per step (bench/README.md, "First-use time estimates"). Whether a run trained fast then hung on what the
process had done before (a large evaluation, a decoded image), and the speed probe, made in a fresh state, said
1.5x the time the study took. Pinned at glibc's own ceilings (what its dynamic thresholds reach after a 32 MiB
block is freed), every run and probe trains in the same, fast state.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
MMAP_THRESHOLD = 32 << 20  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit: the most its dynamic threshold reaches
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD  # what glibc sets beside it when it raises the mmap threshold itself


@functools.cache
def pin_heap() -> bool:
    """Set the thresholds once per process; False where the C library has no mallopt (macOS, musl: nothing done)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
