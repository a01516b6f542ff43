"""Timers around library functions, patched in place while the unchanged code runs (the benchmarks' profiles)."""

import time
from collections import defaultdict
from contextlib import contextmanager


class Timers:
    """Seconds spent inside wrapped functions, per bucket. Inclusive by default (a wrapper inside another is
    counted in both: "of which" lines); `exclusive=True` counts a call's time less that of the timed calls it
    makes, so the buckets add up. `clock`: time.perf_counter (wall) or time.process_time (CPU). `on`: whether
    calls are timed now (a benchmark can run another side through the same functions untimed)."""

    def __init__(self, clock=time.perf_counter, exclusive: bool = False):
        self.seconds, self.patches, self.stack = defaultdict(float), [], []
        self.clock, self.exclusive, self.on = clock, exclusive, True

    def wrap(self, owner, name: str, bucket) -> None:
        """Time owner.name under bucket: a name, or bucket(*args, **kwargs) giving one per call."""
        original = getattr(owner, name)
        is_static = isinstance(owner.__dict__.get(name), staticmethod) if isinstance(owner, type) else False

        def timed(*a, **kw):
            if not self.on:
                return original(*a, **kw)
            key = bucket(*a, **kw) if callable(bucket) else bucket
            start, self.stack = self.clock(), [*self.stack, 0.0]
            try:
                return original(*a, **kw)
            finally:
                elapsed, inner = self.clock() - start, self.stack.pop()
                self.seconds[key] += elapsed - inner if self.exclusive else elapsed
                if self.stack:
                    self.stack[-1] += elapsed

        self.patches.append((owner, name, owner.__dict__[name] if isinstance(owner, type) else original))
        setattr(owner, name, staticmethod(timed) if is_static else timed)

    @contextmanager
    def installed(self):
        try:
            yield self
        finally:
            for owner, name, original in reversed(self.patches):
                setattr(owner, name, original)
