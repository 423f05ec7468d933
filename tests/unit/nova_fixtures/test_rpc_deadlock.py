"""Deadlocks through RPC calls, named the moment they form (issue 22)."""

import threading

import fixtures
import oslo_messaging
import testtools

import nova_fixtures
from examples.gallery import rpc_deadlocks as sc


class Cloud(fixtures.Fixture):
    """A bus and the services a scenario boots on it."""

    def __init__(self, services):
        super().__init__()
        self.services = services

    def _setUp(self):
        self.bus = self.useFixture(nova_fixtures.TransportFixture())
        for manager, topic, host, workers in self.services(self):
            self.useFixture(nova_fixtures.ServiceFixture(
                manager, topic, host, self.bus, max_workers=workers))

    def client(self, topic, timeout=30):
        return self.bus.rpc_client(topic, timeout=timeout)


class TestTheGallery(testtools.TestCase):

    def test_the_deadlocked_fail_with_their_report_and_the_rest_pass(self):
        import unittest
        from examples.gallery import rpc_deadlocks
        suite = unittest.defaultTestLoader.loadTestsFromModule(
            rpc_deadlocks)
        result = testtools.TestResult()
        suite.run(result)
        failed = sorted(test.id().rsplit('.', 1)[1]
                        for test, _ in result.errors + result.failures)
        self.assertEqual((5, ['test_call_back_into_a_full_pool',
                              'test_call_back_under_a_lock',
                              'test_three_service_ring']),
                         (result.testsRun, failed))
        for _, text in result.errors + result.failures:
            self.assertIn('DeadlockError: deadlock: a cycle of', text)


class DetectorTestCase(testtools.TestCase):
    """Runs a scenario under a DeadlockFixture, optionally on the clock."""

    CLOCK = False

    def setUp(self):
        super().setUp()
        if self.CLOCK:
            self.clock = self.useFixture(nova_fixtures.ClockFixture())

    def run_scenario(self, services, body, rpc='raise'):
        """(what body raised or returned, the detector's cleanup error)."""
        detector = nova_fixtures.DeadlockFixture(rpc=rpc)
        detector.setUp()
        cloud = Cloud(services)
        try:
            cloud.setUp()
            try:
                outcome = body(cloud)
            except Exception as exc:
                outcome = exc
        finally:
            cloud.cleanUp()
            try:
                detector.cleanUp()
                error = None
            except nova_fixtures.DeadlockError as exc:
                error = exc
        return outcome, error, detector


class TestCallBackUnderALock(DetectorTestCase):

    def test_the_cycle_is_named_as_it_forms(self):
        outcome, error, detector = self.run_scenario(
            sc.collector_and_rater,
            lambda cloud: cloud.client('collector').call({}, 'close_period'))
        # NOTE(tests): the handler that closed the cycle got the error; the
        # test's call gets it back through two RemoteErrors.
        self.assertIsInstance(outcome, oslo_messaging.RemoteError)
        self.assertIn('DeadlockError deadlock: a cycle of 3 thread(s)',
                      str(outcome))
        self.assertEqual(1, len(detector.deadlocks))
        report = detector.deadlocks[0]
        self.assertEqual(report, str(error))
        self.assertEqual([
            'deadlock: a cycle of 3 thread(s) waiting for each other:',
            f'  "c1-2" waits for Collector._lock ({sc.COLLECTOR_LOCK}), held '
            f'by "c1-1" (acquired at {sc.CLOSE_TAKES_LOCK})',
            '  "c1-1" waits for the reply to #2 call rater.rate, handled by '
            '"r1-1"',
            '  "r1-1" waits for the reply to #3 call collector.get_totals, '
            'handled by "c1-2"',
            # NOTE(tests): each thread's stack ends at the user's line: no
            # runner, oslo.messaging or transport frames; paths short.
            '"c1-2":',
            f'    {sc.TOTALS_TAKES_LOCK} in get_totals: with self._lock:  '
            f'# totals-takes-lock',
            '"c1-1":',
            f'    holds Collector._lock ({sc.COLLECTOR_LOCK}) (acquired at '
            f'{sc.CLOSE_TAKES_LOCK})',
            f"    {sc.CLOSE_CALLS} in close_period: return rater.call(ctxt, "
            f"'rate')  # close-calls",
            '"r1-1":',
            f"    {sc.RATE_CALLS} in rate: return collector.call(ctxt, "
            f"'get_totals')  # rate-calls",
        ], report.split('\n'))
        self.assertTrue(sc.COLLECTOR_LOCK.startswith(
            'examples/gallery/rpc_deadlocks.py:'), sc.COLLECTOR_LOCK)
        if self.CLOCK:
            self.assertEqual(0, self.clock.now())


class TestCallBackUnderALockOnTheClock(TestCallBackUnderALock):
    CLOCK = True


class TestPoolExhaustion(DetectorTestCase):

    def test_a_call_back_into_a_full_pool_is_named(self):
        outcome, error, detector = self.run_scenario(
            sc.compute_and_conductor,
            lambda cloud: cloud.client('compute').call({}, 'build'))
        self.assertIsInstance(outcome, oslo_messaging.RemoteError)
        self.assertEqual([
            'deadlock: a cycle of 2 thread(s) waiting for each other:',
            '  "k1-1" waits for the reply to #3 call compute.report, queued '
            'at cp1: 1 of 1 workers busy ("cp1-1")',
            '  "cp1-1" waits for the reply to #2 call conductor.schedule, '
            'handled by "k1-1"'], str(error).split('\n')[:3])

    def test_report_mode_lets_the_timeout_fire_and_names_the_cycle(self):
        outcome, error, detector = self.run_scenario(
            sc.compute_and_conductor,
            lambda cloud: cloud.client('compute', timeout=60).call(
                {}, 'build'), rpc='report')
        self.assertIsInstance(outcome, oslo_messaging.RemoteError)
        # NOTE(tests): both calls of the cycle time out 30 s after they
        # began. On the clock the one begun first (build's) ends first:
        # build raises MessagingTimeout. On real time the other may (seen
        # under load): schedule's MessagingTimeout reaches build as a
        # RemoteError, which build raises. Either names the cycle.
        expected = ('MessagingTimeout',) if self.CLOCK else (
            'MessagingTimeout', 'RemoteError')
        self.assertIn(outcome.exc_type, expected)
        self.assertIn('the call was part of a deadlock: a cycle of 2 '
                      'thread(s)', outcome.value)
        self.assertEqual(1, len(detector.deadlocks))


class TestPoolExhaustionOnTheClock(TestPoolExhaustion):
    CLOCK = True


class TestThreeServiceChain(DetectorTestCase):

    CLOCK = True

    def test_a_to_b_to_c_to_a_is_named(self):
        outcome, error, detector = self.run_scenario(
            sc.three_service_ring,
            lambda cloud: cloud.client('a').call({}, 'start'))
        self.assertIsInstance(outcome, oslo_messaging.RemoteError)
        self.assertEqual([
            'deadlock: a cycle of 3 thread(s) waiting for each other:',
            '  "c-1" waits for the reply to #4 call a.finish, queued at a: '
            '1 of 1 workers busy ("a-1")',
            '  "a-1" waits for the reply to #2 call b.relay, handled by '
            '"b-1"',
            '  "b-1" waits for the reply to #3 call c.relay, handled by '
            '"c-1"'], str(error).split('\n')[:4])


class TestNoFalsePositive(DetectorTestCase):

    CLOCK = True

    def test_a_fanout_cast_that_leads_to_a_call_back_is_no_cycle(self):
        outcome, error, detector = self.run_scenario(
            sc.fanout_then_call_back, sc.fanout_body)
        self.assertEqual((3, None, []), (outcome, error, detector.deadlocks))

    def test_nested_calls_with_pools_large_enough_are_no_cycle(self):
        def body(cloud):
            results, threads = [], []
            for _ in range(4):
                thread = threading.Thread(target=lambda: results.append(
                    cloud.client('compute').call({}, 'build')))
                thread.start()
                threads.append(thread)
            for thread in threads:
                thread.join()
            return sorted(results)

        outcome, error, detector = self.run_scenario(
            sc.compute_and_conductor_roomy, body)
        self.assertEqual((['built'] * 4, None, []),
                         (outcome, error, detector.deadlocks))


class TestHeldLocksInReports(testtools.TestCase):

    def test_a_lock_the_transport_holds_for_an_instant_is_left_out(self):
        # NOTE(tests): seen in the stress loop: a report caught the caller
        # inside its reply queue's get(), holding the queue's lock; whether
        # it does is timing, so the messaging layers' locks are not shown.
        from fake_transport import driver
        from nova_fixtures import _bubble

        class Lock:
            site = f'{sc.__file__}:1'

        bubble = _bubble.Bubble(False, False)
        mine, theirs = Lock(), Lock()
        bubble.note_held(7, mine, sc.CLOSE_TAKES_LOCK)
        bubble.note_held(7, theirs, f'{driver.__file__}:136')
        self.assertEqual(
            [f'    holds lock made at {sc.__file__.rsplit("/", 3)[-3]}/'
             f'gallery/rpc_deadlocks.py:1 (acquired at '
             f'{sc.CLOSE_TAKES_LOCK})'], bubble.held_desc(7))
