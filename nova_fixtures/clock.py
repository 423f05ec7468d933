"""ClockFixture: virtual time for the threads of a test, with autojump."""

from __future__ import annotations

import _thread
import concurrent.futures.thread
import contextlib
import logging
import math
import queue
import sys
import threading
import time
import traceback
import unittest
from typing import Any, Callable, Iterator

import fixtures

from fake_transport import backend
from fake_transport import journal
from nova_fixtures import _bubble
from nova_fixtures import _core
from nova_fixtures import _follow
from nova_fixtures import _rebind
from nova_fixtures import _state
from nova_fixtures import _vlock
from nova_fixtures import _wallclock

__all__ = ['ClockError', 'ClockFixture', 'DeadlockError', 'io_answer',
           'io_listen', 'io_wait']

LOG = logging.getLogger(__name__)

ClockError = _bubble.ClockError
DeadlockError = _bubble.DeadlockError

_REAL: dict[str, Callable[..., Any]] = {
    'monotonic': time.monotonic,
    'monotonic_ns': time.monotonic_ns,
    'time': time.time,
    'time_ns': time.time_ns,
    'sleep': time.sleep,
}
_REAL_NS = (time.monotonic_ns, time.time_ns)
_REAL_ALLOCATE = _thread.allocate_lock
_LOCK_TYPE = type(_thread.allocate_lock())
_NS = 1_000_000_000
# NOTE(clock): how often, in real seconds, the watchdog looks at the CPU
# of test threads that keep time from jumping (see _follow).
_FOLLOW_TICK = 0.02
_current: _bubble.Bubble | None = None
# NOTE(clock): who set up the active clock and from where (see
# _set_up_by()), for the error a second clock gets while it is active.
_opened_by = ''
# NOTE(clock): virtual time is integer nanoseconds on whole-second bases,
# so readings and their differences are exact for whole seconds and
# binary fractions whatever the host's uptime: (monotonic, wall) bases.
_base_ns = (0, 0)
# NOTE(clock): both bases sit this far past a whole second, so that a
# reading with its fraction dropped is older than a later reading, as it
# is in real time (unless the later reading falls on a whole second, which
# takes waits summing to x.498046875 s). A binary fraction (2**-1 + 2**-9):
# sums of whole seconds and binary fractions stay exact floats.
_FRACTION_NS = 501_953_125
# NOTE(clock): threads of a closed clock that still run keep reading time
# from where their virtual clock stopped, at the real rate, so deadline
# loops they were in (queue.get, Condition.wait_for) stay consistent and
# time never goes backwards for them: ident -> (monotonic, wall) offsets.
_retired: dict[int, tuple[int, int]] = {}
# NOTE(clock): test threads the last clock saw blocked for good when it
# closed (an untimed wait only test threads could end): ident -> what they
# waited for. ThreadLeakFixture reports them at once, without a grace.
stuck_at_close: dict[int, str] = {}
_scanned: set[str] = set()
# NOTE(clock): whether references to the real time functions held outside
# module namespaces were swapped yet (once per process, see _rebind).
_rebound = False
# NOTE(clock): modules that must keep the real functions: ours.
_SKIP_MODULES = ('nova_fixtures._bubble', 'nova_fixtures._core',
                 'nova_fixtures._rebind', 'nova_fixtures._vlock',
                 'nova_fixtures._wallclock', 'nova_fixtures.clock')


def active_bubble() -> _bubble.Bubble | None:
    """The core of the active `ClockFixture`, or of a `DeadlockFixture`
    set up without one; None when neither is set up."""
    return _current


def _member() -> _bubble.Bubble | None:
    bubble = _current
    if bubble is not None and bubble.is_member(_thread.get_ident()):
        return bubble
    return None


def _virtual_ns(index: int) -> int | None:
    """Now in ns (0 monotonic, 1 wall time) on this thread's virtual time
    line, current or retired; None for a thread that has none."""
    bubble = _current
    ident = _thread.get_ident()
    if bubble is not None and bubble.virtual and bubble.is_member(ident):
        return _base_ns[index] + bubble.now_ns
    offset = _retired.get(ident)
    if offset is None:
        return None
    real: int = _REAL_NS[index]()
    return real + offset[index]


def _read_ns(index: int) -> int:
    """Now, as this thread sees it, in ns: 0 monotonic, 1 wall time."""
    virtual = _virtual_ns(index)
    if virtual is None:
        real: int = _REAL_NS[index]()
        return real
    return virtual


def _monotonic_base_ns(real_ns: int) -> int:
    """Where virtual ``time.monotonic()`` starts: a power of two seconds.

    2**20 s (12 days), or the next power of two above the host's uptime:
    never behind a reading taken before the clock, the same on every host
    that has been up less than 12 days (so no virtual outcome depends on
    the uptime), and a base on which sums of whole seconds and binary
    fractions are exact floats, with a unit in the last place under half
    a nanosecond below 2**21 s.
    """
    base = 1 << 20
    while base * _NS < real_ns:
        base <<= 1
    return base * _NS


def _v_monotonic() -> float:
    return _read_ns(0) / _NS


def _v_monotonic_ns() -> int:
    return _read_ns(0)


def _v_time() -> float:
    return _read_ns(1) / _NS


def _v_time_ns() -> int:
    return _read_ns(1)


def _v_sleep(seconds: float) -> None:
    _vlock.check_sleep(seconds)
    bubble = _member()
    if bubble is None or seconds == 0:
        _REAL['sleep'](seconds)
        return
    _vlock.sleep(bubble, seconds, _REAL['sleep'])


def clock_start() -> float | None:
    """``time.monotonic()`` when the calling test thread's clock started,
    or None outside a clock: any reading below it was taken before."""
    if _member() is None:
        return None
    return _base_ns[0] / _NS


def virtual_wall() -> float | None:
    """This thread's virtual ``time.time()``, or None if it has none."""
    virtual = _virtual_ns(1)
    return None if virtual is None else virtual / _NS


_VIRTUAL = {
    'monotonic': _v_monotonic,
    'monotonic_ns': _v_monotonic_ns,
    'time': _v_time,
    'time_ns': _v_time_ns,
    'sleep': _v_sleep,
}


def _creation_site() -> str:
    return _bubble.site_of(sys._getframe(2))


def _set_up_by() -> str:
    """Which test is setting a fixture up and from where, for errors.

    The test is the first `unittest.TestCase` found as ``self`` in the
    calling frames (its ``id()``); the stack is the last frames outside
    runner and library code, or the raw last frames when that leaves none.

    :returns: ``by <test id> at:``, or ``at:`` when no test is among the
        callers, then a line per frame, innermost last.
    """
    caller = sys._getframe(1)
    lines = _bubble.trimmed_stack(caller)
    if not lines:
        lines = [line.rstrip('\n')
                 for line in traceback.format_stack(caller)[-8:]]
    where = '\n'.join(lines)
    frame: Any = caller
    while frame is not None:
        code = frame.f_code
        # NOTE(clock): only methods' frames have their locals read.
        if code.co_argcount and code.co_varnames[0] == 'self':
            test = frame.f_locals.get('self')
            if isinstance(test, unittest.TestCase):
                return f'by {test.id()} at:\n{where}'
        frame = frame.f_back
    return f'at:\n{where}'


def _scope(kind: str) -> contextlib.AbstractContextManager[None]:
    bubble = _member()
    if bubble is None:
        return contextlib.nullcontext()
    return bubble.scope(kind, _bubble.site_of(sys._getframe(1)))


@contextlib.contextmanager
def io_wait() -> Iterator[None]:
    """Wait, in this test thread, for I/O that another test thread answers.

    A thread in ``select``, ``accept`` or ``recv`` counts as running, which
    stops time from jumping. Wrap a client's wait for an answer from a
    server run by a test thread (an HTTP request to a
    `WSGIServiceFixture`): the wait counts as blocked only while a test
    thread is answering it (`io_answer`), so time never moves while a
    request or its reply crosses the socket, and moves as usual while the
    handler sleeps or waits on a timer. No-op outside a `ClockFixture`.
    """
    with _scope('io'):
        yield


@contextlib.contextmanager
def io_listen() -> Iterator[None]:
    """A test thread's server waits for a request (``accept``, ``select``).

    Counts as blocked: an idle server does not hold up time. No-op outside
    a `ClockFixture`.
    """
    with _scope('listen'):
        yield


@contextlib.contextmanager
def io_answer() -> Iterator[None]:
    """A test thread is handling one request that an `io_wait` waits for.

    No-op outside a `ClockFixture`.
    """
    bubble = _member()
    if bubble is None:
        yield
        return
    with bubble.answering_scope():
        yield


_WAIT_CODE = threading.Condition.wait.__code__


def _allocate_lock() -> Any:
    bubble = _member()
    if bubble is None:
        return _REAL_ALLOCATE()
    waiter = sys._getframe(1).f_code is _WAIT_CODE
    lock = _vlock.VLock(bubble, _creation_site(),
                        'waiter' if waiter else 'mutex')
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


def install_threading(fixture: fixtures.Fixture,
                      bubble: _bubble.Bubble) -> None:
    """Make ``bubble`` current and hook ``threading`` for it, until the
    cleanup of ``fixture``: thread membership (``Thread.start``/``join``),
    VLocks for locks made by members (``Lock``, ``_allocate_lock``,
    ``RLock`` via ``_PyRLock``), pure-Python ``queue.SimpleQueue``."""
    global _current
    real_start = threading.Thread.start
    real_join = threading.Thread.join

    def start(thread: threading.Thread) -> None:
        if _member() is not bubble:
            return real_start(thread)
        if serves_outside_object(thread):
            # NOTE(clock): the starter waits for a thread outside the
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
                    # NOTE(clock): no switch between waking a joiner and
                    # leaving: the joiner then waits for this thread's
                    # real end, which must not wait for a turn.
                    sched.atomic_begin()
                done.set()
                bubble.leave()
                _retired.pop(_thread.get_ident(), None)

        thread.run = run  # type: ignore[method-assign]
        bubble.adopt_thread(thread)
        bubble.expect()
        if sched is not None:
            # NOTE(clock): the starter keeps the baton while start() waits
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
        if done is not None and _member() is bubble:
            if not done.wait(timeout):
                return
            timeout = None
        real_join(thread, timeout)

    fixture.addCleanup(_forget, bubble)
    _watch_outside_pools(fixture, bubble)
    bubble.adopt_root()
    _current = bubble
    for target, value in (
            ('threading.Thread.start', start),
            ('threading.Thread.join', join),
            ('threading._allocate_lock', _allocate_lock),
            ('threading.Lock', Lock),
            ('threading._CRLock', None),
            ('queue.SimpleQueue', queue._PySimpleQueue)):  # type: ignore
        fixture.useFixture(fixtures.MonkeyPatch(target, value))


_C_SIMPLE_QUEUE = queue.SimpleQueue
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


def _rebind_captured() -> None:
    """Swap the real time functions wherever Python code captured them
    before the first clock: default arguments, partials, attributes,
    closures (see `nova_fixtures._rebind`). Once per process: from then on
    every name that led to a real function leads to a swapped one, so no
    new capture can be real."""
    global _rebound
    if _rebound:
        return
    _rebound = True
    swaps: dict[int, tuple[object, object]] = {
        id(real): (real, _VIRTUAL[name]) for name, real in _REAL.items()}
    swaps.update(_wallclock.swaps())
    keep: list[object] = [_REAL, _REAL_NS, _VIRTUAL, swaps]
    keep.extend(_wallclock.kept())
    for name in _SKIP_MODULES:
        module = sys.modules.get(name)
        if module is not None:
            keep.append(vars(module))
    _rebind.rebind(swaps, keep)


def _forget(bubble: _bubble.Bubble) -> None:
    global _current
    if _current is bubble:
        _current = None


class ClockFixture(_state.GuardedFixture):
    """Virtual time for the test thread and every thread it starts.

    Caution: patches process-wide. ``time.sleep``, ``time.monotonic``,
    ``time.time`` (and their ``_ns`` forms, with every alias bound at
    import, such as ``threading._time``, ``queue.time``,
    ``oslo_utils.timeutils.now``, ``futurist._utils.now``) are swapped the
    first time a clock is set up and stay swapped; with no clock active
    they call the real functions. While active:
    ``threading.Lock`` / ``threading._allocate_lock`` (locks made by test
    threads become `VLock`, which covers every timed wait of ``Condition``,
    ``Event``, ``Semaphore``, ``Barrier``, ``queue.Queue``,
    ``concurrent.futures``, futurist, ``threading.Timer``);
    ``threading.RLock`` (pure-Python, on a VLock); ``queue.SimpleQueue``
    (pure-Python); ``threading.Thread.start`` / ``join`` (membership). One
    clock per process; they don't nest. Objects made before the fixture
    keep real locks, so make executors, services and queues after it.

    Only the test's threads (the one that set the fixture up and every
    thread started from one of them, transitively) see virtual time; other
    threads read and wait in real time.

    With ``autojump``, whenever every test thread is durably blocked (on a
    VLock, a Condition, a sleep) time jumps to the earliest deadline; ties
    fire in the order they were set. A thread blocked on anything else (a
    socket, ``select``, a lock made before the fixture) counts as running:
    time then stalls rather than jump wrongly, and after ``max_real_stall``
    real seconds a report names the thread and where it is (detail
    ``nova-fixtures:clock``). If every test thread blocks with no timer
    left, the test thread gets `DeadlockError`; beyond ``max_virtual``
    seconds it gets `ClockError`.

    A test thread that computes or polls without ever blocking does not
    freeze time: once such threads burned 1 s of CPU with nothing else
    happening, time follows their CPU (see ``doc/source/virtual-time.rst``).

    At cleanup timed waits still parked time out (time first moves to the
    latest deadline); untimed waits go on in real time until really woken,
    never granted: the process can exit, and no wait lies.

    :param autojump: jump to the next deadline when all are blocked.
    :param max_virtual: virtual seconds the test may use.
    :param max_real_stall: real seconds of no progress before a report.
    :param start_wall: ``time.time()`` at the start (default: real now).
    :ivar stalled: an Event set when a stall is reported.

    Example::

        clock = self.useFixture(ClockFixture())
        time.sleep(3600)            # returns at once
        self.assertEqual(3600, clock.now())
    """

    def __init__(self, autojump: bool = True, max_virtual: float = 3600.0,
                 max_real_stall: float = 5.0,
                 start_wall: float | None = None) -> None:
        super().__init__()
        self.autojump = autojump
        self.max_virtual = max_virtual
        self.max_real_stall = max_real_stall
        self.start_wall = start_wall

    # Setup and teardown ------------------------------------------------------

    def _setUp(self) -> None:
        global _base_ns, _opened_by
        backend.refuse_eventlet(ClockError, 'ClockFixture')
        if _current is not None:
            if not _current.virtual:
                raise ClockError(
                    'a DeadlockFixture is active; set up the ClockFixture '
                    'before it')
            raise ClockError(
                'a ClockFixture is already active in this process; clocks '
                f"don't nest. The active one was set up {_opened_by}")
        _opened_by = _set_up_by()
        bubble = _bubble.Bubble(True, self.autojump, self.max_virtual)
        self.bubble = bubble
        stuck_at_close.clear()
        self.addDetail('nova-fixtures:clock', _state.lazy_text(self.render))
        self._start_watchdog()
        mono = _monotonic_base_ns(_REAL_NS[0]()) + _FRACTION_NS
        if self.start_wall is not None:
            wall = round(self.start_wall * _NS)
        else:
            wall = -(-_REAL_NS[1]() // _NS) * _NS + _FRACTION_NS
        _base_ns = (mono, wall)
        self._patch_time()
        _wallclock.install(
            virtual_wall, lambda: bubble.progress + bubble.acquires
            if bubble.virtual and bubble.is_member(_thread.get_ident())
            else None)
        _rebind_captured()
        install_threading(self, bubble)
        # NOTE(clock): journal entries recorded by test threads carry
        # their virtual time.
        self.addCleanup(journal.set_virtual_clock, None)
        journal.set_virtual_clock(
            lambda: bubble.now if bubble.is_member(_thread.get_ident())
            else None)
        self.addCleanup(self._close)
        # NOTE(clock): a schedule asked for by the hunt or the environment
        # (imported here: the schedule module builds on this one).
        from nova_fixtures import schedule
        schedule.attach_requested(self)
        self._ready()

    def _close(self) -> None:
        bubble = self.bubble
        with bubble.mutex:
            # NOTE(clock): the test is over: time runs out for every wait
            # still pending, and threads still running carry on from there
            # (retired before the bubble closes, so that no reading in
            # between falls back to real time).
            bubble.run_out_timers()
            stuck_at_close.clear()
            for ident, park in bubble.parked.items():
                if ident != bubble.root and park.timeout is None and \
                        park.kind in ('lock', 'waiter') and \
                        bubble.durable(park):
                    stuck_at_close[ident] = bubble.state_of(ident)
            stuck = None
            if stuck_at_close:
                stuck = bubble.describe(
                    'when the clock stopped, test threads were blocked for '
                    'good; they stay blocked until really woken',
                    {i: bubble.members[i] for i in stuck_at_close})
                bubble.report(stuck)
            offsets = (_base_ns[0] + bubble.now_ns - _REAL_NS[0](),
                       _base_ns[1] + bubble.now_ns - _REAL_NS[1]())
            for ident in bubble.members:
                if ident != bubble.root:
                    _retired[ident] = offsets
            bubble.close()
        _forget(bubble)
        if stuck is not None:
            LOG.warning('%s', stuck)
        if bubble.failure is not None and not bubble.failure_delivered:
            raise bubble.failure

    def _patch_time(self) -> None:
        """Swap the time functions wherever a module holds them.

        Done once per process and kept: outside a clock the swapped
        functions call the real ones, and a thread of a closed clock keeps
        a time line that never goes backwards (see ``_retired``). Later
        clocks only scan modules imported since.
        """
        originals = {id(f): name for name, f in _REAL.items()}
        for module_name, module in list(sys.modules.items()):
            if module_name in _scanned:
                continue
            _scanned.add(module_name)
            if module is None or module_name in _SKIP_MODULES:
                continue
            namespace = getattr(module, '__dict__', None)
            if not isinstance(namespace, dict):
                continue
            for attr, value in list(namespace.items()):
                name = originals.get(id(value))
                if name is not None and value is _REAL[name]:
                    namespace[attr] = _VIRTUAL[name]

    def _start_watchdog(self) -> None:
        # NOTE(clock): made before anything is patched, so it is not a
        # member and waits in real time. It also polls, every 10 ms, while
        # time waits for a busy thread outside the bubble to go idle.
        stop = threading.Event()
        poke = threading.Event()
        self.stalled = threading.Event()
        stalled_event = self.stalled
        bubble = self.bubble
        interval = self.max_real_stall
        bubble.set_stall_hook(poke.set)
        real_now = _REAL['monotonic']

        def watch() -> None:
            last = -1
            since = real_now()
            reported = followed = False
            follower = _follow.Follower(bubble)
            while True:
                polling = bubble.stalled_on is not None
                poke.wait(0.01 if polling else min(interval, _FOLLOW_TICK))
                poke.clear()
                if stop.is_set():
                    return
                with bubble.mutex:
                    if polling:
                        bubble.maybe_advance()
                    moved_for = None
                    if bubble.active and bubble.members and \
                            bubble.sched is None:
                        moved_for = follower.step()
                    if moved_for and not followed:
                        followed = True
                        bubble.report(bubble.describe(
                            f'virtual time follows the CPU of test threads '
                            f'that ran {_follow.GRACE:g} s without '
                            f'blocking, from {bubble.now:g} s',
                            {i: bubble.members[i] for i in moved_for
                             if i in bubble.members}))
                    progress = bubble.progress
                    # NOTE(clock): no member yet while _setUp patches
                    # time, which can take longer than the interval on a
                    # loaded machine: nothing to report then.
                    if progress != last or not bubble.active or \
                            not bubble.members:
                        last, since, reported = progress, real_now(), False
                        continue
                    if reported or real_now() - since < interval:
                        continue
                    report = bubble.describe(
                        f'virtual time frozen at {bubble.now:g} s for '
                        f'{interval:g} s of real time: a test thread is '
                        f'not durably blocked')
                    bubble.report(report)
                    reported = True
                LOG.warning('%s', report)
                stalled_event.set()

        thread = threading.Thread(target=watch, name='clock-watchdog',
                                  daemon=True)
        thread.start()

        def stop_watchdog() -> None:
            stop.set()
            poke.set()
            thread.join()

        self.addCleanup(stop_watchdog)

    # The clock ------------------------------------------------------------

    def now(self) -> float:
        """Virtual seconds since the fixture was set up.

        Exact: virtual time is kept in whole nanoseconds.
        """
        self._check_ready()
        return self.bubble.now

    def time(self) -> float:
        """Virtual ``time.time()``."""
        self._check_ready()
        return (_base_ns[1] + self.bubble.now_ns) / _NS

    def advance(self, seconds: float) -> None:
        """Move virtual time forward, firing the timers it passes."""
        self._check_ready()
        if not isinstance(seconds, (int, float)) or isinstance(
                seconds, bool) or (isinstance(seconds, float) and
                                   not math.isfinite(seconds)) or seconds < 0:
            raise ValueError(
                f'advance() needs a finite number of seconds >= 0, got '
                f'{seconds!r}')
        bubble = self.bubble
        if seconds > bubble.max_virtual - bubble.now:
            raise ClockError(
                f'advance({seconds!r}) would pass the virtual time budget '
                f'of {bubble.max_virtual:g} s (now {bubble.now:g} s); '
                f'raise it with ClockFixture(max_virtual=...) or '
                f'TestCase.CLOCK_OPTIONS')
        bubble.advance(_core.to_ns(seconds))

    def settle(self) -> None:
        """Block until every other test thread is durably blocked."""
        self._check_ready()
        bubble = self.bubble
        if _member() is not bubble:
            raise ClockError('settle() must be called from a test thread')
        park = _core.Park(_thread.get_ident(), 'settle')
        try:
            with bubble.mutex:
                bubble.park(park)
            bubble.wait(park)
        except BaseException:
            bubble.abort(park)
            raise

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Keep time still while work outside the test is in flight."""
        self._check_ready()
        with self.bubble.hold():
            yield

    @property
    def jumps(self) -> int:
        """How many times time jumped to a deadline."""
        return self.bubble.jumps

    @property
    def reports(self) -> list[str]:
        """Stall and deadlock reports so far."""
        return list(self.bubble.reports)

    def render(self) -> str:
        bubble = self.bubble
        with bubble.mutex:
            lines = [f'virtual time {bubble.now:g} s after {bubble.jumps} '
                     f'jump(s); {len(bubble.members)} test thread(s), '
                     f'{len(bubble.parked)} parked, '
                     f'{len(bubble.timers)} timer(s)']
            lines.extend(bubble.reports)
        return '\n'.join(lines)
