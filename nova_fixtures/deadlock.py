"""DeadlockFixture: wait-for cycles, all-blocked, lock order, self-deadlock.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from typing import Any, Callable, Hashable, Iterator

import fixtures

from fake_transport import backend
from fake_transport import waits
from nova_fixtures import _bubble
from nova_fixtures import _instrument
from nova_fixtures import _lockdep
from nova_fixtures import _registry
from nova_fixtures import _rpcwaits
from nova_fixtures import _state
from nova_fixtures import clock

__all__ = ['DeadlockError', 'DeadlockFixture', 'LockOrderError']

DeadlockError = _bubble.DeadlockError

# NOTE(deadlock): how often the teardown looks whether the threads it waits
# for have come to rest (see DeadlockFixture._unwind).
_UNWIND_POLL = 0.005

# NOTE(deadlock): who set up the active DeadlockFixture and from where, for
# the error a second one gets while it is active.
_opened_by = ''


class LockOrderError(AssertionError):
    """Locks were taken in inconsistent orders (a possible deadlock)."""


class DeadlockFixture(_state.GuardedFixture):
    """Detect deadlocks among the test's threads and report them.

    Instruments the locks made by the test's threads (the thread that set
    the fixture up and every thread started from one, transitively), in
    real time or, set up after a `ClockFixture`, on its virtual time. Caution:
    patches ``threading`` process-wide while active (as `ClockFixture`
    does) and ``oslo_concurrency.lockutils.lock`` when oslo.concurrency is
    installed. Locks made before the fixture are not seen.

    * A wait-for cycle over owned locks (``Lock``, ``RLock``, lockutils
      named locks) is detected the moment it closes: the thread closing it
      gets `DeadlockError`, whose text says, for each thread in the cycle,
      ``"<thread>" waits for <lock, where it was made>, held by "<thread>"
      (acquired at <where>)``, then what each holds and a stack trimmed of
      runner and library frames.
    * A wait-for cycle through RPC calls on ``memory://``: a call waits
      for the thread handling it, and a call queued at a server whose
      workers are all busy waits for those workers. Though calls time out,
      the cycle is detected the moment it forms, with each step in the
      words of the code (``"c1-1" waits for the reply to #12 call
      rater.rate, handled by "r1-1"``; ``queued at compute-1: 1 of 1
      workers busy ("compute-1-1")``): with ``rpc='raise'`` the thread
      whose wait closes it gets `DeadlockError`; with ``rpc='report'`` it
      is only reported, and the calls' ``MessagingTimeout`` names it.
    * Every test thread blocked and nothing able to wake them (Events,
      Conditions, queues, with no timed wait pending): the test thread gets
      `DeadlockError` listing each thread and where it waits.
    * Taking a non-reentrant lock it already holds: `DeadlockError` at once.
    * With ``lockdep``, lock-order inversions (A then B on one path, B then
      A on another), even when this run did not deadlock, once per pair,
      with the stack of each order's first sighting; ``on_inversion='fail'``
      fails the test at cleanup (`LockOrderError`), ``'record'`` only
      reports. Order is checked between lock classes, as Linux lockdep
      does: a lockutils lock's class is its name with uuids and integers
      folded out (``refresh_cache-<uuid>``, ``instance-<int>``), so
      ``refresh_cache-A`` then ``A-events`` on one instance and
      ``B-events`` then ``refresh_cache-B`` on another is an inversion;
      the report names the classes and the concrete locks each thread took.
      Wait-for cycles stay between the locks themselves.

    Reports are attached as the detail ``nova-fixtures:deadlocks``, and a
    test in which a deadlock was detected fails at cleanup even if the
    thread that got the error swallowed it. At cleanup, threads still
    waiting on a lock get `DeadlockError` so that they unwind and the
    process can exit.

    :param lockdep: check lock order.
    :param on_inversion: ``'fail'`` or ``'record'``.
    :param rpc: ``'raise'`` or ``'report'`` (see above).
    :param unwind_timeout: seconds the cleanup gives threads that are
        still running, or unwinding from the error it gave them, to exit or
        come to rest; threads at rest in a wait (an idle pool worker) are
        not waited for.

    Example::

        self.useFixture(DeadlockFixture())
    """

    def __init__(self, lockdep: bool = True,
                 on_inversion: str = 'fail',
                 unwind_timeout: float = 5.0, rpc: str = 'raise') -> None:
        super().__init__()
        if on_inversion not in ('fail', 'record'):
            raise ValueError(
                f"on_inversion must be 'fail' or 'record', got "
                f"{on_inversion!r}")
        if rpc not in ('raise', 'report'):
            raise ValueError(
                f"rpc must be 'raise' or 'report', got {rpc!r}")
        self.rpc = rpc
        self.lockdep = lockdep
        self.on_inversion = on_inversion
        self.unwind_timeout = unwind_timeout

    def _setUp(self) -> None:
        global _opened_by
        backend.refuse_eventlet(DeadlockError, 'DeadlockFixture')
        current = clock.active_bubble()
        if current is not None and current.detect:
            raise DeadlockError(
                "a DeadlockFixture is already active; they don't nest. The "
                f"active one was set up {_opened_by}")
        _opened_by = _registry.set_up_by()
        self._own = current is None
        if self._own:
            bubble = _bubble.Bubble(virtual=False)
        else:
            assert current is not None
            bubble = current
        self.bubble = bubble
        self.addDetail('nova-fixtures:deadlocks',
                       _state.lazy_text(self.render))
        if self._own:
            _instrument.install(self, bubble, _opened_by)
        self._patch_lockutils()
        self.addCleanup(waits.observe(
            _rpcwaits.RpcWaits(bubble, self.rpc == 'raise')))
        with bubble.mutex:
            bubble.start_detecting(self.lockdep)
        # NOTE(deadlock): added last, so it runs first: while the teardown
        # waits for the test's threads, they stay instrumented (a worker
        # that loops back to its queue then parks there, at rest, rather
        # than on a real lock no rest check sees).
        self.addCleanup(self._finish)
        self._ready()

    @property
    def deadlocks(self) -> list[str]:
        """The deadlock reports so far."""
        return list(self.bubble.deadlocks)

    @property
    def inversions(self) -> list[str]:
        """The lock-order reports so far."""
        graph = self.bubble.lockdep
        return list(graph.reports) if graph is not None else []

    def render(self) -> str:
        return '\n\n'.join(self.deadlocks + self.inversions)

    def _finish(self) -> None:
        bubble = self.bubble
        members = set(bubble.members) - {bubble.root}
        bubble.close(abandon=True)
        self._unwind(members)
        with bubble.mutex:
            inversions = list(bubble.lockdep.reports) if bubble.lockdep \
                else []
            deadlocks = list(bubble.deadlocks)
            bubble.stop_detecting(deactivate=self._own)
        if deadlocks:
            raise DeadlockError('\n\n'.join(deadlocks))
        if inversions and self.on_inversion == 'fail':
            raise LockOrderError('\n\n'.join(inversions))

    def _unwind(self, members: set[int]) -> None:
        """Give the test's threads up to ``unwind_timeout`` to exit or rest.

        A thread unwinding from the `DeadlockError` the teardown gave it,
        or still running, is waited for. One at rest in a wait the teardown
        left standing (a pool's worker idle in its work loop, a server
        listening) costs nothing: it may wait for good, and is no deadlock
        (`ThreadLeakFixture` is what reports threads left running).
        """
        bubble = self.bubble
        deadline = time.monotonic() + self.unwind_timeout
        while True:
            with bubble.mutex:
                busy = [thread for thread in threading.enumerate()
                        if thread.ident in members and
                        not bubble.at_rest(thread.ident)]
            left = deadline - time.monotonic()
            if not busy or left <= 0:
                return
            # NOTE(deadlock): a running thread may come to rest rather than
            # exit, which no join sees: look again every _UNWIND_POLL.
            busy[0].join(min(left, _UNWIND_POLL))

    def _patch_lockutils(self) -> None:
        try:
            from oslo_concurrency import lockutils
        except ImportError:
            return
        # NOTE(deadlock): typed for str names, but lockutils takes any
        # hashable one (Designate's are bytes).
        real_lock: Callable[..., Any] = lockutils.lock
        bubble = self.bubble

        @contextlib.contextmanager
        def lock(name: Hashable, *args: Any, **kwargs: Any) -> Iterator[Any]:
            me = _bubble.get_ident()
            if not (bubble.detect and bubble.active and
                    me in bubble.members):
                with real_lock(name, *args, **kwargs) as taken:
                    yield taken
                return
            named = _lockdep.NamedLock(name)
            caller = sys._getframe(1)
            site = _bubble.site_of(caller)
            with bubble.mutex:
                bubble.named_wait(
                    me, named, site,
                    lambda: '\n'.join(_bubble.trimmed_stack(caller)))
            try:
                with real_lock(name, *args, **kwargs) as taken:
                    with bubble.mutex:
                        bubble.named_taken(me, named, site)
                    try:
                        yield taken
                    finally:
                        with bubble.mutex:
                            bubble.named_released(me, named)
            finally:
                with bubble.mutex:
                    bubble.named_wait_over(me)

        self.useFixture(fixtures.MonkeyPatch(
            'oslo_concurrency.lockutils.lock', lock))
