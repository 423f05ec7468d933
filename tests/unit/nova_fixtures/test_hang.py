"""The hang report a TestCase attaches when OS_TEST_TIMEOUT fires."""

import os
import threading
import time

import fixtures
import testtools

import nova_fixtures


# Reports name files below their sys.path entry: the tests run from the
# repository's root.
HERE = os.path.relpath(__file__)


class Echo:
    def echo(self, ctxt):
        return 'echo'


def blocked_in_a_call():
    # NOTE(tests): what oslotest's Timeout raises in the test thread when
    # OS_TEST_TIMEOUT runs out, where that thread was blocked.
    raise fixtures.TimeoutException()


class TestHangReport(testtools.TestCase):

    def test_timeout_attaches_threads_locks_bus_and_clock(self):
        hold_and_wait_line = None

        class Inner(nova_fixtures.TestCase):
            USE_CLOCK = True
            DETECT_DEADLOCKS = True

            def test_hangs(self):
                lock = threading.Lock()
                gate = threading.Event()

                def hold_and_wait():
                    with lock:
                        gate.wait()

                nonlocal hold_and_wait_line
                hold_and_wait_line = hold_and_wait.__code__.co_firstlineno + 2

                worker = threading.Thread(target=hold_and_wait,
                                          name='stuck-worker')
                worker.start()
                self.addCleanup(worker.join)
                self.addCleanup(gate.set)
                self.start_service(Echo(), 'echo', 'e1').stop()
                self.bus.rpc_client('echo', server='e1').cast({}, 'echo')
                self.clock.settle()
                blocked_in_a_call()

        test = Inner('test_hangs')
        result = testtools.TestResult()
        test.run(result)
        self.assertEqual(1, len(result.errors))
        report = test.getDetails()['nova-fixtures:hang-report'].as_text()
        self.assertIn('Threads:\n', report)
        self.assertIn('  "stuck-worker":\n', report)
        self.assertIn('Test threads (virtual time 0 s after 0 jump(s), ',
                      report)
        self.assertIn('  "stuck-worker" waits at ', report)
        self.assertIn('    holds lock made at ', report)
        self.assertIn(f'Bus {test.bus.url}:\n  in flight: 0\n  waiting in '
                      f'queues: 1\n    #', report)
        self.assertIn('cast echo to openstack/echo.e1', report)
        # NOTE(tests): the test thread shows where it was interrupted, not
        # the runner and the report's own frames.
        main = report.split('  "MainThread", interrupted in:\n')[1]
        main = main.split('\n  "')[0]
        line = blocked_in_a_call.__code__.co_firstlineno + 3
        self.assertTrue(main.endswith(
            f'    File "{HERE}", line {line}, in blocked_in_a_call\n'
            f'        raise fixtures.TimeoutException()'), main)
        self.assertNotIn('hang_report', main)
        # NOTE(tests): other threads' stacks, from faulthandler, show their
        # own code with its source, and no runner frames anywhere.
        threads = report.split('Test threads')[0]
        worker = threads.split('  "stuck-worker":\n')[1].split('\n  "')[0]
        self.assertIn(f'    File "{HERE}", line '
                      f'{hold_and_wait_line}, in hold_and_wait\n'
                      f'        gate.wait()', worker)
        for runner in ('/testtools/', '/unittest/', '/stestr/'):
            self.assertNotIn(runner, threads)

    def test_other_failures_get_no_hang_report(self):
        class Inner(nova_fixtures.TestCase):
            def test_fails(self):
                self.fail('plain failure')

        test = Inner('test_fails')
        test.run(testtools.TestResult())
        self.assertNotIn('nova-fixtures:hang-report', test.getDetails())


class Sink:
    """Takes a call in; its reply is dropped (see the test)."""

    def __init__(self):
        self.arrived = threading.Event()

    def ping(self, ctxt):
        self.arrived.set()


class Relay:
    """Calls the sink, with 30 s to wait for its answer."""

    def __init__(self, bus):
        self.bus = bus
        self.errors = []

    def relay(self, ctxt):
        try:
            self.bus.rpc_client('sink', 's1', timeout=30).call(ctxt, 'ping')
        except Exception as exc:
            self.errors.append(exc)


class TestAfterTheTimeout(testtools.TestCase):

    def test_handlers_stuck_in_calls_unwind_and_nothing_leaks(self):
        relay = None

        class Inner(nova_fixtures.TestCase):
            def test_hangs(self):
                nonlocal relay
                relay = Relay(self.bus)
                sink = Sink()
                self.start_service(sink, 'sink', 's1')
                self.start_service(relay, 'relay', 'r1')
                # NOTE(tests): the sink's answer never reaches the relay,
                # which would wait its 30 s out.
                self.bus.broker.drop(kind='reply', topic='sink')
                self.bus.rpc_client('relay', 'r1').cast({}, 'relay')
                sink.arrived.wait()
                blocked_in_a_call()

        test = Inner('test_hangs')
        result = testtools.TestResult()
        test.run(result)
        [(_, error)] = result.errors
        self.assertIn('fixtures._fixtures.timeout.TimeoutException', error)
        self.assertIn('nova-fixtures:hang-report', test.getDetails())
        [ended] = relay.errors
        self.assertRegex(
            str(ended),
            r"^Stopped waiting for a reply to message ID [0-9a-f]{32} on "
            r"topic 'sink': the test timed out; the test is over$")

    def test_a_clock_budget_failure_is_the_only_error(self):
        stop = threading.Event()

        class Inner(nova_fixtures.TestCase):
            USE_CLOCK = True

            def test_polls_past_the_budget(self):
                def poll():
                    while not stop.wait(600):
                        pass

                threading.Thread(target=poll, name='meter-poller').start()
                time.sleep(7200)  # allow-sleep: virtual time

        test = Inner('test_polls_past_the_budget')
        result = testtools.TestResult()
        test.run(result)
        stop.set()
        for thread in threading.enumerate():
            if thread.name == 'meter-poller':
                thread.join()
        # NOTE(tests): not a ThreadLeak (an AssertionError, a failure)
        # for the poller the test never got to stop.
        self.assertEqual([], result.failures)
        [(_, error)] = result.errors
        self.assertIn('ClockError: virtual time budget of 3600 s exceeded: '
                      'the next deadline is at 4200 s; raise it with '
                      'ClockFixture(max_virtual=...) or '
                      'TestCase.CLOCK_OPTIONS', error)
        self.assertNotIn('ThreadLeak', error)
