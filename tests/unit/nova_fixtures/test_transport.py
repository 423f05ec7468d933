"""TransportFixture: isolation, config, details, leftovers, misuse."""

import time

import fixtures
import oslo_messaging
import testtools

import fake_transport
import nova_fixtures
from nova_fixtures import transport as transport_mod


class Echo:
    def echo(self, ctxt, value):
        return value


class TestTransportFixture(testtools.TestCase):

    def test_each_fixture_is_an_isolated_bus(self):
        cell1 = self.useFixture(nova_fixtures.TransportFixture(name='cell1'))
        cell2 = self.useFixture(nova_fixtures.TransportFixture(name='cell2'))
        self.assertNotEqual(cell1.url, cell2.url)
        self.assertRegex(cell1.url, r'^memory://test-[0-9a-f]{12}-cell1/$')
        self.useFixture(nova_fixtures.ServiceFixture(Echo(), 'echo', 'h',
                                                     cell1))
        self.assertEqual(1, cell1.rpc_client('echo').call(
            {}, 'echo', value=1))
        self.assertRaises(oslo_messaging.MessagingTimeout,
                          cell2.rpc_client('echo', timeout=0.05).call,
                          {}, 'echo', value=1)

    def test_conf_points_at_the_bus(self):
        bus = self.useFixture(nova_fixtures.TransportFixture())
        self.assertEqual(bus.url, bus.conf.transport_url)
        self.assertIs(bus.broker, fake_transport.get_broker(bus.url))

    def test_honours_os_test_transport_url_for_a_real_broker(self):
        self.useFixture(fixtures.EnvironmentVariable(
            'OS_TEST_TRANSPORT_URL', 'rabbit://guest:guest@127.0.0.1:1/'))
        fixture = nova_fixtures.TransportFixture()
        self.assertEqual('rabbit://guest:guest@127.0.0.1:1/', fixture.url)

    def test_memory_os_test_transport_url_still_gets_a_unique_bus(self):
        self.useFixture(fixtures.EnvironmentVariable(
            'OS_TEST_TRANSPORT_URL', 'memory://'))
        self.assertNotEqual(nova_fixtures.TransportFixture().url,
                            nova_fixtures.TransportFixture().url)

    def test_notifier_and_settle(self):
        bus = self.useFixture(nova_fixtures.TransportFixture())
        notes = self.useFixture(nova_fixtures.NotificationFixture(bus))
        bus.notifier('test.host').info({}, 'thing.done', {'n': 1})
        bus.settle(timeout=10)
        self.assertEqual(['thing.done'],
                         [n.event_type for n in notes.notifications])

    def test_cleanup_reports_unconsumed_messages_and_fails_when_asked(self):
        class Inner(testtools.TestCase):
            def test_leaves_a_cast(self):
                bus = self.useFixture(nova_fixtures.TransportFixture(
                    fail_on_unconsumed=True))
                service = self.useFixture(nova_fixtures.ServiceFixture(
                    Echo(), 'echo', 'h', bus))
                service.stop()
                bus.rpc_client('echo', server='h').cast({}, 'echo', value=1)
                self.url = bus.url

        test = Inner('test_leaves_a_cast')
        result = testtools.TestResult()
        test.run(result)
        self.assertEqual(1, len(result.failures))
        self.assertIn(f'TransportLeftovers: 1 message(s) left unconsumed on '
                      f'{test.url} (see the fake-transport details)',
                      result.failures[0][1])
        details = test.getDetails()
        self.assertRegex(details['fake-transport:unconsumed'].as_text(),
                         r'^#\d+ cast echo to openstack/echo.h from '
                         r'MainThread: queued$')
        self.assertIn('fake-transport:journal', details)

    def test_cleanup_fails_on_listeners_left_running_when_asked(self):
        servers = []

        class Inner(testtools.TestCase):
            def test_leaves_a_server(self):
                bus = self.useFixture(nova_fixtures.TransportFixture(
                    fail_on_listeners=True))
                server = oslo_messaging.get_rpc_server(
                    bus.transport, oslo_messaging.Target(topic='t',
                                                         server='s'),
                    [Echo()], executor='threading')
                server.start()
                servers.append(server)

        test = Inner('test_leaves_a_server')
        result = testtools.TestResult()
        test.run(result)
        for server in servers:
            server.stop()
            server.wait()
        self.assertEqual(1, len(result.failures))
        self.assertIn('TransportLeftovers: 1 listener(s) left running on ',
                      result.failures[0][1])
        self.assertRegex(test.getDetails()['fake-transport:listeners']
                         .as_text(),
                         r"^<MemoryListener rpc server='s' queues=\['t', "
                         r"'t.s', 't_fanout_[0-9a-f]+'\] started>$")

    def test_use_before_setup_and_after_cleanup_is_refused(self):
        fixture = nova_fixtures.TransportFixture()
        error = self.assertRaises(nova_fixtures.FixtureNotReady,
                                  fixture.rpc_client, 'x')
        self.assertEqual('TransportFixture is not set up: use it through '
                         'useFixture() or call setUp() first', str(error))
        error = self.assertRaises(nova_fixtures.FixtureNotReady,
                                  getattr, fixture, 'transport')
        self.assertEqual('TransportFixture is not set up: use it through '
                         'useFixture() or call setUp() first', str(error))
        with fixture:
            fixture.rpc_client('x')
        error = self.assertRaises(nova_fixtures.FixtureNotReady,
                                  fixture.settle)
        self.assertEqual('TransportFixture was cleaned up; set up a new one',
                         str(error))

    def test_settle_on_a_real_broker_is_refused(self):
        fixture = transport_mod.TransportFixture(
            url='rabbit://guest:guest@127.0.0.1:1/')
        fixture._lifecycle = 'ready'
        fixture.broker = None
        error = self.assertRaises(RuntimeError, fixture.settle)
        self.assertEqual('settle() needs a memory:// bus; '
                         'rabbit://guest:guest@127.0.0.1:1/ is a real broker',
                         str(error))


class TestSharedBus(testtools.TestCase):
    """Issue 10 item 6: cleaning up one fixture wiped another's bus."""

    def test_two_fixtures_on_one_url_share_the_bus_until_both_end(self):
        first = self.useFixture(nova_fixtures.TransportFixture())
        second = nova_fixtures.TransportFixture(url=first.url)
        second.setUp()
        self.assertIs(first.broker, second.broker)
        self.useFixture(nova_fixtures.ServiceFixture(
            Echo(), 'echo', 'e1', first))
        self.assertEqual('hi', first.rpc_client('echo').call(
            {}, 'echo', value='hi'))
        second.cleanUp()
        self.assertEqual('again', first.rpc_client('echo').call(
            {}, 'echo', value='again'))
        self.assertIs(first.broker, fake_transport.get_broker(first.url))
        self.assertEqual(4, len(first.broker.journal.entries()))


class TestSetUpAndCleanUpTwice(testtools.TestCase):
    """Issue 10 item 13: a second setUp() or cleanUp() of one fixture."""

    def test_second_setup_is_refused_and_the_first_still_cleans_up(self):
        fixture = nova_fixtures.TransportFixture()
        fixture.setUp()
        self.addCleanup(fixture.cleanUp)
        broker = fixture.broker
        error = self.assertRaises(RuntimeError, fixture.setUp)
        self.assertEqual('TransportFixture is already set up; call '
                         'cleanUp() before setting it up again', str(error))
        self.assertIs(broker, fixture.broker)
        fixture.cleanUp()
        self.assertIsNot(broker, fake_transport.get_broker(fixture.url))
        fake_transport.discard_broker(fixture.url)

    def test_setup_again_after_cleanup_is_fine(self):
        fixture = nova_fixtures.TransportFixture()
        with fixture:
            pass
        with fixture:
            self.assertIsNotNone(fixture.rpc_client('x'))

    def test_second_cleanup_is_a_no_op(self):
        fixture = nova_fixtures.TransportFixture()
        fixture.setUp()
        fixture.cleanUp()
        self.assertIsNone(fixture.cleanUp())
        self.assertEqual([], fixture.cleanUp(raise_first=False))

    def test_cleanup_before_setup_is_a_no_op(self):
        fixture = nova_fixtures.TransportFixture()
        self.assertIsNone(fixture.cleanUp())

    def test_cleanup_by_hand_then_by_use_fixture_passes(self):
        class Test(testtools.TestCase):
            def test(self):
                bus = self.useFixture(nova_fixtures.TransportFixture())
                bus.cleanUp()

        result = testtools.TestResult()
        Test('test').run(result)
        self.assertEqual([], result.errors)
        self.assertTrue(result.wasSuccessful())


class TestJournalLimit(testtools.TestCase):

    def test_journal_limit_keeps_the_last_entries_and_exact_counts(self):
        bus = self.useFixture(nova_fixtures.TransportFixture(
            journal_limit=2))
        self.useFixture(nova_fixtures.ServiceFixture(
            Echo(), 'echo', 'e1', bus))
        client = bus.rpc_client('echo')
        for i in range(5):
            client.cast({}, 'echo', value=i)
        bus.settle()
        self.assertEqual(2, len(bus.broker.journal.entries()))
        self.assertEqual({'handled': 5},
                         bus.broker.journal.counts(kind='cast'))

    def test_journal_off(self):
        bus = self.useFixture(nova_fixtures.TransportFixture(
            journal_limit=0))
        bus.notifier('p').info({}, 'x.y', {})
        self.assertEqual([], bus.broker.journal.entries())
        self.assertEqual(1, bus.broker.journal.recorded)

    def test_bad_journal_limit_is_refused(self):
        for bad in (-1, 2.5, True, 'lots'):
            error = self.assertRaises(
                ValueError, nova_fixtures.TransportFixture,
                journal_limit=bad)
            self.assertEqual(
                f'journal_limit must be a whole number of entries >= 0 or '
                f'None, got {bad!r}', str(error))


class TestJournalVirtualTime(testtools.TestCase):

    def test_entries_carry_virtual_time_on_a_clock(self):
        self.useFixture(nova_fixtures.ClockFixture())
        bus = self.useFixture(nova_fixtures.TransportFixture())
        time.sleep(2)  # allow-sleep: virtual time
        bus.notifier('p').info({}, 'x.y', {})
        [entry] = bus.broker.journal.entries()
        self.assertEqual(2.0, entry.virtual)
        self.assertIn('#1 [+0.000 s] notification',
                      bus.broker.journal.render())
