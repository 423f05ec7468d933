"""Threading instrumentation for a core: membership, VLocks, queues.

While a `ClockFixture` or a `DeadlockFixture` is set up (`install`),
``threading.Thread.start`` and ``join`` make threads started by members
members too; ``threading.Lock`` and ``threading._allocate_lock`` make
`nova_fixtures._vlock.VLock` for members (so ``RLock``, ``Condition``,
``Event``, ``Semaphore``, ``Barrier``, ``queue.Queue`` are built on
them); ``queue.SimpleQueue`` is the pure-Python one; work a member gives
to a pool whose threads are outside the core counts as running.
"""

from __future__ import annotations

import _thread
import concurrent.futures.thread
import queue
import sys
import threading
from typing import Any, Callable

import fixtures

from nova_fixtures import _bubble
from nova_fixtures import _compat
from nova_fixtures import _core
from nova_fixtures import _registry
from nova_fixtures import _timeswap
from nova_fixtures import _vlock

__all__ = ['Lock', 'RLock', 'SimpleQueue', 'check_join_timeout', 'install',
           'serves_outside_object']

_REAL_ALLOCATE = _thread.allocate_lock
_LOCK_TYPE = type(_thread.allocate_lock())
_C_SIMPLE_QUEUE = queue.SimpleQueue
_member = _registry.member


def _creation_site() -> str:
    return _bubble.site_of(sys._getframe(2))


_WAIT_CODE = threading.Condition.wait.__code__


def _allocate_lock() -> Any:
    bubble = _member()
    if bubble is None:
        return _REAL_ALLOCATE()
    waiter = sys._getframe(1).f_code is _WAIT_CODE
    lock = _vlock.VLock(bubble, _creation_site(),
                        _core.LockRole.WAITER if waiter
                        else _core.LockRole.MUTEX)
    if bubble.detect and not waiter:
        lock.lock_class = _bubble.class_of(sys._getframe(1))
    return lock


class _LockMeta(type):
    """``threading.Lock()`` makes a `VLock` for test threads; real locks
    and VLocks are both instances (``threading.Lock`` is a class on 3.13).
    """

    def __call__(cls) -> Any:
        return _allocate_lock()

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, (_LOCK_TYPE, _vlock.VLock))

    def __subclasscheck__(cls, sub: Any) -> bool:
        return isinstance(sub, type) and issubclass(
            sub, (_LOCK_TYPE, _vlock.VLock))


class Lock(metaclass=_LockMeta):
    """``threading.Lock`` while a clock or deadlock fixture is active."""


def install(fixture: fixtures.Fixture, bubble: _bubble.Bubble,
            by: str) -> None:
    """Make ``bubble`` the active core (set up as ``by`` says) and hook
    ``threading`` for it, until the cleanup of ``fixture``: thread
    membership (``Thread.start``/``join``), VLocks for locks made by
    members (``Lock``, ``_allocate_lock``, ``RLock`` via ``_PyRLock``),
    pure-Python ``queue.SimpleQueue``. Waits check their timeouts as the
    real ones do (a NaN raises, as it does without a clock)."""
    real_start = threading.Thread.start
    real_join = threading.Thread.join

    def start(thread: threading.Thread) -> None:
        if _member() is not bubble:
            return real_start(thread)
        if serves_outside_object(thread):
            # NOTE(instrument): the starter waits for a thread outside the
            # bubble to boot: time stands still meanwhile.
            with bubble.hold():
                return real_start(thread)
        real_run = thread.run
        thread._nf_done = threading.Event()  # type: ignore
        done = thread._nf_done  # type: ignore
        sched = bubble.sched
        tid = None
        if sched is not None:
            with bubble.mutex:
                tid = sched.spawn(thread.name)

        def run() -> None:
            bubble.enter(thread.name)
            try:
                if sched is not None:
                    sched.entered(tid)
                real_run()
            finally:
                if sched is not None:
                    # NOTE(instrument): no switch between waking a joiner and
                    # leaving: the joiner then waits for this thread's
                    # real end, which must not wait for a turn.
                    sched.atomic_begin()
                done.set()
                bubble.leave()
                _timeswap.forget_retired(_thread.get_ident())

        thread.run = run  # type: ignore[method-assign]
        bubble.adopt_thread(thread)
        bubble.expect()
        if sched is not None:
            # NOTE(instrument): the starter keeps the baton while start() waits
            # for the new thread to boot; then the new one may run first.
            sched.atomic_begin()
        try:
            real_start(thread)
        except BaseException:
            bubble.cancel_expected()
            if sched is not None:
                sched.forget(tid)
            raise
        finally:
            if sched is not None:
                sched.atomic_end()
        if sched is not None:
            sched.point('start', thread.name)

    def join(thread: threading.Thread, timeout: float | None = None) -> None:
        done = getattr(thread, '_nf_done', None)
        if done is not None and _member() is bubble and \
                thread is not threading.current_thread():
            if timeout is not None:
                timeout = check_join_timeout(timeout, done.is_set())
            if not done.wait(timeout):
                return
            timeout = None
        real_join(thread, timeout)

    fixture.addCleanup(_registry.deactivate, bubble)
    _watch_outside_pools(fixture, bubble)
    bubble.adopt_root()
    _registry.activate(bubble, by)
    for target, value in (
            ('threading.Thread.start', start),
            ('threading.Thread.join', join),
            ('threading._allocate_lock', _allocate_lock),
            ('threading.Lock', Lock),
            ('threading._CRLock', RLock),
            ('queue.SimpleQueue', SimpleQueue)):
        fixture.useFixture(fixtures.MonkeyPatch(target, value))


def check_join_timeout(timeout: float, finished: bool) -> float:
    """Raise what the real ``Thread.join(timeout)`` raises for a bad
    timeout (a NaN, a string, too large); else the timeout it waits for.

    Like it, a negative timeout is 0, and on Python < 3.13 a thread that
    has finished is joined at once whatever the timeout.
    """
    timeout = max(timeout, 0)
    if not finished or sys.version_info >= (3, 13):
        _vlock.check_timeout(True, timeout)
    return timeout


class RLock(threading._PyRLock):  # type: ignore[name-defined]
    """``threading.RLock`` while a clock or deadlock fixture is active: the
    pure-Python one (on a `VLock` for test threads), which checks its
    timeout as the C one does, even when the caller holds it already, and
    returns True, not 1, when it does."""

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if timeout != -1 or not blocking:
            _vlock.check_timeout(blocking, timeout)
        return bool(super().acquire(blocking, timeout))

    __enter__ = acquire


class SimpleQueue(queue._PySimpleQueue):  # type: ignore[name-defined]
    """``queue.SimpleQueue`` while a clock or deadlock fixture is active:
    the pure-Python one (its waits are on locks of the core), which treats
    ``get``'s timeout as the C one does: checked when blocking (a NaN
    raises), ignored when not."""

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        if not block:
            timeout = None
        elif timeout is not None:
            # NOTE(instrument): a real queue with an item in it checks the
            # timeout, with the running Python's words, and returns.
            probe: queue.SimpleQueue[None] = _C_SIMPLE_QUEUE()
            probe.put(None)
            probe.get(True, timeout)
        return super().get(block, timeout)


_CF_WORKER = concurrent.futures.thread._worker


def serves_outside_object(thread: threading.Thread) -> bool:
    """Whether ``thread`` is a worker the standard library starts for a
    ``concurrent.futures.ThreadPoolExecutor`` made before any clock (its
    work queue is the C ``SimpleQueue``, which no clock instruments): it
    serves the pool, not the test, so it is no test thread, waits in real
    time, and outlives the test with its pool."""
    args: tuple[Any, ...] = getattr(thread, '_args', ())
    return getattr(thread, '_target', None) is _CF_WORKER and \
        len(args) > 1 and type(args[1]) is _C_SIMPLE_QUEUE


def _watch_outside_pools(fixture: fixtures.Fixture,
                         bubble: _bubble.Bubble) -> None:
    """Count work a member submits to a pool with threads outside the
    bubble (made before it) as running until its future is done, so that
    time stalls rather than jump under it."""
    pools = [('concurrent.futures.ThreadPoolExecutor', '_threads')]
    try:
        import futurist  # noqa: F401
    except ImportError:  # pragma: no cover
        pass
    else:
        _compat.require('futurist')
        pools.append(('futurist.ThreadPoolExecutor', '_workers'))
    for path, attr in pools:
        module_name, cls_name = path.rsplit('.', 1)
        cls = getattr(sys.modules[module_name], cls_name)
        fixture.useFixture(fixtures.MonkeyPatch(
            path + '.submit', _outside_submit(bubble, cls.submit, attr)))


def _outside_submit(bubble: _bubble.Bubble, real_submit: Callable[..., Any],
                    attr: str) -> Callable[..., Any]:
    def submit(pool: Any, *args: Any, **kwargs: Any) -> Any:
        future = real_submit(pool, *args, **kwargs)
        if _member() is not bubble:
            return future
        outside = [t.name for t in getattr(pool, attr, ())
                   if not bubble.owns_thread(t) and t.is_alive()]
        if outside:
            key = id(future)
            bubble.outside_work_begin(
                key, f'a pool made before the clock '
                f'({", ".join(sorted(outside))})')
            future.add_done_callback(lambda _: bubble.outside_work_end(key))
        return future

    return submit
