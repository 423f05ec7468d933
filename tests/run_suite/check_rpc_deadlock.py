"""A deadlock through RPC, in a suite that knows nothing of this library.

Run by tests/unit/nova_fixtures/test_run.py through ``python -m
nova_fixtures.run --transport memory --deadlocks``: a collector holds its
lock while it calls a rater, which calls back into the collector, whose
handler needs that lock. The test fails with the detector's report at
once, not after the calls' 30 s timeout.
"""

import threading

from oslo_config import cfg
import oslo_messaging
from oslo_messaging import conffixture
import testtools


class Collector:

    def __init__(self, transport):
        self.transport = transport
        self._lock = threading.Lock()  # collector-lock

    def close_period(self, ctxt):
        with self._lock:  # close-takes-lock
            return client(self.transport, 'rater').call(ctxt, 'rate')

    def get_totals(self, ctxt):
        with self._lock:
            return 42


class Rater:

    def __init__(self, transport):
        self.transport = transport

    def rate(self, ctxt):
        return client(self.transport, 'collector').call(ctxt, 'get_totals')


def client(transport, topic):
    return oslo_messaging.get_rpc_client(
        transport, oslo_messaging.Target(topic=topic), timeout=30)


class TestBilling(testtools.TestCase):

    def test_close_period(self):
        conf = cfg.ConfigOpts()
        self.useFixture(conffixture.ConfFixture(conf))
        transport = oslo_messaging.get_rpc_transport(conf, url='fake:')
        self.addCleanup(transport.cleanup)
        for topic, endpoint in (('collector', Collector(transport)),
                                ('rater', Rater(transport))):
            server = oslo_messaging.get_rpc_server(
                transport, oslo_messaging.Target(topic=topic, server='h'),
                [endpoint], executor='threading')
            server.start()
            self.addCleanup(server.wait)
            self.addCleanup(server.stop)
        client(transport, 'collector').call({}, 'close_period')
