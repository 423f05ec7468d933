"""ServiceFixture and NotificationListenerFixture."""

import threading

import oslo_messaging
from oslo_config import cfg
from oslo_service import periodic_task
import testtools

import nova_fixtures


class Counter:
    def __init__(self):
        self.count = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()

    def bump(self, ctxt):
        self.count += 1
        return self.count

    def block(self, ctxt):
        self.entered.set()
        self.release.wait(30)
        self.finished.set()
        return 'finished'


class Ticker(periodic_task.PeriodicTasks):
    def __init__(self, wanted):
        super().__init__(cfg.ConfigOpts())
        self.ticks = 0
        self.wanted = wanted
        self.done = threading.Event()

    @periodic_task.periodic_task(spacing=0.01, run_immediately=True)
    def tick(self, context):
        self.ticks += 1
        if self.ticks >= self.wanted:
            self.done.set()

    def status(self, ctxt):
        return self.ticks


class NoPublic:
    def _private(self, ctxt):
        pass


class TestServiceFixture(nova_fixtures.TestCase):

    def test_serves_the_managers_public_methods(self):
        manager = Counter()
        self.start_service(manager, 'counter', 'h1')
        client = self.bus.rpc_client('counter', server='h1')
        self.assertEqual([1, 2], [client.call({}, 'bump'),
                                  client.call({}, 'bump')])

    def test_stop_start_and_restart_keep_the_manager(self):
        manager = Counter()
        service = self.start_service(manager, 'counter', 'h1')
        client = self.bus.rpc_client('counter', server='h1')
        client.call({}, 'bump')
        service.restart()
        self.assertEqual(2, client.call({}, 'bump'))
        service.stop()
        self.assertFalse(service.running)
        client.cast({}, 'bump')
        service.start()
        self.bus.settle(timeout=10)
        self.assertEqual(3, manager.count)

    def test_second_start_is_refused(self):
        service = self.start_service(Counter(), 'counter', 'h1')
        error = self.assertRaises(RuntimeError, service.start)
        self.assertEqual('service counter/h1 is already running', str(error))

    def test_kill_loses_the_request_in_flight_and_its_caller_times_out(self):
        manager = Counter()
        service = self.start_service(manager, 'counter', 'h1')
        client = self.bus.rpc_client('counter', server='h1', timeout=0.2)
        outcome = []

        def call():
            try:
                outcome.append(client.call({}, 'block'))
            except oslo_messaging.MessagingTimeout:
                outcome.append('timeout')

        caller = threading.Thread(target=call)
        caller.start()
        self.assertTrue(manager.entered.wait(10))
        # NOTE(tests): kill() returns at once on memory://; the handler is
        # released only after it, so its reply always comes too late (a
        # killer thread raced the release and lost once in 24 loaded runs).
        service.kill()
        manager.release.set()
        caller.join()
        self.assertEqual(['timeout'], outcome)
        # NOTE(tests): cleanup reaps the killed server's handlers: after
        # it, the killed handler's reply has come and gone.
        service.cleanUp()
        [call] = self.bus.broker.journal.entries(kind='call')
        self.assertEqual('lost', call.outcome)
        self.assertEqual([], self.bus.broker.journal.entries(kind='reply'))
        self.assertEqual('the reply came after its server was killed and '
                         'was dropped', call.reason)

    def test_worker_threads_are_named_after_the_service(self):
        class WhoAmI:
            def who(self, ctxt):
                return threading.current_thread().name

        self.start_service(WhoAmI(), 'who', 'engine')
        self.assertEqual('engine-1', self.bus.rpc_client(
            'who', server='engine').call({}, 'who'))

    def test_kill_returns_at_once_behind_a_stuck_handler(self):
        manager = Counter()
        service = self.start_service(manager, 'counter', 'h1')
        self.bus.rpc_client('counter', server='h1').cast({}, 'block')
        self.assertTrue(manager.entered.wait(10))
        # NOTE(tests): the handler is stuck until release is set; kill()
        # must not wait for it (it did, 5 s, or DeadlockError on a clock).
        service.kill()
        self.assertFalse(manager.finished.is_set())
        self.assertFalse(service.running)
        manager.release.set()
        self.assertTrue(manager.finished.wait(10))

    def test_kill_on_the_clock_returns_at_once_behind_a_stuck_handler(self):
        self.useFixture(nova_fixtures.ClockFixture())
        bus = self.useFixture(nova_fixtures.TransportFixture())
        manager = Counter()
        service = self.useFixture(nova_fixtures.ServiceFixture(
            manager, 'counter', 'h1', bus))
        bus.rpc_client('counter', server='h1').cast({}, 'block')
        self.assertTrue(manager.entered.wait(10))
        service.kill()
        self.assertFalse(manager.finished.is_set())
        manager.release.set()

    def test_periodic_tasks_run_on_a_native_thread_until_stopped(self):
        manager = Ticker(wanted=3)
        service = self.start_service(manager, 'ticker', 'h1')
        self.assertTrue(manager.done.wait(10))
        service.stop()
        ticks = manager.ticks
        self.assertGreaterEqual(ticks, 3)
        self.assertFalse(any(t.name == 'periodic-ticker-h1'
                             for t in threading.enumerate()))

    def test_duplicate_topic_and_host_on_one_bus_is_refused(self):
        self.start_service(Counter(), 'counter', 'h1')
        fixture = nova_fixtures.ServiceFixture(Counter(), 'counter', 'h1',
                                               self.bus)
        error = self.assertRaises(Exception, fixture.setUp)
        first = error.args[0][1]
        self.assertIsInstance(first, ValueError)
        self.assertEqual(f"a service for topic 'counter' on host 'h1' "
                         f"already runs on {self.bus.url}", str(first))

    def test_same_topic_and_host_on_two_buses_is_fine(self):
        other = self.useFixture(nova_fixtures.TransportFixture(name='b'))
        self.start_service(Counter(), 'counter', 'h1')
        self.start_service(Counter(), 'counter', 'h1', bus=other)
        self.assertEqual(1, other.rpc_client('counter').call({}, 'bump'))

    def test_manager_with_no_public_methods_is_refused(self):
        error = self.assertRaises(ValueError, nova_fixtures.ServiceFixture,
                                  NoPublic(), 'nothing', 'h1', self.bus)
        self.assertEqual("manager NoPublic has no public methods to serve on "
                         "topic 'nothing'", str(error))

    def test_start_before_setup_is_refused(self):
        fixture = nova_fixtures.ServiceFixture(Counter(), 'counter', 'h1',
                                               self.bus)
        error = self.assertRaises(nova_fixtures.FixtureNotReady,
                                  fixture.start)
        self.assertEqual('ServiceFixture is not set up: use it through '
                         'useFixture() or call setUp() first', str(error))

    def test_kill_before_setup_is_refused(self):
        # NOTE(tests): issue 10 item 13; it used to do nothing, silently.
        fixture = nova_fixtures.ServiceFixture(Counter(), 'counter', 'h1',
                                               self.bus)
        error = self.assertRaises(nova_fixtures.FixtureNotReady,
                                  fixture.kill)
        self.assertEqual('ServiceFixture is not set up: use it through '
                         'useFixture() or call setUp() first', str(error))

    def test_hundred_services_stop_leaving_no_thread(self):
        before = set(threading.enumerate())
        fixtures_ = [nova_fixtures.ServiceFixture(Counter(), 'many', f'h{i}',
                                                  self.bus)
                     for i in range(100)]
        for fixture in fixtures_:
            fixture.setUp()
        client = self.bus.rpc_client('many')
        for i in range(100):
            client.call({}, 'bump')
        for fixture in fixtures_:
            fixture.cleanUp()
        self.assertEqual([], [t for t in threading.enumerate()
                              if t not in before])


class Recorder:
    def __init__(self):
        self.events = []

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.events.append(event_type)


class TestNotificationListenerFixture(nova_fixtures.TestCase):

    def test_pools_each_get_a_copy(self):
        a, b = Recorder(), Recorder()
        self.useFixture(nova_fixtures.NotificationListenerFixture(
            [a], self.bus, pool='a'))
        self.useFixture(nova_fixtures.NotificationListenerFixture(
            [b], self.bus, pool='b'))
        self.bus.notifier('x').info({}, 'e.one', {})
        self.bus.settle(timeout=10)
        self.assertEqual((['e.one'], ['e.one']), (a.events, b.events))

    def test_needs_an_endpoint(self):
        error = self.assertRaises(
            ValueError, nova_fixtures.NotificationListenerFixture, [],
            self.bus)
        self.assertEqual('a notification listener needs an endpoint',
                         str(error))


class TestUsableAsContextManager(testtools.TestCase):

    def test_transport_and_service_as_context_managers(self):
        with nova_fixtures.TransportFixture() as bus:
            with nova_fixtures.ServiceFixture(Counter(), 'c', 'h', bus):
                self.assertEqual(1, bus.rpc_client('c').call({}, 'bump'))
            self.assertEqual([], bus.broker.listeners())
