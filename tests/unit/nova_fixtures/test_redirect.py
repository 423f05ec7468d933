"""FakeRedirectFixture: a suite's fake: transports on a memory:// bus."""

import unittest

import fixtures
from oslo_config import cfg
import oslo_messaging
from oslo_messaging import conffixture
import testtools

import fake_transport
from fake_transport import registry
from nova_fixtures import fake_differences
from nova_fixtures import redirect


class NoValidHost(Exception):
    pass


class Endpoint:

    def fail(self, ctxt):
        raise NoValidHost('no host')


class TestFakeRedirect(testtools.TestCase):

    def transport(self, url, **kwargs):
        conf = cfg.ConfigOpts()
        self.useFixture(conffixture.ConfFixture(conf))
        transport = oslo_messaging.get_rpc_transport(conf, url=url, **kwargs)
        self.addCleanup(transport.cleanup)
        return transport

    def test_every_fake_url_reaches_the_bus_of_the_fixture(self):
        fixture = self.useFixture(redirect.FakeRedirectFixture())
        self.assertRegex(fixture.url, r'^memory://fake-[0-9a-f]{12}/$')
        for url in ('fake:/', 'fake://', 'fake://nowhere/', 'fake://a/b'):
            driver = self.transport(url)._driver
            self.assertEqual('MemoryDriver', type(driver).__name__)
            self.assertIs(fixture.broker, driver.broker)

    def test_the_configured_url_is_redirected_too(self):
        fixture = self.useFixture(redirect.FakeRedirectFixture())
        conf = cfg.ConfigOpts()
        self.useFixture(conffixture.ConfFixture(conf))
        conf.set_override('transport_url', 'fake:/')
        transport = oslo_messaging.get_notification_transport(conf)
        self.addCleanup(transport.cleanup)
        self.assertIs(fixture.broker, transport._driver.broker)

    def test_other_schemes_pass_through(self):
        self.useFixture(redirect.FakeRedirectFixture())
        driver = self.transport('memory://elsewhere/')._driver
        self.assertEqual('elsewhere', driver.broker.name)
        self.addCleanup(fake_transport.discard_broker, 'memory://elsewhere/')

    def test_after_cleanup_fake_is_fake_and_the_bus_forgotten(self):
        fixture = redirect.FakeRedirectFixture()
        with fixture:
            name = fixture.broker.name
            self.assertIn(name, registry._brokers)
        self.assertNotIn(name, registry._brokers)
        driver = self.transport('fake:/')._driver
        self.assertEqual('FakeDriver', type(driver).__name__)

    def test_nested_fixtures_use_the_innermost_bus(self):
        outer = self.useFixture(redirect.FakeRedirectFixture())
        with redirect.FakeRedirectFixture() as inner:
            self.assertIs(inner.broker,
                          self.transport('fake:/')._driver.broker)
        self.assertIs(outer.broker, self.transport('fake:/')._driver.broker)

    def test_the_callers_allowed_remote_exmods_are_kept(self):
        fixture = self.useFixture(redirect.FakeRedirectFixture())
        transport = self.transport('fake:/', allowed_remote_exmods=[__name__])
        server = oslo_messaging.get_rpc_server(
            transport, oslo_messaging.Target(topic='t', server='s'),
            [Endpoint()], executor='threading')
        server.start()
        self.addCleanup(server.wait)
        self.addCleanup(server.stop)
        client = oslo_messaging.get_rpc_client(
            transport, oslo_messaging.Target(topic='t'))
        error = self.assertRaises(NoValidHost, client.call, {}, 'fail')
        self.assertEqual('NoValidHost_Remote', type(error).__name__)
        # NOTE(tests): the reply reaches the caller before the server marks
        # the call handled; settle() waits for that.
        fixture.broker.settle(timeout=10)
        self.assertEqual({'handled': 1, 'delivered': 1},
                         fixture.broker.journal.counts())
        self.assertEqual(
            '2 message(s): 1 delivered, 1 handled',
            fixture.getDetails()['fake-transport:counts'].as_text())

    def test_context_handles_reach_the_bus(self):
        fixture = self.useFixture(redirect.FakeRedirectFixture(
            context_handles=('db_connection',)))
        self.assertEqual(frozenset({'db_connection'}),
                         fixture.broker.handle_keys)


class Adder:

    def add(self, ctxt, a, b):
        return a + b


# NOTE(tests): a suite's module-level RPC client, made by the first test that
# needs it and kept for the rest of the process (Designate's WORKER_API).
_singleton = {}


def _three_tests():
    """Three tests of a suite, in a class the loader does not find."""

    class ThreeTests(testtools.TestCase):
        """Each test: a redirect, a service on its own fake: transport,
        cleaned up at the end (as a suite's RPC fixture does), and calls
        through the module-level client."""

        def setUp(self):
            super().setUp()
            self.fixture = self.useFixture(
                redirect.FakeRedirectFixture(name=self.id()))
            conf = cfg.ConfigOpts()
            self.useFixture(conffixture.ConfFixture(conf))
            transport = oslo_messaging.get_rpc_transport(conf, url='fake:/')
            self.addCleanup(transport.cleanup)
            server = oslo_messaging.get_rpc_server(
                transport, oslo_messaging.Target(topic='adder', server='s'),
                [Adder()])
            server.start()
            self.addCleanup(server.wait)
            self.addCleanup(server.stop)
            if 'client' not in _singleton:
                _singleton['client'] = oslo_messaging.get_rpc_client(
                    transport, oslo_messaging.Target(topic='adder'))

        def check(self, a):
            self.assertEqual(a + 1,
                             _singleton['client'].call({}, 'add', a=a, b=1))
            [entry] = self.fixture.broker.journal.entries(kind='call')
            _singleton.setdefault('entries', []).append(str(entry))

        def test_1(self):
            self.check(1)

        def test_2(self):
            self.check(2)

        def test_3(self):
            self.check(3)

    return ThreeTests


class TestTransportsThatOutliveTheirTest(testtools.TestCase):

    def test_a_module_level_client_works_in_later_tests(self):
        self.addCleanup(_singleton.clear)
        tests = _three_tests()
        suite = unittest.TestSuite(
            [tests('test_1'), tests('test_2'), tests('test_3')])
        result = testtools.TestResult()
        suite.run(result)
        self.assertEqual([], [(t.id(), e) for t, e in
                              result.errors + result.failures])
        self.assertEqual(3, result.testsRun)
        first = tests('test_1').id()
        self.assertEqual(
            ['#1 call add to openstack/adder from MainThread: handled',
             f'#1 call add to openstack/adder from MainThread through a '
             f'fake: transport made in {first}: handled',
             f'#1 call add to openstack/adder from MainThread through a '
             f'fake: transport made in {first}: handled'],
            _singleton['entries'])

    def test_a_memory_transport_is_closed_by_its_cleanup(self):
        conf = cfg.ConfigOpts()
        self.useFixture(conffixture.ConfFixture(conf))
        url = 'memory://closed-after-cleanup/'
        self.addCleanup(fake_transport.discard_broker, url)
        transport = oslo_messaging.get_rpc_transport(conf, url=url)
        transport.cleanup()
        client = oslo_messaging.get_rpc_client(
            transport, oslo_messaging.Target(topic='adder'))
        error = self.assertRaises(RuntimeError, client.cast, {}, 'add',
                                  a=1, b=2)
        self.assertEqual('This memory://closed-after-cleanup/ transport was '
                         'cleaned up; create a new transport', str(error))


class Central:

    def create_zone(self, ctxt):
        raise oslo_messaging.MessagingTimeout('central timed out')


class TestFakeDifferences(testtools.TestCase):

    def call_central(self, fixture, **kwargs):
        conf = cfg.ConfigOpts()
        self.useFixture(conffixture.ConfFixture(conf))
        transport = oslo_messaging.get_rpc_transport(conf, url='fake:/',
                                                     **kwargs)
        self.addCleanup(transport.cleanup)
        target = oslo_messaging.Target(topic='central', server='c1')
        server = oslo_messaging.get_rpc_server(transport, target,
                                               [Central()])
        server.start()
        self.addCleanup(server.wait)
        self.addCleanup(server.stop)
        client = oslo_messaging.get_rpc_client(transport, target)
        first = fake_differences.count()
        try:
            client.call({}, 'create_zone')
        except Exception as exc:
            return exc, fake_differences.since(first)
        self.fail('create_zone did not raise')

    def expected(self, name):
        return fake_differences.Difference(
            test=name,
            behaviour='exception type: central.create_zone raised '
                      'oslo_messaging.exceptions.MessagingTimeout, which '
                      'fake: raises in the caller as it is',
            rabbit="the caller gets RemoteError, oslo_messaging.exceptions "
                   "not being in the transport's allowed_remote_exmods")

    def test_rabbits_remote_error_names_the_behaviour_and_the_switch(self):
        fixture = self.useFixture(redirect.FakeRedirectFixture(
            name='t1', fake_compat=False))
        error, found = self.call_central(fixture)
        self.assertIs(oslo_messaging.RemoteError, type(error))
        self.assertEqual('MessagingTimeout', error.exc_type)
        self.assertEqual(
            "central timed out [nova_fixtures: on fake: the caller gets "
            "oslo_messaging.exceptions.MessagingTimeout itself; on rabbit, "
            "as here, RemoteError, oslo_messaging.exceptions not being in "
            "allowed_remote_exmods. --fake-compat "
            "(NOVA_FIXTURES_FAKE_COMPAT=1) keeps fake:'s behaviour]",
            error.value)
        self.assertEqual([self.expected('t1')], found)
        detail = fixture.getDetails()['fake-transport:differences']
        self.assertEqual(
            fake_differences.render([self.expected('t1').line()]),
            detail.as_text())

    def test_fake_compat_raises_the_exceptions_own_type(self):
        fixture = self.useFixture(redirect.FakeRedirectFixture(
            name='t2', fake_compat=True))
        error, found = self.call_central(fixture)
        self.assertIsInstance(error, oslo_messaging.MessagingTimeout)
        self.assertEqual([self.expected('t2')], found)

    def test_fake_compat_from_the_environment(self):
        self.useFixture(fixtures.EnvironmentVariable(
            fake_differences.COMPAT_VAR, '1'))
        fixture = self.useFixture(redirect.FakeRedirectFixture(name='t3'))
        error, found = self.call_central(fixture)
        self.assertIsInstance(error, oslo_messaging.MessagingTimeout)
        self.assertEqual([self.expected('t3')], found)

    def test_an_allowed_module_is_no_difference(self):
        fixture = self.useFixture(redirect.FakeRedirectFixture(name='t4'))
        error, found = self.call_central(
            fixture, allowed_remote_exmods=['oslo_messaging.exceptions'])
        self.assertIsInstance(error, oslo_messaging.MessagingTimeout)
        self.assertEqual([], found)
