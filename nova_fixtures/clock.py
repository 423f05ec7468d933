"""ClockFixture: virtual time for the threads of a test, with autojump.

The fixture and its watchdog, and the ``io_*`` scopes. What it sets up
lives in the private runtime: the core (`nova_fixtures._core`,
`nova_fixtures._bubble`), the swap of the time functions
(`nova_fixtures._timeswap`), the threading instrumentation
(`nova_fixtures._instrument`) and the registry of the active core
(`nova_fixtures._registry`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import threading
from typing import Iterator

from fake_transport import backend
from fake_transport import journal
from nova_fixtures import _abandon
from nova_fixtures import _args
from nova_fixtures import _bubble
from nova_fixtures import _core
from nova_fixtures import _follow
from nova_fixtures import _hints
from nova_fixtures import _instrument
from nova_fixtures import _registry
from nova_fixtures import _state
from nova_fixtures import _timeswap

__all__ = ['ClockError', 'ClockFixture', 'DeadlockError', 'active_bubble',
           'clock_start', 'io_answer', 'io_listen', 'io_wait']

LOG = logging.getLogger(__name__)

ClockError = _bubble.ClockError
DeadlockError = _bubble.DeadlockError
# NOTE(clock): how often, in real seconds, the watchdog looks at the CPU
# of test threads that keep time from jumping (see _follow).
_FOLLOW_TICK = 0.02
_NS = 1_000_000_000

active_bubble = _registry.active_bubble
clock_start = _timeswap.clock_start
_member = _registry.member


def _scope(kind: _core.ParkKind) -> contextlib.AbstractContextManager[None]:
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
    with _scope(_core.ParkKind.IO):
        yield


@contextlib.contextmanager
def io_listen() -> Iterator[None]:
    """A test thread's server waits for a request (``accept``, ``select``).

    Counts as blocked: an idle server does not hold up time. No-op outside
    a `ClockFixture`.
    """
    with _scope(_core.ParkKind.LISTEN):
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
    VLock, a Condition, a sleep) time jumps to the earliest deadline.
    Waits due at the same instant end one at a time, in the order they
    began, each only when every test thread has blocked again (``ties``).
    A thread blocked on anything else (a
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
    :param ties: ``'ordered'`` (the default) or ``'together'``: waits due
        at the same instant end all at once, and their threads run in the
        operating system's order.
    :raises ValueError: a bad argument (``max_virtual`` and
        ``max_real_stall`` are seconds > 0, ``max_real_stall`` may be
        ``math.inf``: never report), at construction; `TypeError`: one
        that is not a number.
    :ivar stalled: an Event set when a stall is reported.

    Example::

        clock = self.useFixture(ClockFixture())
        time.sleep(3600)            # returns at once
        self.assertEqual(3600, clock.now())
    """

    def __init__(self, autojump: bool = True, max_virtual: float = 3600.0,
                 max_real_stall: float = 5.0,
                 start_wall: float | None = None,
                 ties: str = 'ordered') -> None:
        super().__init__()
        if ties not in _core.TIES:
            raise ValueError(f'ties must be one of '
                             f'{", ".join(map(repr, _core.TIES))}, got '
                             f'{ties!r}')
        # NOTE(clock): refused here, not at the first wait or at setUp.
        _args.seconds('ClockFixture', 'max_virtual', max_virtual,
                      positive=True)
        _args.seconds('ClockFixture', 'max_real_stall', max_real_stall,
                      positive=True, infinite=True)
        if start_wall is not None and not _args.is_number(start_wall):
            raise TypeError(f'ClockFixture start_wall must be a number of '
                            f'seconds since the epoch or None, got '
                            f'{start_wall!r}')
        if start_wall is not None and not abs(start_wall) < math.inf:
            raise ValueError(f'ClockFixture start_wall must be a finite '
                             f'number of seconds since the epoch or None, '
                             f'got {start_wall!r}')
        self.ties = ties
        self.autojump = autojump
        self.max_virtual = max_virtual
        self.max_real_stall = max_real_stall
        self.start_wall = start_wall

    # Setup and teardown ------------------------------------------------------

    def _setUp(self) -> None:
        backend.refuse_eventlet(ClockError, 'ClockFixture')
        current = _registry.active_bubble()
        if current is not None:
            if not current.virtual:
                raise ClockError(
                    'a DeadlockFixture is active; set up the ClockFixture '
                    'before it')
            raise ClockError(
                'a ClockFixture is already active in this process; clocks '
                f"don't nest. The active one was set up "
                f"{_registry.opened_by()}")
        opened_by = _registry.set_up_by()
        bubble = _bubble.Bubble(
            True, self.autojump, self.max_virtual, self.ties,
            budget_hint=_hints.how_to_set(self, 'max_virtual', ''))
        self.bubble = bubble
        _registry.forget_stuck()
        self.addDetail('nova-fixtures:clock', _state.lazy_text(self.render))
        self._start_watchdog()
        self._patch_time()
        _instrument.install(self, bubble, opened_by)
        # NOTE(clock): journal entries recorded by test threads carry
        # their virtual time.
        self.addCleanup(journal.set_virtual_clock, None)
        journal.set_virtual_clock(
            lambda: bubble.now if bubble.is_member(_core.get_ident())
            else None)
        self.addCleanup(self._close)
        # NOTE(clock): a schedule asked for by the hunt or the
        # environment (the schedule module hooks itself in).
        _registry.clock_set_up(self)
        self._ready()

    def _close(self) -> None:
        bubble = self.bubble
        with bubble.mutex:
            # NOTE(clock): the test is over: time runs out for every wait
            # still pending, and threads still running carry on from there
            # (retired before the bubble closes, so that no reading in
            # between falls back to real time).
            bubble.run_out_timers()
            blocked = {}
            for ident, park in bubble.parked.items():
                if ident != bubble.root and park.timeout is None and \
                        park.kind in (_core.ParkKind.LOCK,
                                      _core.ParkKind.WAITER) and \
                        bubble.durable(park):
                    blocked[ident] = bubble.state_of(ident)
            _registry.record_stuck(blocked)
            stuck = None
            if blocked:
                stuck = bubble.describe(
                    'when the clock stopped, test threads were blocked for '
                    'good; they stay blocked until really woken',
                    {i: bubble.members[i] for i in blocked})
                bubble.report(stuck)
            _timeswap.retire(bubble)
            bubble.close()
        _registry.deactivate(bubble)
        if stuck is not None:
            LOG.warning('%s', stuck)
        if isinstance(bubble.failure, ClockError):
            # NOTE(clock): the budget ran out: the threads still waiting
            # on a timer past it are left to their real-time waits, not
            # waited for (see nova_fixtures._abandon).
            _abandon.abandon('the virtual time budget was exceeded')
        if bubble.failure is not None and not bubble.failure_delivered:
            raise bubble.failure

    def _patch_time(self) -> None:
        """Start the clock's time line and swap the time functions
        process-wide (`nova_fixtures._timeswap`): done once and kept,
        later clocks only scan modules imported since."""
        _timeswap.start(self.bubble, self.start_wall)

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
        real_now = _timeswap.REAL['monotonic']

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
        return _timeswap.wall_ns(self.bubble) / _NS

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
                f'raise it with {bubble.budget_hint}')
        bubble.advance(_core.to_ns(seconds))

    def settle(self) -> None:
        """Block until every other test thread is durably blocked."""
        self._check_ready()
        bubble = self.bubble
        if _member() is not bubble:
            raise ClockError('settle() must be called from a test thread')
        park = _core.Park(_core.get_ident(), _core.ParkKind.SETTLE)
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
