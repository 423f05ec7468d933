"""wait_until and PeriodicJitterFixture."""

import threading
import time

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


class TestPeriodicJitter(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.clock = self.useFixture(nova_fixtures.ClockFixture())

    def boundaries(self, seed):
        """Where oslo.service puts the next runs of a 600 s task that last
        ran 1000 s ago, as ten tasks would see it."""
        with nova_fixtures.PeriodicJitterFixture(seed=seed):
            last_run = time.monotonic() - 1000
            return [periodic_task._nearest_boundary(last_run, 600) -
                    last_run for _ in range(10)]

    def test_no_jitter_puts_every_run_on_the_boundary(self):
        self.assertEqual([600] * 10, self.boundaries(None))

    def test_a_seed_repeats_the_jitter(self):
        first = self.boundaries(7)
        self.assertEqual(first, self.boundaries(7))
        self.assertNotEqual([600] * 10, first)
        self.assertTrue(all(600 <= b <= 630 for b in first), first)

    def test_bad_seed(self):
        error = self.assertRaises(ValueError,
                                  nova_fixtures.PeriodicJitterFixture, '1')
        self.assertEqual("seed must be an int or None, got '1'", str(error))
