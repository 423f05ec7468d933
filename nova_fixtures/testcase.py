"""TestCase: oslotest's BaseTestCase with this library's defaults."""

from __future__ import annotations

from typing import Any
from typing import Mapping

import fixtures
from oslotest import base
import testtools.content

from nova_fixtures import _abandon
from nova_fixtures import clock as clock_mod
from nova_fixtures import deadlock
from nova_fixtures import eventlet_guard
from nova_fixtures import hang
from nova_fixtures import schedule as schedule_mod
from nova_fixtures import services
from nova_fixtures import threads
from nova_fixtures import transport as transport_mod

__all__ = ['TestCase']


class TestCase(base.BaseTestCase):
    """A test case with an isolated bus, a thread-leak check, no eventlet.

    On top of oslotest's timeout (``OS_TEST_TIMEOUT``), output and logging
    capture (``OS_STDOUT_CAPTURE``, ``OS_LOG_CAPTURE``, ``OS_DEBUG``):

    * ``self.bus``: a `TransportFixture` on a fresh ``memory://`` bus (or
      ``OS_TEST_TRANSPORT_URL``); opt out with ``USE_TRANSPORT = False``.
    * a `ThreadLeakFixture`; opt out with ``CHECK_THREAD_LEAKS = False``.
    * a `NoEventletFixture`; opt out with ``FORBID_EVENTLET = False``.
    * ``USE_CLOCK = True`` adds ``self.clock``, a `ClockFixture` set up
      before the bus, so services and executors made in the test run on
      virtual time.
    * ``DETECT_DEADLOCKS = True`` adds ``self.deadlocks``, a
      `DeadlockFixture` (after the clock, before the bus).
    * ``SCHEDULE_SEED = <int>`` (or a token the hunt printed,
      ``'pct-d3-k16-4'``) runs the test's threads one at a time in
      the order the seed picks (``self.schedule``, a `ScheduleFixture`
      right after the clock, which it implies; ``SCHEDULE_OPTIONS`` for
      its other arguments). A schedule asked for by ``python -m
      nova_fixtures.hunt`` or ``NOVA_FIXTURES_SCHEDULE`` takes its place.
    * a hang report on ``OS_TEST_TIMEOUT`` (detail
      ``nova-fixtures:hang-report``): every thread's stack, the locks test
      threads hold and wait for, the messages in flight on every bus the
      test registered (``self.buses``), the clock; taken before cleanups.
      Then the RPC calls still waiting on a ``memory://`` bus end at once
      (``MessagingTimeout``), so that cleanups do not wait their timeouts
      out, and the thread-leak check only logs the threads left running
      (see `ThreadLeakFixture`; likewise after the clock's budget ran out).
    * ``FAIL_ON_UNCONSUMED = True`` fails a test that leaves messages
      nobody consumed on ``self.bus``.
    * ``CLOCK_OPTIONS``, ``DEADLOCK_OPTIONS`` and ``TRANSPORT_OPTIONS``:
      keyword arguments for the `ClockFixture` (``{'max_virtual': 86400}``),
      the `DeadlockFixture` (``{'on_inversion': 'record'}``) and the
      `TransportFixture` (``{'conf': cfg.CONF}``) this class builds.

    Example::

        class TestCompute(nova_fixtures.TestCase):
            def test_reboot(self):
                compute = self.start_service(Compute(), 'compute', 'c1')
                self.bus.rpc_client('compute', 'c1').call({}, 'reboot')
    """

    USE_TRANSPORT = True
    CHECK_THREAD_LEAKS = True
    FORBID_EVENTLET = True
    FAIL_ON_UNCONSUMED = False
    USE_CLOCK = False
    DETECT_DEADLOCKS = False
    CLOCK_OPTIONS: Mapping[str, Any] = {}
    DEADLOCK_OPTIONS: Mapping[str, Any] = {}
    SCHEDULE_SEED: int | str | None = None
    SCHEDULE_OPTIONS: Mapping[str, Any] = {}
    TRANSPORT_OPTIONS: Mapping[str, Any] = {}

    def setUp(self) -> None:
        super().setUp()
        _abandon.clear()
        self.buses: list[transport_mod.TransportFixture] = []
        self.addOnException(self._attach_hang_report)
        if self.FORBID_EVENTLET:
            self.useFixture(eventlet_guard.NoEventletFixture())
        if self.CHECK_THREAD_LEAKS:
            self.thread_leaks = self.useFixture(threads.ThreadLeakFixture())
        if self.USE_CLOCK or self.SCHEDULE_SEED is not None:
            self.clock = self.useFixture(clock_mod.ClockFixture(
                **self.CLOCK_OPTIONS))
            if self.SCHEDULE_SEED is not None and \
                    self.clock.bubble.sched is None:
                self.schedule = self.useFixture(schedule_mod.ScheduleFixture(
                    seed=self.SCHEDULE_SEED, **self.SCHEDULE_OPTIONS))
        if self.DETECT_DEADLOCKS:
            self.deadlocks = self.useFixture(deadlock.DeadlockFixture(
                **self.DEADLOCK_OPTIONS))
        if self.USE_TRANSPORT:
            options = dict(self.TRANSPORT_OPTIONS)
            options.setdefault('fail_on_unconsumed', self.FAIL_ON_UNCONSUMED)
            self.bus = self.useFixture(transport_mod.TransportFixture(
                **options))
            self.buses.append(self.bus)

    def _attach_hang_report(self, exc_info: Any) -> None:
        if exc_info[0] is fixtures.TimeoutException:
            self.addDetail('nova-fixtures:hang-report',
                           testtools.content.text_content(
                               hang.hang_report(self.buses,
                                                interrupted=exc_info[2])))
            # NOTE(testcase): after the report: it wakes the stuck callers.
            _abandon.abandon('the test timed out')

    def start_service(self, manager: Any, topic: str, host: str,
                      bus: transport_mod.TransportFixture | None = None,
                      **kwargs: Any) -> services.ServiceFixture:
        """Boot ``manager`` as ``topic``/``host`` on ``bus`` (or self.bus)."""
        return self.useFixture(services.ServiceFixture(
            manager, topic, host, bus or self.bus, **kwargs))
