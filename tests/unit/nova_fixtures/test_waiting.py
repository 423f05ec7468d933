"""wait_until and PeriodicJitterFixture."""

import threading
import time

from oslo_config import cfg
from oslo_service import periodic_task
import testtools

import nova_fixtures


class TestWaitUntil(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(nova_fixtures.ThreadLeakFixture())
        self.clock = self.useFixture(nova_fixtures.ClockFixture())

    def test_returns_the_first_true_result_at_the_first_poll_after(self):
        state = {}

        def later():
            # NOTE(tests): between two polls, so no tie decides the order.
            time.sleep(50.25)  # allow-sleep: virtual time
            state['status'] = 'ACTIVE'

        thread = threading.Thread(target=later)
        thread.start()
        self.addCleanup(thread.join)
        self.assertEqual('ACTIVE', nova_fixtures.wait_until(
            lambda: state.get('status'), timeout=300, interval=0.5))
        self.assertEqual(50.5, self.clock.now())

    def test_times_out_on_virtual_time_with_an_exact_message(self):
        error = self.assertRaises(
            nova_fixtures.WaitTimeout, nova_fixtures.wait_until,
            lambda: False, timeout=60, message='server 1 to be ACTIVE')
        self.assertEqual('timed out after 60 s waiting for server 1 to be '
                         'ACTIVE', str(error))
        self.assertEqual(60, self.clock.now())

    def test_wakes_on_an_event_without_waiting_an_interval(self):
        changed = threading.Event()
        state = {}

        def change():
            time.sleep(1)  # allow-sleep: virtual time
            state['done'] = True
            changed.set()

        thread = threading.Thread(target=change)
        thread.start()
        self.addCleanup(thread.join)
        self.assertTrue(nova_fixtures.wait_until(
            lambda: state.get('done'), timeout=60, interval=30,
            wake=changed))
        self.assertEqual(1, self.clock.now())

    def test_bad_arguments_are_refused(self):
        for name, kwargs in (('timeout', {'timeout': -1}),
                             ('interval', {'interval': float('nan')}),
                             ('timeout', {'timeout': '5'})):
            error = self.assertRaises(ValueError, nova_fixtures.wait_until,
                                      bool, **kwargs)
            value = kwargs[name]
            self.assertEqual(f'wait_until {name} must be a finite number of '
                             f'seconds >= 0, got {value!r}', str(error))


class Poller(periodic_task.PeriodicTasks):

    def __init__(self):
        super().__init__(cfg.ConfigOpts())
        self.runs = []

    @periodic_task.periodic_task(spacing=600)
    def poll(self, context):
        self.runs.append(time.monotonic())


class TestPeriodicJitter(testtools.TestCase):

    def run_poller(self, seed):
        with nova_fixtures.ClockFixture():
            with nova_fixtures.PeriodicJitterFixture(seed=seed):
                bus = self.useFixture(nova_fixtures.TransportFixture())
                poller = Poller()
                service = nova_fixtures.ServiceFixture(
                    poller, 'poller', 'p1', bus)
                with service:
                    start = time.monotonic()
                    nova_fixtures.wait_until(lambda: len(poller.runs) >= 4,
                                             timeout=3000, interval=60)
        return [t - start for t in poller.runs[:4]]

    def test_no_jitter_runs_exactly_on_the_spacing(self):
        # NOTE(tests): the first run aligns to a boundary; then, with
        # jitter, gaps were 600 s plus up to 30 s at random.
        runs = self.run_poller(None)
        gaps = [later - earlier for earlier, later in zip(runs[1:], runs[2:])]
        self.assertEqual([600, 600], gaps)

    def test_a_seed_repeats_the_jitter(self):
        self.assertEqual(self.run_poller(7), self.run_poller(7))

    def test_bad_seed(self):
        error = self.assertRaises(ValueError,
                                  nova_fixtures.PeriodicJitterFixture, '1')
        self.assertEqual("seed must be an int or None, got '1'", str(error))
