"""OsloServiceFixture and CotyledonServiceFixture."""

import threading
import time

import cotyledon
import oslo_messaging
from oslo_service import service as oslo_service
import testtools

import nova_fixtures
from nova_fixtures import executor
from nova_fixtures import oslo_services


class Echo:
    def echo(self, ctxt, value):
        return value


class EchoService(oslo_service.Service):
    """Written as Nova's ``nova.service.Service``: an RPC server in start()."""

    def __init__(self, bus, host, fail_start=False):
        super().__init__()
        self.bus = bus
        self.host = host
        self.fail_start = fail_start
        self.rpcserver = None
        self.resets = 0
        self.calls = []

    def start(self):
        self.calls.append('start')
        super().start()
        target = oslo_messaging.Target(topic='echo', server=self.host)
        # NOTE(tests): prompt() so that wait() returns at once; futurist's
        # own pool takes a second to notice a shutdown.
        self.rpcserver = executor.prompt(oslo_messaging.get_rpc_server(
            self.bus.transport, target, [Echo()]))
        self.rpcserver.start()
        if self.fail_start:
            raise ValueError('no database')
        self.bus.notifier(f'echo.{self.host}').info(
            {}, 'echo.start', {'host': self.host})

    def stop(self):
        self.calls.append('stop')
        if self.rpcserver is not None:
            self.rpcserver.stop()
        super().stop()

    def wait(self):
        self.calls.append('wait')
        if self.rpcserver is not None:
            self.rpcserver.wait()
            self.rpcserver = None
        super().wait()

    def reset(self):
        self.calls.append('reset')
        self.resets += 1


class TestOsloServiceFixture(nova_fixtures.TestCase):

    def test_start_serves_rpc_and_notifies_and_cleanup_stops_it(self):
        # NOTE(tests): grace=0: every thread must be gone when cleanUp()
        # returns, not merely exiting.
        leaks = nova_fixtures.ThreadLeakFixture(grace=0)
        leaks.setUp()
        notes = nova_fixtures.NotificationFixture(self.bus)
        notes.setUp()
        service = EchoService(self.bus, 'e1')
        fixture = oslo_services.OsloServiceFixture(service)
        fixture.setUp()
        self.assertTrue(fixture.running)
        client = self.bus.rpc_client('echo', server='e1')
        self.assertEqual('hi', client.call({}, 'echo', value='hi'))
        [start] = notes.wait_for('echo.start')
        self.assertEqual({'host': 'e1'}, start.payload)
        self.assertNotEqual([], leaks.leaked())
        fixture.cleanUp()
        notes.cleanUp()
        self.assertEqual(['start', 'stop', 'wait'], service.calls)
        self.assertFalse(fixture.running)
        self.assertEqual([], leaks.leaked())
        leaks.cleanUp()

    def test_restart_stops_waits_resets_and_starts(self):
        notes = self.useFixture(nova_fixtures.NotificationFixture(self.bus))
        service = EchoService(self.bus, 'e1')
        fixture = self.useFixture(oslo_services.OsloServiceFixture(service))
        fixture.restart()
        self.assertEqual(['start', 'stop', 'wait', 'reset', 'start'],
                         service.calls)
        self.assertEqual(2, fixture.starts)
        client = self.bus.rpc_client('echo', server='e1')
        self.assertEqual(3, client.call({}, 'echo', value=3))
        self.assertEqual(2, len(notes.wait_for('echo.start', 2)))

    def test_stopped_service_gets_no_call_until_started(self):
        service = EchoService(self.bus, 'e1')
        fixture = self.useFixture(oslo_services.OsloServiceFixture(service))
        fixture.stop()
        fixture.stop()
        self.assertEqual(['start', 'stop', 'wait'], service.calls)
        fixture.start()
        self.assertEqual('back', self.bus.rpc_client('echo').call(
            {}, 'echo', value='back'))

    def test_second_start_is_refused(self):
        fixture = self.useFixture(oslo_services.OsloServiceFixture(
            EchoService(self.bus, 'e1')))
        error = self.assertRaises(RuntimeError, fixture.start)
        self.assertEqual('service EchoService is already running',
                         str(error))

    def test_failed_start_names_the_service_and_leaves_nothing_running(self):
        before = set(threading.enumerate())
        service = EchoService(self.bus, 'e1', fail_start=True)
        fixture = oslo_services.OsloServiceFixture(service, name='echo-e1')
        error = self.assertRaises(Exception, fixture.setUp)
        failure = error.args[0][1]
        self.assertIsInstance(failure, RuntimeError)
        self.assertEqual('service echo-e1 failed to start: ValueError: no '
                         'database', str(failure))
        self.assertIsInstance(failure.__cause__, ValueError)
        self.assertEqual(['start', 'stop', 'wait'], service.calls)
        self.assertFalse(fixture.running)
        self.assertEqual([], [t for t in threading.enumerate()
                              if t not in before])

    def test_non_service_is_refused(self):
        error = self.assertRaises(TypeError,
                                  oslo_services.OsloServiceFixture, Echo())
        self.assertEqual('OsloServiceFixture needs an instance of '
                         'oslo_service.service.ServiceBase, got Echo',
                         str(error))

    def test_service_class_is_refused(self):
        error = self.assertRaises(TypeError,
                                  oslo_services.OsloServiceFixture,
                                  EchoService)
        self.assertEqual('OsloServiceFixture needs a service instance, got '
                         'the class EchoService; pass EchoService(...)',
                         str(error))

    def test_start_before_setup_is_refused(self):
        fixture = oslo_services.OsloServiceFixture(
            EchoService(self.bus, 'e1'))
        error = self.assertRaises(nova_fixtures.FixtureNotReady,
                                  fixture.start)
        self.assertEqual('OsloServiceFixture is not set up: use it through '
                         'useFixture() or call setUp() first', str(error))


class PollingService(cotyledon.Service):
    """Written as Ceilometer's polling agent: run() polls until terminated.
    """

    name = 'polling'

    def __init__(self, worker_id, bus, interval):
        super().__init__(worker_id)
        self.interval = interval
        self.notifier = bus.notifier(f'polling.{worker_id}')
        self.shutdown = threading.Event()
        self.started_at = time.monotonic()
        self.polls = 0

    def run(self):
        while not self.shutdown.is_set():
            self.polls += 1
            self.notifier.info({}, 'telemetry.polling', {
                'at': time.monotonic() - self.started_at,
                'thread': threading.current_thread().name})
            self.shutdown.wait(self.interval)

    def terminate(self):
        self.shutdown.set()


class Broken(cotyledon.Service):
    def run(self):
        raise ValueError('cannot poll')


class Idle(cotyledon.Service):
    """cotyledon's default run() returns at once."""

    def __init__(self, worker_id):
        super().__init__(worker_id)
        self.terminated = threading.Event()

    def terminate(self):
        self.terminated.set()


class TestCotyledonServiceFixture(nova_fixtures.TestCase):

    USE_CLOCK = True

    def setUp(self):
        super().setUp()
        self.notes = self.useFixture(nova_fixtures.NotificationFixture(
            self.bus))

    def test_polls_on_virtual_time_until_terminated(self):
        fixture = self.useFixture(oslo_services.CotyledonServiceFixture(
            PollingService, self.bus, interval=300))
        polls = self.notes.wait_for('telemetry.polling', 3, timeout=1000)
        self.assertEqual([0, 300, 600], [n.payload['at'] for n in polls])
        self.assertEqual({'polling(0)'},
                         {n.payload['thread'] for n in polls})
        self.assertEqual(0, fixture.service.worker_id)
        fixture.terminate()
        self.assertEqual(3, fixture.service.polls)
        self.assertEqual(600, self.clock.now())
        self.assertFalse(fixture.running)
        self.assertFalse(any(t.name == 'polling(0)'
                             for t in threading.enumerate()))

    def test_worker_id_and_thread_name(self):
        fixture = self.useFixture(oslo_services.CotyledonServiceFixture(
            PollingService, self.bus, 300, worker_id=2))
        [poll] = self.notes.wait_for('telemetry.polling')
        self.assertEqual('polling(2)', poll.payload['thread'])
        self.assertEqual(2, fixture.service.worker_id)

    def test_restart_runs_a_fresh_instance(self):
        fixture = self.useFixture(oslo_services.CotyledonServiceFixture(
            PollingService, self.bus, interval=300))
        self.notes.wait_for('telemetry.polling')
        first = fixture.service
        fixture.restart()
        self.assertTrue(first.shutdown.is_set())
        self.assertIsNot(first, fixture.service)
        self.notes.wait_for('telemetry.polling', 2)
        self.assertEqual(1, fixture.service.polls)

    def test_default_reload_restarts(self):
        fixture = self.useFixture(oslo_services.CotyledonServiceFixture(
            Idle))
        first = fixture.service
        fixture.reload()
        self.assertTrue(first.terminated.is_set())
        self.assertIsNot(first, fixture.service)

    def test_run_returning_early_still_gets_terminated(self):
        fixture = self.useFixture(oslo_services.CotyledonServiceFixture(
            Idle))
        self.assertTrue(fixture.running)
        fixture.terminate()
        self.assertTrue(fixture.service.terminated.is_set())
        fixture.terminate()

    def test_error_in_run_is_raised_at_terminate_naming_the_service(self):
        fixture = self.useFixture(oslo_services.CotyledonServiceFixture(
            Broken))
        error = self.assertRaises(RuntimeError, fixture.terminate)
        self.assertEqual('cotyledon service Broken(0) failed in run(): '
                         'ValueError: cannot poll', str(error))
        self.assertIsInstance(error.__cause__, ValueError)

    def test_non_service_class_is_refused(self):
        error = self.assertRaises(TypeError,
                                  oslo_services.CotyledonServiceFixture,
                                  Echo)
        self.assertEqual('CotyledonServiceFixture needs a cotyledon.Service '
                         'subclass, got the class Echo', str(error))

    def test_service_instance_is_refused(self):
        error = self.assertRaises(TypeError,
                                  oslo_services.CotyledonServiceFixture,
                                  Idle(0))
        self.assertEqual('CotyledonServiceFixture needs a cotyledon.Service '
                         'subclass, got an instance of Idle', str(error))

    def test_non_class_is_refused(self):
        error = self.assertRaises(TypeError,
                                  oslo_services.CotyledonServiceFixture,
                                  'polling')
        self.assertEqual('CotyledonServiceFixture needs a cotyledon.Service '
                         'subclass, got str', str(error))


class TestUsableAsContextManagers(testtools.TestCase):

    def test_oslo_service_as_context_manager(self):
        with nova_fixtures.TransportFixture() as bus:
            service = EchoService(bus, 'e1')
            with oslo_services.OsloServiceFixture(service) as fixture:
                self.assertEqual(1, bus.rpc_client('echo').call(
                    {}, 'echo', value=1))
                self.assertTrue(fixture.running)
            self.assertEqual(['start', 'stop', 'wait'], service.calls)

    def test_cotyledon_service_as_context_manager(self):
        with oslo_services.CotyledonServiceFixture(Idle) as fixture:
            service = fixture.service
        self.assertTrue(service.terminated.is_set())
