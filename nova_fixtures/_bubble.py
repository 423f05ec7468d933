"""The bubble: member threads, virtual time, timers, and instrumented locks.

Prior art: Go's ``testing/synctest`` (exact counting of durably blocked
goroutines, time jumps only when all are), trio's ``MockClock`` autojump.
Design and pitfalls: ``doc/virtual-time.rst``.

Every piece of state lives under one raw mutex (``Bubble.mutex``). A member
thread that blocks on a `VLock` parks on a private raw lock of its own, with
no real timeout; its wait ends when the VLock is released to it, when its
virtual deadline is reached, or when the bubble closes.

``running = members + pending - durably_blocked``. Whenever a member blocks
or exits and ``running`` drops to 0, the bubble either wakes ``settle()``
callers, or jumps virtual time to the earliest deadline and fires every
timer due, in (deadline, sequence) order; with no timer left it reports
that every member is blocked for good.
"""

from __future__ import annotations

import _thread
import collections
import heapq
import itertools
import sys
import time
import traceback
from typing import Any, Callable

__all__ = ['Bubble', 'ClockError', 'DeadlockError', 'VLock']

_real_monotonic = time.monotonic
get_ident = _thread.get_ident


class ClockError(RuntimeError):
    """The virtual clock was misused or ran out of budget."""


class DeadlockError(RuntimeError):
    """Every thread of the test is blocked and nothing can wake them."""


class _Parked:
    """One blocked wait: a thread parked on a raw lock of its own."""

    __slots__ = ('ident', 'vlock', 'lock', 'granted', 'done', 'counted',
                 'error', 'deadline', 'kind', 'retry')

    def __init__(self, ident: int, vlock: 'VLock | None', kind: str) -> None:
        self.ident = ident
        self.vlock = vlock
        self.kind = kind
        self.lock = _thread.allocate_lock()
        self.lock.acquire()
        self.granted = False
        self.done = False
        self.counted = False
        self.error: BaseException | None = None
        self.deadline: float | None = None
        self.retry = False


class Bubble:
    """Membership, counters, virtual time and timers for one clock.

    :param autojump: jump to the next deadline when every member is
        durably blocked.
    :param max_virtual: virtual seconds after which jumping stops and the
        root thread gets `ClockError`.
    :param on_stall: called (under no lock) with a report when every member
        is blocked and no timer is pending.
    """

    def __init__(self, autojump: bool, max_virtual: float) -> None:
        self.mutex = _thread.allocate_lock()
        self.autojump = autojump
        self.max_virtual = max_virtual
        self.active = True
        self.now = 0.0
        self.members: dict[int, str] = {}
        self.pending = 0
        self.blocked = 0
        self.held = 0
        self.parked: dict[int, _Parked] = {}
        self.timers: list[tuple[float, int, _Parked]] = []
        self._seq = itertools.count()
        self.settlers: list[Any] = []
        self.root = get_ident()
        self.failure: BaseException | None = None
        self.failure_delivered = False
        self.progress = 0
        self.jumps = 0
        self.reports: list[str] = []

    # Membership ------------------------------------------------------------

    def is_member(self, ident: int | None = None) -> bool:
        return self.active and (ident or get_ident()) in self.members

    def add_member(self, ident: int, name: str) -> None:
        with self.mutex:
            self.members[ident] = name

    def expect_member(self) -> None:
        """A member is starting a thread: count it running from now."""
        with self.mutex:
            self.pending += 1
            self.progress += 1

    def cancel_expected(self) -> None:
        with self.mutex:
            self.pending -= 1
            self._maybe_advance()

    def enter(self, name: str) -> None:
        """The started thread runs: it is a member now."""
        with self.mutex:
            self.pending -= 1
            self.members[get_ident()] = name
            self.progress += 1

    def leave(self) -> None:
        with self.mutex:
            self.members.pop(get_ident(), None)
            self.progress += 1
            self._maybe_advance()

    @property
    def running(self) -> int:
        return len(self.members) + self.pending - self.blocked

    # Blocking --------------------------------------------------------------

    def park(self, parked: _Parked, timeout: float | None,
             durable: bool) -> None:
        """Account for ``parked`` (mutex held) before it waits."""
        self.parked[parked.ident] = parked
        if timeout is not None:
            parked.deadline = self.now + timeout
            heapq.heappush(self.timers,
                           (parked.deadline, next(self._seq), parked))
        if durable:
            parked.counted = True
            self.blocked += 1
        self.progress += 1
        self._maybe_advance()

    def wake(self, parked: _Parked, granted: bool,
             error: BaseException | None = None) -> None:
        """End ``parked``'s wait (mutex held)."""
        if parked.done:
            return
        parked.done = True
        parked.granted = granted
        parked.error = error
        if parked.counted:
            parked.counted = False
            self.blocked -= 1
        if self.parked.get(parked.ident) is parked:
            del self.parked[parked.ident]
        if parked.vlock is not None and not granted:
            try:
                parked.vlock.waiters.remove(parked)
            except ValueError:
                pass
        self.progress += 1
        parked.lock.release()

    def _maybe_advance(self) -> None:
        """Wake settlers or jump time, if every member is blocked."""
        if self.settlers and self.running <= len(self.settlers):
            settlers, self.settlers = self.settlers, []
            for lock in settlers:
                lock.release()
            return
        if not self.autojump or self.held or not self.active:
            return
        while self.running == 0 and self.members:
            while self.timers and self.timers[0][2].done:
                heapq.heappop(self.timers)
            if not self.timers:
                self._all_blocked()
                return
            deadline = self.timers[0][0]
            if deadline > self.max_virtual:
                self._fail_root(ClockError(
                    f'virtual time budget of {self.max_virtual:g} s '
                    f'exceeded: the next deadline is at {deadline:g} s'))
                return
            self.now = max(self.now, deadline)
            self.jumps += 1
            while self.timers and self.timers[0][0] <= self.now:
                _, _, parked = heapq.heappop(self.timers)
                self.wake(parked, granted=False)

    def advance(self, seconds: float) -> None:
        with self.mutex:
            self.now += seconds
            while self.timers and self.timers[0][0] <= self.now:
                _, _, parked = heapq.heappop(self.timers)
                self.wake(parked, granted=False)

    def _all_blocked(self) -> None:
        report = self.describe(
            f'all {len(self.members)} test thread(s) are blocked and no '
            f'timer is pending')
        self.reports.append(report)
        self._fail_root(DeadlockError(report))

    def _fail_root(self, error: BaseException) -> None:
        if self.failure is None:
            self.failure = error
        root = self.parked.get(self.root)
        if root is not None and error is self.failure:
            self.failure_delivered = True
            self.wake(root, granted=False, error=error)

    def describe(self, headline: str) -> str:
        """A report: each member, what it waits for, and its stack."""
        frames = sys._current_frames()
        lines = [headline + ':']
        for ident, name in sorted(self.members.items(), key=lambda i: i[1]):
            parked = self.parked.get(ident)
            if parked is None:
                state = 'running (not on an instrumented wait)'
            else:
                what = {'sleep': 'sleeping', 'lock': 'waiting'}[parked.kind]
                until = (f' until {parked.deadline:g} s'
                         if parked.deadline is not None else '')
                site = ''
                if parked.vlock is not None and parked.vlock.site:
                    site = f' on a lock made at {parked.vlock.site}'
                state = f'{what}{site}{until}'
            lines.append(f'  {name}: {state}')
            frame = frames.get(ident)
            if frame is not None:
                lines.extend('    ' + line.rstrip() for line in
                             traceback.format_stack(frame)[-4:])
        return '\n'.join(lines)

    # Closing ----------------------------------------------------------------

    def close(self) -> None:
        """Wake every parked member; from now on waits are real.

        A timed wait or a sleep ends as if its time ran out; an untimed lock
        wait starts again, in real time.
        """
        with self.mutex:
            self.active = False
            for parked in list(self.parked.values()):
                parked.retry = parked.deadline is None and \
                    parked.kind == 'lock'
                self.wake(parked, granted=False)
            settlers, self.settlers = self.settlers, []
            for lock in settlers:
                lock.release()


class VLock:
    """A lock whose timed waits follow the bubble's virtual time.

    Same interface as ``_thread.LockType``. Members block durably when the
    owner is a member too (or for a Condition's waiter lock, always);
    non-members, and everyone once the bubble closes, wait in real time.
    """

    __slots__ = ('bubble', 'locked_', 'owner', 'waiters', 'site',
                 '__weakref__')

    def __init__(self, bubble: Bubble, site: str = '') -> None:
        self.bubble = bubble
        self.locked_ = False
        self.owner: int | None = None
        self.waiters: collections.deque[_Parked] = collections.deque()
        self.site = site

    def __repr__(self) -> str:
        state = 'locked' if self.locked_ else 'unlocked'
        return f'<VLock {state} made at {self.site or "?"}>'

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        bubble = self.bubble
        me = get_ident()
        while True:
            with bubble.mutex:
                if not self.locked_:
                    self.locked_ = True
                    self.owner = me
                    return True
                if not blocking or timeout == 0:
                    return False
                parked = _Parked(me, self, 'lock')
                self.waiters.append(parked)
                virtual = bubble.active and me in bubble.members
                if virtual:
                    owner = self.owner
                    durable = owner is None or owner in bubble.members
                    bubble.park(parked, None if timeout < 0 else timeout,
                                durable)
            if virtual or timeout < 0:
                parked.lock.acquire()
            else:
                parked.lock.acquire(True, timeout)
            with bubble.mutex:
                if not parked.done:
                    # NOTE(vlock): a real timeout of a non-member wait.
                    parked.done = True
                    try:
                        self.waiters.remove(parked)
                    except ValueError:
                        pass
                if parked.error is not None:
                    raise parked.error
                if parked.granted or not parked.retry:
                    return parked.granted

    def release(self) -> None:
        bubble = self.bubble
        with bubble.mutex:
            if not self.locked_:
                raise RuntimeError('release unlocked lock')
            while self.waiters:
                parked = self.waiters.popleft()
                if parked.done:
                    continue
                self.owner = parked.ident
                bubble.wake(parked, granted=True)
                return
            self.locked_ = False
            self.owner = None

    def locked(self) -> bool:
        return self.locked_

    def _at_fork_reinit(self) -> None:
        self.locked_ = False
        self.owner = None
        self.waiters.clear()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def sleep(bubble: Bubble, seconds: float,
          real_sleep: Callable[[float], None]) -> None:
    """Sleep ``seconds`` of virtual time (the caller is a member)."""
    with bubble.mutex:
        if not bubble.active or get_ident() not in bubble.members:
            virtual = False
        else:
            virtual = True
            parked = _Parked(get_ident(), None, 'sleep')
            bubble.park(parked, seconds, durable=True)
    if not virtual:
        real_sleep(seconds)
        return
    parked.lock.acquire()
    if parked.error is not None:
        raise parked.error
