"""Time that must move: virtual time follows the CPU of running threads.

Autojump moves time only when every test thread is blocked. A thread that
never blocks (a poll loop on ``get_nowait()``, ``acquire(False)``,
``Event.is_set()``, or ``while time.monotonic() < end``) would freeze time
forever, and the test would hang. The rule: once the test threads that
keep time from jumping have burned `GRACE` seconds of CPU between them
with nothing else happening in the bubble (no thread parked, woke,
started or ended), virtual time moves on by the CPU they burn, and a
deadline it reaches fires. So a spinning poller sees time pass about as
fast as real time would show it, a thread starved by a loaded machine
(no CPU) moves nothing, and a thread blocked outside any instrumented
wait (a socket, a lock made before the clock) moves nothing either: time
stalls there and the watchdog names it. Readings stay exact at every
deadline; only a test whose threads compute without blocking for
`GRACE` seconds sees time between deadlines.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ['GRACE', 'Follower']

GRACE = 1.0
_NS = 1_000_000_000


def _cpu_of(ident: int) -> float | None:
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(ident))
    except (OSError, AttributeError, ValueError, OverflowError):
        return None


class Follower:
    """Watches the running members of ``bubble`` for the clock's watchdog.

    Call `step` (bubble mutex held) every few milliseconds; it returns
    the idents of the threads it moved time for, or None.
    """

    def __init__(self, bubble: Any) -> None:
        self.bubble = bubble
        self.progress = -1
        self.base_ns = 0
        self.cpu: dict[int, float] = {}
        self.burned = 0.0

    def step(self) -> list[int] | None:
        bubble = self.bubble
        if bubble.progress != self.progress:
            self._mark()
            return None
        running = [ident for ident in bubble.members
                   if ident not in bubble.parked]
        for ident in running:
            used = _cpu_of(ident)
            if used is None:
                continue
            before = self.cpu.setdefault(ident, used)
            if used > before:
                self.burned += used - before
                self.cpu[ident] = used
        if self.burned < GRACE:
            return None
        bubble.follow(self.base_ns + round(self.burned * _NS))
        if bubble.progress != self.progress:
            self._mark()
        return running

    def _mark(self) -> None:
        bubble = self.bubble
        self.progress = bubble.progress
        self.base_ns = bubble.now_ns
        self.burned = 0.0
        self.cpu = {}
        for ident in bubble.members:
            if ident not in bubble.parked:
                used = _cpu_of(ident)
                if used is not None:
                    self.cpu[ident] = used
