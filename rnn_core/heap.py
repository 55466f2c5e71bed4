"""Keep the memory numpy frees for the next window's arrays.

Every window of loss_and_grad allocates arrays of megabytes (the gate activations, the
hidden and cell states, the logits) and frees them when it is done. glibc's malloc serves
an allocation of more than 128 KB by mmap, or trims the top of its heap when that much is
free, and gives the memory back to the kernel on free; the next window then touches fresh
pages, and every 4 KB page costs a page fault. At the bench's shape that is thousands of
faults a minibatch, a tenth of its time or more (README, "Speed"). Raising both thresholds
keeps the freed memory in the heap, where the next window reuses it: the process keeps its
peak, which it had reached anyway.
"""
import ctypes

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3     # mallopt's parameters (malloc.h)
MMAP_THRESHOLD = 32 * 2 ** 20      # glibc's largest on 64-bit: larger arrays are still mapped
TRIM_THRESHOLD = 512 * 2 ** 20     # free memory at the heap's top given back past this

_kept = None


def keep_freed_memory():
    """Make malloc keep freed memory for reuse in this process, once; return whether it
    does. A no-op returning False where the C library has no ``mallopt`` (macOS) or
    refuses the settings."""
    global _kept
    if _kept is None:
        try:
            mallopt = ctypes.CDLL(None).mallopt
        except (OSError, AttributeError):
            _kept = False
        else:
            mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            _kept = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                         and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _kept
