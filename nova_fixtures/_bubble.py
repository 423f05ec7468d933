"""The bubble: member threads, their locks and waits, and virtual time.

Prior art: Go's ``testing/synctest`` (exact counting of durably blocked
goroutines; time jumps only when all are), trio's ``MockClock`` autojump,
the JVM's ``findDeadlockedThreads`` (locks know owners, threads know what
they wait for). Design: ``doc/virtual-time.rst``, ``doc/deadlocks.rst``.

Every piece of state lives under one raw mutex (``Bubble.mutex``). A member
thread that blocks on a `VLock` parks on a private raw lock of its own; its
wait ends when the VLock is handed to it, when its deadline passes (virtual
or real), or when the bubble closes.

``running = members + starting - durably_blocked``. Whenever it drops to 0:
``settle()`` callers wake; else, on virtual time, time jumps to the earliest
deadline and fires the timers due in (deadline, sequence) order; with no
timer left (on real time: no timed wait left) every member is blocked for
good, and the test thread gets `DeadlockError`.
"""

from __future__ import annotations

import _thread
import collections
import heapq
import itertools
import os
import sys
import traceback
from typing import Any, Callable

from nova_fixtures import _lockdep

__all__ = ['Bubble', 'ClockError', 'DeadlockError', 'VLock', 'site_of',
           'trimmed_stack']

get_ident = _thread.get_ident

# NOTE(bubble): frames from these files are plumbing, not the code a
# report should point at.
_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_PLUMBING = ('/threading.py', '/queue.py', '/contextlib.py',
             '/testtools/', '/unittest/', '/fixtures/', '/stestr/',
             '/subunit/', '/concurrent/futures/', '/futurist/',
             '/oslo_concurrency/lockutils.py', '<frozen ')


class ClockError(RuntimeError):
    """The virtual clock was misused or ran out of budget."""


class DeadlockError(RuntimeError):
    """Test threads wait for each other, or for nothing that can happen."""


_plumbing_cache: dict[str, bool] = {}


def _plumbing(filename: str) -> bool:
    known = _plumbing_cache.get(filename)
    if known is None:
        known = _plumbing_cache[filename] = filename.startswith(
            _PACKAGE) or any(p in filename for p in _PLUMBING)
    return known


def site_of(frame: Any) -> str:
    """``file:line`` of the innermost frame that is not plumbing."""
    while frame is not None and _plumbing(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return '?'
    return f'{frame.f_code.co_filename}:{frame.f_lineno}'


def class_of(frame: Any) -> str:
    """``file:line:column`` of the innermost frame that is not plumbing.

    The column tells apart two locks made on one line (``a, b = Lock(),
    Lock()``), which lockdep must not merge into one class.
    """
    while frame is not None and _plumbing(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return '?'
    column = 0
    positions = list(frame.f_code.co_positions())
    index = frame.f_lasti // 2
    if 0 <= index < len(positions) and positions[index][2] is not None:
        column = positions[index][2]
    return f'{frame.f_code.co_filename}:{frame.f_lineno}:{column}'


def trimmed_stack(frame: Any, limit: int = 8) -> list[str]:
    """The stack of ``frame`` without plumbing frames, innermost last."""
    entries = [e for e in traceback.extract_stack(frame)
               if not _plumbing(e.filename)]
    return [f'    {e.filename}:{e.lineno} in {e.name}: {e.line or ""}'
            .rstrip() for e in entries[-limit:]]


class _Parked:
    """One blocked wait: a thread parked on a raw lock of its own."""

    __slots__ = ('ident', 'vlock', 'lock', 'granted', 'done', 'counted',
                 'error', 'deadline', 'kind', 'retry', 'timed', 'site')

    def __init__(self, ident: int, vlock: 'VLock | None', kind: str) -> None:
        self.ident = ident
        self.vlock = vlock
        self.kind = kind
        self.lock = _thread.allocate_lock()
        self.lock.acquire()
        self.granted = False
        self.done = False
        self.counted = False
        self.timed = False
        self.error: BaseException | None = None
        self.deadline: float | None = None
        self.retry = False
        self.site = ''


class Bubble:
    """Membership, locks, waits and (optionally virtual) time of a test.

    :param virtual: timed waits and sleeps follow virtual time.
    :param autojump: jump to the next deadline when all are blocked.
    :param max_virtual: virtual seconds after which the test thread gets
        `ClockError`.
    """

    def __init__(self, virtual: bool, autojump: bool = True,
                 max_virtual: float = 3600.0) -> None:
        self.mutex = _thread.allocate_lock()
        self.virtual = virtual
        self.autojump = autojump
        self.max_virtual = max_virtual
        self.active = True
        self.now = 0.0
        self.members: dict[int, str] = {}
        self.pending = 0
        self.blocked = 0
        self.timed = 0
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
        # Deadlock detection (DeadlockFixture turns it on).
        self.detect = False
        self.abandoning = False
        self.lockdep: _lockdep.LockGraph | None = None
        self.holding: dict[int, list[tuple[Any, str]]] = \
            collections.defaultdict(list)
        self.named_owner: dict[str, int] = {}
        self.named_waiting: dict[int, tuple[str, str]] = {}
        self.deadlocks: list[str] = []

    # Membership ------------------------------------------------------------

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

    def name(self, ident: int | None) -> str:
        if ident is None:
            return '(nobody)'
        return self.members.get(ident) or f'thread {ident}'

    # Blocking --------------------------------------------------------------

    def park(self, parked: _Parked, timeout: float | None,
             durable: bool) -> None:
        """Account for ``parked`` (mutex held) before it waits."""
        self.parked[parked.ident] = parked
        if timeout is not None:
            if self.virtual:
                parked.deadline = self.now + timeout
                heapq.heappush(self.timers,
                               (parked.deadline, next(self._seq), parked))
            else:
                parked.timed = True
                self.timed += 1
        if durable:
            parked.counted = True
            self.blocked += 1
        self.progress += 1
        self._maybe_advance()

    def unpark(self, parked: _Parked) -> None:
        """Undo `park` for a wait that ended on its own (mutex held)."""
        parked.done = True
        if parked.counted:
            parked.counted = False
            self.blocked -= 1
        if parked.timed:
            parked.timed = False
            self.timed -= 1
        if self.parked.get(parked.ident) is parked:
            del self.parked[parked.ident]
        self.progress += 1

    def wake(self, parked: _Parked, granted: bool,
             error: BaseException | None = None) -> None:
        """End ``parked``'s wait (mutex held)."""
        if parked.done:
            return
        self.unpark(parked)
        parked.granted = granted
        parked.error = error
        if parked.vlock is not None and not granted:
            try:
                parked.vlock.waiters.remove(parked)
            except ValueError:
                pass
        parked.lock.release()

    def _maybe_advance(self) -> None:
        """Wake settlers, jump time or report, if every member is blocked."""
        if self.settlers and self.running <= len(self.settlers):
            settlers, self.settlers = self.settlers, []
            for lock in settlers:
                lock.release()
            return
        if not self.active or self.running or not self.members:
            return
        if not self.virtual:
            if self.detect and not self.timed and not self.held:
                self._all_blocked()
            return
        if not self.autojump or self.held:
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
            f'all {len(self.members)} test thread(s) are blocked and '
            f'nothing can wake them')
        self.reports.append(report)
        self.deadlocks.append(report)
        self._fail_root(DeadlockError(report))

    def _fail_root(self, error: BaseException) -> None:
        if self.failure is None:
            self.failure = error
        root = self.parked.get(self.root)
        if root is not None and error is self.failure:
            self.failure_delivered = True
            self.wake(root, granted=False, error=error)

    # Reports ---------------------------------------------------------------

    def lock_desc(self, lock: Any) -> str:
        if isinstance(lock, str):
            return f'lockutils lock "{lock}"'
        return f'lock made at {lock.site or "?"}'

    def held_desc(self, ident: int) -> list[str]:
        return [f'    holds {self.lock_desc(lock)} (acquired at {site})'
                for lock, site in self.holding.get(ident, [])]

    def describe(self, headline: str) -> str:
        """A report: each member, what it waits for, what it holds, where.
        """
        frames = sys._current_frames()
        lines = [headline + ':']
        for ident, name in sorted(self.members.items(), key=lambda i: i[1]):
            parked = self.parked.get(ident)
            if parked is None:
                state = 'is running (not on an instrumented wait)'
            elif parked.kind == 'sleep':
                state = 'is sleeping'
            elif parked.vlock is not None and parked.vlock.kind == 'waiter':
                state = (f'waits at {parked.vlock.site or "?"} (Condition, '
                         f'Event or queue)')
            else:
                lock = parked.vlock
                owner = ''
                if lock is not None and lock.kind == 'mutex':
                    owner = f', held by "{self.name(lock.owner)}"'
                what = self.lock_desc(lock) if lock is not None else '?'
                state = f'waits for {what}{owner}'
            if parked is not None and parked.deadline is not None:
                state += f' until {parked.deadline:g} s'
            lines.append(f'  "{name}" {state}')
            lines.extend(self.held_desc(ident))
            frame = frames.get(ident)
            if frame is not None:
                lines.extend(trimmed_stack(frame))
        return '\n'.join(lines)

    def find_cycle(self, me: int, lock: Any) -> list[tuple[int, Any, int]]:
        """The wait-for chain from ``me`` waiting on ``lock`` back to me.

        Each step is (waiting thread, lock, holder). Empty if no cycle.
        """
        chain = []
        waiter, current = me, lock
        seen = set()
        while True:
            if isinstance(current, str):
                holder = self.named_owner.get(current)
            else:
                holder = current.owner if current.kind == 'mutex' else None
            if holder is None or (waiter, holder) in seen:
                return []
            seen.add((waiter, holder))
            chain.append((waiter, current, holder))
            if holder == me:
                return chain
            parked = self.parked.get(holder)
            if parked is not None and parked.vlock is not None and \
                    parked.vlock.kind == 'mutex':
                waiter, current = holder, parked.vlock
            elif holder in self.named_waiting:
                waiter, current = holder, self.named_waiting[holder][0]
            else:
                return []

    def cycle_error(self, chain: list[tuple[int, Any, int]]) -> DeadlockError:
        """Record and return the error for a wait-for cycle (mutex held)."""
        frames = sys._current_frames()
        lines = [f'deadlock: a cycle of {len(chain)} thread(s) waiting for '
                 f'each other:']
        for waiter, lock, holder in chain:
            acquired = next((site for held, site in
                             self.holding.get(holder, []) if held is lock),
                            '?')
            lines.append(f'  "{self.name(waiter)}" waits for '
                         f'{self.lock_desc(lock)}, held by '
                         f'"{self.name(holder)}" (acquired at {acquired})')
        for waiter, _, _ in chain:
            lines.append(f'"{self.name(waiter)}":')
            lines.extend(self.held_desc(waiter))
            frame = frames.get(waiter)
            if frame is not None:
                lines.extend(trimmed_stack(frame))
        report = '\n'.join(lines)
        self.deadlocks.append(report)
        self.reports.append(report)
        return DeadlockError(report)

    # Held locks and lock order -----------------------------------------------

    def note_acquire(self, ident: int, lock: Any, blocking: bool,
                     stack: Callable[[], str]) -> None:
        """``ident`` is about to take ``lock``: check the lock order."""
        held = self.holding[ident]
        if blocking and self.lockdep is not None and held:
            self.lockdep.acquire(
                self.name(ident), [self.lock_class(h) for h, _ in held],
                self.lock_class(lock), stack)

    def note_held(self, ident: int, lock: Any, site: str) -> None:
        self.holding[ident].append((lock, site))

    def note_released(self, ident: int | None, lock: Any) -> None:
        if ident is None:
            return
        held = self.holding.get(ident)
        if held:
            for i in range(len(held) - 1, -1, -1):
                if held[i][0] is lock:
                    del held[i]
                    break

    def self_deadlock(self, me: int, lock: Any, site: str) -> DeadlockError:
        """Record and return the error for re-taking a held lock."""
        error = DeadlockError(
            f'self-deadlock: "{self.name(me)}" acquires the '
            f'{self.lock_desc(lock)} again, at {site}, while holding it '
            f'(not re-entrant)')
        self.deadlocks.append(str(error))
        return error

    @staticmethod
    def lock_class(lock: Any) -> str:
        if isinstance(lock, str):
            return f'lockutils:{lock}'
        return lock.lock_class or lock.site or '?'

    # Closing ---------------------------------------------------------------

    def close(self, abandon: bool = False) -> None:
        """Wake every parked member; from now on waits are real.

        A timed wait or a sleep ends as if its time ran out; an untimed lock
        wait starts again, in real time, or with ``abandon`` raises
        `DeadlockError` so that a deadlocked thread unwinds.
        """
        with self.mutex:
            self.abandoning = abandon
            for parked in list(self.parked.values()):
                untimed = parked.deadline is None and not parked.timed and \
                    parked.kind == 'lock'
                if untimed and abandon:
                    self.wake(parked, granted=False, error=DeadlockError(
                        'abandoned at the end of the test: this thread was '
                        'still waiting for ' + self.lock_desc(parked.vlock)))
                    continue
                parked.retry = untimed
                self.wake(parked, granted=False)
            if not abandon:
                self.active = False
            settlers, self.settlers = self.settlers, []
            for lock in settlers:
                lock.release()


class VLock:
    """A lock that knows its owner, its waiters and where it was made.

    Same interface as ``_thread.LockType``. ``kind`` is ``'waiter'`` for a
    Condition's waiter lock (its timed acquire is the wait), else
    ``'mutex'``. Members block durably when the owner is a member too (a
    waiter lock always); non-members, and everyone once the bubble closes,
    wait in real time.
    """

    __slots__ = ('bubble', 'locked_', 'owner', 'waiters', 'site', 'kind',
                 'lock_class', '__weakref__')

    def __init__(self, bubble: Bubble, site: str = '',
                 kind: str = 'mutex') -> None:
        self.bubble = bubble
        self.locked_ = False
        self.owner: int | None = None
        self.waiters: collections.deque[_Parked] = collections.deque()
        self.site = site
        self.kind = kind
        self.lock_class: str | None = None

    def __repr__(self) -> str:
        state = 'locked' if self.locked_ else 'unlocked'
        return f'<VLock {self.kind} {state} made at {self.site or "?"}>'

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        bubble = self.bubble
        me = get_ident()
        tracked = self.kind == 'mutex' and bubble.detect
        caller = sys._getframe(1) if tracked else None
        site = site_of(caller) if tracked else ''
        while True:
            with bubble.mutex:
                member = bubble.active and me in bubble.members
                if tracked and member:
                    bubble.note_acquire(
                        me, self, blocking and timeout != 0,
                        lambda: '\n'.join(trimmed_stack(caller)))
                if not self.locked_:
                    self.locked_ = True
                    self.owner = me
                    if tracked and member:
                        bubble.note_held(me, self, site)
                    return True
                if not blocking or timeout == 0:
                    return False
                if tracked and member and timeout < 0:
                    if self.owner == me:
                        raise bubble.self_deadlock(me, self, site)
                    chain = bubble.find_cycle(me, self)
                    if chain:
                        raise bubble.cycle_error(chain)
                    if bubble.abandoning:
                        raise DeadlockError(
                            'abandoned at the end of the test: this thread '
                            'waits for ' + bubble.lock_desc(self))
                parked = _Parked(me, self, 'lock')
                parked.site = site
                self.waiters.append(parked)
                if member:
                    owner = self.owner
                    durable = owner is None or owner in bubble.members
                    bubble.park(parked, None if timeout < 0 else timeout,
                                durable)
                virtual = member and bubble.virtual
            if virtual or timeout < 0:
                parked.lock.acquire()
            else:
                parked.lock.acquire(True, timeout)
            with bubble.mutex:
                if not parked.done:
                    # NOTE(vlock): a real timeout ran out.
                    bubble.unpark(parked)
                    try:
                        self.waiters.remove(parked)
                    except ValueError:
                        pass
                if parked.error is not None:
                    raise parked.error
                if parked.granted:
                    if tracked and member:
                        bubble.note_held(me, self, site)
                    return True
                if not parked.retry:
                    return False

    def release(self) -> None:
        bubble = self.bubble
        with bubble.mutex:
            if not self.locked_:
                raise RuntimeError('release unlocked lock')
            if self.kind == 'mutex' and bubble.detect:
                bubble.note_released(self.owner, self)
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
        virtual = bubble.active and bubble.virtual and \
            get_ident() in bubble.members
        if virtual:
            parked = _Parked(get_ident(), None, 'sleep')
            bubble.park(parked, seconds, durable=True)
    if not virtual:
        real_sleep(seconds)
        return
    parked.lock.acquire()
    if parked.error is not None:
        raise parked.error
