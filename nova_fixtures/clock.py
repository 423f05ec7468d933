"""ClockFixture: virtual time for the threads of a test, with autojump."""

from __future__ import annotations

import _thread
import contextlib
import logging
import math
import queue
import sys
import threading
import time
from typing import Any, Callable, Iterator

import fixtures

from fake_transport import backend
from nova_fixtures import _bubble
from nova_fixtures import _state

__all__ = ['ClockError', 'ClockFixture', 'DeadlockError', 'io_wait']

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
_REAL_ALLOCATE = _thread.allocate_lock
_current: _bubble.Bubble | None = None
_mono0 = 0.0
_wall0 = 0.0
# NOTE(clock): threads of a closed clock that still run keep reading time
# from where their virtual clock stopped, at the real rate, so deadline
# loops they were in (queue.get, Condition.wait_for) stay consistent and
# time never goes backwards for them: ident -> (monotonic, wall) offsets.
_retired: dict[int, tuple[float, float]] = {}
_scanned: set[str] = set()
# NOTE(clock): modules that must keep the real functions: ours.
_SKIP_MODULES = ('nova_fixtures._bubble', 'nova_fixtures.clock')


def _member() -> _bubble.Bubble | None:
    bubble = _current
    if bubble is not None and bubble.active and \
            _thread.get_ident() in bubble.members:
        return bubble
    return None


def _read(index: int) -> float:
    """Now, as this thread sees it: 0 for monotonic, 1 for wall time."""
    bubble = _member()
    if bubble is not None and bubble.virtual:
        return (_mono0, _wall0)[index] + bubble.now
    offset = _retired.get(_thread.get_ident())
    real = float(_REAL[('monotonic', 'time')[index]]())
    return real if offset is None else real + offset[index]


def _v_monotonic() -> float:
    return _read(0)


def _v_monotonic_ns() -> int:
    return int(_read(0) * 1e9)


def _v_time() -> float:
    return _read(1)


def _v_time_ns() -> int:
    return int(_read(1) * 1e9)


def _v_sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError('sleep length must be non-negative')
    bubble = _member()
    if bubble is None or seconds == 0:
        _REAL['sleep'](seconds)
        return
    _bubble.sleep(bubble, seconds, _REAL['sleep'])


_VIRTUAL = {
    'monotonic': _v_monotonic,
    'monotonic_ns': _v_monotonic_ns,
    'time': _v_time,
    'time_ns': _v_time_ns,
    'sleep': _v_sleep,
}


def _creation_site() -> str:
    return _bubble.site_of(sys._getframe(2))


@contextlib.contextmanager
def io_wait() -> Iterator[None]:
    """Count this test thread as blocked while it waits for I/O.

    A thread in ``select``, ``accept`` or ``recv`` counts as running, which
    stops time from jumping. Wrap a wait for I/O that another test thread
    will answer (an HTTP request to a `WSGIServiceFixture`, its accept
    loop) so that time can move meanwhile. No-op outside a `ClockFixture`.
    """
    bubble = _member()
    if bubble is None:
        yield
        return
    with bubble.mutex:
        bubble.blocked += 1
        bubble.progress += 1
        bubble._maybe_advance()
    try:
        yield
    finally:
        with bubble.mutex:
            bubble.blocked -= 1
            bubble.progress += 1


_WAIT_CODE = threading.Condition.wait.__code__


def _allocate_lock() -> Any:
    bubble = _member()
    if bubble is None:
        return _REAL_ALLOCATE()
    waiter = sys._getframe(1).f_code is _WAIT_CODE
    lock = _bubble.VLock(bubble, _creation_site(),
                         'waiter' if waiter else 'mutex')
    if bubble.detect and not waiter:
        lock.lock_class = _bubble.class_of(sys._getframe(1))
    return lock


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
        real_run = thread.run
        thread._nf_done = threading.Event()  # type: ignore
        done = thread._nf_done  # type: ignore

        def run() -> None:
            bubble.enter(thread.name)
            try:
                real_run()
            finally:
                done.set()
                bubble.leave()
                _retired.pop(_thread.get_ident(), None)

        thread.run = run  # type: ignore[method-assign]
        bubble.expect_member()
        try:
            real_start(thread)
        except BaseException:
            bubble.cancel_expected()
            raise

    def join(thread: threading.Thread, timeout: float | None = None) -> None:
        done = getattr(thread, '_nf_done', None)
        if done is not None and _member() is bubble:
            if not done.wait(timeout):
                return
            timeout = None
        real_join(thread, timeout)

    with bubble.mutex:
        bubble.members[_thread.get_ident()] = threading.current_thread().name
    _current = bubble
    fixture.addCleanup(_forget, bubble)
    for target, value in (
            ('threading.Thread.start', start),
            ('threading.Thread.join', join),
            ('threading._allocate_lock', _allocate_lock),
            ('threading.Lock', _allocate_lock),
            ('threading._CRLock', None),
            ('queue.SimpleQueue', queue._PySimpleQueue)):  # type: ignore
        fixture.useFixture(fixtures.MonkeyPatch(target, value))


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

    At cleanup every waiter still parked is woken (timed waits time out,
    untimed lock waits go on in real time), so the process can exit.

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
        global _mono0, _wall0
        backend.refuse_eventlet(ClockError, 'ClockFixture')
        if _current is not None:
            if not _current.virtual:
                raise ClockError(
                    'a DeadlockFixture is active; set up the ClockFixture '
                    'before it')
            raise ClockError(
                'a ClockFixture is already active in this process; clocks '
                "don't nest")
        bubble = _bubble.Bubble(True, self.autojump, self.max_virtual)
        self.bubble = bubble
        self.addDetail('nova-fixtures:clock', _state.lazy_text(self.render))
        self._start_watchdog()
        _mono0 = _REAL['monotonic']()
        _wall0 = (self.start_wall if self.start_wall is not None
                  else _REAL['time']())
        self.addCleanup(self._close)
        self._patch_time()
        install_threading(self, bubble)
        self._ready()

    def _close(self) -> None:
        bubble = self.bubble
        with bubble.mutex:
            # NOTE(clock): the test is over: time runs out for every wait
            # still pending, and threads still running carry on from there.
            if bubble.timers:
                bubble.now = max(bubble.now,
                                 max(t[0] for t in bubble.timers))
            mono = _mono0 + bubble.now - _REAL['monotonic']()
            wall = _wall0 + bubble.now - _REAL['time']()
            for ident in bubble.members:
                if ident != bubble.root:
                    _retired[ident] = (mono, wall)
        bubble.close()
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
        # member and waits in real time.
        stop = threading.Event()
        self.stalled = threading.Event()
        stalled_event = self.stalled
        bubble = self.bubble
        interval = self.max_real_stall

        def watch() -> None:
            last = -1
            reported = False
            while not stop.wait(interval):
                with bubble.mutex:
                    progress = bubble.progress
                    stalled = (progress == last and bubble.running > 0
                               and bubble.active)
                    if stalled and not reported:
                        report = bubble.describe(
                            f'virtual time frozen at {bubble.now:g} s for '
                            f'{interval:g} s of real time: a test thread '
                            f'is not durably blocked')
                        bubble.reports.append(report)
                        reported = True
                    elif not stalled:
                        reported = False
                if stalled and reported and bubble.reports:
                    LOG.warning('%s', bubble.reports[-1])
                    stalled_event.set()
                last = progress

        thread = threading.Thread(target=watch, name='clock-watchdog',
                                  daemon=True)
        thread.start()

        def stop_watchdog() -> None:
            stop.set()
            thread.join()

        self.addCleanup(stop_watchdog)

    # The clock ------------------------------------------------------------

    def now(self) -> float:
        """Virtual seconds since the fixture was set up."""
        self._check_ready()
        return self.bubble.now

    def time(self) -> float:
        """Virtual ``time.time()``."""
        self._check_ready()
        return _wall0 + self.bubble.now

    def advance(self, seconds: float) -> None:
        """Move virtual time forward, firing the timers it passes."""
        self._check_ready()
        if not isinstance(seconds, (int, float)) or isinstance(
                seconds, bool) or not math.isfinite(seconds) or seconds < 0:
            raise ValueError(
                f'advance() needs a finite number of seconds >= 0, got '
                f'{seconds!r}')
        self.bubble.advance(seconds)

    def settle(self) -> None:
        """Block until every other test thread is durably blocked."""
        self._check_ready()
        bubble = self.bubble
        if _member() is not bubble:
            raise ClockError('settle() must be called from a test thread')
        lock = _REAL_ALLOCATE()
        lock.acquire()
        with bubble.mutex:
            if bubble.running <= 1:
                return
            bubble.settlers.append(lock)
        lock.acquire()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Keep time still while work outside the test is in flight."""
        self._check_ready()
        with self.bubble.mutex:
            self.bubble.held += 1
        try:
            yield
        finally:
            with self.bubble.mutex:
                self.bubble.held -= 1
                self.bubble._maybe_advance()

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
        lines = [f'virtual time {bubble.now:g} s after {bubble.jumps} '
                 f'jump(s); {len(bubble.members)} test thread(s), '
                 f'{bubble.blocked} blocked, {len(bubble.timers)} timer(s)']
        lines.extend(bubble.reports)
        return '\n'.join(lines)
