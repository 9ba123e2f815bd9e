"""The cyclic garbage collector, paused around the pipeline's allocation-heavy pure steps.

Compiling and rendering allocate hundreds of thousands of objects and keep nearly all of them
until they return, and they build no reference cycles (YAML nodes, plain data, syntax trees and
NamedTuples only point downwards; what they drop, reference counting frees at once). The
collector still runs every 700 allocations and, as the heap grows, walks it again and again:
measured with a gc callback on bench/b3_render.py's project, 0.06-0.08 s of collection at 100
endpoints and 0.15-0.25 s at 200, which is what pushed the 200/100 ratio over 2.2. Pausing it
costs nothing in memory here, and it resumes (if it was on) as soon as the step returns, so the
long-lived `flashctl dev` collects as usual between reloads.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Run the block with the cyclic collector off; on again afterwards if it was on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
