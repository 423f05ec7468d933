"""The core of the bubble: membership, parks, the running count, time.

Prior art: Go's ``testing/synctest`` (exact accounting of durably blocked
goroutines; time jumps only when all are), trio's ``MockClock`` autojump.
Design: ``doc/source/virtual-time.rst``.

Only this module changes the core's state (membership, parks, virtual
time, the scheduler attached, whether deadlocks are detected, reports);
``tests/unit/nova_fixtures/test_ownership.py`` checks it. Locks
(`nova_fixtures._vlock`), the clock and the deadlock detector observe and
drive it through a narrow API:

* membership: `Core.expect`, `Core.cancel_expected`, `Core.enter`,
  `Core.leave`;
* `Core.park` registers a `Park` (one wait of one thread) and `Core.wait`
  waits for it to end. Whatever unwinds out of a wait (an exception from a
  signal handler such as ``OS_TEST_TIMEOUT``'s, ``KeyboardInterrupt``)
  goes through `Core.abort`, which takes the park back (and hands on a lock
  granted meanwhile), so no thread is ever counted as blocked that is not;
* `Core.scope` is a park of its own kind around a wait the core can't see
  (``io_wait`` and friends), nested parks inside it shadow it;
* time: `Core.now_ns`, `Core.advance`, `Core.hold`, settling,
  `Core.run_out_timers`;
* the rest: `Core.adopt_root`, `Core.adopt_thread`, `Core.took_free_lock`,
  `Core.poll_failed`, `Core.attach_scheduler` / `Core.detach_scheduler`,
  `Core.start_detecting` / `Core.stop_detecting`, `Core.report`,
  `Core.set_stall_hook`.

The core knows a lock only through `Waitable` and a scheduler only
through `SchedulerHooks`.

Nothing is counted by hand. ``parked`` maps each parked member to its
innermost park; whether that park is *durable* (only the test's own
threads or a deadline can end it) is decided when the question is asked,
from the current owners and members, so a lock handed to a thread outside
the bubble makes its waiters count as running from that moment.

Re-entry: a garbage collection inside a critical section runs weakref
callbacks and ``__del__`` in the same thread, and those may take and
release locks of the bubble (concurrent.futures' executor callback puts on
a queue); signal handlers run between any two bytecodes of the main
thread. So the mutex is re-entrant, state changes are single stores made
after the allocations they need, and a wait that begins inside another
critical section of its own thread releases the mutex fully while it
waits.
"""

from __future__ import annotations

import _thread
import contextlib
import enum
import heapq
import itertools
import sys
import threading
import weakref
from typing import Any, Callable, ContextManager, Iterator, Protocol

from nova_fixtures import _compat
from nova_fixtures import _lockdep

_compat.require('python')

__all__ = ['ClockError', 'Core', 'DeadlockError', 'LockRole', 'Park',
           'ParkKind', 'TIES',
           'SchedulerHooks', 'Waitable', 'get_ident']

get_ident = _thread.get_ident

# NOTE(core): a thread outside the bubble whose innermost Python frame is
# one of these is idle (waiting for work), not about to wake a test thread.
_IDLE_FUNCTIONS = frozenset({
    ('threading.py', 'wait'), ('threading.py', '_wait_for_tstate_lock'),
    ('threading.py', 'join'), ('thread.py', '_worker'),
    ('selectors.py', 'select'), ('socketserver.py', 'serve_forever'),
})


class _ValueEnum(str, enum.Enum):
    """An enum whose members compare, hash and format as their values, the
    text traces and reports show, on every Python version."""

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, spec: str) -> str:
        return str.__format__(self, spec)


class ParkKind(_ValueEnum):
    """What a `Park` waits for."""

    #: a mutex `nova_fixtures._vlock.VLock`
    LOCK = 'lock'
    #: a Condition's waiter lock (Condition, Event, queue)
    WAITER = 'waiter'
    SLEEP = 'sleep'
    #: ``ClockFixture.settle()``
    SETTLE = 'settle'
    #: a scope: waiting for an answer from a test thread (``io_wait``)
    IO = 'io'
    #: a scope: a server waiting for a request (``io_listen``)
    LISTEN = 'listen'


class LockRole(_ValueEnum):
    """What a `nova_fixtures._vlock.VLock` is for."""

    #: a lock code takes and releases (``Lock``, inside ``RLock``, ...)
    MUTEX = 'mutex'
    #: a Condition's waiter lock: its timed acquire is the wait
    WAITER = 'waiter'


#: How waits due at one virtual instant end (see `Core`).
TIES = ('ordered', 'together')

# NOTE(core): parks that stand for a wait the core can't see (io_wait,
# io_listen) for the length of a block.
_SCOPES = (ParkKind.IO, ParkKind.LISTEN)


class ClockError(RuntimeError):
    """The virtual clock was misused or ran out of budget."""


class DeadlockError(RuntimeError):
    """Test threads wait for each other, or for nothing that can happen."""


class Waitable(Protocol):
    """What the core needs of a lock whose waits it parks (`_vlock.VLock`).
    """

    @property
    def owner(self) -> int | None:
        """The ident of the thread holding the lock, or None."""

    def withdraw(self, park: Park) -> None:
        """Forget ``park``, a wait that ended without the lock."""

    def release(self) -> None:
        """Release the lock (hand it to the next waiter)."""


class SchedulerHooks(Protocol):
    """What the core and the instrumentation call on a scheduler attached
    to the core (`nova_fixtures._sched.Scheduler`), mutex held unless
    said otherwise."""

    seed: int

    def exited(self, ident: int) -> None:
        """A member left."""

    def blocked(self, park: Park) -> None:
        """A member parked."""

    def woken(self, park: Park, by: int) -> None:
        """A member's park ended, by thread ``by``."""

    def wait_turn(self) -> None:
        """Wait (mutex not held) until this member is picked to run."""

    def batch(self) -> ContextManager[None]:
        """Group the changes of the block into one decision."""

    def spawn(self, name: str) -> int | None:
        """A member is starting a thread: its number in the schedule."""

    def forget(self, tid: int | None) -> None:
        """The thread numbered ``tid`` failed to start."""

    def entered(self, tid: int | None) -> None:
        """The new thread numbered ``tid`` runs (mutex not held)."""

    def point(self, kind: str, what: str) -> None:
        """A sync point of the running member (mutex not held)."""

    def atomic_begin(self) -> None:
        """No switch away from this member until `atomic_end`."""

    def atomic_end(self) -> None:
        """Switches may happen again."""


class Park:
    """One wait of one thread: it blocks on a raw lock of its own.

    ``kind`` is a `ParkKind`.
    """

    __slots__ = ('ident', 'kind', 'obj', 'lock', 'done', 'granted',
                 'error', 'deadline', 'timeout', 'member', 'virtual',
                 'outer', 'retry', 'site', 'resumed')

    def __init__(self, ident: int, kind: ParkKind, obj: Any = None,
                 timeout: float | None = None, site: str = '') -> None:
        self.ident = ident
        self.kind = kind
        self.obj = obj
        self.timeout = timeout
        self.site = site
        self.lock = _thread.allocate_lock()
        self.lock.acquire()
        self.done = False
        self.granted = False
        self.error: BaseException | None = None
        self.deadline: int | None = None
        self.member = False
        self.virtual = False
        self.outer: Park | None = None
        self.retry = False
        # NOTE(core): a scope's thread ran again after a wait inside it
        # ended: it counts as running until it parks again or leaves.
        self.resumed = False


def to_ns(seconds: float) -> int:
    """Whole nanoseconds for a timeout; a positive one is at least 1 ns.

    The floor of 1 ns guarantees progress to deadline loops whose
    remaining time, computed in floats, is a hair above zero.
    """
    ns = round(seconds * 1_000_000_000)
    return ns if ns > 0 or seconds <= 0 else 1


class Core:
    """Members, parks, timers and (optionally virtual) time of a test.

    :param virtual: timed waits and sleeps of members follow virtual time.
    :param autojump: jump to the next deadline when all are blocked.
    :param max_virtual: virtual seconds after which the test thread gets
        `ClockError`.
    :param ties: ``'ordered'``: waits due at the same virtual instant end
        one at a time, in the order of their deadlines, then of the order
        the waits began; the next only when every member has parked again.
        ``'together'``: all at once, so their threads run in the operating
        system's order. Under a scheduler they end together and the
        scheduler orders their threads.
    """

    def __init__(self, virtual: bool, autojump: bool = True,
                 max_virtual: float = 3600.0, ties: str = 'ordered',
                 budget_hint: str = '') -> None:
        if ties not in TIES:
            raise ValueError(f'ties must be one of '
                             f'{", ".join(map(repr, TIES))}, got {ties!r}')
        # NOTE(core): typed Any: mypy's RLock lacks the private methods
        # (_is_owned, _release_save, _acquire_restore) used by wait().
        self.mutex: Any = _thread.RLock()
        self.virtual = virtual
        self.autojump = autojump
        self.max_virtual = max_virtual
        self.max_virtual_ns = to_ns(max_virtual)
        self.ties = ties
        self.active = True
        self.now_ns = 0
        self.members: dict[int, str] = {}
        # NOTE(core): threads a member is starting, not yet entered.
        self.starting = 0
        self.parked: dict[int, Park] = {}
        self.timers: list[tuple[int, int, Park]] = []
        self._seq = itertools.count()
        # NOTE(core): hold() blocks open: time stands still.
        self.holds = 0
        self.answering = 0
        self.outsiders: dict[int, str] = {}
        # NOTE(core): futures a member submitted to a pool whose threads
        # are outside the bubble, until done: id -> the pool's description.
        self.outside_work: dict[int, str] = {}
        # NOTE(core): the (time, progress) of each member's last failed
        # zero-timeout wait (see VLock._poll_passes).
        self.polls: dict[int, tuple[int, int]] = {}
        self.root = get_ident()
        self.failure: BaseException | None = None
        self.failure_delivered = False
        # NOTE(core): how the budget error tells the user to raise
        # max_virtual (the clock words it as the test set it up).
        self.budget_hint = budget_hint or (
            'ClockFixture(max_virtual=...) or TestCase.CLOCK_OPTIONS')
        self.progress = 0
        # NOTE(core): locks members took without waiting: work that moves
        # no other count (see _wallclock._distinct).
        self.acquires = 0
        self.jumps = 0
        self.reports: list[str] = []
        self.detect = False
        self.abandoning = False
        # NOTE(core): set by the clock: called (mutex held) when time
        # waits on a busy thread outside the bubble, to poll for its end.
        self.on_outsider_stall: Callable[[], None] | None = None
        self.stalled_on: str | None = None
        # NOTE(core): schedule mode (`nova_fixtures._sched.Scheduler`):
        # told of every park, its end and every member leaving.
        self.sched: SchedulerHooks | None = None
        # NOTE(core): threads a member started: never outsiders, even
        # before they enter or after they leave.
        self.started: weakref.WeakSet[threading.Thread] = weakref.WeakSet()

    # Membership ------------------------------------------------------------

    def is_member(self, ident: int) -> bool:
        return self.active and ident in self.members

    def adopt_root(self) -> None:
        """Make the thread that made the core (the test's) a member."""
        ident = get_ident()
        if ident != self.root:
            raise ClockError('the core must be installed by the thread '
                             'that made it')
        with self.mutex:
            self.members[ident] = threading.current_thread().name

    def adopt_thread(self, thread: threading.Thread) -> None:
        """A member is about to start ``thread``: it is ours."""
        with self.mutex:
            self.started.add(thread)

    def owns_thread(self, thread: threading.Thread) -> bool:
        """Whether a member started ``thread``."""
        return thread in self.started

    def expect(self) -> None:
        """A member is starting a thread: count it running from now."""
        with self.mutex:
            self.starting += 1
            self.progress += 1

    def cancel_expected(self) -> None:
        with self.mutex:
            self.starting -= 1
            self.maybe_advance()

    def enter(self, name: str) -> None:
        ident = get_ident()
        with self.mutex:
            self.members[ident] = name
            self.starting -= 1
            self.progress += 1

    def leave(self) -> None:
        ident = get_ident()
        with self.mutex:
            self.members.pop(ident, None)
            self.polls.pop(ident, None)
            self.parked.pop(ident, None)
            self.progress += 1
            if self.sched is not None:
                self.sched.exited(ident)
            self.maybe_advance()

    def note_outsider(self, ident: int) -> None:
        """A thread outside the bubble used one of its locks (mutex held)."""
        if self.active and ident not in self.outsiders:
            # NOTE(core): a thread a member started, before it enters or
            # after it leaves, is ours: Thread._bootstrap_inner sets its
            # started Event, before it is even in threading._active.
            thread = _thread_of(ident)
            if thread is None or thread not in self.started:
                self.outsiders[ident] = _thread_name(ident)

    def outside_work_begin(self, key: int, what: str) -> None:
        with self.mutex:
            self.outside_work[key] = what
            self.progress += 1

    def outside_work_end(self, key: int) -> None:
        with self.mutex:
            if self.outside_work.pop(key, None) is not None:
                self.progress += 1
                self.maybe_advance()

    def took_free_lock(self) -> None:
        """A member took a free lock without waiting (mutex held)."""
        self.acquires += 1

    def poll_failed(self, ident: int) -> None:
        """A member's Condition or Event wait with a timeout of 0 found
        nothing (mutex held). On a virtual clock, the second such poll in a
        row by one thread at one instant, with nothing else happening in
        between, lets 1 ns pass, as some time always does in real time.
        Without it, a deadline loop that reads exactly its deadline
        (``concurrent.futures.as_completed``: ``end - now() == 0.0``, then
        ``wait(0.0)``) would poll forever at that instant; a single poll
        leaves time exact."""
        if not (self.virtual and self.is_member(ident)):
            return
        mark = (self.now_ns, self.progress)
        if self.polls.get(ident) != mark:
            self.polls[ident] = mark
            return
        del self.polls[ident]
        self.advance(1)

    def name(self, ident: int | None) -> str:
        if ident is None:
            return '(nobody)'
        return self.members.get(ident) or self.outsiders.get(ident) or \
            _thread_name(ident)

    # Parks ---------------------------------------------------------------

    def park(self, park: Park) -> None:
        """Register ``park`` before its thread waits (mutex held)."""
        park.member = self.is_member(park.ident)
        if not park.member:
            return
        park.virtual = self.virtual
        if park.timeout is not None and self.virtual:
            park.deadline = self.now_ns + to_ns(park.timeout)
            entry = (park.deadline, next(self._seq), park)
            heapq.heappush(self.timers, entry)
        park.outer = self.parked.get(park.ident)
        self.parked[park.ident] = park
        self.progress += 1
        if self.sched is not None:
            self.sched.blocked(park)
        self.maybe_advance()

    def wait(self, park: Park) -> bool:
        """Wait for ``park`` to end; True if it was granted.

        Raises the error the park was ended with. An exception from the
        wait itself propagates after `abort` took the park back; callers
        also abort on an exception between `park` and this call.
        """
        mutex = self.mutex
        saved = None
        try:
            # NOTE(core): a wait begun inside another critical section of
            # this thread (a GC callback, a signal handler) must not keep
            # the mutex.
            if mutex._is_owned():
                saved = mutex._release_save()
            try:
                if park.virtual or park.timeout is None:
                    park.lock.acquire()
                else:
                    park.lock.acquire(True, park.timeout)
                if self.sched is not None and park.member:
                    self.sched.wait_turn()
            finally:
                if saved is not None:
                    mutex._acquire_restore(saved)
        except BaseException:
            self.abort(park)
            raise
        with mutex:
            if not park.done:
                # NOTE(core): a real timeout ran out.
                self.end(park, granted=False, release=False)
        if park.error is not None:
            raise park.error
        return park.granted

    def abort(self, park: Park) -> None:
        """Take ``park`` back after an exception unwound out of its wait."""
        with self.mutex:
            if not park.done:
                self.end(park, granted=False, release=False)
            elif park.granted and park.kind == ParkKind.LOCK:
                # NOTE(core): the lock was handed over just as the wait was
                # interrupted; the acquire fails, so pass the lock on.
                park.granted = False
                park.obj.release()

    def end(self, park: Park, granted: bool,
            error: BaseException | None = None,
            release: bool = True) -> None:
        """End ``park``'s wait (mutex held)."""
        if park.done:
            return
        park.done = True
        park.granted = granted
        park.error = error
        if park.member:
            self._unlink(park)
            if self.sched is not None:
                self.sched.woken(park, get_ident())
        obj = park.obj
        if not granted and obj is not None and park.kind in (
                ParkKind.LOCK, ParkKind.WAITER):
            obj.withdraw(park)
        self.progress += 1
        if release:
            park.lock.release()

    def _unlink(self, park: Park) -> None:
        outer = park.outer
        # NOTE(core): a server that waited inside its io_listen (for the
        # request thread it starts) runs until the scope ends, which it
        # does once the request is handed over: it counts as running till
        # then. Not a client inside io_wait: after a wait there (a lock of
        # its client library, a finalizer) it goes back to waiting for the
        # reply, in a recv no park sees, and the reply may need time to
        # move (a handler waiting out a timeout). Counted as running, it
        # would hold time still for good; it stays counted as waiting for
        # that I/O, whatever it does in between.
        if outer is not None and outer.kind == ParkKind.LISTEN:
            outer.resumed = True
        top = self.parked.get(park.ident)
        if top is park:
            if park.outer is None:
                del self.parked[park.ident]
            else:
                self.parked[park.ident] = park.outer
            return
        while top is not None and top.outer is not park:
            top = top.outer
        if top is not None:
            top.outer = park.outer

    @contextlib.contextmanager
    def scope(self, kind: ParkKind, site: str = '') -> Iterator[None]:
        """Count this member as parked (``kind``) for the block's length."""
        park = Park(get_ident(), kind, site=site)
        with self.mutex:
            self.park(park)
        try:
            yield
        finally:
            with self.mutex:
                self.end(park, granted=False, release=False)
                self.maybe_advance()
            if self.sched is not None and park.member:
                self.sched.wait_turn()

    @contextlib.contextmanager
    def answering_scope(self) -> Iterator[None]:
        """A test thread is answering one ``'io'`` wait of another."""
        with self.mutex:
            self.answering += 1
            self.maybe_advance()
        try:
            yield
        finally:
            with self.mutex:
                self.answering -= 1
                self.progress += 1

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Keep time still (and report no deadlock) for the block."""
        with self.mutex:
            self.holds += 1
        try:
            yield
        finally:
            with self.mutex:
                self.holds -= 1
                self.maybe_advance()

    # Deciding ------------------------------------------------------------

    def durable(self, park: Park) -> bool:
        """Only test threads or a deadline can end ``park``'s wait."""
        kind = park.kind
        if park.resumed:
            return False
        if kind == ParkKind.LOCK:
            owner = park.obj.owner
            return owner is not None and owner in self.members
        return kind != ParkKind.IO

    def at_rest(self, ident: int) -> bool:
        """``ident`` waits and nothing has woken it (mutex held): parked in
        a wait not yet ended, or in an io/listen scope not resumed."""
        park = self.parked.get(ident)
        return park is not None and not park.done and not park.resumed

    def _all_parked(self) -> bool:
        """Every member parked, durably; io waits answered."""
        if len(self.parked) < len(self.members) + self.starting or \
                not self.members:
            return False
        ios = 0
        for park in self.parked.copy().values():
            if park.resumed:
                return False
            # NOTE(core): a thread inside an io_wait waits for that I/O,
            # whatever it waits for in it (a lock of the client library).
            scope: Park | None = park
            while scope is not None and scope.kind != ParkKind.IO:
                scope = scope.outer
            if scope is not None:
                ios += 1
            elif not self.durable(park):
                return False
        return ios <= self.answering

    def busy_outsider(self) -> str | None:
        """Describe what outside the bubble may still wake a member, or
        None: work a member gave to a pool made before the bubble, or a
        thread outside it that used its locks and is running now (not idle
        in a wait)."""
        for what in self.outside_work.values():
            return f'work submitted to {what} is still running'
        if not self.outsiders:
            return None
        frames = sys._current_frames()
        for ident, name in list(self.outsiders.items()):
            frame = frames.get(ident)
            if frame is None:
                del self.outsiders[ident]
                continue
            if ident in self.members:
                continue
            code = frame.f_code
            where = (code.co_filename.rsplit('/', 1)[-1], code.co_name)
            if code is not _WAIT_CODE and where not in _IDLE_FUNCTIONS:
                return (f'"{name}" (not a test thread) is running at '
                        f'{code.co_filename}:{frame.f_lineno}')
        return None

    def maybe_advance(self) -> None:
        """Wake settlers, jump time or report, if every member is blocked
        (mutex held); in schedule mode, then pick who runs next."""
        if self.sched is None:
            self._maybe_advance()
            return
        with self.sched.batch():
            self._maybe_advance()

    def _maybe_advance(self) -> None:
        while self.active and self._all_parked():
            busy = self.busy_outsider()
            if busy is not None:
                self.stalled_on = busy
                if self.on_outsider_stall is not None:
                    self.on_outsider_stall()
                return
            self.stalled_on = None
            if self.virtual and self._fire_one_due():
                return
            # NOTE(core): settle() callers wake before time moves, once
            # every wait due now has ended.
            settlers = [p for p in self.parked.values()
                        if p.kind == ParkKind.SETTLE]
            if settlers:
                for park in settlers:
                    self.end(park, granted=True)
                return
            if self.holds:
                return
            if not self.virtual:
                if self.detect and not any(
                        p.timeout is not None for p in self.parked.values()):
                    self.all_blocked()
                return
            if not self.autojump:
                return
            while self.timers and self.timers[0][2].done:
                heapq.heappop(self.timers)
            if not self.timers:
                self.all_blocked()
                return
            deadline = self.timers[0][0]
            if deadline > self.max_virtual_ns:
                self.fail_root(ClockError(
                    f'virtual time budget of {self.max_virtual:g} s '
                    f'exceeded: the next deadline is at '
                    f'{deadline / 1e9:g} s; raise it with '
                    f'{self.budget_hint}'))
                return
            self.now_ns = max(self.now_ns, deadline)
            self.jumps += 1
            self._fire_due()

    def _fire_due(self) -> None:
        """End the waits due by now: all of them, or, with ordered ties
        and no scheduler, the first (`_fire_one_due` ends the others as
        the members park again)."""
        if self.ties == 'ordered' and self.sched is None:
            self._fire_one_due()
            return
        while self.timers and self.timers[0][0] <= self.now_ns:
            park = heapq.heappop(self.timers)[2]
            self.end(park, granted=False)

    def _fire_one_due(self) -> bool:
        """End the first wait due by now, if any (mutex held)."""
        timers = self.timers
        while timers and timers[0][2].done:
            heapq.heappop(timers)
        if not timers or timers[0][0] > self.now_ns:
            return False
        self.end(heapq.heappop(timers)[2], granted=False)
        return True

    def advance(self, ns: int) -> None:
        with self.mutex:
            self.now_ns += ns
            self._fire_due()
            self.maybe_advance()

    def follow(self, target_ns: int) -> None:
        """Move time on to ``target_ns``, but no further than the next
        deadline, which then fires (mutex held). For time that must move
        while test threads run without blocking (`nova_fixtures._follow`).
        """
        while self.timers and self.timers[0][2].done:
            heapq.heappop(self.timers)
        if self.timers and self.timers[0][0] <= target_ns:
            target_ns = self.timers[0][0]
        if target_ns > self.max_virtual_ns:
            self.fail_root(ClockError(
                f'virtual time budget of {self.max_virtual:g} s exceeded '
                f'while test threads ran without blocking'))
            return
        if target_ns <= self.now_ns:
            return
        self.now_ns = target_ns
        if self.timers and self.timers[0][0] <= target_ns:
            self.jumps += 1
            self._fire_due()
            self.maybe_advance()

    def run_out_timers(self) -> None:
        """Move time to the latest pending deadline (mutex held), where a
        closing clock leaves it: the test is over, time runs out for every
        wait still pending."""
        if self.timers:
            self.now_ns = max(self.now_ns, max(t[0] for t in self.timers))

    def all_blocked(self) -> None:
        """Every member is blocked for good (mutex held): report it."""
        raise NotImplementedError

    # Observers -------------------------------------------------------------

    def report(self, text: str) -> None:
        """Keep a stall, deadlock or close report (mutex held)."""
        self.reports.append(text)

    def set_stall_hook(self, hook: Callable[[], None] | None) -> None:
        """Call ``hook`` (mutex held) whenever time waits on a busy
        thread outside the bubble, so that someone polls for its end."""
        with self.mutex:
            self.on_outsider_stall = hook

    def attach_scheduler(self, sched: SchedulerHooks) -> None:
        """Put the members on ``sched`` from now on (mutex held)."""
        if self.sched is not None:
            raise ClockError(f'a schedule (seed {self.sched.seed}) is '
                             f'already attached')
        self.sched = sched

    def detach_scheduler(self) -> None:
        """Members run freely again (mutex held)."""
        self.sched = None

    def start_detecting(self) -> None:
        """Report every member blocked for good as a deadlock, on real
        time too (mutex held)."""
        self.detect = True

    def stop_detecting(self, deactivate: bool) -> None:
        """End detection after the detector's teardown (mutex held); with
        ``deactivate`` (the detector made this core) the core ends."""
        self.detect = False
        self.abandoning = False
        if deactivate:
            self.active = False

    def interrupt(self, ident: int, error: BaseException) -> bool:
        """End member ``ident``'s innermost wait with ``error`` (mutex
        held); False if it is not waiting."""
        park = self.parked.get(ident)
        if park is None or park.done or park.kind in _SCOPES:
            return False
        self.end(park, granted=False, error=error)
        return True

    def fail_root(self, error: BaseException) -> None:
        """Deliver ``error`` to the test thread's wait (mutex held)."""
        if self.failure is None:
            self.failure = error
        root = self.parked.get(self.root)
        if root is not None and error is self.failure and \
                root.kind not in (ParkKind.IO, ParkKind.LISTEN):
            self.failure_delivered = True
            self.end(root, granted=False, error=error)

    # Closing -------------------------------------------------------------

    def close(self, abandon: bool = False) -> None:
        """End the bubble's hold on its parked members.

        Nothing is ever woken as if it had got what it waited for:

        * the clock's close (``abandon`` False): from now on waits are
          real. A timed wait or a sleep ends as timed out (the clock has
          moved time to the last deadline first); an untimed wait for a
          lock, a Condition, an Event or a queue starts again, in real
          time, and ends only when really woken (a release, a notify);
          ``settle()`` returns.
        * the detector's teardown (``abandon``): an untimed lock wait
          raises `DeadlockError`, so that a deadlocked thread unwinds;
          every other wait goes on as it was.
        """
        with self.mutex:
            self.abandoning = abandon
            if not abandon:
                self.active = False
            for top in list(self.parked.values()):
                park: Park | None = top
                while park is not None:
                    outer = park.outer
                    self._close_park(park, abandon)
                    park = outer

    def _close_park(self, park: Park, abandon: bool) -> None:
        kind = park.kind
        if kind in (ParkKind.IO, ParkKind.LISTEN):
            return
        untimed = park.timeout is None and kind in (ParkKind.LOCK,
                                                    ParkKind.WAITER)
        if abandon:
            if untimed and kind == ParkKind.LOCK:
                self.end(park, granted=False, error=DeadlockError(
                    'abandoned at the end of the test: this thread was '
                    'still waiting for ' + self.lock_desc(park.obj)))
            return
        park.retry = untimed
        self.end(park, granted=kind == ParkKind.SETTLE)

    def lock_desc(self, lock: Any) -> str:
        if isinstance(lock, _lockdep.NamedLock):
            return lock.describe()
        return f'lock made at {getattr(lock, "site", "") or "?"}'


def _thread_of(ident: int) -> threading.Thread | None:
    thread: threading.Thread | None = threading._active.get(  # type: ignore
        ident)
    if thread is None:
        for starting in list(threading._limbo):  # type: ignore[attr-defined]
            if starting.ident == ident:
                return starting  # type: ignore[no-any-return]
    return thread


def _thread_name(ident: int) -> str:
    thread = _thread_of(ident)
    return thread.name if thread is not None else f'thread {ident}'


_WAIT_CODE = Core.wait.__code__
