"""A suite written for oslo.messaging's fake: driver, as a project has it.

Run by tests/unit/nova_fixtures/test_run.py through ``python -m
nova_fixtures.run``, in a child process started in this directory (which
is no package, and holds no ``test*.py`` for stestr to collect).

Like Nova's, it refuses to start when eventlet or this library was
imported before it: the start-up hook of ``nova_fixtures.run`` must import
nothing before the test loader imported this module.
"""

import sys
import time

_FIRST = sorted(name for name in ('eventlet', 'fake_transport',
                                  'nova_fixtures', 'oslo_messaging')
                if name in sys.modules)
if _FIRST:
    raise RuntimeError(f'imported before the suite: {", ".join(_FIRST)}')

from oslo_config import cfg  # noqa: E402
import oslo_messaging  # noqa: E402
from oslo_messaging import conffixture  # noqa: E402
import testscenarios  # noqa: E402
import testtools  # noqa: E402

LIVE = object()


class Endpoint:

    def ping(self, ctxt, arg):
        return [arg, ctxt.get('db_connection') is LIVE]


def active_clock():
    from nova_fixtures import clock
    return clock.active_bubble()


class FakeSuiteTestCase(testtools.TestCase):

    def driver_of(self, url):
        conf = cfg.ConfigOpts()
        self.useFixture(conffixture.ConfFixture(conf))
        transport = oslo_messaging.get_rpc_transport(conf, url=url)
        self.addCleanup(transport.cleanup)
        return transport

    def ping(self, transport, arg):
        server = oslo_messaging.get_rpc_server(
            transport, oslo_messaging.Target(topic='t', server='s'),
            [Endpoint()], executor='threading')
        server.start()
        self.addCleanup(server.wait)
        self.addCleanup(server.stop)
        client = oslo_messaging.get_rpc_client(
            transport, oslo_messaging.Target(topic='t'))
        return client.call({'db_connection': LIVE}, 'ping', arg=arg)


class TestOnMemory(testscenarios.WithScenarios, FakeSuiteTestCase):

    scenarios = [('one', {'seconds': 600}), ('two', {'seconds': 60})]

    def setUp(self):
        super().setUp()
        self.wait = self.seconds

    def test_fake_urls_reach_one_memory_bus_per_test(self):
        # NOTE(check_unedited): as nova's RPCFixture cleanup does; the
        # attribute exists only once impl_fake was imported.
        self.addCleanup(
            lambda: oslo_messaging._drivers.impl_fake.FakeExchangeManager)
        transport = self.driver_of('fake:/')
        other = self.driver_of('fake://nowhere/')
        self.assertEqual('MemoryDriver', type(transport._driver).__name__)
        self.assertIs(transport._driver.broker, other._driver.broker)
        self.assertTrue(transport._driver.broker.name.startswith('fake-'))
        self.assertEqual([[self.wait], True],
                         self.ping(transport, (self.wait,)))

    def test_sleeps_on_virtual_time(self):
        self.assertIsNotNone(active_clock())
        before = time.monotonic()
        time.sleep(self.wait)  # allow-sleep: virtual time
        self.assertEqual(self.wait, time.monotonic() - before)


class TestNeedsRealTime(FakeSuiteTestCase):

    def test_excluded_from_the_clock_but_on_memory(self):
        self.assertIsNone(active_clock())
        transport = self.driver_of('fake:/')
        self.assertEqual('MemoryDriver', type(transport._driver).__name__)

    def test_the_shadowed_sitecustomize_ran(self):
        self.assertTrue('_nova_fixtures_shadowed_sitecustomize' in sys.modules)
