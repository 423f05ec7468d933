"""The cotyledon row.

cotyledon has no timer or periodic mechanism of its own: a
``cotyledon.Service`` loops in ``run()`` as it likes, and its one timeout,
``graceful_shutdown_timeout``, is a ``signal.alarm`` (a ``threading.Timer``
off POSIX) that ``os._exit``\\ s a forked worker process, which can't run
in-process. What a service does is the polling idiom of Ceilometer's
agents: ``run()`` waits on an Event with the interval until
``terminate()`` sets it. This row runs that, as
`nova_fixtures.oslo_services.CotyledonServiceFixture` runs a service
(``run()`` on a thread, ``terminate()`` from the caller).
"""

import threading

import cotyledon

from nova_fixtures import oslo_services
from tests.matrix import base


class PollingService(cotyledon.Service):
    name = 'polling'

    def __init__(self, worker_id, run):
        super().__init__(worker_id)
        self.run_ = run
        self.shutdown = threading.Event()

    def run(self):
        while not self.shutdown.is_set():
            self.run_.mark('poll')
            self.shutdown.wait(self.run_.period)

    def terminate(self):
        self.shutdown.set()


class TestCotyledon(base.MatrixTestCase):

    def test_polling_service_terminated_at_10_5_periods(self):
        def scenario(run):
            fixture = oslo_services.CotyledonServiceFixture(PollingService,
                                                            run)
            fixture.setUp()
            try:
                run.until(10.5)
            finally:
                fixture.cleanUp()
            return fixture.running

        self.check(scenario, base.ticks(range(11), 'poll'), False)
