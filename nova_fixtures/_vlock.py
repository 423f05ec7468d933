"""VLock: a lock that knows its owner, its waiters and where it was made.

Same interface as ``_thread.LockType``. Every wait is a `Park` of the core
(`nova_fixtures._core`): members of an active bubble wait there with no
real timeout (virtual time ends timed waits), everyone else waits in real
time. ``release()`` hands the lock to the first waiter still waiting.
"""

from __future__ import annotations

import _thread
import collections
import math
import sys
from typing import Any, Callable

from nova_fixtures import _bubble
from nova_fixtures import _core

__all__ = ['VLock', 'check_sleep', 'check_timeout', 'sleep']

get_ident = _core.get_ident
MUTEX = _core.LockRole.MUTEX
WAITER = _core.LockRole.WAITER


def _real_error(*args: Any) -> str:
    try:
        _thread.allocate_lock().acquire(*args)
    except (ValueError, OverflowError) as exc:
        return str(exc)
    raise AssertionError(f'acquire{args} did not fail')  # pragma: no cover


# NOTE(vlock): the real lock's messages, which differ between versions.
_NAN = _real_error(True, float('nan'))
_TOO_LARGE = _real_error(True, float('inf'))


def check_timeout(blocking: bool, timeout: float) -> None:
    """Raise what a real lock's ``acquire(blocking, timeout)`` raises.

    A fresh real lock checks the arguments itself, so the exception and
    its words are the running Python's for any value (NaN, too large,
    negative, not a number at all); a valid call takes it at once.
    """
    _thread.allocate_lock().acquire(blocking, timeout)


def check_sleep(seconds: float) -> None:
    """Raise what ``time.sleep(seconds)`` raises for a bad length."""
    if math.isnan(seconds):
        raise ValueError(_NAN)
    if seconds < 0:
        raise ValueError('sleep length must be non-negative')
    if math.isinf(seconds):
        raise OverflowError(_TOO_LARGE)


class VLock:
    """A lock that knows its owner, its waiters and where it was made.

    ``role`` is a `_core.LockRole`: `_core.LockRole.WAITER` for a
    Condition's waiter lock (its timed acquire is the wait), else
    `_core.LockRole.MUTEX`. A member's wait for a mutex is
    durable while the owner is a member too; a waiter lock's always is.
    """

    __slots__ = ('bubble', 'locked_', 'owner', 'waiters', 'site', 'role',
                 'lock_class', '__weakref__')

    def __init__(self, bubble: _bubble.Bubble, site: str = '',
                 role: _core.LockRole = _core.LockRole.MUTEX) -> None:
        self.bubble = bubble
        self.locked_ = False
        self.owner: int | None = None
        self.waiters: collections.deque[_core.Park] = collections.deque()
        self.site = site
        self.role = role
        self.lock_class: str | None = None

    def __repr__(self) -> str:
        state = 'locked' if self.locked_ else 'unlocked'
        return f'<VLock {self.role} {state} made at {self.site or "?"}>'

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if timeout != -1 or not blocking:
            check_timeout(blocking, timeout)
        bubble = self.bubble
        me = get_ident()
        sched = bubble.sched
        if sched is not None and self.role == MUTEX and blocking:
            sched.point('acquire', self.site)
        tracked = self.role == MUTEX and bubble.detect
        caller = sys._getframe(1) if tracked else None
        site = _bubble.site_of(caller) if tracked else ''
        park: _core.Park | None = None
        while True:
            try:
                if self._try_or_park(park, me, blocking, timeout, tracked,
                                     site, caller):
                    return True
                if park is None:
                    # NOTE(vlock): allocate outside the mutex, then look
                    # again.
                    if not blocking or timeout == 0:
                        if self.role == WAITER:
                            self._poll_passes(me)
                        return False
                    park = _core.Park(
                        me, _core.ParkKind.WAITER if self.role == WAITER
                        else _core.ParkKind.LOCK,
                        self, None if timeout < 0 else timeout, site)
                    continue
                granted = bubble.wait(park)
            except BaseException:
                if park is not None:
                    bubble.abort(park)
                raise
            if granted:
                if tracked and bubble.is_member(me):
                    with bubble.mutex:
                        bubble.note_held(me, self, site)
                return True
            if not park.retry:
                return False
            park = None

    def _try_or_park(self, park: _core.Park | None, me: int,
                     blocking: bool, timeout: float, tracked: bool,
                     site: str, caller: Any) -> bool:
        """Take the lock if free (True); else register ``park``, if given.
        """
        bubble = self.bubble
        with bubble.mutex:
            member = bubble.is_member(me)
            if not member:
                bubble.note_outsider(me)
            elif tracked and park is None:
                # NOTE(vlock): like a trylock, a timed acquire adds no
                # lock-order edge: it gives up by itself (back-off).
                bubble.note_acquire(me, self, blocking and timeout < 0,
                                    frame=caller)
            if not self.locked_:
                self.locked_ = True
                self.owner = me
                if member:
                    bubble.took_free_lock()
                    if tracked:
                        bubble.note_held(me, self, site)
                return True
            if park is not None:
                if tracked and member and timeout < 0:
                    self._check_cycle(me)
                self.waiters.append(park)
                bubble.park(park)
        return False

    def _poll_passes(self, me: int) -> None:
        """A zero-timeout wait found nothing (see `_core.Core.poll_failed`).
        """
        bubble = self.bubble
        with bubble.mutex:
            bubble.poll_failed(me)

    def _check_cycle(self, me: int) -> None:
        bubble = self.bubble
        chain = bubble.find_cycle(me, self)
        if chain:
            raise bubble.cycle_error(chain)
        if bubble.abandoning:
            raise _core.DeadlockError(
                'abandoned at the end of the test: this thread waits for ' +
                bubble.lock_desc(self))

    def release(self) -> None:
        bubble = self.bubble
        with bubble.mutex:
            if not self.locked_:
                raise RuntimeError('release unlocked lock')
            me = get_ident()
            if not bubble.is_member(me):
                bubble.note_outsider(me)
            if self.role == MUTEX and bubble.detect:
                bubble.note_released(self.owner, self)
            waiters = self.waiters
            while waiters:
                park = waiters.popleft()
                if park.done:
                    continue
                self.owner = park.ident
                bubble.end(park, granted=True)
                break
            else:
                self.locked_ = False
                self.owner = None
        sched = bubble.sched
        if sched is not None and self.role == MUTEX:
            sched.point('release', self.site)

    def locked(self) -> bool:
        return self.locked_

    def withdraw(self, park: _core.Park) -> None:
        """Forget ``park``, a wait that ended without the lock (core mutex
        held)."""
        try:
            self.waiters.remove(park)
        except ValueError:
            pass

    def _at_fork_reinit(self) -> None:
        self.locked_ = False
        self.owner = None
        self.waiters.clear()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def sleep(bubble: _bubble.Bubble, seconds: float,
          real_sleep: Callable[[float], None]) -> None:
    """Sleep ``seconds`` of virtual time if the caller is a member."""
    me = get_ident()
    park = _core.Park(me, _core.ParkKind.SLEEP, None, seconds)
    try:
        with bubble.mutex:
            virtual = bubble.virtual and bubble.is_member(me)
            if virtual:
                bubble.park(park)
        if virtual:
            bubble.wait(park)
            return
    except BaseException:
        bubble.abort(park)
        raise
    real_sleep(seconds)
