"""TestCase: oslotest's BaseTestCase with this library's defaults."""

from __future__ import annotations

from typing import Any

from oslotest import base

from nova_fixtures import clock as clock_mod
from nova_fixtures import eventlet_guard
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
    * ``FAIL_ON_UNCONSUMED = True`` fails a test that leaves messages
      nobody consumed on ``self.bus``.

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

    def setUp(self) -> None:
        super().setUp()
        if self.FORBID_EVENTLET:
            self.useFixture(eventlet_guard.NoEventletFixture())
        if self.CHECK_THREAD_LEAKS:
            self.thread_leaks = self.useFixture(threads.ThreadLeakFixture())
        if self.USE_CLOCK:
            self.clock = self.useFixture(clock_mod.ClockFixture())
        if self.USE_TRANSPORT:
            self.bus = self.useFixture(transport_mod.TransportFixture(
                fail_on_unconsumed=self.FAIL_ON_UNCONSUMED))

    def start_service(self, manager: Any, topic: str, host: str,
                      bus: transport_mod.TransportFixture | None = None,
                      **kwargs: Any) -> services.ServiceFixture:
        """Boot ``manager`` as ``topic``/``host`` on ``bus`` (or self.bus)."""
        return self.useFixture(services.ServiceFixture(
            manager, topic, host, bus or self.bus, **kwargs))
