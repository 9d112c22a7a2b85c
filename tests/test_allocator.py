"""Freed memory stays in the process for the next request (engine.allocator)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

# A request's buffers, each a little bigger than the last (a KV cache as the prompt grows), freed
# before the next request makes its own: the minor page faults of the last one's first touch.
SCRIPT = """
import ctypes, resource, sys
from engine.allocator import keep_freed_memory
if sys.argv[1] == "tuned":
    assert keep_freed_memory()
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_size_t], [ctypes.c_void_p]
def request(mb):
    block = libc.malloc(mb * 2**20)
    ctypes.memset(block, 1, mb * 2**20)
    libc.free(block)
for mb in (12, 13, 14):
    request(mb)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
request(15)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1000:]
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="tunes glibc's allocator only")
def test_the_next_request_reuses_freed_pages_instead_of_faulting_them_in_again() -> None:
    pages = 15 * 2**20 // 4096
    assert _faults("default") > pages // 2  # glibc's own rule maps the bigger block afresh
    assert _faults("tuned") < pages // 5  # only the one MB the heap grows by
